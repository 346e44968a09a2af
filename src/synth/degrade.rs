//! What scanners and phones do to a page: skew, scale, perspective and shift, quarter turns,
//! uneven light, folds, dirty-glass streaks, blur, sensor noise, 1-bit thresholding and JPEG;
//! and what happens to the sheet itself (see [`super::sheet`]): a photocopied blank, a seal
//! stamped over the header, a fold's shadow and ridge, a curled edge, a cast shadow, a finger
//! over a corner.
//!
//! A [`Degradation`] describes one scan; [`profile`] draws a realistic one for a named kind of
//! device, [`apply`] renders it, [`encode`] writes the file bytes. The geometry is a pure
//! function of the page size and the `Degradation` ([`map_point`] tells where a page pixel
//! lands), while fold position, light direction, streak position and noise come from the
//! generator passed to [`apply`], so equal seeds give byte-identical images.
//!
//! Sizes in millimetres are converted with the page's own scale: the page is A4, so its width
//! in pixels over [`PAGE_W`] is its pixels per millimetre.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, GrayImage, ImageEncoder, ImageError};
use rand::{Rng, RngExt};

use super::sheet;
use crate::geometry::{mul3, PointMm, PointPx, RectMm};
use crate::layout::{Layout, Shape, FIDUCIAL_DIAMETER, PAGE_H, PAGE_W};

/// One simulated scan or photo of a page.
#[derive(Clone, Debug, PartialEq)]
pub struct Degradation {
    /// Quarter turn applied after the warp, clockwise on screen: 0, 90, 180 or 270 (other
    /// values are rounded to the nearest quarter).
    pub turn: u16,
    /// Skew about the page centre, degrees, clockwise on screen.
    pub rotate_deg: f64,
    /// Print or scan scale (1 = true size).
    pub scale: f64,
    /// Keystone of a photo taken at an angle: the far edge shrinks by this fraction, the near
    /// one grows by it. Positive: the top of the page is farther from the camera; negative:
    /// the bottom. Non-zero makes the result a photo (see [`Degradation::is_photo`]).
    pub perspective: f64,
    /// Scanner: where the sheet sits on the glass, relative to its ideal place (mm, +x right,
    /// +y down). Photo: the margin of `background` around the page on each side (mm, sign
    /// ignored).
    pub offset_mm: (f64, f64),
    /// Gaussian blur (optics, focus), pixels.
    pub blur_sigma_px: f64,
    /// Gaussian sensor noise, gray levels.
    pub noise_sigma: f64,
    /// Uneven light: how much darker the dimmest side is than the brightest (0..0.4).
    pub light_gradient: f64,
    /// A fold crease across the page.
    pub fold: bool,
    /// A dark full-height streak from dirt on the scanner glass.
    pub streak: bool,
    /// 1-bit scan: every pixel becomes 0 or 255.
    pub binarize: bool,
    /// Gray of whatever surrounds the page: scanner lid, or the table under a phone photo.
    pub background: u8,
    /// JPEG quality for [`encode`]; `None` writes PNG.
    pub jpeg_quality: Option<u8>,
    /// Millimetres of the canvas cut away (left, top, right, bottom), before the quarter turn:
    /// a photo framed too tightly.
    pub crop_mm: [f64; 4],
    /// The blank was a photocopy (drawn before the citizen's marks).
    pub photocopy: Option<Photocopy>,
    /// The unit's seal stamped over the header (drawn before the citizen's marks).
    pub stamp: Option<Stamp>,
    /// The soft shadow of a fold's ridge, the sheet flattened on the glass.
    pub fold_shadow: Option<FoldShadow>,
    /// The paper beyond a fold line displaced, with a thin crease (geometric).
    pub ridge: Option<Ridge>,
    /// One edge lifted off the glass: darker, blurred and bent (geometric).
    pub curl: Option<Curl>,
    /// A hand's or phone's shadow over part of the page.
    pub cast_shadow: Option<CastShadow>,
    /// A finger or dark blob over one corner disc.
    pub cover: Option<Cover>,
}

/// A straight fold line across the sheet, roughly horizontal (page millimetres).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FoldLine {
    /// Where the line crosses the page's vertical centre line, mm from the top.
    pub y_mm: f64,
    /// Rise over run (tan of the angle to the horizontal).
    pub slope: f64,
}

impl FoldLine {
    /// Unit normal (pointing down the page) and unit tangent (pointing right).
    pub fn frame(&self) -> ((f64, f64), (f64, f64)) {
        let c = 1.0 / (1.0 + self.slope * self.slope).sqrt();
        let s = self.slope * c;
        ((-s, c), (c, s))
    }

    /// Signed distance of a page point from the line, mm (positive below it).
    pub fn distance_mm(&self, p: PointMm) -> f64 {
        let (n, _) = self.frame();
        (p.x - PAGE_W / 2.0) * n.0 + (p.y - self.y_mm) * n.1
    }
}

/// The shadow a fold's ridge casts on the glass: darkest on the line, fading smoothly over
/// `width_mm` in all, more steeply on one side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FoldShadow {
    pub line: FoldLine,
    /// Full width of the shadow, mm (3–12).
    pub width_mm: f64,
    /// Darkening on the line: the paper keeps 1 − depth of its light (0.10–0.35).
    pub depth: f64,
    /// The sharp side (a quarter of the width) is below the line; else above.
    pub sharp_below: bool,
}

/// Across a fold line the sheet beyond it is displaced, smoothly over `ramp_mm`, plus a thin
/// crease on the line. "Beyond" is the side the normal points to (below the line).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ridge {
    pub line: FoldLine,
    /// Displacement of the far side (along the line, across it), mm; 0.3–0.8 mm in length.
    pub shift_mm: (f64, f64),
    /// Width of the transition, mm. Kept above 1.5 × the cross shift so the warp is one-to-one.
    pub ramp_mm: f64,
    /// Gray factor of the crease (0.7–0.9 of the paper's light).
    pub crease: f64,
}

/// Page edges, for effects that sit along one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    Top,
    Right,
    Bottom,
    Left,
}

/// An edge lifted off the glass: within `band_mm` of it the paper is darker, blurred and
/// pulled toward the page centre, most at the edge (`lift_mm`) and smoothly less inward.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Curl {
    pub edge: Edge,
    /// Depth of the band, mm (15–40).
    pub band_mm: f64,
    /// Displacement at the edge's middle, mm (1–2); 70 % of it at the edge's ends.
    pub lift_mm: f64,
    /// Darkening at the edge (fraction of the light lost).
    pub shade: f64,
    /// Blur at the edge, mm.
    pub blur_mm: f64,
}

/// A soft dark region: the page inside a circle (centre off or near the page, large radius)
/// loses `depth` of its light, with a penumbra `penumbra_mm` wide centred on the circle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CastShadow {
    pub centre: PointMm,
    pub radius_mm: f64,
    /// 0.25–0.55.
    pub depth: f64,
    /// 5–20 mm.
    pub penumbra_mm: f64,
}

/// A finger or dark blob: an ellipse of gray `gray` with a soft rim `soft_mm` wide.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cover {
    pub centre: PointMm,
    pub radii_mm: (f64, f64),
    /// Angle of the first radius to the horizontal, radians.
    pub angle: f64,
    pub gray: u8,
    pub soft_mm: f64,
}

/// A vertical toner band or drum streak of a tired copier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TonerBand {
    /// Centre, mm from the left edge.
    pub x_mm: f64,
    /// Full width, mm (3–10), edges soft over a third of it.
    pub width_mm: f64,
    /// Darkening at its middle, fraction of the light (0.10–0.40).
    pub depth: f64,
    /// Blotchy rather than even.
    pub mottled: bool,
}

/// What a tired photocopier did to the blank: toner bands, gray haze, toner specks and
/// slightly thickened, darker print.
#[derive(Clone, Debug, PartialEq)]
pub struct Photocopy {
    pub bands: Vec<TonerBand>,
    /// The paper keeps 1 − haze of its light.
    pub haze: f64,
    /// Toner specks per square centimetre.
    pub specks_per_cm2: f64,
    /// Print spread by about a pixel and darkened.
    pub thicken: bool,
}

/// A round seal in mid-gray: an outer ring, an inner ring and text-like strokes between them
/// and across the centre. Drawn with seal ink: translucent, never over boxes, QR or discs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stamp {
    pub centre: PointMm,
    /// Outer radius, mm (about 20).
    pub radius_mm: f64,
    /// Darkest ink gray (90–160).
    pub gray: u8,
    /// Share of the ink that took (0.6–0.95): stamps are patchy.
    pub coverage: f64,
}

/// Where the printed features are on the page, so an effect can be aimed at a row of boxes or
/// kept away from the boxes, the QR code and the discs.
#[derive(Clone, Debug)]
pub struct Landmarks {
    pub fiducials: [PointMm; 4],
    pub fiducial_radius_mm: f64,
    /// The QR code with its quiet zone.
    pub qr: RectMm,
    pub boxes: Vec<RectMm>,
    /// The header text left of the QR code (title, instructions, unit).
    pub header: RectMm,
}

impl Landmarks {
    pub fn of(layout: &Layout) -> Landmarks {
        let boxes: Vec<RectMm> = layout.checkboxes.iter().map(|c| c.rect).collect();
        let qr = layout.qr_with_quiet_zone();
        let first_box = boxes.iter().map(|b| b.y).fold(PAGE_H, f64::min);
        // Header lines: text wholly above the column headings (which sit just above the first
        // row of boxes) and left of the QR code.
        let mut header: Option<RectMm> = None;
        for s in &layout.shapes {
            if let Shape::Text(t) = s {
                let b = t.bounds;
                if b.bottom() < first_box - 15.0 && b.right() <= qr.x {
                    header = Some(match header {
                        None => b,
                        Some(h) => {
                            let (x, y) = (h.x.min(b.x), h.y.min(b.y));
                            RectMm::new(
                                x,
                                y,
                                h.right().max(b.right()) - x,
                                h.bottom().max(b.bottom()) - y,
                            )
                        }
                    });
                }
            }
        }
        Landmarks {
            fiducials: layout.fiducials,
            fiducial_radius_mm: FIDUCIAL_DIAMETER / 2.0,
            qr,
            boxes,
            header: header.unwrap_or(RectMm::new(20.0, 10.0, 120.0, 25.0)),
        }
    }

    /// The standard form's landmarks.
    pub fn standard() -> Landmarks {
        let form = crate::form::Form::default_form();
        match Layout::new(&form) {
            Ok(l) => Landmarks::of(&l),
            Err(e) => panic!("the embedded standard form lays out: {e}"),
        }
    }

    /// Vertical centres of the rows of boxes, mm, top to bottom.
    pub fn box_rows(&self) -> Vec<f64> {
        distinct_centres(self.boxes.iter().map(|b| b.y + b.h / 2.0))
    }

    /// Horizontal centres of the columns of boxes, mm, left to right.
    pub fn box_columns(&self) -> Vec<f64> {
        distinct_centres(self.boxes.iter().map(|b| b.x + b.w / 2.0))
    }
}

impl Degradation {
    /// No degradation: [`apply`] returns the page unchanged and [`encode`] writes PNG.
    pub fn none() -> Degradation {
        Degradation {
            turn: 0,
            rotate_deg: 0.0,
            scale: 1.0,
            perspective: 0.0,
            offset_mm: (0.0, 0.0),
            blur_sigma_px: 0.0,
            noise_sigma: 0.0,
            light_gradient: 0.0,
            fold: false,
            streak: false,
            binarize: false,
            background: 255,
            jpeg_quality: None,
            crop_mm: [0.0; 4],
            photocopy: None,
            stamp: None,
            fold_shadow: None,
            ridge: None,
            curl: None,
            cast_shadow: None,
            cover: None,
        }
    }

    /// A photo shows the whole page on a canvas grown to hold it plus an `offset_mm` margin;
    /// a scan keeps the page's canvas, so a skewed or shifted sheet loses its edges.
    pub fn is_photo(&self) -> bool {
        self.perspective != 0.0
    }

    /// The quarter turn in 0..4.
    fn quarters(&self) -> u16 {
        ((self.turn as u32 + 45) / 90 % 4) as u16
    }
}

/// Box centres more than 1 mm apart (boxes in one row or column share a centre), in order.
fn distinct_centres(centres: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for c in centres {
        if out.iter().all(|r| (r - c).abs() > 1.0) {
            out.push(c);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Names accepted by [`profile`].
pub const PROFILES: [&str; 11] = [
    "clean",
    "office-scanner",
    "bad-scanner",
    "phone-photo",
    "folded",
    "photocopy",
    "phone-shadow",
    "phone-corner",
    "cut-corners",
    "curled",
    "stamped",
];

/// Draws the degradation of one scan from the named device profile; `None` for an unknown name.
/// `marks` tells where the form's boxes, QR code and discs are, for the effects that are aimed
/// at them or must stay off them (the first four profiles ignore it).
///
/// - `clean`: nothing but, half of the time, faint noise (σ ≤ 1.5); PNG.
/// - `office-scanner`: skew ±2°, scale 0.98–1.02, sheet shifted ≤ 2 mm, blur σ 0.3–0.7, noise
///   σ 1–4, slight uneven light, sometimes upside down (15 %), a fold (20 %) or a streak (5 %);
///   JPEG 75–95 (70 %) or PNG.
/// - `bad-scanner`: skew ±5°, scale 0.95–1.05, shift ≤ 5 mm (each triangular: mostly mild, the
///   extremes rare, as they cut corners off), blur σ 0.5–1.2, noise σ 3–10,
///   uneven light 0.1–0.3, streak (60 %) and/or fold (50 %), turned 90/180/270 (60 %), gray
///   lid; 1-bit PNG (20 %) or JPEG 40–70.
/// - `phone-photo`: perspective 0.02–0.04 (top or bottom farther), skew ±5°, scale 0.95–1.05,
///   page on a darker table with 8–25 mm around it, strong uneven light 0.2–0.4, blur σ
///   0.6–1.5, noise σ 3–8, sometimes a fold (30 %) or a sideways/upside-down shot (30 %); JPEG
///   50–85.
/// - `folded`: an office scan of a ballot folded to go in the box: the ridge's shadow (3–12 mm,
///   10–35 % darker, one side sharper) along a row of boxes, and in 70 % of pages the paper
///   beyond the line displaced 0.3–0.8 mm with a thin crease.
/// - `photocopy`: an office scan of a photocopied blank: 1–3 toner bands or drum streaks
///   (3–10 mm, 10–40 % darker, half of them over a column of boxes, some mottled), gray haze
///   4–12 %, toner specks, print thickened (60 %).
/// - `phone-shadow`: a phone photo with a hand's or phone's shadow (25–55 % darker, penumbra
///   5–20 mm) reaching 30–120 mm into the page, so its edge often crosses the boxes.
/// - `phone-corner`: a phone photo with one corner disc hidden: under a finger (60 %) or out
///   of a tightly framed picture; the QR code and every box stay visible.
/// - `cut-corners`: an office or cheap feeder scan skewed (≤ 6°), scaled (0.97–1.08) and
///   shifted (≤ 22 mm) so that one or two corner discs are wholly off the image while the QR
///   code (with its quiet zone) and every box stay on it.
/// - `curled`: an office scan with one edge lifted off the glass: a band of 15–40 mm along it
///   darker (10–30 %), blurred and bent (1–2 mm at the edge); a fold shadow on 30 % of pages.
/// - `stamped`: an office scan of a ballot with the unit's round seal (36–44 mm, mid-gray ring
///   and lettering) over the header, partly over the title, never over boxes, QR or discs.
pub fn profile(name: &str, marks: &Landmarks, rng: &mut impl Rng) -> Option<Degradation> {
    let mut d = Degradation::none();
    match name {
        "clean" => {
            if rng.random_bool(0.5) {
                d.noise_sigma = rng.random_range(0.0..1.5);
            }
        }
        "office-scanner" => office_scanner(&mut d, rng),
        "bad-scanner" => {
            d.turn = [0, 0, 90, 180, 270][rng.random_range(0..5)];
            // Most sheets go in nearly straight; the extremes stay possible but rare, as they
            // cut the page's corners off on a page-sized scan.
            d.rotate_deg = 5.0 * triangular(rng);
            d.scale = 1.0 + 0.05 * triangular(rng);
            d.offset_mm = (5.0 * triangular(rng), 5.0 * triangular(rng));
            d.blur_sigma_px = rng.random_range(0.5..1.2);
            d.noise_sigma = rng.random_range(3.0..10.0);
            d.light_gradient = rng.random_range(0.1..0.3);
            d.streak = rng.random_bool(0.6);
            d.fold = rng.random_bool(0.5);
            d.background = rng.random_range(170..=250);
            d.binarize = rng.random_bool(0.2);
            // 1-bit scanners write lossless files; JPEG would only smear the two levels.
            d.jpeg_quality = (!d.binarize).then(|| rng.random_range(40..=70));
        }
        "phone-photo" => phone_photo(&mut d, rng),
        "folded" => {
            office_scanner(&mut d, rng);
            // The old thin crease is replaced by the ridge's own.
            d.fold = false;
            let line = fold_line_along_a_row(marks, rng);
            d.fold_shadow = Some(fold_shadow(line, rng));
            if rng.random_bool(0.7) {
                d.ridge = Some(ridge(line, rng));
            }
        }
        "photocopy" => {
            office_scanner(&mut d, rng);
            d.photocopy = Some(photocopy(marks, rng));
        }
        "phone-shadow" => {
            phone_photo(&mut d, rng);
            d.cast_shadow = Some(cast_shadow(rng));
        }
        "phone-corner" => {
            phone_photo(&mut d, rng);
            hide_a_corner(&mut d, marks, rng);
        }
        "cut-corners" => {
            office_scanner(&mut d, rng);
            if rng.random_bool(0.4) {
                // A cheap feeder: noisier, blurrier, sometimes sideways.
                d.blur_sigma_px = rng.random_range(0.5..1.1);
                d.noise_sigma = rng.random_range(3.0..8.0);
                d.turn = [0, 90, 180, 270][rng.random_range(0..4)];
            }
            cut_corners(&mut d, marks, rng);
        }
        "curled" => {
            office_scanner(&mut d, rng);
            d.curl = Some(curl(rng));
            if rng.random_bool(0.3) {
                d.fold = false;
                d.fold_shadow = Some(fold_shadow(fold_line_along_a_row(marks, rng), rng));
            }
        }
        "stamped" => {
            office_scanner(&mut d, rng);
            d.stamp = Some(stamp(marks, rng));
        }
        _ => return None,
    }
    Some(d)
}

fn office_scanner(d: &mut Degradation, rng: &mut impl Rng) {
    d.turn = if rng.random_bool(0.15) { 180 } else { 0 };
    d.rotate_deg = rng.random_range(-2.0..2.0);
    d.scale = rng.random_range(0.98..1.02);
    d.offset_mm = (rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0));
    d.blur_sigma_px = rng.random_range(0.3..0.7);
    d.noise_sigma = rng.random_range(1.0..4.0);
    d.light_gradient = rng.random_range(0.0..0.08);
    d.fold = rng.random_bool(0.2);
    d.streak = rng.random_bool(0.05);
    d.background = rng.random_range(235..=255);
    d.jpeg_quality = rng.random_bool(0.7).then(|| rng.random_range(75..=95));
}

fn phone_photo(d: &mut Degradation, rng: &mut impl Rng) {
    let tilt = rng.random_range(0.02..0.04);
    d.perspective = if rng.random_bool(0.75) { tilt } else { -tilt };
    d.rotate_deg = rng.random_range(-5.0..5.0);
    d.scale = rng.random_range(0.95..1.05);
    d.offset_mm = (rng.random_range(8.0..25.0), rng.random_range(8.0..25.0));
    d.background = rng.random_range(40..=170);
    d.light_gradient = rng.random_range(0.2..0.4);
    d.blur_sigma_px = rng.random_range(0.6..1.5);
    d.noise_sigma = rng.random_range(3.0..8.0);
    d.fold = rng.random_bool(0.3);
    d.turn = if rng.random_bool(0.7) {
        0
    } else {
        [90, 180, 270][rng.random_range(0..3)]
    };
    d.jpeg_quality = Some(rng.random_range(50..=85));
}

/// A fold line within 4 mm of a row of boxes' centre, within ±1.5° of horizontal: ballots are
/// folded between or across rows, and across is the case that hurts.
fn fold_line_along_a_row(marks: &Landmarks, rng: &mut impl Rng) -> FoldLine {
    let rows = marks.box_rows();
    let y = if rows.is_empty() {
        PAGE_H / 2.0
    } else {
        rows[rng.random_range(0..rows.len())]
    };
    FoldLine {
        y_mm: y + rng.random_range(-4.0..4.0),
        slope: rng.random_range(-1.5f64..1.5).to_radians().tan(),
    }
}

fn fold_shadow(line: FoldLine, rng: &mut impl Rng) -> FoldShadow {
    FoldShadow {
        line,
        width_mm: rng.random_range(3.0..12.0),
        depth: rng.random_range(0.10..0.35),
        sharp_below: rng.random_bool(0.5),
    }
}

fn ridge(line: FoldLine, rng: &mut impl Rng) -> Ridge {
    let len = rng.random_range(0.3..0.8);
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    let shift_mm = (len * a.cos(), len * a.sin());
    Ridge {
        line,
        shift_mm,
        ramp_mm: (shift_mm.1.abs() * 1.5 + 0.3).max(rng.random_range(1.0..2.5)),
        crease: rng.random_range(0.7..0.9),
    }
}

fn photocopy(marks: &Landmarks, rng: &mut impl Rng) -> Photocopy {
    let cols = marks.box_columns();
    let n = rng.random_range(1..=3);
    let bands = (0..n)
        .map(|_| {
            let x_mm = if !cols.is_empty() && rng.random_bool(0.5) {
                cols[rng.random_range(0..cols.len())] + rng.random_range(-3.0..3.0)
            } else {
                rng.random_range(15.0..PAGE_W - 15.0)
            };
            TonerBand {
                x_mm,
                width_mm: rng.random_range(3.0..10.0),
                depth: rng.random_range(0.10..0.40),
                mottled: rng.random_bool(0.4),
            }
        })
        .collect();
    Photocopy {
        bands,
        haze: rng.random_range(0.04..0.12),
        specks_per_cm2: rng.random_range(0.2..2.0),
        thicken: rng.random_bool(0.6),
    }
}

/// A circle whose edge reaches `reach` mm into the page from one side.
fn cast_shadow(rng: &mut impl Rng) -> CastShadow {
    let reach = rng.random_range(30.0..120.0);
    let beyond = rng.random_range(20.0..150.0);
    let radius_mm = reach + beyond;
    let along = rng.random_range(0.0..1.0);
    let centre = match rng.random_range(0..4) {
        0 => PointMm::new(along * PAGE_W, -beyond),
        1 => PointMm::new(PAGE_W + beyond, along * PAGE_H),
        2 => PointMm::new(along * PAGE_W, PAGE_H + beyond),
        _ => PointMm::new(-beyond, along * PAGE_H),
    };
    CastShadow {
        centre,
        radius_mm,
        depth: rng.random_range(0.25..0.55),
        penumbra_mm: rng.random_range(5.0..20.0),
    }
}

fn curl(rng: &mut impl Rng) -> Curl {
    Curl {
        edge: [Edge::Top, Edge::Right, Edge::Bottom, Edge::Left][rng.random_range(0..4)],
        band_mm: rng.random_range(15.0..40.0),
        lift_mm: rng.random_range(1.0..2.0),
        shade: rng.random_range(0.10..0.30),
        blur_mm: rng.random_range(0.1..0.3),
    }
}

/// Tries until the seal keeps 1.5 mm off every box, the QR code's quiet zone and the discs
/// and overlaps the title; a seal at the header's centre-left is the fallback.
fn stamp(marks: &Landmarks, rng: &mut impl Rng) -> Stamp {
    let h = marks.header;
    let gray = rng.random_range(90..=160);
    let coverage = rng.random_range(0.6..0.95);
    for _ in 0..100 {
        let radius_mm = rng.random_range(18.0..22.0);
        let centre = PointMm::new(
            rng.random_range(h.x + 0.3 * h.w..h.right() - 0.1 * h.w),
            rng.random_range(h.y + 0.3 * h.h..h.bottom() + 8.0),
        );
        let s = Stamp {
            centre,
            radius_mm,
            gray,
            coverage,
        };
        if stamp_is_clear(&s, marks) {
            return s;
        }
    }
    Stamp {
        centre: PointMm::new(h.x + 0.4 * h.w, h.y + 0.6 * h.h),
        radius_mm: 18.0,
        gray,
        coverage,
    }
}

fn disc_near_rect(c: PointMm, r: f64, rect: &RectMm) -> bool {
    let dx = (rect.x - c.x).max(0.0).max(c.x - rect.right());
    let dy = (rect.y - c.y).max(0.0).max(c.y - rect.bottom());
    dx.hypot(dy) < r
}

/// The seal keeps 1.5 mm off boxes, QR and discs and overlaps the header.
pub fn stamp_is_clear(s: &Stamp, marks: &Landmarks) -> bool {
    let r = s.radius_mm + 1.5;
    let discs = marks.fiducials.iter().map(|f| {
        let fr = marks.fiducial_radius_mm;
        RectMm::new(f.x - fr, f.y - fr, 2.0 * fr, 2.0 * fr)
    });
    !marks
        .boxes
        .iter()
        .copied()
        .chain(std::iter::once(marks.qr))
        .chain(discs)
        .any(|b| disc_near_rect(s.centre, r, &b))
        && disc_near_rect(s.centre, s.radius_mm, &marks.header)
        && s.centre.x - r > 0.0
        && s.centre.y - r > 0.0
}

/// A nominal page of 10 px/mm for checking where landmarks land (the geometry scales with
/// the page, so any size gives the same millimetres).
const NOMINAL: (u32, u32) = ((PAGE_W * 10.0) as u32, (PAGE_H * 10.0) as u32);

/// Whether a rectangle of the page, grown by `margin_mm`, lands wholly on the image.
fn rect_on_image(d: &Degradation, r: &RectMm, margin_mm: f64) -> bool {
    let (w, h) = output_size(NOMINAL, d);
    let g = r.inset(-margin_mm);
    g.corners().iter().all(|c| {
        let p = map_point(NOMINAL, d, PointPx::new(c.x * 10.0, c.y * 10.0));
        p.x >= 0.0 && p.y >= 0.0 && p.x <= w as f64 && p.y <= h as f64
    })
}

/// Whether a disc of the page lands wholly off the image (a 0.5 mm margin for blur).
fn disc_off_image(d: &Degradation, c: PointMm, r: f64) -> bool {
    let (w, h) = output_size(NOMINAL, d);
    // Off when the whole disc is beyond one canvas edge: its points sampled round the rim
    // and the centre all beyond the same edge.
    let pts: Vec<PointPx> = (0..16)
        .map(|i| {
            let a = i as f64 * std::f64::consts::TAU / 16.0;
            let (x, y) = (c.x + (r + 0.5) * a.cos(), c.y + (r + 0.5) * a.sin());
            map_point(NOMINAL, d, PointPx::new(x * 10.0, y * 10.0))
        })
        .collect();
    let (w, h) = (w as f64, h as f64);
    pts.iter().all(|p| p.x < 0.0)
        || pts.iter().all(|p| p.y < 0.0)
        || pts.iter().all(|p| p.x > w)
        || pts.iter().all(|p| p.y > h)
}

/// The QR code and every box are on the image, a millimetre clear of its edges.
pub fn qr_and_boxes_on_image(d: &Degradation, marks: &Landmarks) -> bool {
    rect_on_image(d, &marks.qr, 1.0) && marks.boxes.iter().all(|b| rect_on_image(d, b, 1.0))
}

/// How many corner discs are wholly off the image.
pub fn discs_off_image(d: &Degradation, marks: &Landmarks) -> usize {
    marks
        .fiducials
        .iter()
        .filter(|f| disc_off_image(d, **f, marks.fiducial_radius_mm))
        .count()
}

fn cut_corners(d: &mut Degradation, marks: &Landmarks, rng: &mut impl Rng) {
    let base = d.clone();
    for _ in 0..400 {
        let mut t = base.clone();
        t.rotate_deg = rng.random_range(-6.0..6.0);
        t.scale = rng.random_range(0.97..1.08);
        t.offset_mm = (rng.random_range(-22.0..22.0), rng.random_range(-22.0..22.0));
        let off = discs_off_image(&t, marks);
        // The other discs stay whole: partly cut discs are the bad scanner's business.
        let whole = marks.fiducials.iter().filter(|f| {
            let r = marks.fiducial_radius_mm;
            rect_on_image(&t, &RectMm::new(f.x - r, f.y - r, 2.0 * r, 2.0 * r), 0.5)
        });
        if (1..=2).contains(&off) && whole.count() == 4 - off && qr_and_boxes_on_image(&t, marks) {
            *d = t;
            return;
        }
    }
    // A sheet fed 19 mm too far left loses both left discs and nothing else that counts.
    d.rotate_deg = 0.0;
    d.scale = 1.0;
    d.offset_mm = (-19.0, 0.0);
}

/// A finger over one disc that keeps off the QR code and the boxes (60 %), or the disc framed
/// out of a tilted photo; retried until exactly one disc is hidden and everything else shows.
fn hide_a_corner(d: &mut Degradation, marks: &Landmarks, rng: &mut impl Rng) {
    let base = d.clone();
    let finger = rng.random_bool(0.6);
    for _ in 0..400 {
        let mut t = base.clone();
        if finger {
            let k = rng.random_range(0..4);
            let f = marks.fiducials[k];
            // From the page's corner inward: the centre sits between the disc and the corner.
            let corner = PointMm::new(
                if f.x < PAGE_W / 2.0 { 0.0 } else { PAGE_W },
                if f.y < PAGE_H / 2.0 { 0.0 } else { PAGE_H },
            );
            let u = rng.random_range(0.0..0.6);
            let c = PointMm::new(f.x + u * (corner.x - f.x), f.y + u * (corner.y - f.y));
            let cover = Cover {
                centre: PointMm::new(
                    c.x + rng.random_range(-2.0..2.0),
                    c.y + rng.random_range(-2.0..2.0),
                ),
                radii_mm: (rng.random_range(6.0..14.0), rng.random_range(5.0..9.0)),
                angle: rng.random_range(0.0..std::f64::consts::PI),
                gray: rng.random_range(50..=130),
                soft_mm: rng.random_range(0.5..2.0),
            };
            if cover_hides_only(&cover, k, marks) {
                t.cover = Some(cover);
                *d = t;
                return;
            }
        } else {
            // Tilt enough that a frame edge can pass between two discs of one side.
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            t.rotate_deg = sign * rng.random_range(4.0..8.0);
            let side = rng.random_range(0..4);
            let mut crop = [0.0; 4];
            crop[side] = rng.random_range(5.0..45.0);
            t.crop_mm = crop;
            if discs_off_image(&t, marks) == 1 && qr_and_boxes_on_image(&t, marks) {
                *d = t;
                return;
            }
        }
    }
    // Fallback: a finger over the bottom-left disc, from the corner.
    let f = marks.fiducials[3];
    d.cover = Some(Cover {
        centre: PointMm::new(f.x - 3.0, f.y + 3.0),
        radii_mm: (9.0, 7.0),
        angle: 0.0,
        gray: 90,
        soft_mm: 1.0,
    });
}

/// The blob hides disc `k` wholly (opaque over it) and keeps 1 mm off the other discs, the
/// QR code's quiet zone and every box.
pub fn cover_hides_only(c: &Cover, k: usize, marks: &Landmarks) -> bool {
    let f = marks.fiducials[k];
    let r = marks.fiducial_radius_mm + 0.5;
    let hidden = (0..24).all(|i| {
        let a = i as f64 * std::f64::consts::TAU / 24.0;
        sheet::cover_opacity(c, PointMm::new(f.x + r * a.cos(), f.y + r * a.sin())) >= 1.0
    }) && sheet::cover_opacity(c, f) >= 1.0;
    if !hidden {
        return false;
    }
    let others = marks
        .fiducials
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != k)
        .map(|(_, f)| {
            let fr = marks.fiducial_radius_mm;
            RectMm::new(f.x - fr, f.y - fr, 2.0 * fr, 2.0 * fr)
        });
    let keep_clear: Vec<RectMm> = marks
        .boxes
        .iter()
        .copied()
        .chain(std::iter::once(marks.qr))
        .chain(others)
        .map(|r| r.inset(-1.0))
        .collect();
    // The blob's reach: its rim plus the soft edge, sampled densely around.
    let reach = (c.radii_mm.0.max(c.radii_mm.1) + c.soft_mm) * 1.01;
    let bbox = RectMm::new(
        c.centre.x - reach,
        c.centre.y - reach,
        2.0 * reach,
        2.0 * reach,
    );
    keep_clear.iter().filter(|r| r.overlaps(&bbox)).all(|r| {
        let n = 24;
        (0..=n).all(|i| {
            (0..=n).all(|j| {
                let p = PointMm::new(
                    r.x + r.w * i as f64 / n as f64,
                    r.y + r.h * j as f64 / n as f64,
                );
                sheet::cover_opacity(c, p) <= 0.0
            })
        })
    })
}

/// A number in −1..1, most often near 0 (the sum of two uniforms).
fn triangular(rng: &mut impl Rng) -> f64 {
    rng.random_range(-0.5..0.5) + rng.random_range(-0.5..0.5)
}

/// Renders the scan of `page` under `d`: fold (on the paper), the sheet's own effects (ridge,
/// curl, fold and cast shadows, a covering finger: see [`sheet::after_marks`]), geometric warp,
/// quarter turn, then uneven light, streak, blur, noise and 1-bit threshold, in the order a
/// device applies them. JPEG is left to [`encode`]. The blank's own effects (photocopy, seal)
/// come before the marks: [`sheet::prepare_blank`].
pub fn apply(page: &GrayImage, d: &Degradation, rng: &mut impl Rng) -> GrayImage {
    let geo = Geometry::new(page.dimensions(), d);
    // The crease belongs to the sheet, so it is drawn first and skews and turns with it.
    let folded = d.fold.then(|| {
        let mut sheet = page.clone();
        fold(&mut sheet, rng);
        sheet
    });
    let on_sheet =
        has_sheet_effects(d).then(|| sheet::after_marks(folded.as_ref().unwrap_or(page), d));
    let folded = on_sheet.or(folded);
    let warped = if geo.is_identity(page.dimensions()) {
        folded.unwrap_or_else(|| page.clone())
    } else {
        warp(folded.as_ref().unwrap_or(page), &geo, d.background)
    };
    let mut img = match d.quarters() {
        1 => image::imageops::rotate90(&warped),
        2 => image::imageops::rotate180(&warped),
        3 => image::imageops::rotate270(&warped),
        _ => warped,
    };
    if d.light_gradient > 0.0 {
        uneven_light(&mut img, d.light_gradient.min(0.95), rng);
    }
    if d.streak {
        streak(&mut img, rng);
    }
    if d.blur_sigma_px >= 0.1 {
        gaussian_blur(&mut img, d.blur_sigma_px.min(20.0));
    }
    if d.noise_sigma > 0.0 {
        noise(&mut img, d.noise_sigma, rng);
    }
    if d.binarize {
        for v in img.iter_mut() {
            *v = if *v < 128 { 0 } else { 255 };
        }
    }
    img
}

/// Whether `d` has effects drawn on the sheet after the marks.
fn has_sheet_effects(d: &Degradation) -> bool {
    d.fold_shadow.is_some()
        || d.ridge.is_some()
        || d.curl.is_some()
        || d.cast_shadow.is_some()
        || d.cover.is_some()
}

/// Gaussian blur for the sheet effects (a curled edge's band).
pub(super) fn blur(img: &mut GrayImage, sigma: f64) {
    gaussian_blur(img, sigma);
}

/// Where the point `p` of a page of `page_size` pixels lands in the image [`apply`] makes of
/// it (pixel centres at +0.5).
pub fn map_point(page_size: (u32, u32), d: &Degradation, p: PointPx) -> PointPx {
    let geo = Geometry::new(page_size, d);
    let p = if sheet::displaces(d) {
        // The sheet's own displacement (ridge, curl) comes first, in millimetres.
        let k = page_size.0.max(1) as f64 / PAGE_W;
        let q = sheet::forward_mm(d, PointMm::new(p.x / k, p.y / k));
        PointPx::new(q.x * k, q.y * k)
    } else {
        p
    };
    let (x, y) = apply_m3(&geo.fwd, (p.x, p.y));
    let (cw, ch) = (geo.canvas.0 as f64, geo.canvas.1 as f64);
    let (x, y) = match d.quarters() {
        1 => (ch - y, x),
        2 => (cw - x, ch - y),
        3 => (y, cw - x),
        _ => (x, y),
    };
    PointPx::new(x, y)
}

/// The size of the image [`apply`] makes of a page of `page_size` pixels.
pub fn output_size(page_size: (u32, u32), d: &Degradation) -> (u32, u32) {
    let (w, h) = Geometry::new(page_size, d).canvas;
    if d.quarters() % 2 == 1 {
        (h, w)
    } else {
        (w, h)
    }
}

/// The file bytes of a degraded image and their extension: JPEG at `d.jpeg_quality`, else PNG.
/// Fails only for images the formats cannot hold (JPEG is limited to 65 535 px a side).
pub fn encode(img: &GrayImage, d: &Degradation) -> Result<(Vec<u8>, &'static str), ImageError> {
    let mut buf = Vec::new();
    match d.jpeg_quality {
        Some(q) => {
            JpegEncoder::new_with_quality(&mut buf, q.clamp(1, 100)).encode_image(img)?;
            Ok((buf, "jpg"))
        }
        None => {
            PngEncoder::new(&mut buf).write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                ExtendedColorType::L8,
            )?;
            Ok((buf, "png"))
        }
    }
}

/// Row-major 3×3 projective matrix.
type M3 = [f64; 9];

fn translate(tx: f64, ty: f64) -> M3 {
    [1.0, 0.0, tx, 0.0, 1.0, ty, 0.0, 0.0, 1.0]
}

fn apply_m3(m: &M3, (x, y): (f64, f64)) -> (f64, f64) {
    let w = m[6] * x + m[7] * y + m[8];
    (
        (m[0] * x + m[1] * y + m[2]) / w,
        (m[3] * x + m[4] * y + m[5]) / w,
    )
}

/// The inverse by the adjugate; `None` when singular.
fn invert(m: &M3) -> Option<M3> {
    let [a, b, c, d, e, f, g, h, i] = *m;
    let co = [
        e * i - f * h,
        c * h - b * i,
        b * f - c * e,
        f * g - d * i,
        a * i - c * g,
        c * d - a * f,
        d * h - e * g,
        b * g - a * h,
        a * e - b * d,
    ];
    let det = a * co[0] + b * co[3] + c * co[6];
    if det.abs() < 1e-12 || !det.is_finite() {
        return None;
    }
    Some(co.map(|v| v / det))
}

/// The warp from page pixels to the canvas before the quarter turn.
struct Geometry {
    fwd: M3,
    canvas: (u32, u32),
}

/// Lid showing around the sheet in a scanner image, each side.
const SCANNER_MARGIN_MM: f64 = 3.0;

impl Geometry {
    fn new(page: (u32, u32), d: &Degradation) -> Geometry {
        let geo = Geometry::uncropped(page, d);
        let c = d.crop_mm.map(|v| {
            if v.is_finite() {
                v.clamp(0.0, 1e3)
            } else {
                0.0
            }
        });
        if c == [0.0; 4] {
            return geo;
        }
        let ppm = page.0.max(1) as f64 / PAGE_W;
        let (cw, ch) = (geo.canvas.0 as f64, geo.canvas.1 as f64);
        Geometry {
            fwd: mul3(&translate(-c[0] * ppm, -c[1] * ppm), &geo.fwd),
            canvas: (
                (cw - (c[0] + c[2]) * ppm).round().max(1.0) as u32,
                (ch - (c[1] + c[3]) * ppm).round().max(1.0) as u32,
            ),
        }
    }

    fn uncropped((pw, ph): (u32, u32), d: &Degradation) -> Geometry {
        let (w, h) = (pw.max(1) as f64, ph.max(1) as f64);
        let ppm = w / PAGE_W;
        let (cx, cy) = (w / 2.0, h / 2.0);
        // Clamped so the transform stays invertible and the canvas finite.
        let p = if d.perspective.is_finite() {
            d.perspective.clamp(-0.5, 0.5)
        } else {
            0.0
        };
        let s = if d.scale.is_finite() {
            d.scale.clamp(0.2, 5.0)
        } else {
            1.0
        };
        let a = if d.rotate_deg.is_finite() {
            d.rotate_deg.to_radians()
        } else {
            0.0
        };
        let (sin, cos) = a.sin_cos();
        // Keystone about the centre: w = 1 − p·y/cy, so the top (y = −cy) shrinks by 1 + p.
        let keystone = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -p / cy, 1.0];
        let rotate_scale = [s * cos, -s * sin, 0.0, s * sin, s * cos, 0.0, 0.0, 0.0, 1.0];
        let shape = mul3(&rotate_scale, &mul3(&keystone, &translate(-cx, -cy)));
        let off = |v: f64| {
            if v.is_finite() {
                v.clamp(-1e3, 1e3)
            } else {
                0.0
            }
        };
        let (ox, oy) = (off(d.offset_mm.0) * ppm, off(d.offset_mm.1) * ppm);
        if d.is_photo() {
            let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)].map(|c| apply_m3(&shape, c));
            let min = |f: fn(&(f64, f64)) -> f64| corners.iter().map(f).fold(f64::MAX, f64::min);
            let max = |f: fn(&(f64, f64)) -> f64| corners.iter().map(f).fold(f64::MIN, f64::max);
            let (x0, x1) = (min(|c| c.0), max(|c| c.0));
            let (y0, y1) = (min(|c| c.1), max(|c| c.1));
            let (mx, my) = (ox.abs(), oy.abs());
            Geometry {
                fwd: mul3(&translate(mx - x0, my - y0), &shape),
                canvas: (
                    (x1 - x0 + 2.0 * mx).ceil().max(1.0) as u32,
                    (y1 - y0 + 2.0 * my).ceil().max(1.0) as u32,
                ),
            }
        } else {
            // Office scanners capture a little more than the sheet: a few millimetres of lid
            // around the page, so a skewed sheet keeps its corners.
            // (An untouched page stays exactly page-sized.)
            let moved = a != 0.0 || s != 1.0 || ox != 0.0 || oy != 0.0;
            let m = if moved { SCANNER_MARGIN_MM * ppm } else { 0.0 };
            Geometry {
                fwd: mul3(&translate(cx + ox + m, cy + oy + m), &shape),
                canvas: (
                    (w + 2.0 * m).round().max(1.0) as u32,
                    (h + 2.0 * m).round().max(1.0) as u32,
                ),
            }
        }
    }

    fn is_identity(&self, page: (u32, u32)) -> bool {
        let id = translate(0.0, 0.0);
        self.canvas == page && self.fwd.iter().zip(id).all(|(a, b)| (a - b).abs() < 1e-12)
    }
}

/// Resamples the page onto the canvas by inverse mapping with bilinear interpolation; beyond
/// the page is `background`, blended across the page edge so the edge is anti-aliased.
fn warp(src: &GrayImage, geo: &Geometry, background: u8) -> GrayImage {
    let inv = invert(&geo.fwd)
        .expect("rotation × positive scale × keystone with |p| < 1 is always invertible");
    let (cw, ch) = geo.canvas;
    let mut out = GrayImage::new(cw, ch);
    let (sw, sh) = (src.width() as i64, src.height() as i64);
    let data = src.as_raw();
    let stride = sw as usize;
    let bg = background as u32;
    let at = |x: i64, y: i64| -> u32 {
        if x < 0 || y < 0 || x >= sw || y >= sh {
            bg
        } else {
            data[y as usize * stride + x as usize] as u32
        }
    };
    let projective = inv[6] != 0.0;
    for (y, row) in out.chunks_exact_mut(cw as usize).enumerate() {
        let yc = y as f64 + 0.5;
        let (bx, by, bw) = (
            inv[1] * yc + inv[2],
            inv[4] * yc + inv[5],
            inv[7] * yc + inv[8],
        );
        let row_q = 1.0 / bw;
        for (x, v) in row.iter_mut().enumerate() {
            let xc = x as f64 + 0.5;
            // Scanner warps are affine: their denominator is the same along a row.
            let q = if projective {
                1.0 / (inv[6] * xc + bw)
            } else {
                row_q
            };
            // Source position with pixel centres at integers, in 1/256 px. Shifting by 4 px
            // before truncating floors without a libm call; anything further left or up
            // lands far enough out to read as background.
            let sx = (((inv[0] * xc + bx) * q + 3.5) * 256.0) as i64 - 1024;
            let sy = (((inv[3] * xc + by) * q + 3.5) * 256.0) as i64 - 1024;
            let (x0, y0) = (sx >> 8, sy >> 8);
            let (tx, ty) = ((sx & 255) as u32, (sy & 255) as u32);
            let (p00, p10, p01, p11) = if x0 >= 0 && y0 >= 0 && x0 + 1 < sw && y0 + 1 < sh {
                let i = y0 as usize * stride + x0 as usize;
                (
                    data[i] as u32,
                    data[i + 1] as u32,
                    data[i + stride] as u32,
                    data[i + stride + 1] as u32,
                )
            } else if x0 < -1 || y0 < -1 || x0 >= sw || y0 >= sh {
                *v = background;
                continue;
            } else {
                (
                    at(x0, y0),
                    at(x0 + 1, y0),
                    at(x0, y0 + 1),
                    at(x0 + 1, y0 + 1),
                )
            };
            let top = p00 * (256 - tx) + p10 * tx;
            let bottom = p01 * (256 - tx) + p11 * tx;
            *v = ((top * (256 - ty) + bottom * ty + (1 << 15)) >> 16) as u8;
        }
    }
    out
}

/// A crease across the sheet near a third or half of its height, within ±1.5° of horizontal:
/// a 1–2 px shadow on one side and a faint highlight on the other.
fn fold(img: &mut GrayImage, rng: &mut impl Rng) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let nominal = [1.0 / 3.0, 0.5, 2.0 / 3.0][rng.random_range(0..3)];
    let y_mid = (nominal + rng.random_range(-0.04..0.04)) * h as f64;
    let slope = rng.random_range(-1.5f64..1.5).to_radians().tan();
    let dark_w = rng.random_range(0.8..2.0);
    let light_w = rng.random_range(0.5..1.0);
    let shade = rng.random_range(0.7..0.88);
    let lift = rng.random_range(10.0..30.0);
    let flip = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    // Overlap of the pixel [s − ½, s + ½] with the band [a, b].
    let overlap = |s: f64, a: f64, b: f64| ((s + 0.5).min(b) - (s - 0.5).max(a)).max(0.0);
    for x in 0..w {
        let yc = y_mid + slope * (x as f64 + 0.5 - w as f64 / 2.0);
        let lo = (yc - 4.0).floor().max(0.0) as usize;
        let hi = ((yc + 4.0).ceil().max(0.0) as usize).min(h);
        for y in lo..hi {
            let s = flip * (y as f64 + 0.5 - yc);
            let dark = overlap(s, 0.0, dark_w);
            let light = overlap(s, -light_w, 0.0);
            if dark == 0.0 && light == 0.0 {
                continue;
            }
            let p = &mut img.get_pixel_mut(x as u32, y as u32).0[0];
            let v = *p as f64 * (1.0 - dark * (1.0 - shade)) + light * lift;
            *p = v.round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Multiplies the image by a linear ramp in a random direction, from 1 down to 1 − `g`.
fn uneven_light(img: &mut GrayImage, g: f64, rng: &mut impl Rng) {
    let (w, h) = (img.width(), img.height());
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    let (s, c) = a.sin_cos();
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let extent = (cx * c).abs() + (cy * s).abs();
    if extent <= 0.0 {
        return;
    }
    // factor = 1 − g·(0.5 + t/2) with t = projection / extent ∈ −1..1, linear in x.
    let k = (g / (2.0 * extent)) as f32;
    for (y, row) in img.chunks_exact_mut(w as usize).enumerate() {
        let row_base = (1.0 - g / 2.0) as f32 - k * ((y as f64 + 0.5 - cy) * s) as f32;
        let dx = -k * c as f32;
        let x0 = (0.5 - cx) as f32;
        for (x, v) in row.iter_mut().enumerate() {
            let f = row_base + dx * (x as f32 + x0);
            *v = (*v as f32 * f + 0.5) as u8;
        }
    }
}

/// A dark vertical band 1–4 px wide and gray 60–140 down the whole image, as dirt on the
/// scanner glass leaves along the scan direction.
fn streak(img: &mut GrayImage, rng: &mut impl Rng) {
    let (w, h) = (img.width(), img.height());
    let width = rng.random_range(1..=4u32).min(w);
    let x0 = rng.random_range(0..=w - width);
    let gray = rng.random_range(60.0..140.0f64);
    let (freq, phase) = (rng.random_range(0.002..0.02), rng.random_range(0.0..6.3));
    for y in 0..h {
        // Dirt is not perfectly even along the streak.
        let g = (gray + 8.0 * (y as f64 * freq + phase).sin()).clamp(60.0, 140.0) as u8;
        for x in x0..x0 + width {
            let p = &mut img.get_pixel_mut(x, y).0[0];
            *p = (*p).min(g);
        }
    }
}

/// Separable Gaussian blur in 16-bit fixed point, edges replicated.
fn gaussian_blur(img: &mut GrayImage, sigma: f64) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    let r = (3.0 * sigma).ceil() as usize;
    let raw: Vec<f64> = (0..=2 * r)
        .map(|i| {
            let d = i as f64 - r as f64;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f64 = raw.iter().sum();
    // Weights summing exactly to 2^16; the rounding remainder goes to the centre tap.
    let mut k: Vec<u32> = raw
        .iter()
        .map(|v| (v / total * 65536.0).round() as u32)
        .collect();
    let sum: i64 = k.iter().map(|&v| v as i64).sum();
    k[r] = (k[r] as i64 + 65536 - sum) as u32;

    // Horizontal pass into values × 256 (u16), so the vertical pass keeps 8 fractional bits.
    let src = img.as_raw();
    let mut tmp = vec![0u16; w * h];
    let mut padded = vec![0u8; w + 2 * r];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        padded[..r].fill(row[0]);
        padded[r..r + w].copy_from_slice(row);
        padded[r + w..].fill(row[w - 1]);
        for (x, t) in tmp[y * w..(y + 1) * w].iter_mut().enumerate() {
            let acc: u32 = padded[x..x + 2 * r + 1]
                .iter()
                .zip(&k)
                .map(|(&p, &kk)| p as u32 * kk)
                .sum();
            *t = ((acc + 128) >> 8) as u16;
        }
    }
    // Vertical pass, row by row so memory is read sequentially: 65280 × 65536 < 2^32.
    let out = &mut **img;
    let mut acc = vec![0u32; w];
    for y in 0..h {
        acc.fill(0);
        for (i, &kk) in k.iter().enumerate() {
            let sy = (y + i).saturating_sub(r).min(h - 1);
            for (a, &t) in acc.iter_mut().zip(&tmp[sy * w..(sy + 1) * w]) {
                *a += t as u32 * kk;
            }
        }
        for (o, &a) in out[y * w..(y + 1) * w].iter_mut().zip(&acc) {
            *o = ((a + (1 << 23)) >> 24) as u8;
        }
    }
}

/// Adds Gaussian noise of `sigma` gray levels to every pixel.
fn noise(img: &mut GrayImage, sigma: f64, rng: &mut impl Rng) {
    let sigma = sigma as f32;
    for v in img.iter_mut() {
        let z: f32 = rng.sample(rand_distr::StandardNormal);
        // `as u8` saturates, so adding ½ and truncating rounds and clamps in one step.
        *v = (*v as f32 + sigma * z + 0.5) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::SeedableRng;

    /// A white A4 page at `dpi` with a dark 40×40 px square at (30, 30) and a few lines.
    fn test_page(dpi: f64) -> GrayImage {
        let (w, h) = crate::render::raster::page_size_px(dpi);
        let mut img = GrayImage::from_pixel(w, h, image::Luma([255]));
        for y in 30..70 {
            for x in 30..70 {
                img.put_pixel(x, y, image::Luma([0]));
            }
        }
        for y in (200..h - 100).step_by(97) {
            for x in 100..w - 100 {
                img.put_pixel(x, y, image::Luma([30]));
            }
        }
        img
    }

    fn rng(seed: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    fn mean(img: &GrayImage, x0: u32, y0: u32, x1: u32, y1: u32) -> f64 {
        let mut s = 0.0;
        for y in y0..y1 {
            for x in x0..x1 {
                s += img.get_pixel(x, y).0[0] as f64;
            }
        }
        s / ((x1 - x0) * (y1 - y0)) as f64
    }

    #[test]
    fn every_profile_parses_and_unknown_names_do_not() {
        for name in PROFILES {
            for seed in 0..50 {
                let d = profile(name, &Landmarks::standard(), &mut rng(seed)).expect(name);
                assert!([0, 90, 180, 270].contains(&d.turn), "{name}: {d:?}");
                assert!((0.0..=0.4).contains(&d.light_gradient), "{name}: {d:?}");
            }
        }
        assert!(profile("flatbed", &Landmarks::standard(), &mut rng(0)).is_none());
        assert!(profile("", &Landmarks::standard(), &mut rng(0)).is_none());
    }

    #[test]
    fn none_and_clean_leave_the_page_nearly_unchanged() {
        let page = test_page(100.0);
        assert_eq!(apply(&page, &Degradation::none(), &mut rng(1)), page);
        for seed in 0..5 {
            let d = profile("clean", &Landmarks::standard(), &mut rng(seed)).expect("clean");
            let out = apply(&page, &d, &mut rng(seed));
            assert_eq!(out.dimensions(), page.dimensions());
            let (mut sum, mut worst) = (0u64, 0u8);
            for (a, b) in out.iter().zip(page.iter()) {
                sum += a.abs_diff(*b) as u64;
                worst = worst.max(a.abs_diff(*b));
            }
            let mean = sum as f64 / page.len() as f64;
            assert!(
                mean < 1.5 && worst <= 10,
                "seed {seed}: mean {mean}, worst {worst}"
            );
        }
    }

    #[test]
    fn a_half_turn_puts_the_top_left_square_at_the_bottom_right() {
        let page = test_page(100.0);
        let (w, h) = page.dimensions();
        let d = Degradation {
            turn: 180,
            ..Degradation::none()
        };
        let out = apply(&page, &d, &mut rng(0));
        assert_eq!(out.dimensions(), (w, h));
        assert!(mean(&out, w - 70, h - 70, w - 30, h - 30) < 1.0);
        assert!(mean(&out, 30, 30, 70, 70) > 254.0);
        let c = map_point((w, h), &d, PointPx::new(50.0, 50.0));
        assert!(c.distance(PointPx::new(w as f64 - 50.0, h as f64 - 50.0)) < 1e-9);
    }

    #[test]
    fn map_point_follows_the_warp_for_every_profile() {
        let page = test_page(100.0);
        for name in PROFILES {
            for seed in 0..6 {
                let mut d = profile(name, &Landmarks::standard(), &mut rng(seed)).expect(name);
                // Geometry only, so the square's darkness is unambiguous.
                d = Degradation {
                    blur_sigma_px: 0.0,
                    noise_sigma: 0.0,
                    light_gradient: 0.0,
                    fold: false,
                    streak: false,
                    binarize: false,
                    background: 255,
                    photocopy: None,
                    stamp: None,
                    fold_shadow: None,
                    cast_shadow: None,
                    cover: None,
                    // The ridge and curl displace the paper: they stay, without their shading.
                    ridge: d.ridge.map(|r| Ridge { crease: 1.0, ..r }),
                    curl: d.curl.map(|c| Curl {
                        shade: 0.0,
                        blur_mm: 0.0,
                        ..c
                    }),
                    ..d
                };
                let out = apply(&page, &d, &mut rng(seed));
                assert_eq!(out.dimensions(), output_size(page.dimensions(), &d));
                if d.is_photo() && d.crop_mm == [0.0; 4] {
                    assert!(out.width() > page.width() || out.height() > page.height());
                }
                let c = map_point(page.dimensions(), &d, PointPx::new(50.0, 50.0));
                let (x, y) = (c.x.round() as u32, c.y.round() as u32);
                // Skip squares the scanner cut off at the canvas edge.
                if x < 12 || y < 12 || x + 12 > out.width() || y + 12 > out.height() {
                    continue;
                }
                let m = mean(&out, x - 10, y - 10, x + 10, y + 10);
                assert!(
                    m < 10.0,
                    "{name} seed {seed}: square not at {c:?} (mean {m})"
                );
            }
        }
    }

    /// A white page at 100 DPI with 7×7 px dark dots every 40 px.
    fn dot_page() -> (GrayImage, Vec<PointPx>) {
        let (w, h) = crate::render::raster::page_size_px(100.0);
        let mut img = GrayImage::from_pixel(w, h, image::Luma([255]));
        let mut dots = Vec::new();
        for cy in (20..h - 20).step_by(40) {
            for cx in (20..w - 20).step_by(40) {
                for y in cy - 3..=cy + 3 {
                    for x in cx - 3..=cx + 3 {
                        img.put_pixel(x, y, image::Luma([0]));
                    }
                }
                dots.push(PointPx::new(cx as f64 + 0.5, cy as f64 + 0.5));
            }
        }
        (img, dots)
    }

    /// Centroid of darkness in a 15×15 window centred on `c`.
    fn dark_centroid(img: &GrayImage, c: PointPx) -> Option<PointPx> {
        let (cx, cy) = (c.x.floor() as i64, c.y.floor() as i64);
        let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
        for y in cy - 7..=cy + 7 {
            for x in cx - 7..=cx + 7 {
                if x < 0 || y < 0 || x >= img.width() as i64 || y >= img.height() as i64 {
                    return None;
                }
                let wgt = 255.0 - img.get_pixel(x as u32, y as u32).0[0] as f64;
                sx += wgt * (x as f64 + 0.5);
                sy += wgt * (y as f64 + 0.5);
                sw += wgt;
            }
        }
        (sw > 0.0).then(|| PointPx::new(sx / sw, sy / sw))
    }

    #[test]
    fn map_point_is_exact_across_a_ridge_and_along_a_curled_edge() {
        let (page, dots) = dot_page();
        let line = FoldLine {
            y_mm: 120.0,
            slope: 0.02,
        };
        let cases = [
            Degradation {
                ridge: Some(Ridge {
                    line,
                    shift_mm: (0.6, -0.5),
                    ramp_mm: 1.2,
                    crease: 1.0,
                }),
                ..Degradation::none()
            },
            Degradation {
                curl: Some(Curl {
                    edge: Edge::Left,
                    band_mm: 30.0,
                    lift_mm: 2.0,
                    shade: 0.0,
                    blur_mm: 0.0,
                }),
                rotate_deg: 1.5,
                ..Degradation::none()
            },
            Degradation {
                ridge: Some(Ridge {
                    line,
                    shift_mm: (-0.2, 0.8),
                    ramp_mm: 1.6,
                    crease: 1.0,
                }),
                curl: Some(Curl {
                    edge: Edge::Bottom,
                    band_mm: 40.0,
                    lift_mm: 1.5,
                    shade: 0.0,
                    blur_mm: 0.0,
                }),
                perspective: 0.03,
                offset_mm: (10.0, 10.0),
                turn: 90,
                ..Degradation::none()
            },
        ];
        for (i, d) in cases.iter().enumerate() {
            let out = apply(&page, d, &mut rng(0));
            let mut checked = 0;
            for &p in &dots {
                // A dot inside the ridge's ramp is stretched unevenly: its centroid is not its
                // centre's image, so only dots clear of the ramp are compared.
                let k = page.width() as f64 / PAGE_W;
                if d.ridge.is_some() && line.distance_mm(PointMm::new(p.x / k, p.y / k)).abs() < 2.5
                {
                    continue;
                }
                let m = map_point(page.dimensions(), d, p);
                let Some(c) = dark_centroid(&out, m) else {
                    continue;
                };
                checked += 1;
                assert!(
                    c.distance(m) < 0.3,
                    "case {i}: dot {p:?} mapped to {m:?}, drawn at {c:?}"
                );
            }
            assert!(checked > 400, "case {i}: {checked}");
        }
    }

    #[test]
    fn the_ridge_moves_the_paper_beyond_the_line_by_its_shift() {
        let (w, h) = (2100, 2970); // 10 px/mm
        let line = FoldLine {
            y_mm: 150.0,
            slope: 0.0,
        };
        let d = Degradation {
            ridge: Some(Ridge {
                line,
                shift_mm: (0.5, 0.3),
                ramp_mm: 1.5,
                crease: 0.8,
            }),
            ..Degradation::none()
        };
        for x in [100.0, 1000.0, 2000.0] {
            // Above the line (and its ramp) nothing moves; 2 mm below, the full shift.
            let above = map_point((w, h), &d, PointPx::new(x, 1400.0));
            assert!(above.distance(PointPx::new(x, 1400.0)) < 1e-9);
            let below = map_point((w, h), &d, PointPx::new(x, 1520.0));
            assert!((below.x - (x + 5.0)).abs() < 1e-6, "{below:?}");
            assert!((below.y - 1523.0).abs() < 1e-6, "{below:?}");
        }
        // The crease: a thin line darker by its factor, nothing else darkened.
        let page = GrayImage::from_pixel(w, h, image::Luma([200]));
        let out = apply(&page, &d, &mut rng(0));
        let column: Vec<u8> = (1400..1600).map(|y| out.get_pixel(1000, y).0[0]).collect();
        let darkest = *column.iter().min().unwrap_or(&255);
        assert!((150..=170).contains(&darkest), "crease {darkest}");
        assert!(
            column.iter().filter(|&&v| v < 199).count() <= 12,
            "{column:?}"
        );
    }

    #[test]
    fn a_fold_shadow_darkens_a_box_and_the_paper_around_it_alike() {
        // 10 px/mm; a box with a 4 px border whose middle row the ridge follows.
        let (w, h) = (2100, 2970);
        let mut page = GrayImage::from_pixel(w, h, image::Luma([250]));
        for y in 1000..1070 {
            for x in 1000..1070 {
                let border = !(1004..1066).contains(&x) || !(1004..1066).contains(&y);
                page.put_pixel(x, y, image::Luma([if border { 20 } else { 250 }]));
            }
        }
        let shadow = FoldShadow {
            line: FoldLine {
                y_mm: 103.5,
                slope: 0.0,
            },
            width_mm: 8.0,
            depth: 0.3,
            sharp_below: true,
        };
        let d = Degradation {
            fold_shadow: Some(shadow),
            ..Degradation::none()
        };
        let out = apply(&page, &d, &mut rng(0));
        // On the line: inside the box and 10 mm beside it, both 30 % darker.
        let inside = out.get_pixel(1035, 1035).0[0] as f64;
        let beside = out.get_pixel(1135, 1035).0[0] as f64;
        assert!((inside - 175.0).abs() <= 1.0, "{inside}");
        assert!((beside - 175.0).abs() <= 1.0, "{beside}");
        // The sharp side ends 2.4 mm below the line, the soft one 5.6 mm above.
        assert_eq!(out.get_pixel(1135, 1035 + 25).0[0], 250);
        assert!(out.get_pixel(1135, 1035 - 50).0[0] < 250);
        assert_eq!(out.get_pixel(1135, 1035 - 57).0[0], 250);
        // The border darkens by the same factor.
        let border = out.get_pixel(1001, 1035).0[0] as f64;
        assert!((border - 14.0).abs() <= 1.0, "{border}");
    }

    #[test]
    fn folded_pages_put_the_shadow_across_a_row_of_boxes() {
        let marks = Landmarks::standard();
        let rows = marks.box_rows();
        for seed in 0..40 {
            let d = profile("folded", &marks, &mut rng(seed)).expect("folded");
            let s = d.fold_shadow.expect("every folded page has a shadow");
            assert!((3.0..12.0).contains(&s.width_mm) && (0.1..0.35).contains(&s.depth));
            assert!(rows.iter().any(|r| (r - s.line.y_mm).abs() <= 4.0), "{s:?}");
            if let Some(r) = d.ridge {
                let len = r.shift_mm.0.hypot(r.shift_mm.1);
                assert!((0.3..0.8).contains(&len), "{r:?}");
                assert!(r.ramp_mm > 1.5 * r.shift_mm.1.abs(), "{r:?}");
            }
        }
    }

    #[test]
    fn a_toner_band_darkens_its_column_by_its_depth_and_haze_the_whole_copy() {
        let (w, h) = (2100, 2970);
        let mut page = GrayImage::from_pixel(w, h, image::Luma([250]));
        let d = Degradation {
            photocopy: Some(Photocopy {
                bands: vec![TonerBand {
                    x_mm: 100.0,
                    width_mm: 6.0,
                    depth: 0.4,
                    mottled: false,
                }],
                haze: 0.1,
                specks_per_cm2: 0.0,
                thicken: false,
            }),
            ..Degradation::none()
        };
        sheet::prepare_blank(&mut page, &d, &mut rng(0));
        for y in [100, 1500, 2900] {
            // Middle of the band: 250 × 0.9 × 0.6; beyond it, haze only.
            assert_eq!(page.get_pixel(1000, y).0[0], 135);
            assert_eq!(page.get_pixel(1040, y).0[0], 225);
            assert_eq!(page.get_pixel(500, y).0[0], 225);
            // Soft edge: part-way.
            let edge = page.get_pixel(1025, y).0[0];
            assert!((136..225).contains(&edge), "{edge}");
        }
    }

    #[test]
    fn photocopies_aim_half_their_bands_at_columns_of_boxes() {
        let marks = Landmarks::standard();
        let cols = marks.box_columns();
        let (mut bands, mut on_boxes) = (0, 0);
        for seed in 0..60 {
            let d = profile("photocopy", &marks, &mut rng(seed)).expect("photocopy");
            let c = d.photocopy.expect("a copy");
            for b in &c.bands {
                assert!((3.0..10.0).contains(&b.width_mm) && (0.1..0.4).contains(&b.depth));
                bands += 1;
                on_boxes += cols.iter().any(|x| (x - b.x_mm).abs() < 3.0) as u32;
            }
        }
        assert!(on_boxes * 3 > bands, "{on_boxes} of {bands}");
    }

    #[test]
    fn a_cast_shadow_darkens_inside_by_its_depth_with_a_soft_edge() {
        let (w, h) = (2100, 2970);
        let page = GrayImage::from_pixel(w, h, image::Luma([200]));
        let c = CastShadow {
            centre: PointMm::new(300.0, 150.0),
            radius_mm: 150.0,
            depth: 0.5,
            penumbra_mm: 10.0,
        };
        let d = Degradation {
            cast_shadow: Some(c),
            ..Degradation::none()
        };
        let out = apply(&page, &d, &mut rng(0));
        // The edge is at x = 150 mm on the row through the centre.
        assert_eq!(out.get_pixel(1700, 1500).0[0], 100);
        assert_eq!(out.get_pixel(1400, 1500).0[0], 200);
        let edge = out.get_pixel(1500, 1500).0[0];
        assert!((149..=151).contains(&edge), "{edge}");
        let penumbra = out.get_pixel(1530, 1500).0[0];
        assert!((101..150).contains(&penumbra), "{penumbra}");
    }

    #[test]
    fn a_curled_edge_is_darker_and_bent_only_within_its_band() {
        let (w, h) = (2100, 2970);
        let c = Curl {
            edge: Edge::Top,
            band_mm: 30.0,
            lift_mm: 2.0,
            shade: 0.2,
            blur_mm: 0.2,
        };
        let d = Degradation {
            curl: Some(c),
            ..Degradation::none()
        };
        // At the edge's middle the paper moves the full lift inward; at its ends 70 %.
        let mid = map_point((w, h), &d, PointPx::new(1050.0, 0.0));
        assert!((mid.y - 20.0).abs() < 1e-6, "{mid:?}");
        let end = map_point((w, h), &d, PointPx::new(0.0, 0.0));
        assert!((end.y - 14.0).abs() < 1e-6, "{end:?}");
        let beyond = map_point((w, h), &d, PointPx::new(1050.0, 400.0));
        assert!(beyond.distance(PointPx::new(1050.0, 400.0)) < 1e-9);
        let page = GrayImage::from_pixel(w, h, image::Luma([250]));
        let out = apply(&page, &d, &mut rng(0));
        // Darker paper near the edge, lighter inward, untouched beyond the band.
        let near = out.get_pixel(1050, 25).0[0];
        let half = out.get_pixel(1050, 150).0[0];
        assert!(
            near < 210 && near > half.saturating_sub(60) && near < half,
            "{near} {half}"
        );
        assert_eq!(out.get_pixel(1050, 320).0[0], 250);
    }

    #[test]
    fn cut_corner_scans_lose_one_or_two_discs_and_keep_the_qr_code_and_every_box() {
        let marks = Landmarks::standard();
        let mut lost = [0; 3];
        for seed in 0..40 {
            let d = profile("cut-corners", &marks, &mut rng(seed)).expect("cut-corners");
            let off = discs_off_image(&d, &marks);
            assert!(
                (1..=2).contains(&off),
                "seed {seed}: {off} discs off: {d:?}"
            );
            assert!(qr_and_boxes_on_image(&d, &marks), "seed {seed}: {d:?}");
            lost[off] += 1;
        }
        assert!(lost[1] > 0 && lost[2] > 0, "{lost:?}");
        // On the image itself: a disc drawn on a page at 50 DPI is gone, the boxes are not.
        let dpi = 50.0;
        let k = dpi / crate::geometry::MM_PER_INCH;
        let (w, h) = crate::render::raster::page_size_px(dpi);
        let mut page = GrayImage::from_pixel(w, h, image::Luma([255]));
        for f in &marks.fiducials {
            for y in 0..h {
                for x in 0..w {
                    let (px, py) = ((x as f64 + 0.5) / k, (y as f64 + 0.5) / k);
                    if (px - f.x).hypot(py - f.y) <= marks.fiducial_radius_mm {
                        page.put_pixel(x, y, image::Luma([0]));
                    }
                }
            }
        }
        let dark_discs = |img: &GrayImage| img.iter().filter(|&&v| v < 128).count();
        let whole = dark_discs(&page);
        for seed in 0..10 {
            let mut d = profile("cut-corners", &marks, &mut rng(seed)).expect("cut-corners");
            d.blur_sigma_px = 0.0;
            d.noise_sigma = 0.0;
            d.light_gradient = 0.0;
            d.fold = false;
            d.streak = false;
            d.background = 255;
            let out = apply(&page, &d, &mut rng(seed));
            let left = dark_discs(&out) as f64 / whole as f64 * 4.0 / d.scale.powi(2);
            let expected = 4.0 - discs_off_image(&d, &marks) as f64;
            assert!((left - expected).abs() < 0.35, "seed {seed}: {left} discs");
        }
    }

    #[test]
    fn phone_corner_photos_hide_exactly_one_disc_and_nothing_that_counts() {
        let marks = Landmarks::standard();
        let (mut fingers, mut framed) = (0, 0);
        for seed in 0..40 {
            let d = profile("phone-corner", &marks, &mut rng(seed)).expect("phone-corner");
            assert!(qr_and_boxes_on_image(&d, &marks), "seed {seed}");
            match &d.cover {
                Some(c) => {
                    fingers += 1;
                    assert_eq!(discs_off_image(&d, &marks), 0, "seed {seed}");
                    assert!(
                        (0..4).filter(|&k| cover_hides_only(c, k, &marks)).count() == 1,
                        "seed {seed}: {c:?}"
                    );
                }
                None => {
                    framed += 1;
                    assert_eq!(discs_off_image(&d, &marks), 1, "seed {seed}: {d:?}");
                }
            }
        }
        assert!(
            fingers > 5 && framed > 5,
            "{fingers} fingers, {framed} framed out"
        );
    }

    #[test]
    fn a_finger_over_a_disc_leaves_the_qr_code_and_the_boxes_untouched() {
        let marks = Landmarks::standard();
        let (w, h) = (1050, 1485); // 5 px/mm
        let page = GrayImage::from_pixel(w, h, image::Luma([250]));
        for seed in 0..30 {
            let d = profile("phone-corner", &marks, &mut rng(seed)).expect("phone-corner");
            let Some(c) = d.cover else { continue };
            let only_cover = Degradation {
                cover: Some(c),
                ..Degradation::none()
            };
            let out = apply(&page, &only_cover, &mut rng(0));
            let px = |p: PointMm| out.get_pixel((p.x * 5.0) as u32, (p.y * 5.0) as u32).0[0];
            let hidden: Vec<&PointMm> = marks.fiducials.iter().filter(|f| px(**f) < 200).collect();
            assert_eq!(hidden.len(), 1, "seed {seed}: {c:?}");
            for r in marks.boxes.iter().chain(std::iter::once(&marks.qr)) {
                for p in r.corners().into_iter().chain(std::iter::once(r.center())) {
                    assert_eq!(px(p), 250, "seed {seed}: {r:?} touched");
                }
            }
        }
    }

    #[test]
    fn a_seal_lies_over_the_title_and_off_boxes_qr_and_discs() {
        let marks = Landmarks::standard();
        let form = crate::form::Form::default_form();
        let layout = Layout::new(&form).expect("layout");
        let dpi = 100.0;
        let blank = crate::render::raster::render(&layout.shapes, dpi);
        let k = blank.width() as f64 / PAGE_W;
        for seed in 0..15 {
            let d = profile("stamped", &marks, &mut rng(seed)).expect("stamped");
            let s = d.stamp.expect("a seal");
            assert!(stamp_is_clear(&s, &marks), "seed {seed}: {s:?}");
            assert!((18.0..22.0).contains(&s.radius_mm));
            let mut page = blank.clone();
            sheet::prepare_blank(&mut page, &d, &mut rng(seed));
            let changed = |r: &RectMm| {
                let (x0, y0) = ((r.x * k) as u32, (r.y * k) as u32);
                let (x1, y1) = (
                    (r.right() * k).ceil() as u32,
                    (r.bottom() * k).ceil() as u32,
                );
                (y0..y1).any(|y| (x0..x1).any(|x| page.get_pixel(x, y) != blank.get_pixel(x, y)))
            };
            for r in marks.boxes.iter().chain(std::iter::once(&marks.qr)) {
                assert!(!changed(r), "seed {seed}: {r:?} under the seal");
            }
            assert!(changed(&marks.header), "seed {seed}: no seal on the header");
            // A ring in mid-gray: on white paper, no darker than its ink, and visible.
            let ring: Vec<u8> = (0..72)
                .filter_map(|i| {
                    let a = i as f64 * std::f64::consts::TAU / 72.0;
                    let (x, y) = (
                        ((s.centre.x + (s.radius_mm - 0.6) * a.cos()) * k) as u32,
                        ((s.centre.y + (s.radius_mm - 0.6) * a.sin()) * k) as u32,
                    );
                    (blank.get_pixel(x, y).0[0] == 255).then(|| page.get_pixel(x, y).0[0])
                })
                .collect();
            let darkest = *ring.iter().min().expect("ring on paper");
            assert!(
                darkest < 230 && darkest + 10 >= s.gray,
                "seed {seed}: ring {darkest}, ink {}",
                s.gray
            );
        }
    }

    #[test]
    fn a_photo_has_background_around_the_page() {
        let page = test_page(100.0);
        let d = Degradation {
            perspective: 0.03,
            offset_mm: (15.0, 15.0),
            background: 90,
            ..Degradation::none()
        };
        let out = apply(&page, &d, &mut rng(0));
        for (x, y) in [(2, 2), (out.width() - 3, out.height() - 3)] {
            assert_eq!(out.get_pixel(x, y).0[0], 90);
        }
        let centre = out.get_pixel(out.width() / 2, out.height() / 2 + 10).0[0];
        assert!(centre > 200, "page white at centre, got {centre}");
    }

    #[test]
    fn a_streak_adds_a_dark_full_height_column() {
        let page = test_page(100.0);
        let dark_column = |img: &GrayImage| {
            (0..img.width()).any(|x| (0..img.height()).all(|y| img.get_pixel(x, y).0[0] <= 140))
        };
        assert!(!dark_column(&page));
        for seed in 0..10 {
            let d = Degradation {
                streak: true,
                ..Degradation::none()
            };
            assert!(
                dark_column(&apply(&page, &d, &mut rng(seed))),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn a_fold_is_a_thin_line_across_the_page() {
        let page = GrayImage::from_pixel(800, 1100, image::Luma([255]));
        let d = Degradation {
            fold: true,
            ..Degradation::none()
        };
        for seed in 0..10 {
            let out = apply(&page, &d, &mut rng(seed));
            // Every column is crossed by a shadow a few pixels tall, and nothing else changes.
            for x in (0..800).step_by(50) {
                let dark: Vec<u32> = (0..1100)
                    .filter(|&y| out.get_pixel(x, y).0[0] < 250)
                    .collect();
                assert!(
                    !dark.is_empty() && dark.len() <= 4,
                    "seed {seed}, x {x}: {dark:?}"
                );
                assert!(dark[dark.len() - 1] - dark[0] < 4);
            }
        }
    }

    #[test]
    fn binarize_leaves_only_black_and_white() {
        let page = test_page(100.0);
        let d = Degradation {
            rotate_deg: 3.0,
            blur_sigma_px: 1.0,
            noise_sigma: 8.0,
            light_gradient: 0.3,
            binarize: true,
            ..Degradation::none()
        };
        let out = apply(&page, &d, &mut rng(3));
        assert!(out.iter().all(|&v| v == 0 || v == 255));
        assert!(out.contains(&0));
    }

    #[test]
    fn blur_keeps_flat_areas_and_softens_edges() {
        let mut img = GrayImage::from_pixel(60, 40, image::Luma([200]));
        for y in 0..40 {
            for x in 30..60 {
                img.put_pixel(x, y, image::Luma([20]));
            }
        }
        gaussian_blur(&mut img, 1.5);
        assert_eq!(img.get_pixel(5, 20).0[0], 200);
        assert_eq!(img.get_pixel(55, 0).0[0], 20);
        let edge = img.get_pixel(30, 20).0[0];
        assert!((60..160).contains(&edge), "edge {edge}");
    }

    #[test]
    fn the_same_seed_gives_byte_identical_files() {
        let page = test_page(100.0);
        for name in PROFILES {
            for seed in 0..3 {
                let run = || {
                    let mut r = rng(seed);
                    let d = profile(name, &Landmarks::standard(), &mut r).expect(name);
                    let out = apply(&page, &d, &mut r);
                    encode(&out, &d).expect("encodes")
                };
                let (a, ext) = run();
                assert!(ext == "jpg" || ext == "png");
                assert_eq!((a, ext), run(), "{name} seed {seed}");
            }
        }
    }

    #[test]
    fn encode_writes_what_it_says() {
        let page = test_page(50.0);
        let (png, ext) = encode(&page, &Degradation::none()).expect("png");
        assert_eq!(ext, "png");
        let back = image::load_from_memory(&png).expect("decodes").to_luma8();
        assert_eq!(back, page);
        let d = Degradation {
            jpeg_quality: Some(60),
            ..Degradation::none()
        };
        let (jpg, ext) = encode(&page, &d).expect("jpg");
        assert_eq!(ext, "jpg");
        assert_eq!(&jpg[..2], &[0xFF, 0xD8]);
        let back = image::load_from_memory(&jpg).expect("decodes");
        assert_eq!(back.width(), page.width());
    }
}
