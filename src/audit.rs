//! The auditors' side: re-reading scan folders, applying recorded decisions, re-tallying
//! several scanning stations as one batch, and reconciling issued against returned ballots.
//!
//! Every decision is checked against the ballot it names; anything that does not fit (an
//! unknown ballot, an option the question does not have, two different decisions for the same
//! question) stops the re-tally with an error — nothing is applied silently.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::ballot::{self, Answer, BoxRead, QuestionRead, Status};
use crate::form::Form;
use crate::i18n::{text, Lang};
use crate::marks::{BoxScore, Fill, MarkState};
use crate::output::{self, CsvTable};
use crate::payload::Payload;
use crate::registry::Registry;
use crate::scan::PageRecord;

/// The columns the review page writes. A ballot is found by `form` + `unit` + `serial` when
/// its QR code was read (a rescan, a renamed file and another station's copy of the folder
/// are still that ballot), else by `file_sha256` + `page` (its file's content); `source` is
/// kept for people and to tell apart two rows of one ballot. Files with only the first four
/// identity columns of [`OLD_DECISIONS_HEADER`] are read as before: by `source` + `page`.
pub const DECISIONS_HEADER: [&str; 10] = [
    "source",
    "page",
    "file_sha256",
    "form",
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
pub const TRAIL_HEADER: [&str; 9] = [
    "source", "page", "unit", "serial", "question", "before", "after", "auditor", "note",
];

/// Whole-ballot decisions use this in the `question` column.
pub const WHOLE_BALLOT: &str = "*";

/// Loads the pages of one scan folder from its `ballots.csv` and `answers.csv`.
pub fn load_scan(dir: &Path) -> anyhow::Result<Vec<PageRecord>> {
    let (bh, brows) = output::read_csv(&dir.join("ballots.csv")).map_err(anyhow::Error::msg)?;
    let col = |h: &csv::StringRecord, name: &str| -> anyhow::Result<usize> {
        h.iter()
            .position(|c| c == name)
            .with_context(|| format!("{}: no column {name:?}", dir.display()))
    };
    let c = |name: &str| col(&bh, name);
    let (cs, cp, cst, cr, cf, cv, cu, cse, cdu, csha, cd) = (
        c("source")?,
        c("page")?,
        c("status")?,
        c("reasons")?,
        c("form")?,
        c("version")?,
        c("unit")?,
        c("serial")?,
        c("duplicate_of")?,
        c("file_sha256")?,
        c("detail")?,
    );
    // Optional, so folders written before the columns existed still load.
    let cmm = bh.iter().position(|c| c == "min_margin");
    let (crot, cfit, cfid) = (
        bh.iter().position(|c| c == "rotation_deg"),
        bh.iter().position(|c| c == "fit_error_mm"),
        bh.iter().position(|c| c == "fiducials"),
    );
    let get =
        |r: &csv::StringRecord, i: usize| output::unneutralise(r.get(i).unwrap_or("")).to_string();
    let mut records: Vec<PageRecord> = Vec::new();
    for (n, r) in brows.iter().enumerate() {
        let source = get(r, cs);
        let page: usize = get(r, cp)
            .parse()
            .with_context(|| format!("{}/ballots.csv:{}: bad page", dir.display(), n + 2))?;
        let status = Status::parse(&get(r, cst))
            .with_context(|| format!("{}/ballots.csv:{}: bad status", dir.display(), n + 2))?;
        let (form, version, unit, serial) = (get(r, cf), get(r, cv), get(r, cu), get(r, cse));
        let payload = if unit.is_empty() {
            None
        } else {
            Some(Payload {
                form: form.clone(),
                version: version.parse().unwrap_or(0),
                unit,
                serial: serial.parse().unwrap_or(0),
                signature: None,
            })
        };
        let form_key = payload.as_ref().map(|p| (form.clone(), p.version));
        let reasons = get(r, cr);
        let dup = get(r, cdu);
        let mut rec = PageRecord::new(&source, page);
        rec.status = status;
        rec.reasons = if reasons.is_empty() {
            Vec::new()
        } else {
            reasons.split(';').map(str::to_string).collect()
        };
        rec.detail = get(r, cd);
        rec.payload = payload;
        rec.form = form_key;
        rec.min_margin = cmm.and_then(|i| get(r, i).parse().ok());
        // Kept so that a tally reproduces the scan's rows (formatted alike, they print alike).
        rec.rotation_deg = crot.and_then(|i| get(r, i).parse().ok());
        rec.fit_error_mm = cfit.and_then(|i| get(r, i).parse().ok());
        rec.fiducials_found = cfid.and_then(|i| get(r, i).parse().ok());
        rec.file_sha256 = get(r, csha);
        rec.duplicate_of = (!dup.is_empty()).then_some(dup);
        records.push(rec);
    }
    let (ah, arows) = output::read_csv(&dir.join("answers.csv")).map_err(anyhow::Error::msg)?;
    let (a_s, a_p, a_q, a_a) = (
        col(&ah, "source")?,
        col(&ah, "page")?,
        col(&ah, "question")?,
        col(&ah, "answer")?,
    );
    let (a_st, a_sc) = (
        ah.iter().position(|c| c == "states"),
        ah.iter().position(|c| c == "scores"),
    );
    // Pages are keyed by their row, not their name: the same folder given twice, or two
    // names that print alike, give several rows with one `source#page`. answers.csv lists
    // each page's questions together, in ballots.csv order, so a page's answers belong to
    // the next row with that name from where the previous page's answers went.
    let mut rows_by_name: BTreeMap<(String, usize), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if r.payload.is_some() {
            rows_by_name
                .entry((r.source.clone(), r.page))
                .or_default()
                .push(i);
        }
    }
    let mut current: Option<usize> = None;
    for (n, r) in arows.iter().enumerate() {
        let key = (get(r, a_s), get(r, a_p).parse().unwrap_or(0));
        let question = get(r, a_q);
        let same_page = current.is_some_and(|i| {
            records[i].source == key.0
                && records[i].page == key.1
                && !records[i].questions.iter().any(|q| q.question == question)
        });
        if !same_page {
            let after = current.map_or(0, |i| i + 1);
            let next = rows_by_name
                .get(&key)
                .and_then(|rows| rows.iter().copied().find(|&i| i >= after));
            let Some(i) = next else {
                bail!(
                    "{}/answers.csv:{}: {}#{} has no row in ballots.csv at or after this point \
                     (or its question {question} is listed twice): the folder is damaged or its \
                     files come from different runs; scan again",
                    dir.display(),
                    n + 2,
                    key.0,
                    key.1
                );
            };
            current = Some(i);
        }
        let Some(i) = current else { continue };
        let answer = Answer::from_text(&get(r, a_a));
        let boxes = boxes_read(
            &a_st.map(|c| get(r, c)).unwrap_or_default(),
            &a_sc.map(|c| get(r, c)).unwrap_or_default(),
        );
        // A scan sends a question to review for one of two reasons: a box between the
        // thresholds, or else a solid box beside another mark (ballot::decide_question).
        let review_reason = (answer == Answer::Review).then(|| {
            if boxes.is_empty() || boxes.iter().any(|b| b.state == MarkState::Ambiguous) {
                "ambiguous_mark"
            } else {
                "possible_correction"
            }
        });
        records[i].questions.push(QuestionRead {
            question,
            review_reason,
            answer,
            boxes,
        });
    }
    // The other way: every page that was read has its answers.
    for (n, r) in records.iter().enumerate() {
        if r.payload.is_some() && r.status != Status::Rejected && r.questions.is_empty() {
            bail!(
                "{}/ballots.csv:{}: {}#{} is {} but answers.csv has no answers for it: the \
                 folder is damaged or its files come from different runs; scan again",
                dir.display(),
                n + 2,
                r.source,
                r.page,
                r.status.as_str()
            );
        }
    }
    Ok(records)
}

/// The boxes of one question from answers.csv's `states` (`1=empty 2=marked`) and `scores`
/// (`1=0.000 2=0.845`) cells; none when either is missing or they do not pair up.
fn boxes_read(states: &str, scores: &str) -> Vec<BoxRead> {
    let states: Vec<(&str, &str)> = states
        .split_whitespace()
        .filter_map(|x| x.split_once('='))
        .collect();
    let scores: Vec<(&str, &str)> = scores
        .split_whitespace()
        .filter_map(|x| x.split_once('='))
        .collect();
    if states.len() != scores.len() {
        return Vec::new();
    }
    let boxes: Option<Vec<BoxRead>> = states
        .iter()
        .zip(&scores)
        .map(|((option, state), (option2, fill))| {
            if option != option2 {
                return None;
            }
            let state = match *state {
                "empty" => MarkState::Empty,
                "ambiguous" => MarkState::Ambiguous,
                "marked" => MarkState::Marked,
                _ => return None,
            };
            Some(BoxRead {
                option: option.to_string(),
                state,
                score: BoxScore::as_recorded(Fill(fill.parse().ok()?)),
            })
        })
        .collect();
    boxes.unwrap_or_default()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub source: String,
    pub page: usize,
    /// Empty in files of the old format, and for hand-written rows that name the ballot by
    /// `source` + `page` only.
    pub file_sha256: String,
    pub form: String,
    pub unit: String,
    pub serial: String,
    pub question: String,
    /// An option id (or ids joined by `;`), BLANK or MULTI for a question; ACCEPT or REJECT
    /// for the whole ballot.
    pub decision: String,
    pub auditor: String,
    pub note: String,
    /// Whether the file had the identity columns (`file_sha256`): the ballot is then found by
    /// what it is, not by where its file was.
    pub by_identity: bool,
    /// Where it came from, for errors: `file:line`.
    pub origin: String,
}

/// Reads a decisions file whole (see [`read_decisions`], which `tally` uses to stream it).
pub fn load_decisions(path: &Path) -> anyhow::Result<Vec<Decision>> {
    let mut out = Vec::new();
    read_decisions(path, |d| {
        out.push(d);
        Ok(())
    })?;
    Ok(out)
}

/// The longest field a decision may have: a note of a page of text. Longer ones are a damaged
/// or hostile file, refused rather than held.
const MAX_DECISION_FIELD: usize = 64 << 10;

/// Reads a decisions file record by record, handing each decision to `each`; the file is
/// never held in memory (a 195 MB file took 2 GB read whole).
pub fn read_decisions(
    path: &Path,
    mut each: impl FnMut(Decision) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the decisions file {}", path.display()))?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    // Skip the byte-order mark Excel and the review page write.
    if input.fill_buf()?.starts_with("\u{feff}".as_bytes()) {
        input.consume(3);
    }
    let mut rdr = csv::ReaderBuilder::new().from_reader(input);
    let header = rdr
        .headers()
        .map_err(|e| anyhow::anyhow!("{}: bad header: {e}", path.display()))?
        .clone();
    let names: Vec<&str> = header.iter().collect();
    let by_identity = names.contains(&"file_sha256");
    let need: &[&str] = if by_identity {
        &DECISIONS_HEADER
    } else {
        &OLD_DECISIONS_HEADER
    };
    for need in need {
        if !names.contains(need) {
            bail!(
                "{}: missing column {need:?}; a decisions file has the header {}",
                path.display(),
                DECISIONS_HEADER.join(",")
            );
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
                match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => bail!(
                        "{}:{line}: not UTF-8: save it as \"CSV UTF-8\"",
                        path.display()
                    ),
                    _ => bail!("{}:{line}: bad row: {e}", path.display()),
                }
            }
        }
        // The record's own line: a quoted note may span several lines.
        let line = record.position().map_or(n + 1, |p| p.line());
        let origin = format!("{}:{line}", path.display());
        if record.iter().any(|f| f.len() > MAX_DECISION_FIELD) {
            bail!(
                "{origin}: a cell longer than {} KB: not a decision",
                MAX_DECISION_FIELD >> 10
            );
        }
        // Names are taken exactly (a file may be called " a.png"); words people type are
        // trimmed.
        let exact = |n: &str| {
            pos(n)
                .and_then(|i| record.get(i))
                .map_or(String::new(), |v| output::unneutralise(v).to_string())
        };
        let typed = |n: &str| exact(n).trim().to_string();
        each(Decision {
            page: typed("page")
                .parse()
                .with_context(|| format!("{origin}: bad page number"))?,
            source: exact("source"),
            file_sha256: typed("file_sha256"),
            form: typed("form"),
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

/// Where each page of the scan folders can be found by what a decision names.
pub struct BallotIndex {
    by_name: BTreeMap<(String, usize), Vec<usize>>,
    by_ballot: BTreeMap<(String, u32), Vec<usize>>,
    by_content: BTreeMap<(String, usize), Vec<usize>>,
}

impl BallotIndex {
    pub fn new(records: &[PageRecord]) -> BallotIndex {
        let mut ix = BallotIndex {
            by_name: BTreeMap::new(),
            by_ballot: BTreeMap::new(),
            by_content: BTreeMap::new(),
        };
        for (i, r) in records.iter().enumerate() {
            ix.by_name
                .entry((r.source.clone(), r.page))
                .or_default()
                .push(i);
            if !r.file_sha256.is_empty() {
                ix.by_content
                    .entry((r.file_sha256.clone(), r.page))
                    .or_default()
                    .push(i);
            }
            if let Some(p) = &r.payload {
                ix.by_ballot
                    .entry((p.unit.clone(), p.serial))
                    .or_default()
                    .push(i);
            }
        }
        ix
    }

    /// The page a decision names. `Ok(None)`: no page matches (the decision was made on
    /// other scans); an error: several do and nothing in the decision tells them apart.
    fn find(&self, records: &[PageRecord], d: &Decision) -> anyhow::Result<Option<usize>> {
        let describe = |c: &[usize]| {
            c.iter()
                .map(|&i| records[i].page_ref())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !d.by_identity {
            return match self.by_name.get(&(d.source.clone(), d.page)).map(Vec::as_slice) {
                Some([i]) => Ok(Some(*i)),
                Some(many) => bail!(
                    "{}: {}#{} names {} pages ({}): this decisions file names ballots by file name only; export the decisions again from the review page, which names them by serial and content",
                    d.origin,
                    d.source,
                    d.page,
                    many.len(),
                    describe(many)
                ),
                None => Ok(None),
            };
        }
        let serial = d.serial.parse::<u32>().ok();
        let mut candidates: Vec<usize> = match serial {
            Some(serial) if !d.unit.is_empty() => self
                .by_ballot
                .get(&(d.unit.clone(), serial))
                .map(|c| {
                    c.iter()
                        .copied()
                        .filter(|&i| {
                            d.form.is_empty()
                                || records[i]
                                    .payload
                                    .as_ref()
                                    .is_some_and(|p| p.form == d.form)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            _ if !d.file_sha256.is_empty() => self
                .by_content
                .get(&(d.file_sha256.clone(), d.page))
                .cloned()
                .unwrap_or_default(),
            _ => self
                .by_name
                .get(&(d.source.clone(), d.page))
                .cloned()
                .unwrap_or_default(),
        };
        // Several pages of one ballot (a rescan, a photocopy, a file seen at two stations):
        // the one this decision was made on is the one with its content, then its name; a
        // copy of a file already read is never the one decided.
        let narrowers: [&dyn Fn(&PageRecord) -> bool; 3] = [
            &|r| !d.file_sha256.is_empty() && r.file_sha256 == d.file_sha256 && r.page == d.page,
            &|r| r.source == d.source && r.page == d.page,
            &|r| r.reasons.iter().all(|x| x != "duplicate_file"),
        ];
        for keep in narrowers {
            if candidates.len() <= 1 {
                break;
            }
            let narrower: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|&i| keep(&records[i]))
                .collect();
            if !narrower.is_empty() {
                candidates = narrower;
            }
        }
        match candidates.as_slice() {
            [] => Ok(None),
            [i] => Ok(Some(*i)),
            many => bail!(
                "{}: {} {} {} names {} pages that cannot be told apart ({}): tally their scan folders separately",
                d.origin,
                d.form,
                d.unit,
                d.serial,
                many.len(),
                describe(many)
            ),
        }
    }
}

/// Applies decisions to the pages, then re-decides statuses and duplicates across all of them.
pub fn apply_decisions(
    records: &mut [PageRecord],
    decisions: &[Decision],
    forms: &[Form],
) -> anyhow::Result<Vec<TrailEntry>> {
    let mut check = DecisionCheck::new(records);
    for d in decisions {
        check.add(records, forms, d.clone())?;
    }
    check.apply(records, forms)
}

/// Decisions checked one at a time against the pages (nothing applied yet): what each one
/// decides, one per page and question, and the decisions that match no page.
pub struct DecisionCheck {
    index: BallotIndex,
    chosen: BTreeMap<(usize, String), Decision>,
    unmatched: Vec<String>,
}

/// How many decisions that match no page are named in the error (all are counted).
const UNMATCHED_LISTED: usize = 20;

impl DecisionCheck {
    pub fn new(records: &[PageRecord]) -> DecisionCheck {
        DecisionCheck {
            index: BallotIndex::new(records),
            chosen: BTreeMap::new(),
            unmatched: Vec::new(),
        }
    }

    /// Checks one decision; an error stops the tally (nothing is applied).
    pub fn add(
        &mut self,
        records: &[PageRecord],
        forms: &[Form],
        d: Decision,
    ) -> anyhow::Result<()> {
        let Some(i) = self.index.find(records, &d)? else {
            // Listed together at the end, so the auditor sees every one at once.
            self.unmatched.push(format!(
                "{}: {}",
                d.origin,
                if d.by_identity && !d.unit.is_empty() {
                    format!(
                        "{} {} {} ({}#{})",
                        d.form, d.unit, d.serial, d.source, d.page
                    )
                } else {
                    format!("{}#{}", d.source, d.page)
                }
            ));
            return Ok(());
        };
        let chosen = &mut self.chosen;
        let r = &records[i];
        if d.auditor.is_empty() {
            bail!(
                "{}: no auditor: every decision names who made it (fill in the auditor column)",
                d.origin
            );
        }
        let rejected = r.status == Status::Rejected;
        let copy_of_file = r.reasons.iter().any(|x| x == "duplicate_file");
        if d.question == WHOLE_BALLOT && d.decision == "ACCEPT" && rejected {
            bail!(
                "{}: {}#{} was rejected by the scanner ({}): it cannot be accepted as read; scan the sheet again",
                d.origin,
                d.source,
                d.page,
                r.reasons.join(";")
            );
        }
        if d.question != WHOLE_BALLOT && (rejected || copy_of_file) {
            bail!(
                "{}: {}#{} is {}: its answers are not counted, so they cannot be decided (only ACCEPT or REJECT{})",
                d.origin,
                d.source,
                d.page,
                if rejected { "rejected" } else { "a copy of a file already read" },
                if copy_of_file { "; decide the first copy's answers" } else { "" }
            );
        }
        if let Some(p) = &r.payload {
            if (!d.unit.is_empty() && d.unit != p.unit)
                || (!d.serial.is_empty() && d.serial.parse::<u32>().ok() != Some(p.serial))
            {
                bail!(
                    "{}: {}#{} is {} {:06}, not {} {}: the decision names the wrong page",
                    d.origin,
                    d.source,
                    d.page,
                    p.unit,
                    p.serial,
                    d.unit,
                    d.serial
                );
            }
        }
        if d.question == WHOLE_BALLOT {
            if !matches!(d.decision.as_str(), "ACCEPT" | "REJECT") {
                bail!(
                    "{}: a whole-ballot decision is ACCEPT or REJECT, not {:?}",
                    d.origin,
                    d.decision
                );
            }
        } else {
            let form = r
                .form
                .as_ref()
                .and_then(|(id, v)| forms.iter().find(|f| &f.id == id && f.version == *v))
                .with_context(|| {
                    format!(
                        "{}: {}#{} has no readable form, so only `*` decisions apply to it",
                        d.origin, d.source, d.page
                    )
                })?;
            let q = form.question(&d.question).with_context(|| {
                format!(
                    "{}: form {} has no question {:?}",
                    d.origin, form.id, d.question
                )
            })?;
            if !q.is_choice() {
                bail!(
                    "{}: question {} is a comment area, read by a person and never counted: decisions apply to questions with boxes",
                    d.origin,
                    q.id
                );
            }
            if !matches!(d.decision.as_str(), "BLANK" | "MULTI") {
                let ids: Vec<&str> = d.decision.split(';').collect();
                if ids.len() > 1 && q.kind == crate::form::QuestionKind::Single {
                    bail!(
                        "{}: question {} takes one option; use MULTI for an over-marked answer",
                        d.origin,
                        q.id
                    );
                }
                for id in ids {
                    if !q.options.iter().any(|o| o.id == id) {
                        bail!(
                            "{}: question {} has no option {id:?} (options: {}, or BLANK, MULTI)",
                            d.origin,
                            q.id,
                            q.options
                                .iter()
                                .map(|o| o.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                }
            }
        }
        match chosen.get(&(i, d.question.clone())) {
            Some(prev) if prev.decision != d.decision => {
                bail!(
                "{} and {} decide {}#{} question {} differently ({} vs {}): settle it and keep one",
                prev.origin, d.origin, d.source, d.page, d.question, prev.decision, d.decision
            )
            }
            _ => {
                chosen.insert((i, d.question.clone()), d);
            }
        }

        Ok(())
    }

    /// Applies the checked decisions: every one matched a page, or none is applied.
    pub fn apply(
        self,
        records: &mut [PageRecord],
        forms: &[Form],
    ) -> anyhow::Result<Vec<TrailEntry>> {
        if !self.unmatched.is_empty() {
            let n = self.unmatched.len();
            bail!(
                "{n} decision{} name{} no ballot in the scan folders given (made on other scans, or on ballots since removed); tally the folders they were made on, or delete these rows:\n  {}{}",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" },
                self.unmatched[..n.min(UNMATCHED_LISTED)].join("\n  "),
                if n > UNMATCHED_LISTED {
                    format!("\n  … and {} more", n - UNMATCHED_LISTED)
                } else {
                    String::new()
                }
            );
        }
        let chosen = self.chosen;
        refuse_rejecting_one_of_identical_copies(records, &chosen)?;
        let mut trail = Vec::new();
        let mut accepted = BTreeSet::new();
        let mut rejected = BTreeSet::new();
        for ((i, q), d) in &chosen {
            let r = &mut records[*i];
            let (unit, serial) = r
                .payload
                .as_ref()
                .map_or((String::new(), String::new()), |p| {
                    (p.unit.clone(), p.serial_text())
                });
            let before;
            if q == WHOLE_BALLOT {
                before = r.status.as_str().to_string();
                if d.decision == "REJECT" {
                    rejected.insert(*i);
                } else {
                    accepted.insert(*i);
                }
            } else {
                let answer = Answer::from_text(&d.decision);
                match r.questions.iter_mut().find(|x| &x.question == q) {
                    Some(x) => {
                        before = x.answer.to_text();
                        x.answer = answer;
                        x.review_reason = None;
                    }
                    None => {
                        before = String::new();
                        r.questions.push(QuestionRead {
                            question: q.clone(),
                            answer,
                            boxes: Vec::new(),
                            review_reason: None,
                        });
                    }
                }
            }
            trail.push(TrailEntry {
                source: r.source.clone(),
                page: r.page,
                unit,
                serial,
                question: q.clone(),
                before,
                after: d.decision.clone(),
                auditor: d.auditor.clone(),
                note: d.note.clone(),
            });
        }
        redecide(records, forms, &accepted, &rejected);
        Ok(trail)
    }
}

/// A REJECT of a ballot that was also read elsewhere with the same answers (a rescan, the
/// same file twice) would let that copy be counted in its place, leaving the tally as it
/// was: the copies must be rejected too. (Copies with different answers, a photocopy, are
/// what rejecting one copy is for.)
fn refuse_rejecting_one_of_identical_copies(
    records: &[PageRecord],
    chosen: &BTreeMap<(usize, String), Decision>,
) -> anyhow::Result<()> {
    let rejected: BTreeSet<usize> = chosen
        .iter()
        .filter(|((_, q), d)| q == WHOLE_BALLOT && d.decision == "REJECT")
        .map(|((i, _), _)| *i)
        .collect();
    let answers = |r: &PageRecord| -> Vec<(String, String)> {
        let mut a: Vec<(String, String)> = r
            .questions
            .iter()
            .map(|q| (q.question.clone(), q.answer.to_text()))
            .collect();
        a.sort();
        a
    };
    for &i in &rejected {
        let (r, d) = (&records[i], &chosen[&(i, WHOLE_BALLOT.to_string())]);
        let Some(p) = &r.payload else { continue };
        let mine = answers(r);
        let copies: Vec<String> = records
            .iter()
            .enumerate()
            .filter(|(j, c)| {
                *j != i
                    && !rejected.contains(j)
                    && c.status != Status::Rejected
                    && c.payload.as_ref().is_some_and(|q| {
                        (&q.form, q.version, &q.unit, q.serial)
                            == (&p.form, p.version, &p.unit, p.serial)
                    })
                    && answers(c) == mine
            })
            .map(|(_, c)| c.page_ref())
            .collect();
        if !copies.is_empty() {
            bail!(
                "{}: {}#{} ({} {}) was also read, with the same answers, as {}: rejecting it alone would count that copy instead; reject every copy of this ballot",
                d.origin,
                r.source,
                r.page,
                p.unit,
                p.serial_text(),
                copies.join(", ")
            );
        }
    }
    Ok(())
}

/// Recomputes every readable ballot's status from its (possibly corrected) answers, then
/// duplicates across the whole set, exactly as a scan decides them.
pub fn redecide(
    records: &mut [PageRecord],
    forms: &[Form],
    accepted: &BTreeSet<usize>,
    rejected: &BTreeSet<usize>,
) {
    for (i, r) in records.iter_mut().enumerate() {
        if rejected.contains(&i) {
            r.status = Status::Rejected;
            r.reasons = vec!["auditor_rejected".into()];
            continue;
        }
        let readable =
            r.reasons.iter().all(|x| x != "duplicate_file") && r.status != Status::Rejected;
        let Some(form) = r
            .form
            .as_ref()
            .and_then(|(id, v)| forms.iter().find(|f| &f.id == id && f.version == *v))
        else {
            continue;
        };
        if !readable {
            continue;
        }
        // Ballot-level doubts stay until a person accepts the ballot as a whole.
        let keep_flags = !accepted.contains(&i);
        let poor = keep_flags && r.reasons.iter().any(|x| x == "poor_alignment");
        let unknown = keep_flags && r.reasons.iter().any(|x| x == "unknown_unit");
        let (status, reasons) = ballot::decide_ballot(form, &r.questions, poor, unknown);
        r.status = status;
        r.reasons = reasons;
        r.duplicate_of = None;
    }
    crate::duplicates::mark_duplicates(records);
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

/// Issued serials per unit, from `issued.csv` files written by `generate`.
pub fn load_issued(paths: &[PathBuf]) -> anyhow::Result<BTreeMap<String, BTreeSet<u32>>> {
    let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for p in paths {
        let (h, rows) = output::read_csv(p).map_err(anyhow::Error::msg)?;
        let names: Vec<&str> = h.iter().collect();
        if names != crate::generate::ISSUED_HEADER {
            bail!("{} is not an issued.csv (header {:?})", p.display(), names);
        }
        for (i, r) in rows.iter().enumerate() {
            let unit = output::unneutralise(r.get(2).unwrap_or("")).to_string();
            let serial: u32 = r
                .get(3)
                .unwrap_or("")
                .parse()
                .with_context(|| format!("{}:{}: bad serial", p.display(), i + 2))?;
            out.entry(unit).or_default().insert(serial);
        }
    }
    Ok(out)
}

/// `1-5,8,10-12`: serials as compact ranges.
pub fn ranges(serials: &BTreeSet<u32>) -> String {
    let mut parts = Vec::new();
    let mut iter = serials.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            format!("{start}")
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconciliation {
    pub issued: usize,
    pub returned: usize,
    pub missing: BTreeSet<u32>,
    pub not_issued: BTreeSet<u32>,
    pub duplicates: usize,
}

/// Per unit: what was issued, what came back, what is missing, what was never issued.
pub fn reconcile(
    records: &[PageRecord],
    issued: &BTreeMap<String, BTreeSet<u32>>,
) -> BTreeMap<String, Reconciliation> {
    let mut seen: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut dups: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        let Some(p) = &r.payload else { continue };
        if r.status == Status::Duplicate {
            *dups.entry(p.unit.clone()).or_default() += 1;
        }
        // A forged serial is not a returned ballot.
        if r.reasons.iter().any(|x| x == "bad_signature") {
            continue;
        }
        seen.entry(p.unit.clone()).or_default().insert(p.serial);
    }
    let units: BTreeSet<String> = issued.keys().chain(seen.keys()).cloned().collect();
    units
        .into_iter()
        .map(|u| {
            let empty = BTreeSet::new();
            let iss = issued.get(&u).unwrap_or(&empty);
            let got = seen.get(&u).unwrap_or(&empty);
            let rec = Reconciliation {
                issued: iss.len(),
                returned: got.intersection(iss).count(),
                missing: iss.difference(got).copied().collect(),
                not_issued: got.difference(iss).copied().collect(),
                duplicates: dups.get(&u).copied().unwrap_or(0),
            };
            (u, rec)
        })
        .collect()
}

pub const RECONCILIATION_HEADER: [&str; 10] = [
    "unit",
    "name",
    "issued",
    "returned",
    "return_rate",
    "missing",
    "missing_serials",
    "not_issued",
    "not_issued_serials",
    "duplicates",
];

pub fn reconciliation_csv(rec: &BTreeMap<String, Reconciliation>, registry: &Registry) -> CsvTable {
    let mut t = CsvTable::new(&RECONCILIATION_HEADER);
    let mut order: Vec<&String> = registry
        .units
        .iter()
        .filter_map(|u| rec.get_key_value(&u.code).map(|(k, _)| k))
        .collect();
    order.extend(rec.keys().filter(|k| registry.get(k).is_none()));
    for u in order {
        let r = &rec[u];
        t.row([
            u.clone(),
            registry
                .get(u)
                .map_or("(not in the units registry)".into(), |x| x.name.clone()),
            r.issued.to_string(),
            r.returned.to_string(),
            crate::tally::percent(r.returned as u64, r.issued as u64),
            r.missing.len().to_string(),
            ranges(&r.missing),
            r.not_issued.len().to_string(),
            ranges(&r.not_issued),
            r.duplicates.to_string(),
        ]);
    }
    t
}

/// What `ballotscan tally` needs.
pub struct TallyRequest<'a> {
    pub scan_dirs: &'a [PathBuf],
    pub decisions: &'a [PathBuf],
    pub issued: &'a [PathBuf],
    /// Units registry overriding the scans' own.
    pub units: Option<&'a Path>,
    pub out: &'a Path,
    /// Satisfaction rate (percent) below which the report highlights a unit.
    pub threshold: f64,
    /// Rated answers a unit needs before the report ranks or flags it.
    pub min_answers: u64,
    /// Refuse to write anything while ballots still wait for review.
    pub final_only: bool,
    /// The report's language; `None` for the language the (first) scan spoke.
    pub lang: Option<Lang>,
    /// Issuing agency for the report's letterhead.
    pub agency: Option<&'a str>,
    /// Survey period as the clerk writes it.
    pub period: Option<&'a str>,
    /// The report's date; `None` for today.
    pub date: Option<crate::printable::Date>,
}

pub struct TallyReport {
    pub pages: usize,
    pub decisions_applied: usize,
    pub by_status: BTreeMap<Status, usize>,
    /// Ballots still waiting for review: while above 0 the results are provisional.
    pub pending: u64,
    /// The language the report was written in (and the console speaks).
    pub lang: Lang,
    pub comments: usize,
}

/// Re-tallies one or more scan folders with the auditors' decisions: the final result.
pub fn tally(req: &TallyRequest) -> anyhow::Result<TallyReport> {
    use crate::report::{self, ScanSettings};
    // Every scan folder is found before the results folder is touched: a mistyped name
    // writes nothing, not even a lock file.
    let mut scan_dirs = Vec::new();
    for d in req.scan_dirs {
        let dir = match crate::results::canonical(d) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "the scan folder {} does not exist: give the --out folder of `ballotscan scan`",
                d.display()
            ),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                    "cannot open the scan folder {}: give the --out folder of `ballotscan scan`",
                    d.display()
                )
                })
            }
        };
        scan_dirs.push((d, dir));
    }
    let out = crate::results::ResultsFolder::begin(req.out)?;
    let mut locks = Vec::new();
    for (d, dir) in scan_dirs {
        if dir.starts_with(out.path()) || out.path().starts_with(&dir) {
            bail!(
                "--out {} is, holds or lies inside the scan folder {}: write the tally elsewhere",
                req.out.display(),
                d.display()
            );
        }
        locks.push(crate::results::lock_for_reading(d)?);
    }
    let mut forms: Vec<Form> = Vec::new();
    let mut registry = None;
    let mut records = Vec::new();
    let mut scan_lang = None;
    for dir in req.scan_dirs {
        let settings = ScanSettings::load(dir)?;
        scan_lang.get_or_insert(settings.lang);
        for f in settings.forms()? {
            if !forms.iter().any(|g| g.id == f.id && g.version == f.version) {
                forms.push(f);
            }
        }
        if registry.is_none() {
            registry = Some(settings.registry()?);
        }
        records.extend(load_scan(dir)?);
    }
    let registry = match req.units {
        Some(p) => Registry::load(p)?,
        None => registry.unwrap_or_else(Registry::default_units),
    };
    // Streamed: only one decision per page and question is kept, never the files.
    let mut check = DecisionCheck::new(&records);
    for p in req.decisions {
        read_decisions(p, |d| check.add(&records, &forms, d))?;
    }
    let trail = check.apply(&mut records, &forms)?;
    let lang = req.lang.or(scan_lang).unwrap_or_default();
    // Review status covers undecided duplicate conflicts too (every copy waits in review).
    let pending = records
        .iter()
        .filter(|r| r.status == Status::Review)
        .count() as u64;
    if req.final_only && pending > 0 {
        // Dropping `out` removes the staging folder: nothing is written.
        bail!(text(lang, "tally.not_final", &[("n", &pending)]));
    }
    let dir = out.staging();
    let comments = copy_comments(req.scan_dirs, &dir.join("comments"))?;
    let ballots = report::tally_ballots(&records);
    let mut reconciliation_bytes = None;
    let returns = if req.issued.is_empty() {
        None
    } else {
        let issued = load_issued(req.issued)?;
        let rec = reconcile(&records, &issued);
        let bytes = reconciliation_csv(&rec, &registry).into_bytes();
        output::write_atomic(&dir.join("reconciliation.csv"), &bytes)?;
        reconciliation_bytes = Some(bytes);
        Some(
            rec.iter()
                .map(|(u, r)| (u.clone(), (r.issued as u64, r.returned as u64)))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    report::ballots_csv(&records).write(&dir.join("ballots.csv"))?;
    report::answers_csv(&records).write(&dir.join("answers.csv"))?;
    let tally = crate::tally::Tally::of(&ballots, &forms, &registry);
    let tallies_bytes = tally.tallies_table(&forms, &registry, lang).into_bytes();
    output::write_atomic(&dir.join("tallies.csv"), &tallies_bytes)?;
    let summary = tally.summary(&forms, &registry, returns.as_ref());
    crate::tally::summary_table(&summary).write(&dir.join("summary.csv"))?;
    let trail_bytes = trail_csv(&trail).into_bytes();
    output::write_atomic(&dir.join("audit-trail.csv"), &trail_bytes)?;
    let totals = tally.totals();
    let info = crate::printable::ReportInfo {
        lang,
        agency: req.agency.unwrap_or_default(),
        period: req.period.unwrap_or_default(),
        date: req.date.unwrap_or_else(crate::printable::Date::today),
        threshold: req.threshold,
        min_answers: req.min_answers,
        pending,
        forms: &forms,
        totals: &totals,
        comments: &comments,
    };
    output::write_atomic(
        &dir.join("report.html"),
        crate::printable::report_html(&summary, &info).as_bytes(),
    )?;
    output::write_atomic(
        &dir.join("report.pdf"),
        &crate::report_pdf::report_pdf(&summary, &info)?,
    )?;
    let chart = crate::printable::satisfaction_chart(&summary, req.threshold, lang);
    let mut png = Vec::new();
    chart.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    output::write_atomic(&dir.join("satisfaction.png"), &png)?;
    let xlsx = crate::workbook::ketqua_xlsx(&crate::workbook::WorkbookInput {
        info: &info,
        summary: &summary,
        registry: &registry,
        tallies_csv: &tallies_bytes,
        reconciliation_csv: reconciliation_bytes.as_deref(),
        trail_csv: &trail_bytes,
    })?;
    output::write_atomic(&dir.join("ketqua.xlsx"), &xlsx)?;
    out.commit()?;
    drop(locks);
    let mut by_status = BTreeMap::new();
    for r in &records {
        *by_status.entry(r.status).or_default() += 1;
    }
    Ok(TallyReport {
        pages: records.len(),
        decisions_applied: trail.len(),
        by_status,
        pending,
        lang,
        comments: comments.len(),
    })
}

/// Copies the written comment areas of every scan folder (`comments/<unit>-<serial>-<question>.png`)
/// into the results, so the report shows them without reaching back into the scan folders.
fn copy_comments(
    scan_dirs: &[PathBuf],
    to: &Path,
) -> anyhow::Result<Vec<crate::printable::Comment>> {
    let mut out = Vec::new();
    for dir in scan_dirs {
        let Ok(entries) = std::fs::read_dir(dir.join("comments")) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let Some(stem) = name.strip_suffix(".png") else {
                continue;
            };
            // The unit code may itself hold '-', the serial and question never do.
            let mut parts = stem.rsplitn(3, '-');
            let (Some(question), Some(serial), Some(unit)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            std::fs::create_dir_all(to)
                .with_context(|| format!("cannot create {}", to.display()))?;
            let bytes = std::fs::read(dir.join("comments").join(&name))
                .with_context(|| format!("cannot read comments/{name} in {}", dir.display()))?;
            output::write_atomic(&to.join(&name), &bytes)?;
            out.push(crate::printable::Comment {
                unit: unit.to_string(),
                serial: serial.to_string(),
                question: question.to_string(),
                file: format!("comments/{name}"),
            });
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.file == b.file);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_compact() {
        let s: BTreeSet<u32> = [1, 2, 3, 5, 7, 8, 9, 12].into_iter().collect();
        assert_eq!(ranges(&s), "1-3,5,7-9,12");
        assert_eq!(ranges(&BTreeSet::new()), "");
    }
}
