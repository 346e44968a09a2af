//! `issued.csv`: the ballots `generate` handed out, one row per printing
//! (`form,version,unit,serial,reprint`; `reprint` is `yes` on the rows `generate --reprint`
//! adds — the same serial printed again — and empty on a serial's first printing). Written by
//! `generate` (continuing an existing file) and read by it, by `void` and by `tally --issued`,
//! here only, by column name into [`IssuedBallot`] rows. Files from before reprints were
//! recorded (four columns) are still read, and continued with the new column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;

use crate::i18n::Msg;
use crate::output::{self, CsvTable};
use crate::payload::Payload;

pub const HEADER: [&str; 5] = ["form", "version", "unit", "serial", "reprint"];
/// The header before reprints were recorded.
const OLD_HEADER: [&str; 4] = ["form", "version", "unit", "serial"];

/// One ballot handed out: a row of `issued.csv`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct IssuedBallot {
    pub form: String,
    /// As written (a form version, kept as text so a row is written back as it was read).
    pub version: String,
    pub unit: String,
    pub serial: u32,
    /// A serial printed again (`generate --reprint`), not a new one.
    #[serde(default, deserialize_with = "yes")]
    pub reprint: bool,
}

fn yes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    Ok(s.trim() == "yes")
}

impl IssuedBallot {
    /// A serial's first printing.
    pub fn of(p: &Payload) -> IssuedBallot {
        IssuedBallot {
            form: p.form.clone(),
            version: p.version.to_string(),
            unit: p.unit.clone(),
            serial: p.serial,
            reprint: false,
        }
    }
}

/// Reads an `issued.csv`; a file with another header, or a row whose serial is not a number,
/// is refused (naming the line): a serial silently skipped could be issued twice.
pub fn read(path: &Path) -> anyhow::Result<Vec<IssuedBallot>> {
    let (header, rows) = output::read_csv(path)?;
    let names: Vec<&str> = header.iter().collect();
    if names != HEADER && names != OLD_HEADER {
        return Err(crate::failure::input(
            Msg::new(
                "issued_error.bad_header",
                &[
                    ("file", &path.display()),
                    ("header", &names.join(",")),
                    ("expected", &HEADER.join(",")),
                ],
            )
            .to_string(),
        ));
    }
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let cells: csv::StringRecord = r.iter().map(output::unneutralise).collect();
            cells
                .deserialize::<IssuedBallot>(Some(&header))
                .with_context(|| {
                    Msg::new(
                        "issued_error.bad_serial",
                        &[("file", &path.display()), ("line", &(i + 2))],
                    )
                })
        })
        .collect()
}

/// The rows as `generate` writes them: serials with their leading zeros.
pub fn table(rows: &[IssuedBallot]) -> CsvTable {
    let mut t = CsvTable::new(&HEADER);
    for r in rows {
        t.row([
            r.form.clone(),
            r.version.clone(),
            r.unit.clone(),
            format!(
                "{:0width$}",
                r.serial,
                width = crate::payload::SERIAL_DIGITS
            ),
            if r.reprint { "yes" } else { "" }.to_string(),
        ]);
    }
    t
}

/// Issued serials per unit, from several `issued.csv` files.
pub fn serials_by_unit(
    paths: &[std::path::PathBuf],
) -> anyhow::Result<BTreeMap<String, BTreeSet<u32>>> {
    let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for p in paths {
        for b in read(p)? {
            out.entry(b.unit).or_default().insert(b.serial);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_by_name_as_they_were_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("issued.csv");
        let rows = vec![
            IssuedBallot::of(&Payload::new("CSAT", 2, "P-ANBIEN", 7)),
            IssuedBallot::of(&Payload::new("CSAT", 2, "-X", 123_456)),
            IssuedBallot {
                reprint: true,
                ..IssuedBallot::of(&Payload::new("CSAT", 2, "P-ANBIEN", 7))
            },
        ];
        let bytes = table(&rows).into_bytes();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "\u{feff}form,version,unit,serial,reprint\nCSAT,2,P-ANBIEN,000007,\nCSAT,2,'-X,123456,\nCSAT,2,P-ANBIEN,000007,yes\n"
        );
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(read(&path).expect("reads"), rows);
        let by_unit = serials_by_unit(&[path]).expect("reads");
        assert_eq!(by_unit["-X"], BTreeSet::from([123_456]));
    }

    #[test]
    fn a_file_from_before_reprints_were_recorded_still_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("issued.csv");
        std::fs::write(&path, "form,version,unit,serial\nCSAT,2,A,000001\n").expect("write");
        let rows = read(&path).expect("reads");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].serial, rows[0].reprint), (1, false));
    }

    #[test]
    fn a_row_without_a_serial_number_is_refused_with_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("issued.csv");
        std::fs::write(
            &path,
            "form,version,unit,serial\nCSAT,2,A,000001\nCSAT,2,A,x\n",
        )
        .expect("write");
        let err = format!("{:#}", read(&path).expect_err("refused"));
        // In the run's language, Vietnamese unless the binary was given --lang en.
        assert!(err.contains("issued.csv:3: số sê-ri không hợp lệ"), "{err}");
        std::fs::write(&path, "unit,serial\nA,1\n").expect("write");
        let err = read(&path).expect_err("refused").to_string();
        assert!(err.contains("không phải tệp issued.csv"), "{err}");
    }
}
