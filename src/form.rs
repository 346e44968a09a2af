//! Form definitions: what a ballot asks and how its answers are judged.
//!
//! A form is written once by the IT officer as TOML (see the README for the format) and is
//! identified on every printed ballot by its id and version. This module parses and checks the
//! definition; it knows nothing of millimetres (that is [`crate::layout`]).

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use unicode_normalization::UnicodeNormalization;

/// The standard citizen-satisfaction form, shipped in `fixtures/forms/` and used when no
/// `--forms` folder is given.
pub const DEFAULT_FORM_TOML: &str = include_str!("../fixtures/forms/csat-v1.toml");
pub const DEFAULT_FORM_NAME: &str = "fixtures/forms/csat-v1.toml (embedded)";

/// A checked form definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub instructions: String,
    pub questions: Vec<Question>,
    pub rules: Rules,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub kind: QuestionKind,
    pub options: Vec<AnswerOption>,
    /// Option ids that count as "satisfied" for the satisfaction rate; empty when the
    /// question is not part of the rate (a yes/no question, say).
    pub satisfied: Vec<String>,
    /// 1-based line in the definition file, for layout errors that name the question.
    pub line: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    Single,
    Multi,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    pub id: String,
    pub label: String,
}

/// How the scanner judges a ballot. The defaults are the brief's: an over-marked single-choice
/// question is not counted, and a ballot with no countable answer is invalid.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// A ballot with fewer countable answers than this is `invalid`.
    pub min_answered: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Self { min_answered: 1 }
    }
}

/// A definition error, with the place to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct FormError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

// ---- the TOML as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForm {
    id: Spanned<String>,
    version: Spanned<i64>,
    title: String,
    #[serde(default)]
    instructions: String,
    #[serde(default)]
    rules: Rules,
    #[serde(default)]
    scales: std::collections::BTreeMap<String, RawScale>,
    #[serde(default)]
    questions: Vec<Spanned<RawQuestion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScale {
    options: Vec<AnswerOption>,
    #[serde(default)]
    satisfied: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    id: String,
    text: String,
    #[serde(default = "single")]
    kind: QuestionKind,
    scale: Option<String>,
    options: Option<Vec<AnswerOption>>,
    satisfied: Option<Vec<String>>,
}

fn single() -> QuestionKind {
    QuestionKind::Single
}

/// Characters allowed in form, question, option and unit ids: they travel in the QR code and in
/// CSV cells, so they stay short, printable and free of the payload separator.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl Form {
    /// The embedded standard form.
    pub fn default_form() -> Form {
        Form::parse(DEFAULT_FORM_TOML, DEFAULT_FORM_NAME)
            .expect("the embedded default form is checked by the test suite")
    }

    pub fn load(path: &Path) -> Result<Form, FormError> {
        let text = std::fs::read_to_string(path).map_err(|e| FormError {
            file: path.display().to_string(),
            line: 0,
            message: format!("cannot read the form definition: {e}"),
        })?;
        Form::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a definition. `file` only names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Form, FormError> {
        let err = |span: Option<Range<usize>>, message: String| FormError {
            file: file.to_string(),
            line: span.map_or(0, |s| line_of(text, s.start)),
            message,
        };
        let raw: RawForm = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            err(
                e.span(),
                format!("{msg} (see the form format in the README)"),
            )
        })?;
        let id = raw.id.get_ref().clone();
        if !is_valid_id(&id) {
            return Err(err(
                Some(raw.id.span()),
                format!("form id {id:?} must be 1–32 letters, digits, '-', '_' or '.'"),
            ));
        }
        let version = *raw.version.get_ref();
        if !(1..=65535).contains(&version) {
            return Err(err(
                Some(raw.version.span()),
                format!("version {version} must be a whole number from 1 to 65535"),
            ));
        }
        if raw.title.trim().is_empty() {
            return Err(err(None, "the title is empty".into()));
        }
        if raw.questions.is_empty() {
            return Err(err(
                None,
                "the form has no questions: add at least one [[questions]] table".into(),
            ));
        }
        let mut questions = Vec::new();
        let mut seen = HashSet::new();
        for q in &raw.questions {
            let span = q.span();
            let line = line_of(text, span.start);
            let q = q.get_ref();
            let at = |m: String| FormError {
                file: file.to_string(),
                line,
                message: m,
            };
            if !is_valid_id(&q.id) {
                return Err(at(format!(
                    "question id {:?} must be 1–32 letters, digits, '-', '_' or '.'",
                    q.id
                )));
            }
            if !seen.insert(q.id.clone()) {
                return Err(at(format!(
                    "question id {:?} is used twice: every question needs its own id",
                    q.id
                )));
            }
            if q.text.trim().is_empty() {
                return Err(at(format!("question {:?} has no text", q.id)));
            }
            let (options, satisfied) = match (&q.scale, &q.options) {
                (Some(_), Some(_)) => {
                    return Err(at(format!(
                        "question {:?} has both `scale` and `options`: keep one",
                        q.id
                    )))
                }
                (Some(name), None) => {
                    let scale = raw.scales.get(name).ok_or_else(|| {
                        at(format!(
                            "question {:?} names scale {name:?}, which is not defined: add [scales.{name}]",
                            q.id
                        ))
                    })?;
                    (scale.options.clone(), scale.satisfied.clone())
                }
                (None, Some(options)) => (options.clone(), Vec::new()),
                (None, None) => {
                    return Err(at(format!(
                        "question {:?} has no options: give `options = [...]` or `scale = \"...\"`",
                        q.id
                    )))
                }
            };
            let satisfied = q.satisfied.clone().unwrap_or(satisfied);
            check_options(&q.id, &options, &satisfied).map_err(at)?;
            questions.push(Question {
                id: q.id.clone(),
                text: nfc(&q.text),
                kind: q.kind,
                options: options
                    .into_iter()
                    .map(|o| AnswerOption {
                        label: nfc(&o.label),
                        id: o.id,
                    })
                    .collect(),
                satisfied,
                line,
            });
        }
        if raw.rules.min_answered > questions.len() {
            return Err(err(
                None,
                format!(
                    "rules.min_answered = {} but the form has only {} questions",
                    raw.rules.min_answered,
                    questions.len()
                ),
            ));
        }
        Ok(Form {
            id,
            version: version as u32,
            title: nfc(&raw.title),
            instructions: nfc(&raw.instructions),
            questions,
            rules: raw.rules,
        })
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }
}

fn check_options(qid: &str, options: &[AnswerOption], satisfied: &[String]) -> Result<(), String> {
    if options.is_empty() {
        return Err(format!("question {qid:?} has an empty list of options"));
    }
    if options.len() > 12 {
        return Err(format!(
            "question {qid:?} has {} options; at most 12 fit across a page",
            options.len()
        ));
    }
    let mut ids = HashSet::new();
    for o in options {
        if !is_valid_id(&o.id) {
            return Err(format!(
                "option id {:?} of question {qid:?} must be 1–32 letters, digits, '-', '_' or '.'",
                o.id
            ));
        }
        if matches!(o.id.as_str(), "BLANK" | "MULTI" | "REVIEW") {
            return Err(format!(
                "option id {:?} of question {qid:?} is reserved for the scanner's verdicts",
                o.id
            ));
        }
        if !ids.insert(o.id.as_str()) {
            return Err(format!(
                "option id {:?} is used twice in question {qid:?}",
                o.id
            ));
        }
        if o.label.trim().is_empty() {
            return Err(format!(
                "option {:?} of question {qid:?} has an empty label",
                o.id
            ));
        }
    }
    for s in satisfied {
        if !ids.contains(s.as_str()) {
            return Err(format!(
                "`satisfied` of question {qid:?} names option {s:?}, which the question does not have"
            ));
        }
    }
    Ok(())
}

/// Unicode NFC: Vietnamese typed on different keyboards arrives composed or decomposed; the
/// font and the CSVs want one form.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

fn line_of(text: &str, byte: usize) -> usize {
    text.get(..byte.min(text.len()))
        .map_or(1, |t| t.bytes().filter(|&b| b == b'\n').count() + 1)
}

/// Loads every `*.toml` form in a folder, sorted by file name. Two files with the same id and
/// version are an error: the scanner could not tell their ballots apart.
pub fn load_dir(dir: &Path) -> Result<Vec<Form>, FormError> {
    let entries = std::fs::read_dir(dir).map_err(|e| FormError {
        file: dir.display().to_string(),
        line: 0,
        message: format!("cannot read the forms folder: {e}"),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(FormError {
            file: dir.display().to_string(),
            line: 0,
            message: "no *.toml form definitions in this folder".into(),
        });
    }
    let mut forms: Vec<Form> = Vec::new();
    for p in paths {
        let f = Form::load(&p)?;
        if forms.iter().any(|g| g.id == f.id && g.version == f.version) {
            return Err(FormError {
                file: p.display().to_string(),
                line: 1,
                message: format!(
                    "form {} version {} is defined twice in {}",
                    f.id,
                    f.version,
                    dir.display()
                ),
            });
        }
        forms.push(f);
    }
    Ok(forms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_form_parses_with_vietnamese_scale() {
        let f = Form::default_form();
        assert!(f.questions.len() >= 7);
        let q1 = &f.questions[0];
        assert_eq!(q1.options.len(), 5);
        assert_eq!(q1.options[0].label, "Rất không hài lòng");
        assert_eq!(q1.satisfied, vec!["4".to_string(), "5".to_string()]);
        assert!(f
            .questions
            .iter()
            .any(|q| q.options.len() == 2 && q.satisfied.is_empty()));
    }

    #[test]
    fn decomposed_text_is_normalised_to_nfc() {
        // "Hài" written with a combining grave accent.
        let src = "id = \"F\"\nversion = 1\ntitle = \"Ha\u{0300}i\"\n[[questions]]\nid = \"q\"\ntext = \"t\"\noptions = [{id = \"a\", label = \"A\"}]\n";
        let f = Form::parse(src, "x.toml").expect("parses");
        assert_eq!(f.title, "Hài");
    }
}
