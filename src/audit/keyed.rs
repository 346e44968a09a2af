//! Pages keyed by hand: a page the scanner could not read as a ballot (no QR code, no
//! alignment…) keyed from its image with a `KEYED` row and one answer per question. The rows
//! are gathered as they come and checked as a whole before anything is applied; once the
//! pages that were read are settled, a keyed serial already returned is a duplicate.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context};

use super::check::{check_question_decision, keep_one, require_auditor, DecisionCheck, Refusals};
use super::decisions::{Decision, DecisionRow, WHOLE_BALLOT};
use super::trail::TrailEntry;
use crate::ballot::{self, QuestionRead, Status};
use crate::form::{Form, Forms};
use crate::i18n::text;
use crate::payload::Payload;
use crate::reason::Reason;
use crate::scan::PageRecord;

/// The rows that key one page by hand: its `KEYED` row and its answers by question.
#[derive(Default)]
pub(super) struct Keying {
    pub(super) keyed: Option<DecisionRow>,
    pub(super) answers: BTreeMap<String, (DecisionRow, Decision)>,
}

/// A keyed page, checked and ready to apply.
pub(super) struct KeyedBallot {
    pub(super) page: usize,
    pub(super) payload: Payload,
    pub(super) questions: Vec<QuestionRead>,
    pub(super) auditor: String,
    pub(super) trail: Vec<TrailEntry>,
}

/// Serials are printed with at least six digits and read with at most nine (see
/// `payload::SERIAL_DIGITS`): an auditor keys the number as printed, leading zeros or not.
const MAX_KEYED_SERIAL_DIGITS: usize = 9;

impl DecisionCheck {
    /// Takes one row keying page `i`: its `KEYED` row or one of its answers. Two rows that
    /// key the same thing differently are refused here; the page as a whole is checked in
    /// [`DecisionCheck::apply`].
    pub(super) fn add_keyed(
        &mut self,
        records: &[PageRecord],
        i: usize,
        d: DecisionRow,
    ) -> anyhow::Result<()> {
        require_auditor(&d, self.lang)?;
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
            .map_err(|e| anyhow::anyhow!("{}: {}", d.origin, e.in_lang(self.lang)))?;
        keep_one(
            &mut k.answers,
            d.question.clone(),
            d,
            decision,
            &page,
            self.lang,
        )
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
    /// question with boxes, each an option of its question. A page that does not fit is
    /// refused, and the others are still checked.
    pub(super) fn check_keyed(
        &self,
        records: &[PageRecord],
        forms: &Forms,
        refused: &mut Refusals,
    ) -> Vec<KeyedBallot> {
        let mut out = Vec::new();
        for (&i, k) in &self.keying {
            let checked = self.check_keyed_page(records, forms, i, k, refused);
            out.extend(refused.keep(checked).flatten());
        }
        out
    }

    /// [`DecisionCheck::check_keyed`] for page `i`: an error is the page's refusal; `None`
    /// when answers of it were refused (each kept in `refused`).
    fn check_keyed_page(
        &self,
        records: &[PageRecord],
        forms: &Forms,
        i: usize,
        k: &Keying,
        refused: &mut Refusals,
    ) -> anyhow::Result<Option<KeyedBallot>> {
        let lang = self.lang;
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
        // Every answer is checked, so that all the wrong ones are named at once.
        let mut answers_fit = true;
        for (q, (d, decision)) in &k.answers {
            let checked = check_question_decision(form, q, decision, &d.origin, lang);
            answers_fit &= refused.keep(checked).is_some();
        }
        if !answers_fit {
            return Ok(None);
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
        Ok(Some(KeyedBallot {
            page: i,
            payload,
            questions,
            auditor: row.auditor.clone(),
            trail,
        }))
    }
}

/// Keyed pages (`keyed`, in page order), once the pages that were read are settled. A serial
/// that another page returned — read, in review or invalid, or keyed on an earlier page — is
/// a `duplicate`: never counted twice, whatever the answers. Otherwise the keyed answers
/// decide as a read ballot's would: `keyed` where it would be counted, `invalid` where it
/// would be (a blank ballot). The reason the scanner gave (`no_qr`…) stays first.
pub(super) fn decide_keyed(records: &mut [PageRecord], forms: &Forms, keyed: &[usize]) {
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
        let form = forms.of(r.form.as_ref());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{apply_decisions, KEYED};
    use crate::i18n::Lang;
    use crate::registry::Registry;

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
        let forms = Forms::from(vec![Form::default_form()]);
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
}
