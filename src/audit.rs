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
use crate::reason::Reason;
use crate::registry::Registry;
use crate::scan::PageRecord;

/// The columns the review page writes. A ballot is found by `form` + `version` + `unit` +
/// `serial` when its QR code was read (a rescan into another folder, renamed files and
/// another station's copy of the folder are still that ballot), else by `file_sha256` + `page`
/// (its file's content); `source` is kept for people and to tell apart two rows of one
/// ballot. Files without `version` (written before it) are read with any version; files with
/// only the identity columns of [`OLD_DECISIONS_HEADER`] are read as before: by `source` +
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
pub const TRAIL_HEADER: [&str; 9] = [
    "source", "page", "unit", "serial", "question", "before", "after", "auditor", "note",
];

/// Whole-ballot decisions use this in the `question` column.
pub const WHOLE_BALLOT: &str = "*";

/// The whole-ballot decision that keys a page the scanner could not read (see
/// [`Decision::Keyed`]).
pub const KEYED: &str = "KEYED";

/// Loads the pages of one scan folder from its `ballots.csv` and `answers.csv`.
pub fn load_scan(dir: &Path) -> anyhow::Result<Vec<PageRecord>> {
    let rows = crate::scan_files::read_ballots(dir)?;
    let mut records: Vec<PageRecord> = Vec::new();
    for (n, r) in rows.into_iter().enumerate() {
        let page: usize = r
            .page
            .parse()
            .with_context(|| format!("{}/ballots.csv:{}: bad page", dir.display(), n + 2))?;
        let status = Status::parse(&r.status)
            .with_context(|| format!("{}/ballots.csv:{}: bad status", dir.display(), n + 2))?;
        let payload = if r.unit.is_empty() {
            None
        } else {
            Some(Payload {
                form: r.form.clone(),
                version: r.version.parse().unwrap_or(0),
                unit: r.unit,
                serial: r.serial.parse().unwrap_or(0),
                signature: None,
            })
        };
        let form_key = payload.as_ref().map(|p| (r.form, p.version));
        let mut rec = PageRecord::new(&r.source, page);
        rec.status = status;
        rec.reasons = Reason::parse_list(&r.reasons).with_context(|| {
            format!(
                "{}/ballots.csv:{}: bad reasons (written by a newer ballotscan?)",
                dir.display(),
                n + 2
            )
        })?;
        rec.detail = r.detail;
        rec.payload = payload;
        rec.form = form_key;
        rec.min_margin = r.min_margin.parse().ok();
        // Kept so that a tally reproduces the scan's rows (formatted alike, they print alike).
        rec.rotation_deg = r.rotation_deg.parse().ok();
        rec.fit_error_mm = r.fit_error_mm.parse().ok();
        rec.fiducials_found = r.fiducials.parse().ok();
        rec.file_sha256 = r.file_sha256;
        rec.duplicate_of = (!r.duplicate_of.is_empty()).then_some(r.duplicate_of);
        records.push(rec);
    }
    let answers = crate::scan_files::read_answers(dir)?;
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
    for (n, r) in answers.into_iter().enumerate() {
        let key = (r.source, r.page.parse().unwrap_or(0));
        let question = r.question;
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
        let answer = Answer::from_text(&r.answer);
        let boxes = boxes_read(&r.states, &r.scores);
        let review_reason = (answer == Answer::Review).then(|| recorded_review_reason(&boxes));
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
/// Why a scan sent a question to review, from its recorded boxes: a box between the
/// thresholds, or else several marks that `ballot::decide_question` would not void as
/// `MULTI` (a solid box beside another mark, or weak marks on a shaded row) — decided again
/// by the same rule on the same fills and states, so a replay gives the scan's reason.
fn recorded_review_reason(boxes: &[BoxRead]) -> Reason {
    if boxes.is_empty() || boxes.iter().any(|b| b.state == MarkState::Ambiguous) {
        return Reason::AmbiguousMark;
    }
    // Only a single-choice question goes to review without an ambiguous box.
    match ballot::decide_question(crate::form::QuestionKind::Single, boxes) {
        (Answer::Review, Some(reason)) => reason,
        _ => Reason::PossibleCorrection,
    }
}

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
            let state = [MarkState::Empty, MarkState::Ambiguous, MarkState::Marked]
                .into_iter()
                .find(|s| s.as_str() == *state)?;
            Some(BoxRead {
                option: option.to_string(),
                state,
                score: BoxScore::as_recorded(Fill(fill.parse().ok()?)),
            })
        })
        .collect();
    boxes.unwrap_or_default()
}

/// One row of a decisions file, as written: [`DecisionCheck::add`] checks it against the
/// ballot it names and turns its `decision` text into a [`Decision`].
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRow {
    pub source: String,
    pub page: usize,
    /// Empty in files of the old format, and for hand-written rows that name the ballot by
    /// `source` + `page` only.
    pub file_sha256: String,
    pub form: String,
    /// Empty in files written before the column existed: any version.
    pub version: String,
    pub unit: String,
    pub serial: String,
    pub question: String,
    /// An option id (or ids joined by `;`), BLANK or MULTI for a question; ACCEPT or REJECT
    /// for the whole ballot (see [`Decision`]).
    pub decision: String,
    pub auditor: String,
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
    pub fn parse(question: &str, text: &str) -> Result<Decision, String> {
        if question == WHOLE_BALLOT {
            return match text {
                "ACCEPT" => Ok(Decision::Accept),
                "REJECT" => Ok(Decision::Reject),
                KEYED => Ok(Decision::Keyed),
                _ => Err(format!(
                    "a whole-ballot decision is ACCEPT, REJECT or KEYED, not {text:?}"
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

/// Whether decisions on a page's answers can still change it: the one rule for the audit
/// (which refuses such decisions elsewhere and re-decides only these pages) and the review
/// page (which offers answers only here). A rejected page or a copy of a file already read
/// stays what it is; only a whole-ballot verdict applies to it — or, for a page that could not
/// be read as a ballot ([`can_be_keyed`]), keying it by hand as a whole (`KEYED`).
pub fn answers_open_to_decisions(r: &PageRecord) -> bool {
    r.status != Status::Rejected && !r.reasons.contains(&Reason::DuplicateFile)
}

/// Whether a page waits for a person: the one rule for "cần kiểm tra" on the scan's console,
/// the provisional report and `tally --final` (the pages still pending), and the review page
/// (its "to decide" count, kept apart from pages listed only for information: a counted
/// ballot with a `multi_mark` note, a blank ballot, a copy, a rejected file). Status `review`
/// covers undecided photocopies (`duplicate_conflict`: every copy waits in review).
pub fn waiting_for_decision(r: &PageRecord) -> bool {
    r.status.waits_for_decision()
}

/// Reads a decisions file whole (see [`read_decisions`], which `tally` uses to stream it).
pub fn load_decisions(path: &Path) -> anyhow::Result<Vec<DecisionRow>> {
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
    mut each: impl FnMut(DecisionRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the decisions file {}", path.display()))?;
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
        .map_err(|e| anyhow::anyhow!("{}: bad header: {e}", path.display()))?
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
        each(DecisionRow {
            page: typed("page")
                .parse()
                .with_context(|| format!("{origin}: bad page number"))?,
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
    fn find(&self, records: &[PageRecord], d: &DecisionRow) -> anyhow::Result<Option<usize>> {
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
                            let p = records[i].payload.as_ref();
                            (d.form.is_empty() || p.is_some_and(|p| p.form == d.form))
                                && (d.version.is_empty()
                                    || p.is_some_and(|p| p.version.to_string() == d.version))
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
            &|r| !r.reasons.contains(&Reason::DuplicateFile),
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
    decisions: &[DecisionRow],
    forms: &[Form],
    registry: &Registry,
    lang: Lang,
) -> anyhow::Result<Vec<TrailEntry>> {
    let mut check = DecisionCheck::new(records, registry, lang);
    for d in decisions {
        check.add(records, forms, d.clone())?;
    }
    Ok(check.apply(records, forms)?.trail)
}

/// Decisions checked one at a time against the pages (nothing applied yet): what each one
/// decides, one per page and question, and the decisions that match no page.
pub struct DecisionCheck {
    index: BallotIndex,
    chosen: BTreeMap<(usize, String), (DecisionRow, Decision)>,
    /// Pages keyed by hand, by their row: checked as a whole in [`DecisionCheck::apply`],
    /// once every row is in (a hand-written file may put the answers before the `KEYED` row).
    keying: BTreeMap<usize, Keying>,
    unmatched: Vec<String>,
    /// Keyed units are checked against it ("did you mean …").
    registry: Registry,
    /// The language of the messages about keyed pages.
    lang: Lang,
}

/// The rows that key one page by hand: its `KEYED` row and its answers by question.
#[derive(Default)]
struct Keying {
    keyed: Option<DecisionRow>,
    answers: BTreeMap<String, (DecisionRow, Decision)>,
}

/// A keyed page, checked and ready to apply.
struct KeyedBallot {
    page: usize,
    payload: Payload,
    questions: Vec<QuestionRead>,
    auditor: String,
    trail: Vec<TrailEntry>,
}

/// Decisions applied: the audit trail, and the pages keyed by hand (their rows in the
/// records, in order).
pub struct Applied {
    pub trail: Vec<TrailEntry>,
    pub keyed: Vec<usize>,
}

/// Where a decision row goes: to a page keyed by hand, to the ordinary checks, or nowhere.
enum Route {
    Keyed(usize),
    Ordinary,
    Unmatched,
}

/// How many decisions that match no page are named in the error (all are counted).
const UNMATCHED_LISTED: usize = 20;

/// Serials are printed with at least six digits and read with at most nine (see
/// `payload::SERIAL_DIGITS`): an auditor keys the number as printed, leading zeros or not.
const MAX_KEYED_SERIAL_DIGITS: usize = 9;

/// A decision that matches no page, as the error lists it.
fn unmatched_text(d: &DecisionRow) -> String {
    format!(
        "{}: {}",
        d.origin,
        if d.by_identity && !d.unit.is_empty() {
            let form = if d.version.is_empty() {
                d.form.clone()
            } else {
                format!("{} v{}", d.form, d.version)
            };
            format!(
                "ballot {} {} of form {form} (decided on {}#{})",
                d.unit, d.serial, d.source, d.page
            )
        } else {
            format!("{}#{}", d.source, d.page)
        }
    )
}

/// Whether an auditor may key this page by hand: the scanner rejected it only because it
/// could not read it as a ballot (see [`Reason::can_be_keyed`]).
pub fn can_be_keyed(r: &PageRecord) -> bool {
    r.status == Status::Rejected
        && !r.reasons.is_empty()
        && r.reasons.iter().all(|x| x.can_be_keyed())
}

/// The options of a question's decision must be the question's own (one for a
/// single-choice question), and the question one with boxes.
fn check_question_decision(
    form: &Form,
    question: &str,
    decision: &Decision,
    origin: &str,
) -> anyhow::Result<()> {
    let q = form
        .question(question)
        .with_context(|| format!("{origin}: form {} has no question {question:?}", form.id))?;
    if !q.is_choice() {
        bail!(
            "{origin}: question {} is a comment area, read by a person and never counted: decisions apply to questions with boxes",
            q.id
        );
    }
    if let Decision::Options(ids) = decision {
        if ids.len() > 1 && q.kind == crate::form::QuestionKind::Single {
            bail!(
                "{origin}: question {} takes one option; use MULTI for an over-marked answer",
                q.id
            );
        }
        for id in ids {
            if !q.options.iter().any(|o| &o.id == id) {
                bail!(
                    "{origin}: question {} has no option {id:?} (options: {}, or BLANK, MULTI)",
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
    Ok(())
}

impl DecisionCheck {
    /// `registry` is the one the tally uses (keyed units are checked against it); `lang` the
    /// language of the errors about keyed pages.
    pub fn new(records: &[PageRecord], registry: &Registry, lang: Lang) -> DecisionCheck {
        DecisionCheck {
            index: BallotIndex::new(records),
            chosen: BTreeMap::new(),
            keying: BTreeMap::new(),
            unmatched: Vec::new(),
            registry: registry.clone(),
            lang,
        }
    }

    /// Checks one decision; an error stops the tally (nothing is applied).
    pub fn add(
        &mut self,
        records: &[PageRecord],
        forms: &[Form],
        d: DecisionRow,
    ) -> anyhow::Result<()> {
        match self.route(records, &d)? {
            Route::Keyed(i) => return self.add_keyed(records, i, d),
            Route::Unmatched => {
                self.unmatched.push(unmatched_text(&d));
                return Ok(());
            }
            Route::Ordinary => {}
        }
        let Some(i) = self.index.find(records, &d)? else {
            // Listed together at the end, so the auditor sees every one at once.
            self.unmatched.push(unmatched_text(&d));
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
        let copy_of_file = r.reasons.contains(&Reason::DuplicateFile);
        let whole = d.question == WHOLE_BALLOT;
        // Not refused yet: the checks below come first, in this order, as they always did.
        let decision = Decision::parse(&d.question, &d.decision);
        if decision == Ok(Decision::Accept) && rejected {
            bail!(
                "{}: {}#{} was rejected by the scanner ({}): it cannot be accepted as read; scan the sheet again",
                d.origin,
                d.source,
                d.page,
                Reason::join(&r.reasons, ";")
            );
        }
        if !whole && !answers_open_to_decisions(r) {
            bail!(
                "{}: {}#{} is {}: its answers are not counted, so they cannot be decided (only ACCEPT or REJECT{})",
                d.origin,
                d.source,
                d.page,
                if rejected { "rejected" } else { "a copy of a file already read" },
                if copy_of_file {
                    "; decide the first copy's answers"
                } else if can_be_keyed(r) {
                    "; or key the ballot by hand: a KEYED row and its answers, naming the page by file_sha256 and page"
                } else {
                    ""
                }
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
        let decision = decision.map_err(|e| anyhow::anyhow!("{}: {e}", d.origin))?;
        if !whole {
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
            check_question_decision(form, &d.question, &decision, &d.origin)?;
        }
        match chosen.get(&(i, d.question.clone())) {
            Some((prev, prev_decision)) if *prev_decision != decision => {
                bail!(
                "{} and {} decide {}#{} question {} differently ({} vs {}): settle it and keep one",
                prev.origin, d.origin, d.source, d.page, d.question, prev.decision, d.decision
            )
            }
            _ => {
                chosen.insert((i, d.question.clone()), (d, decision));
            }
        }

        Ok(())
    }

    /// Where a row goes. A `KEYED` row, and an answer for a page that can be keyed (found by
    /// its content: its QR code was not read), key that page by hand; any other row is an
    /// ordinary decision. A `KEYED` row for a page that was read, or that cannot be keyed, is
    /// refused with what to do instead.
    fn route(&self, records: &[PageRecord], d: &DecisionRow) -> anyhow::Result<Route> {
        let keyed_row = d.question == WHOLE_BALLOT && d.decision == KEYED;
        if d.question == WHOLE_BALLOT && !keyed_row {
            return Ok(Route::Ordinary);
        }
        let lang = self.lang;
        let same_content: Vec<usize> = if d.by_identity && !d.file_sha256.is_empty() {
            self.index
                .by_content
                .get(&(d.file_sha256.clone(), d.page))
                .cloned()
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        // Of several pages with this content (the same file at two stations), the one with
        // the row's name, else the first: any other is a copy of its file, never counted.
        let named = |c: &[usize]| -> Option<usize> {
            c.iter()
                .copied()
                .find(|&i| records[i].source == d.source)
                .or_else(|| c.first().copied())
        };
        let keyable: Vec<usize> = same_content
            .iter()
            .copied()
            .filter(|&i| can_be_keyed(&records[i]))
            .collect();
        if let Some(i) = named(&keyable) {
            return Ok(Route::Keyed(i));
        }
        if !keyed_row {
            return Ok(Route::Ordinary);
        }
        if !d.by_identity || d.file_sha256.is_empty() {
            bail!(text(lang, "keyed.needs_content", &[("origin", &d.origin)]));
        }
        let Some(i) = named(&same_content) else {
            return Ok(Route::Unmatched);
        };
        let r = &records[i];
        if r.status == Status::Rejected {
            bail!(text(
                lang,
                "keyed.not_keyable",
                &[
                    ("origin", &d.origin),
                    ("page", &r.page_ref()),
                    ("reasons", &Reason::join(&r.reasons, ";")),
                ]
            ));
        }
        let ballot = r
            .payload
            .as_ref()
            .map_or(String::new(), |p| format!("{} {}", p.unit, p.serial_text()));
        bail!(text(
            lang,
            "keyed.not_unreadable",
            &[
                ("origin", &d.origin),
                ("page", &r.page_ref()),
                ("status", &r.status.as_str()),
                ("ballot", &ballot),
            ]
        ))
    }

    /// Takes one row keying page `i`: its `KEYED` row or one of its answers. Two rows that
    /// key the same thing differently are refused here; the page as a whole is checked in
    /// [`DecisionCheck::apply`].
    fn add_keyed(
        &mut self,
        records: &[PageRecord],
        i: usize,
        d: DecisionRow,
    ) -> anyhow::Result<()> {
        if d.auditor.is_empty() {
            bail!(
                "{}: no auditor: every decision names who made it (fill in the auditor column)",
                d.origin
            );
        }
        let page = records[i].page_ref();
        let k = self.keying.entry(i).or_default();
        if d.question == WHOLE_BALLOT {
            let identity = |x: &DecisionRow| {
                (
                    x.form.clone(),
                    x.version.clone(),
                    x.unit.clone(),
                    x.serial.clone(),
                )
            };
            match &k.keyed {
                Some(prev) if identity(prev) != identity(&d) => bail!(text(
                    self.lang,
                    "keyed.twice",
                    &[
                        ("first", &prev.origin),
                        ("second", &d.origin),
                        ("page", &page),
                    ]
                )),
                Some(_) => {}
                None => k.keyed = Some(d),
            }
            return Ok(());
        }
        let decision = Decision::parse(&d.question, &d.decision)
            .map_err(|e| anyhow::anyhow!("{}: {e}", d.origin))?;
        match k.answers.get(&d.question) {
            Some((prev, prev_decision)) if *prev_decision != decision => bail!(
                "{} and {} decide {page} question {} differently ({} vs {}): settle it and keep one",
                prev.origin,
                d.origin,
                d.question,
                prev.decision,
                d.decision
            ),
            Some(_) => {}
            None => {
                k.answers.insert(d.question.clone(), (d, decision));
            }
        }
        Ok(())
    }

    /// The form a `KEYED` row names: its `form` and `version`, either left empty when the
    /// scan folders hold only one.
    fn keyed_form<'f>(&self, row: &DecisionRow, forms: &'f [Form]) -> anyhow::Result<&'f Form> {
        let lang = self.lang;
        let all = forms
            .iter()
            .map(|f| format!("{} v{}", f.id, f.version))
            .collect::<Vec<_>>()
            .join(", ");
        let ids: BTreeSet<&str> = forms.iter().map(|f| f.id.as_str()).collect();
        let which = || {
            text(
                lang,
                "keyed.which_form",
                &[("origin", &row.origin), ("forms", &all)],
            )
        };
        let id = match (row.form.as_str(), ids.len()) {
            ("", 1) => ids.iter().next().copied().unwrap_or_default(),
            ("", _) => bail!(which()),
            (id, _) => id,
        };
        let versions: Vec<&Form> = forms.iter().filter(|f| f.id == id).collect();
        let unknown = || {
            text(
                lang,
                "keyed.unknown_form",
                &[
                    ("origin", &row.origin),
                    ("form", &id),
                    ("version", &row.version),
                    ("forms", &all),
                ],
            )
        };
        match (row.version.as_str(), versions.as_slice()) {
            (_, []) => bail!(unknown()),
            ("", [only]) => Ok(only),
            ("", _) => bail!(which()),
            (v, _) => versions
                .iter()
                .copied()
                .find(|f| v.parse::<u32>().ok() == Some(f.version))
                .with_context(unknown),
        }
    }

    /// Checks every keyed page as a whole before anything is applied: its form, unit (against
    /// the registry), serial, the QR code where one was read, and an answer for every
    /// question with boxes, each an option of its question.
    fn check_keyed(
        &self,
        records: &[PageRecord],
        forms: &[Form],
    ) -> anyhow::Result<Vec<KeyedBallot>> {
        let lang = self.lang;
        let mut out = Vec::new();
        for (&i, k) in &self.keying {
            let r = &records[i];
            let page = r.page_ref();
            let Some(row) = &k.keyed else {
                let origin = k
                    .answers
                    .values()
                    .map(|(d, _)| d.origin.as_str())
                    .next()
                    .unwrap_or_default();
                bail!(text(
                    lang,
                    "keyed.no_keyed_row",
                    &[
                        ("origin", &origin),
                        ("page", &page),
                        ("reasons", &Reason::join(&r.reasons, ";")),
                    ]
                ));
            };
            let origin = row.origin.as_str();
            if let Some((prev, _)) = self.chosen.get(&(i, WHOLE_BALLOT.to_string())) {
                bail!(text(
                    lang,
                    "keyed.and_verdict",
                    &[
                        ("origin", &origin),
                        ("other", &prev.origin),
                        ("page", &page),
                        ("verdict", &prev.decision),
                    ]
                ));
            }
            let form = self.keyed_form(row, forms)?;
            let unit = self
                .registry
                .require(&row.unit, lang)
                .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
            let serial = Some(row.serial.as_str())
                .filter(|s| {
                    (1..=MAX_KEYED_SERIAL_DIGITS).contains(&s.len())
                        && s.bytes().all(|b| b.is_ascii_digit())
                })
                .and_then(|s| s.parse::<u32>().ok())
                .with_context(|| {
                    text(
                        lang,
                        "keyed.bad_serial",
                        &[("origin", &origin), ("serial", &row.serial)],
                    )
                })?;
            let payload = Payload::new(&form.id, form.version, &unit.code, serial);
            let ballot = format!("{} {}", payload.unit, payload.serial_text());
            if let Some(read) = &r.payload {
                if (read.unit.as_str(), read.serial) != (payload.unit.as_str(), serial) {
                    bail!(text(
                        lang,
                        "keyed.qr_differs",
                        &[
                            ("origin", &origin),
                            ("page", &page),
                            ("qr", &format!("{} {}", read.unit, read.serial_text())),
                            ("keyed", &ballot),
                        ]
                    ));
                }
            }
            for (q, (d, decision)) in &k.answers {
                check_question_decision(form, q, decision, &d.origin)?;
            }
            let missing: Vec<&str> = form
                .questions
                .iter()
                .filter(|q| q.is_choice() && !k.answers.contains_key(&q.id))
                .map(|q| q.id.as_str())
                .collect();
            if !missing.is_empty() {
                bail!(text(
                    lang,
                    "keyed.missing_answers",
                    &[
                        ("origin", &origin),
                        ("page", &page),
                        ("ballot", &ballot),
                        ("questions", &missing.join(", ")),
                    ]
                ));
            }
            let entry = |question: &str, after: String, d: &DecisionRow| TrailEntry {
                source: r.source.clone(),
                page: r.page,
                unit: payload.unit.clone(),
                serial: payload.serial_text(),
                question: question.to_string(),
                before: String::new(),
                after,
                auditor: d.auditor.clone(),
                note: d.note.clone(),
            };
            let mut trail = vec![TrailEntry {
                before: r.status.as_str().to_string(),
                ..entry(WHOLE_BALLOT, Decision::Keyed.to_string(), row)
            }];
            let mut questions = Vec::new();
            // In form order, as a scan lists a page's answers.
            for q in form.questions.iter().filter(|q| q.is_choice()) {
                let Some((d, decision)) = k.answers.get(&q.id) else {
                    continue;
                };
                trail.push(entry(&q.id, decision.to_string(), d));
                if let Some(answer) = decision.answer() {
                    questions.push(QuestionRead {
                        question: q.id.clone(),
                        answer,
                        boxes: Vec::new(),
                        review_reason: None,
                    });
                }
            }
            out.push(KeyedBallot {
                page: i,
                payload,
                questions,
                auditor: row.auditor.clone(),
                trail,
            });
        }
        Ok(out)
    }

    /// Applies the checked decisions: every one matched a page, or none is applied.
    pub fn apply(self, records: &mut [PageRecord], forms: &[Form]) -> anyhow::Result<Applied> {
        let lang = self.lang;
        if !self.unmatched.is_empty() {
            let n = self.unmatched.len();
            bail!(
                "{n} decision{} name{} no ballot in the scan folders given (made on other scans, or on ballots since removed): add the scan folder that holds these ballots to the tally, or delete these rows from the decisions file:\n  {}{}",
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
        let keyed = self.check_keyed(records, forms)?;
        let chosen = self.chosen;
        refuse_rejecting_one_of_identical_copies(records, &chosen)?;
        // By page and question, keyed pages among the others.
        let mut trail: Vec<((usize, String), TrailEntry)> = Vec::new();
        let mut accepted = BTreeSet::new();
        let mut rejected = BTreeSet::new();
        for ((i, q), (d, decision)) in &chosen {
            let r = &mut records[*i];
            let (unit, serial) = r
                .payload
                .as_ref()
                .map_or((String::new(), String::new()), |p| {
                    (p.unit.clone(), p.serial_text())
                });
            let before;
            match decision.answer() {
                None => {
                    before = r.status.as_str().to_string();
                    if *decision == Decision::Reject {
                        rejected.insert(*i);
                    } else {
                        accepted.insert(*i);
                    }
                }
                Some(answer) => match r.questions.iter_mut().find(|x| &x.question == q) {
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
                },
            }
            let entry = TrailEntry {
                source: r.source.clone(),
                page: r.page,
                unit,
                serial,
                question: q.clone(),
                before,
                after: decision.to_string(),
                auditor: d.auditor.clone(),
                note: d.note.clone(),
            };
            trail.push(((*i, q.clone()), entry));
        }
        let mut keyed_pages = Vec::new();
        let mut keyed_by = Vec::new();
        for k in keyed {
            let r = &mut records[k.page];
            r.status = Status::Keyed;
            r.form = Some((k.payload.form.clone(), k.payload.version));
            r.payload = Some(k.payload);
            r.questions = k.questions;
            r.detail = text(lang, "keyed.detail", &[("auditor", &k.auditor)]);
            r.duplicate_of = None;
            for e in k.trail {
                trail.push(((k.page, e.question.clone()), e));
            }
            keyed_pages.push(k.page);
            keyed_by.push(k.auditor);
        }
        trail.sort_by(|a, b| a.0.cmp(&b.0));
        redecide(records, forms, &accepted, &rejected, lang);
        // A keyed serial already returned says so, in the scan's language.
        for (&i, auditor) in keyed_pages.iter().zip(&keyed_by) {
            let r = &mut records[i];
            let (Some(first), Some(p)) = (&r.duplicate_of, &r.payload) else {
                continue;
            };
            if r.status == Status::Duplicate && r.reasons.contains(&Reason::Duplicate) {
                r.detail = text(
                    lang,
                    "keyed.detail_duplicate",
                    &[
                        ("auditor", auditor),
                        ("unit", &p.unit),
                        ("serial", &p.serial_text()),
                        ("first", first),
                    ],
                );
            }
        }
        Ok(Applied {
            trail: trail.into_iter().map(|(_, e)| e).collect(),
            keyed: keyed_pages,
        })
    }
}

/// A REJECT of a ballot that was also read elsewhere with the same answers (a rescan, the
/// same file twice) would let that copy be counted in its place, leaving the tally as it
/// was: the copies must be rejected too. (Copies with different answers, a photocopy, are
/// what rejecting one copy is for.)
fn refuse_rejecting_one_of_identical_copies(
    records: &[PageRecord],
    chosen: &BTreeMap<(usize, String), (DecisionRow, Decision)>,
) -> anyhow::Result<()> {
    let rejected: BTreeSet<usize> = chosen
        .iter()
        .filter(|(_, (_, decision))| *decision == Decision::Reject)
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
        let (r, (d, _)) = (&records[i], &chosen[&(i, WHOLE_BALLOT.to_string())]);
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
    lang: Lang,
) {
    let keyed: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].status == Status::Keyed)
        .collect();
    for (i, r) in records.iter_mut().enumerate() {
        // Decided below, once the pages that were read are settled.
        if r.status == Status::Keyed {
            continue;
        }
        if rejected.contains(&i) {
            r.status = Status::Rejected;
            r.reasons = vec![Reason::AuditorRejected];
            continue;
        }
        let readable = answers_open_to_decisions(r);
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
        let poor = keep_flags && r.reasons.contains(&Reason::PoorAlignment);
        let unknown = keep_flags && r.reasons.contains(&Reason::UnknownUnit);
        let (status, reasons) = ballot::decide_ballot(form, &r.questions, poor, unknown);
        r.status = status;
        r.reasons = reasons;
        r.duplicate_of = None;
    }
    crate::duplicates::mark_duplicates(records, lang);
    decide_keyed(records, forms, &keyed);
}

/// Keyed pages (`keyed`, in page order), once the pages that were read are settled. A serial
/// that another page returned — read, in review or invalid, or keyed on an earlier page — is
/// a `duplicate`: never counted twice, whatever the answers. Otherwise the keyed answers
/// decide as a read ballot's would: `keyed` where it would be counted, `invalid` where it
/// would be (a blank ballot). The reason the scanner gave (`no_qr`…) stays first.
fn decide_keyed(records: &mut [PageRecord], forms: &[Form], keyed: &[usize]) {
    let keyed_set: BTreeSet<usize> = keyed.iter().copied().collect();
    let mut returned: BTreeMap<(String, u32), usize> = BTreeMap::new();
    for (j, r) in records.iter().enumerate() {
        let Some(p) = &r.payload else { continue };
        if keyed_set.contains(&j) || matches!(r.status, Status::Rejected | Status::Duplicate) {
            continue;
        }
        returned.entry((p.unit.clone(), p.serial)).or_insert(j);
    }
    for &i in keyed {
        let r = &records[i];
        // A copy of a file already read stays what `mark_duplicates` made it.
        if r.status != Status::Keyed {
            continue;
        }
        let Some(p) = &r.payload else { continue };
        let key = (p.unit.clone(), p.serial);
        let first = returned.get(&key).map(|&j| records[j].page_ref());
        let form = r
            .form
            .as_ref()
            .and_then(|(id, v)| forms.iter().find(|f| &f.id == id && f.version == *v));
        let r = &mut records[i];
        let mut reasons: Vec<Reason> = r
            .reasons
            .iter()
            .copied()
            .filter(|x| x.can_be_keyed())
            .collect();
        if let Some(first) = first {
            reasons.push(Reason::Duplicate);
            r.status = Status::Duplicate;
            r.reasons = reasons;
            r.duplicate_of = Some(first);
            continue;
        }
        returned.insert(key, i);
        let Some(form) = form else { continue };
        let (status, more) = ballot::decide_ballot(form, &r.questions, false, false);
        reasons.extend(more);
        r.status = if status.is_counted() {
            Status::Keyed
        } else {
            status
        };
        r.reasons = reasons;
    }
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

/// Rejects every ballot whose unit and serial were voided (`ballotscan void`), whatever it
/// was read or decided as: a voided serial is never counted. Returns how many were rejected.
pub fn reject_voided(
    records: &mut [PageRecord],
    voided: &BTreeMap<String, BTreeSet<u32>>,
) -> usize {
    let mut n = 0;
    for r in records.iter_mut() {
        let Some(p) = &r.payload else { continue };
        if !voided.get(&p.unit).is_some_and(|s| s.contains(&p.serial)) {
            continue;
        }
        r.status = Status::Rejected;
        if !r.reasons.contains(&Reason::VoidedSerial) {
            r.reasons.push(Reason::VoidedSerial);
        }
        n += 1;
    }
    n
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
    /// Issued serials voided with `ballotscan void`: never counted, not expected back.
    pub voided: BTreeSet<u32>,
    /// Voided serials whose ballot came back anyway (rejected as `voided_serial`).
    pub voided_returned: BTreeSet<u32>,
}

impl Reconciliation {
    /// Issued serials that may come back and count: issued less voided.
    pub fn expected(&self) -> usize {
        self.issued - self.voided.len()
    }
}

/// Per unit: what was issued, what came back, what is missing, what was never issued.
pub fn reconcile(
    records: &[PageRecord],
    issued: &BTreeMap<String, BTreeSet<u32>>,
    voided: &BTreeMap<String, BTreeSet<u32>>,
) -> BTreeMap<String, Reconciliation> {
    let mut seen: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut dups: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        let Some(p) = &r.payload else { continue };
        if r.status == Status::Duplicate {
            *dups.entry(p.unit.clone()).or_default() += 1;
        }
        // A forged serial is not a returned ballot.
        if r.reasons.contains(&Reason::BadSignature) {
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
            // Only issued serials can be voided (`void` checks), so this is a subset of `iss`.
            let void: BTreeSet<u32> = voided
                .get(&u)
                .unwrap_or(&empty)
                .intersection(iss)
                .copied()
                .collect();
            let live: BTreeSet<u32> = iss.difference(&void).copied().collect();
            let rec = Reconciliation {
                issued: iss.len(),
                returned: got.intersection(&live).count(),
                missing: live.difference(got).copied().collect(),
                not_issued: got.difference(iss).copied().collect(),
                duplicates: dups.get(&u).copied().unwrap_or(0),
                voided_returned: void.intersection(got).copied().collect(),
                voided: void,
            };
            (u, rec)
        })
        .collect()
}

/// `return_rate` is returned over issued less voided; the voided columns come last so that
/// files read by position before they existed still read.
pub const RECONCILIATION_HEADER: [&str; 13] = [
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
    "voided",
    "voided_serials",
    "voided_returned_serials",
];

pub fn reconciliation_csv(rec: &BTreeMap<String, Reconciliation>, registry: &Registry) -> CsvTable {
    let mut t = CsvTable::new(&RECONCILIATION_HEADER);
    for u in registry.in_order(rec.keys().map(String::as_str)) {
        let r = &rec[u];
        t.row([
            u.to_string(),
            registry
                .get(u)
                .map_or("(not in the units registry)".into(), |x| x.name.clone()),
            r.issued.to_string(),
            r.returned.to_string(),
            crate::tally::percent(r.returned as u64, r.expected() as u64),
            r.missing.len().to_string(),
            ranges(&r.missing),
            r.not_issued.len().to_string(),
            ranges(&r.not_issued),
            r.duplicates.to_string(),
            r.voided.len().to_string(),
            ranges(&r.voided),
            ranges(&r.voided_returned),
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
    /// Pages keyed by hand (`KEYED` decisions), by the status they ended with: `keyed`, or
    /// `duplicate` for a serial already returned, `invalid`, `rejected` for a voided serial.
    pub keyed_by_status: BTreeMap<Status, usize>,
    /// Ballots still waiting for review: while above 0 the results are provisional.
    pub pending: u64,
    /// The language the report was written in (and the console speaks).
    pub lang: Lang,
    pub comments: usize,
    /// The `voided.csv` files read beside the `issued.csv` files given.
    pub voided_files: Vec<PathBuf>,
    /// Serials they void, and ballots of those serials that came back (rejected).
    pub voided_serials: usize,
    pub voided_rejected: usize,
    /// Questions that versions of a form ask differently, counted apart under names of their
    /// own (`q7_v1 = CSAT v1`, see `tally::RollupQuestions::kept_apart`).
    pub kept_apart: Vec<String>,
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
            // A swap killed between its two renames: finish it, then read the folder.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && crate::results::present(d) => {
                drop(crate::results::lock_for_reading(d)?);
                crate::results::canonical(d)
                    .with_context(|| format!("cannot open the scan folder {}", d.display()))?
            }
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
    let lang = req.lang.or(scan_lang).unwrap_or_default();
    // Streamed: only one decision per page and question is kept, never the files.
    let mut check = DecisionCheck::new(&records, &registry, lang);
    for p in req.decisions {
        read_decisions(p, |d| check.add(&records, &forms, d))?;
    }
    let Applied { trail, keyed } = check.apply(&mut records, &forms)?;
    // After the decisions: no decision can count a voided serial.
    let (voided, voided_files) = crate::voided::load_for_issued(req.issued)?;
    let voided_rejected = reject_voided(&mut records, &voided);
    // Review status covers undecided duplicate conflicts too (every copy waits in review).
    let pending = records.iter().filter(|r| waiting_for_decision(r)).count() as u64;
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
        let issued = crate::issued::serials_by_unit(req.issued)?;
        let rec = reconcile(&records, &issued, &voided);
        let bytes = reconciliation_csv(&rec, &registry).into_bytes();
        output::write_atomic(&dir.join("reconciliation.csv"), &bytes)?;
        reconciliation_bytes = Some(bytes);
        Some(
            rec.iter()
                .map(|(u, r)| (u.clone(), (r.expected() as u64, r.returned as u64)))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    crate::scan_files::ballots_csv(&records).write(&dir.join("ballots.csv"))?;
    crate::scan_files::answers_csv(&records).write(&dir.join("answers.csv"))?;
    let tally = crate::tally::Tally::of(&ballots, &forms, &registry);
    let rollup = tally.questions(&forms);
    let kept_apart = rollup.kept_apart();
    let questions = rollup.questions();
    let tallies_bytes = tally.tallies_table(&forms, &registry, lang).into_bytes();
    output::write_atomic(&dir.join("tallies.csv"), &tallies_bytes)?;
    let summary = tally.summary(&forms, &registry, returns.as_ref());
    crate::tally::summary_table(&summary).write(&dir.join("summary.csv"))?;
    let trail_bytes = trail_csv(&trail).into_bytes();
    output::write_atomic(&dir.join("audit-trail.csv"), &trail_bytes)?;
    let totals = tally.totals(&rollup);
    let info = crate::printable::ReportInfo {
        lang,
        agency: req.agency.unwrap_or_default(),
        period: req.period.unwrap_or_default(),
        date: req.date.unwrap_or_else(crate::printable::Date::today),
        threshold: req.threshold,
        min_answers: req.min_answers,
        pending,
        questions: &questions,
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
    let mut keyed_by_status = BTreeMap::new();
    for &i in &keyed {
        *keyed_by_status.entry(records[i].status).or_default() += 1;
    }
    Ok(TallyReport {
        pages: records.len(),
        decisions_applied: trail.len(),
        by_status,
        keyed_by_status,
        pending,
        lang,
        comments: comments.len(),
        voided_files,
        voided_serials: voided.values().map(BTreeSet::len).sum(),
        voided_rejected,
        kept_apart,
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

    /// A page the scanner rejected for `reason`, with the QR code it read if any.
    fn unreadable(source: &str, reason: Reason, qr: Option<Payload>) -> PageRecord {
        let mut r = PageRecord::new(source, 1);
        r.reasons = vec![reason];
        r.file_sha256 = format!("sha-{source}");
        r.form = qr.as_ref().map(|p| (p.form.clone(), p.version));
        r.payload = qr;
        r
    }

    /// The rows keying `r` as `serial` of P-ANBIEN on CSAT v1, every answer `answer`.
    fn keyed_rows(r: &PageRecord, serial: &str, answer: &str) -> Vec<DecisionRow> {
        let form = Form::default_form();
        let row = |question: &str, decision: &str| DecisionRow {
            source: r.source.clone(),
            page: 1,
            file_sha256: r.file_sha256.clone(),
            form: "CSAT".into(),
            version: "1".into(),
            unit: "P-ANBIEN".into(),
            serial: serial.into(),
            question: question.into(),
            decision: decision.into(),
            auditor: "A".into(),
            note: String::new(),
            by_identity: true,
            origin: format!("d.csv:{question}"),
        };
        std::iter::once(row(WHOLE_BALLOT, KEYED))
            .chain(form.questions.iter().map(|q| {
                let a = if q.id == "q8" && answer != "BLANK" {
                    "no"
                } else {
                    answer
                };
                row(&q.id, a)
            }))
            .collect()
    }

    fn key(records: &mut [PageRecord], rows: &[DecisionRow]) -> anyhow::Result<Vec<TrailEntry>> {
        let forms = vec![Form::default_form()];
        apply_decisions(records, rows, &forms, &Registry::default_units(), Lang::En)
    }

    #[test]
    fn a_page_whose_alignment_failed_is_keyed_only_as_its_qr_code_says() {
        let qr = Payload::new("CSAT", 1, "P-ANBIEN", 7);
        let page = unreadable("a.png", Reason::AlignmentFailed, Some(qr));
        let e = key(&mut [page.clone()], &keyed_rows(&page, "8", "4"))
            .expect_err("another serial than the QR code's");
        assert!(
            e.to_string().contains("was read as P-ANBIEN 000007")
                && e.to_string().contains("keyed as P-ANBIEN 000008"),
            "{e}"
        );
        let mut records = [page.clone()];
        key(&mut records, &keyed_rows(&page, "000007", "4")).expect("keyed");
        assert_eq!(records[0].status, Status::Keyed);
        assert_eq!(records[0].reasons, [Reason::AlignmentFailed]);
    }

    #[test]
    fn a_page_keyed_blank_is_invalid_and_a_forged_one_cannot_be_keyed() {
        let page = unreadable("a.png", Reason::NoQr, None);
        let mut records = [page.clone()];
        key(&mut records, &keyed_rows(&page, "3", "BLANK")).expect("keyed");
        assert_eq!(records[0].status, Status::Invalid);
        assert_eq!(records[0].reasons, [Reason::NoQr, Reason::BlankBallot]);
        let forged = unreadable("f.png", Reason::BadSignature, None);
        let e = key(&mut [forged.clone()], &keyed_rows(&forged, "3", "4"))
            .expect_err("a forged ballot is never keyed");
        assert!(e.to_string().contains("cannot be keyed"), "{e}");
    }

    #[test]
    fn a_replayed_question_keeps_the_reason_its_scan_gave() {
        // One firm mark beside a weak one on a shaded row: the scan said `background_in_row`,
        // a replay used to say `possible_correction`.
        let shaded = boxes_read("1=marked 2=marked 3=empty", "1=0.300 2=0.070 3=0.000");
        assert_eq!(recorded_review_reason(&shaded), Reason::BackgroundInRow);
        let corrected = boxes_read("1=marked 2=marked 3=empty", "1=0.700 2=0.300 3=0.000");
        assert_eq!(
            recorded_review_reason(&corrected),
            Reason::PossibleCorrection
        );
        let doubtful = boxes_read("1=ambiguous 2=empty", "1=0.040 2=0.000");
        assert_eq!(recorded_review_reason(&doubtful), Reason::AmbiguousMark);
    }

    #[test]
    fn ranges_are_compact() {
        let s: BTreeSet<u32> = [1, 2, 3, 5, 7, 8, 9, 12].into_iter().collect();
        assert_eq!(ranges(&s), "1-3,5,7-9,12");
        assert_eq!(ranges(&BTreeSet::new()), "");
    }

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
        read_decisions(&path, |d| {
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
