//! `--help` in the command line's language. What it says — each command's line, each flag's
//! help, the headings and the exit statuses — is in the catalogue (`help.*` in
//! `locales/*.yml`); clap's derive only knows one fixed text, so the texts are put into the
//! derived command line here, before parsing. The flags themselves, their parsing and clap's
//! errors stay as derived.

use crate::i18n::{text, Lang};

/// The derived command line `cmd` with every text people read in `lang`, from the catalogue
/// (`help.*`): the program's and each command's line, each flag's help, the headings and the
/// exit statuses.
pub fn localized(cmd: clap::Command, lang: Lang) -> clap::Command {
    let t = |key: &str| text(lang, key, &[]);
    let words = HelpWords::of(lang);
    let mut cmd = localize_args(cmd, &words, "help")
        .about(t("help.about"))
        .after_help(t("help.exit_status"))
        .subcommand_help_heading(words.commands)
        .disable_version_flag(true)
        .arg(words.own_flag("version", 'V', clap::ArgAction::Version));
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |s| {
            localize_args(s, &words, &format!("help.{name}"))
                .about(t(&format!("help.{name}.about")))
        });
    }
    // clap adds its `help` command when the command line is built: built here, its line is
    // then put in words like the others.
    cmd.build();
    cmd.mut_subcommand("help", |h| h.about(t("help.help_command")))
}

/// The words `--help` is framed with, in one language.
struct HelpWords {
    lang: Lang,
    usage: String,
    // clap takes headings as `'static` text (owned ones need its `string` feature): these
    // three are leaked, once per run.
    commands: &'static str,
    arguments: &'static str,
    options: &'static str,
}

impl HelpWords {
    fn of(lang: Lang) -> HelpWords {
        let leak = |key: &str| -> &'static str { Box::leak(text(lang, key, &[]).into_boxed_str()) };
        HelpWords {
            lang,
            usage: text(lang, "help.usage", &[]),
            commands: leak("help.commands"),
            arguments: leak("help.arguments"),
            options: leak("help.options"),
        }
    }

    /// clap's own `--help` or `--version` (`-h`, `-V`), saying what it does in this language.
    fn own_flag(&self, name: &'static str, short: char, action: clap::ArgAction) -> clap::Arg {
        clap::Arg::new(name)
            .short(short)
            .long(name)
            .action(action)
            .help(text(self.lang, &format!("help.flag_{name}"), &[]))
            .help_heading(self.options)
    }
}

/// `cmd` with each flag's help from `{prefix}.{flag id}`, headings and usage line in `words`,
/// and a `--help` flag that says so in their language.
fn localize_args(cmd: clap::Command, words: &HelpWords, prefix: &str) -> clap::Command {
    let t = |key: &str| text(words.lang, key, &[]);
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    let mut cmd = cmd.help_template(format!(
        "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
        words.usage
    ));
    // Each flag is taken out and put back in turn: their order stays the derive's.
    for id in ids {
        cmd = cmd.mut_arg(&id, |a| {
            let heading = if a.is_positional() {
                words.arguments
            } else {
                words.options
            };
            a.help(t(&format!("{prefix}.{id}"))).help_heading(heading)
        });
    }
    cmd.disable_help_flag(true)
        .arg(words.own_flag("help", 'h', clap::ArgAction::Help))
}
