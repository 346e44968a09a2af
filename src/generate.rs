//! The `generate` command: print-ready ballots for one unit, with unique serials recorded in
//! `issued.csv` so that returned ballots can later be reconciled against what was handed out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::form::Form;
use crate::i18n::text;
use crate::issued::{self, IssuedBallot};
use crate::layout::Layout;
use crate::output;
use crate::payload::{Payload, SigningKey};
use crate::registry::Registry;
use crate::render::{self, raster};

pub struct Request<'a> {
    pub form: &'a Form,
    pub registry: &'a Registry,
    pub unit: &'a str,
    pub count: u32,
    pub first_serial: Option<u32>,
    pub key: Option<&'a SigningKey>,
    pub out_dir: &'a Path,
    /// Also write one PNG per ballot at this DPI.
    pub png_dpi: Option<u32>,
    /// Print these already-issued serials again (same payload and signature) instead of
    /// issuing new ones; `count` and `first_serial` are then not used.
    pub reprint: Option<&'a BTreeSet<u32>>,
    /// The language of messages for the person printing.
    pub lang: crate::i18n::Lang,
}

#[derive(Debug)]
pub struct Report {
    /// Ballots printed.
    pub count: usize,
    pub first_serial: u32,
    pub last_serial: u32,
    pub pdf: PathBuf,
    pub pngs: Vec<PathBuf>,
}

pub fn generate(req: &Request) -> anyhow::Result<Report> {
    use anyhow::{bail, Context};
    let lang = req.lang;
    let unit = req.registry.require(req.unit, lang)?;
    if req.count == 0 && req.reprint.is_none() {
        return Err(crate::failure::usage(text(
            lang,
            "generate.zero_count",
            &[],
        )));
    }
    if let Some(dpi) = req.png_dpi.filter(|d| !(150..=600).contains(d)) {
        return Err(crate::failure::usage(text(
            lang,
            "generate.bad_dpi",
            &[("dpi", &dpi)],
        )));
    }
    // Held until the serials are recorded: two runs reading the same issued.csv would both
    // continue after its last serial.
    let _lock = crate::results::lock_print_folder(req.out_dir)?;
    let issued_path = req.out_dir.join("issued.csv");
    let mut issued = if issued_path.exists() {
        issued::read(&issued_path)?
    } else {
        Vec::new()
    };
    let already: BTreeSet<u32> = issued
        .iter()
        .filter(|r| r.unit == unit.code)
        .map(|r| r.serial)
        .collect();
    let serials: Vec<u32> = match req.reprint {
        Some(reprint) => {
            check_reprint(req, &unit.code, reprint, &issued, &issued_path)?;
            reprint.iter().copied().collect()
        }
        None => {
            let first = match req.first_serial {
                Some(f) => f,
                None => already.iter().max().map_or(1, |m| m + 1),
            };
            let last = first
                .checked_add(req.count - 1)
                .filter(|&l| l <= 999_999_999)
                .with_context(|| text(lang, "generate.serials_too_high", &[]))?;
            if let Some(s) = already.iter().find(|&&s| (first..=last).contains(&s)) {
                bail!(text(
                    lang,
                    "generate.already_issued",
                    &[
                        ("serial", &format!("{s:06}")),
                        ("n", s),
                        ("unit", &unit.code),
                        ("file", &issued_path.display()),
                    ]
                ));
            }
            (first..=last).collect()
        }
    };
    let (first, last) = match (serials.first(), serials.last()) {
        (Some(&f), Some(&l)) => (f, l),
        _ => bail!(text(lang, "generate.no_serials", &[])),
    };

    let layout = Layout::new(req.form)?;
    let payloads: Vec<Payload> = serials
        .iter()
        .map(|&s| {
            let p = Payload::new(&req.form.id, req.form.version, &unit.code, s);
            match req.key {
                Some(k) => p.signed(k),
                None => p,
            }
        })
        .collect();
    let pages = payloads
        .iter()
        .map(|p| render::ballot_shapes(&layout, p, &unit.name))
        .collect::<Result<Vec<_>, _>>()?;

    // The serials are recorded before any file is printed: a run killed half-way leaves
    // serials issued but unprinted (reported missing by `tally --issued`), never printed
    // ballots whose serials the next run would issue again.
    issued.extend(payloads.iter().map(|p| IssuedBallot {
        reprint: req.reprint.is_some(),
        ..IssuedBallot::of(p)
    }));
    issued::table(&issued).write(&issued_path)?;

    let mut pngs = Vec::new();
    if let Some(dpi) = req.png_dpi {
        let dir = req.out_dir.join("png");
        std::fs::create_dir_all(&dir)
            .with_context(|| text(lang, "generate.cannot_create", &[("dir", &dir.display())]))?;
        pngs = pages
            .par_iter()
            .zip(&payloads)
            .map(|(shapes, p)| -> anyhow::Result<PathBuf> {
                let img = raster::render(shapes, dpi as f64);
                let path = dir.join(format!("{}-{}.png", p.unit, p.serial_text()));
                let mut bytes = Vec::new();
                img.write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Png,
                )?;
                output::write_atomic(&path, &bytes)?;
                Ok(path)
            })
            .collect::<Result<_, _>>()?;
    }

    // A reprint gets its own file: the first printing's PDF stays what was printed then.
    let pdf = req.out_dir.join(format!(
        "ballots-{}-{:06}-{:06}{}.pdf",
        unit.code,
        first,
        last,
        if req.reprint.is_some() {
            "-reprint"
        } else {
            ""
        }
    ));
    output::write_atomic(&pdf, &render::pdf::write_pdf(&pages)?)?;

    let json = serde_json::to_vec_pretty(&layout.to_json())?;
    output::write_atomic(&req.out_dir.join("layout.json"), &json)?;

    Ok(Report {
        count: payloads.len(),
        first_serial: first,
        last_serial: last,
        pdf,
        pngs,
    })
}

/// A reprint prints only what was issued, on the form it was issued on, and never a voided
/// serial (whose ballot must not come back counted).
fn check_reprint(
    req: &Request,
    unit: &str,
    reprint: &BTreeSet<u32>,
    issued: &[IssuedBallot],
    issued_path: &Path,
) -> anyhow::Result<()> {
    let lang = req.lang;
    let never: BTreeSet<u32> = reprint
        .iter()
        .copied()
        .filter(|s| !issued.iter().any(|r| r.unit == unit && r.serial == *s))
        .collect();
    if !never.is_empty() {
        return Err(crate::failure::input(text(
            lang,
            "reprint.not_issued",
            &[
                ("unit", &unit),
                ("serials", &crate::audit::ranges(&never)),
                ("file", &issued_path.display()),
            ],
        )));
    }
    for &s in reprint {
        let first = issued
            .iter()
            .find(|r| r.unit == unit && r.serial == s && !r.reprint)
            .or_else(|| issued.iter().find(|r| r.unit == unit && r.serial == s));
        if let Some(r) =
            first.filter(|r| r.form != req.form.id || r.version != req.form.version.to_string())
        {
            return Err(crate::failure::input(text(
                lang,
                "reprint.other_form",
                &[
                    ("serial", &format!("{s:06}")),
                    ("form", &format!("{} v{}", r.form, r.version)),
                    ("given", &format!("{} v{}", req.form.id, req.form.version)),
                ],
            )));
        }
    }
    let voided = crate::voided::read_beside(issued_path)?;
    let hit: BTreeSet<u32> = voided
        .iter()
        .filter(|v| v.unit == unit && reprint.contains(&v.serial))
        .map(|v| v.serial)
        .collect();
    if !hit.is_empty() {
        return Err(crate::failure::input(text(
            lang,
            "reprint.voided",
            &[("unit", &unit), ("serials", &crate::audit::ranges(&hit))],
        )));
    }
    Ok(())
}
