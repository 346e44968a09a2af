//! The commands of the `ballotscan` program, one module each: the command's flags (a clap
//! [`clap::Args`]) beside the function that runs it — it checks what was given, loads the
//! forms, units and key, calls the library stage that does the work and says on the console
//! what was done. `main.rs` only parses the command line and calls one of these; [`help`] puts
//! `--help` into the command line's language.
//!
//! Each function returns its failure as an error whose kind ([`crate::failure::Failure`]) gives
//! the exit status; nothing here exits the process, so another program can call a command as
//! the binary does.

pub mod check;
pub mod forms;
pub mod generate;
pub mod help;
pub mod review;
pub mod scan;
pub mod synth;
pub mod tally;
pub mod units;
pub mod void;

use std::path::PathBuf;

use crate::form::Form;
use crate::payload::SigningKey;
use crate::registry::Registry;

/// The form `--form` names, or else `default` (an embedded standard form).
fn load_form(path: Option<&PathBuf>, default: fn() -> Form) -> anyhow::Result<Form> {
    Ok(match path {
        Some(p) => Form::load(p)?,
        None => default(),
    })
}

/// The units registry `--units` names, or else the embedded one.
fn load_units(path: Option<&PathBuf>) -> anyhow::Result<Registry> {
    Ok(match path {
        Some(p) => Registry::load(p)?,
        None => Registry::default_units(),
    })
}

/// The signing key `--key` names, if any.
fn load_key(path: Option<&PathBuf>) -> anyhow::Result<Option<SigningKey>> {
    path.map(|p| SigningKey::from_file(p).map_err(anyhow::Error::from))
        .transpose()
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
