//! The scan's result files: `ballots.csv` (one row per page), `answers.csv` (one row per
//! ballot and question), `tallies.csv` and `summary.csv` (see [`crate::tally`]). Columns are
//! documented in the README.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ballot::Status;
use crate::form::Form;
use crate::output::{CsvTable, WriteError};
use crate::registry::Registry;
use crate::scan::PageRecord;
use crate::tally::{self, TallyBallot};

/// How a scan was run, saved as `scan.json` beside its results so that `review` and `tally`
/// read the pages with the same forms, units and thresholds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanSettings {
    pub format: String,
    /// Forms folder; `None` for the embedded standard form.
    pub forms: Option<std::path::PathBuf>,
    /// Units registry; `None` for the embedded registry.
    pub units: Option<std::path::PathBuf>,
    pub empty_below: f64,
    pub marked_above: f64,
}

pub const SETTINGS_FORMAT: &str = "ballotscan-scan/1";

impl ScanSettings {
    pub fn new(
        forms: Option<std::path::PathBuf>,
        units: Option<std::path::PathBuf>,
        thresholds: &crate::marks::Thresholds,
    ) -> ScanSettings {
        ScanSettings {
            format: SETTINGS_FORMAT.into(),
            forms,
            units,
            empty_below: thresholds.empty,
            marked_above: thresholds.marked,
        }
    }

    pub fn load(dir: &Path) -> anyhow::Result<ScanSettings> {
        use anyhow::Context;
        let path = dir.join("scan.json");
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "cannot read {}: is {} the output folder of `ballotscan scan`?",
                path.display(),
                dir.display()
            )
        })?;
        let s: ScanSettings = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a ballotscan scan.json", path.display()))?;
        if s.format != SETTINGS_FORMAT {
            anyhow::bail!(
                "{} has format {:?}; this version reads {SETTINGS_FORMAT:?}",
                path.display(),
                s.format
            );
        }
        Ok(s)
    }

    pub fn forms(&self) -> anyhow::Result<Vec<Form>> {
        Ok(match &self.forms {
            Some(dir) => crate::form::load_dir(dir)?,
            None => vec![Form::default_form()],
        })
    }

    pub fn registry(&self) -> anyhow::Result<Registry> {
        Ok(match &self.units {
            Some(p) => Registry::load(p)?,
            None => Registry::default_units(),
        })
    }
}

pub const BALLOTS_HEADER: [&str; 15] = [
    "source",
    "page",
    "status",
    "reasons",
    "form",
    "version",
    "unit",
    "serial",
    "rotation_deg",
    "fit_error_mm",
    "fiducials",
    "min_margin",
    "duplicate_of",
    "file_sha256",
    "detail",
];

pub const ANSWERS_HEADER: [&str; 8] = [
    "source", "page", "unit", "serial", "question", "answer", "states", "scores",
];

fn opt_f(v: Option<f64>, decimals: usize) -> String {
    v.map_or(String::new(), |x| format!("{x:.decimals$}"))
}

pub fn ballots_csv(records: &[PageRecord]) -> CsvTable {
    let mut t = CsvTable::new(&BALLOTS_HEADER);
    for r in records {
        let p = r.payload.as_ref();
        t.row([
            r.source.clone(),
            r.page.to_string(),
            r.status.as_str().to_string(),
            r.reasons.join(";"),
            p.map_or(String::new(), |p| p.form.clone()),
            p.map_or(String::new(), |p| p.version.to_string()),
            p.map_or(String::new(), |p| p.unit.clone()),
            p.map_or(String::new(), |p| p.serial_text()),
            opt_f(r.rotation_deg, 1),
            opt_f(r.fit_error_mm, 3),
            r.fiducials_found.map_or(String::new(), |n| n.to_string()),
            opt_f(r.min_margin, 3),
            r.duplicate_of.clone().unwrap_or_default(),
            r.file_sha256.clone(),
            r.detail.clone(),
        ]);
    }
    t
}

/// The `answers.csv` rows of one page (none when its QR code was not read).
pub fn answer_rows(r: &PageRecord) -> Vec<[String; 8]> {
    let Some(p) = &r.payload else {
        return Vec::new();
    };
    r.questions
        .iter()
        .map(|q| {
            let states: Vec<String> = q
                .boxes
                .iter()
                .map(|b| format!("{}={}", b.option, b.state.as_str()))
                .collect();
            let scores: Vec<String> = q
                .boxes
                .iter()
                .map(|b| format!("{}={}", b.option, b.score.fill))
                .collect();
            [
                r.source.clone(),
                r.page.to_string(),
                p.unit.clone(),
                p.serial_text(),
                q.question.clone(),
                q.answer.to_text(),
                states.join(" "),
                scores.join(" "),
            ]
        })
        .collect()
}

pub fn answers_csv(records: &[PageRecord]) -> CsvTable {
    let mut t = CsvTable::new(&ANSWERS_HEADER);
    for r in records {
        for row in answer_rows(r) {
            t.row(row);
        }
    }
    t
}

/// Scans a batch into `dir`: `answers.csv` is written while pages are read, the other files
/// once duplicates are known. Returns the (slimmed) records and the time spent writing.
pub fn scan_to_dir(
    dir: &Path,
    inputs: &[std::path::PathBuf],
    cfg: &crate::scan::Config,
    on_file: &(dyn Fn(usize) + Sync),
    settings: &ScanSettings,
) -> Result<(Vec<PageRecord>, std::time::Duration), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.display().to_string(),
        source,
    })?;
    let mut answers = crate::output::CsvStream::create(&dir.join("answers.csv"), &ANSWERS_HEADER)?;
    let mut failed = None;
    let records = crate::scan::scan_batch(inputs, cfg, on_file, &mut |r| {
        for row in answer_rows(r) {
            if let Err(e) = answers.row(row) {
                failed.get_or_insert(e);
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let t = std::time::Instant::now();
    answers.finish()?;
    let forms: Vec<Form> = cfg.forms.iter().map(|(f, _)| f.clone()).collect();
    write_scan_outputs(dir, &records, &forms, &cfg.registry, settings)?;
    Ok((records, t.elapsed()))
}

pub fn tally_ballots(records: &[PageRecord]) -> Vec<TallyBallot> {
    records
        .iter()
        .map(|r| TallyBallot {
            status: r.status,
            unit: r.payload.as_ref().map(|p| p.unit.clone()),
            form: r.form.clone(),
            answers: r
                .questions
                .iter()
                .map(|q| (q.question.clone(), q.answer.clone()))
                .collect(),
        })
        .collect()
}

/// Writes `ballots.csv`, `tallies.csv`, `summary.csv` and `scan.json` into `dir` (created if
/// missing); `answers.csv` is streamed by [`scan_to_dir`].
pub fn write_scan_outputs(
    dir: &Path,
    records: &[PageRecord],
    forms: &[Form],
    registry: &Registry,
    settings: &ScanSettings,
) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.display().to_string(),
        source,
    })?;
    let json = serde_json::to_vec_pretty(settings).unwrap_or_default();
    crate::output::write_atomic(&dir.join("scan.json"), &json)?;
    let ballots = tally_ballots(records);
    ballots_csv(records).write(&dir.join("ballots.csv"))?;
    tally::tallies_csv(&ballots, forms, registry).write(&dir.join("tallies.csv"))?;
    tally::summary_csv(&ballots, forms, registry, None).write(&dir.join("summary.csv"))?;
    Ok(())
}

/// The few lines printed at the end of a scan: pages, verdicts, flags by reason, speed, the
/// time per stage and the peak memory (kB, when known).
pub fn console_summary(
    records: &[PageRecord],
    files: usize,
    seconds: f64,
    write_time: std::time::Duration,
    peak_kb: Option<u64>,
) -> String {
    let (by_status, by_reason) = counts(records);
    let n = |s: Status| by_status.get(&s).copied().unwrap_or(0);
    let mut out = format!(
        "ballotscan: {} pages from {files} files in {seconds:.1} s ({:.1} pages/s)\n",
        records.len(),
        records.len() as f64 / seconds.max(1e-9)
    );
    out.push_str(&format!(
        "  counted {}, invalid {}, review {}, rejected {}, duplicate {}\n",
        n(Status::Counted),
        n(Status::Invalid),
        n(Status::Review),
        n(Status::Rejected),
        n(Status::Duplicate)
    ));
    if !by_reason.is_empty() {
        let list: Vec<String> = by_reason.iter().map(|(r, c)| format!("{r} {c}")).collect();
        out.push_str(&format!("  flagged: {}\n", list.join(", ")));
    }
    let total = crate::scan::StageTimes::total(records);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / records.len().max(1) as f64;
    out.push_str(&format!(
        "  per page (one core): decode {:.1} ms, QR {:.1} ms, alignment {:.1} ms, scoring {:.1} ms; outputs {:.0} ms; peak memory {}\n",
        ms(total.decode),
        ms(total.qr),
        ms(total.align),
        ms(total.score),
        write_time.as_secs_f64() * 1000.0,
        peak_kb.map_or("unknown".to_string(), |kb| format!("{:.0} MB", kb as f64 / 1024.0))
    ));
    out
}

/// Counts for the console summary: pages per status and flagged pages per reason.
pub fn counts(records: &[PageRecord]) -> (BTreeMap<Status, usize>, BTreeMap<String, usize>) {
    let mut by_status = BTreeMap::new();
    let mut by_reason = BTreeMap::new();
    for r in records {
        *by_status.entry(r.status).or_default() += 1;
        if r.status != Status::Counted {
            for reason in &r.reasons {
                *by_reason.entry(reason.clone()).or_default() += 1;
            }
        }
    }
    (by_status, by_reason)
}
