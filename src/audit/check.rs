//! Checking decisions before anything is applied: which pages decisions may still change,
//! finding the page a row names ([`BallotIndex`]), and [`DecisionCheck`], which takes the rows
//! one by one and keeps what each decides (rows that key a page by hand go to `keyed`).

use std::collections::BTreeMap;

use anyhow::{bail, Context};

use super::decisions::{Decision, DecisionRow, KEYED, WHOLE_BALLOT};
use super::keyed::Keying;
use crate::ballot::Status;
use crate::failure::{Failure, Mistake};
use crate::form::{Form, Forms};
use crate::i18n::{text, Lang};
use crate::reason::Reason;
use crate::registry::Registry;
use crate::scan::PageRecord;

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

/// Whether an auditor may key this page by hand: the scanner rejected it only because it
/// could not read it as a ballot (see [`Reason::can_be_keyed`]).
pub fn can_be_keyed(r: &PageRecord) -> bool {
    r.status == Status::Rejected
        && !r.reasons.is_empty()
        && r.reasons.iter().all(|x| x.can_be_keyed())
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
    fn find(
        &self,
        records: &[PageRecord],
        d: &DecisionRow,
        lang: Lang,
    ) -> anyhow::Result<Option<usize>> {
        let describe = |c: &[usize]| {
            c.iter()
                .map(|&i| records[i].page_ref())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !d.by_identity {
            return match self
                .by_name
                .get(&(d.source.clone(), d.page))
                .map(Vec::as_slice)
            {
                Some([i]) => Ok(Some(*i)),
                Some(many) => bail!(text(
                    lang,
                    "audit.by_file_name_only",
                    &[
                        ("origin", &d.origin),
                        ("page", &format!("{}#{}", d.source, d.page)),
                        ("n", &many.len()),
                        ("pages", &describe(many)),
                    ]
                )),
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
            many => bail!(text(
                lang,
                "audit.not_told_apart",
                &[
                    ("origin", &d.origin),
                    ("form", &d.form),
                    ("unit", &d.unit),
                    ("serial", &d.serial),
                    ("n", &many.len()),
                    ("pages", &describe(many)),
                ]
            )),
        }
    }
}

/// Decisions checked one at a time against the pages (nothing applied yet): what each one
/// decides, one per page and question, and the decisions that match no page.
pub struct DecisionCheck {
    pub(super) index: BallotIndex,
    pub(super) chosen: BTreeMap<(usize, String), (DecisionRow, Decision)>,
    /// Pages keyed by hand, by their row: checked as a whole in [`DecisionCheck::apply`],
    /// once every row is in (a hand-written file may put the answers before the `KEYED` row).
    pub(super) keying: BTreeMap<usize, Keying>,
    pub(super) unmatched: Vec<String>,
    /// Rows refused so far: named together by [`DecisionCheck::apply`], which then applies
    /// nothing.
    pub(super) refused: Refusals,
    /// Keyed units are checked against it ("did you mean …").
    pub(super) registry: Registry,
    /// The language the refusals are written in (the tally's: `--lang`, else the scan's).
    pub(super) lang: Lang,
}

/// Where a decision row goes: to a page keyed by hand, to the ordinary checks, or nowhere.
enum Route {
    Keyed(usize),
    Ordinary,
    Unmatched,
}

/// How many refused rows, and how many rows that match no page, the error names (all are
/// counted).
const LISTED: usize = 20;

/// The rows refused so far, each with why. Every one is counted and the first [`LISTED`] are
/// kept to be named: a damaged file of a million bad rows is not held in memory.
#[derive(Default)]
pub(super) struct Refusals {
    listed: Vec<anyhow::Error>,
    count: usize,
    /// The exit status the refusals call for ([`Failure::of`] each: a unit not in the
    /// registry is an input mistake): theirs when they agree, else [`Failure::Refused`].
    kind: Option<Failure>,
}

impl Refusals {
    pub(super) fn push(&mut self, e: anyhow::Error) {
        let kind = Failure::of(&e);
        self.kind = Some(match self.kind {
            Some(k) if k != kind => Failure::Refused,
            _ => kind,
        });
        self.count += 1;
        if self.listed.len() < LISTED {
            self.listed.push(e);
        }
    }

    /// What `checked` holds, or `None` with its error kept as a refusal.
    pub(super) fn keep<T>(&mut self, checked: anyhow::Result<T>) -> Option<T> {
        checked.map_err(|e| self.push(e)).ok()
    }

    /// `Ok` when no row was refused and every row matched a page. Otherwise one error that
    /// names them all, so that the auditor fixes the file once: a single refusal as it was
    /// raised, else a list of them, then the rows that match no page.
    pub(super) fn verdict(self, unmatched: &[String], lang: Lang) -> anyhow::Result<()> {
        let mut listed = self.listed;
        let n = self.count;
        let unmatched_text = unmatched_message(unmatched, lang);
        match (n, unmatched_text) {
            (0, None) => Ok(()),
            (1, None) => Err(listed.remove(0)),
            (0, Some(text)) => Err(anyhow::anyhow!(text)),
            (n, unmatched_text) => {
                let mut message = if n == 1 {
                    text(lang, "audit.refused_one", &[])
                } else {
                    text(lang, "audit.refused_many", &[("n", &n)])
                };
                for e in &listed {
                    message.push_str(&format!("\n  {e:#}"));
                }
                if n > listed.len() {
                    message.push_str("\n  ");
                    message.push_str(&text(lang, "audit.and_more", &[("n", &(n - listed.len()))]));
                }
                // Decisions that match no page are the tally's refusal, whatever the others.
                let kind = match (self.kind, &unmatched_text) {
                    (Some(kind), None) => kind,
                    _ => Failure::Refused,
                };
                if let Some(text) = unmatched_text {
                    message.push('\n');
                    message.push_str(&text);
                }
                Err(Mistake { kind, message }.into())
            }
        }
    }
}

/// The error naming the decisions that match no page, `None` when every one matched.
fn unmatched_message(unmatched: &[String], lang: Lang) -> Option<String> {
    let n = unmatched.len();
    (n > 0).then(|| {
        let mut message = if n == 1 {
            text(lang, "audit.unmatched_one", &[])
        } else {
            text(lang, "audit.unmatched_many", &[("n", &n)])
        };
        message.push_str("\n  ");
        message.push_str(&unmatched[..n.min(LISTED)].join("\n  "));
        if n > LISTED {
            message.push_str("\n  ");
            message.push_str(&text(lang, "audit.and_more", &[("n", &(n - LISTED))]));
        }
        message
    })
}

/// A decision that matches no page, as the error lists it.
fn unmatched_text(d: &DecisionRow, lang: Lang) -> String {
    let page = format!("{}#{}", d.source, d.page);
    format!(
        "{}: {}",
        d.origin,
        if d.by_identity && !d.unit.is_empty() {
            let form = if d.version.is_empty() {
                d.form.clone()
            } else {
                format!("{} v{}", d.form, d.version)
            };
            text(
                lang,
                "audit.unmatched_ballot",
                &[
                    ("unit", &d.unit),
                    ("serial", &d.serial),
                    ("form", &form),
                    ("page", &page),
                ],
            )
        } else {
            page
        }
    )
}

/// Every decision names who made it.
pub(super) fn require_auditor(d: &DecisionRow, lang: Lang) -> anyhow::Result<()> {
    if d.auditor.is_empty() {
        bail!(text(lang, "audit.no_auditor", &[("origin", &d.origin)]));
    }
    Ok(())
}

/// Keeps what row `d` decides for `key` (a page and question) on `page`: the same decision
/// twice is kept once, a different one is refused naming both rows.
pub(super) fn keep_one<K: Ord>(
    kept: &mut BTreeMap<K, (DecisionRow, Decision)>,
    key: K,
    d: DecisionRow,
    decision: Decision,
    page: &str,
    lang: Lang,
) -> anyhow::Result<()> {
    match kept.get(&key) {
        Some((prev, prev_decision)) if *prev_decision != decision => bail!(text(
            lang,
            "audit.decided_differently",
            &[
                ("first", &prev.origin),
                ("second", &d.origin),
                ("page", &page),
                ("question", &d.question),
                ("first_decision", &prev.decision),
                ("second_decision", &d.decision),
            ]
        )),
        Some(_) => Ok(()),
        None => {
            kept.insert(key, (d, decision));
            Ok(())
        }
    }
}

/// The options of a question's decision must be the question's own (one for a
/// single-choice question), and the question one with boxes.
pub(super) fn check_question_decision(
    form: &Form,
    question: &str,
    decision: &Decision,
    origin: &str,
    lang: Lang,
) -> anyhow::Result<()> {
    let q = form.question(question).with_context(|| {
        text(
            lang,
            "audit.no_question",
            &[
                ("origin", &origin),
                ("form", &form.id),
                ("question", &format!("{question:?}")),
            ],
        )
    })?;
    let about = [
        ("origin", &origin as &dyn std::fmt::Display),
        ("question", &q.id),
    ];
    if !q.is_choice() {
        bail!(text(lang, "audit.comment_area", &about));
    }
    if let Decision::Options(ids) = decision {
        if ids.len() > 1 && q.kind == crate::form::QuestionKind::Single {
            bail!(text(lang, "audit.one_option", &about));
        }
        for id in ids {
            if !q.options.iter().any(|o| &o.id == id) {
                let options = q
                    .options
                    .iter()
                    .map(|o| o.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                bail!(text(
                    lang,
                    "audit.no_option",
                    &[
                        ("origin", &origin),
                        ("question", &q.id),
                        ("option", &format!("{id:?}")),
                        ("options", &options),
                    ]
                ));
            }
        }
    }
    Ok(())
}

impl DecisionCheck {
    /// `registry` is the one the tally uses (keyed units are checked against it); `lang` the
    /// language every refusal is written in.
    pub fn new(records: &[PageRecord], registry: &Registry, lang: Lang) -> DecisionCheck {
        DecisionCheck {
            index: BallotIndex::new(records),
            chosen: BTreeMap::new(),
            keying: BTreeMap::new(),
            unmatched: Vec::new(),
            refused: Refusals::default(),
            registry: registry.clone(),
            lang,
        }
    }

    /// Checks one decision and keeps what it decides. A row that does not fit is refused,
    /// with why, and the check goes on: [`DecisionCheck::apply`] names every refused row at
    /// once and applies none.
    pub fn add(&mut self, records: &[PageRecord], forms: &Forms, d: DecisionRow) {
        let checked = self.take(records, forms, d);
        self.refused.keep(checked);
    }

    /// [`DecisionCheck::add`] for one row; an error is its refusal.
    fn take(
        &mut self,
        records: &[PageRecord],
        forms: &Forms,
        d: DecisionRow,
    ) -> anyhow::Result<()> {
        let lang = self.lang;
        match self.route(records, &d)? {
            Route::Keyed(i) => return self.add_keyed(records, i, d),
            Route::Unmatched => {
                self.unmatched.push(unmatched_text(&d, lang));
                return Ok(());
            }
            Route::Ordinary => {}
        }
        let Some(i) = self.index.find(records, &d, lang)? else {
            // Listed together at the end, so the auditor sees every one at once.
            self.unmatched.push(unmatched_text(&d, lang));
            return Ok(());
        };
        let r = &records[i];
        require_auditor(&d, lang)?;
        let rejected = r.status == Status::Rejected;
        let copy_of_file = r.reasons.contains(&Reason::DuplicateFile);
        let whole = d.question == WHOLE_BALLOT;
        // Not refused yet: the checks below come first, in this order, as they always did.
        let decision = Decision::parse(&d.question, &d.decision);
        let page = format!("{}#{}", d.source, d.page);
        if decision == Ok(Decision::Accept) && rejected {
            bail!(text(
                lang,
                "audit.rejected_not_accepted",
                &[
                    ("origin", &d.origin),
                    ("page", &page),
                    ("reasons", &Reason::join(&r.reasons, ";")),
                ]
            ));
        }
        if !whole && !answers_open_to_decisions(r) {
            let hint = if copy_of_file {
                text(lang, "audit.hint_first_copy", &[])
            } else if can_be_keyed(r) {
                text(lang, "audit.hint_key_it", &[])
            } else {
                String::new()
            };
            bail!(text(
                lang,
                if rejected {
                    "audit.rejected_answers"
                } else {
                    "audit.copy_answers"
                },
                &[("origin", &d.origin), ("page", &page), ("hint", &hint)]
            ));
        }
        if let Some(p) = &r.payload {
            if (!d.unit.is_empty() && d.unit != p.unit)
                || (!d.serial.is_empty() && d.serial.parse::<u32>().ok() != Some(p.serial))
            {
                bail!(text(
                    lang,
                    "audit.wrong_page",
                    &[
                        ("origin", &d.origin),
                        ("page", &page),
                        ("read", &format!("{} {:06}", p.unit, p.serial)),
                        ("unit", &d.unit),
                        ("serial", &d.serial),
                    ]
                ));
            }
        }
        let decision =
            decision.map_err(|e| anyhow::anyhow!("{}: {}", d.origin, e.in_lang(lang)))?;
        if !whole {
            let form = forms.of(r.form.as_ref()).with_context(|| {
                text(
                    lang,
                    "audit.no_readable_form",
                    &[("origin", &d.origin), ("page", &page)],
                )
            })?;
            check_question_decision(form, &d.question, &decision, &d.origin, lang)?;
        }
        keep_one(
            &mut self.chosen,
            (i, d.question.clone()),
            d,
            decision,
            &page,
            lang,
        )
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
}
