//! The embedded fonts (DejaVu Sans, licence in `assets/fonts/`) and text measurement in
//! millimetres (the glyph loop itself is `crate::draw`'s).
//!
//! Layout, the PNG renderer and the PDF writer all use these same font files, so a line that
//! fits in the layout fits on paper and on screen.

use ab_glyph::{Font, FontRef};

use crate::draw;

/// DejaVu Sans, the regular face (embedded in every PDF ballot).
pub(crate) const REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold.
pub(crate) const BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// Millimetres per typographic point.
pub const MM_PER_PT: f64 = 25.4 / 72.0;

/// Which face of the font a text is set in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weight {
    /// Body text.
    Regular,
    /// Titles, headings, the agency's name and the motto.
    Bold,
}

/// The embedded face for `weight`, ready to measure and draw.
pub(crate) fn font(weight: Weight) -> FontRef<'static> {
    let bytes = match weight {
        Weight::Regular => REGULAR_TTF,
        Weight::Bold => BOLD_TTF,
    };
    FontRef::try_from_slice(bytes).expect("the embedded fonts are valid TrueType")
}

/// ab_glyph scales by the font's line height, not its em square: the scale at which one em is
/// `em` units (points, pixels…), as PDF and every typesetter mean a font size.
pub(crate) fn em_scale(font: &FontRef<'static>, em: f64) -> ab_glyph::PxScale {
    let upem = font.units_per_em().unwrap_or(1000.0);
    ab_glyph::PxScale::from((em as f32) * font.height_unscaled() / upem)
}

/// Width of a single line of text, in millimetres.
pub fn text_width_mm(text: &str, size_pt: f64, weight: Weight) -> f64 {
    draw::text_width(text, size_pt, weight) * MM_PER_PT
}

/// Ascent (above the baseline) in millimetres at `size_pt`.
pub fn ascent_mm(size_pt: f64, weight: Weight) -> f64 {
    draw::vertical_metrics(size_pt, weight).0 * MM_PER_PT
}

/// Descent (below the baseline, positive) in millimetres at `size_pt`.
pub fn descent_mm(size_pt: f64, weight: Weight) -> f64 {
    -draw::vertical_metrics(size_pt, weight).1 * MM_PER_PT
}

/// The first character the font has no glyph for (a tofu box on paper), if any.
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
    let measure = |s: &str| text_width_mm(s, size_pt, weight);
    if let Some(word) = text.split_whitespace().find(|w| measure(w) > width_mm) {
        return Err(word.to_string());
    }
    Ok(draw::wrap(text.split_whitespace(), width_mm, measure))
}

/// Like [`wrap`], in as many lines, but with the breaks placed so that the longest line is as
/// short as it can be and the last line is not one syllable alone: a column heading reads
/// "Không / hài lòng", never "Không hài / lòng".
pub fn wrap_balanced(
    text: &str,
    size_pt: f64,
    weight: Weight,
    width_mm: f64,
) -> Result<Vec<String>, String> {
    let greedy = wrap(text, size_pt, weight, width_mm)?;
    let words: Vec<&str> = text.split_whitespace().collect();
    // Headings are a few words: trying every way to cut them is cheap. Long texts keep the
    // greedy breaks.
    if greedy.len() < 2 || words.len() > 12 {
        return Ok(greedy);
    }
    let n = greedy.len();
    let mut best: Option<(f64, Vec<String>)> = None;
    // Cuts as a bit mask over the gaps between words, exactly n - 1 of them.
    for mask in 0u32..(1 << (words.len() - 1)) {
        if mask.count_ones() as usize != n - 1 {
            continue;
        }
        let mut lines = vec![words[0].to_string()];
        for (i, w) in words.iter().enumerate().skip(1) {
            if mask & (1 << (i - 1)) != 0 {
                lines.push(w.to_string());
            } else if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(w);
            }
        }
        let widest = lines
            .iter()
            .map(|l| text_width_mm(l, size_pt, weight))
            .fold(0.0, f64::max);
        if widest > width_mm {
            continue;
        }
        // A last syllable alone ("Rất hài / lòng") splits a Vietnamese word: taken only when
        // nothing else fits.
        let orphan = lines.last().is_some_and(|l| !l.contains(' ')) && words.len() > n;
        let cost = widest + if orphan { 1000.0 } else { 0.0 };
        if best.as_ref().is_none_or(|(b, _)| cost < *b - 1e-9) {
            best = Some((cost, lines));
        }
    }
    Ok(best.map_or(greedy, |(_, l)| l))
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

    #[test]
    fn balanced_wrap_keeps_hai_long_together() {
        let lines = wrap_balanced("Không hài lòng", 8.0, Weight::Bold, 22.0).expect("wraps");
        assert_eq!(lines, ["Không", "hài lòng"]);
        let lines = wrap_balanced("Rất không hài lòng", 8.0, Weight::Bold, 22.0).expect("wraps");
        assert_eq!(lines, ["Rất không", "hài lòng"]);
        let lines = wrap_balanced("Rất hài lòng", 8.0, Weight::Bold, 19.0).expect("wraps");
        assert_eq!(lines, ["Rất", "hài lòng"]);
        assert_eq!(
            wrap_balanced("Hài lòng", 8.0, Weight::Bold, 22.0).expect("fits"),
            ["Hài lòng"]
        );
    }
}
