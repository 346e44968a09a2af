//! `ballotscan units`: the units registry as a tree, codes and names, on stdout.

use std::path::PathBuf;

use crate::failure;
use crate::i18n::{text, Lang};

/// `units`' flags.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    #[arg(long)]
    pub units: Option<PathBuf>,
}

/// Runs `units`.
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    let lang = lang.unwrap_or_default();
    failure::require_existing(lang, &a.units)?;
    let registry = super::load_units(a.units.as_ref())?;
    let source = match &a.units {
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
    super::print_lines(&lines)
}
