//! The `ballotscan` command line: parses flags and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use ballotscan::failure::{self, Failure};
use ballotscan::form::{self, Form};
use ballotscan::i18n::{text, Lang};
use ballotscan::marks::Thresholds;
use ballotscan::payload::SigningKey;
use ballotscan::registry::Registry;
use ballotscan::synth::ballots::FileFormat;
use ballotscan::{generate, report, scan};

#[derive(Parser)]
#[command(
    name = "ballotscan",
    version,
    about = "Printed ballots in, exact per-unit tallies out",
    after_help = EXIT_STATUS_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Language of what people read (console, review page, report): vi (default) or en.
    /// `review` and `tally` default to the language the scan used.
    #[arg(long, global = true)]
    lang: Option<Lang>,
}

/// The statuses of `ballotscan::failure`, for `--help` (and the README's "Exit status").
const EXIT_STATUS_HELP: &str = "Exit status: 0 done (however many ballots were flagged), \
1 refused or failed (the message says why), 2 command-line mistake, \
3 input mistake (a path that does not exist, a file that cannot be read, an unknown unit), \
4 a result could not be written (full disk, no permission).";

#[derive(Subcommand)]
enum Command {
    /// Print ballots for one unit: a PDF with unique serials, recorded in issued.csv.
    Generate {
        /// Unit code from the units registry.
        #[arg(long)]
        unit: String,
        /// How many ballots.
        #[arg(long, default_value_t = 10)]
        count: u32,
        /// Output folder (created if missing). An existing issued.csv there is continued.
        #[arg(long)]
        out: PathBuf,
        /// Form definition (TOML). Default: the newest embedded standard form (CSAT v2).
        #[arg(long)]
        form: Option<PathBuf>,
        /// Units registry (CSV: code,name,parent). Default: the embedded registry.
        #[arg(long)]
        units: Option<PathBuf>,
        /// Sign serials with the key in this file (keep it secret).
        #[arg(long)]
        key: Option<PathBuf>,
        /// First serial; default: after the last one in OUT/issued.csv for this unit.
        #[arg(long)]
        first_serial: Option<u32>,
        /// Print these already-issued serials again (e.g. 5-7 after a printer jam): the same
        /// QR codes (give the same --key), marked as reprints in issued.csv, no new serials.
        #[arg(long, value_parser = ballotscan::args::serials_arg, conflicts_with_all = ["first_serial", "count"])]
        reprint: Option<std::collections::BTreeSet<u32>>,
        /// Also write one PNG per ballot.
        #[arg(long)]
        png: bool,
        /// DPI of the PNGs (150–600).
        #[arg(long, default_value_t = 200)]
        dpi: u32,
    },
    /// Read scanned ballots (files or folders) and write per-unit tallies to OUT.
    Scan {
        /// Image files (PNG, JPEG, TIFF incl. multi-page) and folders (searched recursively).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output folder for ballots.csv, answers.csv, tallies.csv and summary.csv.
        #[arg(long)]
        out: PathBuf,
        /// Folder of form definitions (*.toml). Default: the embedded standard form.
        #[arg(long)]
        forms: Option<PathBuf>,
        /// Units registry (CSV: code,name,parent). Default: the embedded registry.
        #[arg(long)]
        units: Option<PathBuf>,
        /// Check serial signatures with the key in this file; unsigned or forged ballots are rejected.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Fill score at or below which a box is empty.
        #[arg(long, default_value_t = Thresholds::default().empty, value_parser = ballotscan::args::decimal_arg)]
        empty_below: f64,
        /// Fill score at or above which a box is marked (between the two: review).
        #[arg(long, default_value_t = Thresholds::default().marked, value_parser = ballotscan::args::decimal_arg)]
        marked_above: f64,
        /// Worker threads (default: all cores). Results are identical for any value.
        #[arg(long)]
        threads: Option<usize>,
        /// voided.csv written by `ballotscan void`: ballots of those serials are rejected
        /// (voided_serial), never counted.
        #[arg(long)]
        voided: Vec<PathBuf>,
    },
    /// Write the review page of a scan: each flagged ballot's image and its decisions to record.
    Review {
        /// Output folder of `scan`.
        dir: PathBuf,
    },
    /// Final tally: merge scan folders, apply auditors' decisions, reconcile, report.
    Tally {
        /// Output folders of `ballotscan scan` (several scanning stations merge into one result).
        #[arg(required = true)]
        scans: Vec<PathBuf>,
        /// decisions.csv files exported from the review page (or written by hand).
        #[arg(long)]
        decisions: Vec<PathBuf>,
        /// issued.csv files from `generate`, to reconcile issued against returned ballots.
        #[arg(long)]
        issued: Vec<PathBuf>,
        /// Units registry (CSV) instead of the one the scans used.
        #[arg(long)]
        units: Option<PathBuf>,
        /// Satisfaction rate (%) below which the report highlights a unit.
        #[arg(long, default_value_t = 80.0, value_parser = ballotscan::args::decimal_arg)]
        threshold: f64,
        /// Rated answers a unit needs before the report ranks it or calls it below the
        /// threshold; units with fewer are shown but marked as too few to rank.
        #[arg(long, default_value_t = 30)]
        min_answers: u64,
        /// Write the final report only: refuse (and write nothing) while any ballot still
        /// waits for review.
        #[arg(long = "final")]
        final_only: bool,
        /// Issuing agency printed at the top of the report.
        #[arg(long)]
        agency: Option<String>,
        /// Survey period printed under the report's title, e.g. "01/10/2026 - 31/10/2026".
        #[arg(long)]
        period: Option<String>,
        /// The report's date (YYYY-MM-DD); default today.
        #[arg(long, value_parser = parse_date)]
        date: Option<ballotscan::printable::Date>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Void issued serials (spoiled, lost, stolen): they are never counted if they come back.
    Void {
        /// Unit code from the units registry.
        #[arg(long)]
        unit: String,
        /// Serials to void: 5, 5-7 or 5-7,12.
        #[arg(long, value_parser = ballotscan::args::serials_arg)]
        serials: std::collections::BTreeSet<u32>,
        /// Why, for the record (kept in voided.csv).
        #[arg(long)]
        reason: String,
        /// The print folder (generate's --out) holding issued.csv; voided.csv is written there.
        #[arg(long)]
        out: PathBuf,
        /// Units registry (CSV: code,name,parent). Default: the embedded registry.
        #[arg(long)]
        units: Option<PathBuf>,
    },
    /// List the units of the registry (embedded, or --units FILE) as a tree: code and name.
    Units {
        /// Units registry (CSV: code,name,parent). Default: the embedded registry.
        #[arg(long)]
        units: Option<PathBuf>,
    },
    /// List the forms (embedded, or --forms DIR): id, version, questions and options.
    Forms {
        /// Folder of form definitions (*.toml). Default: the embedded standard forms.
        #[arg(long)]
        forms: Option<PathBuf>,
    },
    /// Testing: simulate filled and scanned ballots (with truth.csv) for a scanner set-up.
    Synth {
        /// Unit codes (repeat the flag, or separate with commas).
        #[arg(long = "unit", value_delimiter = ',', required = true)]
        units: Vec<String>,
        /// Ballots per unit.
        #[arg(long, default_value_t = 10)]
        count: u32,
        /// Degradation profile: clean, office-scanner, bad-scanner, phone-photo, or one of the
        /// simulator's families (folded, photocopy…).
        #[arg(long, default_value = "office-scanner",
              value_parser = clap::builder::PossibleValuesParser::new(ballotscan::synth::degrade::PROFILES))]
        profile: String,
        /// Random seed: the same seed gives the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Fixed DPI (default: 150, 200 or 300 at random per page).
        #[arg(long, value_parser = ballotscan::args::decimal_arg)]
        dpi: Option<f64>,
        /// auto (as the profile scans), jpeg, png, tiff or pdf (all pages in one multi-page file).
        #[arg(long, value_enum, default_value_t = FileFormat::Auto)]
        format: FileFormat,
        /// JPEG quality (1–100) instead of the profile's.
        #[arg(long)]
        quality: Option<u8>,
        /// First serial of each unit.
        #[arg(long, default_value_t = 1)]
        first_serial: u32,
        /// Prefix for file names, so several runs can share a folder.
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        form: Option<PathBuf>,
        /// Units registry (CSV). Default: the embedded registry.
        #[arg(long)]
        units_file: Option<PathBuf>,
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Testing: compare a scan of a synthetic batch with its truth.csv, box by box.
    Check {
        /// truth.csv written by `synth`.
        truth: PathBuf,
        /// Output folder of `scan`.
        scan: PathBuf,
    },
}

/// The form `--form` names, or else `default` (an embedded standard form).
fn load_form(path: Option<&PathBuf>, default: fn() -> Form) -> anyhow::Result<Form> {
    Ok(match path {
        Some(p) => Form::load(p)?,
        None => default(),
    })
}

fn load_units(path: Option<&PathBuf>) -> anyhow::Result<Registry> {
    Ok(match path {
        Some(p) => Registry::load(p)?,
        None => Registry::default_units(),
    })
}

fn load_key(path: Option<&PathBuf>) -> anyhow::Result<Option<SigningKey>> {
    path.map(|p| SigningKey::from_file(p).map_err(anyhow::Error::from))
        .transpose()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let lang = cli.lang;
    match cli.command {
        Command::Tally {
            scans,
            decisions,
            issued,
            units,
            threshold,
            min_answers,
            final_only,
            agency,
            period,
            date,
            out,
        } => {
            failure::require_results(lang.unwrap_or_default(), &scans)?;
            failure::require_existing(
                lang.unwrap_or_default(),
                decisions.iter().chain(&issued).chain(units.as_ref()),
            )?;
            let r = ballotscan::audit::tally(&ballotscan::audit::TallyRequest {
                scan_dirs: &scans,
                decisions: &decisions,
                issued: &issued,
                units: units.as_deref(),
                out: &out,
                threshold,
                min_answers,
                final_only,
                lang,
                agency: agency.as_deref(),
                period: period.as_deref(),
                date,
            })?;
            let lang = r.lang;
            let list: Vec<String> = r
                .by_status
                .iter()
                .map(|(s, n)| format!("{} {n}", text(lang, &format!("status.{}", s.as_str()), &[])))
                .collect();
            eprintln!(
                "{}",
                text(
                    lang,
                    "tally.done",
                    &[
                        ("pages", &r.pages),
                        ("scans", &scans.len()),
                        ("decisions", &r.decisions_applied),
                        ("list", &list.join(", ")),
                    ]
                )
            );
            if r.pending > 0 {
                eprintln!("{}", text(lang, "tally.provisional", &[("n", &r.pending)]));
            }
            if !r.kept_apart.is_empty() {
                eprintln!(
                    "{}",
                    text(
                        lang,
                        "tally.versions_apart",
                        &[("list", &r.kept_apart.join("; "))]
                    )
                );
            }
            for f in &r.voided_files {
                eprintln!(
                    "{}",
                    text(
                        lang,
                        "tally.voided",
                        &[
                            ("file", &f.display()),
                            ("serials", &r.voided_serials),
                            ("returned", &r.voided_rejected),
                        ]
                    )
                );
            }
            if r.comments > 0 {
                eprintln!("{}", text(lang, "tally.comments", &[("n", &r.comments)]));
            }
            eprintln!(
                "{}",
                text(lang, "tally.results_in", &[("dir", &out.display())])
            );
            Ok(())
        }
        Command::Check { truth, scan } => {
            let by =
                ballotscan::synth::check::compare_by_profile(&truth, &scan.join("answers.csv"))
                    .map_err(anyhow::Error::msg)?;
            // Written, not printed: `check … | head` closes the pipe early, which is no error.
            let print = || -> std::io::Result<()> {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                for (profile, a) in &by {
                    writeln!(
                        out,
                        "[{profile}] positions {} errors {} silent errors {} question errors {} | definite {} to review {} | empty {} to review {} | marginal {} to review {} | ballots {} to review {} (needless {}) unread {} rejected: {} | highest empty fill {:.3}, lowest definite fill {:.3}",
                        a.positions, a.errors, a.silent_errors, a.question_errors, a.definite, a.definite_to_review, a.empty, a.empty_to_review,
                        a.marginal, a.marginal_to_review, a.ballots, a.pages_to_review, a.needless_review, a.ballots_unread, a.rejected_summary(), a.max_empty_fill, a.min_definite_fill
                    )?;
                    for (_, w) in &a.worst {
                        writeln!(out, "  {w}")?;
                    }
                }
                Ok(())
            };
            match print() {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => {}
            }
            Ok(())
        }
        Command::Void {
            unit,
            serials,
            reason,
            out,
            units,
        } => {
            let lang = lang.unwrap_or_default();
            failure::require_existing(lang, [&out].into_iter().chain(&units))?;
            let registry = load_units(units.as_ref())?;
            let path = ballotscan::voided::void(&ballotscan::voided::Request {
                registry: &registry,
                unit: &unit,
                serials: &serials,
                reason: &reason,
                print_dir: &out,
                lang,
            })?;
            eprintln!(
                "{}",
                text(
                    lang,
                    "void.done",
                    &[
                        ("n", &serials.len()),
                        ("unit", &unit),
                        ("serials", &ballotscan::audit::ranges(&serials)),
                        ("file", &path.display()),
                    ]
                )
            );
            Ok(())
        }
        Command::Units { units } => {
            let lang = lang.unwrap_or_default();
            failure::require_existing(lang, &units)?;
            let registry = load_units(units.as_ref())?;
            let source = match &units {
                Some(p) => p.display().to_string(),
                None => text(lang, "units.embedded", &[]),
            };
            let mut lines = vec![text(
                lang,
                "units.listing",
                &[("n", &registry.units.len()), ("source", &source)],
            )];
            let tree = registry.tree();
            // Names in one column, after the deepest indented code.
            let width = tree
                .iter()
                .map(|(depth, u)| 2 * depth + u.code.chars().count())
                .max()
                .unwrap_or(0);
            for (depth, u) in tree {
                let code = format!("{}{}", "  ".repeat(depth), u.code);
                lines.push(format!("{code:<width$}  {}", u.name));
            }
            print_lines(&lines)
        }
        Command::Forms { forms } => {
            let lang = lang.unwrap_or_default();
            failure::require_existing(lang, &forms)?;
            let (list, source) = match &forms {
                Some(dir) => (form::load_dir(dir)?, dir.display().to_string()),
                None => (Form::standard_forms(), text(lang, "forms.embedded", &[])),
            };
            let mut lines = vec![text(
                lang,
                "forms.listing",
                &[("n", &list.len()), ("source", &source)],
            )];
            for f in &list {
                lines.push(format!("{} v{}  {}", f.id, f.version, f.title));
                for q in &f.questions {
                    lines.push(format!("  {}  {}", q.id, q.text));
                    if !q.options.is_empty() {
                        let options: Vec<String> = q
                            .options
                            .iter()
                            .map(|o| format!("{} {}", o.id, o.label))
                            .collect();
                        lines.push(format!("      {}", options.join(" · ")));
                    }
                }
            }
            print_lines(&lines)
        }
        Command::Synth {
            units,
            count,
            profile,
            seed,
            dpi,
            format,
            quality,
            first_serial,
            prefix,
            out,
            form,
            units_file,
            key,
        } => {
            use ballotscan::synth::ballots;
            // Version 1: the simulator's corpora and accuracy figures are made of it.
            let form = load_form(form.as_ref(), Form::default_form)?;
            let registry = load_units(units_file.as_ref())?;
            let key = load_key(key.as_ref())?;
            if let Some(d) = dpi {
                if !(100.0..=600.0).contains(&d) {
                    anyhow::bail!("--dpi must be from 100 to 600");
                }
            }
            let report = ballots::run(&ballots::Request {
                form: &form,
                registry: &registry,
                units,
                count_per_unit: count,
                first_serial,
                profile,
                seed,
                dpi,
                key: key.as_ref(),
                format,
                jpeg_quality: quality.map(|q| q.clamp(1, 100)),
                out_dir: &out,
                prefix,
            })?;
            eprintln!(
                "ballotscan: {} simulated pages in {} files, truth in {}",
                report.pages,
                report.files.len(),
                out.join("truth.csv").display()
            );
            Ok(())
        }
        Command::Scan {
            inputs,
            out,
            forms,
            units,
            key,
            empty_below,
            marked_above,
            threads,
            voided,
        } => {
            // The command line first: a usage mistake is reported before missing paths.
            if !(0.0..=1.0).contains(&empty_below)
                || !(0.0..=1.0).contains(&marked_above)
                || empty_below >= marked_above
            {
                return Err(failure::usage(format!(
                    "thresholds must satisfy 0 ≤ --empty-below < --marked-above ≤ 1 (got {empty_below} and {marked_above})"
                )));
            }
            failure::require_existing(
                lang.unwrap_or_default(),
                inputs
                    .iter()
                    .chain(forms.as_ref())
                    .chain(units.as_ref())
                    .chain(key.as_ref())
                    .chain(&voided),
            )?;
            let forms_dir = forms;
            let forms = match &forms_dir {
                Some(dir) => form::load_dir(dir)?,
                None => Form::standard_forms(),
            };
            let registry = load_units(units.as_ref())?;
            let key = load_key(key.as_ref())?;
            let thresholds = Thresholds {
                empty: empty_below,
                marked: marked_above,
            };
            if let Some(n) = threads {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n.max(1))
                    .build_global()
                    .context("cannot set up the worker threads")?;
            }
            let mut cfg = scan::Config::new(forms, registry, key, thresholds)?;
            cfg.voided = ballotscan::voided::load(&voided)?;
            // Walked once: the same list sizes the progress bar and is scanned.
            let walk = ballotscan::input::walk_inputs(&inputs, Some(&out));
            let files = &walk.files;
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(files.len() as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} files, {msg} pages  {elapsed} (eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let pages = std::sync::atomic::AtomicUsize::new(0);
            let absolute = |p: &Option<PathBuf>| {
                p.as_ref()
                    .map(|p| ballotscan::results::canonical(p).unwrap_or(p.clone()))
            };
            let mut settings =
                report::ScanSettings::new(absolute(&forms_dir), absolute(&units), &cfg.thresholds);
            settings.lang = lang.unwrap_or_default();
            settings.voided = voided
                .iter()
                .map(|p| absolute(&Some(p.clone())).unwrap_or(p.clone()))
                .collect();
            let start = std::time::Instant::now();
            let outcome = report::scan_walk_to_dir(
                &out,
                &inputs,
                &walk,
                &cfg,
                &|n| {
                    let total = pages.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
                    bar.set_message(total.to_string());
                    bar.inc(1);
                },
                &settings,
            )?;
            bar.finish_and_clear();
            let elapsed = start.elapsed().as_secs_f64();
            eprint!(
                "{}",
                report::console_summary(
                    &outcome,
                    files.len(),
                    elapsed,
                    peak_memory(),
                    settings.lang
                )
            );
            eprintln!(
                "{}",
                text(
                    settings.lang,
                    "console.results_in",
                    &[("dir", &out.display())]
                )
            );
            Ok(())
        }
        Command::Review { dir } => {
            failure::require_results(lang.unwrap_or_default(), [&dir])?;
            let done = ballotscan::review::run(&dir, lang)?;
            for w in ballotscan::console::collapse_warnings(done.lang, &done.warnings) {
                eprintln!("{}", text(done.lang, "console.warning", &[("text", &w)]));
            }
            eprintln!(
                "{}",
                text(
                    done.lang,
                    "review.done",
                    &[
                        ("flagged", &done.flagged),
                        ("images", &done.images),
                        ("page", &done.index_html.display()),
                    ]
                )
            );
            Ok(())
        }
        Command::Generate {
            unit,
            count,
            out,
            form,
            units,
            key,
            first_serial,
            reprint,
            png,
            dpi,
        } => {
            let lang = lang.unwrap_or_default();
            failure::require_existing(lang, form.iter().chain(&units).chain(&key))?;
            let form = load_form(form.as_ref(), Form::newest_standard)?;
            let registry = load_units(units.as_ref())?;
            let key = load_key(key.as_ref())?;
            let report = generate::generate(&generate::Request {
                form: &form,
                registry: &registry,
                unit: &unit,
                count,
                first_serial,
                key: key.as_ref(),
                out_dir: &out,
                png_dpi: png.then_some(dpi),
                reprint: reprint.as_ref(),
                lang,
            })
            .context("generate failed")?;
            let pngs = if report.pngs.is_empty() {
                String::new()
            } else {
                text(lang, "console.generated_pngs", &[("n", &report.pngs.len())])
            };
            eprintln!(
                "{}{pngs}",
                text(
                    lang,
                    if reprint.is_some() {
                        "console.reprinted"
                    } else {
                        "console.generated"
                    },
                    &[
                        ("count", &report.count),
                        ("unit", &unit),
                        ("first", &format!("{:06}", report.first_serial)),
                        ("last", &format!("{:06}", report.last_serial)),
                        ("pdf", &report.pdf.display()),
                    ]
                )
            );
            Ok(())
        }
    }
}

/// Peak resident memory of this process in kB (Linux), for the summary and the benchmark.
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

/// A Windows console shows bytes in its code page (often 437 or 1258), so UTF-8 output
/// written through a pipe or by a child such as `more` would show "Phiáº¿u": the console is
/// switched to UTF-8 for this run and put back when it ends (the code page outlives the
/// process otherwise). Rust writes to a console window itself in UTF-16, needing no code page.
struct Utf8Console {
    #[cfg(windows)]
    previous: u32,
}

impl Utf8Console {
    fn switch() -> Utf8Console {
        #[cfg(windows)]
        {
            use windows_sys::Win32::System::Console::{GetConsoleOutputCP, SetConsoleOutputCP};
            // SAFETY: both take or give a code page number; without a console they fail
            // harmlessly (0), and 0 is then not restored.
            let previous = unsafe { GetConsoleOutputCP() };
            unsafe { SetConsoleOutputCP(65001) };
            Utf8Console { previous }
        }
        #[cfg(not(windows))]
        Utf8Console {}
    }
}

impl Drop for Utf8Console {
    fn drop(&mut self) {
        #[cfg(windows)]
        if self.previous != 0 {
            // SAFETY: as in `switch`.
            unsafe { windows_sys::Win32::System::Console::SetConsoleOutputCP(self.previous) };
        }
    }
}

/// Lines to stdout (a listing can be piped or redirected); a closed pipe (`| more` quit
/// early) is no error.
fn print_lines(lines: &[String]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for l in lines {
        match writeln!(out, "{l}") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            r => r?,
        }
    }
    Ok(())
}

fn parse_date(s: &str) -> Result<ballotscan::printable::Date, String> {
    ballotscan::printable::Date::parse(s)
        .ok_or_else(|| format!("{s:?} is not a date: write it as YYYY-MM-DD"))
}

fn main() -> ExitCode {
    let _console = Utf8Console::switch();
    // Not `Cli::parse`, which exits the process itself (for --help too) before the console
    // is put back.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let lang = cli.lang;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let lang = lang.unwrap_or_default();
            eprintln!(
                "{}",
                text(lang, "console.error", &[("text", &format!("{e:#}"))])
            );
            ExitCode::from(Failure::of(&e).exit_status())
        }
    }
}
