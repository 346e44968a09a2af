//! `ballots.csv` (one row per page) and `answers.csv` (one row per read question): their
//! columns, the rows written from a page's record, and the rows read back by column name (csv
//! serde) when `review` and `tally` reload a scan folder. A column is changed here only.

use serde::Deserialize;

use crate::i18n::Msg;
use crate::output::CsvTable;
use crate::scan::PageRecord;

pub const BALLOTS_HEADER: [&str; 15] = [
    "source",
    "page",
    "status",
    "reasons",
    "form",
    "version",
    "unit",
    "serial",
    "rotation_deg",
    "fit_error_mm",
    "fiducials",
    "min_margin",
    "duplicate_of",
    "file_sha256",
    "detail",
];

pub const ANSWERS_HEADER: [&str; 8] = [
    "source", "page", "unit", "serial", "question", "answer", "states", "scores",
];

fn opt_f(v: Option<f64>, decimals: usize) -> String {
    v.map_or(String::new(), |x| format!("{x:.decimals$}"))
}

/// The `ballots.csv` row of one page.
pub fn ballot_row(r: &PageRecord) -> [String; 15] {
    let p = r.payload.as_ref();
    [
        r.source.clone(),
        r.page.to_string(),
        r.status.as_str().to_string(),
        crate::reason::Reason::join(&r.reasons, ";"),
        p.map_or(String::new(), |p| p.form.clone()),
        p.map_or(String::new(), |p| p.version.to_string()),
        p.map_or(String::new(), |p| p.unit.clone()),
        p.map_or(String::new(), |p| p.serial_text()),
        opt_f(r.rotation_deg, 1),
        opt_f(r.fit_error_mm, 3),
        r.fiducials_found.map_or(String::new(), |n| n.to_string()),
        opt_f(r.min_margin, 3),
        r.duplicate_of.clone().unwrap_or_default(),
        r.file_sha256.clone(),
        r.detail.clone(),
    ]
}

pub fn ballots_csv(records: &[PageRecord]) -> CsvTable {
    let mut t = CsvTable::new(&BALLOTS_HEADER);
    for r in records {
        t.row(ballot_row(r));
    }
    t
}

/// The `answers.csv` rows of one page (none when its QR code was not read).
pub fn answer_rows(r: &PageRecord) -> Vec<[String; 8]> {
    let Some(p) = &r.payload else {
        return Vec::new();
    };
    r.questions
        .iter()
        .map(|q| {
            let states: Vec<String> = q
                .boxes
                .iter()
                .map(|b| format!("{}={}", b.option, b.state.as_str()))
                .collect();
            let mut scores: Vec<String> = q
                .boxes
                .iter()
                .map(|b| format!("{}={}", b.option, b.score.fill))
                .collect();
            // A writing area has no boxes: its score is the ink counted as writing.
            if let Some((_, ink)) = r.comment_ink.iter().find(|(id, _)| *id == q.question) {
                scores.push(format!("ink_mm2={ink:.1}"));
            }
            [
                r.source.clone(),
                r.page.to_string(),
                p.unit.clone(),
                p.serial_text(),
                q.question.clone(),
                q.answer.to_text(),
                states.join(" "),
                scores.join(" "),
            ]
        })
        .collect()
}

pub fn answers_csv(records: &[PageRecord]) -> CsvTable {
    let mut t = CsvTable::new(&ANSWERS_HEADER);
    for r in records {
        for row in answer_rows(r) {
            t.row(row);
        }
    }
    t
}

/// A `ballots.csv` row as written (cells unneutralised), read by column name. The columns
/// added after the first release are optional, so older folders still load.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BallotRow {
    pub source: String,
    pub page: String,
    pub status: String,
    pub reasons: String,
    pub form: String,
    pub version: String,
    pub unit: String,
    pub serial: String,
    #[serde(default)]
    pub rotation_deg: String,
    #[serde(default)]
    pub fit_error_mm: String,
    #[serde(default)]
    pub fiducials: String,
    #[serde(default)]
    pub min_margin: String,
    pub duplicate_of: String,
    pub file_sha256: String,
    pub detail: String,
}

/// An `answers.csv` row as written (cells unneutralised), read by column name; `states` and
/// `scores` are optional, as in folders written before they existed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AnswerRow {
    pub source: String,
    pub page: String,
    pub question: String,
    pub answer: String,
    #[serde(default)]
    pub states: String,
    #[serde(default)]
    pub scores: String,
}

/// Columns a folder may lack (written before they existed): read as empty.
const BALLOTS_OPTIONAL: [&str; 4] = ["rotation_deg", "fit_error_mm", "fiducials", "min_margin"];
const ANSWERS_OPTIONAL: [&str; 4] = ["unit", "serial", "states", "scores"];

/// Reads `dir/ballots.csv` by column name.
pub fn read_ballots(dir: &std::path::Path) -> Result<Vec<BallotRow>, ScanFileError> {
    read_rows(dir, "ballots.csv", &BALLOTS_HEADER, &BALLOTS_OPTIONAL)
}

/// Reads `dir/answers.csv` by column name.
pub fn read_answers(dir: &std::path::Path) -> Result<Vec<AnswerRow>, ScanFileError> {
    read_rows(dir, "answers.csv", &ANSWERS_HEADER, &ANSWERS_OPTIONAL)
}

/// Why `ballots.csv` or `answers.csv` could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub enum ScanFileError {
    /// Not a `source`: the message is the CSV's own, and a chain would say it twice.
    Csv(crate::output::ReadCsvError),
    NoColumn {
        file: String,
        column: &'static str,
    },
    BadRow {
        file: String,
        line: usize,
        error: csv::Error,
    },
}

impl From<crate::output::ReadCsvError> for ScanFileError {
    fn from(e: crate::output::ReadCsvError) -> ScanFileError {
        ScanFileError::Csv(e)
    }
}

impl ScanFileError {
    /// What went wrong, to be put into words in any language.
    pub fn message(&self) -> Msg {
        match self {
            ScanFileError::Csv(e) => e.message(),
            ScanFileError::NoColumn { file, column } => Msg::new(
                "scan_files_error.no_column",
                &[("file", file), ("column", column)],
            ),
            ScanFileError::BadRow { file, line, error } => Msg::new(
                "scan_files_error.bad_row",
                &[("file", file), ("line", line), ("error", error)],
            ),
        }
    }
}

fn read_rows<T: serde::de::DeserializeOwned>(
    dir: &std::path::Path,
    file: &str,
    columns: &[&'static str],
    optional: &[&str],
) -> Result<Vec<T>, ScanFileError> {
    let path = dir.join(file);
    let (header, rows) = crate::output::read_csv(&path)?;
    for name in columns.iter().filter(|c| !optional.contains(c)) {
        if !header.iter().any(|c| c == *name) {
            return Err(ScanFileError::NoColumn {
                file: path.display().to_string(),
                column: name,
            });
        }
    }
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            // Every cell was neutralised on writing (crate::output::neutralise).
            let cells: csv::StringRecord = r.iter().map(crate::output::unneutralise).collect();
            cells
                .deserialize(Some(&header))
                .map_err(|error| ScanFileError::BadRow {
                    file: path.display().to_string(),
                    line: i + 2,
                    error,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_column_name_whatever_the_order_and_old_columns_may_be_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Columns in another order, without the four added later; a neutralised cell.
        std::fs::write(
            dir.path().join("ballots.csv"),
            "\u{feff}detail,source,page,status,reasons,form,version,unit,serial,duplicate_of,file_sha256\n\
             why,'=a.png,1,review,ambiguous_mark,CSAT,2,P-ANBIEN,000007,,abc\n",
        )
        .expect("write");
        let rows = read_ballots(dir.path()).expect("reads");
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.source.as_str(), r.page.as_str(), r.status.as_str()),
            ("=a.png", "1", "review")
        );
        assert_eq!((r.serial.as_str(), r.detail.as_str()), ("000007", "why"));
        assert_eq!((r.min_margin.as_str(), r.fiducials.as_str()), ("", ""));

        std::fs::write(
            dir.path().join("answers.csv"),
            "source,page,answer\na.png,1,3\n",
        )
        .expect("write");
        let err = read_answers(dir.path()).expect_err("no question column");
        let err = err.to_string();
        assert!(err.contains("answers.csv không có cột “question”"), "{err}");
    }
}
