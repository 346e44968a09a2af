//! Duplicates across a batch: the same file content given twice, and the same ballot (form,
//! unit, serial) read twice. Identical answers count once and the later copies are
//! `duplicate`; different answers send every copy to review (`duplicate_conflict`), because a
//! photocopied ballot is a sign of fraud.
//!
//! Pages are seen one at a time, in input order, and only compact keys are kept (hashes and
//! page numbers, about 70 bytes per page), so a scan of any size can stream its pages to disk
//! and apply the verdicts on a second pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::ballot::Status;
use crate::i18n::{text, Lang};
use crate::reason::Reason;
use crate::scan::PageRecord;

/// What the whole batch says about one page. `first` is the page number in the batch
/// (0-based, input order) of the earliest copy.
#[derive(Clone, Copy, Debug)]
enum Finding {
    SameFile { first: usize },
    SameBallot { first: usize },
    Conflict { first: usize, copies: usize },
}

impl Finding {
    fn first(self) -> usize {
        match self {
            Finding::SameFile { first }
            | Finding::SameBallot { first }
            | Finding::Conflict { first, .. } => first,
        }
    }
}

/// Every copy of one ballot seen so far.
struct Copies {
    first: u32,
    answers: u64,
    count: u32,
    same_answers: bool,
}

/// The pass over the batch that collects keys.
#[derive(Default)]
pub struct Duplicates {
    pages: usize,
    file_no: u32,
    last_source: String,
    /// File content (first 128 bits of its SHA-256) → (file number, its first page).
    files: HashMap<u128, (u32, u32)>,
    /// Ballot identity (first 128 bits of a SHA-256 of form, version, unit, serial).
    ballots: HashMap<u128, Copies>,
    /// (ballot identity, page) of every copy after the first: rare, so kept apart.
    later: Vec<(u128, u32)>,
    same_file: BTreeMap<usize, Finding>,
}

fn digest128(parts: &[&[u8]]) -> u128 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_le_bytes(b)
}

impl Duplicates {
    /// Takes note of the next page in input order.
    pub fn see(&mut self, r: &PageRecord) {
        let i = self.pages;
        self.pages += 1;
        if r.source != self.last_source || i == 0 {
            self.file_no += 1;
            self.last_source.clone_from(&r.source);
        }
        if !r.file_sha256.is_empty() {
            let key = digest128(&[r.file_sha256.as_bytes()]);
            let (file, first) = *self.files.entry(key).or_insert((self.file_no, i as u32));
            if file != self.file_no {
                self.same_file.insert(
                    i,
                    Finding::SameFile {
                        first: first as usize,
                    },
                );
                return;
            }
        }
        // A keyed page is checked against the ballots read, after them (`audit::redecide`).
        if matches!(
            r.status,
            Status::Rejected | Status::Duplicate | Status::Keyed
        ) {
            return;
        }
        let Some(p) = &r.payload else {
            return;
        };
        let key = digest128(&[
            p.form.as_bytes(),
            &p.version.to_le_bytes(),
            p.unit.as_bytes(),
            &p.serial.to_le_bytes(),
        ]);
        let texts: Vec<String> = r.questions.iter().map(|q| q.answer.to_text()).collect();
        let parts: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        let answers = digest128(&parts) as u64;
        match self.ballots.get_mut(&key) {
            None => {
                self.ballots.insert(
                    key,
                    Copies {
                        first: i as u32,
                        answers,
                        count: 1,
                        same_answers: true,
                    },
                );
            }
            Some(c) => {
                c.same_answers &= c.answers == answers;
                c.count += 1;
                self.later.push((key, i as u32));
            }
        }
    }

    /// The batch is complete: what each page turned out to be (told in `lang` in `detail`).
    pub fn finish(self, lang: Lang) -> Verdicts {
        let mut findings = self.same_file;
        for (key, i) in self.later {
            let Some(c) = self.ballots.get(&key) else {
                continue;
            };
            let (first, copies) = (c.first as usize, c.count as usize);
            if c.same_answers {
                findings.insert(i as usize, Finding::SameBallot { first });
            } else {
                findings.insert(first, Finding::Conflict { first, copies });
                findings.insert(i as usize, Finding::Conflict { first, copies });
            }
        }
        let firsts = findings.values().map(|f| f.first()).collect();
        Verdicts {
            findings,
            firsts,
            names: HashMap::new(),
            lang,
        }
    }
}

/// The duplicates found in a batch, applied page by page in the same input order.
pub struct Verdicts {
    findings: BTreeMap<usize, Finding>,
    /// Pages that others are copies of: their names are kept when they go by.
    firsts: BTreeSet<usize>,
    /// Page → (source file, `source#page`).
    names: HashMap<usize, (String, String)>,
    lang: Lang,
}

impl Verdicts {
    /// Marks page `i` (0-based, input order) if it is a duplicate. Pages must come in order,
    /// so that the first copy's name is known when a later copy refers to it.
    pub fn apply(&mut self, i: usize, r: &mut PageRecord) {
        if self.firsts.contains(&i) {
            self.names.insert(i, (r.source.clone(), r.page_ref()));
        }
        let Some(&finding) = self.findings.get(&i) else {
            return;
        };
        let (first_source, first_ref) = self
            .names
            .get(&finding.first())
            .cloned()
            .unwrap_or_default();
        match finding {
            Finding::SameFile { .. } => {
                r.status = Status::Duplicate;
                r.reasons = vec![Reason::DuplicateFile];
                r.detail = text(self.lang, "page.same_file", &[("first", &first_source)]);
                r.duplicate_of = Some(first_source);
            }
            Finding::SameBallot { .. } => {
                r.status = Status::Duplicate;
                r.reasons = vec![Reason::Duplicate];
                r.detail = text(self.lang, "page.same_ballot", &[("first", &first_ref)]);
                r.duplicate_of = Some(first_ref);
            }
            Finding::Conflict { first, copies } => {
                r.status = Status::Review;
                if !r.reasons.contains(&Reason::DuplicateConflict) {
                    r.reasons.push(Reason::DuplicateConflict);
                }
                if i != first {
                    r.duplicate_of = Some(first_ref);
                }
                if let Some(p) = &r.payload {
                    r.detail = text(
                        self.lang,
                        "page.conflict",
                        &[
                            ("serial", &p.serial),
                            ("unit", &p.unit),
                            ("copies", &copies),
                        ],
                    );
                }
            }
        }
    }
}

/// Marks the duplicates among records held in memory (the `tally` command's merged scans).
pub fn mark_duplicates(records: &mut [PageRecord], lang: Lang) {
    let mut seen = Duplicates::default();
    records.iter().for_each(|r| seen.see(r));
    let mut verdicts = seen.finish(lang);
    for (i, r) in records.iter_mut().enumerate() {
        verdicts.apply(i, r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ballot::{Answer, QuestionRead};
    use crate::payload::Payload;

    fn page(source: &str, page: usize, sha: &str, serial: u32, answer: &str) -> PageRecord {
        let mut r = PageRecord::new(source, page);
        r.status = Status::Counted;
        r.reasons = Vec::new();
        r.file_sha256 = sha.into();
        r.payload = Some(Payload::new("CSAT", 1, "P-ANBIEN", serial));
        r.questions = vec![QuestionRead {
            question: "q1".into(),
            answer: Answer::from_text(answer),
            boxes: Vec::new(),
            review_reason: None,
        }];
        r
    }

    #[test]
    fn copies_of_files_and_ballots_are_told_apart() {
        let mut records = vec![
            page("a.tif", 1, "s1", 1, "1"),
            page("a.tif", 2, "s1", 2, "2"),
            page("b.tif", 1, "s1", 9, "1"),
            page("c.png", 1, "s2", 1, "1"),
            page("d.png", 1, "s3", 2, "3"),
        ];
        mark_duplicates(&mut records, Lang::En);
        let got: Vec<(Status, Vec<Reason>, Option<String>)> = records
            .iter()
            .map(|r| (r.status, r.reasons.clone(), r.duplicate_of.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                // Pages of one file share its hash without being copies of each other.
                (Status::Counted, Vec::new(), None),
                (Status::Review, vec![Reason::DuplicateConflict], None),
                (
                    Status::Duplicate,
                    vec![Reason::DuplicateFile],
                    Some("a.tif".into())
                ),
                (
                    Status::Duplicate,
                    vec![Reason::Duplicate],
                    Some("a.tif#1".into())
                ),
                (
                    Status::Review,
                    vec![Reason::DuplicateConflict],
                    Some("a.tif#2".into())
                ),
            ]
        );
        assert_eq!(
            records[4].detail,
            "serial 2 of P-ANBIEN appears 2 times with different answers"
        );
    }
}
