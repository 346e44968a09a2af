//! Applying checked decisions: every one is applied or none is. Answers and verdicts change
//! the pages, keyed pages take their ballots, and then every status and duplicate is decided
//! again across all the pages exactly as a scan decides them; voided serials last.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::check::{answers_open_to_decisions, DecisionCheck, UNMATCHED_LISTED};
use super::decisions::{Decision, DecisionRow, WHOLE_BALLOT};
use super::keyed::decide_keyed;
use super::trail::TrailEntry;
use crate::ballot::{self, QuestionRead, Status};
use crate::form::Form;
use crate::i18n::{text, Lang};
use crate::reason::Reason;
use crate::registry::Registry;
use crate::scan::PageRecord;

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

/// Decisions applied: the audit trail, and the pages keyed by hand (their rows in the
/// records, in order).
pub struct Applied {
    pub trail: Vec<TrailEntry>,
    pub keyed: Vec<usize>,
}

impl DecisionCheck {
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
