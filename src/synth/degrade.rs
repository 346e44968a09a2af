//! What scanners and phones do to a page: skew, scale, perspective and shift, quarter turns,
//! uneven light, folds, dirty-glass streaks, blur, sensor noise, 1-bit thresholding and JPEG.
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

use crate::geometry::PointPx;
use crate::layout::PAGE_W;

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

/// Names accepted by [`profile`].
pub const PROFILES: [&str; 4] = ["clean", "office-scanner", "bad-scanner", "phone-photo"];

/// Draws the degradation of one scan from the named device profile; `None` for an unknown name.
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
pub fn profile(name: &str, rng: &mut impl Rng) -> Option<Degradation> {
    let mut d = Degradation::none();
    match name {
        "clean" => {
            if rng.random_bool(0.5) {
                d.noise_sigma = rng.random_range(0.0..1.5);
            }
        }
        "office-scanner" => {
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
        "phone-photo" => {
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
        _ => return None,
    }
    Some(d)
}

/// A number in −1..1, most often near 0 (the sum of two uniforms).
fn triangular(rng: &mut impl Rng) -> f64 {
    rng.random_range(-0.5..0.5) + rng.random_range(-0.5..0.5)
}

/// Renders the scan of `page` under `d`: fold (on the paper), geometric warp, quarter turn,
/// then uneven light, streak, blur, noise and 1-bit threshold, in the order a device applies
/// them. JPEG is left to [`encode`].
pub fn apply(page: &GrayImage, d: &Degradation, rng: &mut impl Rng) -> GrayImage {
    let geo = Geometry::new(page.dimensions(), d);
    // The crease belongs to the sheet, so it is drawn first and skews and turns with it.
    let folded = d.fold.then(|| {
        let mut sheet = page.clone();
        fold(&mut sheet, rng);
        sheet
    });
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

/// Where the point `p` of a page of `page_size` pixels lands in the image [`apply`] makes of
/// it (pixel centres at +0.5).
pub fn map_point(page_size: (u32, u32), d: &Degradation, p: PointPx) -> PointPx {
    let geo = Geometry::new(page_size, d);
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

fn mul(a: &M3, b: &M3) -> M3 {
    let mut r = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            r[i * 3 + j] = (0..3).map(|k| a[i * 3 + k] * b[k * 3 + j]).sum();
        }
    }
    r
}

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
    fn new((pw, ph): (u32, u32), d: &Degradation) -> Geometry {
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
        let shape = mul(&rotate_scale, &mul(&keystone, &translate(-cx, -cy)));
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
                fwd: mul(&translate(mx - x0, my - y0), &shape),
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
                fwd: mul(&translate(cx + ox + m, cy + oy + m), &shape),
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
                let d = profile(name, &mut rng(seed)).expect(name);
                assert!([0, 90, 180, 270].contains(&d.turn), "{name}: {d:?}");
                assert!((0.0..=0.4).contains(&d.light_gradient), "{name}: {d:?}");
            }
        }
        assert!(profile("flatbed", &mut rng(0)).is_none());
        assert!(profile("", &mut rng(0)).is_none());
    }

    #[test]
    fn none_and_clean_leave_the_page_nearly_unchanged() {
        let page = test_page(100.0);
        assert_eq!(apply(&page, &Degradation::none(), &mut rng(1)), page);
        for seed in 0..5 {
            let d = profile("clean", &mut rng(seed)).expect("clean");
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
                let mut d = profile(name, &mut rng(seed)).expect(name);
                // Geometry only, so the square's darkness is unambiguous.
                d = Degradation {
                    blur_sigma_px: 0.0,
                    noise_sigma: 0.0,
                    light_gradient: 0.0,
                    fold: false,
                    streak: false,
                    binarize: false,
                    background: 255,
                    ..d
                };
                let out = apply(&page, &d, &mut rng(seed));
                assert_eq!(out.dimensions(), output_size(page.dimensions(), &d));
                if d.is_photo() {
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
                    let d = profile(name, &mut r).expect(name);
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
