//! Tallies and summaries: counts per unit, question and option, and the satisfaction rate per
//! unit rolled up along the registry (commune → district → city).
//!
//! Works on [`TallyBallot`]s, a plain view of a ballot that both a fresh scan and the `tally`
//! command (re-reading scan folders and applying auditors' decisions) can produce.

use std::collections::{BTreeMap, BTreeSet};

use crate::ballot::{Answer, Status};
use crate::form::Form;
use crate::i18n::{text, Lang};
use crate::output::CsvTable;
use crate::registry::Registry;

#[derive(Clone, Debug, PartialEq)]
pub struct TallyBallot {
    pub status: Status,
    pub unit: Option<String>,
    pub form: Option<(String, u32)>,
    /// (question id, answer) in form order.
    pub answers: Vec<(String, Answer)>,
}

/// Ids for programs, and beside them the words for people: the question's text and the
/// option's label as printed on the ballot (for `BLANK`, `MULTI` and `REVIEW`, what they mean).
pub const TALLIES_HEADER: [&str; 6] = [
    "unit",
    "question",
    "question_text",
    "option",
    "option_label",
    "count",
];

/// Running counts, one ballot at a time, so that a batch of any size is tallied without
/// holding its ballots.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// (unit, question, option or BLANK/MULTI/REVIEW) → ballots.
    counts: BTreeMap<(String, String, String), u64>,
    unit_forms: BTreeMap<String, BTreeSet<(String, u32)>>,
    /// Every unit and its ancestors ("" for pages without a readable identity).
    per_unit: BTreeMap<String, UnitSummary>,
}

impl Tally {
    pub fn of(ballots: &[TallyBallot], forms: &[Form], registry: &Registry) -> Tally {
        let mut t = Tally::default();
        for b in ballots {
            t.add(b, forms, registry);
        }
        t
    }

    pub fn add(&mut self, b: &TallyBallot, forms: &[Form], registry: &Registry) {
        self.add_to_tallies(b);
        self.add_to_summary(b, forms, registry);
    }

    fn add_to_tallies(&mut self, b: &TallyBallot) {
        let (Some(unit), Some(form)) = (&b.unit, &b.form) else {
            return;
        };
        self.unit_forms
            .entry(unit.clone())
            .or_default()
            .insert(form.clone());
        let counted = b.status == Status::Counted;
        let pending = b.status == Status::Review;
        for (q, a) in &b.answers {
            let keys: Vec<String> = match a {
                Answer::Chosen(ids) if counted => ids.clone(),
                Answer::Blank if counted => vec!["BLANK".into()],
                Answer::Multi if counted => vec!["MULTI".into()],
                Answer::Review if pending => vec!["REVIEW".into()],
                _ => vec![],
            };
            for k in keys {
                *self.counts.entry((unit.clone(), q.clone(), k)).or_default() += 1;
            }
        }
    }

    /// `tallies.csv`: for every unit with ballots, every question and option of its form(s),
    /// the number of counted ballots choosing it; then BLANK and MULTI (counted ballots that
    /// left the question blank or over-marked it) and REVIEW (ballots waiting for review whose
    /// answer to this question is unclear — not counted until an auditor decides).
    pub fn tallies_table(&self, forms: &[Form], registry: &Registry, lang: Lang) -> CsvTable {
        let special = |code: &str| text(lang, &format!("tallies.{code}"), &[]);
        let mut table = CsvTable::new(&TALLIES_HEADER);
        for unit in units_in_order(registry, self.unit_forms.keys()) {
            let mut seen_questions = BTreeSet::new();
            for (fid, ver) in &self.unit_forms[&unit] {
                let Some(form) = forms.iter().find(|f| &f.id == fid && f.version == *ver) else {
                    continue;
                };
                // Comment areas are read by a person, never counted.
                for q in form.questions.iter().filter(|q| q.is_choice()) {
                    if !seen_questions.insert(q.id.clone()) {
                        continue;
                    }
                    let options = q
                        .options
                        .iter()
                        .map(|o| (o.id.as_str(), o.label.clone()))
                        .chain(["BLANK", "MULTI", "REVIEW"].map(|c| (c, special(c))));
                    for (o, label) in options {
                        let n = self
                            .counts
                            .get(&(unit.clone(), q.id.clone(), o.to_string()))
                            .copied()
                            .unwrap_or(0);
                        table.row([
                            unit.clone(),
                            q.id.clone(),
                            q.text.clone(),
                            o.to_string(),
                            label,
                            n.to_string(),
                        ]);
                    }
                }
            }
        }
        table
    }
}

impl Tally {
    /// Counted ballots per (question, option or BLANK/MULTI) over every unit, and ballots in
    /// review per question under "REVIEW": the whole batch's answer to each question.
    pub fn totals(&self) -> BTreeMap<(String, String), u64> {
        let mut out = BTreeMap::new();
        for ((_, q, o), n) in &self.counts {
            *out.entry((q.clone(), o.clone())).or_default() += n;
        }
        out
    }
}

impl Tally {
    /// The forms (id, version) of the ballots tallied.
    pub fn forms_used(&self) -> BTreeSet<(String, u32)> {
        self.unit_forms.values().flatten().cloned().collect()
    }
}

/// Question ids that the forms used define differently (another text, other options), each
/// with the forms (`CSAT v1`) that define it. `tallies.csv` and `summary.csv` count a
/// question by its id alone, so such a question's counts mix two questions: the console says
/// so rather than let it pass silently.
pub fn differing_questions(
    forms: &[Form],
    used: &BTreeSet<(String, u32)>,
) -> Vec<(String, String)> {
    let mut by_id: BTreeMap<&str, Vec<(&Form, &crate::form::Question)>> = BTreeMap::new();
    for f in forms
        .iter()
        .filter(|f| used.contains(&(f.id.clone(), f.version)))
    {
        for q in f.questions.iter().filter(|q| q.is_choice()) {
            by_id.entry(q.id.as_str()).or_default().push((f, q));
        }
    }
    let same = |a: &crate::form::Question, b: &crate::form::Question| {
        a.text == b.text
            && a.kind == b.kind
            && a.options.len() == b.options.len()
            && a.options
                .iter()
                .zip(&b.options)
                .all(|(x, y)| x.id == y.id && x.label == y.label)
    };
    by_id
        .into_iter()
        .filter(|(_, defs)| defs.iter().any(|(_, q)| !same(defs[0].1, q)))
        .map(|(id, defs)| {
            let names: Vec<String> = defs
                .iter()
                .map(|(f, _)| format!("{} v{}", f.id, f.version))
                .collect();
            (id.to_string(), names.join(", "))
        })
        .collect()
}

/// `tallies.csv` of ballots held in memory (see [`Tally::tallies_table`]).
pub fn tallies_csv(
    ballots: &[TallyBallot],
    forms: &[Form],
    registry: &Registry,
    lang: Lang,
) -> CsvTable {
    Tally::of(ballots, forms, registry).tallies_table(forms, registry, lang)
}

/// Registry units first, in registry order; codes not in the registry after them, sorted.
fn units_in_order<'a>(
    registry: &Registry,
    present: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    let present: BTreeSet<&String> = present.collect();
    let mut out: Vec<String> = registry
        .units
        .iter()
        .filter(|u| present.contains(&u.code))
        .map(|u| u.code.clone())
        .collect();
    out.extend(
        present
            .into_iter()
            .filter(|c| registry.get(c).is_none())
            .cloned(),
    );
    out
}

#[derive(Clone, Debug, Default)]
struct UnitSummary {
    pages: u64,
    by_status: BTreeMap<Status, u64>,
    /// question id → (satisfied answers, valid answers)
    rates: BTreeMap<String, (u64, u64)>,
}

/// One unit's line of the summary, its numbers including every unit below it.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// Empty for pages whose identity could not be read.
    pub unit: String,
    pub name: String,
    pub parent: String,
    /// 0 for a root unit, 1 for its children…
    pub depth: usize,
    pub pages: u64,
    pub counted: u64,
    pub invalid: u64,
    pub review: u64,
    pub rejected: u64,
    pub duplicate: u64,
    /// (satisfied, valid answers) per rated question, in [`Summary::rated`] order.
    pub rates: Vec<(u64, u64)>,
    pub overall: (u64, u64),
    /// (issued, returned) when issued.csv files were given.
    pub returns: Option<(u64, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Questions with `satisfied` options, in form order.
    pub rated: Vec<String>,
    pub rows: Vec<SummaryRow>,
}

impl Tally {
    fn add_to_summary(&mut self, b: &TallyBallot, forms: &[Form], registry: &Registry) {
        let scopes: Vec<String> = match &b.unit {
            Some(u) => registry
                .ancestry(u)
                .into_iter()
                .map(str::to_string)
                .collect(),
            None => vec![String::new()],
        };
        let form = b
            .form
            .as_ref()
            .and_then(|(id, v)| forms.iter().find(|f| &f.id == id && f.version == *v));
        for scope in scopes {
            let s = self.per_unit.entry(scope).or_default();
            s.pages += 1;
            *s.by_status.entry(b.status).or_default() += 1;
            if b.status != Status::Counted {
                continue;
            }
            let Some(form) = form else { continue };
            for (qid, a) in &b.answers {
                let Some(q) = form.question(qid) else {
                    continue;
                };
                if q.satisfied.is_empty() {
                    continue;
                }
                if let Answer::Chosen(ids) = a {
                    let e = s.rates.entry(qid.clone()).or_default();
                    e.1 += 1;
                    if ids.iter().any(|id| q.satisfied.contains(id)) {
                        e.0 += 1;
                    }
                }
            }
        }
    }

    /// Rolls the ballots up the registry: units in registry order, then codes not in the
    /// registry, then unidentified pages.
    pub fn summary(
        &self,
        forms: &[Form],
        registry: &Registry,
        returns: Option<&BTreeMap<String, (u64, u64)>>,
    ) -> Summary {
        let mut rated: Vec<String> = Vec::new();
        for f in forms {
            for q in &f.questions {
                if !q.satisfied.is_empty() && !rated.contains(&q.id) {
                    rated.push(q.id.clone());
                }
            }
        }
        let mut per_unit = self.per_unit.clone();
        // Issued and returned ballots, rolled up the same way.
        let mut rolled: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        if let Some(returns) = returns {
            for (unit, &(issued, returned)) in returns {
                for scope in registry.ancestry(unit) {
                    let e = rolled.entry(scope.to_string()).or_default();
                    e.0 += issued;
                    e.1 += returned;
                }
            }
            for scope in rolled.keys() {
                per_unit.entry(scope.clone()).or_default();
            }
        }
        let mut order = units_in_order(registry, per_unit.keys().filter(|k| !k.is_empty()));
        if per_unit.contains_key("") {
            order.push(String::new());
        }
        let rows = order
            .into_iter()
            .map(|unit| {
                let s = &per_unit[&unit];
                let (name, parent) = match registry.get(&unit) {
                    Some(u) => (u.name.clone(), u.parent.clone().unwrap_or_default()),
                    None if unit.is_empty() => {
                        ("(no readable ballot identity)".into(), String::new())
                    }
                    None => ("(not in the units registry)".into(), String::new()),
                };
                let n = |st: Status| s.by_status.get(&st).copied().unwrap_or(0);
                let rates: Vec<(u64, u64)> = rated
                    .iter()
                    .map(|q| s.rates.get(q).copied().unwrap_or((0, 0)))
                    .collect();
                let overall = rates.iter().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
                SummaryRow {
                    depth: if unit.is_empty() {
                        0
                    } else {
                        registry.ancestry(&unit).len() - 1
                    },
                    returns: returns.map(|_| rolled.get(&unit).copied().unwrap_or((0, 0))),
                    pages: s.pages,
                    counted: n(Status::Counted),
                    invalid: n(Status::Invalid),
                    review: n(Status::Review),
                    rejected: n(Status::Rejected),
                    duplicate: n(Status::Duplicate),
                    rates,
                    overall,
                    unit,
                    name,
                    parent,
                }
            })
            .collect();
        Summary { rated, rows }
    }
}

/// The summary of ballots held in memory (see [`Tally::summary`]).
pub fn summarize(
    ballots: &[TallyBallot],
    forms: &[Form],
    registry: &Registry,
    returns: Option<&BTreeMap<String, (u64, u64)>>,
) -> Summary {
    Tally::of(ballots, forms, registry).summary(forms, registry, returns)
}

/// `summary.csv`: one row per unit with pages, its numbers including all units below it.
pub fn summary_csv(
    ballots: &[TallyBallot],
    forms: &[Form],
    registry: &Registry,
    returns: Option<&BTreeMap<String, (u64, u64)>>,
) -> CsvTable {
    summary_table(&summarize(ballots, forms, registry, returns))
}

pub fn summary_table(summary: &Summary) -> CsvTable {
    let mut header: Vec<String> = [
        "unit",
        "name",
        "parent",
        "pages",
        "counted",
        "invalid",
        "review",
        "rejected",
        "duplicate",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(summary.rated.iter().map(|q| format!("satisfaction_{q}")));
    header.push("satisfaction_overall".into());
    header.push("rated_answers".into());
    let with_returns = summary.rows.iter().any(|r| r.returns.is_some());
    if with_returns {
        header.extend(["issued", "returned", "return_rate"].map(String::from));
    }
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = CsvTable::new(&header_refs);
    for r in &summary.rows {
        let mut row = vec![
            r.unit.clone(),
            r.name.clone(),
            r.parent.clone(),
            r.pages.to_string(),
            r.counted.to_string(),
            r.invalid.to_string(),
            r.review.to_string(),
            r.rejected.to_string(),
            r.duplicate.to_string(),
        ];
        row.extend(r.rates.iter().map(|&(a, b)| percent(a, b)));
        row.push(percent(r.overall.0, r.overall.1));
        row.push(r.overall.1.to_string());
        if with_returns {
            let (issued, returned) = r.returns.unwrap_or((0, 0));
            row.push(issued.to_string());
            row.push(returned.to_string());
            row.push(percent(returned, issued));
        }
        table.row(row);
    }
    table
}

/// The two-sided 95 % normal quantile (z for the Wilson interval).
pub const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of `successes` out of `n` (as shares 0..1) at normal quantile
/// `z`; `None` when there are no answers. Used instead of the plain ±z·√(p(1-p)/n) because
/// that one collapses to a zero-width interval at 0 % or 100 % and leaves 0..1 on small units.
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (n, p) = (n as f64, successes as f64 / n as f64);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Where a unit stands against the threshold, judged on its whole 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// No rated answers at all.
    NoAnswers,
    /// Fewer answers than `--min-answers`: shown, never ranked or flagged.
    TooFew,
    /// The whole interval lies below the threshold.
    Below,
    /// The interval straddles the threshold: the data cannot tell.
    PossiblyBelow,
    /// The whole interval is at or above the threshold.
    AtOrAbove,
}

impl Standing {
    /// `overall` is (satisfied, rated answers); `threshold` in percent.
    pub fn of(overall: (u64, u64), threshold: f64, min_answers: u64) -> Standing {
        let Some((lo, hi)) = wilson(overall.0, overall.1, Z95) else {
            return Standing::NoAnswers;
        };
        let t = threshold / 100.0;
        if overall.1 < min_answers {
            Standing::TooFew
        } else if hi < t {
            Standing::Below
        } else if lo < t {
            Standing::PossiblyBelow
        } else {
            Standing::AtOrAbove
        }
    }

    /// The stable identifier written in machine-readable places.
    pub fn code(self) -> &'static str {
        match self {
            Standing::NoAnswers => "no_answers",
            Standing::TooFew => "too_few_answers",
            Standing::Below => "below",
            Standing::PossiblyBelow => "possibly_below",
            Standing::AtOrAbove => "at_or_above",
        }
    }
}

/// Ranks of the units that may be ranked (at least `min_answers` rated answers) among the
/// units of the same level (a commune against communes, not against its own district),
/// 1 = highest overall rate; equal rates share a rank. Keyed by unit code.
pub fn ranks(summary: &Summary, min_answers: u64) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let depths: BTreeSet<usize> = summary.rows.iter().map(|r| r.depth).collect();
    for depth in depths {
        let mut rated: Vec<(&str, u64, u64)> = summary
            .rows
            .iter()
            .filter(|r| r.depth == depth && !r.unit.is_empty())
            .filter(|r| r.overall.1 > 0 && r.overall.1 >= min_answers)
            .map(|r| (r.unit.as_str(), r.overall.0, r.overall.1))
            .collect();
        // Compared as fractions a/b > c/d ⇔ a·d > c·b, so equal rates tie exactly.
        rated.sort_by(|a, b| (b.1 * a.2).cmp(&(a.1 * b.2)));
        let mut prev: Option<(u64, u64, usize)> = None;
        for (i, &(unit, s, n)) in rated.iter().enumerate() {
            let rank = match prev {
                Some((ps, pn, k)) if ps * n == s * pn => k,
                _ => i + 1,
            };
            prev = Some((s, n, rank));
            out.insert(unit.to_string(), rank);
        }
    }
    out
}

/// A rate as a percentage with one decimal; empty when there is nothing to rate.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        String::new()
    } else {
        format!("{:.1}", part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_defined_differently_by_two_versions_is_named() {
        let v1 = Form::default_form();
        let mut v3 = Form::default_form();
        v3.version = 3;
        let q7 = v3.questions.iter_mut().find(|q| q.id == "q7").expect("q7");
        q7.text = "Cán bộ có yêu cầu nộp thêm giấy tờ ngoài quy định không?".into();
        let forms = vec![v1, Form::standard_v2(), v3];
        let used = |versions: &[u32]| -> BTreeSet<(String, u32)> {
            versions.iter().map(|&v| ("CSAT".to_string(), v)).collect()
        };
        // The standard versions 1 and 2 ask the same questions: nothing to say.
        assert_eq!(differing_questions(&forms, &used(&[1, 2])), vec![]);
        assert_eq!(
            differing_questions(&forms, &used(&[1, 2, 3])),
            vec![("q7".to_string(), "CSAT v1, CSAT v2, CSAT v3".to_string())]
        );
        // A version not among the ballots tallied does not count.
        assert_eq!(differing_questions(&forms, &used(&[2])), vec![]);
    }

    fn ballot(unit: &str, status: Status, q1: &str) -> TallyBallot {
        TallyBallot {
            status,
            unit: Some(unit.into()),
            form: Some(("CSAT".into(), 1)),
            answers: vec![("q1".into(), Answer::from_text(q1))],
        }
    }

    #[test]
    fn rates_roll_up_to_parents_and_count_only_counted_ballots() {
        let reg = Registry::default_units();
        let forms = vec![Form::default_form()];
        let ballots = vec![
            ballot("P-ANBIEN", Status::Counted, "5"),
            ballot("P-ANBIEN", Status::Counted, "2"),
            ballot("P-CATDAI", Status::Counted, "4"),
            ballot("P-CATDAI", Status::Review, "REVIEW"),
        ];
        let text = String::from_utf8(summary_csv(&ballots, &forms, &reg, None).into_bytes())
            .expect("utf8");
        let row = |code: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{code},")))
                .unwrap_or_else(|| panic!("no row for {code} in {text}"))
                .to_string()
        };
        assert!(
            row("P-ANBIEN").contains(",2,2,0,0,0,0,50.0,"),
            "{}",
            row("P-ANBIEN")
        );
        assert!(
            row("Q-LECHAN").contains(",4,3,0,1,0,0,66.7,"),
            "{}",
            row("Q-LECHAN")
        );
        assert!(row("CATP").contains(",4,3,0,1,0,0,66.7,"));
        let t = String::from_utf8(tallies_csv(&ballots, &forms, &reg, Lang::Vi).into_bytes())
            .expect("utf8");
        let q1 = &forms[0].questions[0];
        let label5 = &q1
            .options
            .iter()
            .find(|o| o.id == "5")
            .expect("option 5")
            .label;
        assert!(
            t.contains(&format!("P-ANBIEN,q1,\"{}\",5,{label5},1", q1.text)),
            "{t}"
        );
        assert!(t.contains(&format!(
            "P-CATDAI,q1,\"{}\",REVIEW,chờ kiểm tra (chưa tính),1",
            q1.text
        )));
        let en = String::from_utf8(tallies_csv(&ballots, &forms, &reg, Lang::En).into_bytes())
            .expect("utf8");
        assert!(en.contains(",BLANK,no answer,0"), "{en}");
    }

    #[test]
    fn wilson_interval_matches_statsmodels() {
        // Reference: statsmodels 0.15.0,
        // proportion_confint(k, n, alpha=0.05, method="wilson"), printed to 10 decimals.
        let cases: [(u64, u64, f64, f64); 8] = [
            (0, 10, 0.0, 0.2775327999),
            (10, 10, 0.7224672001, 1.0),
            (1, 2, 0.0945312057, 0.9054687943),
            (26, 57, 0.3337260558, 0.5840931402),
            (81, 163, 0.4211352328, 0.5728710531),
            (24, 30, 0.6269430359, 0.9049489282),
            (5, 20, 0.1118617014, 0.4687008776),
            (160, 200, 0.7391448134, 0.8495479907),
        ];
        for (k, n, lo, hi) in cases {
            let (l, h) = wilson(k, n, Z95).expect("answers");
            assert!(
                (l - lo).abs() < 1e-9 && (h - hi).abs() < 1e-9,
                "{k}/{n}: got {l} .. {h}, statsmodels {lo} .. {hi}"
            );
        }
        assert_eq!(wilson(0, 0, Z95), None);
    }

    #[test]
    fn a_unit_is_below_only_when_its_whole_interval_is() {
        // 24/30 = 80 % with interval 62.7–90.5 %: straddles a 75 % threshold.
        assert_eq!(Standing::of((24, 30), 75.0, 30), Standing::PossiblyBelow);
        // 81/163 = 49.7 %, interval 42.1–57.3 %: wholly below 80 %, wholly above 40 %.
        assert_eq!(Standing::of((81, 163), 80.0, 30), Standing::Below);
        assert_eq!(Standing::of((81, 163), 40.0, 30), Standing::AtOrAbove);
        // 0/10 would be "below" on its numbers, but 10 answers are too few to judge.
        assert_eq!(Standing::of((0, 10), 80.0, 30), Standing::TooFew);
        assert_eq!(Standing::of((0, 10), 80.0, 10), Standing::Below);
        assert_eq!(Standing::of((0, 0), 80.0, 0), Standing::NoAnswers);
    }

    #[test]
    fn only_units_with_enough_answers_are_ranked_among_their_peers() {
        let row = |unit: &str, depth: usize, overall: (u64, u64)| SummaryRow {
            unit: unit.into(),
            name: unit.into(),
            parent: String::new(),
            depth,
            pages: 0,
            counted: 0,
            invalid: 0,
            review: 0,
            rejected: 0,
            duplicate: 0,
            rates: vec![],
            overall,
            returns: None,
        };
        let summary = Summary {
            rated: vec![],
            rows: vec![
                row("CITY", 0, (100, 150)),
                row("A", 1, (40, 50)),
                row("B", 1, (1, 1)),
                row("C", 1, (32, 40)),
                row("D", 1, (27, 60)),
            ],
        };
        let r = ranks(&summary, 30);
        // A and C are both 80 %: they share first place; D is third; B (one answer) unranked.
        assert_eq!(r.get("A"), Some(&1));
        assert_eq!(r.get("C"), Some(&1));
        assert_eq!(r.get("D"), Some(&3));
        assert_eq!(r.get("B"), None);
        assert_eq!(r.get("CITY"), Some(&1));
    }
}
