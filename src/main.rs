//! The `ballotscan` command line: parses flags and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use ballotscan::form::{self, Form};
use ballotscan::generate;
use ballotscan::payload::SigningKey;
use ballotscan::registry::Registry;

#[derive(Parser)]
#[command(
    name = "ballotscan",
    version,
    about = "Printed ballots in, exact per-unit tallies out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print ballots for one unit: a PDF, optional PNGs, issued.csv and layout.json.
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
        /// Form definition (TOML). Default: the embedded standard form.
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
        /// Also write one PNG per ballot.
        #[arg(long)]
        png: bool,
        /// DPI of the PNGs (150–600).
        #[arg(long, default_value_t = 200)]
        dpi: u32,
    },
}

fn load_form(path: Option<&PathBuf>) -> anyhow::Result<Form> {
    Ok(match path {
        Some(p) => Form::load(p)?,
        None => Form::default_form(),
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
    match cli.command {
        Command::Generate {
            unit,
            count,
            out,
            form,
            units,
            key,
            first_serial,
            png,
            dpi,
        } => {
            let form = load_form(form.as_ref())?;
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
            })
            .context("generate failed")?;
            eprintln!(
                "ballotscan: {} ballots for {unit}, serials {:06}–{:06}: {}{}",
                count,
                report.first_serial,
                report.last_serial,
                report.pdf.display(),
                if report.pngs.is_empty() {
                    String::new()
                } else {
                    format!(" and {} PNGs", report.pngs.len())
                }
            );
            let _ = form::DEFAULT_FORM_NAME;
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ballotscan: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
