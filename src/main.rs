//! The `ballotscan` command line: parses flags and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use ballotscan::failure::{self, Failure};
use ballotscan::form::{self, Form};
use ballotscan::i18n::{text, Lang};
use ballotscan::marks::Thresholds;
use ballotscan::payload::SigningKey;
use ballotscan::registry::Registry;
use ballotscan::synth::ballots::FileFormat;
use ballotscan::{generate, report, scan};

/// The command line. What `--help` says — each command's line, each flag's help, the exit
/// statuses — is in the catalogue (`help.*` in `locales/*.yml`), put in by [`localized_command`]
/// in the language of the command line.
#[derive(Parser)]
#[command(name = "ballotscan", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[arg(long, global = true)]
    lang: Option<Lang>,
}

#[derive(Subcommand)]
enum Command {
    Generate {
        #[arg(long)]
        unit: String,
        #[arg(long, default_value_t = 10)]
        count: u32,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        form: Option<PathBuf>,
        #[arg(long)]
        units: Option<PathBuf>,
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        first_serial: Option<u32>,
        #[arg(long, value_parser = ballotscan::args::serials_arg, conflicts_with_all = ["first_serial", "count"])]
        reprint: Option<std::collections::BTreeSet<u32>>,
        #[arg(long)]
        png: bool,
        #[arg(long, default_value_t = 200)]
        dpi: u32,
    },
    Scan {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        forms: Option<PathBuf>,
        #[arg(long)]
        units: Option<PathBuf>,
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long, default_value_t = Thresholds::default().empty, value_parser = ballotscan::args::decimal_arg)]
        empty_below: f64,
        #[arg(long, default_value_t = Thresholds::default().marked, value_parser = ballotscan::args::decimal_arg)]
        marked_above: f64,
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long)]
        voided: Vec<PathBuf>,
        #[arg(long)]
        rescan: bool,
        #[arg(long)]
        watch: bool,
    },
    Review {
        dir: PathBuf,
    },
    Tally {
        #[arg(required = true)]
        scans: Vec<PathBuf>,
        #[arg(long)]
        decisions: Vec<PathBuf>,
        #[arg(long)]
        issued: Vec<PathBuf>,
        #[arg(long)]
        units: Option<PathBuf>,
        #[arg(long, default_value_t = 80.0, value_parser = ballotscan::args::decimal_arg)]
        threshold: f64,
        #[arg(long, default_value_t = 30)]
        min_answers: u64,
        #[arg(long = "final")]
        final_only: bool,
        #[arg(long)]
        agency: Option<String>,
        #[arg(long)]
        period: Option<String>,
        #[arg(long, value_parser = parse_date)]
        date: Option<ballotscan::printable::Date>,
        #[arg(long)]
        out: PathBuf,
    },
    Void {
        #[arg(long)]
        unit: String,
        #[arg(long, value_parser = ballotscan::args::serials_arg)]
        serials: std::collections::BTreeSet<u32>,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        units: Option<PathBuf>,
    },
    Units {
        #[arg(long)]
        units: Option<PathBuf>,
    },
    Forms {
        #[arg(long)]
        forms: Option<PathBuf>,
    },
    Synth {
        #[arg(long = "unit", value_delimiter = ',', required = true)]
        units: Vec<String>,
        #[arg(long, default_value_t = 10)]
        count: u32,
        #[arg(long, default_value = "office-scanner",
              value_parser = clap::builder::PossibleValuesParser::new(ballotscan::synth::degrade::PROFILES))]
        profile: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_parser = ballotscan::args::decimal_arg)]
        dpi: Option<f64>,
        #[arg(long, value_enum, default_value_t = FileFormat::Auto)]
        format: FileFormat,
        #[arg(long)]
        quality: Option<u8>,
        #[arg(long, default_value_t = 1)]
        first_serial: u32,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        form: Option<PathBuf>,
        #[arg(long)]
        units_file: Option<PathBuf>,
        #[arg(long)]
        key: Option<PathBuf>,
    },
    Check {
        truth: PathBuf,
        scan: PathBuf,
    },
}

/// `Cli`'s command line with every text people read in `lang`, from the catalogue (`help.*`):
/// the program's and each command's line, each flag's help, the headings and the exit
/// statuses. clap's derive only knows one fixed text, so the texts are put in here, before
/// parsing; the flags themselves, their parsing and clap's errors stay as derived.
fn localized_command(lang: Lang) -> clap::Command {
    let t = |key: &str| text(lang, key, &[]);
    let words = HelpWords::of(lang);
    let mut cmd = localize_args(Cli::command(), &words, "help")
        .about(t("help.about"))
        .after_help(t("help.exit_status"))
        .subcommand_help_heading(words.commands)
        .disable_version_flag(true)
        .arg(words.own_flag("version", 'V', clap::ArgAction::Version));
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |s| {
            localize_args(s, &words, &format!("help.{name}"))
                .about(t(&format!("help.{name}.about")))
        });
    }
    // clap adds its `help` command when the command line is built: built here, its line is
    // then put in words like the others.
    cmd.build();
    cmd.mut_subcommand("help", |h| h.about(t("help.help_command")))
}

/// The words `--help` is framed with, in one language.
struct HelpWords {
    lang: Lang,
    usage: String,
    // clap takes headings as `'static` text (owned ones need its `string` feature): these
    // three are leaked, once per run.
    commands: &'static str,
    arguments: &'static str,
    options: &'static str,
}

impl HelpWords {
    fn of(lang: Lang) -> HelpWords {
        let leak = |key: &str| -> &'static str { Box::leak(text(lang, key, &[]).into_boxed_str()) };
        HelpWords {
            lang,
            usage: text(lang, "help.usage", &[]),
            commands: leak("help.commands"),
            arguments: leak("help.arguments"),
            options: leak("help.options"),
        }
    }

    /// clap's own `--help` or `--version` (`-h`, `-V`), saying what it does in this language.
    fn own_flag(&self, name: &'static str, short: char, action: clap::ArgAction) -> clap::Arg {
        clap::Arg::new(name)
            .short(short)
            .long(name)
            .action(action)
            .help(text(self.lang, &format!("help.flag_{name}"), &[]))
            .help_heading(self.options)
    }
}

/// `cmd` with each flag's help from `{prefix}.{flag id}`, headings and usage line in `words`,
/// and a `--help` flag that says so in their language.
fn localize_args(cmd: clap::Command, words: &HelpWords, prefix: &str) -> clap::Command {
    let t = |key: &str| text(words.lang, key, &[]);
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    let mut cmd = cmd.help_template(format!(
        "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
        words.usage
    ));
    // Each flag is taken out and put back in turn: their order stays the derive's.
    for id in ids {
        cmd = cmd.mut_arg(&id, |a| {
            let heading = if a.is_positional() {
                words.arguments
            } else {
                words.options
            };
            a.help(t(&format!("{prefix}.{id}"))).help_heading(heading)
        });
    }
    cmd.disable_help_flag(true)
        .arg(words.own_flag("help", 'h', clap::ArgAction::Help))
}

/// One scan of walked inputs into `out`, with a progress bar and the console summary.
fn scan_into(
    out: &std::path::Path,
    inputs: &[PathBuf],
    walk: &ballotscan::input::Walk,
    cfg: &scan::Config,
    settings: &report::ScanSettings,
    rescan: bool,
) -> anyhow::Result<()> {
    let files = &walk.files;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(files.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(&text(settings.lang, "cli.progress", &[]))
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
        settings,
        rescan,
    );
    bar.finish_and_clear();
    let outcome = outcome?;
    let elapsed = start.elapsed().as_secs_f64();
    eprint!(
        "{}",
        report::console_summary(&outcome, files.len(), elapsed, peak_memory(), settings.lang)
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
    let lang = cli.lang.or_else(ballotscan::args::lang_of_environment);
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
            let statuses = |by: &std::collections::BTreeMap<ballotscan::ballot::Status, usize>| {
                by.iter()
                    .map(|(s, n)| {
                        format!("{} {n}", text(lang, &format!("status.{}", s.as_str()), &[]))
                    })
                    .collect::<Vec<String>>()
                    .join(", ")
            };
            let list = statuses(&r.by_status);
            eprintln!(
                "{}",
                text(
                    lang,
                    "tally.done",
                    &[
                        ("pages", &r.pages),
                        ("scans", &scans.len()),
                        ("decisions", &r.decisions_applied),
                        ("list", &list),
                    ]
                )
            );
            let keyed: usize = r.keyed_by_status.values().sum();
            if keyed > 0 {
                eprintln!(
                    "{}",
                    text(
                        lang,
                        "tally.keyed",
                        &[("n", &keyed), ("list", &statuses(&r.keyed_by_status))]
                    )
                );
            }
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
                    anyhow::bail!(text(
                        lang.unwrap_or_default(),
                        "cli.synth_bad_dpi",
                        &[("dpi", &d)]
                    ));
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
                "{}",
                text(
                    lang.unwrap_or_default(),
                    "cli.synth_done",
                    &[
                        ("pages", &report.pages),
                        ("files", &report.files.len()),
                        ("truth", &out.join("truth.csv").display()),
                    ]
                )
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
            rescan,
            watch,
        } => {
            // The command line first: a usage mistake is reported before missing paths.
            if !(0.0..=1.0).contains(&empty_below)
                || !(0.0..=1.0).contains(&marked_above)
                || empty_below >= marked_above
            {
                return Err(failure::usage(text(
                    lang.unwrap_or_default(),
                    "cli.bad_thresholds",
                    &[("empty", &empty_below), ("marked", &marked_above)],
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
                    .with_context(|| text(lang.unwrap_or_default(), "cli.threads", &[]))?;
            }
            let mut cfg = scan::Config::new(forms, registry, key, thresholds)?;
            cfg.voided = ballotscan::voided::load(&voided)?;
            cfg.lang = lang.unwrap_or_default();
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
            // Walked once: the same list sizes the progress bar and is scanned.
            let walk = ballotscan::input::walk_inputs(&inputs, Some(&out));
            let scan = |walk: &ballotscan::input::Walk, rescan: bool| {
                scan_into(&out, &inputs, walk, &cfg, &settings, rescan)
            };
            if !watch {
                return scan(&walk, rescan);
            }
            // Watching: an empty folder waits for its first files instead of failing.
            if !walk.files.is_empty() {
                scan(&walk, rescan)?;
            }
            eprintln!(
                "{}",
                text(
                    settings.lang,
                    "console.watching",
                    &[("dir", &out.display())]
                )
            );
            ballotscan::watch::watch(
                &inputs,
                &out,
                ballotscan::watch::Snapshot::of(&walk),
                &mut |walk| {
                    if let Err(e) = scan(walk, false) {
                        eprintln!(
                            "{}",
                            text(
                                settings.lang,
                                "console.watch_failed",
                                &[("error", &format!("{e:#}"))]
                            )
                        );
                    }
                },
            )
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
                        ("todo", &done.to_decide),
                        ("info", &(done.flagged - done.to_decide)),
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
            .with_context(|| text(lang, "cli.generate_failed", &[]))?;
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
    ballotscan::printable::Date::parse(s).ok_or_else(|| {
        text(
            ballotscan::args::lang_of_command_line(),
            "cli.bad_date",
            &[("value", &s)],
        )
    })
}

fn main() -> ExitCode {
    let _console = Utf8Console::switch();
    // Before parsing: the flags' own mistakes, and those of forms and registries read deep in
    // the library, are read by the same person as the rest.
    ballotscan::i18n::set_spoken(ballotscan::args::lang_of_command_line());
    // Not `Cli::parse`, which exits the process itself (for --help too) before the console
    // is put back.
    let mut command = localized_command(ballotscan::i18n::spoken());
    let cli = match command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let e = e.format(&mut command);
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let lang = cli.lang.or_else(ballotscan::args::lang_of_environment);
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
