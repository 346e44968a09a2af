//! The embedded fonts (DejaVu Sans, licence in `assets/fonts/`) and text measurement.
//!
//! Layout, the PNG renderer and the PDF writer all use these same font files, so a line that
//! fits in the layout fits on paper and on screen.

use ab_glyph::{Font, FontRef, ScaleFont};

pub const REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
pub const BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// Millimetres per typographic point.
pub const MM_PER_PT: f64 = 25.4 / 72.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weight {
    Regular,
    Bold,
}

pub fn font(weight: Weight) -> FontRef<'static> {
    let bytes = match weight {
        Weight::Regular => REGULAR_TTF,
        Weight::Bold => BOLD_TTF,
    };
    FontRef::try_from_slice(bytes).expect("the embedded fonts are valid TrueType")
}

/// ab_glyph scales by the font's line height, not its em square: the scale at which one em is
/// `em` units (points, pixels…), as PDF and every typesetter mean a font size.
pub fn em_scale(font: &FontRef<'static>, em: f64) -> ab_glyph::PxScale {
    let upem = font.units_per_em().unwrap_or(1000.0);
    ab_glyph::PxScale::from((em as f32) * font.height_unscaled() / upem)
}

/// Width of a single line of text, in millimetres.
pub fn text_width_mm(text: &str, size_pt: f64, weight: Weight) -> f64 {
    let f = font(weight);
    let scaled = f.as_scaled(em_scale(&f, size_pt));
    let mut width = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let g = scaled.glyph_id(c);
        if let Some(p) = prev {
            width += scaled.kern(p, g);
        }
        width += scaled.h_advance(g);
        prev = Some(g);
    }
    width as f64 * MM_PER_PT
}

/// Ascent (above the baseline) in millimetres at `size_pt`.
pub fn ascent_mm(size_pt: f64, weight: Weight) -> f64 {
    let f = font(weight);
    f.as_scaled(em_scale(&f, size_pt)).ascent() as f64 * MM_PER_PT
}

/// Descent (below the baseline, positive) in millimetres at `size_pt`.
pub fn descent_mm(size_pt: f64, weight: Weight) -> f64 {
    let f = font(weight);
    -f.as_scaled(em_scale(&f, size_pt)).descent() as f64 * MM_PER_PT
}

/// True when every character has a glyph in the font (no tofu boxes on paper).
pub fn missing_glyph(text: &str, weight: Weight) -> Option<char> {
    let f = font(weight);
    text.chars()
        .filter(|c| !c.is_whitespace())
        .find(|&c| f.glyph_id(c).0 == 0)
}

/// Greedy word wrap to `width_mm`. Returns `Err(word)` when a single word is wider than the
/// line: the caller turns that into a "text too long to fit" error naming the word.
pub fn wrap(
    text: &str,
    size_pt: f64,
    weight: Weight,
    width_mm: f64,
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if text_width_mm(word, size_pt, weight) > width_mm {
            return Err(word.to_string());
        }
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width_mm(&candidate, size_pt, weight) <= width_mm {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_glyphs_are_all_present() {
        let text = "PHIẾU KHẢO SÁT MỨC ĐỘ HÀI LÒNG Rất không hài lòng Bình thường ✓ ✗ Ông/Bà";
        assert_eq!(missing_glyph(text, Weight::Regular), None);
        assert_eq!(missing_glyph(text, Weight::Bold), None);
    }

    #[test]
    fn wrap_keeps_lines_within_width_and_words_whole() {
        let t = "Nơi tiếp đón, chỗ ngồi chờ và trang thiết bị phục vụ tại nơi giải quyết";
        let lines = wrap(t, 10.0, Weight::Regular, 40.0).expect("wraps");
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(text_width_mm(l, 10.0, Weight::Regular) <= 40.0);
        }
        assert_eq!(lines.join(" "), t);
        assert!(wrap("Supercalifragilistic", 10.0, Weight::Regular, 10.0).is_err());
    }
}
