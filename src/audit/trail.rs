//! The audit trail (`audit-trail.csv`): one row for every change a decision made, with what
//! the page said before and after, who decided and why.

use crate::output::CsvTable;

pub const TRAIL_HEADER: [&str; 9] = [
    "source", "page", "unit", "serial", "question", "before", "after", "auditor", "note",
];

/// One applied change, for `audit-trail.csv`.
#[derive(Clone, Debug)]
pub struct TrailEntry {
    pub source: String,
    pub page: usize,
    pub unit: String,
    pub serial: String,
    pub question: String,
    pub before: String,
    pub after: String,
    pub auditor: String,
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
