//! Automatic layout of a form onto an A4 page, in millimetres from the top-left corner.
//!
//! The layout is the single source of truth for where things are: the renderers draw from it,
//! `layout.json` publishes it, and the scanner looks for fiducials, the QR code and checkboxes
//! where it says. A form that does not fit is an error naming the question, never an overlap.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::fonts::{self, Weight, MM_PER_PT};
use crate::form::{Form, FormError, Question};
use crate::geometry::{PointMm, RectMm};

pub const PAGE_W: f64 = 210.0;
pub const PAGE_H: f64 = 297.0;
/// Most office printers cannot print closer than this to the edge.
pub const PRINT_MARGIN: f64 = 5.0;

/// Fiducials are solid discs: nothing else on the page is a filled circle, so they cannot be
/// confused with a checkbox (hollow square) or a QR finder pattern (nested squares).
pub const FIDUCIAL_DIAMETER: f64 = 6.0;
/// Disc centres sit this far from the page edges.
const FIDUCIAL_INSET: f64 = 11.0;

/// QR symbol: version 5 (37 modules) at error-correction level M, always, so its size and
/// place are the same on every ballot. 0.82 mm modules keep it above the 0.8 mm that cheap
/// printers and 150 DPI scans still resolve; 37 × 0.82 mm ≈ 30 mm.
pub const QR_VERSION: i16 = 5;
pub const QR_MODULES: usize = 37;
pub const QR_MODULE_MM: f64 = 0.82;
/// The QR standard asks for four modules of white around the symbol.
pub const QR_QUIET_MODULES: f64 = 4.0;
const QR_TOP: f64 = 19.0;
const QR_RIGHT: f64 = 196.0;
const QR_SIDE: f64 = QR_MODULES as f64 * QR_MODULE_MM;
/// Where the QR symbol is on every form: the scanner finds it there before it knows the form.
pub const QR_SYMBOL: RectMm = RectMm::new(QR_RIGHT - QR_SIDE, QR_TOP, QR_SIDE, QR_SIDE);

/// Fiducial centres, clockwise from top-left (TL, TR, BR, BL); the same on every form.
pub const FIDUCIALS: [PointMm; 4] = [
    PointMm::new(FIDUCIAL_INSET, FIDUCIAL_INSET),
    PointMm::new(PAGE_W - FIDUCIAL_INSET, FIDUCIAL_INSET),
    PointMm::new(PAGE_W - FIDUCIAL_INSET, PAGE_H - FIDUCIAL_INSET),
    PointMm::new(FIDUCIAL_INSET, PAGE_H - FIDUCIAL_INSET),
];

/// Checkboxes: 7 mm squares with a 0.4 mm printed border (issue: at least 5 mm).
pub const BOX_SIZE: f64 = 7.0;
pub const BOX_BORDER: f64 = 0.4;

const CONTENT_LEFT: f64 = 10.0;
const CONTENT_RIGHT: f64 = 200.0;
/// Content must end above the bottom fiducials.
const CONTENT_BOTTOM: f64 = PAGE_H - FIDUCIAL_INSET - FIDUCIAL_DIAMETER / 2.0 - 3.0;
const HEADER_LEFT: f64 = 18.0;

const TITLE_PT: f64 = 12.0;
const BODY_PT: f64 = 10.5;
const LABEL_PT: f64 = 8.0;
const ID_PT: f64 = 7.0;
const LINE_SPACING: f64 = 1.25;
/// Each option column is at most this wide; the question text gets the rest.
const MAX_OPTION_COL: f64 = 23.0;
const MIN_QUESTION_COL: f64 = 70.0;

/// One line of text, placed by its baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextLine {
    pub x: f64,
    pub baseline: f64,
    pub size_pt: f64,
    pub weight: Weight,
    pub text: String,
    /// The line's box (ascent to descent), for overlap checks.
    pub bounds: RectMm,
}

/// What the renderers draw. Borders are filled rectangles, not strokes, so the PDF and the PNG
/// agree to the hair and the scanner's idea of "inside the border" is exact.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Fill(RectMm),
    Disc { center: PointMm, radius: f64 },
    Text(TextLine),
}

impl Shape {
    pub fn bounds(&self) -> RectMm {
        match self {
            Shape::Fill(r) => *r,
            Shape::Disc { center, radius } => RectMm::new(
                center.x - radius,
                center.y - radius,
                2.0 * radius,
                2.0 * radius,
            ),
            Shape::Text(t) => t.bounds,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Checkbox {
    pub question: String,
    pub option: String,
    /// Outer edge of the printed border.
    pub rect: RectMm,
}

/// A laid-out form. Per-ballot content (QR, serial, unit name) goes into the reserved places.
#[derive(Clone, Debug)]
pub struct Layout {
    pub form_id: String,
    pub form_version: u32,
    /// Centres, clockwise from top-left: TL, TR, BR, BL.
    pub fiducials: [PointMm; 4],
    /// The QR symbol itself (without its quiet zone).
    pub qr: RectMm,
    pub checkboxes: Vec<Checkbox>,
    /// Title, instructions, table headers, question texts, box borders and fiducials.
    pub shapes: Vec<Shape>,
    /// Where the unit's name is printed on each ballot.
    unit_line: RectMm,
}

impl Layout {
    pub fn new(form: &Form) -> Result<Layout, FormError> {
        let fail = |line: usize, message: String| FormError {
            file: format!("form {} v{}", form.id, form.version),
            line,
            message,
        };
        let mut shapes = Vec::new();
        let fiducials = FIDUCIALS;
        for c in fiducials {
            shapes.push(Shape::Disc {
                center: c,
                radius: FIDUCIAL_DIAMETER / 2.0,
            });
        }
        let qr = QR_SYMBOL;
        let quiet = QR_QUIET_MODULES * QR_MODULE_MM;
        let header_right = qr.x - quiet - 1.0;
        let header_w = header_right - HEADER_LEFT;

        // Header: title, instructions, unit line — left of the QR code.
        let mut y = 9.0;
        for (text, pt, weight) in [
            (form.title.as_str(), TITLE_PT, Weight::Bold),
            (form.instructions.as_str(), BODY_PT, Weight::Regular),
        ] {
            if let Some(c) = fonts::missing_glyph(text, weight) {
                return Err(fail(
                    0,
                    format!("the font has no glyph for {c:?} in {text:?}"),
                ));
            }
            let lines = fonts::wrap(text, pt, weight, header_w).map_err(|w| {
                fail(
                    0,
                    format!("the word {w:?} is wider than the header ({header_w:.0} mm)"),
                )
            })?;
            for l in lines {
                let t = text_line(HEADER_LEFT, y, pt, weight, l);
                y = t.bounds.bottom() + pt * MM_PER_PT * (LINE_SPACING - 1.0);
                shapes.push(Shape::Text(t));
            }
            y += 1.5;
        }
        let unit_line = RectMm::new(HEADER_LEFT, y, header_w, BODY_PT * MM_PER_PT * LINE_SPACING);
        let id_bottom = qr.bottom() + 3.0 * ID_PT * MM_PER_PT * LINE_SPACING + 2.0;
        y = unit_line.bottom().max(id_bottom) + 4.0;

        // Questions: consecutive questions with the same option labels share a table header.
        let mut checkboxes = Vec::new();
        let mut prev_labels: Option<Vec<&str>> = None;
        for (qi, q) in form.questions.iter().enumerate() {
            let labels: Vec<&str> = q.options.iter().map(|o| o.label.as_str()).collect();
            let n = labels.len() as f64;
            let col_w = MAX_OPTION_COL.min((CONTENT_RIGHT - CONTENT_LEFT - MIN_QUESTION_COL) / n);
            let options_left = CONTENT_RIGHT - n * col_w;
            if prev_labels.as_ref() != Some(&labels) {
                y += 2.0;
                let mut header_bottom = y;
                for (i, label) in labels.iter().enumerate() {
                    let lines = fonts::wrap(label, LABEL_PT, Weight::Bold, col_w - 1.0)
                        .map_err(|w| too_wide(&fail, q, &w, col_w - 1.0))?;
                    let mut ly = y;
                    for l in lines {
                        let w = fonts::text_width_mm(&l, LABEL_PT, Weight::Bold);
                        let x = options_left + i as f64 * col_w + (col_w - w) / 2.0;
                        let t = text_line(x, ly, LABEL_PT, Weight::Bold, l);
                        ly = t.bounds.bottom();
                        shapes.push(Shape::Text(t));
                    }
                    header_bottom = header_bottom.max(ly);
                }
                y = header_bottom + 1.5;
                prev_labels = Some(labels);
            }
            let missing = std::iter::once(q.text.as_str())
                .chain(q.options.iter().map(|o| o.label.as_str()))
                .find_map(|t| fonts::missing_glyph(t, Weight::Regular));
            if let Some(c) = missing {
                return Err(fail(
                    q.line,
                    format!("the font has no glyph for {c:?} in question {:?}", q.id),
                ));
            }
            let text_w = options_left - CONTENT_LEFT - 3.0;
            let numbered = format!("{}. {}", qi + 1, q.text);
            let lines = fonts::wrap(&numbered, BODY_PT, Weight::Regular, text_w)
                .map_err(|w| too_wide(&fail, q, &w, text_w))?;
            let line_h = BODY_PT * MM_PER_PT * LINE_SPACING;
            let text_h = lines.len() as f64 * line_h;
            let row_h = (text_h + 5.0).max(BOX_SIZE + 8.0);
            if y + row_h > CONTENT_BOTTOM {
                return Err(fail(
                    q.line,
                    format!(
                        "question {:?} does not fit on the page (it would end {:.0} mm below the printable area): shorten the texts or split the form",
                        q.id,
                        y + row_h - CONTENT_BOTTOM
                    ),
                ));
            }
            let mut ty = y + (row_h - text_h) / 2.0;
            for l in lines {
                let t = text_line(CONTENT_LEFT, ty, BODY_PT, Weight::Regular, l);
                ty += line_h;
                shapes.push(Shape::Text(t));
            }
            let box_y = y + (row_h - BOX_SIZE) / 2.0;
            for (i, o) in q.options.iter().enumerate() {
                let bx = options_left + i as f64 * col_w + (col_w - BOX_SIZE) / 2.0;
                let rect = RectMm::new(bx, box_y, BOX_SIZE, BOX_SIZE);
                shapes.extend(box_border(rect).map(Shape::Fill));
                checkboxes.push(Checkbox {
                    question: q.id.clone(),
                    option: o.id.clone(),
                    rect,
                });
            }
            y += row_h;
        }
        Ok(Layout {
            form_id: form.id.clone(),
            form_version: form.version,
            fiducials,
            qr,
            checkboxes,
            shapes,
            unit_line,
        })
    }

    pub fn qr_module_rect(&self, col: usize, row: usize) -> RectMm {
        RectMm::new(
            self.qr.x + col as f64 * QR_MODULE_MM,
            self.qr.y + row as f64 * QR_MODULE_MM,
            QR_MODULE_MM,
            QR_MODULE_MM,
        )
    }

    /// The QR symbol with its quiet zone: nothing else may be printed there.
    pub fn qr_with_quiet_zone(&self) -> RectMm {
        self.qr.inset(-QR_QUIET_MODULES * QR_MODULE_MM)
    }

    /// The unit name line of one ballot, shrunk to fit its reserved place.
    pub fn unit_text(&self, text: &str) -> Option<TextLine> {
        let pt = fit_size(text, BODY_PT, 6.0, Weight::Bold, self.unit_line.w)?;
        Some(text_line(
            self.unit_line.x,
            self.unit_line.y,
            pt,
            Weight::Bold,
            text.to_string(),
        ))
    }

    /// The human-readable identifier under the QR code, centred, one text per line.
    pub fn id_text(&self, lines: &[String]) -> Option<Vec<TextLine>> {
        let width = self.qr_with_quiet_zone().w;
        let cx = self.qr.center().x;
        let mut y = self.qr.bottom() + 2.0;
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let weight = if i == 0 {
                Weight::Bold
            } else {
                Weight::Regular
            };
            let pt = fit_size(l, ID_PT, 5.0, weight, width)?;
            let w = fonts::text_width_mm(l, pt, weight);
            let t = text_line(cx - w / 2.0, y, pt, weight, l.clone());
            y = t.bounds.bottom() + 0.3;
            out.push(t);
        }
        Some(out)
    }

    pub fn checkbox(&self, question: &str, option: &str) -> Option<&Checkbox> {
        self.checkboxes
            .iter()
            .find(|c| c.question == question && c.option == option)
    }

    /// The published `layout.json` (format documented in the README).
    pub fn to_json(&self) -> serde_json::Value {
        let mut boxes: BTreeMap<&str, BTreeMap<&str, RectMm>> = BTreeMap::new();
        for c in &self.checkboxes {
            boxes
                .entry(&c.question)
                .or_default()
                .insert(&c.option, c.rect);
        }
        serde_json::json!({
            "format": "ballotscan-layout/1",
            "units": "mm",
            "origin": "top-left",
            "form": self.form_id,
            "version": self.form_version,
            "page": { "width": PAGE_W, "height": PAGE_H },
            "fiducials": self.fiducials.iter().map(|c| serde_json::json!({
                "x": c.x, "y": c.y, "diameter": FIDUCIAL_DIAMETER
            })).collect::<Vec<_>>(),
            "qr": {
                "x": self.qr.x, "y": self.qr.y, "w": self.qr.w, "h": self.qr.h,
                "modules": QR_MODULES, "module": QR_MODULE_MM,
                "quiet_zone": QR_QUIET_MODULES * QR_MODULE_MM,
            },
            "checkbox_border": BOX_BORDER,
            "checkboxes": boxes,
        })
    }
}

fn too_wide(
    fail: &impl Fn(usize, String) -> FormError,
    q: &Question,
    word: &str,
    width: f64,
) -> FormError {
    fail(
        q.line,
        format!(
            "text too long to fit: the word {word:?} in question {:?} is wider than its {width:.1} mm column; shorten it or use fewer options",
            q.id
        ),
    )
}

/// The four border strips of a checkbox, inside its outer rectangle.
pub fn box_border(r: RectMm) -> [RectMm; 4] {
    let b = BOX_BORDER;
    [
        RectMm::new(r.x, r.y, r.w, b),
        RectMm::new(r.x, r.bottom() - b, r.w, b),
        RectMm::new(r.x, r.y + b, b, r.h - 2.0 * b),
        RectMm::new(r.right() - b, r.y + b, b, r.h - 2.0 * b),
    ]
}

/// A text line whose top (ascent line) is at `top`.
fn text_line(x: f64, top: f64, size_pt: f64, weight: Weight, text: String) -> TextLine {
    let ascent = fonts::ascent_mm(size_pt, weight);
    let descent = fonts::descent_mm(size_pt, weight);
    let w = fonts::text_width_mm(&text, size_pt, weight);
    TextLine {
        x,
        baseline: top + ascent,
        size_pt,
        weight,
        text,
        bounds: RectMm::new(x, top, w, ascent + descent),
    }
}

/// The largest size from `max_pt` down to `min_pt` (half-point steps) at which `text` fits.
fn fit_size(text: &str, max_pt: f64, min_pt: f64, weight: Weight, width: f64) -> Option<f64> {
    let mut pt = max_pt;
    while pt >= min_pt {
        if fonts::text_width_mm(text, pt, weight) <= width {
            return Some(pt);
        }
        pt -= 0.5;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_bounds(l: &Layout) -> Vec<RectMm> {
        let mut v: Vec<RectMm> = l.shapes.iter().map(Shape::bounds).collect();
        v.push(l.qr_with_quiet_zone());
        v
    }

    #[test]
    fn default_form_fits_without_overlaps_inside_the_margin() {
        let l = Layout::new(&Form::default_form()).expect("lays out");
        let printable = RectMm::new(
            PRINT_MARGIN,
            PRINT_MARGIN,
            PAGE_W - 2.0 * PRINT_MARGIN,
            PAGE_H - 2.0 * PRINT_MARGIN,
        );
        // Box borders are four touching strips; compare whole boxes instead.
        let mut items: Vec<RectMm> = all_bounds(&l)
            .into_iter()
            .filter(|r| !(r.w <= BOX_BORDER + 1e-9 || r.h <= BOX_BORDER + 1e-9))
            .collect();
        items.extend(l.checkboxes.iter().map(|c| c.rect));
        for (i, a) in items.iter().enumerate() {
            assert!(printable.contains(a), "{a:?} outside the printable area");
            for b in &items[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
            }
        }
        assert_eq!(l.checkboxes.len(), 7 * 5 + 2);
    }

    #[test]
    fn checkboxes_are_well_separated_from_each_other_and_text() {
        let l = Layout::new(&Form::default_form()).expect("lays out");
        let texts: Vec<RectMm> = l
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text(t) => Some(t.bounds),
                _ => None,
            })
            .collect();
        for (i, a) in l.checkboxes.iter().enumerate() {
            let grown = a.rect.inset(-2.0);
            for b in &l.checkboxes[i + 1..] {
                assert!(!grown.overlaps(&b.rect), "{a:?} too close to {b:?}");
            }
            for t in &texts {
                assert!(!grown.overlaps(t), "{a:?} too close to text {t:?}");
            }
        }
    }

    #[test]
    fn qr_is_large_enough() {
        let l = Layout::new(&Form::default_form()).expect("lays out");
        assert!(l.qr.w >= 25.0 && QR_MODULE_MM >= 0.8);
    }
}
