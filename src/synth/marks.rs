//! How people mark a checkbox, drawn onto an upright page image.
//!
//! A mark is made of hand-like strokes: anti-aliased thick polylines that wobble, drawn with a
//! pen (ballpoint, or pencil with its grain) whose pressure drifts along the stroke. Each
//! [`MarkStyle`] promises how much of the box's *core* it darkens — the box inset by
//! [`CORE_INSET_MM`], the part a reader measures — counted as pixels darker than
//! [`INK_LEVEL`]; the unit tests hold every style to its [`MarkStyle::coverage`] range at
//! 150, 200 and 300 DPI.

use std::ops::RangeInclusive;

use image::GrayImage;
use rand::{Rng, RngExt};

use crate::geometry::RectMm;
use crate::layout::BOX_BORDER;

/// How far inside the box's outer edge the measured core starts: clear of the printed border
/// and of small registration errors.
pub const CORE_INSET_MM: f64 = 1.0;

/// A pixel darker than this counts as ink when measuring coverage.
pub const INK_LEVEL: u8 = 200;

/// Outer edge of a printed checkbox border, in image pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxPx {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

type P = (f64, f64);

impl BoxPx {
    /// Where a layout rectangle lands in an upright image with `px_per_mm` pixels per mm.
    pub fn from_mm(r: &RectMm, px_per_mm: f64) -> BoxPx {
        BoxPx {
            x: r.x * px_per_mm,
            y: r.y * px_per_mm,
            w: r.w * px_per_mm,
            h: r.h * px_per_mm,
        }
    }

    /// The box shrunk by `d` pixels on every side (grown when `d` is negative).
    pub fn inset(&self, d: f64) -> BoxPx {
        BoxPx {
            x: self.x + d,
            y: self.y + d,
            w: self.w - 2.0 * d,
            h: self.h - 2.0 * d,
        }
    }

    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// Euclidean distance from a point to the box (0 inside it).
    pub fn distance(&self, p: (f64, f64)) -> f64 {
        let dx = (self.x - p.0).max(p.0 - self.right()).max(0.0);
        let dy = (self.y - p.1).max(p.1 - self.bottom()).max(0.0);
        dx.hypot(dy)
    }

    /// The point at fractions `(u, v)` of the width and height (outside for <0 or >1).
    fn at(&self, u: f64, v: f64) -> P {
        (self.x + u * self.w, self.y + v * self.h)
    }
}

/// How a person marked a box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkStyle {
    /// Dense back-and-forth hatching over most of the box.
    Filled,
    /// ✓ spanning most of the box.
    Tick,
    /// ✗ spanning most of the box.
    Cross,
    /// One straight pencil stroke about 1 mm wide across the box, diagonal or horizontal:
    /// the faintest mark that is still clearly a vote (VVSG's test case).
    PencilLine,
    /// A tick, cross or line in very light pencil (gray 150–185).
    LightPencil,
    /// A random zig-zag.
    Scribble,
    /// A solid fill of only 25–50 % of the core, from one side or corner.
    Partial,
    /// Filled almost solid black, then scribbled over: an answer the voter cancelled.
    CrossedOut,
    /// A deliberately marginal mark: a tiny dot or very short stroke over 2–6 % of the core.
    Faint,
}

impl MarkStyle {
    pub const ALL: [MarkStyle; 9] = [
        MarkStyle::Filled,
        MarkStyle::Tick,
        MarkStyle::Cross,
        MarkStyle::PencilLine,
        MarkStyle::LightPencil,
        MarkStyle::Scribble,
        MarkStyle::Partial,
        MarkStyle::CrossedOut,
        MarkStyle::Faint,
    ];

    /// The fraction of the box's core (inset by [`CORE_INSET_MM`]) darker than [`INK_LEVEL`]
    /// that this style leaves on an otherwise blank box, before any scan degradation.
    pub fn coverage(self) -> RangeInclusive<f64> {
        match self {
            MarkStyle::Filled => 0.60..=1.0,
            MarkStyle::Tick => 0.06..=0.40,
            MarkStyle::Cross => 0.12..=0.55,
            MarkStyle::PencilLine => 0.10..=0.40,
            MarkStyle::LightPencil => 0.05..=0.50,
            MarkStyle::Scribble => 0.10..=0.85,
            MarkStyle::Partial => 0.25..=0.50,
            MarkStyle::CrossedOut => 0.90..=1.0,
            MarkStyle::Faint => 0.02..=0.06,
        }
    }
}

/// Draws one mark of `style` into the box `b` of an upright page at `px_per_mm`.
pub fn draw_mark(
    img: &mut GrayImage,
    b: &BoxPx,
    style: MarkStyle,
    px_per_mm: f64,
    rng: &mut impl Rng,
) {
    let ppm = px_per_mm;
    let inner = b.inset(BOX_BORDER * ppm);
    let core = b.inset(CORE_INSET_MM * ppm);
    match style {
        MarkStyle::Filled => {
            let pen = Pen::any(rng, ppm);
            // Sides wander from a little over the border to 0.5 mm inside it (the core starts
            // 0.6 mm inside), so the fill always spans the core; gaps come from the spacing.
            let mut side = || rng.random_range(-0.3..0.5) * ppm;
            let (l, t, r, bt) = (side(), side(), side(), side());
            let region = BoxPx {
                x: inner.x + l,
                y: inner.y + t,
                w: inner.w - l - r,
                h: inner.h - t - bt,
            };
            // Loose hatching leaves white gaps; grainy pencil loses ink of its own, so stays denser.
            let loosest = if pen.grain > 0.1 { 1.4 } else { 1.6 };
            let spacing = pen.width * rng.random_range(0.6..loosest);
            let angle = hatch_angle(rng);
            hatch(img, &region, angle, spacing, &pen, ppm, rng);
        }
        MarkStyle::Tick => {
            let pen = Pen::any(rng, ppm);
            tick(img, &inner, &pen, ppm, rng);
        }
        MarkStyle::Cross => {
            let pen = Pen::any(rng, ppm);
            cross(img, &inner, &pen, ppm, rng);
        }
        MarkStyle::PencilLine => {
            let pen = Pen {
                width: rng.random_range(0.85..1.15) * ppm,
                gray: rng.random_range(110.0..170.0),
                grain: rng.random_range(0.1..0.25),
            };
            line_across(img, &inner, &pen, ppm, rng);
        }
        MarkStyle::LightPencil => {
            let pen = Pen::light_pencil(rng, ppm);
            match rng.random_range(0..10) {
                0..4 => tick(img, &inner, &pen, ppm, rng),
                4..7 => cross(img, &inner, &pen, ppm, rng),
                _ => line_across(img, &inner, &pen, ppm, rng),
            }
        }
        MarkStyle::Scribble => {
            let pen = Pen::any(rng, ppm);
            let n = rng.random_range(4..=7);
            let vertical = rng.random_bool(0.3);
            let pts: Vec<P> = (0..n)
                .map(|i| {
                    let along = (i as f64 + rng.random_range(-0.3..0.3)) / (n - 1) as f64;
                    let across = if i % 2 == 0 {
                        rng.random_range(-0.05..0.3)
                    } else {
                        rng.random_range(0.7..1.05)
                    };
                    let along = along.clamp(0.0, 1.0) * 0.9 + 0.05;
                    if vertical {
                        inner.at(along, across)
                    } else {
                        inner.at(across, along)
                    }
                })
                .collect();
            let s = hand_path(&pts, &pen, ppm, 0.15, rng);
            draw_stroke(img, &s, &pen, rng.random());
        }
        MarkStyle::Partial => {
            let pen = Pen::any(rng, ppm);
            let c: f64 = rng.random_range(0.29..0.46);
            // Regions are in fractions of the core; `e` is the strip between the core and the
            // inside of the printed border.
            let e = (CORE_INSET_MM - BOX_BORDER) * ppm / core.w;
            let over = rng.random_range(0.0..0.3 * e);
            let (x0, y0, x1, y1) = if rng.random_bool(0.5) {
                // A band along one side, spanning the core's full height.
                let slack = 0.6 * e;
                (
                    -e - over,
                    -e + rng.random_range(0.0..slack),
                    c,
                    1.0 + e - rng.random_range(0.0..slack),
                )
            } else {
                // A rectangle in one corner, a × b = c of the core.
                let a = rng.random_range(c.sqrt()..1.0);
                (-e - over, -e - over, a, c / a)
            };
            // Mirror and transpose so every side and corner is used.
            let (mut x0, mut y0, mut x1, mut y1) = (x0, y0, x1, y1);
            if rng.random_bool(0.5) {
                (x0, x1) = (1.0 - x1, 1.0 - x0);
            }
            if rng.random_bool(0.5) {
                (y0, y1) = (1.0 - y1, 1.0 - y0);
            }
            if rng.random_bool(0.5) {
                (x0, y0, x1, y1) = (y0, x0, y1, x1);
            }
            let region = BoxPx {
                x: core.x + x0 * core.w,
                y: core.y + y0 * core.h,
                w: (x1 - x0) * core.w,
                h: (y1 - y0) * core.h,
            };
            let spacing = pen.width * rng.random_range(0.55..0.85);
            let angle = hatch_angle(rng);
            hatch(img, &region, angle, spacing, &pen, ppm, rng);
        }
        MarkStyle::CrossedOut => {
            let pen = Pen {
                width: rng.random_range(0.5..0.9) * ppm,
                gray: rng.random_range(10.0..50.0),
                grain: rng.random_range(0.0..0.05),
            };
            let region = inner.inset(-rng.random_range(0.0..0.3) * ppm);
            let spacing = pen.width * rng.random_range(0.5..0.7);
            let angle = hatch_angle(rng);
            hatch(img, &region, angle, spacing, &pen, ppm, rng);
            let angle = angle + std::f64::consts::FRAC_PI_2;
            hatch(img, &region, angle, spacing, &pen, ppm, rng);
            // The cancelling scribble, running over the border.
            let around = inner.inset(-ppm);
            for _ in 0..rng.random_range(1..=2) {
                let n = rng.random_range(5..=8);
                let pts: Vec<P> = (0..n)
                    .map(|_| around.at(rng.random_range(0.0..1.0), rng.random_range(0.0..1.0)))
                    .collect();
                let s = hand_path(&pts, &pen, ppm, 0.2, rng);
                draw_stroke(img, &s, &pen, rng.random());
            }
        }
        MarkStyle::Faint => faint(img, &core, ppm, rng),
    }
}

/// A stray pen stroke or dot next to the box `near`: everything it inks lies between 1.5 and
/// 6 mm from the box's outer edge, so it never touches the box itself.
pub fn draw_stray_mark(img: &mut GrayImage, near: &BoxPx, px_per_mm: f64, rng: &mut impl Rng) {
    const MIN_MM: f64 = 1.5;
    const MAX_MM: f64 = 6.0;
    let ppm = px_per_mm;
    let pen = Pen::any(rng, ppm);
    // Ink reaches half a pen width plus one anti-aliased pixel beyond the path; the path is
    // checked at its vertices, which are at most `STEP_MM` apart.
    let reach = pen.width / 2.0 + 1.0 + STEP_MM * ppm / 2.0;
    let (lo, hi) = (MIN_MM * ppm + reach, MAX_MM * ppm - reach);
    for _ in 0..64 {
        // Start somewhere in the band around the box, then wander a little.
        let d = rng.random_range(lo..hi);
        let ring = near.inset(-d);
        let t: f64 = rng.random_range(0.0..4.0);
        let (u, v) = match t as u32 {
            0 => (t.fract(), 0.0),
            1 => (1.0, t.fract()),
            2 => (1.0 - t.fract(), 1.0),
            _ => (0.0, 1.0 - t.fract()),
        };
        let start = ring.at(u, v);
        let pts: Vec<P> = if rng.random_bool(0.3) {
            vec![start]
        } else {
            let len = rng.random_range(1.0..4.0) * ppm;
            let a = rng.random_range(0.0..std::f64::consts::TAU);
            let mid = (start.0 + len * 0.5 * a.cos(), start.1 + len * 0.5 * a.sin());
            let bend = a + rng.random_range(-0.8..0.8);
            vec![
                start,
                mid,
                (
                    mid.0 + len * 0.5 * bend.cos(),
                    mid.1 + len * 0.5 * bend.sin(),
                ),
            ]
        };
        let s = hand_path(&pts, &pen, ppm, 0.1, rng);
        let ok = s.pts.iter().all(|&p| {
            let d = near.distance(p);
            d >= lo && d <= hi
        });
        if ok {
            draw_stroke(img, &s, &pen, rng.random());
            return;
        }
    }
    // Practically unreachable; a dot in the middle of the band keeps the promise anyway.
    let d = (lo + hi) / 2.0;
    let dot = Stroke {
        pts: vec![(near.x - d, near.y + near.h / 2.0)],
        pressure: vec![1.0],
    };
    draw_stroke(img, &dot, &pen, rng.random());
}

/// The fraction of the box's core (inset by [`CORE_INSET_MM`]) darker than [`INK_LEVEL`],
/// counting the pixels whose centres lie in the core.
pub fn core_ink_fraction(img: &GrayImage, b: &BoxPx, px_per_mm: f64) -> f64 {
    let core = b.inset(CORE_INSET_MM * px_per_mm);
    let (x0, x1) = pixel_span(core.x, core.right(), img.width());
    let (y0, y1) = pixel_span(core.y, core.bottom(), img.height());
    let total = (x1 - x0) * (y1 - y0);
    if total == 0 {
        return 0.0;
    }
    let mut dark = 0usize;
    for y in y0..y1 {
        for x in x0..x1 {
            if img.get_pixel(x as u32, y as u32).0[0] < INK_LEVEL {
                dark += 1;
            }
        }
    }
    dark as f64 / total as f64
}

/// Pixels whose centres lie in `[a, b)`, clipped to `0..n`.
fn pixel_span(a: f64, b: f64, n: u32) -> (usize, usize) {
    let lo = (a - 0.5).ceil().clamp(0.0, n as f64) as usize;
    let hi = (b - 0.5).ceil().clamp(0.0, n as f64) as usize;
    (lo, hi.max(lo))
}

/// What draws the stroke: width in pixels, gray of a fully inked pixel, and grain (how much
/// of the ink a pixel may randomly miss, as graphite does on paper tooth).
#[derive(Clone, Copy, Debug)]
struct Pen {
    width: f64,
    gray: f64,
    grain: f64,
}

impl Pen {
    fn ballpoint(rng: &mut impl Rng, ppm: f64) -> Pen {
        Pen {
            width: rng.random_range(0.4..0.7) * ppm,
            gray: rng.random_range(20.0..80.0),
            grain: rng.random_range(0.0..0.1),
        }
    }

    fn pencil(rng: &mut impl Rng, ppm: f64) -> Pen {
        // Grain stays below 0.25 so a fully covered pixel of the lightest pencil (170) still
        // reads as ink: 255 × (1 − 0.75 × 85/255) < 200.
        Pen {
            width: rng.random_range(0.5..1.0) * ppm,
            gray: rng.random_range(110.0..170.0),
            grain: rng.random_range(0.1..0.25),
        }
    }

    fn light_pencil(rng: &mut impl Rng, ppm: f64) -> Pen {
        Pen {
            width: rng.random_range(0.5..1.0) * ppm,
            gray: rng.random_range(150.0..185.0),
            grain: rng.random_range(0.0..0.12),
        }
    }

    /// The lightest pressure at which a fully covered pixel still reads as ink (≤ 195), so
    /// grain and pressure shade a stroke without breaking it up.
    fn pressure_floor(&self) -> f64 {
        let full = (1.0 - self.grain) * (1.0 - self.gray / 255.0) * 255.0;
        (60.0 / full).clamp(0.8, 1.0)
    }

    /// Most people use the ballpoint pen lying on the counter; some bring a pencil.
    fn any(rng: &mut impl Rng, ppm: f64) -> Pen {
        if rng.random_bool(0.75) {
            Pen::ballpoint(rng, ppm)
        } else {
            Pen::pencil(rng, ppm)
        }
    }
}

/// A polyline in pixels with the pen pressure (0..1) at each vertex.
struct Stroke {
    pts: Vec<P>,
    pressure: Vec<f64>,
}

/// Vertex spacing of hand paths, in mm.
const STEP_MM: f64 = 0.3;

/// Turns intended waypoints into a hand-drawn path: legs subdivided every [`STEP_MM`], a
/// smooth sideways wobble of about `wobble_mm`, and a slowly drifting pressure.
fn hand_path(waypoints: &[P], pen: &Pen, ppm: f64, wobble_mm: f64, rng: &mut impl Rng) -> Stroke {
    // The intended path, subdivided, with the unit normal of the leg at each vertex.
    let mut path: Vec<(P, P)> = Vec::new();
    if waypoints.len() == 1 {
        path.push((waypoints[0], (0.0, 0.0)));
    }
    for (i, leg) in waypoints.windows(2).enumerate() {
        let (a, b) = (leg[0], leg[1]);
        let len = (b.0 - a.0).hypot(b.1 - a.1);
        let normal = if len > 1e-9 {
            (-(b.1 - a.1) / len, (b.0 - a.0) / len)
        } else {
            (0.0, 0.0)
        };
        let n = ((len / (STEP_MM * ppm)).ceil() as usize).max(1);
        // The first leg includes its start; later legs start where the previous one ended.
        let first = if i == 0 { 0 } else { 1 };
        for k in first..=n {
            let t = k as f64 / n as f64;
            path.push(((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)), normal));
        }
    }
    let amp = wobble_mm * ppm;
    // Pencil pressure varies more than a ballpoint's, which inks fully or not at all.
    let drift = if pen.grain > 0.1 { 0.05 } else { 0.02 };
    let floor = pen.pressure_floor();
    let (mut off, mut press) = (0.0f64, rng.random_range(floor..=1.0));
    let mut pts = Vec::with_capacity(path.len());
    let mut pressure = Vec::with_capacity(path.len());
    for (p, normal) in path {
        pts.push((p.0 + normal.0 * off, p.1 + normal.1 * off));
        pressure.push(press);
        off = (0.8 * off + 0.5 * amp * sym(rng)).clamp(-amp, amp);
        press = (press + drift * sym(rng)).clamp(floor, 1.0);
    }
    Stroke { pts, pressure }
}

/// Handwriting in a writing area (`text` question): a few lines of cursive-like words sitting
/// on the dotted rules (`rules`, their y in mm), or a single short word, in ballpoint (only, on
/// a page a 1-bit scanner will threshold, when `pen_only`) or pencil. Letters are humps, loops,
/// rounds and descenders joined within a word, with accents above some of them, as
/// Vietnamese handwriting has.
pub fn draw_handwriting(
    img: &mut GrayImage,
    area_mm: (f64, f64, f64),
    rules: &[f64],
    px_per_mm: f64,
    pen_only: bool,
    rng: &mut impl Rng,
) {
    let ppm = px_per_mm;
    let (left, right, _top) = area_mm;
    let pen = if pen_only {
        Pen::ballpoint(rng, ppm)
    } else {
        Pen::any(rng, ppm)
    };
    let short = rng.random_bool(0.2);
    let lines = if short {
        1
    } else {
        rng.random_range(1..=rules.len().clamp(1, 4))
    };
    let first = rng.random_range(0..rules.len().saturating_sub(lines) + 1);
    let x_height = rng.random_range(2.0..3.2);
    let letter_w = rng.random_range(1.6..2.6);
    for (k, base) in rules.iter().skip(first).take(lines).enumerate() {
        let base = base - rng.random_range(0.6..1.4);
        let mut x = left + rng.random_range(2.0..15.0) + if k == 0 { 0.0 } else { -1.0 };
        let end = if short {
            x + rng.random_range(6.0..14.0)
        } else {
            (x + rng.random_range(30.0..(right - left - 10.0).max(31.0))).min(right - 4.0)
        };
        while x < end - 2.0 * letter_w {
            let letters = rng.random_range(2..=6usize);
            let mut way: Vec<P> = vec![(x, base)];
            let mut accents = Vec::new();
            for _ in 0..letters {
                let w = letter_w * rng.random_range(0.8..1.2);
                let h = x_height * rng.random_range(0.9..1.1);
                match rng.random_range(0..4) {
                    // n: a hump
                    0 => way.extend([
                        (x, base - h),
                        (x + 0.5 * w, base - 1.05 * h),
                        (x + w, base - 0.6 * h),
                        (x + w, base),
                    ]),
                    // l: a tall loop
                    1 => way.extend([
                        (x + 0.7 * w, base - 2.1 * h),
                        (x + 0.3 * w, base - 2.0 * h),
                        (x + 0.5 * w, base),
                        (x + w, base - 0.2 * h),
                    ]),
                    // o: a round
                    2 => way.extend([
                        (x + 0.8 * w, base - h),
                        (x + 0.2 * w, base - 0.9 * h),
                        (x + 0.1 * w, base - 0.2 * h),
                        (x + 0.7 * w, base),
                        (x + w, base - 0.5 * h),
                    ]),
                    // g: a descender
                    _ => way.extend([
                        (x + 0.6 * w, base - h),
                        (x + 0.5 * w, base + 1.2 * h),
                        (x + 0.2 * w, base + 0.9 * h),
                        (x + w, base - 0.3 * h),
                    ]),
                }
                if rng.random_bool(0.4) {
                    accents.push((x + 0.5 * w, base - h - rng.random_range(0.8..1.4)));
                }
                x += w;
            }
            let px: Vec<P> = way.iter().map(|&(a, b)| (a * ppm, b * ppm)).collect();
            let stroke = hand_path(&px, &pen, ppm, 0.12, rng);
            draw_stroke(img, &stroke, &pen, rng.random());
            for (ax, ay) in accents {
                let dx = rng.random_range(0.4..0.8);
                let acc = [(ax * ppm, ay * ppm), ((ax + dx) * ppm, (ay - 0.6) * ppm)];
                let stroke = hand_path(&acc, &pen, ppm, 0.05, rng);
                draw_stroke(img, &stroke, &pen, rng.random());
            }
            x += rng.random_range(1.8..3.2);
        }
    }
}

/// A uniform number in -1..1.
fn sym(rng: &mut impl Rng) -> f64 {
    rng.random_range(-1.0..1.0)
}

/// A hatching direction: horizontal, vertical or either diagonal, give or take 10°.
fn hatch_angle(rng: &mut impl Rng) -> f64 {
    let base = [0.0, 45.0, 90.0, 135.0][rng.random_range(0..4)];
    (base + rng.random_range(-10.0..10.0f64)).to_radians()
}

/// An outline of `region`, then back-and-forth strokes filling it along `angle` at most
/// `spacing` pixels apart, as a person filling a box does without lifting the pen. The pen's
/// edge reaches the region's edges.
fn hatch(
    img: &mut GrayImage,
    region: &BoxPx,
    angle: f64,
    spacing: f64,
    pen: &Pen,
    ppm: f64,
    rng: &mut impl Rng,
) {
    let r = pen.width / 2.0;
    let inner = region.inset(r.min(region.w / 2.0).min(region.h / 2.0));
    let d = (angle.cos(), angle.sin());
    let n = (-d.1, d.0);
    let corners = [
        inner.at(0.0, 0.0),
        inner.at(1.0, 0.0),
        inner.at(1.0, 1.0),
        inner.at(0.0, 1.0),
    ];
    let proj = corners.map(|c| c.0 * n.0 + c.1 * n.1);
    let omin = proj.iter().copied().fold(f64::INFINITY, f64::min);
    let omax = proj.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lines = ((omax - omin) / spacing.max(0.5)).ceil() as usize + 1;
    // First round the outline, as people do: hatching alone leaves the edges parallel to it
    // uncovered whenever the lines are tilted against them.
    let mut waypoints = Vec::with_capacity(2 * lines + 5);
    waypoints.extend(corners);
    waypoints.push(corners[0]);
    for k in 0..lines {
        let o = if lines == 1 {
            (omin + omax) / 2.0
        } else {
            omin + (omax - omin) * k as f64 / (lines - 1) as f64
        };
        // Where the line {p : p·n = o} crosses the rectangle: clip its parameter t slab by slab.
        let base = (n.0 * o, n.1 * o);
        let (mut t0, mut t1) = (f64::NEG_INFINITY, f64::INFINITY);
        for (b, dd, lo, hi) in [
            (base.0, d.0, inner.x, inner.right()),
            (base.1, d.1, inner.y, inner.bottom()),
        ] {
            if dd.abs() < 1e-12 {
                if b < lo - 1e-9 || b > hi + 1e-9 {
                    t0 = f64::INFINITY;
                }
            } else {
                let (a, c) = ((lo - b) / dd, (hi - b) / dd);
                t0 = t0.max(a.min(c));
                t1 = t1.min(a.max(c));
            }
        }
        if t0 > t1 + 1e-9 {
            continue;
        }
        let p0 = (base.0 + d.0 * t0, base.1 + d.1 * t0);
        let p1 = (base.0 + d.0 * t1, base.1 + d.1 * t1);
        if k % 2 == 0 {
            waypoints.extend([p0, p1]);
        } else {
            waypoints.extend([p1, p0]);
        }
    }
    let s = hand_path(&waypoints, pen, ppm, 0.06, rng);
    draw_stroke(img, &s, pen, rng.random());
}

/// ✓ in the box's inside `inner`, the long leg sometimes overshooting the border.
fn tick(img: &mut GrayImage, inner: &BoxPx, pen: &Pen, ppm: f64, rng: &mut impl Rng) {
    let start = inner.at(rng.random_range(0.1..0.3), rng.random_range(0.4..0.6));
    let valley = inner.at(rng.random_range(0.3..0.5), rng.random_range(0.75..0.95));
    let end = inner.at(rng.random_range(0.75..1.1), rng.random_range(-0.15..0.2));
    let s = hand_path(&[start, valley, end], pen, ppm, 0.1, rng);
    draw_stroke(img, &s, pen, rng.random());
}

/// ✗ corner to corner, each stroke possibly overshooting the border.
fn cross(img: &mut GrayImage, inner: &BoxPx, pen: &Pen, ppm: f64, rng: &mut impl Rng) {
    let mut u = |a: f64, b: f64| rng.random_range(a..b);
    let legs = [
        [
            inner.at(u(0.0, 0.2), u(0.0, 0.2)),
            inner.at(u(0.8, 1.05), u(0.8, 1.05)),
        ],
        [
            inner.at(u(0.8, 1.05), u(-0.05, 0.2)),
            inner.at(u(-0.05, 0.2), u(0.8, 1.05)),
        ],
    ];
    for leg in legs {
        let s = hand_path(&leg, pen, ppm, 0.1, rng);
        draw_stroke(img, &s, pen, rng.random());
    }
}

/// One nearly straight stroke across the box: a diagonal or a horizontal line.
fn line_across(img: &mut GrayImage, inner: &BoxPx, pen: &Pen, ppm: f64, rng: &mut impl Rng) {
    let mut u = |a: f64, b: f64| rng.random_range(a..b);
    let ends = match u(0.0, 3.0) as u32 {
        0 => [
            inner.at(u(-0.1, 0.1), u(-0.1, 0.1)),
            inner.at(u(0.9, 1.1), u(0.9, 1.1)),
        ],
        1 => [
            inner.at(u(-0.1, 0.1), u(0.9, 1.1)),
            inner.at(u(0.9, 1.1), u(-0.1, 0.1)),
        ],
        _ => {
            let y = u(0.35, 0.65);
            [
                inner.at(u(-0.1, 0.05), y),
                inner.at(u(0.95, 1.1), y + u(-0.05, 0.05)),
            ]
        }
    };
    let s = hand_path(&ends, pen, ppm, 0.03, rng);
    draw_stroke(img, &s, pen, rng.random());
}

/// A dot or a very short stroke wholly inside the core, sized to darken 3–4.5 % of it.
fn faint(img: &mut GrayImage, core: &BoxPx, ppm: f64, rng: &mut impl Rng) {
    let area = rng.random_range(0.03..0.045) * core.w * core.h;
    let mut pen = Pen {
        width: rng.random_range(0.35..0.6) * ppm,
        gray: rng.random_range(100.0..160.0),
        grain: 0.0,
    };
    // Area of a stroke: length × width plus the two round caps.
    let cap = std::f64::consts::PI * pen.width * pen.width / 4.0;
    let len = if rng.random_bool(0.5) && area > cap {
        (area - cap) / pen.width
    } else {
        pen.width = 2.0 * (area / std::f64::consts::PI).sqrt();
        0.0
    };
    let margin = len / 2.0 + pen.width / 2.0 + 0.3 * ppm;
    let room = core.inset(margin.min(core.w / 2.0).min(core.h / 2.0));
    let c = room.at(rng.random_range(0.0..1.0), rng.random_range(0.0..1.0));
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    let (dx, dy) = (len / 2.0 * a.cos(), len / 2.0 * a.sin());
    // Drawn straight and at even pressure: its whole point is its exact, small size.
    let s = Stroke {
        pts: vec![(c.0 - dx, c.1 - dy), (c.0 + dx, c.1 + dy)],
        pressure: vec![1.0, 1.0],
    };
    draw_stroke(img, &s, &pen, rng.random());
}

/// Inks one stroke: every pixel gets the largest coverage any segment gives it (one pass of
/// the pen does not darken its own overlaps), then ink multiplies into the paper, so separate
/// strokes over each other do darken.
fn draw_stroke(img: &mut GrayImage, s: &Stroke, pen: &Pen, grain_seed: u64) {
    let r = pen.width / 2.0;
    let pad = r + 1.0;
    let (w, h) = (img.width() as f64, img.height() as f64);
    let fold = |f: fn(f64, f64) -> f64, init: f64, axis: fn(&P) -> f64| {
        s.pts.iter().map(axis).fold(init, f)
    };
    let x0 = (fold(f64::min, f64::INFINITY, |p| p.0) - pad)
        .floor()
        .max(0.0);
    let y0 = (fold(f64::min, f64::INFINITY, |p| p.1) - pad)
        .floor()
        .max(0.0);
    let x1 = (fold(f64::max, f64::NEG_INFINITY, |p| p.0) + pad)
        .ceil()
        .min(w);
    let y1 = (fold(f64::max, f64::NEG_INFINITY, |p| p.1) + pad)
        .ceil()
        .min(h);
    if !(x0 < x1 && y0 < y1) {
        return;
    }
    let (bx, by) = (x0 as usize, y0 as usize);
    let (bw, bh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let mut cov = vec![0.0f32; bw * bh];
    let segments: Vec<(usize, usize)> = if s.pts.len() == 1 {
        vec![(0, 0)]
    } else {
        (0..s.pts.len() - 1).map(|i| (i, i + 1)).collect()
    };
    for (i, j) in segments {
        let (a, b) = (s.pts[i], s.pts[j]);
        let (pa, pb) = (s.pressure[i], s.pressure[j]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let sx0 = ((a.0.min(b.0) - pad).floor() - x0).max(0.0) as usize;
        let sy0 = ((a.1.min(b.1) - pad).floor() - y0).max(0.0) as usize;
        let sx1 = (((a.0.max(b.0) + pad).ceil() - x0).max(0.0) as usize).min(bw);
        let sy1 = (((a.1.max(b.1) + pad).ceil() - y0).max(0.0) as usize).min(bh);
        for yy in sy0..sy1 {
            let py = (by + yy) as f64 + 0.5;
            for xx in sx0..sx1 {
                let px = (bx + xx) as f64 + 0.5;
                let t = if len2 > 0.0 {
                    (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let d = (px - a.0 - t * dx).hypot(py - a.1 - t * dy);
                // Area coverage of a pixel by an edge at distance d, to first order.
                let c = (r + 0.5 - d).clamp(0.0, 1.0) * (pa + t * (pb - pa));
                let cell = &mut cov[yy * bw + xx];
                *cell = cell.max(c as f32);
            }
        }
    }
    let darkness = 1.0 - pen.gray / 255.0;
    for yy in 0..bh {
        for xx in 0..bw {
            let c = cov[yy * bw + xx] as f64;
            if c <= 0.0 {
                continue;
            }
            let (x, y) = (bx + xx, by + yy);
            let c = c * (1.0 - pen.grain * unit_hash(x as u64, y as u64, grain_seed));
            let p = img.get_pixel_mut(x as u32, y as u32);
            p.0[0] = (p.0[0] as f64 * (1.0 - c * darkness)).round() as u8;
        }
    }
}

/// A deterministic pseudo-random number in 0..1 for a pixel (splitmix64 finaliser), so grain
/// costs no generator calls per pixel.
fn unit_hash(x: u64, y: u64, seed: u64) -> f64 {
    let mut z =
        seed ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ y.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::MM_PER_INCH;
    use crate::layout::Shape;
    use crate::layout::{box_border, BOX_SIZE};
    use crate::render::raster::render;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::SeedableRng;

    /// A blank printed box at (20 mm, 20 mm) on a small page, and its pixel rectangle.
    fn blank_box(dpi: f64) -> (GrayImage, BoxPx) {
        let rect = RectMm::new(20.0, 20.0, BOX_SIZE, BOX_SIZE);
        let shapes: Vec<Shape> = box_border(rect).into_iter().map(Shape::Fill).collect();
        let full = render(&shapes, dpi);
        let ppm = dpi / MM_PER_INCH;
        let side = (47.0 * ppm).ceil() as u32;
        let img = image::imageops::crop_imm(&full, 0, 0, side, side).to_image();
        (img, BoxPx::from_mm(&rect, ppm))
    }

    const DPIS: [f64; 3] = [150.0, 200.0, 300.0];

    #[test]
    fn a_blank_box_has_no_ink_in_its_core() {
        for dpi in DPIS {
            let (img, b) = blank_box(dpi);
            assert_eq!(core_ink_fraction(&img, &b, dpi / MM_PER_INCH), 0.0);
        }
    }

    #[test]
    fn every_style_stays_within_its_coverage_range() {
        for style in MarkStyle::ALL {
            let range = style.coverage();
            for dpi in DPIS {
                let ppm = dpi / MM_PER_INCH;
                let (blank, b) = blank_box(dpi);
                for seed in 0..150 {
                    let mut img = blank.clone();
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
                    draw_mark(&mut img, &b, style, ppm, &mut rng);
                    let f = core_ink_fraction(&img, &b, ppm);
                    assert!(
                        range.contains(&f),
                        "{style:?} at {dpi} DPI, seed {seed}: coverage {f:.3} outside {range:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn stray_marks_stay_off_the_box() {
        for dpi in DPIS {
            let ppm = dpi / MM_PER_INCH;
            let (blank, b) = blank_box(dpi);
            let guard = b.inset(-0.5 * ppm);
            let (x0, x1) = pixel_span(guard.x, guard.right(), blank.width());
            let (y0, y1) = pixel_span(guard.y, guard.bottom(), blank.height());
            for seed in 0..300 {
                let mut img = blank.clone();
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
                draw_stray_mark(&mut img, &b, ppm, &mut rng);
                let mut changed_near = false;
                let mut changed_anywhere = false;
                for (x, y, p) in img.enumerate_pixels() {
                    if p != blank.get_pixel(x, y) {
                        changed_anywhere = true;
                        let (x, y) = (x as usize, y as usize);
                        changed_near |= (x0..x1).contains(&x) && (y0..y1).contains(&y);
                        let far = b.distance((x as f64 + 0.5, y as f64 + 0.5));
                        assert!(far < 6.0 * ppm + 1.0, "seed {seed}: ink {far:.1} px away");
                    }
                }
                assert!(changed_anywhere, "seed {seed}: no stray mark drawn");
                assert!(
                    !changed_near,
                    "{dpi} DPI, seed {seed}: stray mark touches the box"
                );
            }
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_mark() {
        let (blank, b) = blank_box(200.0);
        let ppm = 200.0 / MM_PER_INCH;
        for style in MarkStyle::ALL {
            let draw = || {
                let mut img = blank.clone();
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
                draw_mark(&mut img, &b, style, ppm, &mut rng);
                img
            };
            assert_eq!(draw(), draw(), "{style:?}");
        }
    }
}
