//! Applying checked decisions: every one is applied or none is. Answers and verdicts change
//! the pages, keyed pages take their ballots, and then every status and duplicate is decided
//! again across all the pages exactly as a scan decides them; voided serials last.

use std::collections::{BTreeMap, BTreeSet};

use super::check::{answers_open_to_decisions, DecisionCheck, Refusals};
use super::decisions::{Decision, DecisionRow, WHOLE_BALLOT};
use super::keyed::decide_keyed;
use super::trail::TrailEntry;
use crate::ballot::{self, QuestionRead, Status};
use crate::form::Forms;
use crate::i18n::{text, Lang};
use crate::reason::Reason;
use crate::registry::Registry;
use crate::scan::PageRecord;

/// Applies decisions to the pages, then re-decides statuses and duplicates across all of them:
/// every row is checked first, and if any is refused none is applied (the error names them
/// all).
pub fn apply_decisions(
    records: &mut [PageRecord],
    decisions: &[DecisionRow],
    forms: &Forms,
    registry: &Registry,
    lang: Lang,
) -> anyhow::Result<Vec<TrailEntry>> {
    let mut check = DecisionCheck::new(records, registry, lang);
    for d in decisions {
        check.add(records, forms, d.clone());
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
    pub fn apply(mut self, records: &mut [PageRecord], forms: &Forms) -> anyhow::Result<Applied> {
        let lang = self.lang;
        // Everything is checked, every refusal kept, before any page changes.
        let mut refused = std::mem::take(&mut self.refused);
        let keyed = self.check_keyed(records, forms, &mut refused);
        refuse_rejecting_one_of_identical_copies(records, &self.chosen, &mut refused, lang);
        refused.verdict(&self.unmatched, lang)?;
        let chosen = self.chosen;
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
    refused: &mut Refusals,
    lang: Lang,
) {
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
            refused.push(anyhow::anyhow!(text(
                lang,
                "audit.reject_one_copy",
                &[
                    ("origin", &d.origin),
                    ("page", &format!("{}#{}", r.source, r.page)),
                    ("unit", &p.unit),
                    ("serial", &p.serial_text()),
                    ("copies", &copies.join(", ")),
                ]
            )));
        }
    }
}

/// Recomputes every readable ballot's status from its (possibly corrected) answers, then
/// duplicates across the whole set, exactly as a scan decides them.
pub fn redecide(
    records: &mut [PageRecord],
    forms: &Forms,
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
        let Some(form) = forms.of(r.form.as_ref()) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Form;
    use crate::payload::Payload;

    /// Ballot `serial` of P-ANBIEN on CSAT v1, read with q1 waiting for review.
    fn in_review(serial: u32) -> PageRecord {
        let mut r = PageRecord::new(&format!("{serial}.png"), 1);
        r.status = Status::Review;
        r.reasons = vec![Reason::AmbiguousMark];
        r.file_sha256 = format!("sha-{serial}");
        r.payload = Some(Payload::new("CSAT", 1, "P-ANBIEN", serial));
        r.form = Some(("CSAT".into(), 1));
        r.questions = vec![QuestionRead {
            question: "q1".into(),
            answer: ballot::Answer::Review,
            boxes: Vec::new(),
            review_reason: Some(Reason::AmbiguousMark),
        }];
        r
    }

    /// Row `line` of a decisions file deciding `question` of ballot `serial`.
    fn row(line: usize, serial: u32, question: &str, decision: &str) -> DecisionRow {
        DecisionRow {
            source: format!("{serial}.png"),
            page: 1,
            file_sha256: format!("sha-{serial}"),
            form: "CSAT".into(),
            version: "1".into(),
            unit: "P-ANBIEN".into(),
            serial: format!("{serial:06}"),
            question: question.into(),
            decision: decision.into(),
            auditor: "A".into(),
            note: String::new(),
            by_identity: true,
            origin: format!("d.csv:{line}"),
        }
    }

    fn apply(records: &mut [PageRecord], rows: &[DecisionRow]) -> anyhow::Result<Vec<TrailEntry>> {
        let forms = Forms::from(vec![Form::default_form()]);
        apply_decisions(records, rows, &forms, &Registry::default_units(), Lang::En)
    }

    fn as_written(records: &[PageRecord]) -> String {
        serde_json::to_string(records).expect("records serialise")
    }

    #[test]
    fn one_bad_row_among_good_ones_changes_no_record_and_is_named() {
        let mut records = [in_review(1), in_review(2), in_review(3)];
        let before = as_written(&records);
        let rows = [
            row(2, 1, "q1", "4"),
            row(3, 2, "q1", "7"),
            row(4, 3, "q1", "MULTI"),
        ];
        let e = apply(&mut records, &rows).expect_err("a row names an option q1 lacks");
        assert!(
            e.to_string().contains("d.csv:3") && e.to_string().contains("no option \"7\""),
            "{e}"
        );
        assert!(!e.to_string().contains("d.csv:2") && !e.to_string().contains("d.csv:4"));
        assert_eq!(as_written(&records), before, "no record changed");
        apply(&mut records, &[rows[0].clone(), rows[2].clone()]).expect("the good rows apply");
        assert_eq!(records[0].status, Status::Counted);
    }

    #[test]
    fn every_refused_row_is_named_at_once() {
        let mut records = [in_review(1), in_review(2), in_review(3)];
        let before = as_written(&records);
        let mut no_auditor = row(4, 3, "q1", "BLANK");
        no_auditor.auditor.clear();
        let rows = [
            row(2, 1, "q9", "4"),
            row(3, 2, "q1", "4;5"),
            no_auditor,
            row(5, 9, "q1", "4"),
        ];
        let e = apply(&mut records, &rows)
            .expect_err("three rows refused, one matching no ballot")
            .to_string();
        for needle in [
            "3 decisions cannot be applied, so none is",
            "d.csv:2: form CSAT has no question \"q9\"",
            "d.csv:3: question q1 takes one option",
            "d.csv:4: no auditor",
            "1 decision names no ballot",
            "d.csv:5: ballot P-ANBIEN 000009",
        ] {
            assert!(e.contains(needle), "{needle:?} in {e}");
        }
        assert_eq!(as_written(&records), before, "no record changed");
    }
}
