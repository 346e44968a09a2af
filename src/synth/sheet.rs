//! What happens to the sheet itself, in page coordinates, before a device captures it: a
//! photocopied blank, the unit's seal, a fold's shadow and displaced ridge, a curled edge, a
//! cast shadow, a finger over a corner. The parameters live in [`Degradation`]; this module
//! draws them. Displacements (ridge, curl) are exact: [`forward_mm`] is what `map_point`
//! composes with the device's warp, and [`warp`] resamples by its exact inverse.

use image::GrayImage;
use rand::{Rng, RngExt};

use super::degrade::{
    CastShadow, Cover, Curl, Degradation, Edge, FoldShadow, Photocopy, Ridge, Stamp,
};
use crate::geometry::PointMm;
use crate::layout::{PAGE_H, PAGE_W};

/// Pixels per millimetre of a page image (A4: its width over [`PAGE_W`]).
fn ppm(img: &GrayImage) -> f64 {
    img.width().max(1) as f64 / PAGE_W
}

/// Centre of pixel (x, y) in page millimetres.
fn mm(x: u32, y: u32, ppm: f64) -> PointMm {
    PointMm::new((x as f64 + 0.5) / ppm, (y as f64 + 0.5) / ppm)
}

/// 0 below −½, 1 above ½, smooth (C¹) in between; slope at most 1.5.
fn smoothstep(t: f64) -> f64 {
    let u = (t + 0.5).clamp(0.0, 1.0);
    u * u * (3.0 - 2.0 * u)
}

/// Deterministic pseudo-random number in 0..1 for an integer grid point (splitmix64 finaliser).
fn hash01(x: i64, y: i64, seed: u64) -> f64 {
    let mut z = seed
        ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Smooth value noise in 0..1 with features about `cell` units apart.
fn value_noise(x: f64, y: f64, cell: f64, seed: u64) -> f64 {
    let (u, v) = (x / cell, y / cell);
    let (i, j) = (u.floor(), v.floor());
    let (fu, fv) = (u - i, v - j);
    let (su, sv) = (fu * fu * (3.0 - 2.0 * fu), fv * fv * (3.0 - 2.0 * fv));
    let (i, j) = (i as i64, j as i64);
    let a = hash01(i, j, seed) * (1.0 - su) + hash01(i + 1, j, seed) * su;
    let b = hash01(i, j + 1, seed) * (1.0 - su) + hash01(i + 1, j + 1, seed) * su;
    a * (1.0 - sv) + b * sv
}

/// Multiplies every pixel by `factor(page mm)`.
fn shade(img: &mut GrayImage, factor: impl Fn(PointMm) -> f64) {
    let k = ppm(img);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let f = factor(mm(x, y, k));
        if f != 1.0 {
            p.0[0] = (p.0[0] as f64 * f).round().clamp(0.0, 255.0) as u8;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Before the marks: the blank itself.

/// Draws what happened to the blank before the citizen marked it: the copier's artefacts and
/// the seal. Draws nothing (and takes nothing from `rng`) when `d` has neither.
pub fn prepare_blank(page: &mut GrayImage, d: &Degradation, rng: &mut impl Rng) {
    if let Some(s) = &d.stamp {
        stamp(page, s, rng);
    }
    if let Some(c) = &d.photocopy {
        photocopy(page, c, rng);
    }
}

/// Light kept by the paper under the toner bands at `x_mm` (before mottling).
pub fn band_factor(bands: &[super::degrade::TonerBand], p: PointMm, seed: u64) -> f64 {
    let mut f = 1.0;
    for (i, b) in bands.iter().enumerate() {
        let dx = (p.x - b.x_mm).abs();
        let half = b.width_mm / 2.0;
        if dx >= half {
            continue;
        }
        // Flat middle third, soft (raised cosine) outer thirds.
        let edge = half / 3.0 * 2.0;
        let body = if dx <= half - edge {
            1.0
        } else {
            0.5 * (1.0 + (std::f64::consts::PI * (dx - (half - edge)) / edge).cos())
        };
        let mottle = if b.mottled {
            0.45 + 0.55 * value_noise(p.x, p.y, 1.5, seed.wrapping_add(i as u64))
        } else {
            1.0
        };
        f *= 1.0 - b.depth * body * mottle;
    }
    f
}

fn photocopy(img: &mut GrayImage, c: &Photocopy, rng: &mut impl Rng) {
    let k = ppm(img);
    let (w, h) = img.dimensions();
    if c.thicken {
        // Toner spreads: each pixel takes half-way to the darkest of its 3×3 neighbourhood,
        // then mid-grays darken (gamma 1.3).
        let src = img.clone();
        for y in 0..h {
            for x in 0..w {
                let mut m = 255u8;
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(w) {
                        m = m.min(src.get_pixel(xx, yy).0[0]);
                    }
                }
                let v = (src.get_pixel(x, y).0[0] as f64 + m as f64) / 2.0;
                img.put_pixel(
                    x,
                    y,
                    image::Luma([(255.0 * (v / 255.0).powf(1.3)).round() as u8]),
                );
            }
        }
    }
    let seed: u64 = rng.random();
    let haze = 1.0 - c.haze.clamp(0.0, 0.9);
    shade(img, |p| haze * band_factor(&c.bands, p, seed));
    // Toner specks: small dark dots anywhere on the copy.
    let n = (c.specks_per_cm2.max(0.0) * PAGE_W * PAGE_H / 100.0).round() as usize;
    for _ in 0..n {
        let cx = rng.random_range(0.0..w as f64);
        let cy = rng.random_range(0.0..h as f64);
        let r = rng.random_range(0.05..0.2) * k;
        let dark = rng.random_range(0.4..0.85);
        disc_ink(img, cx, cy, r, dark);
    }
}

/// Darkens a disc of radius `r` px (anti-aliased) by `dark` (fraction of the light taken).
fn disc_ink(img: &mut GrayImage, cx: f64, cy: f64, r: f64, dark: f64) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x0, x1) = ((cx - r - 1.0).floor() as i64, (cx + r + 1.0).ceil() as i64);
    let (y0, y1) = ((cy - r - 1.0).floor() as i64, (cy + r + 1.0).ceil() as i64);
    for y in y0.max(0)..y1.min(h) {
        for x in x0.max(0)..x1.min(w) {
            let d = (x as f64 + 0.5 - cx).hypot(y as f64 + 0.5 - cy);
            let cov = (r + 0.5 - d).clamp(0.0, 1.0);
            if cov > 0.0 {
                let p = &mut img.get_pixel_mut(x as u32, y as u32).0[0];
                *p = (*p as f64 * (1.0 - cov * dark)).round() as u8;
            }
        }
    }
}

/// Segments (page mm) and a stroke width make the seal's drawing.
struct Ink {
    segments: Vec<(PointMm, PointMm)>,
    width_mm: f64,
}

/// The seal: outer ring 1.2 mm, inner ring 0.5 mm at 4.5 mm inside it, a ring of letter-like
/// strokes between them, a star and two lines of lettering across the centre.
fn stamp(img: &mut GrayImage, s: &Stamp, rng: &mut impl Rng) {
    let k = ppm(img);
    let (c, r) = (s.centre, s.radius_mm);
    let dark = 1.0 - s.gray as f64 / 255.0;
    let seed: u64 = rng.random();
    let mut letters = Ink {
        segments: Vec::new(),
        width_mm: 0.35,
    };
    // Letters round the ring: cells of 1.8 mm along the circle at radius r − 2.7.
    let lr = r - 2.7;
    let n = (std::f64::consts::TAU * lr / 2.1) as usize;
    for i in 0..n {
        let a = i as f64 / n as f64 * std::f64::consts::TAU;
        let (radial, tangent) = ((a.cos(), a.sin()), (-a.sin(), a.cos()));
        let cell = |u: f64, v: f64| {
            PointMm::new(
                c.x + radial.0 * (lr + v) + tangent.0 * u,
                c.y + radial.1 * (lr + v) + tangent.1 * u,
            )
        };
        for _ in 0..rng.random_range(2..=3) {
            let p = (rng.random_range(-0.7..0.7), rng.random_range(-0.9..0.9));
            let q = (rng.random_range(-0.7..0.7), rng.random_range(-0.9..0.9));
            letters.segments.push((cell(p.0, p.1), cell(q.0, q.1)));
        }
    }
    // Two lines of lettering across the centre, below a star.
    for (row, half) in [(2.5, r * 0.5), (5.5, r * 0.35)] {
        let mut x = -half;
        while x < half {
            for _ in 0..rng.random_range(2..=3) {
                let p = PointMm::new(
                    c.x + x + rng.random_range(0.0..1.4),
                    c.y + row + rng.random_range(-0.9..0.9),
                );
                let q = PointMm::new(
                    c.x + x + rng.random_range(0.0..1.4),
                    c.y + row + rng.random_range(-0.9..0.9),
                );
                letters.segments.push((p, q));
            }
            x += 1.9;
        }
    }
    let star: Vec<PointMm> = (0..10)
        .map(|i| {
            let a = -std::f64::consts::FRAC_PI_2 + i as f64 * std::f64::consts::PI / 5.0;
            let rr = if i % 2 == 0 { 4.0 } else { 1.6 };
            PointMm::new(c.x + rr * a.cos(), c.y - 3.5 + rr * a.sin())
        })
        .collect();
    for i in 0..10 {
        letters.segments.push((star[i], star[(i + 1) % 10]));
    }
    // Coverage in the seal's bounding box: rings analytically, strokes as segments.
    let (x0, y0) = (
        ((c.x - r - 1.0) * k).floor().max(0.0) as u32,
        ((c.y - r - 1.0) * k).floor().max(0.0) as u32,
    );
    let (x1, y1) = (
        (((c.x + r + 1.0) * k).ceil().max(0.0) as u32).min(img.width()),
        (((c.y + r + 1.0) * k).ceil().max(0.0) as u32).min(img.height()),
    );
    let half_px = 0.5 / k;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = mm(x, y, k);
            let d = (p.x - c.x).hypot(p.y - c.y);
            let band = |inner: f64, outer: f64| {
                ((outer + half_px - d).min(d - inner + half_px) * k).clamp(0.0, 1.0)
            };
            let mut cov: f64 = band(r - 1.2, r).max(band(r - 5.0, r - 4.5));
            if d < r - 0.5 {
                for (a, b) in &letters.segments {
                    let ds = segment_distance(p, *a, *b);
                    cov = cov.max(((letters.width_mm / 2.0 + half_px - ds) * k).clamp(0.0, 1.0));
                    if cov >= 1.0 {
                        break;
                    }
                }
            }
            if cov <= 0.0 {
                continue;
            }
            // Patchy ink: blotches about 1.5 mm across take less.
            let took = 1.0 - (1.0 - s.coverage) * value_noise(p.x, p.y, 1.5, seed) * 1.6;
            let f = 1.0 - cov * dark * took.clamp(0.0, 1.0);
            let v = &mut img.get_pixel_mut(x, y).0[0];
            *v = (*v as f64 * f).round() as u8;
        }
    }
}

fn segment_distance(p: PointMm, a: PointMm, b: PointMm) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p.x - a.x - t * dx).hypot(p.y - a.y - t * dy)
}

// ---------------------------------------------------------------------------------------------
// After the marks: the sheet on the glass or under the phone.

/// Whether `d` displaces the sheet's content (ridge or curl).
pub fn displaces(d: &Degradation) -> bool {
    d.ridge.is_some() || d.curl.is_some()
}

/// Where a page point (mm) sits on the sheet after the ridge and the curl.
pub fn forward_mm(d: &Degradation, p: PointMm) -> PointMm {
    let p = d.ridge.as_ref().map_or(p, |r| ridge_forward(r, p));
    d.curl.as_ref().map_or(p, |c| curl_forward(c, p))
}

/// The page point (mm) that lands at sheet point `q`; `None` when no point of the page does
/// (the strip a lifted edge pulled the paper out of).
fn inverse_mm(d: &Degradation, q: PointMm) -> Option<PointMm> {
    let q = match &d.curl {
        Some(c) => curl_inverse(c, q)?,
        None => q,
    };
    Some(d.ridge.as_ref().map_or(q, |r| ridge_inverse(r, q)))
}

/// Share of the ridge's shift reached at signed distance `dist` from the line.
fn ridge_ramp(r: &Ridge, dist: f64) -> f64 {
    smoothstep(dist / r.ramp_mm.max(1e-6))
}

fn ridge_forward(r: &Ridge, p: PointMm) -> PointMm {
    let (n, t) = r.line.frame();
    let s = ridge_ramp(r, r.line.distance_mm(p));
    let (along, across) = r.shift_mm;
    PointMm::new(
        p.x + s * (across * n.0 + along * t.0),
        p.y + s * (across * n.1 + along * t.1),
    )
}

fn ridge_inverse(r: &Ridge, q: PointMm) -> PointMm {
    let (n, t) = r.line.frame();
    let (along, across) = r.shift_mm;
    let dq = r.line.distance_mm(q);
    let half = r.ramp_mm / 2.0;
    // The distance is moved by `across · ramp(d)`, increasing in d (ramp_mm > 1.5·|across|),
    // so it is found by bisection within the ramp and by a plain shift outside it.
    let d = if dq <= -half {
        dq
    } else if dq >= half + across {
        dq - across
    } else {
        let (mut lo, mut hi) = (-half, half);
        for _ in 0..50 {
            let mid = (lo + hi) / 2.0;
            if mid + across * ridge_ramp(r, mid) < dq {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (lo + hi) / 2.0
    };
    // The shift along the line leaves the distance alone, so the ramp at `d` undoes it too.
    let s = ridge_ramp(r, d);
    PointMm::new(
        q.x - s * (across * n.0 + along * t.0),
        q.y - s * (across * n.1 + along * t.1),
    )
}

/// Distance from the curled edge (inward), position along it, and the edge's length.
fn curl_frame(c: &Curl, p: PointMm) -> (f64, f64, f64) {
    match c.edge {
        Edge::Top => (p.y, p.x, PAGE_W),
        Edge::Bottom => (PAGE_H - p.y, p.x, PAGE_W),
        Edge::Left => (p.x, p.y, PAGE_H),
        Edge::Right => (PAGE_W - p.x, p.y, PAGE_H),
    }
}

fn curl_from_frame(c: &Curl, e: f64, t: f64) -> PointMm {
    match c.edge {
        Edge::Top => PointMm::new(t, e),
        Edge::Bottom => PointMm::new(t, PAGE_H - e),
        Edge::Left => PointMm::new(e, t),
        Edge::Right => PointMm::new(PAGE_W - e, t),
    }
}

/// How strongly the lift acts at distance `e` from the edge: 1 at the edge, 0 from the band's
/// inner side on, (1 − e/band)² between.
pub fn curl_weight(c: &Curl, e: f64) -> f64 {
    let u = (1.0 - e / c.band_mm.max(1.0)).clamp(0.0, 1.0);
    u * u
}

/// The displacement at the edge along its length: most in the middle (a bent edge).
fn curl_lift(c: &Curl, t: f64, len: f64) -> f64 {
    c.lift_mm * (0.7 + 0.3 * (std::f64::consts::PI * (t / len).clamp(0.0, 1.0)).sin())
}

fn curl_forward(c: &Curl, p: PointMm) -> PointMm {
    let (e, t, len) = curl_frame(c, p);
    let e2 = e + curl_lift(c, t, len) * if e < 0.0 { 1.0 } else { curl_weight(c, e) };
    curl_from_frame(c, e2, t)
}

fn curl_inverse(c: &Curl, q: PointMm) -> Option<PointMm> {
    let (e2, t, len) = curl_frame(c, q);
    let lift = curl_lift(c, t, len);
    let band = c.band_mm.max(1.0);
    if e2 >= band {
        return Some(q);
    }
    if e2 < lift {
        return None;
    }
    // e + lift·(1 − e/band)² increases in e (lift ≤ 2 mm < band / 2), so bisect on 0..band.
    let (mut lo, mut hi) = (0.0, band);
    for _ in 0..50 {
        let mid = (lo + hi) / 2.0;
        if mid + lift * curl_weight(c, mid) < e2 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(curl_from_frame(c, (lo + hi) / 2.0, t))
}

/// Resamples the page through the ridge and curl displacements (bilinear); where no page
/// point lands, `background`.
pub fn warp(src: &GrayImage, d: &Degradation, background: u8) -> GrayImage {
    let k = ppm(src);
    let (w, h) = src.dimensions();
    let mut out = src.clone();
    let at = |x: i64, y: i64| -> f64 {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
            background as f64
        } else {
            src.get_pixel(x as u32, y as u32).0[0] as f64
        }
    };
    for (x, y, v) in out.enumerate_pixels_mut() {
        let q = mm(x, y, k);
        let Some(p) = inverse_mm(d, q) else {
            v.0[0] = background;
            continue;
        };
        if (p.x - q.x).abs() < 1e-9 && (p.y - q.y).abs() < 1e-9 {
            continue;
        }
        // Source position with pixel centres at integers.
        let (sx, sy) = (p.x * k - 0.5, p.y * k - 0.5);
        let (x0, y0) = (sx.floor(), sy.floor());
        let (tx, ty) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let top = at(x0, y0) * (1.0 - tx) + at(x0 + 1, y0) * tx;
        let bottom = at(x0, y0 + 1) * (1.0 - tx) + at(x0 + 1, y0 + 1) * tx;
        v.0[0] = (top * (1.0 - ty) + bottom * ty).round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// Light kept by the paper at `p` under a fold's shadow.
pub fn fold_shadow_factor(f: &FoldShadow, p: PointMm) -> f64 {
    let s = f.line.distance_mm(p);
    let sharp = 0.3 * f.width_mm;
    let soft = f.width_mm - sharp;
    let half = if (s >= 0.0) == f.sharp_below {
        sharp
    } else {
        soft
    };
    if s.abs() >= half {
        return 1.0;
    }
    1.0 - f.depth * 0.5 * (1.0 + (std::f64::consts::PI * s / half).cos())
}

/// Light kept by the paper at `p` under a cast shadow.
pub fn cast_shadow_factor(c: &CastShadow, p: PointMm) -> f64 {
    let r = (p.x - c.centre.x).hypot(p.y - c.centre.y);
    1.0 - c.depth * smoothstep((c.radius_mm - r) / c.penumbra_mm.max(0.1))
}

/// How much of the paper the blob hides at `p`: 1 inside, 0 outside, soft across its rim.
pub fn cover_opacity(c: &Cover, p: PointMm) -> f64 {
    let (s, co) = c.angle.sin_cos();
    let (dx, dy) = (p.x - c.centre.x, p.y - c.centre.y);
    let (u, v) = (dx * co + dy * s, -dx * s + dy * co);
    let (rx, ry) = (c.radii_mm.0.max(0.1), c.radii_mm.1.max(0.1));
    let rho = ((u / rx).powi(2) + (v / ry).powi(2)).sqrt();
    // Roughly the distance outside the rim, in mm.
    let out = (rho - 1.0) * rx.min(ry);
    (0.5 - out / c.soft_mm.max(0.05)).clamp(0.0, 1.0)
}

/// Draws the sheet effects after the marks: ridge and curl displacement, the ridge's crease,
/// fold shadow, the curl's shade and blur, cast shadow and cover.
pub fn after_marks(page: &GrayImage, d: &Degradation) -> GrayImage {
    let mut img = if displaces(d) {
        warp(page, d, d.background)
    } else {
        page.clone()
    };
    let k = ppm(&img);
    if let Some(r) = &d.ridge {
        // The crease sits where the line's own points went: half the cross shift beyond it.
        let at = r.shift_mm.1 * 0.5;
        let half_w = 0.6 / k;
        shade(&mut img, |p| {
            let s = (r.line.distance_mm(p) - at).abs();
            if s < half_w {
                1.0 - (1.0 - r.crease) * (1.0 - s / half_w)
            } else {
                1.0
            }
        });
    }
    if let Some(f) = &d.fold_shadow {
        shade(&mut img, |p| fold_shadow_factor(f, p));
    }
    if let Some(c) = &d.curl {
        curl_shade_and_blur(&mut img, c);
    }
    if let Some(c) = &d.cast_shadow {
        shade(&mut img, |p| cast_shadow_factor(c, p));
    }
    if let Some(c) = &d.cover {
        let g = c.gray as f64;
        for (x, y, v) in img.enumerate_pixels_mut() {
            let o = cover_opacity(c, mm(x, y, k));
            if o > 0.0 {
                v.0[0] = (v.0[0] as f64 * (1.0 - o) + g * o).round() as u8;
            }
        }
    }
    img
}

/// The lifted band: blurred toward the edge (blend with a blurred copy, weight 1 − e/band)
/// and darker (1 − shade · (1 − e/band)²).
fn curl_shade_and_blur(img: &mut GrayImage, c: &Curl) {
    let k = ppm(img);
    let (w, h) = img.dimensions();
    let band_px = ((c.band_mm * k).ceil() as u32).max(1);
    let (x0, y0, bw, bh) = match c.edge {
        Edge::Top => (0, 0, w, band_px.min(h)),
        Edge::Bottom => (0, h.saturating_sub(band_px), w, band_px.min(h)),
        Edge::Left => (0, 0, band_px.min(w), h),
        Edge::Right => (w.saturating_sub(band_px), 0, band_px.min(w), h),
    };
    let mut blurred = image::imageops::crop_imm(img, x0, y0, bw, bh).to_image();
    let sigma = c.blur_mm * k;
    if sigma >= 0.1 {
        super::degrade::blur(&mut blurred, sigma.min(20.0));
    }
    for y in 0..bh {
        for x in 0..bw {
            let (gx, gy) = (x0 + x, y0 + y);
            let (e, _, _) = curl_frame(c, mm(gx, gy, k));
            let lin = (1.0 - e / c.band_mm.max(1.0)).clamp(0.0, 1.0);
            if lin <= 0.0 {
                continue;
            }
            let v = img.get_pixel(gx, gy).0[0] as f64;
            let b = blurred.get_pixel(x, y).0[0] as f64;
            let mixed = (v + (b - v) * lin) * (1.0 - c.shade * lin * lin);
            img.put_pixel(gx, gy, image::Luma([mixed.round().clamp(0.0, 255.0) as u8]));
        }
    }
}
