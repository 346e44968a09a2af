//! The units registry: which units hand out ballots and who their parent is.
//!
//! A CSV with the header `code,name,parent`. Tallies roll up along the parent links
//! (commune → district → city), so the registry is checked for unknown parents and cycles.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::form::{is_valid_id, nfc};

pub const DEFAULT_UNITS_CSV: &str = include_str!("../fixtures/units.csv");

#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

/// Units in file order, looked up by code.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    pub units: Vec<Unit>,
    index: BTreeMap<String, usize>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RegistryError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl Registry {
    pub fn default_units() -> Registry {
        Registry::parse(DEFAULT_UNITS_CSV, "fixtures/units.csv (embedded)")
            .expect("the embedded units registry is checked by the test suite")
    }

    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let bytes = std::fs::read(path).map_err(|e| RegistryError {
            file: path.display().to_string(),
            line: 0,
            message: format!("cannot read the units registry: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| RegistryError {
            file: path.display().to_string(),
            line: 0,
            message: "the units registry is not UTF-8: save it as \"CSV UTF-8\"".into(),
        })?;
        Registry::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<Registry, RegistryError> {
        let err = |line: usize, message: String| RegistryError {
            file: file.to_string(),
            line,
            message,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| err(1, format!("cannot read the header: {e}")))?
            .clone();
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(ci), Some(ni)) = (col("code"), col("name")) else {
            return Err(err(
                1,
                "the header must be `code,name,parent` (parent may be left empty)".into(),
            ));
        };
        let pi = col("parent");
        let mut reg = Registry::default();
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 2;
            let rec = rec.map_err(|e| err(line, format!("bad CSV row: {e}")))?;
            let code = rec.get(ci).unwrap_or("").to_string();
            if !is_valid_id(&code) {
                return Err(err(
                    line,
                    format!("unit code {code:?} must be 1–32 letters, digits, '-', '_' or '.'"),
                ));
            }
            if reg.index.contains_key(&code) {
                return Err(err(line, format!("unit code {code:?} appears twice")));
            }
            let name = nfc(rec.get(ni).unwrap_or(""));
            if name.is_empty() {
                return Err(err(line, format!("unit {code:?} has no name")));
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
                        format!(
                            "unit {:?} names parent {p:?}, which is not in the registry",
                            u.code
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
                        format!(
                            "unit {:?} is its own ancestor: the parent links form a loop",
                            u.code
                        ),
                    ));
                }
                cur = reg.get(c).and_then(|x| x.parent.as_deref());
            }
        }
        Ok(reg)
    }

    pub fn get(&self, code: &str) -> Option<&Unit> {
        self.index.get(code).map(|&i| &self.units[i])
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
        assert!(e.message.contains("not in the registry"));
        let e = Registry::parse("code,name,parent\nA,a,B\nB,b,A\n", "u.csv").unwrap_err();
        assert!(e.message.contains("loop"), "{e}");
    }
}
