//! Tallies and summaries: counts per unit, question and option, and the satisfaction rate per
//! unit rolled up along the registry (commune → district → city).
//!
//! Works on [`TallyBallot`]s, a plain view of a ballot that both a fresh scan and the `tally`
//! command (re-reading scan folders and applying auditors' decisions) can produce.

use std::collections::{BTreeMap, BTreeSet};

use crate::ballot::{Answer, Status};
use crate::form::{Form, Forms, Question};
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
pub const TALLIES_HEADER: [&str; 8] = [
    "unit",
    "form",
    "version",
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
    /// (unit, form id, version, question, option or BLANK/MULTI/REVIEW) → ballots: counted
    /// per form version, merged only when written out (see [`RollupQuestions`]).
    counts: BTreeMap<(String, FormKey, String, String), u64>,
    unit_forms: BTreeMap<String, BTreeSet<(String, u32)>>,
    /// Every unit and its ancestors ("" for pages without a readable identity).
    per_unit: BTreeMap<String, UnitSummary>,
}

impl Tally {
    pub fn of(ballots: &[TallyBallot], forms: &Forms, registry: &Registry) -> Tally {
        let mut t = Tally::default();
        for b in ballots {
            t.add(b, forms, registry);
        }
        t
    }

    pub fn add(&mut self, b: &TallyBallot, forms: &Forms, registry: &Registry) {
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
        let counted = b.status.is_counted();
        let pending = b.status.waits_for_decision();
        for (q, a) in &b.answers {
            let keys: Vec<String> = match a {
                Answer::Chosen(ids) if counted => ids.clone(),
                Answer::Blank if counted => vec!["BLANK".into()],
                Answer::Multi if counted => vec!["MULTI".into()],
                Answer::Review if pending => vec!["REVIEW".into()],
                _ => vec![],
            };
            for k in keys {
                *self
                    .counts
                    .entry((unit.clone(), form.clone(), q.clone(), k))
                    .or_default() += 1;
            }
        }
    }

    /// `tallies.csv`: for every unit with ballots, every question and option of its form(s),
    /// the number of counted ballots choosing it; then BLANK and MULTI (counted ballots that
    /// left the question blank or over-marked it) and REVIEW (ballots waiting for review whose
    /// answer to this question is unclear — not counted until an auditor decides). `form` and
    /// `version` say whose ballots a row counts: versions asking a question alike share its rows
    /// (`1;2`), versions asking it differently have rows of their own under another name (see
    /// [`RollupQuestions`]).
    pub fn tallies_table(&self, forms: &Forms, registry: &Registry, lang: Lang) -> CsvTable {
        let special = |code: &str| text(lang, &format!("tallies.{code}"), &[]);
        let questions = self.questions(forms);
        let mut table = CsvTable::new(&TALLIES_HEADER);
        for unit in units_in_order(registry, self.unit_forms.keys()) {
            let used = &self.unit_forms[&unit];
            // Comment areas are read by a person, never counted.
            for rq in questions.list.iter().filter(|rq| rq.question.is_choice()) {
                let versions: Vec<u32> = rq
                    .versions
                    .iter()
                    .copied()
                    .filter(|v| used.contains(&(rq.form.clone(), *v)))
                    .collect();
                if versions.is_empty() {
                    continue;
                }
                let q = &rq.question;
                let options = q
                    .options
                    .iter()
                    .map(|o| (o.id.as_str(), o.label.clone()))
                    .chain(["BLANK", "MULTI", "REVIEW"].map(|c| (c, special(c))));
                for (o, label) in options {
                    let n: u64 = versions
                        .iter()
                        .map(|v| {
                            let key =
                                (unit.clone(), (rq.form.clone(), *v), rq.id.clone(), o.into());
                            self.counts.get(&key).copied().unwrap_or(0)
                        })
                        .sum();
                    table.row([
                        unit.clone(),
                        rq.form.clone(),
                        join_versions(&versions),
                        q.id.clone(),
                        q.text.clone(),
                        o.to_string(),
                        label,
                        n.to_string(),
                    ]);
                }
            }
        }
        table
    }

    /// The questions of the forms tallied as the roll-ups count them.
    pub fn questions(&self, forms: &Forms) -> RollupQuestions {
        RollupQuestions::of(forms, &self.forms_used())
    }
}

impl Tally {
    /// Counted ballots per (question, option or BLANK/MULTI) over every unit, and ballots in
    /// review per question under "REVIEW": the whole batch's answer to each question, under
    /// the names of [`RollupQuestions::key`].
    pub fn totals(&self, questions: &RollupQuestions) -> BTreeMap<(String, String), u64> {
        let mut out = BTreeMap::new();
        for ((_, (form, version), q, o), n) in &self.counts {
            if let Some(key) = questions.key(form, *version, q) {
                *out.entry((key.to_string(), o.clone())).or_default() += n;
            }
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

/// A form and its version, as a ballot's QR code names them.
pub type FormKey = (String, u32);

/// One question as the roll-ups (parent units, the report, the workbook, the console) count
/// it: the same question of several versions of a form when they ask it alike, or one
/// version's own question when another version asks something else under the same id.
#[derive(Clone, Debug, PartialEq)]
pub struct RollupQuestion {
    pub form: String,
    /// The versions whose answers it adds up, ascending.
    pub versions: Vec<u32>,
    /// The question id on the ballot.
    pub id: String,
    /// The definition, with `id` set to the roll-up's name for it (see
    /// [`RollupQuestions::key`]) and, when that name is not the ballot's id, the text followed
    /// by the form and versions, so that a reader sees which question it is.
    pub question: Question,
}

/// The roll-up questions of the forms tallied, in form order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RollupQuestions {
    pub list: Vec<RollupQuestion>,
    index: BTreeMap<(FormKey, String), usize>,
}

impl RollupQuestions {
    /// Versions of one form share a question only when its id, text, options (ids and labels)
    /// and satisfied options are all the same; otherwise each group of alike versions gets a
    /// name of its own, `q7_v1` (or `q7_v1_v2`). Different forms never share one: a question
    /// id used by two forms is named with its form, `KHAC_q1`. `used` empty: every form given
    /// (a tally of no ballots still has its columns).
    pub fn of(forms: &Forms, used: &BTreeSet<FormKey>) -> RollupQuestions {
        let chosen: Vec<&Form> = forms
            .iter()
            .filter(|f| used.is_empty() || used.contains(&(f.id.clone(), f.version)))
            .collect();
        // Form ids in the order first given, each with its versions ascending.
        let mut ids: Vec<&str> = Vec::new();
        for f in &chosen {
            if !ids.contains(&f.id.as_str()) {
                ids.push(&f.id);
            }
        }
        let mut forms_of_question: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for f in &chosen {
            for q in &f.questions {
                forms_of_question.entry(&q.id).or_default().insert(&f.id);
            }
        }
        let mut out = RollupQuestions::default();
        for id in ids {
            let mut versions: Vec<&Form> = chosen.iter().copied().filter(|f| f.id == id).collect();
            versions.sort_by_key(|f| f.version);
            versions.dedup_by_key(|f| f.version);
            // Question ids in the order they first appear, version by version.
            let mut qids: Vec<&str> = Vec::new();
            for f in &versions {
                for q in &f.questions {
                    if !qids.contains(&q.id.as_str()) {
                        qids.push(&q.id);
                    }
                }
            }
            for qid in qids {
                // Groups of versions asking this question alike.
                let mut groups: Vec<(Vec<u32>, &Question)> = Vec::new();
                for f in &versions {
                    let Some(q) = f.question(qid) else { continue };
                    match groups.iter_mut().find(|(_, g)| alike(g, q)) {
                        Some((vs, _)) => vs.push(f.version),
                        None => groups.push((vec![f.version], q)),
                    }
                }
                let shared = forms_of_question.get(qid).is_some_and(|s| s.len() > 1);
                let base = if shared {
                    format!("{id}_{qid}")
                } else {
                    qid.to_string()
                };
                let split = groups.len() > 1;
                for (vs, q) in groups {
                    let mut question = q.clone();
                    question.id = if split {
                        let tags: Vec<String> = vs.iter().map(|v| format!("v{v}")).collect();
                        format!("{base}_{}", tags.join("_"))
                    } else {
                        base.clone()
                    };
                    if split || shared {
                        let tags: Vec<String> = vs.iter().map(|v| format!("v{v}")).collect();
                        question.text = format!("{} ({id} {})", q.text, tags.join(", "));
                    }
                    for v in &vs {
                        out.index
                            .insert(((id.to_string(), *v), qid.to_string()), out.list.len());
                    }
                    out.list.push(RollupQuestion {
                        form: id.to_string(),
                        versions: vs,
                        id: qid.to_string(),
                        question,
                    });
                }
            }
        }
        out
    }

    /// The roll-up's name for question `qid` of form `form` version `version`: the id itself,
    /// `q7_v1` where versions ask it differently, `KHAC_q1` where forms share the id.
    pub fn key(&self, form: &str, version: u32, qid: &str) -> Option<&str> {
        self.index
            .get(&((form.to_string(), version), qid.to_string()))
            .map(|&i| self.list[i].question.id.as_str())
    }

    /// The questions counted apart because their versions ask them differently, each named
    /// with its versions (`q7_v1 = CSAT v1`), for the console to say once.
    pub fn kept_apart(&self) -> Vec<String> {
        self.list
            .iter()
            .filter(|rq| rq.question.id != rq.id)
            .map(|rq| {
                let tags: Vec<String> = rq.versions.iter().map(|v| format!("v{v}")).collect();
                format!("{} = {} {}", rq.question.id, rq.form, tags.join(", "))
            })
            .collect()
    }

    /// Every question once, as the roll-ups count it.
    pub fn questions(&self) -> Vec<Question> {
        self.list.iter().map(|rq| rq.question.clone()).collect()
    }
}

/// The same question: same id, kind, text, options (ids and labels) and satisfied options.
fn alike(a: &Question, b: &Question) -> bool {
    a.id == b.id
        && a.text == b.text
        && a.kind == b.kind
        && a.satisfied == b.satisfied
        && a.options.len() == b.options.len()
        && a.options
            .iter()
            .zip(&b.options)
            .all(|(x, y)| x.id == y.id && x.label == y.label)
}

/// Versions as written in the `version` columns: `1`, `1;2`.
fn join_versions(versions: &[u32]) -> String {
    let v: Vec<String> = versions.iter().map(u32::to_string).collect();
    v.join(";")
}

/// `tallies.csv` of ballots held in memory (see [`Tally::tallies_table`]).
// Only the tests count ballots held in memory; scans and tallies stream them (`Tally::add`).
#[cfg(test)]
pub(crate) fn tallies_csv(
    ballots: &[TallyBallot],
    forms: &Forms,
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
    let present: BTreeSet<&str> = present.map(String::as_str).collect();
    registry
        .in_order(present)
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[derive(Clone, Debug, Default)]
struct UnitSummary {
    pages: u64,
    by_status: BTreeMap<Status, u64>,
    /// (form, question id) → (satisfied answers, valid answers)
    rates: BTreeMap<(FormKey, String), (u64, u64)>,
    /// The forms of its ballots.
    forms: BTreeSet<FormKey>,
}

/// One unit's line of the summary, its numbers including every unit below it.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// Empty for pages whose identity could not be read.
    pub unit: String,
    pub name: String,
    pub parent: String,
    /// The forms (id, version) of the ballots it holds.
    pub forms: BTreeSet<FormKey>,
    /// 0 for a root unit, 1 for its children…
    pub depth: usize,
    pub pages: u64,
    /// Read and counted, or keyed by an auditor (`keyed`): every ballot whose answers count.
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
    /// Questions with `satisfied` options, in form order, named as the roll-ups name them
    /// ([`RollupQuestions::key`]).
    pub rated: Vec<String>,
    pub rows: Vec<SummaryRow>,
}

impl Tally {
    fn add_to_summary(&mut self, b: &TallyBallot, forms: &Forms, registry: &Registry) {
        let scopes: Vec<String> = match &b.unit {
            Some(u) => registry
                .ancestry(u)
                .into_iter()
                .map(str::to_string)
                .collect(),
            None => vec![String::new()],
        };
        let form = forms.of(b.form.as_ref());
        for scope in scopes {
            let s = self.per_unit.entry(scope).or_default();
            s.pages += 1;
            *s.by_status.entry(b.status).or_default() += 1;
            if let Some(f) = &b.form {
                s.forms.insert(f.clone());
            }
            if !b.status.is_counted() {
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
                    let key = ((form.id.clone(), form.version), qid.clone());
                    let e = s.rates.entry(key).or_default();
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
        forms: &Forms,
        registry: &Registry,
        returns: Option<&BTreeMap<String, (u64, u64)>>,
    ) -> Summary {
        let questions = self.questions(forms);
        let rated: Vec<String> = questions
            .list
            .iter()
            .filter(|rq| !rq.question.satisfied.is_empty())
            .map(|rq| rq.question.id.clone())
            .collect();
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
                let mut by_key: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
                for (((form, version), qid), &(a, b)) in &s.rates {
                    if let Some(key) = questions.key(form, *version, qid) {
                        let e = by_key.entry(key).or_default();
                        e.0 += a;
                        e.1 += b;
                    }
                }
                let rates: Vec<(u64, u64)> = rated
                    .iter()
                    .map(|q| by_key.get(q.as_str()).copied().unwrap_or((0, 0)))
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
                    counted: n(Status::Counted) + n(Status::Keyed),
                    invalid: n(Status::Invalid),
                    review: n(Status::Review),
                    rejected: n(Status::Rejected),
                    duplicate: n(Status::Duplicate),
                    rates,
                    overall,
                    forms: s.forms.clone(),
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
// Only the tests count ballots held in memory; scans and tallies stream them (`Tally::add`).
#[cfg(test)]
pub(crate) fn summarize(
    ballots: &[TallyBallot],
    forms: &Forms,
    registry: &Registry,
    returns: Option<&BTreeMap<String, (u64, u64)>>,
) -> Summary {
    Tally::of(ballots, forms, registry).summary(forms, registry, returns)
}

/// `summary.csv`: one row per unit with pages, its numbers including all units below it.
// Only the tests count ballots held in memory; scans and tallies stream them (`Tally::add`).
#[cfg(test)]
pub(crate) fn summary_csv(
    ballots: &[TallyBallot],
    forms: &Forms,
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
        "form",
        "version",
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
        let (form, version) = forms_cells(&r.forms);
        let mut row = vec![
            r.unit.clone(),
            r.name.clone(),
            r.parent.clone(),
            form,
            version,
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

/// summary.csv's `form` and `version` cells: the form id(s) and the versions, `;`-separated
/// (`CSAT`, `1;2`); a row holding several forms names each version with its form
/// (`CSAT;KHAC`, `CSAT 1;CSAT 2;KHAC 1`).
pub fn forms_cells(forms: &BTreeSet<FormKey>) -> (String, String) {
    let mut ids: Vec<&str> = forms.iter().map(|(id, _)| id.as_str()).collect();
    ids.dedup();
    let versions: Vec<String> = forms
        .iter()
        .map(|(id, v)| {
            if ids.len() > 1 {
                format!("{id} {v}")
            } else {
                v.to_string()
            }
        })
        .collect();
    (ids.join(";"), versions.join(";"))
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

    /// CSAT v1 and a v3 whose q7 asks about extra papers instead (another text).
    fn forms_with_a_different_q7() -> Forms {
        let mut v3 = Form::default_form();
        v3.version = 3;
        let q7 = v3.questions.iter_mut().find(|q| q.id == "q7").expect("q7");
        q7.text = "Cán bộ có yêu cầu nộp thêm giấy tờ ngoài quy định không?".into();
        Forms::from(vec![Form::default_form(), Form::standard_v2(), v3])
    }

    fn answered(unit: &str, version: u32, q7: &str) -> TallyBallot {
        TallyBallot {
            status: Status::Counted,
            unit: Some(unit.into()),
            form: Some(("CSAT".into(), version)),
            answers: vec![
                ("q1".into(), Answer::from_text("5")),
                ("q7".into(), Answer::from_text(q7)),
            ],
        }
    }

    fn csv(t: CsvTable) -> Vec<Vec<String>> {
        let bytes = t.into_bytes();
        let text = String::from_utf8(bytes).expect("utf8");
        csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| r.expect("row").iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn versions_asking_a_question_differently_are_counted_apart() {
        let forms = forms_with_a_different_q7();
        let reg = Registry::default_units();
        // Two communes of one district: v1 answers q7 "5", v3 answers q7 "1".
        let ballots = vec![
            answered("P-ANBIEN", 1, "5"),
            answered("P-CATDAI", 3, "1"),
            answered("P-CATDAI", 3, "1"),
        ];
        let tally = Tally::of(&ballots, &forms, &reg);
        let questions = tally.questions(&forms);
        assert_eq!(questions.key("CSAT", 1, "q7"), Some("q7_v1"));
        assert_eq!(questions.key("CSAT", 3, "q7"), Some("q7_v3"));
        assert_eq!(
            questions.key("CSAT", 3, "q1"),
            Some("q1"),
            "q1 is alike: merged"
        );
        assert_eq!(
            questions.kept_apart(),
            vec!["q7_v1 = CSAT v1".to_string(), "q7_v3 = CSAT v3".to_string()]
        );
        // The district's roll-up keeps the two q7 apart: 100 % on v1's, 0 % on v3's, where a
        // merged q7 would have said 33.3 %.
        let summary = tally.summary(&forms, &reg, None);
        assert!(
            summary.rated.contains(&"q7_v1".to_string()),
            "{:?}",
            summary.rated
        );
        let district = summary
            .rows
            .iter()
            .find(|r| r.unit == "Q-LECHAN")
            .expect("district");
        let rate = |key: &str| {
            let i = summary.rated.iter().position(|q| q == key).expect("rated");
            district.rates[i]
        };
        assert_eq!(rate("q7_v1"), (1, 1));
        assert_eq!(rate("q7_v3"), (0, 2));
        assert_eq!(rate("q1"), (3, 3));
        let rows = csv(summary_table(&summary));
        let lechan = rows.iter().find(|r| r[0] == "Q-LECHAN").expect("row");
        assert_eq!((lechan[3].as_str(), lechan[4].as_str()), ("CSAT", "1;3"));
        // The whole batch, as the report and the console see it.
        let totals = tally.totals(&questions);
        assert_eq!(
            totals.get(&("q7_v3".to_string(), "1".to_string())),
            Some(&2)
        );
        assert_eq!(
            totals.get(&("q7_v1".to_string(), "5".to_string())),
            Some(&1)
        );
        assert_eq!(totals.get(&("q7".to_string(), "1".to_string())), None);
        // tallies.csv: each row says its form and versions; v3's q7 under its own name.
        let rows = csv(tally.tallies_table(&forms, &reg, Lang::Vi));
        let q7 = rows
            .iter()
            .find(|r| r[0] == "P-CATDAI" && r[3] == "q7_v3" && r[5] == "1")
            .expect("v3 q7 row");
        assert_eq!(
            (q7[1].as_str(), q7[2].as_str(), q7[7].as_str()),
            ("CSAT", "3", "2")
        );
        assert!(q7[4].starts_with("Cán bộ có yêu cầu nộp thêm"), "{q7:?}");
        assert!(!rows.iter().any(|r| r[3] == "q7"), "no merged q7 row");
    }

    #[test]
    fn versions_asking_alike_share_their_questions_and_forms_never_do() {
        let mut forms = forms_with_a_different_q7();
        let reg = Registry::default_units();
        // The standard v1 and v2 ask the same questions: one q7, counted over both.
        let ballots = vec![answered("P-ANBIEN", 1, "5"), answered("P-ANBIEN", 2, "4")];
        let tally = Tally::of(&ballots, &forms, &reg);
        let questions = tally.questions(&forms);
        assert_eq!(questions.key("CSAT", 2, "q7"), Some("q7"));
        assert!(questions.kept_apart().is_empty());
        let rows = csv(tally.tallies_table(&forms, &reg, Lang::Vi));
        let q7 = rows
            .iter()
            .filter(|r| r[3] == "q7" && (r[5] == "4" || r[5] == "5"))
            .map(|r| (r[2].as_str(), r[7].as_str()))
            .collect::<Vec<_>>();
        assert_eq!(q7, vec![("1;2", "1"), ("1;2", "1")]);
        // Another form with the same question ids: never merged with CSAT.
        let mut other = Form::default_form();
        other.id = "KHAC".into();
        forms.insert(other);
        let mut b = answered("P-ANBIEN", 1, "5");
        b.form = Some(("KHAC".into(), 1));
        let tally = Tally::of(&[answered("P-ANBIEN", 1, "1"), b], &forms, &reg);
        let questions = tally.questions(&forms);
        assert_eq!(questions.key("CSAT", 1, "q7"), Some("CSAT_q7"));
        assert_eq!(questions.key("KHAC", 1, "q7"), Some("KHAC_q7"));
        let summary = tally.summary(&forms, &reg, None);
        let rows = csv(summary_table(&summary));
        let anbien = rows.iter().find(|r| r[0] == "P-ANBIEN").expect("row");
        assert_eq!(
            (anbien[3].as_str(), anbien[4].as_str()),
            ("CSAT;KHAC", "CSAT 1;KHAC 1")
        );
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
        let forms = Forms::from(vec![Form::default_form()]);
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
            t.contains(&format!("P-ANBIEN,CSAT,1,q1,\"{}\",5,{label5},1", q1.text)),
            "{t}"
        );
        assert!(t.contains(&format!(
            "P-CATDAI,CSAT,1,q1,\"{}\",REVIEW,chờ kiểm tra (chưa tính),1",
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
            forms: BTreeSet::new(),
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
