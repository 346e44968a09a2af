//! The `review` command: what an auditor needs to judge the ballots a scan flagged, written to
//! `DIR/review/` — one annotated image per flagged page and one self-contained `index.html`
//! ([`page`]) where the auditor records decisions and exports them as `decisions.csv`, the file
//! [`crate::audit::load_decisions`] reads back.
//!
//! This module owns choosing and ordering the flagged pages and drawing their images. The
//! images are drawn from the very pipeline the scan decided with: each page is read again by
//! [`scan::read_page`] (deterministic, with the forms, units and thresholds saved in
//! `scan.json`), and the box rectangles it found, their states and the page transform are
//! drawn as they are, their fill scores passed to the page with each crop — detection is
//! never re-implemented here. If the page now
//! reads differently from what `answers.csv` recorded (the file was replaced, say), the page
//! says so instead of quietly showing something else.

mod keyed;
pub mod page;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use image::{GrayImage, Rgb, RgbImage};
use rayon::prelude::*;

use crate::audit;
use crate::ballot::{Answer, QuestionRead, Status};
use crate::draw;
use crate::fonts::Weight;
use crate::form::Form;
use crate::geometry::{Homography, PointMm, RectMm, MM_PER_INCH};
use crate::input;
use crate::layout::{PAGE_H, PAGE_W};
use crate::marks::{self, MarkState, Thresholds};
use crate::output;
use crate::reason::Reason;
use crate::report::ScanSettings;
use crate::scan::{self, PageRecord};

/// Resolution of the annotated images. At 100 DPI a 7 mm box is 28 px — enough to judge a
/// pencil stroke — and a page is about 100–200 kB as JPEG, so 2,000 flagged ballots stay a
/// folder that can be copied to an auditor's laptop.
pub const REVIEW_DPI: f64 = 100.0;
/// Width of the strip added right of the page, where each question's reading is written:
/// the page's own right margin (about 10 mm beyond the last box) is too narrow for `REVIEW`.
pub const ANSWER_STRIP_MM: f64 = 30.0;
/// JPEG quality of the images: marks and box borders stay crisp, a page stays small.
const JPEG_QUALITY: u8 = 80;
/// Each output pixel averages `SUPERSAMPLE`² samples of the scan: a 300 DPI scan shrunk to
/// 100 DPI by point sampling would drop thin pencil lines.
const SUPERSAMPLE: usize = 2;

/// The colours of a box's state, as the auditor's page explains them.
pub const MARKED: Rgb<u8> = Rgb([0, 150, 60]);
pub const AMBIGUOUS: Rgb<u8> = Rgb([235, 110, 0]);
pub const EMPTY: Rgb<u8> = Rgb([140, 140, 140]);
const OVER_MARKED: Rgb<u8> = Rgb([210, 30, 30]);
const STRIP: Rgb<u8> = Rgb([242, 242, 242]);

/// Part of an annotated image showing one question's boxes (pixels of that image).
#[derive(Clone, Debug, PartialEq)]
pub struct Crop {
    pub question: String,
    pub x: u32,
    pub y: u32,
    pub w: u32,
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
    pub option: String,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub fill: marks::Fill,
    pub state: MarkState,
}

/// An image written for one flagged page.
#[derive(Clone, Debug, PartialEq)]
pub struct PageImage {
    /// File name inside `review/`.
    pub file: String,
    pub width: u32,
    pub height: u32,
    /// One per question whose boxes were found (empty for pages without a transform).
    pub crops: Vec<Crop>,
}

/// One flagged page as the review page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Index of the page in `ballots.csv` (0-based; the page shows it 1-based as "row").
    pub index: usize,
    pub image: Option<PageImage>,
    /// Things the auditor must know about the image itself (file changed since the scan…).
    pub warnings: Vec<String>,
}

/// What `review` did, for the command's message.
#[derive(Clone, Debug)]
pub struct Summary {
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
pub fn row_number(index: usize) -> usize {
    index + 1
}

/// `0007.jpg` for the 7th page of `ballots.csv`.
pub fn image_name(index: usize) -> String {
    format!("{:04}.jpg", row_number(index))
}

/// A page an auditor must look at: anything not plainly counted, and counted ballots that
/// carry a reason (an over-marked question that was not counted, say).
pub fn is_flagged(r: &PageRecord) -> bool {
    r.status != Status::Counted || !r.reasons.is_empty()
}

/// The flagged pages, most doubtful first: `review` by `min_margin` ascending (the closest
/// calls first), then `invalid`, `duplicate`, `rejected`, and last the counted ballots with a
/// note; ties in `ballots.csv` order.
pub fn review_order(records: &[PageRecord]) -> Vec<usize> {
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
pub fn run(dir: &Path, lang: Option<crate::i18n::Lang>) -> anyhow::Result<Summary> {
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
    let records = audit::load_scan(dir)?;
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
            format!(
                "cannot write {}: is the folder writable?",
                dir.join("review").display()
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
        .map(|(source, pages)| review_file(source, pages, &records, &cfg, &out))
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
                        vec![format!(
                            "cannot open the scan now ({e}): run `ballotscan review` from the folder `scan` was run in, with the scans where they were"
                        )]
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
                warnings.push(
                    "the file has changed since the scan (its content hash differs): this image may not be the page that was counted".to_string(),
                );
            }
            if r.page == 0 || r.page > opened.pages {
                if !no_image_expected(i) {
                    warnings.push(format!(
                        "the file now has {} page(s), not page {}",
                        opened.pages, r.page
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
                        warnings.push(format!("cannot decode the page now: {e}"));
                    }
                    return Ok(Entry {
                        index: i,
                        image: None,
                        warnings,
                    });
                }
            };
            let mut again = blank_record(r);
            scan::read_page(&img, cfg, &mut again);
            let (drawn, crops) = match (&again.transform, form_of(cfg, &again)) {
                (Some(h), Some(form)) => {
                    warnings.extend(compare_readings(form, r, &again.questions));
                    annotate(&img, h, form, &again.questions, &cfg.thresholds)
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
fn blank_record(r: &PageRecord) -> PageRecord {
    let mut fresh = PageRecord::new(&r.source, r.page);
    fresh.file_sha256 = r.file_sha256.clone();
    fresh
}

fn form_of<'a>(cfg: &'a scan::Config, r: &PageRecord) -> Option<&'a Form> {
    cfg.forms.of(r.form.as_ref()).map(|(f, _)| f)
}

/// Questions whose answer, read again, differs from what `answers.csv` recorded.
fn compare_readings(form: &Form, recorded: &PageRecord, again: &[QuestionRead]) -> Vec<String> {
    if recorded.questions.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for q in &form.questions {
        let was = recorded.questions.iter().find(|x| x.question == q.id);
        let now = again.iter().find(|x| x.question == q.id);
        if let (Some(was), Some(now)) = (was, now) {
            if was.answer != now.answer {
                out.push(format!(
                    "question {} now reads {} where the scan recorded {}: the file or the settings changed since the scan",
                    q.id,
                    now.answer.to_text(),
                    was.answer.to_text()
                ));
            }
        }
    }
    out
}

fn px_per_mm() -> f64 {
    REVIEW_DPI / MM_PER_INCH
}

/// The upright page, sampled from the scan through the page transform, with every box
/// outlined in its state's colour and each question's reading in a strip right of the page.
/// Returns the image and one crop per question: its boxes' columns, with each box's place,
/// fill score and state, which the review page writes under the box (the option's label, and
/// on demand the score) rather than into the image.
pub fn annotate(
    img: &GrayImage,
    h: &Homography,
    form: &Form,
    questions: &[QuestionRead],
    thresholds: &Thresholds,
) -> (RgbImage, Vec<Crop>) {
    let s = px_per_mm();
    let (pw, ph) = ((PAGE_W * s).round() as u32, (PAGE_H * s).round() as u32);
    let strip = (ANSWER_STRIP_MM * s).round() as u32;
    let mut out = RgbImage::from_pixel(pw + strip, ph, STRIP);
    let n = SUPERSAMPLE;
    let rows: Vec<Vec<u8>> = (0..ph)
        .into_par_iter()
        .map(|y| {
            (0..pw)
                .map(|x| {
                    let mut sum = 0.0f32;
                    for sy in 0..n {
                        for sx in 0..n {
                            let p = PointMm::new(
                                (x as f64 + (sx as f64 + 0.5) / n as f64) / s,
                                (y as f64 + (sy as f64 + 0.5) / n as f64) / s,
                            );
                            let q = h.map(p);
                            sum += marks::bilinear(img, q.x, q.y);
                        }
                    }
                    (sum / (n * n) as f32).round().clamp(0.0, 255.0) as u8
                })
                .collect()
        })
        .collect();
    for (y, row) in rows.iter().enumerate() {
        for (x, v) in row.iter().enumerate() {
            out.put_pixel(x as u32, y as u32, Rgb([*v, *v, *v]));
        }
    }

    let answer_px = 3.6 * s;
    let mut crops = Vec::new();
    for q in &form.questions {
        let Some(read) = questions.iter().find(|x| x.question == q.id) else {
            continue;
        };
        let found: Vec<PxRect> = read
            .boxes
            .iter()
            .map(|b| PxRect::from_mm(&b.score.found, s))
            .collect();
        let Some(mut bounds) = found.iter().map(|r| r.grow(3.0)).reduce(PxRect::union) else {
            continue;
        };
        for (b, r) in read.boxes.iter().zip(&found) {
            // Outside the found edge, so the printed border and the mark stay visible. The
            // score and the option's label are the page's to write (HTML, under the crop).
            stroke(&mut out, r.grow(3.0), 2.0, state_colour(b.state));
        }
        // Each option's column, so the page has the room to write its label under its box.
        let centres: Vec<f64> = found.iter().map(|r| (r.x0 + r.x1) / 2.0).collect();
        let half_column = centres
            .windows(2)
            .map(|w| (w[1] - w[0]).abs() / 2.0)
            .reduce(f64::min);
        if let (Some(half), Some(first), Some(last)) =
            (half_column, centres.first(), centres.last())
        {
            bounds.x0 = bounds.x0.min(first.min(*last) - half);
            bounds.x1 = bounds.x1.max(first.max(*last) + half);
        }
        let pad = 1.5 * s;
        let c = bounds.grow(pad).clamp(pw as f64, ph as f64);
        let (cx, cy) = (c.x0.floor(), c.y0.floor());
        crops.push(Crop {
            question: q.id.clone(),
            x: cx as u32,
            y: cy as u32,
            w: (c.x1 - cx).ceil() as u32,
            h: (c.y1 - cy).ceil() as u32,
            boxes: read
                .boxes
                .iter()
                .zip(&found)
                .map(|(b, r)| CropBox {
                    option: b.option.clone(),
                    x: (r.x0 - cx).round().max(0.0) as u32,
                    y: (r.y0 - cy).round().max(0.0) as u32,
                    w: (r.x1 - r.x0).round() as u32,
                    h: (r.y1 - r.y0).round() as u32,
                    fill: b.score.fill,
                    state: b.state,
                })
                .collect(),
        });
        // The reading, in the strip at the row's height.
        let (text, colour) = answer_text(&read.answer, read.review_reason);
        let mid = (bounds.y0 + bounds.y1) / 2.0;
        let room = strip as f64 - 8.0;
        let size = fit_size(&text, answer_px, room, Weight::Bold);
        draw_text(
            &mut out,
            pw as f64 + 4.0,
            mid + size * 0.35,
            size,
            Weight::Bold,
            colour,
            &text,
        );
    }
    // A thin rule between page and strip, and the thresholds used, at the strip's top.
    for y in 0..ph {
        out.put_pixel(pw, y, Rgb([200, 200, 200]));
    }
    let score_px = 2.6 * s; // about 7.5 pt: readable at 100 DPI
    let legend = [
        (format!("marked ≥ {:.3}", thresholds.marked), MARKED),
        (format!("empty ≤ {:.3}", thresholds.empty), EMPTY),
    ];
    for (k, (text, colour)) in legend.iter().enumerate() {
        let size = fit_size(text, score_px, strip as f64 - 8.0, Weight::Regular);
        draw_text(
            &mut out,
            pw as f64 + 4.0,
            (6.0 + 4.0 * k as f64) * s,
            size,
            Weight::Regular,
            *colour,
            text,
        );
    }
    (out, crops)
}

fn state_colour(state: MarkState) -> Rgb<u8> {
    match state {
        MarkState::Marked => MARKED,
        MarkState::Ambiguous => AMBIGUOUS,
        MarkState::Empty => EMPTY,
    }
}

fn answer_text(a: &Answer, review_reason: Option<Reason>) -> (String, Rgb<u8>) {
    match a {
        Answer::Chosen(ids) => (format!("→ {}", ids.join(";")), MARKED),
        Answer::Blank => ("BLANK".into(), EMPTY),
        Answer::Multi => ("MULTI".into(), OVER_MARKED),
        Answer::Review => match review_reason {
            Some(Reason::PossibleCorrection) => ("REVIEW (fix?)".into(), AMBIGUOUS),
            _ => ("REVIEW".into(), AMBIGUOUS),
        },
        // Writing areas have no boxes to draw beside (annotate skips them).
        Answer::Written => ("WRITTEN".into(), MARKED),
        Answer::Empty => ("EMPTY".into(), EMPTY),
        Answer::Unreadable => ("UNREADABLE".into(), AMBIGUOUS),
    }
}

/// A page that was not aligned (no QR code, a decode error…): the scan itself, shrunk to
/// about [`REVIEW_DPI`] (assuming the page fills the image along its long side, as a scan
/// does), under a banner with the status, reasons and detail.
pub fn plain(img: &GrayImage, r: &PageRecord) -> RgbImage {
    let (w, h) = img.dimensions();
    let target = (PAGE_H * px_per_mm()).round();
    let scale = (target / w.max(h).max(1) as f64).min(1.0);
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    );
    let small = if (nw, nh) == (w, h) {
        img.clone()
    } else {
        image::imageops::resize(img, nw, nh, image::imageops::FilterType::Triangle)
    };
    let width = nw.max(400);
    let head_px = 16.0;
    let body_px = 12.0;
    let mut lines = vec![(
        format!("{}: {}", r.status.as_str(), Reason::join(&r.reasons, "; ")),
        head_px,
        Weight::Bold,
        OVER_MARKED,
    )];
    let detail = draw::wrap(r.detail.split_whitespace(), width as f64 - 16.0, |l| {
        draw::text_width(l, body_px, Weight::Regular)
    });
    for l in detail {
        lines.push((l, body_px, Weight::Regular, Rgb([40, 40, 40])));
    }
    let banner: f64 = 8.0 + lines.iter().map(|(_, px, _, _)| px * 1.3).sum::<f64>();
    let banner = banner.ceil() as u32;
    let mut out = RgbImage::from_pixel(width, nh + banner, Rgb([255, 244, 230]));
    for (y, row) in small.rows().enumerate() {
        for (x, p) in row.enumerate() {
            let v = p.0[0];
            out.put_pixel(x as u32, banner + y as u32, Rgb([v, v, v]));
        }
    }
    let mut y = 4.0;
    for (text, px, weight, colour) in &lines {
        y += px * 1.3;
        draw_text(&mut out, 8.0, y - px * 0.3, *px, *weight, *colour, text);
    }
    for x in 0..width {
        out.put_pixel(x, banner.saturating_sub(1), OVER_MARKED);
    }
    out
}

fn encode_jpeg(img: &RgbImage) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .context("cannot encode a review image as JPEG")?;
    Ok(bytes)
}

/// Whether `name` in `review/` is one `review` writes (`index.html`, an image `NNNN.jpg`, a
/// temporary file): replaced by the next run. Anything else there is the auditor's and is kept.
fn written_by_review(name: &str) -> bool {
    let image = name
        .strip_suffix(".jpg")
        .is_some_and(|stem| stem.len() >= 4 && stem.bytes().all(|b| b.is_ascii_digit()));
    image || name == "index.html" || name.starts_with(".tmp")
}

/// A rectangle in image pixels (edges, not pixel centres).
#[derive(Clone, Copy, Debug, PartialEq)]
struct PxRect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl PxRect {
    fn from_mm(r: &RectMm, s: f64) -> PxRect {
        PxRect {
            x0: r.x * s,
            y0: r.y * s,
            x1: r.right() * s,
            y1: r.bottom() * s,
        }
    }

    fn grow(self, d: f64) -> PxRect {
        PxRect {
            x0: self.x0 - d,
            y0: self.y0 - d,
            x1: self.x1 + d,
            y1: self.y1 + d,
        }
    }

    fn union(self, o: PxRect) -> PxRect {
        PxRect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    fn clamp(self, w: f64, h: f64) -> PxRect {
        PxRect {
            x0: self.x0.clamp(0.0, w),
            y0: self.y0.clamp(0.0, h),
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
        }
    }
}

/// Draws the outline of `r`, `thickness` pixels wide inwards from its edges.
fn stroke(img: &mut RgbImage, r: PxRect, thickness: f64, colour: Rgb<u8>) {
    let (x0, y0) = (r.x0.round() as i64, r.y0.round() as i64);
    let (x1, y1) = (r.x1.round() as i64, r.y1.round() as i64);
    let t = thickness.round().max(1.0) as i64;
    for y in y0..y1 {
        for x in x0..x1 {
            let edge = x < x0 + t || x >= x1 - t || y < y0 + t || y >= y1 - t;
            if edge {
                draw::blend(img, x, y, colour, 1.0);
            }
        }
    }
}

/// The size at most `px` at which `text` fits in `room` pixels (never below 60 % of `px`;
/// longer texts are cut by the image edge rather than made unreadable).
fn fit_size(text: &str, px: f64, room: f64, weight: Weight) -> f64 {
    let w = draw::text_width(text, px, weight);
    if w <= room || w <= 0.0 {
        px
    } else {
        (px * room / w).max(px * 0.6)
    }
}

/// Draws one line of text with its baseline at `baseline` (the embedded DejaVu Sans, as the
/// ballots are printed with); returns the pixels it covers.
fn draw_text(
    img: &mut RgbImage,
    x: f64,
    baseline: f64,
    px: f64,
    weight: Weight,
    colour: Rgb<u8>,
    text: &str,
) -> PxRect {
    let end = draw::text(img, x, baseline, px, weight, colour, text);
    let (ascent, descent) = draw::vertical_metrics(px, weight);
    PxRect {
        x0: x,
        y0: baseline - ascent,
        x1: end,
        y1: baseline - descent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
