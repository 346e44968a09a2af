//! `ballotscan scan`: folders and files of scanned ballots in, a results folder out (the
//! work is `crate::report::scan_walk_to_dir`), with a progress bar and the console summary;
//! with `--watch`, again each time new files have settled.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::failure;
use crate::form::{self, Form};
use crate::i18n::{text, Lang};
use crate::input::Walk;
use crate::marks::Thresholds;
use crate::report;

/// `scan`'s flags.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub forms: Option<PathBuf>,
    #[arg(long)]
    pub units: Option<PathBuf>,
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[arg(long, default_value_t = Thresholds::default().empty, value_parser = crate::args::decimal_arg)]
    pub empty_below: f64,
    #[arg(long, default_value_t = Thresholds::default().marked, value_parser = crate::args::decimal_arg)]
    pub marked_above: f64,
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long)]
    pub voided: Vec<PathBuf>,
    #[arg(long)]
    pub rescan: bool,
    #[arg(long)]
    pub watch: bool,
}

/// Runs `scan` (and keeps going with `--watch` until stopped).
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    let lang = lang.unwrap_or_default();
    // The command line first: a usage mistake is reported before missing paths.
    if !(0.0..=1.0).contains(&a.empty_below)
        || !(0.0..=1.0).contains(&a.marked_above)
        || a.empty_below >= a.marked_above
    {
        return Err(failure::usage(text(
            lang,
            "cli.bad_thresholds",
            &[("empty", &a.empty_below), ("marked", &a.marked_above)],
        )));
    }
    failure::require_existing(
        lang,
        a.inputs
            .iter()
            .chain(a.forms.as_ref())
            .chain(a.units.as_ref())
            .chain(a.key.as_ref())
            .chain(&a.voided),
    )?;
    let forms = match &a.forms {
        Some(dir) => form::load_dir(dir)?,
        None => Form::standard_forms(),
    };
    let registry = super::load_units(a.units.as_ref())?;
    let key = super::load_key(a.key.as_ref())?;
    let thresholds = Thresholds {
        empty: a.empty_below,
        marked: a.marked_above,
    };
    if let Some(n) = a.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .with_context(|| text(lang, "cli.threads", &[]))?;
    }
    let mut cfg = crate::scan::Config::new(forms, registry, key, thresholds)?;
    cfg.voided = crate::voided::load(&a.voided)?;
    cfg.lang = lang;
    // Recorded in scan.json as absolute paths: `review` and `tally` may run elsewhere.
    let absolute = |p: &PathBuf| crate::results::canonical(p).unwrap_or(p.clone());
    cfg.sources = crate::scan::Sources {
        forms: a.forms.as_ref().map(absolute),
        units: a.units.as_ref().map(absolute),
        voided: a.voided.iter().map(absolute).collect(),
    };
    // Walked once: the same list sizes the progress bar and is scanned.
    let walk = crate::input::walk_inputs(&a.inputs, Some(&a.out));
    let scan = |walk: &Walk, rescan: bool| scan_into(&a.out, &a.inputs, walk, &cfg, rescan);
    if !a.watch {
        return scan(&walk, a.rescan);
    }
    // Watching: an empty folder waits for its first files instead of failing.
    if !walk.files.is_empty() {
        scan(&walk, a.rescan)?;
    }
    eprintln!(
        "{}",
        text(lang, "console.watching", &[("dir", &a.out.display())])
    );
    crate::watch::watch(
        &a.inputs,
        &a.out,
        crate::watch::Snapshot::of(&walk),
        &mut |walk| {
            if let Err(e) = scan(walk, false) {
                eprintln!(
                    "{}",
                    text(
                        lang,
                        "console.watch_failed",
                        &[("error", &format!("{e:#}"))]
                    )
                );
            }
        },
    )
}

/// One scan of walked inputs into `out`, with a progress bar and the console summary.
fn scan_into(
    out: &Path,
    inputs: &[PathBuf],
    walk: &Walk,
    cfg: &crate::scan::Config,
    rescan: bool,
) -> anyhow::Result<()> {
    let lang = cfg.lang;
    let files = &walk.files;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(files.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(&text(lang, "cli.progress", &[]))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let pages = std::sync::atomic::AtomicUsize::new(0);
    let start = std::time::Instant::now();
    let outcome = report::scan_walk_to_dir(
        out,
        inputs,
        walk,
        cfg,
        &|n| {
            let total = pages.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            bar.set_message(total.to_string());
            bar.inc(1);
        },
        rescan,
    );
    bar.finish_and_clear();
    let outcome = outcome?;
    let elapsed = start.elapsed().as_secs_f64();
    eprint!(
        "{}",
        report::console_summary(&outcome, files.len(), elapsed, peak_memory(), lang)
    );
    eprintln!(
        "{}",
        text(lang, "console.results_in", &[("dir", &out.display())])
    );
    Ok(())
}

/// Peak resident memory of this process in kB (Linux), for the summary.
#[cfg(not(windows))]
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak working set of this process in kB (Windows' nearest to Linux's peak resident memory).
#[cfg(windows)]
fn peak_memory() -> Option<u64> {
    use windows_sys::Win32::System::ProcessStatus::{
        K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
    };
    use windows_sys::Win32::System::Threading::GetCurrentProcess;
    let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    // SAFETY: the counters are plain integers (all-zero is valid), the size given is theirs,
    // and the pseudo-handle of the current process needs no closing.
    let mut counters: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
    counters.cb = size;
    let ok = unsafe { K32GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, size) };
    (ok != 0).then_some(counters.PeakWorkingSetSize as u64 / 1024)
}
