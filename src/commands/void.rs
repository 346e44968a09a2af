//! `ballotscan void`: serials a clerk withdraws (lost, spoiled, reprinted) recorded in the
//! print folder's voided.csv (the work is `crate::voided::void`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::failure;
use crate::i18n::{text, Lang};

/// `void`'s flags.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    #[arg(long)]
    pub unit: String,
    #[arg(long, value_parser = crate::args::serials_arg)]
    pub serials: BTreeSet<u32>,
    #[arg(long)]
    pub reason: String,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub units: Option<PathBuf>,
}

/// Runs `void`.
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    let lang = lang.unwrap_or_default();
    failure::require_existing(lang, [&a.out].into_iter().chain(&a.units))?;
    let registry = super::load_units(a.units.as_ref())?;
    let path = crate::voided::void(&crate::voided::Request {
        registry: &registry,
        unit: &a.unit,
        serials: &a.serials,
        reason: &a.reason,
        print_dir: &a.out,
        lang,
    })?;
    eprintln!(
        "{}",
        text(
            lang,
            "void.done",
            &[
                ("n", &a.serials.len()),
                ("unit", &a.unit),
                ("serials", &crate::audit::ranges(&a.serials)),
                ("file", &path.display()),
            ]
        )
    );
    Ok(())
}
