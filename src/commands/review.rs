//! `ballotscan review`: the flagged ballots of a scan drawn for the auditors, with the page
//! they decide on (the work is `crate::review::run`).

use std::path::PathBuf;

use crate::failure;
use crate::i18n::{text, Lang};

/// `review`'s arguments.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    pub dir: PathBuf,
}

/// Runs `review`; `lang` is the one asked for, else the scan's.
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    failure::require_results(lang.unwrap_or_default(), [&a.dir])?;
    let done = crate::review::run(&a.dir, lang)?;
    for w in crate::console::collapse_warnings(done.lang, &done.warnings) {
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
