//! What kind of mistake stopped a command, and the exit status that tells a script so.
//!
//! The statuses are defined here once and documented in the README ("Exit status"): a batch
//! file on a clerk's PC can then tell a mistyped folder (fix the command) from a full disk
//! (free space) without reading the Vietnamese message.

use std::fmt;
use std::path::PathBuf;

use crate::i18n::{text, Lang};

/// Why a command stopped. The number each maps to is its exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The command refused to go on (a lock held by another run, ballots still waiting for
    /// `tally --final`, a serial already issued…) or failed for another reason; the message
    /// says which.
    Refused,
    /// The command line itself is wrong: an unknown flag, a value out of range.
    Usage,
    /// Something the user gave cannot be used: a path that does not exist, a CSV that cannot
    /// be read, a unit that is not in the registry.
    Input,
    /// A result could not be written: full disk, a folder that is not writable.
    Output,
}

impl Failure {
    /// The process exit status for this failure (see the README's exit statuses).
    pub const fn exit_status(self) -> u8 {
        match self {
            Failure::Refused => 1,
            // clap's own status for a command line it cannot parse.
            Failure::Usage => 2,
            Failure::Input => 3,
            Failure::Output => 4,
        }
    }

    /// The failure an error chain describes: the first [`Mistake`] in it, else what its
    /// typed errors say (a registry that cannot be read is input, a file that cannot be
    /// written is output), else [`Failure::Refused`].
    pub fn of(e: &anyhow::Error) -> Failure {
        for cause in e.chain() {
            if let Some(m) = cause.downcast_ref::<Mistake>() {
                return m.kind;
            }
            if let Some(r) = cause.downcast_ref::<crate::results::ResultsError>() {
                return r.failure();
            }
            if cause.is::<crate::registry::RegistryError>()
                || cause.is::<crate::form::FormError>()
                || cause.is::<crate::payload::KeyError>()
                || cause.is::<crate::output::ReadCsvError>()
                || cause.is::<crate::scan_files::ScanFileError>()
                || cause.is::<crate::audit::ScanFolderError>()
            {
                return Failure::Input;
            }
            if cause.is::<crate::output::WriteError>() {
                return Failure::Output;
            }
        }
        Failure::Refused
    }
}

/// An error whose kind of failure is known where it is raised.
#[derive(Debug)]
pub struct Mistake {
    /// What kind of failure it is, hence the exit status.
    pub kind: Failure,
    /// What the user is told, in their language.
    pub message: String,
}

impl fmt::Display for Mistake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Mistake {}

/// An input mistake with this message.
pub fn input(message: impl Into<String>) -> anyhow::Error {
    Mistake {
        kind: Failure::Input,
        message: message.into(),
    }
    .into()
}

/// A command-line mistake with this message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Mistake {
        kind: Failure::Usage,
        message: message.into(),
    }
    .into()
}

/// An input mistake naming every given path that does not exist (all of them at once: a
/// clerk fixes the command once), or `Ok` when they all do. A link that leads nowhere does
/// exist here; reading it is the command's business, with its own reason.
pub fn require_existing<'a>(
    lang: Lang,
    paths: impl IntoIterator<Item = &'a PathBuf>,
) -> anyhow::Result<()> {
    require(lang, paths, |p| {
        !std::fs::symlink_metadata(p).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    })
}

/// [`require_existing`] for results folders (`review`, `tally`): a folder a killed run left
/// between the two renames of its swap is there — the reader finishes the swap.
pub fn require_results<'a>(
    lang: Lang,
    paths: impl IntoIterator<Item = &'a PathBuf>,
) -> anyhow::Result<()> {
    require(lang, paths, |p| crate::results::present(p))
}

fn require<'a>(
    lang: Lang,
    paths: impl IntoIterator<Item = &'a PathBuf>,
    exists: impl Fn(&PathBuf) -> bool,
) -> anyhow::Result<()> {
    let missing: Vec<String> = paths
        .into_iter()
        .filter(|p| !exists(p))
        .map(|p| p.display().to_string())
        .collect();
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(input(text(lang, "input.not_found", &[("path", one)]))),
        many => Err(input(text(
            lang,
            "input.not_found_many",
            &[("paths", &many.join(", "))],
        ))),
    }
}

/// An output mistake (no room, no permission) with this message.
pub fn output(message: impl Into<String>) -> anyhow::Error {
    Mistake {
        kind: Failure::Output,
        message: message.into(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_mistake_keeps_its_status_under_added_context() {
        let e = Err::<(), _>(input("no such folder"))
            .context("scan failed")
            .expect_err("fails");
        assert_eq!(Failure::of(&e).exit_status(), 3);
        assert_eq!(Failure::of(&usage("x")).exit_status(), 2);
        assert_eq!(Failure::of(&anyhow::anyhow!("locked")).exit_status(), 1);
    }

    #[test]
    fn a_write_error_is_an_output_failure() {
        let e: anyhow::Error = crate::output::WriteError {
            path: "out/tallies.csv".into(),
            error: std::io::Error::other("disk full"),
        }
        .into();
        assert_eq!(Failure::of(&e), Failure::Output);
        assert_eq!(Failure::of(&e).exit_status(), 4);
    }

    #[test]
    fn every_missing_path_is_named_in_one_input_mistake() {
        let dir = tempfile::tempdir().expect("tempdir");
        let here = dir.path().to_path_buf();
        let typo = dir.path().join("scnas");
        let other = dir.path().join("units.csv");
        assert!(require_existing(Lang::En, [&here]).is_ok());
        let e = require_existing(Lang::En, [&here, &typo, &other]).expect_err("missing");
        assert_eq!(Failure::of(&e), Failure::Input);
        let msg = e.to_string();
        assert!(msg.contains(&typo.display().to_string()), "{msg}");
        assert!(msg.contains(&other.display().to_string()), "{msg}");
        assert!(!msg.contains(&format!("{}, ", here.display())), "{msg}");
    }
}
