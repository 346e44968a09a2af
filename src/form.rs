//! Form definitions: what a ballot asks and how its answers are judged.
//!
//! A form is written once by the IT officer as TOML (see the README for the format) and is
//! identified on every printed ballot by its id and version. This module parses and checks the
//! definition; it knows nothing of millimetres (that is [`crate::layout`]).

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::i18n::Msg;
use toml::Spanned;
use unicode_normalization::UnicodeNormalization;

/// The standard citizen-satisfaction form, version 1, shipped in `fixtures/forms/`. Ballots
/// printed with it are still in the field, so it stays embedded and readable.
pub const DEFAULT_FORM_TOML: &str = include_str!("../fixtures/forms/csat-v1.toml");
/// How messages name the embedded version 1, in place of a file path.
pub const DEFAULT_FORM_NAME: &str = "fixtures/forms/csat-v1.toml (embedded)";
/// Version 2 of the standard form: the official ballot (agency header, national motto, form
/// number, centred title, comment area, closing line). `generate` prints it by default.
pub const STANDARD_V2_TOML: &str = include_str!("../fixtures/forms/csat-v2.toml");
/// How messages name the embedded version 2, in place of a file path.
pub const STANDARD_V2_NAME: &str = "fixtures/forms/csat-v2.toml (embedded)";

/// Page arrangements: 1, the first ballots' (23 mm answer columns, headings wrapped greedily);
/// 2, the official ballot's (20 mm columns leaving the question texts more room, headings
/// wrapped where they stay readable, a rule closing a table before a question with other
/// headings).
pub const LAYOUTS: std::ops::RangeInclusive<u32> = 1..=2;

/// Where a form's `{unit}` placeholder stands in the header's agency lines: replaced on each
/// ballot by the unit's name, in capitals as an agency name is written.
pub const UNIT_PLACEHOLDER: &str = "{unit}";
/// Height of a `text` question's writing area when the definition gives none: five ruled
/// lines, room for two or three sentences.
pub const DEFAULT_TEXT_HEIGHT_MM: f64 = 40.0;
/// A writing area lower than this holds no more than a word; higher than this leaves no room
/// for the questions on an A4 page.
pub const TEXT_HEIGHT_RANGE_MM: std::ops::RangeInclusive<f64> = 15.0..=120.0;

/// A checked form definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    /// The form's id, printed in every ballot's QR code (`CSAT`).
    pub id: String,
    /// Its version: a changed form is a new version, so ballots in the field stay readable.
    pub version: u32,
    /// The title printed at the top.
    pub title: String,
    /// Where the title stands: left (beside the QR code, as version 1 prints it) or centred.
    pub title_align: Align,
    /// The instructions printed under the title.
    pub instructions: String,
    /// The official header, when the form has one.
    pub header: Option<Header>,
    /// A line printed after the last question (a thank-you); empty for none.
    pub closing: String,
    /// The page arrangement (see [`LAYOUTS`]). Ballots in the field were printed with their
    /// definition's arrangement, so a definition keeps its number: what changes the geometry
    /// is a new number, never a change to an old one.
    pub layout: u32,
    /// The questions, in print order.
    pub questions: Vec<Question>,
    /// How a ballot is judged.
    pub rules: Rules,
}

/// Where a title stands on the page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    /// Left, beside the QR code (version 1).
    #[default]
    Left,
    /// Centred.
    Center,
}

/// The header of an official paper: the issuing agency top left, the national motto top
/// right, and the form's number above the motto.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Header {
    /// The issuing agency, one line each, the superior body first (printed in capitals, the
    /// last line bold and underlined). A line `{unit}` is the unit's name on each ballot.
    pub agency: Vec<String>,
    /// The state's name and the motto (the motto is printed bold and underlined), e.g.
    /// `["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]`.
    pub motto: Vec<String>,
    /// The form's number, e.g. "Mẫu KS-01"; empty for none.
    pub form_number: String,
}

/// One question, with its answer boxes.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    /// Its id, used in the CSVs (`q1`).
    pub id: String,
    /// The question as printed.
    pub text: String,
    /// One answer, several, or a writing area.
    pub kind: QuestionKind,
    /// The boxes, in print order.
    pub options: Vec<AnswerOption>,
    /// Option ids that count as "satisfied" for the satisfaction rate; empty when the
    /// question is not part of the rate (a yes/no question, say).
    pub satisfied: Vec<String>,
    /// 1-based line in the definition file, for layout errors that name the question.
    pub line: usize,
    /// Height of the writing area of a `text` question (mm); 0 for the other kinds.
    pub height_mm: f64,
}

/// How a question is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    /// One box: a second mark spoils the question (`MULTI`).
    Single,
    /// Any number of boxes.
    Multi,
    /// A ruled area for the citizen's own words: read by a person, never counted. The scanner
    /// only says whether anything is written (`WRITTEN`, `EMPTY` or `UNREADABLE`).
    Text,
}

impl Question {
    /// A question answered by ticking boxes (counted), as opposed to a writing area.
    pub fn is_choice(&self) -> bool {
        self.kind != QuestionKind::Text
    }
}

/// One answer box and its label.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    /// Its id, used in the CSVs and tallies (`1`, `yes`).
    pub id: String,
    /// The label printed beside the box.
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
    /// The definition file (or the embedded form's name).
    pub file: String,
    /// The line to fix (1-based; 0 when the whole file is meant).
    pub line: usize,
    /// What is wrong, in the run's language.
    pub message: Msg,
}

impl FormError {
    /// The error in `lang`, with its place (`Display` speaks the run's language).
    pub fn in_lang(&self, lang: crate::i18n::Lang) -> String {
        format!(
            "{}:{}: {}",
            self.file,
            self.line,
            self.message.in_lang(lang)
        )
    }
}

// ---- the TOML as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForm {
    id: Spanned<String>,
    version: Spanned<i64>,
    title: String,
    #[serde(default)]
    title_align: Align,
    layout: Option<Spanned<i64>>,
    #[serde(default)]
    instructions: String,
    header: Option<Header>,
    #[serde(default)]
    closing: String,
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
    height_mm: Option<f64>,
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
    /// The embedded standard form, version 1 (the ballots already printed; the simulator's and
    /// the accuracy tests' form).
    pub fn default_form() -> Form {
        Form::parse(DEFAULT_FORM_TOML, DEFAULT_FORM_NAME)
            .expect("the embedded default form is checked by the test suite")
    }

    /// The embedded standard form, version 2: the official ballot `generate` prints.
    pub fn standard_v2() -> Form {
        Form::parse(STANDARD_V2_TOML, STANDARD_V2_NAME)
            .expect("the embedded standard form is checked by the test suite")
    }

    /// Every embedded version of the standard form, oldest first: `scan` reads them all,
    /// since ballots of each version come back.
    pub fn standard_forms() -> Vec<Form> {
        vec![Form::default_form(), Form::standard_v2()]
    }

    /// The newest embedded standard form, which `generate` prints by default (`synth` keeps
    /// version 1, which its corpora and the accuracy figures are made of).
    pub fn newest_standard() -> Form {
        Form::standard_v2()
    }

    /// Reads and checks a form definition (TOML) from a file.
    pub fn load(path: &Path) -> Result<Form, FormError> {
        let text = std::fs::read_to_string(path).map_err(|e| FormError {
            file: path.display().to_string(),
            line: 0,
            message: Msg::new("form_error.unreadable", &[("error", &e)]),
        })?;
        Form::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a definition. `file` only names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Form, FormError> {
        let err = |span: Option<Range<usize>>, message: Msg| FormError {
            file: file.to_string(),
            line: span.map_or(0, |s| line_of(text, s.start)),
            message,
        };
        let raw: RawForm = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            err(e.span(), Msg::new("form_error.toml", &[("error", &msg)]))
        })?;
        let id = raw.id.get_ref().clone();
        if !is_valid_id(&id) {
            return Err(err(
                Some(raw.id.span()),
                Msg::new("form_error.bad_id", &[("id", &id)]),
            ));
        }
        let version = *raw.version.get_ref();
        if !(1..=65535).contains(&version) {
            return Err(err(
                Some(raw.version.span()),
                Msg::new("form_error.bad_version", &[("version", &version)]),
            ));
        }
        if raw.title.trim().is_empty() {
            return Err(err(None, Msg::new("form_error.no_title", &[])));
        }
        if raw.questions.is_empty() {
            return Err(err(None, Msg::new("form_error.no_questions", &[])));
        }
        let mut questions = Vec::new();
        let mut seen = HashSet::new();
        for q in &raw.questions {
            let span = q.span();
            let line = line_of(text, span.start);
            let q = q.get_ref();
            let at = |m: Msg| FormError {
                file: file.to_string(),
                line,
                message: m,
            };
            if !is_valid_id(&q.id) {
                return Err(at(Msg::new("form_error.bad_question_id", &[("id", &q.id)])));
            }
            if !seen.insert(q.id.clone()) {
                return Err(at(Msg::new("form_error.question_twice", &[("id", &q.id)])));
            }
            if q.text.trim().is_empty() {
                return Err(at(Msg::new("form_error.no_text", &[("id", &q.id)])));
            }
            if q.kind == QuestionKind::Text {
                if q.scale.is_some() || q.options.is_some() || q.satisfied.is_some() {
                    return Err(at(Msg::new(
                        "form_error.text_with_options",
                        &[("id", &q.id)],
                    )));
                }
                let height_mm = q.height_mm.unwrap_or(DEFAULT_TEXT_HEIGHT_MM);
                if !TEXT_HEIGHT_RANGE_MM.contains(&height_mm) {
                    return Err(at(Msg::new(
                        "form_error.bad_height",
                        &[
                            ("height", &height_mm),
                            ("id", &q.id),
                            ("min", TEXT_HEIGHT_RANGE_MM.start()),
                            ("max", TEXT_HEIGHT_RANGE_MM.end()),
                        ],
                    )));
                }
                questions.push(Question {
                    id: q.id.clone(),
                    text: nfc(&q.text),
                    kind: q.kind,
                    options: Vec::new(),
                    satisfied: Vec::new(),
                    line,
                    height_mm,
                });
                continue;
            }
            if q.height_mm.is_some() {
                return Err(at(Msg::new("form_error.height_not_text", &[("id", &q.id)])));
            }
            let (options, satisfied) = match (&q.scale, &q.options) {
                (Some(_), Some(_)) => {
                    return Err(at(Msg::new(
                        "form_error.scale_and_options",
                        &[("id", &q.id)],
                    )))
                }
                (Some(name), None) => {
                    let scale = raw.scales.get(name).ok_or_else(|| {
                        at(Msg::new(
                            "form_error.unknown_scale",
                            &[("id", &q.id), ("scale", name)],
                        ))
                    })?;
                    (scale.options.clone(), scale.satisfied.clone())
                }
                (None, Some(options)) => (options.clone(), Vec::new()),
                (None, None) => {
                    return Err(at(Msg::new("form_error.no_options", &[("id", &q.id)])))
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
                height_mm: 0.0,
            });
        }
        let choices = questions.iter().filter(|q| q.is_choice()).count();
        if choices == 0 {
            return Err(err(None, Msg::new("form_error.only_text", &[])));
        }
        if raw.rules.min_answered > choices {
            return Err(err(
                None,
                Msg::new(
                    "form_error.min_answered",
                    &[("min", &raw.rules.min_answered), ("choices", &choices)],
                ),
            ));
        }
        let header = match raw.header {
            Some(h) => Some(check_header(h).map_err(|m| err(None, m))?),
            None => None,
        };
        let layout = match &raw.layout {
            None => 1,
            Some(l) => {
                let n = *l.get_ref();
                if !(*LAYOUTS.start() as i64..=*LAYOUTS.end() as i64).contains(&n) {
                    return Err(err(
                        Some(l.span()),
                        Msg::new(
                            "form_error.bad_layout",
                            &[
                                ("n", &n),
                                ("first", LAYOUTS.start()),
                                ("last", LAYOUTS.end()),
                            ],
                        ),
                    ));
                }
                n as u32
            }
        };
        Ok(Form {
            id,
            version: version as u32,
            title: nfc(&raw.title),
            title_align: raw.title_align,
            layout,
            instructions: nfc(&raw.instructions),
            header,
            closing: nfc(raw.closing.trim()),
            questions,
            rules: raw.rules,
        })
    }

    /// The question with id `id`.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }
}

fn check_header(h: Header) -> Result<Header, Msg> {
    if h.agency.len() > 3 {
        return Err(Msg::new(
            "form_error.agency_lines",
            &[("n", &h.agency.len())],
        ));
    }
    if h.motto.len() > 2 {
        return Err(Msg::new("form_error.motto_lines", &[("n", &h.motto.len())]));
    }
    if h.agency.iter().chain(&h.motto).any(|l| l.trim().is_empty()) {
        return Err(Msg::new("form_error.empty_header_line", &[]));
    }
    let units = h
        .agency
        .iter()
        .filter(|l| l.contains(UNIT_PLACEHOLDER))
        .count();
    if units > 1
        || h.agency
            .iter()
            .any(|l| l.contains(UNIT_PLACEHOLDER) && l.trim() != UNIT_PLACEHOLDER)
    {
        return Err(Msg::new(
            "form_error.unit_placeholder",
            &[("placeholder", &UNIT_PLACEHOLDER)],
        ));
    }
    Ok(Header {
        agency: h.agency.iter().map(|l| nfc(l.trim())).collect(),
        motto: h.motto.iter().map(|l| nfc(l.trim())).collect(),
        form_number: nfc(h.form_number.trim()),
    })
}

fn check_options(qid: &str, options: &[AnswerOption], satisfied: &[String]) -> Result<(), Msg> {
    if options.is_empty() {
        return Err(Msg::new("form_error.empty_options", &[("id", &qid)]));
    }
    if options.len() > 12 {
        return Err(Msg::new(
            "form_error.too_many_options",
            &[("id", &qid), ("n", &options.len())],
        ));
    }
    let mut ids = HashSet::new();
    for o in options {
        if !is_valid_id(&o.id) {
            return Err(Msg::new(
                "form_error.bad_option_id",
                &[("option", &o.id), ("id", &qid)],
            ));
        }
        if matches!(
            o.id.as_str(),
            "BLANK" | "MULTI" | "REVIEW" | "WRITTEN" | "EMPTY" | "UNREADABLE"
        ) {
            return Err(Msg::new(
                "form_error.reserved_option",
                &[("option", &o.id), ("id", &qid)],
            ));
        }
        if !ids.insert(o.id.as_str()) {
            return Err(Msg::new(
                "form_error.option_twice",
                &[("option", &o.id), ("id", &qid)],
            ));
        }
        if o.label.trim().is_empty() {
            return Err(Msg::new(
                "form_error.empty_label",
                &[("option", &o.id), ("id", &qid)],
            ));
        }
    }
    for s in satisfied {
        if !ids.contains(s.as_str()) {
            return Err(Msg::new(
                "form_error.unknown_satisfied",
                &[("id", &qid), ("option", s)],
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

/// The forms a scan or a tally knows, each id and version once: the one place a page's form
/// is looked up by what its QR code says. `T` is the form itself, or the form with what a
/// scan keeps beside it (its layout); the list reads as a slice of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Forms<T = Form>(Vec<T>);

impl<T: AsRef<Form>> Forms<T> {
    /// The form with this id and version.
    pub fn get(&self, id: &str, version: u32) -> Option<&T> {
        self.position(id, version).map(|i| &self.0[i])
    }

    /// Where the form with this id and version is in the list (the review page numbers its
    /// forms so).
    pub fn position(&self, id: &str, version: u32) -> Option<usize> {
        self.0.iter().position(|f| {
            let f = f.as_ref();
            f.id == id && f.version == version
        })
    }

    /// The form a page was read with (`PageRecord::form`: its id and version), if known.
    pub fn of(&self, page_form: Option<&(String, u32)>) -> Option<&T> {
        page_form.and_then(|(id, version)| self.get(id, *version))
    }

    /// Adds `form` unless one with its id and version is already here (the first one stays);
    /// whether it was added.
    pub fn insert(&mut self, form: T) -> bool {
        let known = {
            let f = form.as_ref();
            self.get(&f.id, f.version).is_some()
        };
        if !known {
            self.0.push(form);
        }
        !known
    }
}

impl<T> Default for Forms<T> {
    fn default() -> Self {
        Forms(Vec::new())
    }
}

impl<T> std::ops::Deref for Forms<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

/// The forms in the order given; a later form with the id and version of an earlier one is
/// never found (see [`Forms::insert`] to drop it, [`load_dir`] to refuse it).
impl<T> From<Vec<T>> for Forms<T> {
    fn from(forms: Vec<T>) -> Self {
        Forms(forms)
    }
}

impl<T> FromIterator<T> for Forms<T> {
    fn from_iter<I: IntoIterator<Item = T>>(forms: I) -> Self {
        Forms(forms.into_iter().collect())
    }
}

impl<T> IntoIterator for Forms<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T> From<Forms<T>> for Vec<T> {
    fn from(forms: Forms<T>) -> Vec<T> {
        forms.0
    }
}

impl AsRef<Form> for Form {
    fn as_ref(&self) -> &Form {
        self
    }
}

/// Loads every `*.toml` form in a folder, sorted by file name. Two files with the same id and
/// version are an error: the scanner could not tell their ballots apart.
pub fn load_dir(dir: &Path) -> Result<Vec<Form>, FormError> {
    let entries = std::fs::read_dir(dir).map_err(|e| FormError {
        file: dir.display().to_string(),
        line: 0,
        message: Msg::new("form_error.unreadable_dir", &[("error", &e)]),
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
            message: Msg::new("form_error.empty_dir", &[]),
        });
    }
    let mut forms: Forms = Forms::default();
    for p in paths {
        let f = Form::load(&p)?;
        if forms.get(&f.id, f.version).is_some() {
            return Err(FormError {
                file: p.display().to_string(),
                line: 1,
                message: Msg::new(
                    "form_error.defined_twice",
                    &[
                        ("id", &f.id),
                        ("version", &f.version),
                        ("dir", &dir.display()),
                    ],
                ),
            });
        }
        forms.insert(f);
    }
    Ok(forms.into())
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

    const MINIMAL: &str = "id = \"F\"\nversion = 1\ntitle = \"T\"\n[[questions]]\nid = \"q\"\ntext = \"t\"\noptions = [{id = \"a\", label = \"A\"}]\n";

    fn parse_err(src: &str) -> String {
        match Form::parse(src, "x.toml") {
            Ok(_) => panic!("accepted: {src}"),
            Err(e) => e.in_lang(crate::i18n::Lang::En),
        }
    }

    #[test]
    fn old_definitions_parse_unchanged() {
        let f = Form::parse(MINIMAL, "x.toml").expect("parses");
        assert_eq!(f.header, None);
        assert_eq!(f.closing, "");
        assert_eq!(f.title_align, Align::Left);
        assert_eq!(f.layout, 1);
        let v1 = Form::default_form();
        assert_eq!((v1.version, v1.layout, v1.header.is_none()), (1, 1, true));
        assert!(v1.questions.iter().all(Question::is_choice));
    }

    #[test]
    fn the_official_ballot_parses_with_header_text_area_and_closing() {
        let f = Form::standard_v2();
        assert_eq!((f.id.as_str(), f.version, f.layout), ("CSAT", 2, 2));
        assert_eq!(f.title_align, Align::Center);
        let h = f.header.as_ref().expect("a header");
        assert_eq!(h.agency, ["CÔNG AN THÀNH PHỐ HẢI PHÒNG", "{unit}"]);
        assert_eq!(h.motto[1], "Độc lập - Tự do - Hạnh phúc");
        assert_eq!(h.form_number, "Mẫu KS-01");
        assert_eq!(f.closing, "Xin trân trọng cảm ơn Ông/Bà!");
        let c = f.question("comment").expect("the comment area");
        assert_eq!(c.kind, QuestionKind::Text);
        assert!(c.options.is_empty() && c.satisfied.is_empty());
        assert_eq!(c.height_mm, 48.0);
        // The same questions and options as version 1: tallies of both versions add up.
        let v1 = Form::default_form();
        for q in &v1.questions {
            let q2 = f.question(&q.id).expect("same ids");
            assert_eq!((&q2.options, &q2.satisfied), (&q.options, &q.satisfied));
        }
        let ids: Vec<(String, u32)> = Form::standard_forms()
            .iter()
            .map(|f| (f.id.clone(), f.version))
            .collect();
        assert_eq!(ids, [("CSAT".to_string(), 1), ("CSAT".to_string(), 2)]);
        assert_eq!(Form::newest_standard().version, 2);
    }

    #[test]
    fn a_text_question_takes_a_default_height() {
        let src = format!(
            "{MINIMAL}[[questions]]\nid = \"c\"\nkind = \"text\"\ntext = \"Ý kiến khác\"\n"
        );
        let f = Form::parse(&src, "x.toml").expect("parses");
        let c = f.question("c").expect("c");
        assert_eq!(c.height_mm, DEFAULT_TEXT_HEIGHT_MM);
        assert!(!c.is_choice());
    }

    #[test]
    fn bad_header_and_text_values_are_refused_with_their_place() {
        let text_q = |extra: &str| {
            format!("{MINIMAL}[[questions]]\nid = \"c\"\nkind = \"text\"\ntext = \"x\"\n{extra}")
        };
        let e = parse_err(&text_q("height_mm = 5\n"));
        assert!(
            e.contains("x.toml:8:") && e.contains("height_mm = 5"),
            "{e}"
        );
        let e = parse_err(&text_q("height_mm = 500\n"));
        assert!(e.contains("from 15 to 120"), "{e}");
        let e = parse_err(&text_q("options = [{id = \"a\", label = \"A\"}]\n"));
        assert!(
            e.contains("writing area") && e.contains("no `scale`"),
            "{e}"
        );
        let e = parse_err(&format!("{MINIMAL}height_mm = 30\n"));
        assert!(e.contains("only a writing area"), "{e}");
        let e = parse_err(&text_q("lines = 4\n"));
        assert!(e.contains("unknown field `lines`"), "{e}");
        let e = parse_err(&MINIMAL.replace(
            "title = \"T\"\n",
            "title = \"T\"\n[header]\nagencies = [\"X\"]\n",
        ));
        assert!(e.contains("unknown field `agencies`"), "{e}");
        let e = parse_err(&MINIMAL.replace(
            "title = \"T\"\n",
            "title = \"T\"\n[header]\nagency = [\"Công an {unit}\"]\n",
        ));
        assert!(e.contains("stands alone"), "{e}");
        let e = parse_err(&MINIMAL.replace("title = \"T\"\n", "title = \"T\"\nlayout = 3\n"));
        assert!(e.contains("x.toml:4:") && e.contains("layout = 3"), "{e}");
        let e = parse_err(&MINIMAL.replace(
            "title = \"T\"\n",
            "title = \"T\"\ntitle_align = \"middle\"\n",
        ));
        assert!(e.contains("unknown variant `middle`"), "{e}");
        // A form of writing areas only has nothing to count.
        let e = parse_err("id = \"F\"\nversion = 1\ntitle = \"T\"\n[[questions]]\nid = \"c\"\nkind = \"text\"\ntext = \"x\"\n");
        assert!(e.contains("only writing areas"), "{e}");
        let e = parse_err(&MINIMAL.replace(
            "label = \"A\"",
            "label = \"A\"}, {id = \"WRITTEN\", label = \"W\"",
        ));
        assert!(e.contains("reserved"), "{e}");
    }
}
