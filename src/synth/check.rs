//! Comparing a scan's answers with a synthetic batch's truth, box by box: the accuracy
//! benchmark's and the accuracy tests' measure.
//!
//! An **error** is a definite mark read as empty, or an empty box read as marked. A definite
//! mark or an empty box read as ambiguous is not an error but a cost: a person looks at it.
//! Deliberately marginal marks may be read any way.

use std::collections::BTreeMap;
use std::path::Path;

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
    /// The highest fill score of an empty box and the lowest of a definite mark: how much room
    /// the thresholds have on this batch.
    pub max_empty_fill: f64,
    pub min_definite_fill: f64,
    /// The worst cases: (how bad, description).
    pub worst: Vec<(f64, String)>,
}

/// Reads `truth.csv` and the scan's `answers.csv` and compares them.
pub fn compare(truth_csv: &Path, answers_csv: &Path) -> Result<Accuracy, String> {
    let (th, truth) = output::read_csv(truth_csv)?;
    let (ah, answers) = output::read_csv(answers_csv)?;
    let tcol = |n: &str| {
        th.iter()
            .position(|c| c == n)
            .ok_or(format!("truth.csv: no {n}"))
    };
    let acol = |n: &str| {
        ah.iter()
            .position(|c| c == n)
            .ok_or(format!("answers.csv: no {n}"))
    };
    let (ts, tp, tq, tm) = (
        tcol("source")?,
        tcol("page")?,
        tcol("question")?,
        tcol("marks")?,
    );
    let (a_s, a_p, a_q, a_st, a_sc) = (
        acol("source")?,
        acol("page")?,
        acol("question")?,
        acol("states")?,
        acol("scores")?,
    );
    // Scan sources may be written relative to another folder: match on the file name.
    let name = |s: &str| {
        Path::new(s)
            .file_name()
            .map_or(s.to_string(), |n| n.to_string_lossy().to_string())
    };
    let mut read: BTreeMap<(String, String, String), (String, String)> = BTreeMap::new();
    for r in &answers {
        let g = |i: usize| r.get(i).unwrap_or("").to_string();
        read.insert((name(&g(a_s)), g(a_p), g(a_q)), (g(a_st), g(a_sc)));
    }
    let mut acc = Accuracy {
        min_definite_fill: f64::INFINITY,
        ..Accuracy::default()
    };
    let mut ballots_seen = std::collections::BTreeSet::new();
    let mut unread = std::collections::BTreeSet::new();
    for r in &truth {
        let g = |i: usize| r.get(i).unwrap_or("").to_string();
        let key = (name(&g(ts)), g(tp), g(tq));
        ballots_seen.insert((key.0.clone(), key.1.clone()));
        let Some((states, scores)) = read.get(&key) else {
            unread.insert((key.0.clone(), key.1.clone()));
            continue;
        };
        let marks = g(tm);
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
    acc.ballots = ballots_seen.len() as u64;
    acc.ballots_unread = unread.len() as u64;
    acc.worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    acc.worst.truncate(10);
    Ok(acc)
}
