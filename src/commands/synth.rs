//! `ballotscan synth`: simulated filled-in and scanned ballots with their truth, for the
//! accuracy tests and benchmarks (the work is [`crate::synth::ballots::run`]).

use std::path::PathBuf;

use crate::failure;
use crate::form::Form;
use crate::i18n::{text, Lang};
use crate::synth::ballots::{self, FileFormat};

/// `synth`'s flags.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    #[arg(long = "unit", value_delimiter = ',', required = true)]
    pub units: Vec<String>,
    #[arg(long, default_value_t = 10)]
    pub count: u32,
    #[arg(long, default_value = "office-scanner",
          value_parser = clap::builder::PossibleValuesParser::new(crate::synth::degrade::PROFILES))]
    pub profile: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_parser = crate::args::decimal_arg)]
    pub dpi: Option<f64>,
    #[arg(long, value_enum, default_value_t = FileFormat::Auto)]
    pub format: FileFormat,
    #[arg(long)]
    pub quality: Option<u8>,
    #[arg(long, default_value_t = 1)]
    pub first_serial: u32,
    #[arg(long, default_value = "")]
    pub prefix: String,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub form: Option<PathBuf>,
    #[arg(long)]
    pub units_file: Option<PathBuf>,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

/// Runs `synth`.
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    let lang = lang.unwrap_or_default();
    // Version 1: the simulator's corpora and accuracy figures are made of it.
    let form = super::load_form(a.form.as_ref(), Form::default_form)?;
    let registry = super::load_units(a.units_file.as_ref())?;
    let key = super::load_key(a.key.as_ref())?;
    if let Some(d) = a.dpi {
        if !(100.0..=600.0).contains(&d) {
            return Err(failure::usage(text(
                lang,
                "cli.synth_bad_dpi",
                &[("dpi", &d)],
            )));
        }
    }
    let report = ballots::run(&ballots::Request {
        form: &form,
        registry: &registry,
        units: a.units,
        count_per_unit: a.count,
        first_serial: a.first_serial,
        profile: a.profile,
        seed: a.seed,
        dpi: a.dpi,
        key: key.as_ref(),
        format: a.format,
        jpeg_quality: a.quality.map(|q| q.clamp(1, 100)),
        out_dir: &a.out,
        prefix: a.prefix,
    })?;
    eprintln!(
        "{}",
        text(
            lang,
            "cli.synth_done",
            &[
                ("pages", &report.pages),
                ("files", &report.files.len()),
                ("truth", &a.out.join("truth.csv").display()),
            ]
        )
    );
    Ok(())
}
