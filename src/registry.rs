//! The units registry: which units hand out ballots and who their parent is.
//!
//! A CSV with the header `code,name,parent`. Tallies roll up along the parent links
//! (commune → district → city), so the registry is checked for unknown parents and cycles.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::form::{is_valid_id, nfc};
use crate::i18n::{text, Lang, Msg};

/// The Hải Phòng units shipped in `fixtures/units.csv`, used when no `--units` file is given.
pub const DEFAULT_UNITS_CSV: &str = include_str!("../fixtures/units.csv");

/// One unit that hands out ballots.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// Its code, printed in the QR code and used in the CSVs (`P-ANBIEN`).
    pub code: String,
    /// Its name, as printed on the ballot and in the reports.
    pub name: String,
    /// The unit its tallies roll up into; `None` at the top.
    pub parent: Option<String>,
}

/// Units in file order, looked up by code.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Every unit, in file order.
    pub units: Vec<Unit>,
    index: BTreeMap<String, usize>,
}

/// A registry that cannot be used, with the place to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RegistryError {
    /// The registry file (or the embedded one's name).
    pub file: String,
    /// The line to fix (1-based; 0 when the whole file is meant).
    pub line: usize,
    /// What is wrong, in the run's language.
    pub message: Msg,
}

impl RegistryError {
    /// The error in `lang`, with its place (`Display` speaks the run's language).
    pub fn in_lang(&self, lang: Lang) -> String {
        format!(
            "{}:{}: {}",
            self.file,
            self.line,
            self.message.in_lang(lang)
        )
    }
}

impl Registry {
    /// The embedded registry ([`DEFAULT_UNITS_CSV`]).
    pub fn default_units() -> Registry {
        Registry::parse(DEFAULT_UNITS_CSV, "fixtures/units.csv (embedded)")
            .expect("the embedded units registry is checked by the test suite")
    }

    /// Reads and checks a registry CSV file.
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let bytes = std::fs::read(path).map_err(|e| RegistryError {
            file: path.display().to_string(),
            line: 0,
            message: Msg::new("registry_error.unreadable", &[("error", &e)]),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| RegistryError {
            file: path.display().to_string(),
            line: 0,
            message: Msg::new("registry_error.not_utf8", &[]),
        })?;
        Registry::parse(&text, &path.display().to_string())
    }

    /// Reads and checks registry CSV text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Registry, RegistryError> {
        let err = |line: usize, message: Msg| RegistryError {
            file: file.to_string(),
            line,
            message,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .delimiter(crate::output::delimiter_of(text.as_bytes()))
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| err(1, Msg::new("registry_error.header", &[("error", &e)])))?
            .clone();
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(ci), Some(ni)) = (col("code"), col("name")) else {
            return Err(err(1, Msg::new("registry_error.bad_header", &[])));
        };
        let pi = col("parent");
        let mut reg = Registry::default();
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 2;
            let rec =
                rec.map_err(|e| err(line, Msg::new("registry_error.bad_row", &[("error", &e)])))?;
            let code = rec.get(ci).unwrap_or("").to_string();
            if !is_valid_id(&code) {
                return Err(err(
                    line,
                    Msg::new("registry_error.bad_code", &[("code", &code)]),
                ));
            }
            if reg.index.contains_key(&code) {
                return Err(err(
                    line,
                    Msg::new("registry_error.code_twice", &[("code", &code)]),
                ));
            }
            let name = nfc(rec.get(ni).unwrap_or(""));
            if name.is_empty() {
                return Err(err(
                    line,
                    Msg::new("registry_error.no_name", &[("code", &code)]),
                ));
            }
            let parent = pi
                .and_then(|p| rec.get(p))
                .filter(|p| !p.is_empty())
                .map(str::to_string);
            reg.index.insert(code.clone(), reg.units.len());
            reg.units.push(Unit { code, name, parent });
        }
        for (i, u) in reg.units.iter().enumerate() {
            if let Some(p) = &u.parent {
                if !reg.index.contains_key(p) {
                    return Err(err(
                        i + 2,
                        Msg::new(
                            "registry_error.unknown_parent",
                            &[("code", &u.code), ("parent", p)],
                        ),
                    ));
                }
            }
            let mut seen = HashSet::new();
            let mut cur = Some(u.code.as_str());
            while let Some(c) = cur {
                if !seen.insert(c) {
                    return Err(err(
                        i + 2,
                        Msg::new("registry_error.loop", &[("code", &u.code)]),
                    ));
                }
                cur = reg.get(c).and_then(|x| x.parent.as_deref());
            }
        }
        Ok(reg)
    }

    /// `codes` in the registry's order, then those it does not know, in the order given: how
    /// units are listed to people.
    pub fn in_order<'a>(&self, codes: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for c in codes {
            match self.index.get(c) {
                Some(&i) => known.push((i, c)),
                None => unknown.push(c),
            }
        }
        known.sort_by_key(|(i, _)| *i);
        known.into_iter().map(|(_, c)| c).chain(unknown).collect()
    }

    /// The unit with code `code`.
    pub fn get(&self, code: &str) -> Option<&Unit> {
        self.index.get(code).map(|&i| &self.units[i])
    }

    /// The unit with this code, or an input mistake that names the closest codes and names
    /// ("did you mean …") and the command that lists them all.
    pub fn require(&self, code: &str, lang: Lang) -> anyhow::Result<&Unit> {
        if let Some(u) = self.get(code) {
            return Ok(u);
        }
        let near = self.suggest(code);
        let message = if near.is_empty() {
            text(lang, "units.unknown", &[("code", &code)])
        } else {
            let list: Vec<String> = near
                .iter()
                .map(|u| format!("{} ({})", u.code, u.name))
                .collect();
            text(
                lang,
                "units.unknown_did_you_mean",
                &[("code", &code), ("list", &list.join(", "))],
            )
        };
        Err(crate::failure::input(message))
    }

    /// Up to three units whose code or name is close to what was typed: by edit distance on
    /// the code (case ignored) and on the name (case and diacritics ignored, so "an bien"
    /// finds "Công an phường An Biên"), closest first, ties in registry order.
    pub fn suggest(&self, typed: &str) -> Vec<&Unit> {
        let code = typed.trim().to_uppercase();
        let folded = fold(typed);
        if folded.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(usize, usize, &Unit)> = Vec::new();
        for (i, u) in self.units.iter().enumerate() {
            let by_code = edit_distance(&code, &u.code.to_uppercase());
            let name = fold(&u.name);
            // A name is long: what was typed may be the distinctive end of it ("an bien").
            let by_name = if folded.chars().count() >= 4 && name.contains(&folded) {
                0
            } else {
                edit_distance(&folded, &name)
            };
            let d = by_code.min(by_name);
            // One typo in four characters, and at least two in any code.
            let allowed = (code.chars().count() / 4).max(2);
            if d <= allowed {
                scored.push((d, i, u));
            }
        }
        scored.sort_by_key(|&(d, i, _)| (d, i));
        scored.into_iter().take(3).map(|(_, _, u)| u).collect()
    }

    /// Every unit with its depth, each followed by its children (registry order among
    /// siblings): the order `ballotscan units` lists them in.
    pub fn tree(&self) -> Vec<(usize, &Unit)> {
        fn visit<'a>(
            r: &'a Registry,
            parent: Option<&str>,
            depth: usize,
            out: &mut Vec<(usize, &'a Unit)>,
        ) {
            for u in r.units.iter().filter(|u| u.parent.as_deref() == parent) {
                out.push((depth, u));
                visit(r, Some(&u.code), depth + 1, out);
            }
        }
        let mut out = Vec::with_capacity(self.units.len());
        // Parsing refused loops and unknown parents, so every unit is reached from a root once.
        visit(self, None, 0, &mut out);
        out
    }

    /// The unit itself, then its parent, grandparent… up to the root.
    pub fn ancestry<'a>(&'a self, code: &'a str) -> Vec<&'a str> {
        let mut out = vec![code];
        let mut cur = self.get(code).and_then(|u| u.parent.as_deref());
        while let Some(c) = cur {
            if out.contains(&c) {
                break;
            }
            out.push(c);
            cur = self.get(c).and_then(|u| u.parent.as_deref());
        }
        out
    }
}

/// Lower case without diacritics (and đ as d): how a name is compared with what was typed
/// on a keyboard that may have no Vietnamese input method.
fn fold(s: &str) -> String {
    use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};
    s.trim()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_registry_rolls_communes_up_to_the_city() {
        let r = Registry::default_units();
        assert_eq!(r.ancestry("P-ANBIEN"), vec!["P-ANBIEN", "Q-LECHAN", "CATP"]);
        assert_eq!(
            r.get("X-ANDONG").map(|u| u.name.as_str()),
            Some("Công an xã An Đồng")
        );
    }

    #[test]
    fn unknown_parent_and_loops_are_errors_with_lines() {
        let e = Registry::parse("code,name,parent\nA,a,B\n", "u.csv").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.in_lang(Lang::En).contains("not in the registry"));
        let e = Registry::parse("code,name,parent\nA,a,B\nB,b,A\n", "u.csv").unwrap_err();
        assert!(e.in_lang(Lang::En).contains("loop"), "{e}");
    }

    #[test]
    fn a_mistyped_unit_code_or_name_suggests_the_unit_meant() {
        let r = Registry::default_units();
        let codes = |typed: &str| -> Vec<String> {
            r.suggest(typed).iter().map(|u| u.code.clone()).collect()
        };
        assert_eq!(codes("P-ANBEIN")[0], "P-ANBIEN");
        assert_eq!(codes("p-anbien")[0], "P-ANBIEN");
        assert_eq!(codes("an bien"), vec!["P-ANBIEN"]);
        assert_eq!(codes("Công an phường Cát Dài")[0], "P-CATDAI");
        assert!(codes("ZZZZZZZZ").is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn an_unknown_unit_is_an_input_mistake_naming_the_closest_one() {
        let r = Registry::default_units();
        let e = r.require("P-ANBEIN", Lang::En).expect_err("unknown");
        let msg = e.to_string();
        assert!(msg.contains("P-ANBIEN (Công an phường An Biên)"), "{msg}");
        assert!(msg.contains("ballotscan units"), "{msg}");
        assert_eq!(crate::failure::Failure::of(&e).exit_status(), 3);
        assert_eq!(
            r.require("P-ANBIEN", Lang::En)
                .map(|u| u.code.as_str())
                .ok(),
            Some("P-ANBIEN")
        );
    }

    #[test]
    fn the_tree_lists_each_unit_once_under_its_parent() {
        let r = Registry::default_units();
        let tree = r.tree();
        assert_eq!(tree.len(), r.units.len());
        let at = |code: &str| tree.iter().position(|(_, u)| u.code == code).expect(code);
        assert_eq!(tree[0], (0, r.get("CATP").expect("CATP")));
        assert!(at("Q-LECHAN") < at("P-ANBIEN") && at("P-ANBIEN") < at("Q-NGOQUYEN"));
        assert_eq!(tree[at("P-ANBIEN")].0, 2);
    }

    #[test]
    fn a_semicolon_registry_from_excel_reads() {
        let r = Registry::parse(
            "\u{feff}code;name;parent\r\nA;Công an A;\r\nB;b;A\r\n",
            "u.csv",
        )
        .expect("reads");
        assert_eq!(r.ancestry("B"), vec!["B", "A"]);
        assert_eq!(r.get("A").map(|u| u.name.as_str()), Some("Công an A"));
    }
}
