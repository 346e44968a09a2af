//! The project's benchmarks (not tests: they print figures, they do not pass or fail on time).
//!
//! `bench accuracy` — synthetic ballots per degradation profile (or a corpus written by another
//! tool, `--corpus DIR`), scanned and compared with the truth per family: box errors, silent
//! errors (wrong answers on ballots nobody will look at), question errors, definite marks sent
//! to review, needless reviews, rejected pages by reason, worst cases.
//!
//! `bench speed` — in the same run and on the same files: plain decoding of the batch on all
//! cores, then the full scan; pages/s, the scan/decode ratio, time per stage and peak memory
//! (of a child `ballotscan scan` process, for two batch sizes).
//!
//! `bench incremental` — a results folder of N pages (copies of a few hundred distinct
//! ballots), then M new ballots added to its folder: the time of that incremental scan against
//! the full scan and against scanning the M pages alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use ballotscan::form::Form;
use ballotscan::marks::Thresholds;
use ballotscan::registry::Registry;
use ballotscan::synth::ballots::{self, FileFormat};
use ballotscan::synth::check;
use ballotscan::synth::degrade::PROFILES;
use ballotscan::{input, report, scan};
use rayon::prelude::*;

const UNITS: [&str; 4] = ["P-ANBIEN", "P-CATDAI", "X-ANDONG", "P-MAYTO"];

fn usage() -> ! {
    eprintln!(
        "usage: bench accuracy [--ballots-per-profile N] [--seed S] [--profiles a,b,c] [--keep DIR]\n       bench accuracy --corpus DIR   (DIR/scans and DIR/truth.csv; DIR/pages.csv with a zbar column, if any)\n       bench speed [--pages N] [--rounds R]\n       bench incremental [--pages N] [--added M] [--rounds R]"
    );
    std::process::exit(2)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("accuracy") => accuracy(&args),
        Some("speed") => speed(&args),
        Some("incremental") => incremental(&args),
        _ => usage(),
    }
}

fn synth(
    dir: &Path,
    profile: &str,
    per_unit: u32,
    seed: u64,
    dpi: Option<f64>,
    format: FileFormat,
) -> anyhow::Result<()> {
    synth_from(dir, profile, per_unit, 1, seed, dpi, format)
}

fn synth_from(
    dir: &Path,
    profile: &str,
    per_unit: u32,
    first_serial: u32,
    seed: u64,
    dpi: Option<f64>,
    format: FileFormat,
) -> anyhow::Result<()> {
    let form = Form::default_form();
    let registry = Registry::default_units();
    ballots::run(&ballots::Request {
        form: &form,
        registry: &registry,
        units: UNITS.iter().map(|s| s.to_string()).collect(),
        count_per_unit: per_unit,
        first_serial,
        profile: profile.to_string(),
        seed,
        dpi,
        key: None,
        format,
        jpeg_quality: None,
        out_dir: dir,
        prefix: String::new(),
    })?;
    Ok(())
}

fn config() -> anyhow::Result<scan::Config> {
    Ok(scan::Config::new(
        Form::standard_forms(),
        Registry::default_units(),
        None,
        Thresholds::default(),
    )?)
}

fn accuracy(args: &[String]) -> anyhow::Result<()> {
    let per_profile: u32 = flag(args, "--ballots-per-profile")
        .map_or(Ok(200), |s| s.parse())
        .context("--ballots-per-profile")?;
    let seed: u64 = flag(args, "--seed")
        .map_or(Ok(1), |s| s.parse())
        .context("--seed")?;
    let keep = flag(args, "--keep").map(PathBuf::from);
    let corpus = flag(args, "--corpus").map(PathBuf::from);
    let profiles: Vec<String> = match flag(args, "--profiles") {
        Some(list) => list.split(',').map(|p| p.trim().to_string()).collect(),
        None => PROFILES.iter().map(|p| p.to_string()).collect(),
    };
    if let Some(bad) = profiles.iter().find(|p| !PROFILES.contains(&p.as_str())) {
        anyhow::bail!("--profiles: unknown profile {bad:?}; use some of {PROFILES:?}");
    }
    let tmp = tempfile::tempdir()?;
    let root = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let cfg = config()?;
    let scan_dir = |scans: &Path, out: &Path| -> anyhow::Result<()> {
        report::scan_to_dir(out, &[scans.to_path_buf()], &cfg, &|_| {}, true)?;
        Ok(())
    };
    let mut families: Vec<(String, check::Accuracy)> = Vec::new();
    if let Some(dir) = &corpus {
        // A corpus written by another tool: its scans, its truth, its families.
        println!(
            "accuracy: corpus {}, thresholds empty ≤ {} < ambiguous < {} ≤ marked",
            dir.display(),
            cfg.thresholds.empty,
            cfg.thresholds.marked
        );
        let out = root.join("corpus-out");
        scan_dir(&dir.join("scans"), &out)?;
        let by = check::compare_by_profile(&dir.join("truth.csv"), &out.join("answers.csv"))
            .map_err(anyhow::Error::msg)?;
        families.extend(by);
    } else {
        println!(
            "accuracy: {per_profile} ballots per profile, seed {seed}, thresholds empty ≤ {} < ambiguous < {} ≤ marked",
            cfg.thresholds.empty, cfg.thresholds.marked
        );
        for profile in &profiles {
            // Each profile keeps its seed whatever others are chosen.
            let k = PROFILES.iter().position(|p| p == profile).unwrap_or(0);
            let dir = root.join(profile);
            let per_unit = per_profile.div_ceil(UNITS.len() as u32);
            synth(
                &dir,
                profile,
                per_unit,
                seed + k as u64 * 1000,
                None,
                FileFormat::Auto,
            )?;
            let out = dir.join("out");
            scan_dir(&dir.join("scans"), &out)?;
            let a = check::compare(&dir.join("truth.csv"), &out.join("answers.csv"))
                .map_err(anyhow::Error::msg)?;
            families.push((profile.clone(), a));
            if keep.is_none() {
                // A large run's images take gigabytes: free each profile's before the next.
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
    let mut total = check::Accuracy::empty_batch();
    print_header();
    for (name, a) in &families {
        print_row(name, a);
        total.add(a);
    }
    print_row("all", &total);
    println!(
        "definite marks sent to review: {:.3} %; empty boxes sent to review: {:.3} %; pages sent to review: {} of {}, needlessly {} ({:.1} %); ballots rejected: {} of {}",
        100.0 * total.definite_to_review as f64 / total.definite.max(1) as f64,
        100.0 * total.empty_to_review as f64 / total.empty.max(1) as f64,
        total.pages_to_review,
        total.ballots,
        total.needless_review,
        100.0 * total.needless_review as f64 / total.ballots.max(1) as f64,
        total.pages_rejected(),
        total.ballots
    );
    println!(
        "silent errors (a wrong answer on a ballot decided without a person): {}",
        total.silent_errors
    );
    for (name, a) in &families {
        if a.pages_rejected() > 0 {
            println!("rejected [{name}]: {}", a.rejected_summary());
        }
    }
    if let Some(dir) = &corpus {
        let pages = dir.join("pages.csv");
        if let Some(n) = check::zbar_readable(&pages, &total.rejected_pages) {
            println!(
                "rejected pages zbar could read: {n} of {} (from {})",
                total.pages_rejected(),
                pages.display()
            );
        }
    }
    let mut worst: Vec<(f64, String)> = families
        .iter()
        .flat_map(|(name, a)| {
            a.worst
                .iter()
                .map(move |(s, w)| (*s, format!("[{name}] {w}")))
        })
        .collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    let silent = worst.iter().filter(|w| w.1.contains("] SILENT ")).count();
    println!("worst cases (every silent error, then the ten worst others):");
    for (_, w) in worst.iter().take(silent + 10) {
        println!("  {w}");
    }
    if let Some(k) = keep {
        println!("files kept in {}", k.display());
    }
    Ok(())
}

fn print_header() {
    println!(
        "{:<15} {:>9} {:>6} {:>6} {:>7} {:>9} {:>9} {:>9} {:>9} {:>6} {:>7} {:>8} {:>8} {:>6} {:>6}",
        "profile",
        "positions",
        "errors",
        "silent",
        "q-errs",
        "definite",
        "to review",
        "marginal",
        "to review",
        "pages",
        "review",
        "needless",
        "rejected",
        "max-e",
        "min-d"
    );
}

fn print_row(name: &str, a: &check::Accuracy) {
    println!(
        "{:<15} {:>9} {:>6} {:>6} {:>7} {:>9} {:>9} {:>9} {:>9} {:>6} {:>7} {:>8} {:>8} {:>6.3} {:>6.3}",
        name,
        a.positions,
        a.errors,
        a.silent_errors,
        a.question_errors,
        a.definite,
        a.definite_to_review,
        a.marginal,
        a.marginal_to_review,
        a.ballots,
        a.pages_to_review,
        a.needless_review,
        a.pages_rejected(),
        a.max_empty_fill,
        a.min_definite_fill
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Peak memory (MB) reported by a child `ballotscan scan` on `input`.
fn child_scan_peak_mb(input: &Path, out: &Path) -> anyhow::Result<f64> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("ballotscan");
    // In English: the figure is read back from the summary's words.
    let output = Command::new(&bin)
        .args(["--lang", "en", "scan"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .output()
        .with_context(|| {
            format!(
                "cannot run {} (build it: cargo build --release)",
                bin.display()
            )
        })?;
    let err = String::from_utf8_lossy(&output.stderr);
    let mb = err
        .split("peak memory ")
        .nth(1)
        .and_then(|s| s.split(" MB").next())
        .and_then(|s| s.trim().parse().ok())
        .context("no peak memory in the scan summary")?;
    Ok(mb)
}

fn speed(args: &[String]) -> anyhow::Result<()> {
    let pages: u32 = flag(args, "--pages")
        .map_or(Ok(200), |s| s.parse())
        .context("--pages")?;
    let rounds: usize = flag(args, "--rounds")
        .map_or(Ok(3), |s| s.parse())
        .context("--rounds")?;
    let tmp = tempfile::tempdir()?;
    let cfg = config()?;
    println!(
        "speed: {pages} pages per batch, {rounds} rounds (median), {} threads",
        rayon::current_num_threads()
    );
    let batches = [
        ("200 DPI JPEG", 200.0, FileFormat::Jpeg),
        ("300 DPI JPEG", 300.0, FileFormat::Jpeg),
        ("200 DPI PNG", 200.0, FileFormat::Png),
        ("200 DPI PDF", 200.0, FileFormat::Pdf),
    ];
    println!(
        "{:<14} {:>11} {:>11} {:>7} {:>8} {:>6} {:>6} {:>7} {:>8} {:>9} {:>9}",
        "batch",
        "decode p/s",
        "scan p/s",
        "ratio",
        "decode",
        "QR",
        "align",
        "scoring",
        "outputs",
        "peak MB",
        "peak ×¼"
    );
    struct Batch {
        name: &'static str,
        dir: PathBuf,
        scans: PathBuf,
        files: Vec<PathBuf>,
        pages: f64,
        decode: Vec<f64>,
        scan: Vec<f64>,
        write_ms: Vec<f64>,
        stage: scan::StageTimes,
        tallies: String,
    }
    let mut runs = Vec::new();
    for (name, dpi, format) in batches {
        let dir = tmp.path().join(name.replace(' ', "-"));
        let per_unit = pages.div_ceil(UNITS.len() as u32);
        synth(&dir, "office-scanner", per_unit, 7, Some(dpi), format)?;
        let scans = dir.join("scans");
        let (files, _) = input::collect_files(std::slice::from_ref(&scans));
        // Scanned files are minutes old by the time a clerk scans them; a large file written
        // in the last 30 s is read rather than mapped (see `input`), so date these back too.
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for f in &files {
            std::fs::File::options()
                .write(true)
                .open(f)?
                .set_modified(an_hour_ago)?;
        }
        runs.push(Batch {
            name,
            dir,
            scans,
            files,
            pages: 0.0,
            decode: Vec::new(),
            scan: Vec::new(),
            write_ms: Vec::new(),
            stage: scan::StageTimes::default(),
            tallies: String::new(),
        });
    }
    // Rounds go through every batch in turn, so a slow spell on this shared machine falls on
    // all of them, and batches can be compared round by round.
    for _ in 0..rounds {
        for b in &mut runs {
            // Plain decoding: read and decode every page on all cores, nothing else.
            let t = Instant::now();
            let decoded: Vec<(usize, usize)> = b
                .files
                .par_iter()
                .map(|p| match input::open(p) {
                    Ok(f) => {
                        let ok = (0..f.pages)
                            .into_par_iter()
                            .filter(|&i| input::decode_page(&f, i).is_ok())
                            .count();
                        (ok, f.pages)
                    }
                    Err(_) => (0, 1),
                })
                .collect();
            b.decode.push(t.elapsed().as_secs_f64());
            let (ok, all) = decoded.iter().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
            anyhow::ensure!(ok == all, "{} of {all} pages did not decode", all - ok);
            b.pages = all as f64;
            let t = Instant::now();
            let out = b.dir.join("out");
            let outcome =
                report::scan_to_dir(&out, std::slice::from_ref(&b.scans), &cfg, &|_| {}, true)?;
            b.scan.push(t.elapsed().as_secs_f64());
            b.write_ms.push(outcome.write_time.as_secs_f64() * 1000.0);
            b.stage = outcome.times;
            b.tallies = std::fs::read_to_string(out.join("tallies.csv"))?;
        }
    }
    for b in &runs {
        let n = b.pages;
        let (d, f) = (median(b.decode.clone()), median(b.scan.clone()));
        let per = |x: std::time::Duration| x.as_secs_f64() * 1000.0 / n;
        // Peak memory of a whole scan process, for this batch and for a quarter of it.
        let peak = child_scan_peak_mb(&b.scans, &b.dir.join("child-out"))?;
        let quarter = b.dir.join("quarter");
        std::fs::create_dir_all(&quarter)?;
        for p in b.files.iter().take(b.files.len() / 4) {
            if let Some(name) = p.file_name() {
                std::fs::copy(p, quarter.join(name))?;
            }
        }
        let peak_q = if b.files.len() >= 4 {
            child_scan_peak_mb(&quarter, &b.dir.join("child-out-q"))?
        } else {
            f64::NAN
        };
        println!(
            "{:<14} {:>11.1} {:>11.1} {:>7.2} {:>6.1}ms {:>4.1}ms {:>4.1}ms {:>5.1}ms {:>6.0}ms {:>9.0} {:>9.0}",
            b.name,
            n / d,
            n / f,
            f / d,
            per(b.stage.decode),
            per(b.stage.qr),
            per(b.stage.align),
            per(b.stage.score),
            median(b.write_ms.clone()),
            peak,
            peak_q
        );
    }
    // The PDF holds the 200 DPI JPEG batch's pages: it must give the same tallies, and
    // should cost no more, compared round by round.
    let jpeg = &runs[0];
    let pdf = &runs[3];
    anyhow::ensure!(
        jpeg.tallies == pdf.tallies,
        "the PDF batch's tallies differ from the same pages as JPEG files"
    );
    let ratios =
        |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| x / y).collect() };
    let scan_ratio = ratios(&pdf.scan, &jpeg.scan);
    let decode_ratio = ratios(&pdf.decode, &jpeg.decode);
    println!(
        "one {}-page PDF / the same pages as JPEG files, time per round: scan {:.3} (median of {}), decode {:.3}; same tallies",
        pdf.pages,
        median(scan_ratio.clone()),
        scan_ratio
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(" "),
        median(decode_ratio),
    );
    println!("(stage times are per page on one core; ratio = full scan time / plain decode time, same files, same run)");
    Ok(())
}

/// Seconds of `f`'s run.
fn seconds(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

fn incremental(args: &[String]) -> anyhow::Result<()> {
    let pages: usize = flag(args, "--pages")
        .map_or(Ok(20_000), |s| s.parse())
        .context("--pages")?;
    let added: u32 = flag(args, "--added")
        .map_or(Ok(100), |s| s.parse())
        .context("--added")?;
    let rounds: usize = flag(args, "--rounds")
        .map_or(Ok(3), |s| s.parse())
        .context("--rounds")?;
    let tmp = tempfile::tempdir()?;
    let cfg = config()?;
    let units = UNITS.len() as u32;
    // A few hundred distinct ballots, copied under new names up to N files: each copy is
    // read in the full scan (nothing is known yet), as a real folder's pages are.
    let distinct = tmp.path().join("distinct");
    synth_from(
        &distinct,
        "office-scanner",
        50,
        1,
        1,
        None,
        FileFormat::Jpeg,
    )?;
    let new = tmp.path().join("new");
    synth_from(
        &new,
        "office-scanner",
        added.div_ceil(units),
        10_000,
        2,
        None,
        FileFormat::Jpeg,
    )?;
    let list = |dir: &Path| -> anyhow::Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("scans"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        v.sort();
        Ok(v)
    };
    let (distinct, new) = (list(&distinct)?, list(&new)?);
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(&inbox)?;
    for i in 0..pages {
        let from = &distinct[i % distinct.len()];
        std::fs::copy(from, inbox.join(format!("{i:06}.jpg")))?;
    }
    let scan = |inputs: &Path, out: &Path, rescan: bool| {
        seconds(|| {
            report::scan_to_dir(out, &[inputs.to_path_buf()], &cfg, &|_| {}, rescan).map(|_| ())
        })
    };
    println!(
        "incremental: {pages} pages in the folder, {} added, {} threads, {rounds} rounds (median)",
        new.len(),
        rayon::current_num_threads()
    );
    let out = tmp.path().join("out");
    let full = scan(&inbox, &out, true)?;
    println!(
        "  full scan of {pages} pages: {full:.1} s ({:.1} pages/s)",
        pages as f64 / full
    );
    let added_dir = tmp.path().join("added");
    std::fs::create_dir_all(&added_dir)?;
    let (mut inc, mut alone, mut none) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // The same results folder each round: the added files are taken out again first.
        for f in &new {
            let _ = std::fs::remove_file(inbox.join(f.file_name().unwrap_or_default()));
        }
        scan(&inbox, &out, false)?;
        for f in &new {
            std::fs::copy(f, inbox.join(f.file_name().unwrap_or_default()))?;
            if round == 0 {
                std::fs::copy(f, added_dir.join(f.file_name().unwrap_or_default()))?;
            }
        }
        inc.push(scan(&inbox, &out, false)?);
        none.push(scan(&inbox, &out, false)?);
        alone.push(scan(&added_dir, &tmp.path().join("alone"), true)?);
    }
    let (inc, alone, none) = (median(inc), median(alone), median(none));
    println!(
        "  the {} added pages alone, in a fresh folder: {alone:.2} s",
        new.len()
    );
    println!(
        "  incremental scan of {pages} + {}: {inc:.2} s = {:.2} × the added pages alone, {:.3} × the full scan",
        new.len(),
        inc / alone,
        inc / full
    );
    println!(
        "  a scan with nothing new ({} pages kept): {none:.2} s ({:.2} ms per kept page)",
        pages + new.len(),
        none * 1000.0 / (pages + new.len()) as f64
    );
    Ok(())
}
