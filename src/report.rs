//! The scan's result files: `ballots.csv` (one row per page), `answers.csv` (one row per
//! ballot and question), `tallies.csv` and `summary.csv` (see `crate::tally`). Columns are
//! documented in the README.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ballot::Status;
use crate::duplicates::Duplicates;
use crate::form::{Form, Forms};
use crate::i18n::Msg;
use crate::output::WriteError;
use crate::previous_scan::{NotKept, PagesWriter, PreviousScan, ScannedPage};
use crate::registry::Registry;
use crate::scan::PageRecord;
use crate::scan_files::{ballot_row, ANSWERS_HEADER, BALLOTS_HEADER};
use crate::tally::{summary_table, Tally, TallyBallot};

/// How a scan was run, saved as `scan.json` beside its results so that `review` and `tally`
/// read the pages with the same forms, units and thresholds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanSettings {
    /// The file's format and version, `ballotscan-scan/1`; a folder with any other is refused.
    pub format: String,
    /// Forms folder; `None` for the embedded standard forms (every version).
    pub forms: Option<std::path::PathBuf>,
    /// Units registry; `None` for the embedded registry.
    pub units: Option<std::path::PathBuf>,
    /// The fill score (ink coverage of a box's inside, 0 to 1) at or below which a box counts as
    /// empty.
    pub empty_below: f64,
    /// The fill score at or above which a box counts as marked; between the two a person looks.
    pub marked_above: f64,
    /// The language the scan spoke; `review` and `tally` of this folder speak it too unless
    /// told otherwise. Folders written before it existed read as Vietnamese, the default.
    #[serde(default)]
    pub lang: crate::i18n::Lang,
    /// `voided.csv` files given with `--voided`; left out of scan.json when none were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voided: Vec<std::path::PathBuf>,
}

pub(crate) const SETTINGS_FORMAT: &str = "ballotscan-scan/1";

impl ScanSettings {
    /// What scan.json records of the scan `cfg` runs: taken from the configuration itself,
    /// never built beside it, so the file cannot disagree with the scan that `review` and
    /// `tally` replay.
    pub fn of(cfg: &crate::scan::Config) -> ScanSettings {
        ScanSettings {
            format: SETTINGS_FORMAT.into(),
            forms: cfg.sources.forms.clone(),
            units: cfg.sources.units.clone(),
            empty_below: cfg.thresholds.empty,
            marked_above: cfg.thresholds.marked,
            lang: cfg.lang,
            voided: cfg.sources.voided.clone(),
        }
    }

    /// Reads the `scan.json` of the scan folder `dir`. Refuses (as a mistake in what was given,
    /// exit status of an input failure) a folder without one, a file that is not scan settings,
    /// or one of another format.
    pub fn load(dir: &Path) -> anyhow::Result<ScanSettings> {
        let path = dir.join("scan.json");
        // A folder that is not a scan's is a mistake in what was given: an input failure.
        let bytes = std::fs::read(&path).map_err(|e| {
            // Before scan.json is read, the run's language (--lang, else Vietnamese) speaks.
            crate::failure::input(
                Msg::new(
                    "scan_settings_error.unreadable",
                    &[
                        ("file", &path.display()),
                        ("error", &e),
                        ("dir", &dir.display()),
                    ],
                )
                .to_string(),
            )
        })?;
        let s: ScanSettings = serde_json::from_slice(&bytes).map_err(|e| {
            crate::failure::input(
                Msg::new(
                    "scan_settings_error.not_settings",
                    &[("file", &path.display()), ("error", &e)],
                )
                .to_string(),
            )
        })?;
        if s.format != SETTINGS_FORMAT {
            return Err(crate::failure::input(
                Msg::new(
                    "scan_settings_error.format",
                    &[
                        ("file", &path.display()),
                        ("format", &format!("{:?}", s.format)),
                        ("expected", &format!("{SETTINGS_FORMAT:?}")),
                    ],
                )
                .to_string(),
            ));
        }
        Ok(s)
    }

    /// The forms the scan read ballots with: its forms folder, or the embedded standard forms.
    /// Fails when that folder can no longer be read.
    pub fn forms(&self) -> anyhow::Result<Forms> {
        Ok(Forms::from(match &self.forms {
            Some(dir) => crate::form::load_dir(dir)?,
            None => Form::standard_forms(),
        }))
    }

    /// The units registry the scan used: its file, or the embedded one. Fails when that file
    /// can no longer be read.
    pub fn registry(&self) -> anyhow::Result<Registry> {
        Ok(match &self.units {
            Some(p) => Registry::load(p)?,
            None => Registry::default_units(),
        })
    }
}

/// What a scan leaves to say on the console: pages by status and flagged pages by reason,
/// time per stage, and how long writing the outputs took.
#[derive(Clone, Debug, Default)]
pub struct ScanOutcome {
    /// Pages scanned, kept ones included.
    pub pages: usize,
    /// Those pages by status (counted, review, rejected, …).
    pub by_status: BTreeMap<Status, usize>,
    /// By code, in the order of the codes' text (as the console lists them).
    pub by_reason: BTreeMap<&'static str, usize>,
    /// Time spent in each stage of reading, summed over the pages.
    pub times: crate::scan::StageTimes,
    /// Time spent writing the result files.
    pub write_time: std::time::Duration,
    /// Questions that versions of a form ask differently, counted apart (see
    /// `tally::RollupQuestions::kept_apart`).
    pub kept_apart: Vec<String>,
    /// Pages kept from the previous scan into the same folder (their files unchanged).
    pub kept: usize,
    /// Why the previous scan's pages were not kept, when the folder had them.
    pub not_kept: Option<crate::previous_scan::NotKept>,
}

impl ScanOutcome {
    fn count(&mut self, r: &PageRecord) {
        self.pages += 1;
        *self.by_status.entry(r.status).or_default() += 1;
        if r.status != Status::Counted {
            for reason in &r.reasons {
                *self.by_reason.entry(reason.as_str()).or_default() += 1;
            }
        }
    }
}

/// Scans a batch into the results folder `dir`, which is replaced as a whole (see
/// `results`): until every file is written, the previous results stay as they were.
pub fn scan_to_dir(
    dir: &Path,
    inputs: &[std::path::PathBuf],
    cfg: &crate::scan::Config,
    on_file: &(dyn Fn(usize) + Sync),
    rescan: bool,
) -> anyhow::Result<ScanOutcome> {
    let walk = crate::input::walk_inputs(inputs, Some(dir));
    scan_walk_to_dir(dir, inputs, &walk, cfg, on_file, rescan)
}

/// What the results of one file may take on disk at most: its rows in the CSVs and its
/// pages' records waiting in the hidden folder (a few kB a page; scanner PDFs hold many pages,
/// hence the margin), plus a fixed part for the summary and settings.
const RESULT_BYTES_PER_FILE: u64 = 64 << 10;
const RESULT_BYTES_FIXED: u64 = 4 << 20;

/// Stops before the batch is read when the results cannot fit on the disk of `dir`: a full
/// disk found only at the end cost the whole reading time.
fn check_free_space(dir: &Path, files: usize) -> anyhow::Result<()> {
    // The folder may not exist yet: its nearest existing parent is on the same disk.
    let mut at = dir;
    while !at.exists() {
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => {
                at = Path::new(".");
                break;
            }
        }
    }
    match free_bytes(at) {
        Some(free) => enough_space(dir, free, files),
        None => Ok(()),
    }
}

/// The refusal of [`check_free_space`] for `free` bytes on the disk of `dir`.
fn enough_space(dir: &Path, free: u64, files: usize) -> anyhow::Result<()> {
    let need = RESULT_BYTES_FIXED + RESULT_BYTES_PER_FILE * files as u64;
    if free < need {
        return Err(crate::failure::output(format!(
            "the disk of {} has {} MB free, and the results of {files} files need up to {} MB: free some space or give another --out; nothing was read or written",
            dir.display(),
            free >> 20,
            need.div_ceil(1 << 20)
        )));
    }
    Ok(())
}

/// Free bytes for this user on the file system holding `path` (None where it cannot be
/// told: the write itself then reports a full disk).
#[cfg(target_os = "linux")]
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a buffer statvfs fills on success.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    // The field types are 32-bit on some Linux targets.
    #[allow(clippy::unnecessary_cast)]
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(not(target_os = "linux"))]
fn free_bytes(_: &Path) -> Option<u64> {
    None
}

/// [`scan_to_dir`] over inputs already walked (with `Some(dir)` to skip the results folder).
pub(crate) fn scan_walk_to_dir(
    dir: &Path,
    inputs: &[std::path::PathBuf],
    walk: &crate::input::Walk,
    cfg: &crate::scan::Config,
    on_file: &(dyn Fn(usize) + Sync),
    rescan: bool,
) -> anyhow::Result<ScanOutcome> {
    if walk.files.is_empty() {
        // An unmounted share or a mistyped path: the previous results stay as they were.
        let why: Vec<String> = walk
            .unreadable
            .iter()
            .map(|(p, why)| format!("{}: {why}", p.display()))
            .collect();
        return Err(crate::failure::input(format!(
            "no files to scan in {}{}; nothing was written to {}",
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            },
            dir.display()
        )));
    }
    check_free_space(dir, walk.files.len())?;
    let folder = crate::results::ResultsFolder::begin(dir)?;
    for input in inputs {
        if let Ok(input) = crate::results::canonical(input) {
            if input.starts_with(folder.path()) {
                return Err(crate::failure::usage(format!(
                    "the input {} lies inside --out {}: a results folder is replaced as a whole, so write the results elsewhere",
                    input.display(),
                    dir.display()
                )));
            }
        }
    }
    // Read under the lock, after an interrupted swap was finished: the folder's last complete set.
    let fingerprint = crate::previous_scan::settings_fingerprint(cfg);
    let (previous, not_kept) = if rescan {
        (PreviousScan::default(), None)
    } else {
        match PreviousScan::load(folder.path(), &fingerprint) {
            Ok(p) => (p, None),
            Err(NotKept::Nothing) => (PreviousScan::default(), None),
            Err(why) => (PreviousScan::default(), Some(why)),
        }
    };
    let mut outcome = write_scan(
        folder.staging(),
        walk,
        cfg,
        &previous,
        &fingerprint,
        on_file,
    )?;
    outcome.not_kept = not_kept;
    // Its pages.jsonl is still open: Windows removes no folder holding an open file.
    drop(previous);
    folder.commit()?;
    Ok(outcome)
}

/// Writes a scan's files into `dir` in two passes over its pages, so that memory does not
/// grow with the batch. While pages are read, `answers.csv` is written and each page's
/// record goes to `pages.jsonl` (also the next scan's memory, see [`crate::previous_scan`]),
/// keeping only compact duplicate keys in memory. Then the records are read back in order, the duplicates found marked, and
/// `ballots.csv`, the tallies and the summary written.
fn write_scan(
    dir: &Path,
    walk: &crate::input::Walk,
    cfg: &crate::scan::Config,
    previous: &PreviousScan,
    fingerprint: &str,
    on_file: &(dyn Fn(usize) + Sync),
) -> Result<ScanOutcome, WriteError> {
    let fail = |error: std::io::Error| WriteError {
        path: dir.display().to_string(),
        error,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut answers = crate::output::CsvStream::create(&dir.join("answers.csv"), &ANSWERS_HEADER)?;
    let mut pages = PagesWriter::create(dir, fingerprint).map_err(fail)?;
    let mut duplicates = Duplicates::default();
    let mut outcome = ScanOutcome::default();
    let mut failed = None;
    crate::scan::scan_walk(walk, cfg, previous, on_file, &mut |page| {
        if let Err(e) = pages.page(&page) {
            failed.get_or_insert(WriteError {
                path: pages.path().display().to_string(),
                error: e,
            });
        }
        let ScannedPage {
            record: r,
            answers: rows,
            kept,
            ..
        } = page;
        for row in rows {
            if let Err(e) = answers.row(row) {
                failed.get_or_insert(e);
            }
        }
        let comments = if kept {
            outcome.kept += 1;
            previous.copy_comments(&r, dir).map_err(fail)
        } else {
            save_comments(dir, &r)
        };
        if let Err(e) = comments {
            failed.get_or_insert(e);
        }
        outcome.times.add(&r.times);
        duplicates.see(&r);
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let t = std::time::Instant::now();
    answers.finish()?;
    pages.finish().map_err(fail)?;
    let settings = ScanSettings::of(cfg);
    let json = serde_json::to_vec_pretty(&settings).unwrap_or_default();
    crate::output::write_atomic(&dir.join("scan.json"), &json)?;

    let mut verdicts = duplicates.finish(settings.lang);
    let forms: Forms = cfg.forms.iter().map(|(f, _)| f.clone()).collect();
    let mut ballots = crate::output::CsvStream::create(&dir.join("ballots.csv"), &BALLOTS_HEADER)?;
    let mut tally = Tally::default();
    for (i, r) in crate::previous_scan::records(dir)
        .map_err(fail)?
        .enumerate()
    {
        let mut r = r.map_err(fail)?;
        verdicts.apply(i, &mut r);
        ballots.row(ballot_row(&r))?;
        tally.add(&tally_ballot(&r), &forms, &cfg.registry);
        outcome.count(&r);
    }
    ballots.finish()?;
    tally
        .tallies_table(&forms, &cfg.registry, settings.lang)
        .write(&dir.join("tallies.csv"))?;
    summary_table(&tally.summary(&forms, &cfg.registry, None)).write(&dir.join("summary.csv"))?;
    outcome.kept_apart = tally.questions(&forms).kept_apart();
    outcome.write_time = t.elapsed();
    Ok(outcome)
}

/// Saves a page's written areas as `comments/<unit>-<serial>-<question>.png` inside the
/// results folder being written. Pages come in input order, so when two pages carry the same
/// ballot (a copy of a file, a rescan) the first one's image is kept, run after run.
fn save_comments(dir: &Path, r: &PageRecord) -> Result<(), WriteError> {
    let Some(p) = &r.payload else {
        return Ok(());
    };
    if r.comment_images.is_empty() {
        return Ok(());
    }
    let folder = dir.join(crate::comments::DIR);
    std::fs::create_dir_all(&folder).map_err(|error| WriteError {
        path: folder.display().to_string(),
        error,
    })?;
    for (question, png) in &r.comment_images {
        let path = folder.join(crate::comments::file_name(
            &p.unit,
            &p.serial_text(),
            question,
        ));
        if !path.exists() {
            crate::output::write_atomic(&path, png)?;
        }
    }
    Ok(())
}

pub(crate) fn tally_ballot(r: &PageRecord) -> TallyBallot {
    TallyBallot {
        status: r.status,
        unit: r.payload.as_ref().map(|p| p.unit.clone()),
        form: r.form.clone(),
        answers: r
            .questions
            .iter()
            .map(|q| (q.question.clone(), q.answer.clone()))
            .collect(),
    }
}

pub(crate) fn tally_ballots(records: &[PageRecord]) -> Vec<TallyBallot> {
    records.iter().map(tally_ballot).collect()
}

/// The few lines printed at the end of a scan: pages, verdicts, flags by reason, speed, the
/// time per stage and the peak memory (kB, when known).
pub(crate) fn console_summary(
    o: &ScanOutcome,
    files: usize,
    seconds: f64,
    peak_kb: Option<u64>,
    lang: crate::i18n::Lang,
) -> String {
    use crate::i18n::{decimal, text};
    let n = |s: Status| o.by_status.get(&s).copied().unwrap_or(0);
    let mut out = text(
        lang,
        "console.scan_done",
        &[
            ("pages", &o.pages),
            ("files", &files),
            ("seconds", &decimal(lang, seconds, 1)),
            (
                "rate",
                &decimal(lang, o.pages as f64 / seconds.max(1e-9), 1),
            ),
        ],
    );
    out.push('\n');
    out.push_str(&text(
        lang,
        "console.statuses",
        &[
            ("counted", &n(Status::Counted)),
            ("invalid", &n(Status::Invalid)),
            ("review", &n(Status::Review)),
            ("rejected", &n(Status::Rejected)),
            ("duplicate", &n(Status::Duplicate)),
        ],
    ));
    out.push('\n');
    if !o.by_reason.is_empty() {
        // Codes stay as written in ballots.csv, so a clerk can find the rows.
        let list: Vec<String> = o
            .by_reason
            .iter()
            .map(|(r, c)| format!("{r} {c}"))
            .collect();
        out.push_str(&text(
            lang,
            "console.flagged",
            &[("list", &list.join(", "))],
        ));
        out.push('\n');
    }
    if !o.kept_apart.is_empty() {
        out.push_str(&text(
            lang,
            "tally.versions_apart",
            &[("list", &o.kept_apart.join("; "))],
        ));
        out.push('\n');
    }
    match &o.not_kept {
        Some(crate::previous_scan::NotKept::OtherSettings) => {
            out.push_str(&text(lang, "console.settings_changed", &[]));
            out.push('\n');
        }
        Some(crate::previous_scan::NotKept::Damaged(why)) => {
            out.push_str(&text(lang, "console.pages_damaged", &[("why", why)]));
            out.push('\n');
        }
        Some(crate::previous_scan::NotKept::Nothing) | None => {}
    }
    if o.kept > 0 {
        out.push_str(&text(
            lang,
            "console.kept",
            &[("kept", &o.kept), ("read", &(o.pages - o.kept))],
        ));
        out.push('\n');
    }
    // Per page read: kept pages cost no decoding.
    let read = (o.pages - o.kept).max(1) as f64;
    let ms = |d: std::time::Duration| decimal(lang, d.as_secs_f64() * 1000.0 / read, 1);
    let memory = peak_kb.map_or_else(
        || text(lang, "console.memory_unknown", &[]),
        |kb| format!("{:.0} MB", kb as f64 / 1024.0),
    );
    out.push_str(&text(
        lang,
        "console.timing",
        &[
            ("decode", &ms(o.times.decode)),
            ("qr", &ms(o.times.qr)),
            ("align", &ms(o.times.align)),
            ("score", &ms(o.times.score)),
            (
                "outputs",
                &decimal(lang, o.write_time.as_secs_f64() * 1000.0, 0),
            ),
            ("memory", &memory),
        ],
    ));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_too_full_for_the_results_is_refused_before_reading() {
        let dir = Path::new("out");
        // 1,000 files need 4 MiB + 1,000 × 64 KiB = 66.5 MiB.
        let err = enough_space(dir, 60 << 20, 1000).expect_err("refused");
        let msg = err.to_string();
        assert!(msg.contains("has 60 MB free"), "{msg}");
        assert!(msg.contains("need up to 67 MB"), "{msg}");
        assert!(enough_space(dir, 67 << 20, 1000).is_ok());
    }

    #[test]
    fn scan_json_is_written_from_the_configuration_the_scan_ran_with() {
        let thresholds = crate::marks::Thresholds {
            empty: 0.02,
            marked: 0.07,
        };
        let mut cfg = crate::scan::Config::new(
            Form::standard_forms(),
            Registry::default_units(),
            None,
            thresholds,
        )
        .expect("config");
        cfg.lang = crate::i18n::Lang::En;
        cfg.sources.units = Some("/office/donvi.csv".into());
        cfg.sources.voided = vec!["/office/voided.csv".into()];
        let dir = tempfile::tempdir().expect("tempdir");
        let scans = dir.path().join("scans");
        std::fs::create_dir_all(&scans).expect("mkdir");
        // Not an image: one rejected row, and a complete results folder.
        std::fs::write(scans.join("note.png"), "not a page").expect("write");
        let out = dir.path().join("out");
        scan_to_dir(&out, &[scans], &cfg, &|_| {}, true).expect("scans");
        let saved = ScanSettings::load(&out).expect("scan.json");
        assert_eq!(saved, ScanSettings::of(&cfg));
        assert_eq!((saved.empty_below, saved.marked_above), (0.02, 0.07));
        assert_eq!(saved.lang, crate::i18n::Lang::En);
        assert_eq!(saved.forms, None);
        assert_eq!(saved.units, cfg.sources.units);
        assert_eq!(saved.voided, cfg.sources.voided);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn free_space_is_read_from_the_nearest_existing_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
        // A folder not made yet is judged on its parent's disk.
        assert!(check_free_space(&dir.path().join("not/yet"), 1).is_ok());
    }
}
