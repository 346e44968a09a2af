//! The language people read: one message catalogue per language (`locales/vi.yml`,
//! `locales/en.yml`, compiled in by rust-i18n) and the [`Lang`] a command speaks.
//!
//! Vietnamese is the default: the clerks and auditors who use ballotscan read Vietnamese.
//! Only words for people are translated. Reason codes, statuses, ids and CSV headers stay the
//! same English identifiers in every language, so files from two stations always agree.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::{Deserialize, Serialize};

/// A language of the catalogue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Vietnamese, the default.
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// The catalogue's (and HTML's `lang`) code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Lang, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vi" | "vie" | "vietnamese" | "tiếng việt" => Ok(Lang::Vi),
            "en" | "eng" | "english" => Ok(Lang::En),
            other => Err(text(
                spoken(),
                "args.unknown_lang",
                &[("value", &format!("{other:?}"))],
            )),
        }
    }
}

/// The message `key` in `lang`, with each `%{name}` replaced by its value.
///
/// A key missing from the catalogue comes back as the key itself (rust-i18n's behaviour);
/// the catalogue test below makes sure that never ships.
pub fn text(lang: Lang, key: &str, args: &[(&str, &dyn fmt::Display)]) -> String {
    let raw: Cow<str> = crate::_rust_i18n_translate(lang.code(), key);
    if args.is_empty() {
        return raw.into_owned();
    }
    let mut out = raw.into_owned();
    for (name, value) in args {
        out = out.replace(&format!("%{{{name}}}"), &value.to_string());
    }
    out
}

/// `value` with `places` decimals as people of `lang` write it: `1,5` in Vietnamese, `1.5` in
/// English. Only for text people read; files keep the dot.
pub fn decimal(lang: Lang, value: f64, places: usize) -> String {
    let s = format!("{value:.places$}");
    match lang {
        Lang::Vi => s.replace('.', ","),
        Lang::En => s,
    }
}

/// A person's explanation of a reason code (`ambiguous_mark` …); the code itself should the
/// catalogue have none (the test below makes sure that never ships).
pub fn reason(lang: Lang, code: crate::reason::Reason) -> String {
    crate::_rust_i18n_try_translate(lang.code(), format!("reason.{code}"))
        .map_or_else(|| code.to_string(), Cow::into_owned)
}

/// The language of this run, for messages made deep in the library where no [`Lang`] is at
/// hand (a mistake in a form definition or a units registry, read by code that other commands
/// share). The binary sets it once from `--lang`; until then it is the default, Vietnamese.
static SPOKEN: AtomicU8 = AtomicU8::new(0);

/// Sets the language [`Msg`]s are shown in for the rest of the run.
pub fn set_spoken(lang: Lang) {
    SPOKEN.store(lang as u8, Ordering::Relaxed);
}

/// The language [`Msg`]s are shown in: the one [`set_spoken`] gave, else Vietnamese.
pub fn spoken() -> Lang {
    match SPOKEN.load(Ordering::Relaxed) {
        1 => Lang::En,
        _ => Lang::Vi,
    }
}

/// A catalogue message with its values, put into words only when shown: in the run's
/// language by `Display`, in any language by [`Msg::in_lang`] (which tests use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

impl Msg {
    /// The message `key` with each `%{name}` to be replaced by its value.
    pub fn new(key: &'static str, args: &[(&'static str, &dyn fmt::Display)]) -> Msg {
        Msg {
            key,
            args: args.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        }
    }

    /// The message in `lang`.
    pub fn in_lang(&self, lang: Lang) -> String {
        let args: Vec<(&str, &dyn fmt::Display)> = self
            .args
            .iter()
            .map(|(n, v)| (*n, v as &dyn fmt::Display))
            .collect();
        text(lang, self.key, &args)
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.in_lang(spoken()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(yaml: &str) -> BTreeSet<String> {
        fn walk(prefix: &str, v: &serde_yaml::Value, out: &mut BTreeSet<String>) {
            match v {
                serde_yaml::Value::Mapping(m) => {
                    for (k, v) in m {
                        let k = k.as_str().unwrap_or_default();
                        let path = if prefix.is_empty() {
                            k.to_string()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&path, v, out);
                    }
                }
                _ => {
                    out.insert(prefix.to_string());
                }
            }
        }
        let v: serde_yaml::Value = serde_yaml::from_str(yaml).expect("catalogue parses");
        let mut out = BTreeSet::new();
        walk("", &v, &mut out);
        out
    }

    const VI: &str = include_str!("../locales/vi.yml");
    const EN: &str = include_str!("../locales/en.yml");

    #[test]
    fn every_key_is_in_both_languages() {
        let (vi, en) = (keys(VI), keys(EN));
        let only_vi: Vec<_> = vi.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&vi).collect();
        assert!(
            only_vi.is_empty() && only_en.is_empty(),
            "only in vi.yml: {only_vi:?}; only in en.yml: {only_en:?}"
        );
        assert!(vi.len() > 30, "the catalogue lost its keys: {}", vi.len());
    }

    #[test]
    fn every_key_used_in_the_code_exists() {
        // Keys are written as string literals after `text(lang, `; a typo
        // would otherwise show the clerk a raw key.
        let known = keys(VI);
        let mut missing = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
                    continue;
                };
                if ext != "rs" {
                    continue;
                }
                let src = std::fs::read_to_string(&path).expect("source readable");
                for marker in ["text(lang, \"", "text(self.lang, \"", "Msg::new(\""] {
                    for (i, _) in src.match_indices(marker) {
                        let rest = &src[i + marker.len()..];
                        let key = &rest[..rest.find('"').unwrap_or(0)];
                        if !key.is_empty() && !known.contains(key) {
                            missing.push(format!("{}: {key}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys used but not in the catalogue: {missing:?}"
        );
    }

    #[test]
    fn vietnamese_is_the_default_and_both_languages_translate() {
        assert_eq!(Lang::default(), Lang::Vi);
        assert_eq!(text(Lang::Vi, "status.review", &[]), "cần kiểm tra");
        assert_eq!(text(Lang::En, "status.review", &[]), "review");
        assert_eq!(
            text(Lang::En, "console.results_in", &[("dir", &"out")]),
            "  results in out"
        );
        assert_eq!(
            text(Lang::Vi, "console.results_in", &[("dir", &"out")]),
            "  kết quả trong out"
        );
    }

    #[test]
    fn every_reason_code_is_explained_in_both_languages() {
        // The README's reason table is the list of codes users see.
        let readme = include_str!("../README.md");
        let codes: Vec<&str> = readme
            .lines()
            .filter(|l| {
                [
                    "| rejected |",
                    "| review |",
                    "| invalid |",
                    "| counted",
                    "| duplicate |",
                ]
                .iter()
                .any(|s| l.starts_with(s))
            })
            .filter_map(|l| l.split('`').nth(1))
            .filter(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
            .collect();
        assert!(codes.len() >= 24, "reason table not found: {codes:?}");
        for code in codes {
            let parsed: crate::reason::Reason = code.parse().expect("a README code is a Reason");
            for lang in [Lang::Vi, Lang::En] {
                assert_ne!(reason(lang, parsed), code, "{lang}: no text for {code}");
            }
        }
    }

    #[test]
    fn decimals_are_written_as_each_language_does() {
        assert_eq!(decimal(Lang::Vi, 1.25, 1), "1,2");
        assert_eq!(decimal(Lang::En, 0.0304, 3), "0.030");
    }

    #[test]
    fn languages_parse_from_what_people_type() {
        assert_eq!("VI".parse::<Lang>(), Ok(Lang::Vi));
        assert_eq!("english".parse::<Lang>(), Ok(Lang::En));
        assert!("fr".parse::<Lang>().is_err());
    }
}
