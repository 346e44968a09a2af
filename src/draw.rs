//! Drawing text and rectangles into images, and measuring and wrapping text: the one glyph
//! loop (with kerning) that the ballot renderer, the review images and report.html's chart
//! draw with and that the layout and the PDF writer measure with, greedy word wrap, and
//! blending a colour into a pixel, outlining and filling rectangles in image pixels
//! ([`PxRect`]).
//!
//! Text sizes are "units per em": pixels for an image, points for [`text_width`] when the
//! layout measures in points. The font files themselves and their metrics are in
//! [`crate::fonts`].

use ab_glyph::{Font, GlyphId, ScaleFont};
use image::{Rgb, RgbImage};

use crate::fonts::{self, Weight};

/// Moves a pen along `text` from `start`: calls `at(glyph, pen)` at each glyph's position
/// (kerned against the one before) and returns where the pen ends, after the last advance.
fn walk<F: Font, S: ScaleFont<F>>(
    scaled: &S,
    text: &str,
    start: f32,
    mut at: impl FnMut(GlyphId, f32),
) -> f32 {
    let mut pen = start;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        at(id, pen);
        pen += scaled.h_advance(id);
        prev = Some(id);
    }
    pen
}

/// Width of one line of `text` at `size` units per em (in those units).
pub fn text_width(text: &str, size: f64, weight: Weight) -> f64 {
    let font = fonts::font(weight);
    let scaled = font.as_scaled(fonts::em_scale(&font, size));
    walk(&scaled, text, 0.0, |_, _| {}) as f64
}

/// Ascent (above the baseline, positive) and descent (below it, negative) at `size` units per
/// em.
pub fn vertical_metrics(size: f64, weight: Weight) -> (f64, f64) {
    let font = fonts::font(weight);
    let scaled = font.as_scaled(fonts::em_scale(&font, size));
    (scaled.ascent() as f64, scaled.descent() as f64)
}

/// Rasterises one line of `text` at `size` pixels per em with its baseline at `baseline` and
/// its pen starting at `x`: calls `plot(x, y, coverage)` for every pixel a glyph touches
/// (coverage in 0..=1; `x`, `y` may lie outside the image) and returns the pen's end.
pub fn glyphs(
    text: &str,
    size: f64,
    weight: Weight,
    x: f32,
    baseline: f32,
    mut plot: impl FnMut(i64, i64, f32),
) -> f32 {
    let font = fonts::font(weight);
    let scaled = font.as_scaled(fonts::em_scale(&font, size));
    walk(&scaled, text, x, |id, pen| {
        let glyph = id.with_scale_and_position(scaled.scale(), ab_glyph::point(pen, baseline));
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline
                .draw(|gx, gy, c| plot(b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64, c));
        }
    })
}

/// Draws one line of `text` in `colour`, anti-aliased, at `size` pixels per em from `x` on the
/// baseline `baseline`; returns the x where the text ends.
pub fn text(
    img: &mut RgbImage,
    x: f64,
    baseline: f64,
    size: f64,
    weight: Weight,
    colour: Rgb<u8>,
    text: &str,
) -> f64 {
    glyphs(
        text,
        size,
        weight,
        x as f32,
        baseline as f32,
        |px, py, c| blend(img, px, py, colour, c),
    ) as f64
}

/// Mixes `colour` into the pixel at (`x`, `y`) by `coverage` (0 keeps the pixel, 1 replaces
/// it); a pixel outside the image is left alone.
pub fn blend(img: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>, coverage: f32) {
    if x < 0 || y < 0 || x >= img.width() as i64 || y >= img.height() as i64 {
        return;
    }
    let c = coverage.clamp(0.0, 1.0);
    let p = img.get_pixel_mut(x as u32, y as u32);
    for k in 0..3 {
        p.0[k] = (p.0[k] as f32 * (1.0 - c) + colour.0[k] as f32 * c).round() as u8;
    }
}

/// Fills the `w` × `h` pixels from (`x`, `y`) with `colour`, cut at the image's edges.
pub fn fill_rect(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, colour: Rgb<u8>) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, colour);
        }
    }
}

/// A rectangle in image pixels (edges, not pixel centres).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PxRect {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
}

impl PxRect {
    /// `r` at `s` pixels a millimetre.
    pub fn from_mm(r: &crate::geometry::RectMm, s: f64) -> PxRect {
        PxRect {
            x0: r.x * s,
            y0: r.y * s,
            x1: r.right() * s,
            y1: r.bottom() * s,
        }
    }

    /// `d` pixels wider on every side.
    pub fn grow(self, d: f64) -> PxRect {
        PxRect {
            x0: self.x0 - d,
            y0: self.y0 - d,
            x1: self.x1 + d,
            y1: self.y1 + d,
        }
    }

    /// The smallest rectangle holding both.
    pub fn union(self, o: PxRect) -> PxRect {
        PxRect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    /// Cut to a `w` × `h` image.
    pub fn clamp(self, w: f64, h: f64) -> PxRect {
        PxRect {
            x0: self.x0.clamp(0.0, w),
            y0: self.y0.clamp(0.0, h),
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
        }
    }
}

/// Draws the outline of `r`, `thickness` pixels wide inwards from its edges.
pub fn outline(img: &mut RgbImage, r: PxRect, thickness: f64, colour: Rgb<u8>) {
    let (x0, y0) = (r.x0.round() as i64, r.y0.round() as i64);
    let (x1, y1) = (r.x1.round() as i64, r.y1.round() as i64);
    let t = thickness.round().max(1.0) as i64;
    for y in y0..y1 {
        for x in x0..x1 {
            let edge = x < x0 + t || x >= x1 - t || y < y0 + t || y >= y1 - t;
            if edge {
                blend(img, x, y, colour, 1.0);
            }
        }
    }
}

/// The size at most `px` at which `text` fits in `room` pixels (never below 60 % of `px`;
/// longer texts are cut by the image edge rather than made unreadable).
pub fn fit_size(text: &str, px: f64, room: f64, weight: Weight) -> f64 {
    let w = text_width(text, px, weight);
    if w <= room || w <= 0.0 {
        px
    } else {
        (px * room / w).max(px * 0.6)
    }
}

/// [`text`], returning the pixels the line covers (from the pen's start to its end, ascent
/// to descent).
pub fn text_box(
    img: &mut RgbImage,
    x: f64,
    baseline: f64,
    px: f64,
    weight: Weight,
    colour: Rgb<u8>,
    line: &str,
) -> PxRect {
    let end = text(img, x, baseline, px, weight, colour, line);
    let (ascent, descent) = vertical_metrics(px, weight);
    PxRect {
        x0: x,
        y0: baseline - ascent,
        x1: end,
        y1: baseline - descent,
    }
}

/// Greedy word wrap: `words` in order, as many on a line as fit in `width` by `measure`. A
/// line's first word is always taken, so a word wider than the line stands alone on one (the
/// callers decide beforehand whether that is an error or cut such words).
pub fn wrap<'a>(
    words: impl IntoIterator<Item = &'a str>,
    width: f64,
    measure: impl Fn(&str) -> f64,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in words {
        if line.is_empty() {
            line = word.to_string();
            continue;
        }
        let candidate = format!("{line} {word}");
        if measure(&candidate) <= width {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kerning_makes_a_pair_narrower_than_its_letters() {
        // DejaVu Sans kerns "AV": a loop that dropped kerning measures the sum of the letters.
        let apart =
            text_width("A", 100.0, Weight::Regular) + text_width("V", 100.0, Weight::Regular);
        let pair = text_width("AV", 100.0, Weight::Regular);
        assert!(pair < apart - 1.0, "{pair} vs {apart}");
    }

    #[test]
    fn drawn_text_ends_where_it_measures() {
        let mut img = RgbImage::from_pixel(400, 60, Rgb([255, 255, 255]));
        let end = text(
            &mut img,
            10.0,
            40.0,
            30.0,
            Weight::Bold,
            Rgb([0, 0, 0]),
            "AVA Ông",
        );
        let w = text_width("AVA Ông", 30.0, Weight::Bold);
        assert!((end - 10.0 - w).abs() < 1e-3, "{end} vs {w}");
        let inked = img.pixels().filter(|p| p.0[0] < 128).count();
        assert!(inked > 200, "{inked}");
        // Nothing right of the pen's end but the last glyph's overhang.
        let right = (end.ceil() as u32 + 3..400)
            .flat_map(|x| (0..60).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 250)
            .count();
        assert_eq!(right, 0);
    }

    #[test]
    fn blend_mixes_by_coverage_and_ignores_pixels_outside() {
        let mut img = RgbImage::from_pixel(2, 1, Rgb([200, 100, 0]));
        blend(&mut img, 0, 0, Rgb([0, 200, 100]), 0.25);
        assert_eq!(img.get_pixel(0, 0).0, [150, 125, 25]);
        blend(&mut img, -1, 0, Rgb([0, 0, 0]), 1.0);
        blend(&mut img, 2, 0, Rgb([0, 0, 0]), 1.0);
        assert_eq!(img.get_pixel(1, 0).0, [200, 100, 0]);
    }

    #[test]
    fn wrap_fills_lines_greedily_and_keeps_a_long_word_alone() {
        let chars = |s: &str| s.chars().count() as f64;
        let lines = wrap("aa bb cc dddddddd e f".split(' '), 5.0, chars);
        assert_eq!(lines, ["aa bb", "cc", "dddddddd", "e f"]);
        assert!(wrap("".split_whitespace(), 5.0, chars).is_empty());
    }
}
