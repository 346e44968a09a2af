//! The decisions file (`decisions.csv`, written by the review page or by hand): its columns,
//! one [`DecisionRow`] per row as written, the [`Decision`] a row's text reads as, and the
//! reader that streams a file row by row. Checking a row against the ballot it names is
//! `check`'s.

use std::path::Path;

use anyhow::{bail, Context};

use crate::ballot::Answer;
use crate::i18n::{text, Lang, Msg};
use crate::output;

/// The columns the review page writes. A ballot is found by `form` + `version` + `unit` +
/// `serial` when its QR code was read (a rescan into another folder, renamed files and
/// another station's copy of the folder are still that ballot), else by `file_sha256` + `page`
/// (its file's content); `source` is kept for people and to tell apart two rows of one
/// ballot. Files without `version` (written before it) are read with any version; files with
/// only the identity columns of `OLD_DECISIONS_HEADER` are read as before: by `source` +
/// `page`.
pub const DECISIONS_HEADER: [&str; 11] = [
    "source",
    "page",
    "file_sha256",
    "form",
    "version",
    "unit",
    "serial",
    "question",
    "decision",
    "auditor",
    "note",
];
/// Decisions files written before ballots were identified by content (still read).
pub const OLD_DECISIONS_HEADER: [&str; 8] = [
    "source", "page", "unit", "serial", "question", "decision", "auditor", "note",
];

/// Whole-ballot decisions use this in the `question` column.
pub const WHOLE_BALLOT: &str = "*";

/// The whole-ballot decision that keys a page the scanner could not read (see
/// `Decision::Keyed`).
pub const KEYED: &str = "KEYED";

/// One row of a decisions file, as written: `DecisionCheck::add` checks it against the
/// ballot it names and turns its `decision` text into a `Decision`.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRow {
    /// The scanned file the ballot came from, as the scan named it (kept for people, and to
    /// tell two rows of one ballot apart).
    pub source: String,
    /// The page in that file, counted from 1.
    pub page: usize,
    /// Empty in files of the old format, and for hand-written rows that name the ballot by
    /// `source` + `page` only.
    pub file_sha256: String,
    /// The form id from the ballot's QR code; empty when it was not read.
    pub form: String,
    /// Empty in files written before the column existed: any version.
    pub version: String,
    /// The unit (office, branch) the ballot was issued for; empty when the QR code was not read.
    pub unit: String,
    /// The ballot's serial number, as text; empty when the QR code was not read.
    pub serial: String,
    /// The question id the decision is for, or `WHOLE_BALLOT` (`*`) for the whole ballot.
    pub question: String,
    /// An option id (or ids joined by `;`), BLANK or MULTI for a question; ACCEPT or REJECT
    /// for the whole ballot (see `Decision`).
    pub decision: String,
    /// Who decided, as they signed it; carried into the audit trail.
    pub auditor: String,
    /// Why, in the auditor's words; carried into the audit trail.
    pub note: String,
    /// Whether the file had the identity columns (`file_sha256`): the ballot is then found by
    /// what it is, not by where its file was.
    pub by_identity: bool,
    /// Where it came from, for errors: `file:line`.
    pub origin: String,
}

/// What an auditor decided, read from a row's `question` and `decision`: a verdict on the
/// whole ballot (`question` = `*`), or a question's answer as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `ACCEPT`: the ballot counts as read, without its ballot-level doubts (`poor_alignment`,
    /// `unknown_unit`). A page the scanner rejected cannot be accepted.
    Accept,
    /// `REJECT`: the ballot is not counted (`auditor_rejected`).
    Reject,
    /// `KEYED`: a page whose QR code or alignment failed, keyed by hand from its image: the
    /// row carries the ballot's `form`, `version`, `unit` and `serial`, and every question of
    /// the form has a row of its own with the answer read on the image. The page is found by
    /// `file_sha256` + `page` (its QR code was not read); it counts as `keyed`.
    Keyed,
    /// These options (ids joined by `;`; one for a single-choice question). Whether the
    /// question has them is checked against its form, not here.
    Options(Vec<String>),
    /// `BLANK`: no answer.
    Blank,
    /// `MULTI`: several marks, not counted.
    Multi,
}

impl Decision {
    /// Reads the `decision` cell of a row for `question`. Option ids are not checked here
    /// (that needs the ballot's form), so a question's decision always reads.
    pub fn parse(question: &str, text: &str) -> Result<Decision, Msg> {
        if question == WHOLE_BALLOT {
            return match text {
                "ACCEPT" => Ok(Decision::Accept),
                "REJECT" => Ok(Decision::Reject),
                KEYED => Ok(Decision::Keyed),
                _ => Err(Msg::new(
                    "audit.not_a_verdict",
                    &[("text", &format!("{text:?}"))],
                )),
            };
        }
        Ok(match text {
            "BLANK" => Decision::Blank,
            "MULTI" => Decision::Multi,
            _ => Decision::Options(text.split(';').map(str::to_string).collect()),
        })
    }

    /// The answer it gives its question; `None` for a verdict on the whole ballot.
    pub fn answer(&self) -> Option<Answer> {
        match self {
            Decision::Accept | Decision::Reject | Decision::Keyed => None,
            Decision::Options(ids) => Some(Answer::Chosen(ids.clone())),
            Decision::Blank => Some(Answer::Blank),
            Decision::Multi => Some(Answer::Multi),
        }
    }
}

/// As written in decisions.csv and the audit trail.
impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Accept => f.write_str("ACCEPT"),
            Decision::Reject => f.write_str("REJECT"),
            Decision::Keyed => f.write_str(KEYED),
            Decision::Options(ids) => f.write_str(&ids.join(";")),
            Decision::Blank => f.write_str("BLANK"),
            Decision::Multi => f.write_str("MULTI"),
        }
    }
}

/// Reads a decisions file whole (see [`read_decisions`], which `tally` uses to stream it);
/// its mistakes are told in `lang`.
pub fn load_decisions(path: &Path, lang: Lang) -> anyhow::Result<Vec<DecisionRow>> {
    let mut out = Vec::new();
    read_decisions(path, lang, |d| {
        out.push(d);
        Ok(())
    })?;
    Ok(out)
}

/// The longest field a decision may have: a note of a page of text. Longer ones are a damaged
/// or hostile file, refused rather than held.
const MAX_DECISION_FIELD: usize = 64 << 10;

/// Reads a decisions file record by record, handing each decision to `each`; the file is
/// never held in memory (a 195 MB file took 2 GB read whole). Its mistakes are told in `lang`.
pub fn read_decisions(
    path: &Path,
    lang: Lang,
    mut each: impl FnMut(DecisionRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    let file = std::fs::File::open(path).with_context(|| {
        text(
            lang,
            "audit.cannot_read_decisions",
            &[("file", &path.display())],
        )
    })?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    // Skip the byte-order mark Excel and the review page write.
    if input.fill_buf()?.starts_with("\u{feff}".as_bytes()) {
        input.consume(3);
    }
    let delimiter = output::delimiter_of(input.fill_buf()?);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(input);
    let header = rdr
        .headers()
        .map_err(|e| {
            anyhow::anyhow!(text(
                lang,
                "audit.bad_header",
                &[("file", &path.display()), ("error", &e)]
            ))
        })?
        .clone();
    let names: Vec<&str> = header.iter().collect();
    let by_identity = names.contains(&"file_sha256");
    // `version` came later than the other identity columns: a file without it still reads.
    let need: &[&str] = if by_identity {
        &DECISIONS_HEADER[..]
    } else {
        &OLD_DECISIONS_HEADER
    };
    for need in need.iter().filter(|n| **n != "version") {
        if !names.contains(need) {
            bail!(text(
                lang,
                "audit.missing_column",
                &[
                    ("file", &path.display()),
                    ("column", &format!("{need:?}")),
                    ("header", &DECISIONS_HEADER.join(",")),
                ]
            ));
        }
    }
    let pos = |n: &str| names.iter().position(|x| *x == n);
    let mut record = csv::StringRecord::new();
    let mut n = 0u64;
    loop {
        n += 1;
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(n + 1, |p| p.line());
                let origin = format!("{}:{line}", path.display());
                match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => {
                        bail!(text(lang, "audit.not_utf8", &[("origin", &origin)]))
                    }
                    _ => bail!(text(
                        lang,
                        "audit.bad_row",
                        &[("origin", &origin), ("error", &e)]
                    )),
                }
            }
        }
        // The record's own line: a quoted note may span several lines.
        let line = record.position().map_or(n + 1, |p| p.line());
        let origin = format!("{}:{line}", path.display());
        if record.iter().any(|f| f.len() > MAX_DECISION_FIELD) {
            bail!(text(
                lang,
                "audit.cell_too_long",
                &[("origin", &origin), ("kb", &(MAX_DECISION_FIELD >> 10))]
            ));
        }
        // Names are taken exactly (a file may be called " a.png"); words people type are
        // trimmed.
        let exact = |n: &str| {
            pos(n)
                .and_then(|i| record.get(i))
                .map_or(String::new(), |v| output::unneutralise(v).to_string())
        };
        let typed = |n: &str| exact(n).trim().to_string();
        each(DecisionRow {
            page: typed("page")
                .parse()
                .with_context(|| text(lang, "audit.bad_page_number", &[("origin", &origin)]))?,
            source: exact("source"),
            file_sha256: typed("file_sha256"),
            form: typed("form"),
            version: typed("version"),
            unit: typed("unit"),
            serial: typed("serial"),
            question: typed("question"),
            decision: typed("decision"),
            auditor: typed("auditor"),
            note: exact("note"),
            by_identity,
            origin,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_semicolon_decisions_file_from_excel_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("decisions.csv");
        std::fs::write(
            &path,
            "\u{feff}source;page;file_sha256;form;unit;serial;question;decision;auditor;note\r\n\
             scans/a.png;1;ab12;CSAT;P-ANBIEN;000002;q3;\"4;5\";Nguyễn Văn A;đã xem, rõ\r\n",
        )
        .expect("write");
        let mut read = Vec::new();
        read_decisions(&path, crate::i18n::Lang::En, |d| {
            read.push(d);
            Ok(())
        })
        .expect("reads");
        assert_eq!(read.len(), 1);
        let d = &read[0];
        assert_eq!(
            (d.unit.as_str(), d.serial.as_str(), d.question.as_str()),
            ("P-ANBIEN", "000002", "q3")
        );
        assert_eq!(d.decision, "4;5");
        assert_eq!(d.note, "đã xem, rõ");
        assert!(d.by_identity);
    }
}
