//! What people type on the command line, read as they write it: a decimal comma
//! (`--empty-below 0,03`, as Vietnamese is written and as Excel shows it there) and serial
//! ranges (`--serials 5-7,12`).

use std::collections::BTreeSet;

use crate::i18n::{text, Lang};

/// The most serials one command names: a range typed with a digit too many (`5-7000000`)
/// is a mistake to point out, not millions of ballots to print.
pub const MAX_SERIALS: usize = 10_000;

/// The environment variable that chooses the language where `--lang` is not given: set once
/// for an office's shortcut or batch file.
pub const LANG_VARIABLE: &str = "BALLOTSCAN_LANG";

/// The language [`LANG_VARIABLE`] chooses, if it is set to one (see
/// [`environment_lang_warning`] for a value that names none).
pub fn lang_of_environment() -> Option<Lang> {
    environment_lang().ok().flatten()
}

/// What [`LANG_VARIABLE`] says: `Ok(None)` when it is not set (or empty), `Err(value)` when it
/// names no language.
fn environment_lang() -> Result<Option<Lang>, String> {
    match std::env::var(LANG_VARIABLE) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v.parse().map(Some).map_err(|_| v),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(v.to_string_lossy().into_owned()),
    }
}

/// The warning to show when [`LANG_VARIABLE`] is consulted (no `--lang` typed) and names no
/// language: the run goes on in the default, Vietnamese, and says so in both languages — the
/// variable was set by someone who wanted one of them, and which one cannot be told.
pub fn environment_lang_warning() -> Option<String> {
    if lang_typed().is_some() {
        return None;
    }
    let value = environment_lang().err()?;
    let lines = [Lang::Vi, Lang::En].map(|lang| {
        let why = text(
            lang,
            "args.bad_lang_variable",
            &[("variable", &LANG_VARIABLE), ("value", &value)],
        );
        text(lang, "console.warning", &[("text", &why)])
    });
    Some(lines.join("\n"))
}

/// The language of the command line being parsed: flags are parsed before `run` knows it,
/// and their errors (and `--help`) are read by the same person. `--lang` as typed, else
/// [`LANG_VARIABLE`], else Vietnamese.
pub fn lang_of_command_line() -> Lang {
    lang_typed()
        .or_else(lang_of_environment)
        .unwrap_or_default()
}

/// `--lang` as typed on the command line, when it names a language.
fn lang_typed() -> Option<Lang> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--lang") {
            Some("") => args.get(i + 1).and_then(|v| v.parse().ok()),
            Some(rest) => rest.strip_prefix('=').and_then(|v| v.parse().ok()),
            None => None,
        })
}

/// A number with a decimal point or a decimal comma (`0.03`, `0,03`, `80,5`). A number with
/// both, or with several commas (`1.000,5`, `1,000,5`), is refused: it is not clear which is
/// the decimal separator.
pub fn decimal(s: &str, lang: Lang) -> Result<f64, String> {
    let t = s.trim();
    let commas = t.matches(',').count();
    let normal = match (commas, t.contains('.')) {
        (0, _) => t.to_string(),
        (1, false) => t.replace(',', "."),
        _ => return Err(text(lang, "args.not_a_number", &[("value", &t)])),
    };
    normal
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| text(lang, "args.not_a_number", &[("value", &t)]))
}

/// `decimal` for clap, in the command line's language.
pub fn decimal_arg(s: &str) -> Result<f64, String> {
    decimal(s, lang_of_command_line())
}

/// Serials as a clerk writes them: `5`, `5-7`, `5-7,12,000020` (leading zeros as printed
/// under the QR code).
pub fn serials(s: &str, lang: Lang) -> Result<BTreeSet<u32>, String> {
    let bad = || text(lang, "args.bad_serials", &[("value", &s.trim())]);
    let number = |p: &str| -> Result<u32, String> {
        let p = p.trim();
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse::<u32>()
            .ok()
            .filter(|&n| (1..=999_999_999).contains(&n))
            .ok_or_else(bad)
    };
    let mut out = BTreeSet::new();
    for part in s.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let n = number(part)?;
                (n, n)
            }
        };
        if first > last || (last - first) as usize >= MAX_SERIALS {
            return Err(bad());
        }
        out.extend(first..=last);
        if out.len() > MAX_SERIALS {
            return Err(bad());
        }
    }
    Ok(out)
}

/// `serials` for clap, in the command line's language.
pub fn serials_arg(s: &str) -> Result<BTreeSet<u32>, String> {
    serials(s, lang_of_command_line())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decimal_comma_reads_as_a_decimal_point() {
        assert_eq!(decimal("0,03", Lang::Vi), Ok(0.03));
        assert_eq!(decimal("0.03", Lang::Vi), Ok(0.03));
        assert_eq!(decimal(" 80,5 ", Lang::En), Ok(80.5));
        assert_eq!(decimal("80", Lang::En), Ok(80.0));
    }

    #[test]
    fn a_number_with_an_unclear_separator_is_refused() {
        for s in ["1.000,5", "1,000,5", "", "abc", "NaN", "inf", "0,03,"] {
            let e = decimal(s, Lang::En).expect_err(s);
            assert!(e.contains("0,03"), "{s}: {e}");
        }
    }

    #[test]
    fn serial_ranges_read_as_written_under_the_qr_code() {
        let s = serials("5-7,12, 000020", Lang::En).expect("reads");
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec![5, 6, 7, 12, 20]);
        assert_eq!(serials("9", Lang::En).map(|s| s.len()), Ok(1));
    }

    #[test]
    fn serial_ranges_that_are_typing_mistakes_are_refused() {
        for s in [
            "7-5",
            "0",
            "5-",
            "-5",
            "a",
            "5;7",
            "1-20000",
            "1-1000000000",
            "",
        ] {
            assert!(serials(s, Lang::En).is_err(), "{s}");
        }
    }
}
