//! `ballotscan generate`: ballots for one unit printed to PDF (and PNG), recorded in
//! issued.csv (the work is `crate::generate::generate`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context;

use crate::failure;
use crate::form::Form;
use crate::i18n::{text, Lang};

/// `generate`'s flags.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    #[arg(long)]
    pub unit: String,
    #[arg(long, default_value_t = 10)]
    pub count: u32,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub form: Option<PathBuf>,
    #[arg(long)]
    pub units: Option<PathBuf>,
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[arg(long)]
    pub first_serial: Option<u32>,
    #[arg(long, value_parser = crate::args::serials_arg, conflicts_with_all = ["first_serial", "count"])]
    pub reprint: Option<BTreeSet<u32>>,
    #[arg(long)]
    pub png: bool,
    #[arg(long, default_value_t = 200)]
    pub dpi: u32,
}

/// Runs `generate`.
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    let lang = lang.unwrap_or_default();
    failure::require_existing(lang, a.form.iter().chain(&a.units).chain(&a.key))?;
    let form = super::load_form(a.form.as_ref(), Form::newest_standard)?;
    let registry = super::load_units(a.units.as_ref())?;
    let key = super::load_key(a.key.as_ref())?;
    let report = crate::generate::generate(&crate::generate::Request {
        form: &form,
        registry: &registry,
        unit: &a.unit,
        count: a.count,
        first_serial: a.first_serial,
        key: key.as_ref(),
        out_dir: &a.out,
        png_dpi: a.png.then_some(a.dpi),
        reprint: a.reprint.as_ref(),
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
            if a.reprint.is_some() {
                "console.reprinted"
            } else {
                "console.generated"
            },
            &[
                ("count", &report.count),
                ("unit", &a.unit),
                ("first", &format!("{:06}", report.first_serial)),
                ("last", &format!("{:06}", report.last_serial)),
                ("pdf", &report.pdf.display()),
            ]
        )
    );
    Ok(())
}
