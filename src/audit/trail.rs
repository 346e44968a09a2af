//! The audit trail (`audit-trail.csv`): one row for every change a decision made, with what
//! the page said before and after, who decided and why.

use crate::output::CsvTable;

/// The columns of `audit-trail.csv`.
pub(crate) const TRAIL_HEADER: [&str; 9] = [
    "source", "page", "unit", "serial", "question", "before", "after", "auditor", "note",
];

/// One applied change, for `audit-trail.csv`.
#[derive(Clone, Debug)]
pub struct TrailEntry {
    /// The scanned file the ballot came from.
    pub source: String,
    /// The page in that file, counted from 1.
    pub page: usize,
    /// The unit the ballot was issued for (empty when its QR code was not read).
    pub unit: String,
    /// The ballot's serial number (empty when its QR code was not read).
    pub serial: String,
    /// The question changed, or `*` for the whole ballot.
    pub question: String,
    /// What the page said before the decision (an answer, or a status for the whole ballot).
    pub before: String,
    /// The decision, as the decisions file wrote it.
    pub after: String,
    /// Who decided, from the decisions file.
    pub auditor: String,
    /// Why, from the decisions file.
    pub note: String,
}

pub fn trail_csv(trail: &[TrailEntry]) -> CsvTable {
    let mut t = CsvTable::new(&TRAIL_HEADER);
    for e in trail {
        t.row([
            e.source.clone(),
            e.page.to_string(),
            e.unit.clone(),
            e.serial.clone(),
            e.question.clone(),
            e.before.clone(),
            e.after.clone(),
            e.auditor.clone(),
            e.note.clone(),
        ]);
    }
    t
}
