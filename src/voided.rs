//! Voided serials: ballots that were issued but must never be counted (a stack spoiled by a
//! printer jam and not reprinted, ballots lost or stolen before they were handed out).
//!
//! `ballotscan void` records them in `voided.csv`, in the print folder beside the
//! `issued.csv` they were issued in: the serials a unit may return and the serials it must not
//! are then kept, locked and backed up together. `tally --issued print/issued.csv` reads the
//! `voided.csv` beside each `issued.csv` it is given, and `scan --voided print/voided.csv` reads
//! the files named; a voided serial's ballot that comes back is rejected with the reason
//! `voided_serial`, and reconciliation lists voided serials apart from missing ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::i18n::{text, Lang, Msg};
use crate::output::{self, CsvTable};
use crate::registry::Registry;

pub const VOIDED_FILE: &str = "voided.csv";
pub const VOIDED_HEADER: [&str; 3] = ["unit", "serial", "reason"];

/// One row of `voided.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voided {
    pub unit: String,
    pub serial: u32,
    /// Why, in the words of whoever voided it.
    pub reason: String,
}

/// Reads a `voided.csv` (`,` or `;` separated).
pub fn read_voided(path: &Path) -> anyhow::Result<Vec<Voided>> {
    let (header, rows) = output::read_csv(path)?;
    let names: Vec<&str> = header.iter().collect();
    if names != VOIDED_HEADER {
        return Err(crate::failure::input(
            Msg::new(
                "voided_error.bad_header",
                &[
                    ("file", &path.display()),
                    ("header", &names.join(",")),
                    ("expected", &VOIDED_HEADER.join(",")),
                ],
            )
            .to_string(),
        ));
    }
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let cell = |n: usize| output::unneutralise(r.get(n).unwrap_or(""));
            let serial = cell(1).trim().parse::<u32>().map_err(|_| {
                crate::failure::input(
                    Msg::new(
                        "voided_error.bad_serial",
                        &[
                            ("file", &path.display()),
                            ("line", &(i + 2)),
                            ("serial", &cell(1)),
                        ],
                    )
                    .to_string(),
                )
            })?;
            Ok(Voided {
                unit: cell(0).trim().to_string(),
                serial,
                reason: cell(2).to_string(),
            })
        })
        .collect()
}

/// The voided serials recorded beside this `issued.csv`; none when there is no `voided.csv`.
pub fn read_beside(issued_csv: &Path) -> anyhow::Result<Vec<Voided>> {
    let path = beside(issued_csv);
    if path.exists() {
        read_voided(&path)
    } else {
        Ok(Vec::new())
    }
}

/// Where the `voided.csv` of this `issued.csv` is.
pub fn beside(issued_csv: &Path) -> PathBuf {
    issued_csv
        .parent()
        .unwrap_or(Path::new("."))
        .join(VOIDED_FILE)
}

/// Serials per unit code.
pub type SerialsByUnit = BTreeMap<String, BTreeSet<u32>>;

/// Voided serials per unit, from the `voided.csv` beside each `issued.csv`, with the files
/// that held any.
pub fn load_for_issued(issued: &[PathBuf]) -> anyhow::Result<(SerialsByUnit, Vec<PathBuf>)> {
    let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut files = Vec::new();
    for p in issued {
        let rows = read_beside(p)?;
        if !rows.is_empty() {
            files.push(beside(p));
        }
        for v in rows {
            out.entry(v.unit).or_default().insert(v.serial);
        }
    }
    Ok((out, files))
}

/// Voided serials per unit from `voided.csv` files given by name (`scan --voided`).
pub fn load(paths: &[PathBuf]) -> anyhow::Result<SerialsByUnit> {
    let mut out = SerialsByUnit::new();
    for p in paths {
        for v in read_voided(p)? {
            out.entry(v.unit).or_default().insert(v.serial);
        }
    }
    Ok(out)
}

/// What `ballotscan void` needs.
pub struct Request<'a> {
    pub registry: &'a Registry,
    pub unit: &'a str,
    pub serials: &'a BTreeSet<u32>,
    pub reason: &'a str,
    /// The print folder: `generate`'s `--out`, holding `issued.csv`.
    pub print_dir: &'a Path,
    pub lang: Lang,
}

/// Records `serials` of `unit` as voided in the print folder's `voided.csv`. Only issued
/// serials can be voided, each once, and a reason is required: the file is an audit record.
pub fn void(req: &Request) -> anyhow::Result<PathBuf> {
    let lang = req.lang;
    let unit = req.registry.require(req.unit, lang)?;
    if req.reason.trim().is_empty() {
        return Err(crate::failure::usage(text(lang, "void.no_reason", &[])));
    }
    let issued_path = req.print_dir.join("issued.csv");
    if !issued_path.is_file() {
        return Err(crate::failure::input(text(
            lang,
            "void.no_issued",
            &[("dir", &req.print_dir.display())],
        )));
    }
    let _lock = crate::results::lock_print_folder(req.print_dir)?;
    let issued = crate::issued::read(&issued_path)?;
    let never: BTreeSet<u32> = req
        .serials
        .iter()
        .copied()
        .filter(|s| !issued.iter().any(|r| r.unit == unit.code && r.serial == *s))
        .collect();
    if !never.is_empty() {
        return Err(crate::failure::input(text(
            lang,
            "void.not_issued",
            &[
                ("unit", &unit.code),
                ("serials", &crate::audit::ranges(&never)),
                ("file", &issued_path.display()),
            ],
        )));
    }
    let path = beside(&issued_path);
    let mut rows = if path.exists() {
        read_voided(&path)?
    } else {
        Vec::new()
    };
    let again: BTreeSet<u32> = rows
        .iter()
        .filter(|v| v.unit == unit.code && req.serials.contains(&v.serial))
        .map(|v| v.serial)
        .collect();
    if !again.is_empty() {
        return Err(crate::failure::input(text(
            lang,
            "void.already",
            &[
                ("unit", &unit.code),
                ("serials", &crate::audit::ranges(&again)),
                ("file", &path.display()),
            ],
        )));
    }
    rows.extend(req.serials.iter().map(|&serial| Voided {
        unit: unit.code.clone(),
        serial,
        reason: req.reason.trim().to_string(),
    }));
    let mut table = CsvTable::new(&VOIDED_HEADER);
    for v in &rows {
        table.row([v.unit.clone(), format!("{:06}", v.serial), v.reason.clone()]);
    }
    table.write(&path)?;
    Ok(path)
}
