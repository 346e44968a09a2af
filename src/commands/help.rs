//! `--help` in the command line's language. What it says — each command's line, each flag's
//! help, the headings and the exit statuses — is in the catalogue (`help.*` in
//! `locales/*.yml`); clap's derive only knows one fixed text, so the texts are put into the
//! derived command line here, before parsing. The flags themselves and their parsing stay as
//! derived; clap's refusals of a command line are put into words by [`Localized`].

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

/// clap's refusal of a command line (an unknown flag, a missing or bad value…) in the run's
/// language ([`crate::i18n::spoken`]), from the catalogue (`clap.*`), keeping clap's specifics:
/// the flag, the value, its suggestion and the usage line. Its kind, and so its exit status
/// (2), stay clap's. Used for Vietnamese; English keeps clap's own wording and colours.
pub struct Localized;

impl clap::error::ErrorFormatter for Localized {
    fn format_error(error: &clap::error::Error<Self>) -> clap::builder::StyledStr {
        use clap::error::{ContextKind as C, ContextValue as V, ErrorKind as K};
        let lang = crate::i18n::spoken();
        let t = |key: &str, args: &[(&str, &dyn std::fmt::Display)]| text(lang, key, args);
        let one = |kind| match error.get(kind) {
            Some(V::String(s)) => Some(s.clone()),
            _ => None,
        };
        let list = |kind| match error.get(kind) {
            Some(V::Strings(v)) => Some(v.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>()),
            Some(V::String(s)) => Some(vec![format!("'{s}'")]),
            _ => None,
        };
        let (arg, value) = (one(C::InvalidArg), one(C::InvalidValue));
        let why: String = match (error.kind(), &arg, &value) {
            (K::UnknownArgument, Some(a), _) => t("clap.unknown_argument", &[("arg", a)]),
            (K::InvalidSubcommand, ..) => t(
                "clap.unknown_command",
                &[("command", &one(C::InvalidSubcommand).unwrap_or_default())],
            ),
            (K::InvalidValue, Some(a), Some(v)) if v.is_empty() => {
                t("clap.missing_value", &[("arg", a)])
            }
            (K::InvalidValue, Some(a), Some(v)) => {
                let mut s = t("clap.invalid_value", &[("arg", a), ("value", v)]);
                if let Some(V::Strings(valid)) = error.get(C::ValidValue) {
                    s += &t("clap.possible_values", &[("values", &valid.join(", "))]);
                }
                s
            }
            (K::ValueValidation, Some(a), Some(v)) => {
                let mut s = t("clap.invalid_value", &[("arg", a), ("value", v)]);
                match std::error::Error::source(error) {
                    // Rust's own words for a number that is not one are English.
                    Some(e) if e.is::<std::num::ParseIntError>() => {
                        s += &t("clap.not_a_whole_number", &[]);
                    }
                    Some(e) => s += &format!(": {e}"),
                    None => {}
                }
                s
            }
            (K::MissingRequiredArgument, ..) => {
                let missing = match error.get(C::InvalidArg) {
                    Some(V::Strings(v)) => v.iter().map(|a| format!("\n  {a}")).collect(),
                    _ => String::new(),
                };
                t("clap.missing_arguments", &[]) + &missing
            }
            (K::TooManyValues, Some(a), Some(v)) => {
                t("clap.unexpected_value", &[("arg", a), ("value", v)])
            }
            (K::ArgumentConflict, Some(a), _) => t(
                "clap.conflict",
                &[
                    ("arg", a),
                    ("other", &list(C::PriorArg).unwrap_or_default().join(", ")),
                ],
            ),
            _ => t("clap.other", &[("kind", &error.kind())]),
        };
        let mut out = t("clap.error", &[("text", &why)]);
        let suggested = [C::SuggestedSubcommand, C::SuggestedArg, C::SuggestedValue]
            .into_iter()
            .find_map(list);
        if let Some(similar) = suggested {
            out += "\n\n";
            out += &t("clap.did_you_mean", &[("similar", &similar.join(", "))]);
        } else if let (K::UnknownArgument, Some(a), Some(_)) =
            (error.kind(), &arg, error.get(C::Suggested))
        {
            // clap's tip for a value that starts with `-`.
            out += "\n\n";
            out += &t("clap.value_with_dash", &[("arg", a)]);
        }
        if let Some(V::StyledStr(usage)) = error.get(C::Usage) {
            let usage = usage.to_string();
            let usage = usage.strip_prefix("Usage:").unwrap_or(&usage);
            out += &format!("\n\n{}{usage}", t("help.usage", &[]));
        }
        out += "\n\n";
        out += &t("clap.try_help", &[]);
        out += "\n";
        out.into()
    }
}
