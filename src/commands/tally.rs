//! `ballotscan tally`: one or more scans, the auditors' decisions, issued and voided serials
//! in; the merged tallies, reconciliation and the official report out (the work is
//! `crate::audit::tally`); the console says what was counted and what still waits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::ballot::Status;
use crate::failure;
use crate::i18n::{text, Lang};

/// `tally`'s flags.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    #[arg(required = true)]
    pub scans: Vec<PathBuf>,
    #[arg(long)]
    pub decisions: Vec<PathBuf>,
    #[arg(long)]
    pub issued: Vec<PathBuf>,
    #[arg(long)]
    pub units: Option<PathBuf>,
    #[arg(long, default_value_t = 80.0, value_parser = crate::args::decimal_arg)]
    pub threshold: f64,
    #[arg(long, default_value_t = 30)]
    pub min_answers: u64,
    #[arg(long = "final")]
    pub final_only: bool,
    #[arg(long)]
    pub agency: Option<String>,
    #[arg(long)]
    pub period: Option<String>,
    #[arg(long, value_parser = parse_date)]
    pub date: Option<crate::printable::Date>,
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `tally`; `lang` is the one asked for, else the first scan's.
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    failure::require_results(lang.unwrap_or_default(), &a.scans)?;
    failure::require_existing(
        lang.unwrap_or_default(),
        a.decisions.iter().chain(&a.issued).chain(a.units.as_ref()),
    )?;
    let r = crate::audit::tally(&crate::audit::TallyRequest {
        scan_dirs: &a.scans,
        decisions: &a.decisions,
        issued: &a.issued,
        units: a.units.as_deref(),
        out: &a.out,
        threshold: a.threshold,
        min_answers: a.min_answers,
        final_only: a.final_only,
        lang,
        agency: a.agency.as_deref(),
        period: a.period.as_deref(),
        date: a.date,
    })?;
    let lang = r.lang;
    let statuses = |by: &BTreeMap<Status, usize>| {
        by.iter()
            .map(|(s, n)| format!("{} {n}", text(lang, &format!("status.{}", s.as_str()), &[])))
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
                ("scans", &a.scans.len()),
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
        text(lang, "tally.results_in", &[("dir", &a.out.display())])
    );
    Ok(())
}

/// `--date` as `YYYY-MM-DD`, refused in the command line's language.
fn parse_date(s: &str) -> Result<crate::printable::Date, String> {
    crate::printable::Date::parse(s).ok_or_else(|| {
        text(
            crate::args::lang_of_command_line(),
            "cli.bad_date",
            &[("value", &s)],
        )
    })
}
