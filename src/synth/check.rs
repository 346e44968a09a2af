//! Comparing a scan's answers with a batch's truth (synthetic or from an independent tool),
//! box by box and question by question: the accuracy benchmark's and the accuracy tests'
//! measure, per degradation family (the truth's `profile` column).
//!
//! An **error** is a definite mark read as empty, or an empty box read as marked. A definite
//! mark or an empty box read as ambiguous is not an error but a cost: a person looks at it.
//! Deliberately marginal marks may be read any way.
//!
//! A **question error** is an answer that is neither the truth's `expected` nor one of its
//! `acceptable` (a `REVIEW` answer never is one). On a ballot decided without a person —
//! status `counted` or `invalid` — it is a **silent error**, the worst failure there is: a
//! vote changed and nobody will look.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::ballot::Status;
use crate::output;

#[derive(Clone, Debug, Default)]
pub struct Accuracy {
    /// Box positions compared.
    pub positions: u64,
    pub ballots: u64,
    /// Ballots with no answers read (rejected pages).
    pub ballots_unread: u64,
    pub errors: u64,
    pub definite: u64,
    pub definite_to_review: u64,
    pub empty: u64,
    pub empty_to_review: u64,
    pub marginal: u64,
    pub marginal_to_review: u64,
    /// Questions with an answer read.
    pub questions: u64,
    /// Answers neither expected nor acceptable (REVIEW excluded), whatever the ballot's status.
    pub question_errors: u64,
    /// Question errors on ballots decided without a person (`counted` or `invalid`).
    pub silent_errors: u64,
    /// Ballots carrying at least one silent error.
    pub ballots_with_silent_errors: u64,
    /// Pages whose status is `review`.
    pub pages_to_review: u64,
    /// Pages sent to review whose truth has no marginal, corrected or over-marked answer
    /// (no question the truth allows to go to review): a person's time spent for nothing.
    pub needless_review: u64,
    /// Pages rejected (or missing from the result), by their first reason.
    pub rejected: BTreeMap<String, u64>,
    /// The rejected pages: (file name, page).
    pub rejected_pages: Vec<(String, String)>,
    /// The highest fill score of an empty box and the lowest of a definite mark: how much room
    /// the thresholds have on this batch.
    pub max_empty_fill: f64,
    pub min_definite_fill: f64,
    /// The worst cases: (how bad, description). Every silent error is listed, then the ten
    /// worst of the rest.
    pub worst: Vec<(f64, String)>,
}

/// How bad a silent error ranks among the worst cases: above every box error.
const SILENT_RANK: f64 = 100.0;

impl Accuracy {
    /// No positions yet (the lowest definite fill starts at infinity, so any batch lowers it).
    pub fn empty_batch() -> Accuracy {
        Accuracy {
            min_definite_fill: f64::INFINITY,
            ..Accuracy::default()
        }
    }

    /// Adds another batch's counts (worst cases merged, silent errors all kept).
    pub fn add(&mut self, o: &Accuracy) {
        self.positions += o.positions;
        self.ballots += o.ballots;
        self.ballots_unread += o.ballots_unread;
        self.errors += o.errors;
        self.definite += o.definite;
        self.definite_to_review += o.definite_to_review;
        self.empty += o.empty;
        self.empty_to_review += o.empty_to_review;
        self.marginal += o.marginal;
        self.marginal_to_review += o.marginal_to_review;
        self.questions += o.questions;
        self.question_errors += o.question_errors;
        self.silent_errors += o.silent_errors;
        self.ballots_with_silent_errors += o.ballots_with_silent_errors;
        self.pages_to_review += o.pages_to_review;
        self.needless_review += o.needless_review;
        for (r, n) in &o.rejected {
            *self.rejected.entry(r.clone()).or_default() += n;
        }
        self.rejected_pages.extend(o.rejected_pages.iter().cloned());
        self.max_empty_fill = self.max_empty_fill.max(o.max_empty_fill);
        self.min_definite_fill = self.min_definite_fill.min(o.min_definite_fill);
        self.worst.extend(o.worst.iter().cloned());
        keep_worst(&mut self.worst);
    }

    /// Pages rejected, all reasons.
    pub fn pages_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// "reason n, reason n" for the rejected pages, or "-".
    pub fn rejected_summary(&self) -> String {
        if self.rejected.is_empty() {
            return "-".to_string();
        }
        self.rejected
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Sorts the worst cases, keeping every silent error and the ten worst others.
fn keep_worst(worst: &mut Vec<(f64, String)>) {
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    let silent = worst.iter().filter(|w| w.0 >= SILENT_RANK).count();
    worst.truncate(silent + 10);
}

/// Reads `truth.csv`, and the scan's `answers.csv` and the `ballots.csv` beside it, and
/// compares them: all profiles together.
pub fn compare(truth_csv: &Path, answers_csv: &Path) -> Result<Accuracy, String> {
    let mut all = Accuracy::empty_batch();
    for a in compare_by_profile(truth_csv, answers_csv)?.values() {
        all.add(a);
    }
    Ok(all)
}

/// The same comparison per degradation family: the truth's `profile` column (`-` where the
/// truth has none).
pub fn compare_by_profile(
    truth_csv: &Path,
    answers_csv: &Path,
) -> Result<BTreeMap<String, Accuracy>, String> {
    let (th, truth) = output::read_csv(truth_csv).map_err(|e| e.to_string())?;
    let (ah, answers) = output::read_csv(answers_csv).map_err(|e| e.to_string())?;
    let ballots_csv = answers_csv.with_file_name("ballots.csv");
    let (bh, ballots) = output::read_csv(&ballots_csv)
        .map_err(|e| format!("{e} (the scan's ballots.csv, beside answers.csv)"))?;
    let col = |h: &csv::StringRecord, file: &str, n: &str| {
        h.iter()
            .position(|c| c == n)
            .ok_or(format!("{file}: no {n} column"))
    };
    let tcol = |n: &str| col(&th, "truth.csv", n);
    let acol = |n: &str| col(&ah, "answers.csv", n);
    let bcol = |n: &str| col(&bh, "ballots.csv", n);
    let (ts, tp, tq, tm, te, tacc) = (
        tcol("source")?,
        tcol("page")?,
        tcol("question")?,
        tcol("marks")?,
        tcol("expected")?,
        tcol("acceptable")?,
    );
    let tprof = th.iter().position(|c| c == "profile");
    let (a_s, a_p, a_q, a_ans, a_st, a_sc) = (
        acol("source")?,
        acol("page")?,
        acol("question")?,
        acol("answer")?,
        acol("states")?,
        acol("scores")?,
    );
    let (b_s, b_p, b_st, b_r) = (
        bcol("source")?,
        bcol("page")?,
        bcol("status")?,
        bcol("reasons")?,
    );
    // Scan sources may be written relative to another folder: match on the file name.
    let name = |s: &str| {
        Path::new(s)
            .file_name()
            .map_or(s.to_string(), |n| n.to_string_lossy().to_string())
    };
    type Key = (String, String, String);
    let mut read: BTreeMap<Key, (String, String, String)> = BTreeMap::new();
    for r in &answers {
        let g = |i: usize| r.get(i).unwrap_or("").to_string();
        read.insert(
            (name(&g(a_s)), g(a_p), g(a_q)),
            (g(a_ans), g(a_st), g(a_sc)),
        );
    }
    let mut status: BTreeMap<(String, String), (Option<Status>, String)> = BTreeMap::new();
    for r in &ballots {
        let g = |i: usize| r.get(i).unwrap_or("").to_string();
        status.insert((name(&g(b_s)), g(b_p)), (Status::parse(&g(b_st)), g(b_r)));
    }

    let mut by_profile: BTreeMap<String, Accuracy> = BTreeMap::new();
    // Per page: its profile, whether any question may go to review, any silent error.
    let mut pages: BTreeMap<(String, String), (String, bool, bool)> = BTreeMap::new();
    for r in &truth {
        let g = |i: usize| r.get(i).unwrap_or("").to_string();
        let profile = tprof.map_or("-".to_string(), |i| {
            let p = g(i);
            if p.is_empty() {
                "-".to_string()
            } else {
                p
            }
        });
        let key = (name(&g(ts)), g(tp), g(tq));
        let page_key = (key.0.clone(), key.1.clone());
        let expected = g(te);
        let acceptable: Vec<String> = g(tacc)
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let page = pages
            .entry(page_key.clone())
            .or_insert((profile.clone(), false, false));
        page.1 |= acceptable.iter().any(|a| a == "REVIEW");
        let acc = by_profile
            .entry(profile.clone())
            .or_insert_with(Accuracy::empty_batch);
        let Some((answer, states, scores)) = read.get(&key) else {
            continue;
        };
        let marks = g(tm);
        acc.questions += 1;
        let right = *answer == expected || acceptable.contains(answer) || answer == "REVIEW";
        if !right {
            acc.question_errors += 1;
            let st = status.get(&page_key).and_then(|s| s.0);
            let what = format!(
                "{}#{} {}: read {answer}, expected {expected}{} on a {} ballot — {marks} ({states})",
                key.0,
                key.1,
                key.2,
                if acceptable.is_empty() {
                    String::new()
                } else {
                    format!(" or {}", acceptable.join("/"))
                },
                st.map_or("", Status::as_str),
            );
            if matches!(st, Some(Status::Counted | Status::Invalid)) {
                acc.silent_errors += 1;
                page.2 = true;
                acc.worst.push((SILENT_RANK, format!("SILENT {what}")));
            } else {
                acc.worst.push((9.0, format!("question {what}")));
            }
        }
        let kinds: BTreeMap<&str, &str> = marks
            .split_whitespace()
            .filter_map(|m| {
                let (opt, rest) = m.split_once('=')?;
                Some((opt, rest.split(':').next().unwrap_or("")))
            })
            .collect();
        let score_of: BTreeMap<&str, &str> = scores
            .split_whitespace()
            .filter_map(|s| s.split_once('='))
            .collect();
        for st in states.split_whitespace() {
            let Some((opt, state)) = st.split_once('=') else {
                continue;
            };
            acc.positions += 1;
            let kind = kinds.get(opt).copied().unwrap_or("empty");
            let score: f64 = score_of
                .get(opt)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0);
            match kind {
                "definite" => acc.min_definite_fill = acc.min_definite_fill.min(score),
                "empty" => acc.max_empty_fill = acc.max_empty_fill.max(score),
                _ => {}
            }
            let what = format!(
                "{}#{} {} option {}: {} box read {} (fill {:.3}) — {}",
                key.0, key.1, key.2, opt, kind, state, score, marks
            );
            match (kind, state) {
                ("definite", "empty") => {
                    acc.definite += 1;
                    acc.errors += 1;
                    acc.worst
                        .push((10.0 + (1.0 - score), format!("ERROR {what}")));
                }
                ("definite", "ambiguous") => {
                    acc.definite += 1;
                    acc.definite_to_review += 1;
                    acc.worst.push((1.0 - score, format!("review {what}")));
                }
                ("definite", _) => acc.definite += 1,
                ("marginal", "ambiguous") => {
                    acc.marginal += 1;
                    acc.marginal_to_review += 1;
                }
                ("marginal", _) => acc.marginal += 1,
                (_, "marked") => {
                    acc.empty += 1;
                    acc.errors += 1;
                    acc.worst.push((10.0 + score, format!("ERROR {what}")));
                }
                (_, "ambiguous") => {
                    acc.empty += 1;
                    acc.empty_to_review += 1;
                    acc.worst.push((score, format!("review {what}")));
                }
                _ => acc.empty += 1,
            }
        }
    }
    // Page-level figures: ballots, rejections, reviews.
    let answered: BTreeSet<(String, String)> = read
        .keys()
        .map(|(s, p, _)| (s.clone(), p.clone()))
        .collect();
    for (page_key, (profile, may_review, silent)) in &pages {
        let Some(acc) = by_profile.get_mut(profile) else {
            continue;
        };
        acc.ballots += 1;
        if !answered.contains(page_key) {
            acc.ballots_unread += 1;
        }
        if *silent {
            acc.ballots_with_silent_errors += 1;
        }
        match status.get(page_key) {
            Some((Some(Status::Rejected), reasons)) => {
                let first = reasons.split(';').next().unwrap_or("").trim();
                let reason = if first.is_empty() { "no_reason" } else { first };
                *acc.rejected.entry(reason.to_string()).or_default() += 1;
                acc.rejected_pages.push(page_key.clone());
            }
            Some((Some(Status::Review), _)) => {
                acc.pages_to_review += 1;
                if !may_review {
                    acc.needless_review += 1;
                }
            }
            Some(_) => {}
            None => {
                *acc.rejected
                    .entry("missing_from_result".to_string())
                    .or_default() += 1;
                acc.rejected_pages.push(page_key.clone());
            }
        }
    }
    for acc in by_profile.values_mut() {
        keep_worst(&mut acc.worst);
    }
    Ok(by_profile)
}

/// Of `rejected` pages (file name, page), how many an independent QR decoder read, from a
/// corpus's `pages.csv` with `source` (or `file`), optional `page`, and `zbar` columns (a
/// cell reads as success unless empty, `0`, `false`, `no`, `none` or `-`). `None` when the
/// file or its `zbar` column is missing.
pub fn zbar_readable(pages_csv: &Path, rejected: &[(String, String)]) -> Option<u64> {
    let (h, rows) = output::read_csv(pages_csv).ok()?;
    let zi = h.iter().position(|c| c == "zbar")?;
    let si = h.iter().position(|c| c == "source" || c == "file")?;
    let pi = h.iter().position(|c| c == "page");
    let name = |s: &str| {
        Path::new(s)
            .file_name()
            .map_or(s.to_string(), |n| n.to_string_lossy().to_string())
    };
    let mut read: BTreeMap<(String, String), bool> = BTreeMap::new();
    for r in &rows {
        let z = r.get(zi).unwrap_or("").trim().to_ascii_lowercase();
        let ok = !matches!(z.as_str(), "" | "0" | "false" | "no" | "none" | "-");
        let page = pi.and_then(|i| r.get(i)).unwrap_or("1");
        let page = if page.is_empty() { "1" } else { page };
        read.insert((name(r.get(si).unwrap_or("")), page.to_string()), ok);
    }
    Some(
        rejected
            .iter()
            .filter(|k| read.get(*k).copied().unwrap_or(false))
            .count() as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUTH: &str = "source,page,unit,serial,question,expected,acceptable,marks,profile,dpi
a.jpg,1,U,000001,q1,4,,4=definite:tick,folded,200
a.jpg,1,U,000001,q2,BLANK,,,folded,200
b.jpg,1,U,000002,q1,3,REVIEW;MULTI,3=definite:cross 1=definite:crossed-out,folded,200
b.jpg,1,U,000002,q2,2,,2=definite:tick,folded,200
c.jpg,1,U,000003,q1,1,,1=definite:filled,photocopy,200
c.jpg,1,U,000003,q2,5,,5=definite:tick,photocopy,200
d.jpg,1,U,000004,q1,1,,1=definite:filled,photocopy,200
d.jpg,1,U,000004,q2,2,,2=definite:filled,photocopy,200
e.jpg,1,U,000005,q1,1,,1=definite:filled,photocopy,200
";

    /// a: counted, q1 read MULTI (a vote lost, silently). b: counted, q1 read MULTI, which
    /// the truth accepts (a correction). c: review, q2 read wrong (not silent), and nothing in
    /// its truth needs a person (needless). d: invalid with a wrong answer (silent); e:
    /// rejected.
    const ANSWERS: &str = "source,page,unit,serial,question,answer,states,scores
scans/a.jpg,1,U,000001,q1,MULTI,1=marked 4=marked,1=0.200 4=0.500
scans/a.jpg,1,U,000001,q2,BLANK,1=empty 4=empty,1=0.000 4=0.000
scans/b.jpg,1,U,000002,q1,MULTI,1=marked 3=marked,1=0.400 3=0.500
scans/b.jpg,1,U,000002,q2,REVIEW,2=ambiguous,2=0.050
scans/c.jpg,1,U,000003,q1,1,1=marked,1=0.900
scans/c.jpg,1,U,000003,q2,4,4=marked 5=empty,4=0.300 5=0.010
scans/d.jpg,1,U,000004,q1,BLANK,1=empty,1=0.010
scans/d.jpg,1,U,000004,q2,2,2=marked,2=0.800
";

    const BALLOTS: &str = "source,page,status,reasons
scans/a.jpg,1,counted,multi_mark
scans/b.jpg,1,counted,multi_mark
scans/c.jpg,1,review,ambiguous_mark
scans/d.jpg,1,invalid,no_countable_answer
scans/e.jpg,1,rejected,no_qr
";

    fn batch() -> BTreeMap<String, Accuracy> {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        write("truth.csv", TRUTH);
        write("answers.csv", ANSWERS);
        write("ballots.csv", BALLOTS);
        compare_by_profile(
            &dir.path().join("truth.csv"),
            &dir.path().join("answers.csv"),
        )
        .expect("compare")
    }

    #[test]
    fn a_wrong_answer_on_a_counted_or_invalid_ballot_is_a_silent_error_and_listed() {
        let by = batch();
        let folded = &by["folded"];
        assert_eq!(folded.question_errors, 1);
        assert_eq!(folded.silent_errors, 1);
        assert_eq!(folded.ballots_with_silent_errors, 1);
        assert!(folded.worst[0]
            .1
            .starts_with("SILENT a.jpg#1 q1: read MULTI, expected 4"));
        let copy = &by["photocopy"];
        // c's wrong answer went to a person; d's did not.
        assert_eq!(copy.question_errors, 2);
        assert_eq!(copy.silent_errors, 1);
        assert!(copy.worst[0].1.starts_with("SILENT d.jpg#1 q1: read BLANK"));
    }

    #[test]
    fn review_answers_and_acceptable_answers_are_never_errors() {
        let folded = &batch()["folded"];
        // b: MULTI is acceptable for a correction, REVIEW is never an error.
        assert!(folded
            .worst
            .iter()
            .all(|w| !w.1.contains("b.jpg") || w.1.starts_with("review b.jpg#1 q2 option 2")));
        assert_eq!(folded.pages_to_review, 0);
    }

    #[test]
    fn needless_reviews_and_rejections_are_counted_per_family() {
        let by = batch();
        let copy = &by["photocopy"];
        assert_eq!(
            (copy.ballots, copy.pages_to_review, copy.needless_review),
            (3, 1, 1)
        );
        assert_eq!(copy.rejected.get("no_qr"), Some(&1));
        assert_eq!(copy.ballots_unread, 1);
        assert_eq!(
            copy.rejected_pages,
            vec![("e.jpg".to_string(), "1".to_string())]
        );
        // Box level, as before: c's empty box 4 read marked and its tick in 5 read empty, d's
        // fill in 1 read empty; a's empty box 1 read marked.
        assert_eq!(copy.errors, 3);
        assert_eq!(by["folded"].errors, 1);
        let all = compare(
            &{
                let d = tempfile::tempdir().expect("tempdir");
                std::fs::write(d.path().join("t.csv"), TRUTH).expect("write");
                std::fs::write(d.path().join("answers.csv"), ANSWERS).expect("write");
                std::fs::write(d.path().join("ballots.csv"), BALLOTS).expect("write");
                let t = d.path().join("t.csv");
                let r = compare(&t, &d.path().join("answers.csv")).expect("compare");
                assert_eq!((r.silent_errors, r.ballots, r.pages_rejected()), (2, 5, 1));
                t
            },
            Path::new("/nonexistent/answers.csv"),
        );
        assert!(all.is_err());
    }

    #[test]
    fn zbar_counts_only_the_rejected_pages_it_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pages = dir.path().join("pages.csv");
        std::fs::write(&pages, "source,zbar\nscans/e.jpg,CSAT|1|U|5\nf.jpg,\n").expect("write");
        let rejected = vec![
            ("e.jpg".to_string(), "1".to_string()),
            ("f.jpg".to_string(), "1".to_string()),
        ];
        assert_eq!(zbar_readable(&pages, &rejected), Some(1));
        std::fs::write(&pages, "source,other\ne.jpg,1\n").expect("write");
        assert_eq!(zbar_readable(&pages, &rejected), None);
    }
}
