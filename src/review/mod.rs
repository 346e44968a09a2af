//! The `review` command: what an auditor needs to judge the ballots a scan flagged, written to
//! `DIR/review/` — one annotated image per flagged page and one self-contained `index.html`
//! ([`page`]) where the auditor records decisions and exports them as `decisions.csv`, the file
//! [`crate::audit::load_decisions`] reads back.
//!
//! This module owns the command: choosing and ordering the flagged pages, and writing their
//! images (`images` draws them) and the page. The images are drawn from the very pipeline the scan decided with: each page is read again by
//! [`scan::read_page`] (deterministic, with the forms, units and thresholds saved in
//! `scan.json`), and the box rectangles it found, their states and the page transform are
//! drawn as they are, their fill scores passed to the page with each crop — detection is
//! never re-implemented here. If the page now
//! reads differently from what `answers.csv` recorded (the file was replaced, say), the page
//! says so instead of quietly showing something else.

mod images;
mod keyed;
pub mod page;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use crate::audit;
use crate::ballot::{QuestionRead, Status};
use crate::form::Form;
use crate::i18n::{text, Lang};
use crate::input;
use crate::marks::{self, MarkState, Thresholds};
use crate::output;
use crate::report::ScanSettings;
use crate::scan::{self, PageRecord};

use images::encode_jpeg;
pub(crate) use images::{annotate, plain};

/// Part of an annotated image showing one question's boxes (pixels of that image).
#[derive(Clone, Debug, PartialEq)]
pub struct Crop {
    /// The question's id in its form.
    pub question: String,
    /// Left edge, in pixels from the image's left.
    pub x: u32,
    /// Top edge, in pixels from the image's top.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
    /// The question's boxes as the scan read them, in the form's order: the review page
    /// writes each option's label (and on demand its score and state) under its box.
    pub boxes: Vec<CropBox>,
}

/// One box of a [`Crop`]: where it was found, in pixels from the crop's top left corner (the
/// outer edge of its printed border, as [`crate::marks::BoxScore::found`]), its fill score
/// and the state the scan gave it.
#[derive(Clone, Debug, PartialEq)]
pub struct CropBox {
    /// The option's id in its question.
    pub option: String,
    /// Left edge, in pixels from the crop's left.
    pub x: u32,
    /// Top edge, in pixels from the crop's top.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
    /// How much of the box's inside is inked (0 to 1), as the scan scored it.
    pub fill: marks::Fill,
    /// Empty, marked or ambiguous, as the scan judged it against the thresholds.
    pub state: MarkState,
}

/// An image written for one flagged page.
#[derive(Clone, Debug, PartialEq)]
pub struct PageImage {
    /// File name inside `review/`.
    pub file: String,
    /// The image's width in pixels.
    pub width: u32,
    /// The image's height in pixels.
    pub height: u32,
    /// One per question whose boxes were found (empty for pages without a transform).
    pub crops: Vec<Crop>,
}

/// One flagged page as the review page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Index of the page in `ballots.csv` (0-based; the page shows it 1-based as "row").
    pub index: usize,
    /// The page's annotated image; `None` when none could be drawn (the page's file is gone,
    /// changed or unreadable, or the scan never had an image of it), which `warnings` says.
    pub image: Option<PageImage>,
    /// Things the auditor must know about the image itself (file changed since the scan…).
    pub warnings: Vec<String>,
}

/// What `review` did, for the command's message.
#[derive(Clone, Debug)]
pub(crate) struct Summary {
    pub flagged: usize,
    /// Of the flagged pages, those waiting for a decision (the scan's "cần kiểm tra").
    pub to_decide: usize,
    pub images: usize,
    pub index_html: PathBuf,
    /// `(source#page, warning)`, for the console (which collapses repeats).
    pub warnings: Vec<(String, String)>,
    /// The language the page was written in, for the console's words about it.
    pub lang: crate::i18n::Lang,
}

/// The 1-based row of a page in `ballots.csv`, as the review page and file names use it.
pub(crate) fn row_number(index: usize) -> usize {
    index + 1
}

/// `0007.jpg` for the 7th page of `ballots.csv`.
pub fn image_name(index: usize) -> String {
    format!("{:04}.jpg", row_number(index))
}

/// A page an auditor must look at: anything not plainly counted, and counted ballots that
/// carry a reason (an over-marked question that was not counted, say).
pub(crate) fn is_flagged(r: &PageRecord) -> bool {
    r.status != Status::Counted || !r.reasons.is_empty()
}

/// The flagged pages, most doubtful first: `review` by `min_margin` ascending (the closest
/// calls first), then `invalid`, `duplicate`, `rejected`, and last the counted ballots with a
/// note; ties in `ballots.csv` order.
pub(crate) fn review_order(records: &[PageRecord]) -> Vec<usize> {
    let group = |s: Status| match s {
        Status::Review => 0,
        Status::Invalid => 1,
        Status::Duplicate => 2,
        Status::Rejected => 3,
        Status::Counted | Status::Keyed => 4,
    };
    let mut idx: Vec<usize> = (0..records.len())
        .filter(|&i| is_flagged(&records[i]))
        .collect();
    idx.sort_by(|&a, &b| {
        let (ra, rb) = (&records[a], &records[b]);
        let margin = |r: &PageRecord| match r.status {
            Status::Review => r.min_margin.unwrap_or(f64::INFINITY),
            _ => 0.0,
        };
        group(ra.status)
            .cmp(&group(rb.status))
            .then(margin(ra).total_cmp(&margin(rb)))
            .then(a.cmp(&b))
    });
    idx
}

/// Writes `dir/review/`: an image per flagged page that can still be read, and `index.html`.
/// Writes `dir/review/`. `lang` is the language of the page; by default the scan's own.
pub(crate) fn run(dir: &Path, lang: Option<crate::i18n::Lang>) -> anyhow::Result<Summary> {
    // Held while reading and writing: a scan swapping the folder meanwhile would leave these
    // images beside the wrong rows.
    let _lock = crate::results::lock_for_reading(dir)?;
    let settings = ScanSettings::load(dir)?;
    let lang = lang.unwrap_or(settings.lang);
    let forms = settings.forms()?;
    let registry = settings.registry()?;
    let thresholds = Thresholds {
        empty: settings.empty_below,
        marked: settings.marked_above,
    };
    let records = audit::load_scan(dir).map_err(|e| crate::failure::input(e.in_lang(lang)))?;
    // The folder's own name, never its path (the page is the same on every machine): saved
    // decisions are keyed by ballot, so a rescan into this folder finds them again.
    let scan_key = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| {
            crate::results::canonical(dir)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default();
    let cfg = scan::Config::new(forms.to_vec(), registry.clone(), None, thresholds)?;
    // Written into a fresh folder and swapped in as a whole, like the results folder: a kill
    // or a full disk midway leaves the previous review/ complete, never half of each.
    let staged = crate::results::StagedFolder::begin(&dir.join("review"), written_by_review)
        .with_context(|| {
            text(
                lang,
                "review_warning.cannot_write",
                &[("dir", &dir.join("review").display())],
            )
        })?;
    let out = staged.staging().to_path_buf();

    let order = review_order(&records);
    // One group per file, so a multi-page TIFF or PDF is read once for all its flagged pages.
    let mut by_source: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in &order {
        by_source.entry(&records[i].source).or_default().push(i);
    }
    let groups: Vec<(&str, Vec<usize>)> = by_source.into_iter().collect();
    let done: Vec<anyhow::Result<Vec<Entry>>> = groups
        .par_iter()
        .map(|(source, pages)| review_file(source, pages, &records, &cfg, &out, lang))
        .collect();
    let mut entries: BTreeMap<usize, Entry> = BTreeMap::new();
    for d in done {
        for e in d? {
            entries.insert(e.index, e);
        }
    }
    let entries: Vec<Entry> = order.iter().filter_map(|i| entries.remove(i)).collect();

    let html = page::index_html(&page::PageInput {
        scan_dir: &dir.display().to_string(),
        scan_key: &scan_key,
        records: &records,
        entries: &entries,
        forms: &forms,
        registry: &registry,
        thresholds,
        lang,
    });
    output::write_atomic(&out.join("index.html"), html.as_bytes())?;
    let index_html = staged.path().join("index.html");
    staged.commit()?;
    let warnings = entries
        .iter()
        .flat_map(|e| {
            let at = records[e.index].page_ref();
            e.warnings.iter().map(move |w| (at.clone(), w.clone()))
        })
        .collect();
    Ok(Summary {
        flagged: entries.len(),
        to_decide: page::to_decide(&records, &entries),
        images: entries.iter().filter(|e| e.image.is_some()).count(),
        index_html,
        warnings,
        lang,
    })
}

/// The flagged pages of one file: opened once, pages drawn in parallel.
fn review_file(
    source: &str,
    pages: &[usize],
    records: &[PageRecord],
    cfg: &scan::Config,
    out: &Path,
    lang: Lang,
) -> anyhow::Result<Vec<Entry>> {
    let no_image_expected = |i: usize| {
        let r = &records[i];
        // The scan never had a page image: its absence is not worth a warning.
        r.status == Status::Rejected && r.reasons.iter().any(|x| x.has_no_image())
    };
    let opened = match input::open(Path::new(source)) {
        Ok(f) => f,
        Err(e) => {
            return Ok(pages
                .iter()
                .map(|&i| Entry {
                    index: i,
                    image: None,
                    warnings: if no_image_expected(i) {
                        Vec::new()
                    } else {
                        vec![text(lang, "review_warning.cannot_open", &[("error", &e)])]
                    },
                })
                .collect())
        }
    };
    let changed = {
        let sha = scan::file_sha256(&opened.bytes);
        pages
            .iter()
            .any(|&i| !records[i].file_sha256.is_empty() && records[i].file_sha256 != sha)
    };
    pages
        .par_iter()
        .map(|&i| {
            let r = &records[i];
            let mut warnings = Vec::new();
            if changed {
                warnings.push(text(lang, "review_warning.file_changed", &[]));
            }
            if r.page == 0 || r.page > opened.pages {
                if !no_image_expected(i) {
                    warnings.push(text(
                        lang,
                        "review_warning.page_gone",
                        &[("pages", &opened.pages), ("page", &r.page)],
                    ));
                }
                return Ok(Entry {
                    index: i,
                    image: None,
                    warnings,
                });
            }
            let img = match input::decode_page(&opened, r.page - 1) {
                Ok(img) => img,
                Err(e) => {
                    if r.status != Status::Rejected {
                        warnings.push(text(lang, "review_warning.cannot_decode", &[("error", &e)]));
                    }
                    return Ok(Entry {
                        index: i,
                        image: None,
                        warnings,
                    });
                }
            };
            let again = scan::read_page(&img, cfg);
            let form = cfg.forms.of(again.form.as_ref()).map(|(f, _)| f);
            let (drawn, crops) = match (&again.transform, form) {
                (Some(h), Some(form)) => {
                    warnings.extend(compare_readings(form, r, &again.questions, lang));
                    annotate(&img, h, form, &again.questions, &cfg.thresholds, lang)
                }
                _ => (plain(&img, r), Vec::new()),
            };
            let file = image_name(i);
            let bytes = encode_jpeg(&drawn)?;
            output::write_atomic(&out.join(&file), &bytes)?;
            Ok(Entry {
                index: i,
                image: Some(PageImage {
                    file,
                    width: drawn.width(),
                    height: drawn.height(),
                    crops,
                }),
                warnings,
            })
        })
        .collect()
}

/// A fresh record for re-reading a page (what `scan` starts each page with).
/// Questions whose answer, read again, differs from what `answers.csv` recorded.
fn compare_readings(
    form: &Form,
    recorded: &PageRecord,
    again: &[QuestionRead],
    lang: Lang,
) -> Vec<String> {
    if recorded.questions.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for q in &form.questions {
        let was = recorded.questions.iter().find(|x| x.question == q.id);
        let now = again.iter().find(|x| x.question == q.id);
        if let (Some(was), Some(now)) = (was, now) {
            if was.answer != now.answer {
                out.push(text(
                    lang,
                    "review_warning.reads_otherwise",
                    &[
                        ("question", &q.id),
                        ("now", &now.answer.to_text()),
                        ("was", &was.answer.to_text()),
                    ],
                ));
            }
        }
    }
    out
}

/// Whether `name` in `review/` is one `review` writes (`index.html`, an image `NNNN.jpg`, a
/// temporary file): replaced by the next run. Anything else there is the auditor's and is kept.
fn written_by_review(name: &str) -> bool {
    let image = name
        .strip_suffix(".jpg")
        .is_some_and(|stem| stem.len() >= 4 && stem.bytes().all(|b| b.is_ascii_digit()));
    image || name == "index.html" || name.starts_with(".tmp")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn record(status: Status, reasons: &[Reason], margin: Option<f64>) -> PageRecord {
        let mut r = PageRecord::new("x", 1);
        r.status = status;
        r.reasons = reasons.to_vec();
        r.min_margin = margin;
        r
    }

    #[test]
    fn most_doubtful_first_and_plainly_counted_left_out() {
        let records = vec![
            record(Status::Rejected, &[Reason::NoQr], None),
            record(Status::Counted, &[], Some(0.2)),
            record(Status::Review, &[Reason::PoorAlignment], Some(0.1)),
            record(Status::Duplicate, &[Reason::Duplicate], Some(0.3)),
            record(Status::Counted, &[Reason::MultiMark], Some(0.3)),
            record(Status::Review, &[Reason::AmbiguousMark], Some(0.0)),
            record(Status::Invalid, &[Reason::BlankBallot], Some(0.02)),
            record(Status::Review, &[Reason::UnknownUnit], None),
        ];
        assert_eq!(review_order(&records), vec![5, 2, 7, 6, 3, 0, 4]);
    }

    #[test]
    fn image_names_follow_the_ballots_csv_row() {
        assert_eq!(image_name(6), "0007.jpg");
        assert_eq!(image_name(12344), "12345.jpg");
    }
}
