//! The auditors' side, and the `tally` command that brings it together: scan folders read
//! back (`scan_folder`), the decisions file (`decisions`), each decision checked against the
//! ballot it names (`check`, with `keyed` for pages keyed by hand), then applied (`apply`)
//! with an audit trail (`trail`), and issued ballots reconciled against returned ones
//! (`reconcile`).
//!
//! Every decision is checked against the ballot it names; anything that does not fit (an
//! unknown ballot, an option the question does not have, two different decisions for the same
//! question) stops the re-tally: every row is checked before any is applied, and the error
//! names every refused row at once — nothing is applied silently, or in part.

mod apply;
mod check;
mod decisions;
mod keyed;
mod reconcile;
mod scan_folder;
mod trail;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

// What other crates may call: reading a decisions file and a scan folder back, and applying
// the one to the other. The rest serves `tally` and `review` inside the crate.
pub use apply::apply_decisions;
pub(crate) use apply::reject_voided;
use apply::Applied;
pub use check::waiting_for_decision;
pub(crate) use check::{answers_open_to_decisions, can_be_keyed, DecisionCheck};
pub use decisions::{load_decisions, read_decisions, DecisionRow, DECISIONS_HEADER, KEYED};
pub(crate) use decisions::{Decision, WHOLE_BALLOT};
pub(crate) use reconcile::{ranges, reconcile, reconciliation_csv};
pub use scan_folder::{load_scan, ScanFolderError};
pub(crate) use trail::trail_csv;
pub use trail::TrailEntry;

use crate::ballot::Status;
use crate::form::Forms;
use crate::i18n::{text, Lang, Msg};
use crate::output;
use crate::registry::Registry;

/// What `ballotscan tally` needs.
pub(crate) struct TallyRequest<'a> {
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

pub(crate) struct TallyReport {
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
pub(crate) fn tally(req: &TallyRequest) -> anyhow::Result<TallyReport> {
    use crate::report::{self, ScanSettings};
    // Every scan folder is found before the results folder is touched: a mistyped name
    // writes nothing, not even a lock file.
    let mut scan_dirs = Vec::new();
    // Before scan.json is read, the language asked for (or Vietnamese) speaks.
    let asked = req.lang.unwrap_or_default();
    let cannot_open = |d: &Path| text(asked, "tally.cannot_open_scan", &[("dir", &d.display())]);
    for d in req.scan_dirs {
        let dir = match crate::results::canonical(d) {
            Ok(dir) => dir,
            // A swap killed between its two renames: finish it, then read the folder.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && crate::results::present(d) => {
                drop(crate::results::lock_for_reading(d)?);
                crate::results::canonical(d).with_context(|| cannot_open(d))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(text(
                asked,
                "tally.no_scan_folder",
                &[("dir", &d.display())]
            )),
            Err(e) => return Err(e).with_context(|| cannot_open(d)),
        };
        scan_dirs.push((d, dir));
    }
    let out = crate::results::ResultsFolder::begin(req.out)?;
    let mut locks = Vec::new();
    for (d, dir) in scan_dirs {
        if dir.starts_with(out.path()) || out.path().starts_with(&dir) {
            bail!(text(
                asked,
                "tally.out_in_scan",
                &[("out", &req.out.display()), ("dir", &d.display())]
            ));
        }
        locks.push(crate::results::lock_for_reading(d)?);
    }
    let mut forms = Forms::default();
    let mut registry = None;
    let mut records = Vec::new();
    let mut scan_lang = None;
    for dir in req.scan_dirs {
        let settings = ScanSettings::load(dir)?;
        scan_lang.get_or_insert(settings.lang);
        for f in settings.forms()? {
            forms.insert(f);
        }
        if registry.is_none() {
            registry = Some(settings.registry()?);
        }
        // A damaged folder is told in the language of the tally (the scan's, unless asked).
        let lang = req.lang.or(scan_lang).unwrap_or_default();
        records.extend(load_scan(dir).map_err(|e| crate::failure::input(e.in_lang(lang)))?);
    }
    let registry = match req.units {
        Some(p) => Registry::load(p)?,
        None => registry.unwrap_or_else(Registry::default_units),
    };
    let lang = req.lang.or(scan_lang).unwrap_or_default();
    // Streamed: only one decision per page and question is kept, never the files.
    let mut check = DecisionCheck::new(&records, &registry, lang);
    for p in req.decisions {
        read_decisions(p, lang, |d| {
            check.add(&records, &forms, d);
            Ok(())
        })?;
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
            std::fs::create_dir_all(to).with_context(|| {
                Msg::new("tally_error.cannot_create", &[("dir", &to.display())])
            })?;
            let bytes = std::fs::read(dir.join("comments").join(&name)).with_context(|| {
                Msg::new(
                    "tally_error.cannot_read_comment",
                    &[("name", &name), ("dir", &dir.display())],
                )
            })?;
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
