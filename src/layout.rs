//! Automatic layout of a form onto an A4 page, in millimetres from the top-left corner.
//!
//! The layout is the single source of truth for where things are: the renderers draw from it,
//! `layout.json` publishes it, and the scanner looks for fiducials, the QR code and checkboxes
//! where it says. A form that does not fit is an error naming the question, never an overlap.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::fonts::{self, Weight, MM_PER_PT};
use crate::form::{Align, Form, FormError, Header, Question, UNIT_PLACEHOLDER};
use crate::geometry::{PointMm, RectMm};
use crate::i18n::Msg;

/// A4 width (mm).
pub const PAGE_W: f64 = 210.0;
/// A4 height (mm).
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
pub(crate) const QR_VERSION: i16 = 5;
pub(crate) const QR_MODULES: usize = 37;
pub(crate) const QR_MODULE_MM: f64 = 0.82;
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
pub(crate) const BOX_BORDER: f64 = 0.4;

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
/// Each option column is at most this wide; the question text gets the rest. Layout 2's
/// 20 mm holds "Rất không / hài lòng" in two lines and leaves the question text 90 mm beside
/// five columns; layout 1 keeps the 23 mm its ballots were printed with.
const MAX_OPTION_COL: [f64; 2] = [23.0, 20.0];
const MIN_QUESTION_COL: f64 = 70.0;
/// The rule that closes a table before a question with other headings.
const TABLE_RULE: f64 = 0.3;

/// Header block (an official paper's): the agency column's width, the motto's size, and the
/// underline under the agency's name and the motto.
const AGENCY_W: f64 = 62.0;
const HEADER_GAP: f64 = 3.0;
const HEADER_PT: f64 = 9.0;
const MIN_HEADER_PT: f64 = 6.5;
const UNDERLINE: f64 = 0.25;
/// The agency's underline is a short stroke, a third of the name's width, as the customary
/// format draws it; the motto's is as long as the motto.
const AGENCY_UNDERLINE_SHARE: f64 = 1.0 / 3.0;

/// A writing area's dotted ruling: lines this far apart (a handwritten line's height), dots
/// of this size at this pitch — the "......" of a paper form.
pub const RULE_PITCH: f64 = 8.0;
pub(crate) const RULE_DOT: f64 = 0.3;
const RULE_DOT_PITCH: f64 = 1.0;
/// Space above a writing area's label: the boxes of the question before it stay more than
/// the reader's first box search (6 mm) away from the ruling.
const TEXT_AREA_GAP: f64 = 5.0;
/// Space above the closing line.
const CLOSING_GAP: f64 = 5.0;

/// One line of text, placed by its baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextLine {
    /// Left edge (mm).
    pub x: f64,
    /// Where the letters stand (mm from the top).
    pub baseline: f64,
    /// Font size (points).
    pub size_pt: f64,
    /// Regular or bold.
    pub weight: Weight,
    /// The text itself.
    pub text: String,
    /// The line's box (ascent to descent), for overlap checks.
    pub bounds: RectMm,
}

/// What the renderers draw. Borders are filled rectangles, not strokes, so the PDF and the PNG
/// agree to the hair and the scanner's idea of "inside the border" is exact.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A filled rectangle: box borders, rules, underlines.
    Fill(RectMm),
    /// A filled disc: the fiducials.
    Disc {
        /// Its centre.
        center: PointMm,
        /// Its radius (mm).
        radius: f64,
    },
    /// A line of text.
    Text(TextLine),
}

impl Shape {
    /// The page area the shape covers (mm).
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

/// One printed answer box.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Checkbox {
    /// The question it answers.
    pub question: String,
    /// The option it stands for.
    pub option: String,
    /// Outer edge of the printed border.
    pub rect: RectMm,
}

/// A writing area (a `text` question): the citizen writes between its dotted rules.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextArea {
    /// The question it answers.
    pub question: String,
    /// The area read by the scanner and cut out as the comment's image.
    pub rect: RectMm,
    /// The y of each dotted rule's centre line (mm): the scanner masks them out.
    pub rules: Vec<f64>,
}

/// Where each ballot's unit name goes.
#[derive(Clone, Debug, PartialEq)]
pub enum UnitPlace {
    /// A line `Đơn vị: <name>` under the instructions (forms without a header).
    Labelled(RectMm),
    /// The agency's last line in the header, in capitals, centred at `center_x`, at most two
    /// lines of `width`, with the customary short underline.
    Agency {
        /// The middle of the agency column (mm from the left).
        center_x: f64,
        /// Where the name's first line starts (mm from the top).
        top: f64,
        /// The widest a line of the name may be (mm).
        width: f64,
    },
}

/// A laid-out form. Per-ballot content (QR, serial, unit name) goes into the reserved places.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The form's id.
    pub form_id: String,
    /// The form's version.
    pub form_version: u32,
    /// Centres, clockwise from top-left: TL, TR, BR, BL.
    pub fiducials: [PointMm; 4],
    /// The QR symbol itself (without its quiet zone).
    pub qr: RectMm,
    /// Every answer box, by question in print order.
    pub checkboxes: Vec<Checkbox>,
    /// Every writing area, in print order.
    pub text_areas: Vec<TextArea>,
    /// Each column heading's extent, by question and option (what the layout tests check
    /// stands over its own box).
    pub headings: Vec<(String, String, RectMm)>,
    /// Title, instructions, table headers, question texts, box borders and fiducials.
    pub shapes: Vec<Shape>,
    /// Where the unit's name is printed on each ballot.
    unit_place: UnitPlace,
}

/// A scan keeps each form with its layout; they are looked up by the form.
impl AsRef<Form> for (Form, Layout) {
    fn as_ref(&self) -> &Form {
        &self.0
    }
}

impl Layout {
    /// Lays a form out on the A4 page; refuses one that does not fit (the error names the
    /// question to shorten).
    pub fn new(form: &Form) -> Result<Layout, FormError> {
        let fail = |line: usize, message: Msg| FormError {
            file: format!("form {} v{}", form.id, form.version),
            line,
            message,
        };
        let glyphs = |text: &str, weight: Weight| -> Result<(), FormError> {
            match fonts::missing_glyph(text, weight) {
                Some(c) => Err(fail(
                    0,
                    Msg::new("layout_error.no_glyph", &[("char", &c), ("text", &text)]),
                )),
                None => Ok(()),
            }
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

        let mut y = 9.0;
        let mut unit_place = None;
        if let Some(h) = &form.header {
            for l in h.agency.iter().chain(&h.motto).chain([&h.form_number]) {
                glyphs(l, Weight::Bold)?;
            }
            let (header_shapes, place, bottom) = official_header(h, header_right)
                .map_err(|t| fail(0, Msg::new("layout_error.header_too_long", &[("line", &t)])))?;
            shapes.extend(header_shapes);
            unit_place = place;
            y = bottom + 3.0;
        }

        // Title and instructions, left of the QR code (centred there when asked).
        for (text, pt, weight) in [
            (form.title.as_str(), TITLE_PT, Weight::Bold),
            (form.instructions.as_str(), BODY_PT, Weight::Regular),
        ] {
            glyphs(text, weight)?;
            let lines = fonts::wrap(text, pt, weight, header_w).map_err(|w| {
                fail(
                    0,
                    Msg::new(
                        "layout_error.word_too_wide",
                        &[("word", &w), ("width", &format!("{header_w:.0}"))],
                    ),
                )
            })?;
            for l in lines {
                let x = match form.title_align {
                    Align::Left => HEADER_LEFT,
                    Align::Center => {
                        HEADER_LEFT + (header_w - fonts::text_width_mm(&l, pt, weight)) / 2.0
                    }
                };
                let t = text_line(x, y, pt, weight, l);
                y = t.bounds.bottom() + pt * MM_PER_PT * (LINE_SPACING - 1.0);
                shapes.push(Shape::Text(t));
            }
            y += 1.5;
        }
        let unit_place = match unit_place {
            Some(p) => p,
            None => {
                let rect =
                    RectMm::new(HEADER_LEFT, y, header_w, BODY_PT * MM_PER_PT * LINE_SPACING);
                y = rect.bottom();
                UnitPlace::Labelled(rect)
            }
        };
        let id_bottom = qr.bottom() + 3.0 * ID_PT * MM_PER_PT * LINE_SPACING + 2.0;
        y = y.max(id_bottom) + 4.0;

        // The closing line is placed last but its room is kept from the start.
        let closing_h = if form.closing.is_empty() {
            0.0
        } else {
            glyphs(&form.closing, Weight::Bold)?;
            CLOSING_GAP
                + (fonts::ascent_mm(BODY_PT, Weight::Bold)
                    + fonts::descent_mm(BODY_PT, Weight::Bold))
        };
        let bottom = CONTENT_BOTTOM - closing_h;

        // Questions: consecutive questions with the same option labels share a table header.
        let mut checkboxes = Vec::new();
        let mut text_areas = Vec::new();
        let mut headings = Vec::new();
        let mut prev_labels: Option<Vec<&str>> = None;
        let official = form.layout >= 2;
        let max_col = MAX_OPTION_COL[usize::from(official)];
        let line_h = BODY_PT * MM_PER_PT * LINE_SPACING;
        for (qi, q) in form.questions.iter().enumerate() {
            glyphs(&q.text, Weight::Regular)?;
            let numbered = format!("{}. {}", qi + 1, q.text);
            if !q.is_choice() {
                let text_w = CONTENT_RIGHT - CONTENT_LEFT;
                let lines = fonts::wrap(&numbered, BODY_PT, Weight::Bold, text_w)
                    .map_err(|w| too_wide(&fail, q, &w, text_w))?;
                let top = y + TEXT_AREA_GAP;
                // A millimetre under the label, whose diacritics stay out of the area.
                let area_top = top + lines.len() as f64 * line_h + 1.0;
                let rect = RectMm::new(CONTENT_LEFT, area_top, text_w, q.height_mm);
                if rect.bottom() > bottom {
                    return Err(fail(
                        q.line,
                        Msg::new(
                            "layout_error.area_does_not_fit",
                            &[
                                ("id", &q.id),
                                ("mm", &format!("{:.0}", rect.bottom() - bottom)),
                            ],
                        ),
                    ));
                }
                let mut ty = top;
                for l in lines {
                    let t = text_line(CONTENT_LEFT, ty, BODY_PT, Weight::Bold, l);
                    ty += line_h;
                    shapes.push(Shape::Text(t));
                }
                let mut rules = Vec::new();
                let mut ry = rect.y + RULE_PITCH;
                while ry <= rect.bottom() + 1e-9 {
                    rules.push(ry);
                    shapes.extend(dotted_rule(rect.x, rect.right(), ry));
                    ry += RULE_PITCH;
                }
                text_areas.push(TextArea {
                    question: q.id.clone(),
                    rect,
                    rules,
                });
                y = rect.bottom();
                prev_labels = None;
                continue;
            }
            let labels: Vec<&str> = q.options.iter().map(|o| o.label.as_str()).collect();
            let n = labels.len() as f64;
            let col_w = max_col.min((CONTENT_RIGHT - CONTENT_LEFT - MIN_QUESTION_COL) / n);
            let options_left = CONTENT_RIGHT - n * col_w;
            if prev_labels.as_ref() != Some(&labels) {
                // A new set of headings after a table: a rule across the page closes the
                // table above, so the new headings read as their own boxes', not as a row of
                // the columns above them.
                if official && prev_labels.is_some() {
                    y += 2.0;
                    shapes.push(Shape::Fill(RectMm::new(
                        CONTENT_LEFT,
                        y,
                        CONTENT_RIGHT - CONTENT_LEFT,
                        TABLE_RULE,
                    )));
                    y += TABLE_RULE + 1.0;
                }
                y += 2.0;
                let mut header_bottom = y;
                for (i, label) in labels.iter().enumerate() {
                    let wrap = if official {
                        fonts::wrap_balanced
                    } else {
                        fonts::wrap
                    };
                    let lines = wrap(label, LABEL_PT, Weight::Bold, col_w - 1.0)
                        .map_err(|w| too_wide(&fail, q, &w, col_w - 1.0))?;
                    let mut ly = y;
                    let mut widest: Option<RectMm> = None;
                    for l in lines {
                        let w = fonts::text_width_mm(&l, LABEL_PT, Weight::Bold);
                        let x = options_left + i as f64 * col_w + (col_w - w) / 2.0;
                        let t = text_line(x, ly, LABEL_PT, Weight::Bold, l);
                        ly = t.bounds.bottom();
                        widest = Some(widest.map_or(t.bounds, |r| union(&r, &t.bounds)));
                        shapes.push(Shape::Text(t));
                    }
                    if let Some(r) = widest {
                        headings.push((q.id.clone(), q.options[i].id.clone(), r));
                    }
                    header_bottom = header_bottom.max(ly);
                }
                y = header_bottom + 1.5;
                prev_labels = Some(labels);
            }
            for o in &q.options {
                glyphs(&o.label, Weight::Bold)?;
            }
            let text_w = options_left - CONTENT_LEFT - 3.0;
            let lines = fonts::wrap(&numbered, BODY_PT, Weight::Regular, text_w)
                .map_err(|w| too_wide(&fail, q, &w, text_w))?;
            let text_h = lines.len() as f64 * line_h;
            let row_h = (text_h + 5.0).max(BOX_SIZE + 8.0);
            if y + row_h > bottom {
                return Err(fail(
                    q.line,
                    Msg::new(
                        "layout_error.question_does_not_fit",
                        &[("id", &q.id), ("mm", &format!("{:.0}", y + row_h - bottom))],
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
        if !form.closing.is_empty() {
            let w = fonts::text_width_mm(&form.closing, BODY_PT, Weight::Bold);
            if w > CONTENT_RIGHT - CONTENT_LEFT {
                return Err(fail(
                    0,
                    Msg::new("layout_error.closing_too_long", &[("line", &form.closing)]),
                ));
            }
            let x = (PAGE_W - w) / 2.0;
            shapes.push(Shape::Text(text_line(
                x,
                y + CLOSING_GAP,
                BODY_PT,
                Weight::Bold,
                form.closing.clone(),
            )));
        }
        Ok(Layout {
            form_id: form.id.clone(),
            form_version: form.version,
            fiducials,
            qr,
            checkboxes,
            text_areas,
            headings,
            shapes,
            unit_place,
        })
    }

    /// Where one QR module (column, row) is printed on the page.
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

    /// The unit's name on one ballot, shrunk (and in the header wrapped) to fit its place.
    pub fn unit_shapes(&self, unit_name: &str) -> Option<Vec<Shape>> {
        match &self.unit_place {
            UnitPlace::Labelled(rect) => {
                let text = format!("Đơn vị: {unit_name}");
                let pt = fit_size(&text, BODY_PT, 6.0, Weight::Bold, rect.w)?;
                Some(vec![Shape::Text(text_line(
                    rect.x,
                    rect.y,
                    pt,
                    Weight::Bold,
                    text,
                ))])
            }
            UnitPlace::Agency {
                center_x,
                top,
                width,
            } => {
                let name = unit_name.to_uppercase();
                let lines = centred_lines(&name, *center_x, *top, *width, 2, Weight::Bold)?;
                let mut shapes: Vec<Shape> = Vec::new();
                let bottom = lines.iter().map(|t| t.bounds.bottom()).fold(*top, f64::max);
                let widest = lines.iter().map(|t| t.bounds.w).fold(0.0, f64::max);
                shapes.extend(lines.into_iter().map(Shape::Text));
                let w = widest * AGENCY_UNDERLINE_SHARE;
                shapes.push(Shape::Fill(RectMm::new(
                    center_x - w / 2.0,
                    bottom + 0.8,
                    w,
                    UNDERLINE,
                )));
                Some(shapes)
            }
        }
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

    /// The box of `option` in question `question`.
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
            "text_areas": self.text_areas.iter().map(|a| (a.question.clone(), a.rect)).collect::<BTreeMap<_, _>>(),
        })
    }
}

fn too_wide(
    fail: &impl Fn(usize, Msg) -> FormError,
    q: &Question,
    word: &str,
    width: f64,
) -> FormError {
    fail(
        q.line,
        Msg::new(
            "layout_error.option_word_too_wide",
            &[
                ("word", &word),
                ("id", &q.id),
                ("width", &format!("{width:.1}")),
            ],
        ),
    )
}

/// The official header: the form number at the top right, the agency column (the superior
/// body, then the unit) and the motto column (the state's name, the motto underlined), both
/// centred in their columns, left of the QR code. Returns the shapes, where the unit's name
/// goes (when the agency names it with `{unit}`), and the bottom of the block. `Err` names a
/// line that does not fit even at the smallest size.
fn official_header(h: &Header, right: f64) -> Result<(Vec<Shape>, Option<UnitPlace>, f64), String> {
    let mut shapes = Vec::new();
    let mut top = 9.0;
    if !h.form_number.is_empty() {
        let pt = LABEL_PT;
        let w = fonts::text_width_mm(&h.form_number, pt, Weight::Regular);
        // Above the motto, flush right, as the customary format places it.
        let t = text_line(right - w, 5.5, pt, Weight::Regular, h.form_number.clone());
        top = t.bounds.bottom() + 1.0;
        shapes.push(Shape::Text(t));
    }
    let agency_cx = HEADER_LEFT + AGENCY_W / 2.0;
    let motto_left = HEADER_LEFT + AGENCY_W + HEADER_GAP;
    let motto_w = right - motto_left;
    let motto_cx = motto_left + motto_w / 2.0;
    let mut unit_place = None;
    let mut y = top;
    let mut bottom = top;
    for (i, line) in h.agency.iter().enumerate() {
        let last = i + 1 == h.agency.len();
        let weight = if last { Weight::Bold } else { Weight::Regular };
        if line == UNIT_PLACEHOLDER {
            unit_place = Some(UnitPlace::Agency {
                center_x: agency_cx,
                top: y,
                width: AGENCY_W,
            });
            // Two lines of a long unit name, and the underline below them.
            y += 2.0 * HEADER_PT * MM_PER_PT * LINE_SPACING + 1.5;
            continue;
        }
        let upper = line.to_uppercase();
        let lines = centred_lines(&upper, agency_cx, y, AGENCY_W, 2, weight).ok_or(line.clone())?;
        y = lines.iter().map(|t| t.bounds.bottom()).fold(y, f64::max) + 0.5;
        if last {
            let widest = lines.iter().map(|t| t.bounds.w).fold(0.0, f64::max);
            let w = widest * AGENCY_UNDERLINE_SHARE;
            shapes.push(Shape::Fill(RectMm::new(
                agency_cx - w / 2.0,
                y + 0.3,
                w,
                UNDERLINE,
            )));
            y += 1.5;
        }
        shapes.extend(lines.into_iter().map(Shape::Text));
    }
    bottom = bottom.max(y);
    let mut y = top;
    for (i, line) in h.motto.iter().enumerate() {
        let pt = if i == 0 { HEADER_PT } else { HEADER_PT + 0.5 };
        let pt = fit_size(line, pt, MIN_HEADER_PT, Weight::Bold, motto_w).ok_or(line.clone())?;
        let w = fonts::text_width_mm(line, pt, Weight::Bold);
        let t = text_line(motto_cx - w / 2.0, y, pt, Weight::Bold, line.clone());
        y = t.bounds.bottom() + 0.5;
        shapes.push(Shape::Text(t));
        if i + 1 == h.motto.len() && h.motto.len() > 1 {
            shapes.push(Shape::Fill(RectMm::new(
                motto_cx - w / 2.0,
                y + 0.3,
                w,
                UNDERLINE,
            )));
            y += 1.5;
        }
    }
    bottom = bottom.max(y);
    Ok((shapes, unit_place, bottom))
}

/// `text` in bold or regular, centred on `center_x`, in at most `max_lines` lines of `width`,
/// at the header's size or smaller; `None` when it does not fit even at the smallest size.
fn centred_lines(
    text: &str,
    center_x: f64,
    top: f64,
    width: f64,
    max_lines: usize,
    weight: Weight,
) -> Option<Vec<TextLine>> {
    let mut pt = HEADER_PT;
    while pt >= MIN_HEADER_PT {
        if let Ok(lines) = fonts::wrap_balanced(text, pt, weight, width) {
            if lines.len() <= max_lines {
                let mut y = top;
                let mut out = Vec::new();
                for l in lines {
                    let w = fonts::text_width_mm(&l, pt, weight);
                    let t = text_line(center_x - w / 2.0, y, pt, weight, l);
                    y = t.bounds.bottom() + 0.2;
                    out.push(t);
                }
                return Some(out);
            }
        }
        pt -= 0.5;
    }
    None
}

/// A dotted rule from `x0` to `x1`, centred on `y`.
fn dotted_rule(x0: f64, x1: f64, y: f64) -> Vec<Shape> {
    let n = ((x1 - x0 - RULE_DOT) / RULE_DOT_PITCH).floor() as usize + 1;
    (0..n)
        .map(|i| {
            Shape::Fill(RectMm::new(
                x0 + i as f64 * RULE_DOT_PITCH,
                y - RULE_DOT / 2.0,
                RULE_DOT,
                RULE_DOT,
            ))
        })
        .collect()
}

fn union(a: &RectMm, b: &RectMm) -> RectMm {
    let (x, y) = (a.x.min(b.x), a.y.min(b.y));
    RectMm::new(
        x,
        y,
        a.right().max(b.right()) - x,
        a.bottom().max(b.bottom()) - y,
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
        for form in Form::standard_forms() {
            fits_without_overlaps(&form);
        }
    }

    fn fits_without_overlaps(form: &Form) {
        let l = Layout::new(form).expect("lays out");
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
    fn version_1_keeps_the_geometry_its_ballots_were_printed_with() {
        // Ballots of version 1 are in the field: their boxes must stay where they were.
        let l = Layout::new(&Form::default_form()).expect("lays out");
        let first = &l.checkboxes[0].rect;
        let last = &l.checkboxes[l.checkboxes.len() - 1].rect;
        // As published in the layout.json of ballots printed before version 2 existed.
        assert!((first.x - 93.0).abs() < 1e-9, "{first:?}");
        assert!((first.y - 80.616).abs() < 0.001, "{first:?}");
        assert!((last.x - 185.0).abs() < 1e-9, "{last:?}");
        assert!((last.y - 194.347).abs() < 0.001, "{last:?}");
        assert!(l.text_areas.is_empty());
    }

    #[test]
    fn column_headings_stand_over_their_own_boxes() {
        for form in Form::standard_forms() {
            let l = Layout::new(&form).expect("lays out");
            assert!(!l.headings.is_empty());
            for (q, o, head) in &l.headings {
                let b = l.checkbox(q, o).expect("a heading names a box");
                let (hc, bc) = (head.x + head.w / 2.0, b.rect.x + b.rect.w / 2.0);
                assert!(
                    (hc - bc).abs() < 0.01,
                    "{q}/{o}: heading centred at {hc}, box at {bc}"
                );
                assert!(head.bottom() < b.rect.y, "{q}/{o}: heading below its box");
                // Between a heading and its first box there is no other box: a heading never
                // reads as a row of the table above it.
                for other in &l.checkboxes {
                    let between = other.rect.y > head.bottom() && other.rect.bottom() < b.rect.y;
                    assert!(
                        !between,
                        "{q}/{o}: box {}/{} between heading and box",
                        other.question, other.option
                    );
                }
            }
        }
        // The official ballot's headings break where a label stays readable.
        let l = Layout::new(&Form::standard_v2()).expect("lays out");
        let lines: Vec<&str> = l
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text(t) if t.size_pt == LABEL_PT => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        assert!(lines.contains(&"hài lòng"), "{lines:?}");
        assert!(!lines.contains(&"Không hài"), "{lines:?}");
        assert!(!lines.contains(&"lòng"), "{lines:?}");
    }

    #[test]
    fn the_official_ballot_has_its_header_comment_area_and_closing() {
        let l = Layout::new(&Form::standard_v2()).expect("lays out");
        let texts: Vec<&str> = l
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        for t in [
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "Mẫu KS-01",
            "CÔNG AN THÀNH PHỐ HẢI PHÒNG",
            "Xin trân trọng cảm ơn Ông/Bà!",
        ] {
            assert!(texts.contains(&t), "{t:?} missing from {texts:?}");
        }
        // The title is centred over the space left of the QR code.
        let title = l
            .shapes
            .iter()
            .find_map(|s| match s {
                Shape::Text(t) if t.size_pt == TITLE_PT => Some(t.bounds),
                _ => None,
            })
            .expect("a title");
        let centre = (HEADER_LEFT + l.qr.x - QR_QUIET_MODULES * QR_MODULE_MM - 1.0) / 2.0;
        assert!((title.x + title.w / 2.0 - centre).abs() < 0.01);
        // The unit's name goes into the agency block, in capitals, within the agency column.
        let unit = l.unit_shapes("Công an phường An Biên").expect("fits");
        let Some(Shape::Text(t)) = unit.first() else {
            panic!("no unit line")
        };
        assert_eq!(t.text, "CÔNG AN PHƯỜNG AN BIÊN");
        assert!(t.bounds.x >= HEADER_LEFT && t.bounds.right() <= HEADER_LEFT + AGENCY_W);
    }

    #[test]
    fn the_comment_area_is_inside_the_page_and_clear_of_everything_else() {
        let l = Layout::new(&Form::standard_v2()).expect("lays out");
        assert_eq!(l.text_areas.len(), 1);
        let a = &l.text_areas[0];
        assert_eq!(a.question, "comment");
        let printable = RectMm::new(
            PRINT_MARGIN,
            PRINT_MARGIN,
            PAGE_W - 2.0 * PRINT_MARGIN,
            PAGE_H - 2.0 * PRINT_MARGIN,
        );
        assert!(printable.contains(&a.rect));
        assert!(a.rect.h >= 40.0 && a.rules.len() >= 5);
        // Only its own ruling is printed inside it.
        for s in &l.shapes {
            let b = s.bounds();
            let own_rule =
                b.h <= RULE_DOT + 1e-9 && a.rules.iter().any(|y| (b.center().y - y).abs() < 1e-6);
            assert!(
                own_rule || !b.overlaps(&a.rect),
                "{s:?} inside the comment area"
            );
        }
        // Boxes stay beyond the reader's first box search (6 mm) from the area, and the area
        // beyond the fiducial search (12 mm) around the bottom discs.
        for c in &l.checkboxes {
            assert!(!c.rect.inset(-6.0).overlaps(&a.rect), "box {c:?} too close");
        }
        for f in &l.fiducials {
            let around = RectMm::new(f.x - 12.0, f.y - 12.0, 24.0, 24.0);
            assert!(!around.overlaps(&a.rect), "fiducial {f:?} too close");
        }
        assert!(!l.qr_with_quiet_zone().overlaps(&a.rect));
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
