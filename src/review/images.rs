//! The review images: the upright page with every box outlined in its state's colour and
//! each question's reading beside it ([`annotate`]), or, for a page that was not aligned, the
//! scan under a banner saying why ([`plain`]); encoded as JPEG. Drawn with [`crate::draw`],
//! from the rectangles and states the scan decided with.

use anyhow::Context;
use image::{GrayImage, Rgb, RgbImage};
use rayon::prelude::*;

use super::{Crop, CropBox};
use crate::ballot::{Answer, QuestionRead};
use crate::draw::{self, PxRect};
use crate::fonts::Weight;
use crate::form::Form;
use crate::geometry::{Homography, PointMm, MM_PER_INCH};
use crate::i18n::{text, Lang};
use crate::layout::{PAGE_H, PAGE_W};
use crate::marks::{self, MarkState, Thresholds};
use crate::reason::Reason;
use crate::scan::PageRecord;

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
    lang: Lang,
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
            draw::outline(&mut out, r.grow(3.0), 2.0, state_colour(b.state));
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
        let size = draw::fit_size(&text, answer_px, room, Weight::Bold);
        draw::text_box(
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
    draw::fill_rect(&mut out, pw, 0, 1, ph, Rgb([200, 200, 200]));
    let score_px = 2.6 * s; // about 7.5 pt: readable at 100 DPI
                            // In the auditor's words, as the review page's own legend.
    let word = |key: &str| text(lang, key, &[]);
    let legend = [
        (
            format!(
                "{} ≥ {:.3}",
                word("review.legend_marked"),
                thresholds.marked
            ),
            MARKED,
        ),
        (
            format!("{} ≤ {:.3}", word("review.legend_empty"), thresholds.empty),
            EMPTY,
        ),
    ];
    for (k, (text, colour)) in legend.iter().enumerate() {
        let size = draw::fit_size(text, score_px, strip as f64 - 8.0, Weight::Regular);
        draw::text_box(
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
        draw::text_box(&mut out, 8.0, y - px * 0.3, *px, *weight, *colour, text);
    }
    draw::fill_rect(&mut out, 0, banner.saturating_sub(1), width, 1, OVER_MARKED);
    out
}

pub(super) fn encode_jpeg(img: &RgbImage) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .with_context(|| crate::i18n::Msg::new("review_warning.cannot_encode", &[]))?;
    Ok(bytes)
}
