//! `ballotscan check`: a simulated batch's truth against what a scan read, by degradation
//! profile (see [`crate::synth::check`]); for measuring accuracy, not for offices.

use std::path::PathBuf;

use crate::i18n::Lang;

/// `check`'s arguments.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    pub truth: PathBuf,
    pub scan: PathBuf,
}

/// Runs `check`: one line per profile on stdout.
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    let answers = a.scan.join("answers.csv");
    crate::failure::require_existing(lang.unwrap_or_default(), [&a.truth, &answers])?;
    let by =
        crate::synth::check::compare_by_profile(&a.truth, &answers).map_err(anyhow::Error::msg)?;
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
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
