//! The `ballotscan` command line: parses flags and hands over to one function per command
//! (`ballotscan::commands`), then turns its outcome into an exit status
//! (`ballotscan::failure`).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use ballotscan::commands;
use ballotscan::failure::Failure;
use ballotscan::i18n::{text, Lang};

/// The command line. What `--help` says is in the catalogue (`help.*` in `locales/*.yml`),
/// put in by [`commands::help::localized`] in the language of the command line; each
/// command's flags are defined beside the function that runs it.
#[derive(Parser)]
#[command(name = "ballotscan", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[arg(long, global = true)]
    lang: Option<Lang>,
}

/// The commands, in the order of the work (as `--help` lists them).
#[derive(Subcommand)]
enum Command {
    Generate(commands::generate::Args),
    Scan(commands::scan::Args),
    Review(commands::review::Args),
    Tally(commands::tally::Args),
    Void(commands::void::Args),
    Units(commands::units::Args),
    Forms(commands::forms::Args),
    Synth(commands::synth::Args),
    Check(commands::check::Args),
}

/// Hands the parsed command line to its command. `lang` is `None` when neither `--lang` nor
/// the environment chose one: `review` and `tally` then speak the scan's language.
fn run(command: Command, lang: Option<Lang>) -> anyhow::Result<()> {
    match command {
        Command::Generate(a) => commands::generate::run(a, lang),
        Command::Scan(a) => commands::scan::run(a, lang),
        Command::Review(a) => commands::review::run(a, lang),
        Command::Tally(a) => commands::tally::run(a, lang),
        Command::Void(a) => commands::void::run(a, lang),
        Command::Units(a) => commands::units::run(a, lang),
        Command::Forms(a) => commands::forms::run(a, lang),
        Command::Synth(a) => commands::synth::run(a, lang),
        Command::Check(a) => commands::check::run(a, lang),
    }
}

fn main() -> ExitCode {
    let _console = ballotscan::console::Utf8Console::switch();
    // Said before anything else: the run then speaks the default language, which may not be
    // the one the variable was set for.
    if let Some(warning) = ballotscan::args::environment_lang_warning() {
        eprintln!("{warning}");
    }
    // Before parsing: the flags' own mistakes, and those of forms and registries read deep in
    // the library, are read by the same person as the rest.
    ballotscan::i18n::set_spoken(ballotscan::args::lang_of_command_line());
    // Not `Cli::parse`, which exits the process itself (for --help too) before the console
    // is put back.
    let mut command = commands::help::localized(Cli::command(), ballotscan::i18n::spoken());
    let cli = match command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let e = e.format(&mut command);
            let code = u8::try_from(e.exit_code()).unwrap_or(2);
            // --help and --version are already in the run's language; refusals are clap's
            // English unless put into Vietnamese.
            let _ = if e.use_stderr() && ballotscan::i18n::spoken() == Lang::Vi {
                e.apply::<commands::help::Localized>().print()
            } else {
                e.print()
            };
            return ExitCode::from(code);
        }
    };
    let lang = cli.lang.or_else(ballotscan::args::lang_of_environment);
    match run(cli.command, lang) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let lang = lang.unwrap_or_default();
            eprintln!(
                "{}",
                text(lang, "console.error", &[("text", &format!("{e:#}"))])
            );
            ExitCode::from(Failure::of(&e).exit_status())
        }
    }
}
