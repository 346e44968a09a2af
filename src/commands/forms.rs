//! `ballotscan forms`: the form definitions a scan would know, with their questions and
//! options, on stdout.

use std::path::PathBuf;

use crate::failure;
use crate::form::{self, Form};
use crate::i18n::{text, Lang};

/// `forms`' flags.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    #[arg(long)]
    pub forms: Option<PathBuf>,
}

/// Runs `forms`.
pub fn run(a: Args, lang: Option<Lang>) -> anyhow::Result<()> {
    let lang = lang.unwrap_or_default();
    failure::require_existing(lang, &a.forms)?;
    let (list, source) = match &a.forms {
        Some(dir) => (form::load_dir(dir)?, dir.display().to_string()),
        None => (Form::standard_forms(), text(lang, "forms.embedded", &[])),
    };
    let mut lines = vec![text(
        lang,
        "forms.listing",
        &[("n", &list.len()), ("source", &source)],
    )];
    for f in &list {
        lines.push(format!("{} v{}  {}", f.id, f.version, f.title));
        for q in &f.questions {
            lines.push(format!("  {}  {}", q.id, q.text));
            if !q.options.is_empty() {
                let options: Vec<String> = q
                    .options
                    .iter()
                    .map(|o| format!("{} {}", o.id, o.label))
                    .collect();
                lines.push(format!("      {}", options.join(" · ")));
            }
        }
    }
    super::print_lines(&lines)
}
