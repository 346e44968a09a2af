//! Reading a scan folder back: the pages of `ballots.csv` and their answers from
//! `answers.csv`, as the records a scan wrote them from, so that a tally replays the scan.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ballot::{self, Answer, BoxRead, QuestionRead, Status};
use crate::i18n::{Lang, Msg};
use crate::marks::{BoxScore, Fill, MarkState};
use crate::payload::Payload;
use crate::reason::Reason;
use crate::scan::PageRecord;

/// Why a scan folder could not be read back: a damaged `ballots.csv` or `answers.csv`, or two
/// that come from different runs. Each names the file and line; `tally` and `review` put it
/// into their own language ([`ScanFolderError::in_lang`]).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub enum ScanFolderError {
    /// Not a `source`: the message is the file's own, and a chain would say it twice.
    File(crate::scan_files::ScanFileError),
    /// A `page` column that is not a page number (counted from 1).
    BadPage {
        /// The file's path.
        file: String,
        /// Its line, counted from 1 with the header as line 1.
        line: usize,
        /// The text found in the column.
        value: String,
    },
    /// A `status` column that names no status a scan writes (`ok`, `review`, …).
    BadStatus {
        /// The file's path.
        file: String,
        /// Its line, counted from 1 with the header as line 1.
        line: usize,
        /// The text found in the column.
        value: String,
    },
    /// A `reasons` column with a code no scan writes (see the README's reason table).
    BadReasons {
        /// The file's path.
        file: String,
        /// Its line, counted from 1 with the header as line 1.
        line: usize,
        /// The unknown code.
        code: String,
    },
    /// An `answers.csv` row whose page has no row in `ballots.csv` where it should.
    AnswersWithoutPage {
        /// The `answers.csv` file's path.
        file: String,
        /// Its line, counted from 1 with the header as line 1.
        line: usize,
        /// The page the row names, as `source#page`.
        page: String,
        /// The question the row answers.
        question: String,
    },
    /// A page that was read, with no answers in `answers.csv`.
    PageWithoutAnswers {
        /// The `ballots.csv` file's path.
        file: String,
        /// The page's line in it, counted from 1 with the header as line 1.
        line: usize,
        /// The page, as `source#page`.
        page: String,
        /// Its status in `ballots.csv`.
        status: &'static str,
    },
}

impl From<crate::scan_files::ScanFileError> for ScanFolderError {
    fn from(e: crate::scan_files::ScanFileError) -> ScanFolderError {
        ScanFolderError::File(e)
    }
}

impl ScanFolderError {
    /// What went wrong, to be put into words in any language.
    pub fn message(&self) -> Msg {
        use ScanFolderError as E;
        match self {
            E::File(e) => e.message(),
            E::BadPage { file, line, value } => Msg::new(
                "scan_folder_error.bad_page",
                &[("file", file), ("line", line), ("value", value)],
            ),
            E::BadStatus { file, line, value } => Msg::new(
                "scan_folder_error.bad_status",
                &[("file", file), ("line", line), ("value", value)],
            ),
            E::BadReasons { file, line, code } => Msg::new(
                "scan_folder_error.bad_reasons",
                &[("file", file), ("line", line), ("code", code)],
            ),
            E::AnswersWithoutPage {
                file,
                line,
                page,
                question,
            } => Msg::new(
                "scan_folder_error.answers_without_page",
                &[
                    ("file", file),
                    ("line", line),
                    ("page", page),
                    ("question", question),
                ],
            ),
            E::PageWithoutAnswers {
                file,
                line,
                page,
                status,
            } => Msg::new(
                "scan_folder_error.page_without_answers",
                &[
                    ("file", file),
                    ("line", line),
                    ("page", page),
                    ("status", status),
                ],
            ),
        }
    }

    /// The error in `lang` (`Display` speaks the run's language).
    pub fn in_lang(&self, lang: Lang) -> String {
        self.message().in_lang(lang)
    }
}

/// Loads the pages of one scan folder from its `ballots.csv` and `answers.csv`.
pub fn load_scan(dir: &Path) -> Result<Vec<PageRecord>, ScanFolderError> {
    let rows = crate::scan_files::read_ballots(dir)?;
    let ballots_csv = || format!("{}/ballots.csv", dir.display());
    let mut records: Vec<PageRecord> = Vec::new();
    for (n, r) in rows.into_iter().enumerate() {
        let page: usize = r.page.parse().map_err(|_| ScanFolderError::BadPage {
            file: ballots_csv(),
            line: n + 2,
            value: r.page.clone(),
        })?;
        let status = Status::parse(&r.status).ok_or_else(|| ScanFolderError::BadStatus {
            file: ballots_csv(),
            line: n + 2,
            value: r.status.clone(),
        })?;
        let payload = if r.unit.is_empty() {
            None
        } else {
            Some(Payload {
                form: r.form.clone(),
                version: r.version.parse().unwrap_or(0),
                unit: r.unit,
                serial: r.serial.parse().unwrap_or(0),
                signature: None,
            })
        };
        let form_key = payload.as_ref().map(|p| (r.form, p.version));
        let mut rec = PageRecord::new(&r.source, page);
        rec.status = status;
        rec.reasons = Reason::parse_list(&r.reasons).map_err(|e| ScanFolderError::BadReasons {
            file: ballots_csv(),
            line: n + 2,
            code: e.0,
        })?;
        rec.detail = r.detail;
        rec.payload = payload;
        rec.form = form_key;
        rec.min_margin = r.min_margin.parse().ok();
        // Kept so that a tally reproduces the scan's rows (formatted alike, they print alike).
        rec.rotation_deg = r.rotation_deg.parse().ok();
        rec.fit_error_mm = r.fit_error_mm.parse().ok();
        rec.fiducials_found = r.fiducials.parse().ok();
        rec.file_sha256 = r.file_sha256;
        rec.duplicate_of = (!r.duplicate_of.is_empty()).then_some(r.duplicate_of);
        records.push(rec);
    }
    let answers = crate::scan_files::read_answers(dir)?;
    // Pages are keyed by their row, not their name: the same folder given twice, or two
    // names that print alike, give several rows with one `source#page`. answers.csv lists
    // each page's questions together, in ballots.csv order, so a page's answers belong to
    // the next row with that name from where the previous page's answers went.
    let mut rows_by_name: BTreeMap<(String, usize), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if r.payload.is_some() {
            rows_by_name
                .entry((r.source.clone(), r.page))
                .or_default()
                .push(i);
        }
    }
    let mut current: Option<usize> = None;
    for (n, r) in answers.into_iter().enumerate() {
        let key = (r.source, r.page.parse().unwrap_or(0));
        let question = r.question;
        let same_page = current.is_some_and(|i| {
            records[i].source == key.0
                && records[i].page == key.1
                && !records[i].questions.iter().any(|q| q.question == question)
        });
        if !same_page {
            let after = current.map_or(0, |i| i + 1);
            let next = rows_by_name
                .get(&key)
                .and_then(|rows| rows.iter().copied().find(|&i| i >= after));
            let Some(i) = next else {
                return Err(ScanFolderError::AnswersWithoutPage {
                    file: format!("{}/answers.csv", dir.display()),
                    line: n + 2,
                    page: format!("{}#{}", key.0, key.1),
                    question,
                });
            };
            current = Some(i);
        }
        let Some(i) = current else { continue };
        let answer = Answer::from_text(&r.answer);
        let boxes = boxes_read(&r.states, &r.scores);
        let review_reason = (answer == Answer::Review).then(|| recorded_review_reason(&boxes));
        records[i].questions.push(QuestionRead {
            question,
            review_reason,
            answer,
            boxes,
        });
    }
    // The other way: every page that was read has its answers.
    for (n, r) in records.iter().enumerate() {
        if r.payload.is_some() && r.status != Status::Rejected && r.questions.is_empty() {
            return Err(ScanFolderError::PageWithoutAnswers {
                file: ballots_csv(),
                line: n + 2,
                page: format!("{}#{}", r.source, r.page),
                status: r.status.as_str(),
            });
        }
    }
    Ok(records)
}

/// The boxes of one question from answers.csv's `states` (`1=empty 2=marked`) and `scores`
/// (`1=0.000 2=0.845`) cells; none when either is missing or they do not pair up.
/// Why a scan sent a question to review, from its recorded boxes: a box between the
/// thresholds, or else several marks that `ballot::decide_question` would not void as
/// `MULTI` (a solid box beside another mark, or weak marks on a shaded row) — decided again
/// by the same rule on the same fills and states, so a replay gives the scan's reason.
fn recorded_review_reason(boxes: &[BoxRead]) -> Reason {
    if boxes.is_empty() || boxes.iter().any(|b| b.state == MarkState::Ambiguous) {
        return Reason::AmbiguousMark;
    }
    // Only a single-choice question goes to review without an ambiguous box.
    match ballot::decide_question(crate::form::QuestionKind::Single, boxes) {
        (Answer::Review, Some(reason)) => reason,
        _ => Reason::PossibleCorrection,
    }
}

fn boxes_read(states: &str, scores: &str) -> Vec<BoxRead> {
    let states: Vec<(&str, &str)> = states
        .split_whitespace()
        .filter_map(|x| x.split_once('='))
        .collect();
    let scores: Vec<(&str, &str)> = scores
        .split_whitespace()
        .filter_map(|x| x.split_once('='))
        .collect();
    if states.len() != scores.len() {
        return Vec::new();
    }
    let boxes: Option<Vec<BoxRead>> = states
        .iter()
        .zip(&scores)
        .map(|((option, state), (option2, fill))| {
            if option != option2 {
                return None;
            }
            let state = [MarkState::Empty, MarkState::Ambiguous, MarkState::Marked]
                .into_iter()
                .find(|s| s.as_str() == *state)?;
            Some(BoxRead {
                option: option.to_string(),
                state,
                score: BoxScore::as_recorded(Fill(fill.parse().ok()?)),
            })
        })
        .collect();
    boxes.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_question_keeps_the_reason_its_scan_gave() {
        // One firm mark beside a weak one on a shaded row: the scan said `background_in_row`,
        // a replay used to say `possible_correction`.
        let shaded = boxes_read("1=marked 2=marked 3=empty", "1=0.300 2=0.070 3=0.000");
        assert_eq!(recorded_review_reason(&shaded), Reason::BackgroundInRow);
        let corrected = boxes_read("1=marked 2=marked 3=empty", "1=0.700 2=0.300 3=0.000");
        assert_eq!(
            recorded_review_reason(&corrected),
            Reason::PossibleCorrection
        );
        let doubtful = boxes_read("1=ambiguous 2=empty", "1=0.040 2=0.000");
        assert_eq!(recorded_review_reason(&doubtful), Reason::AmbiguousMark);
    }
}
