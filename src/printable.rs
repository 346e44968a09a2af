//! The printable report of a tally: `report.html` (one self-contained page a clerk can print)
//! and `satisfaction.png` (a bar chart of the overall satisfaction rate per unit).
//!
//! Drawn from the same [`Summary`] rows as `summary.csv`, so the report and the CSV cannot
//! disagree. No dates or machine names are written: tallying twice gives the same bytes.

use ab_glyph::{Font, ScaleFont};
use image::{Rgb, RgbImage};

use crate::fonts::{self, Weight};
use crate::tally::{percent, Summary, SummaryRow};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn rate(r: (u64, u64)) -> Option<f64> {
    (r.1 > 0).then(|| r.0 as f64 * 100.0 / r.1 as f64)
}

/// `report.html`. `threshold` is the satisfaction rate (percent) below which a unit is
/// highlighted.
pub fn report_html(summary: &Summary, threshold: f64, title: &str) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">\n");
    h.push_str(&format!("<title>{}</title>\n", escape(title)));
    h.push_str(
        "<style>
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:1.5em;color:#111}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #999;padding:.25em .45em;text-align:right}
th{background:#eee}td.name{text-align:left}
tr.low td{background:#fde2e2}
.bar{display:inline-block;height:.8em;background:#2b6cb0;vertical-align:middle}
tr.low .bar{background:#c53030}
.note{font-size:.8em;color:#444}
@media print{body{margin:0}tr{page-break-inside:avoid}}
</style></head><body>\n",
    );
    h.push_str(&format!("<h1>{}</h1>\n", escape(title)));
    h.push_str(&format!(
        "<p class=\"note\">Satisfaction rate = share of valid answers (counted ballots) that are satisfied or very satisfied. Units below {threshold:.0} % are highlighted. Each unit's numbers include the units below it.</p>\n"
    ));
    h.push_str("<p><img src=\"satisfaction.png\" alt=\"Satisfaction rate per unit\" style=\"max-width:100%\"></p>\n");
    let with_returns = summary.rows.iter().any(|r| r.returns.is_some());
    h.push_str("<h2>Units</h2>\n<table><tr><th>Unit</th><th>Name</th><th>Pages</th><th>Counted</th><th>Invalid</th><th>Review</th><th>Rejected</th><th>Duplicate</th>");
    if with_returns {
        h.push_str("<th>Issued</th><th>Returned</th><th>Return rate</th>");
    }
    h.push_str("<th>Satisfaction</th><th></th></tr>\n");
    for r in &summary.rows {
        let overall = rate(r.overall);
        let low = overall.is_some_and(|x| x < threshold);
        h.push_str(&format!(
            "<tr{}><td class=\"name\">{}{}</td><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            if low { " class=\"low\"" } else { "" },
            "&nbsp;&nbsp;".repeat(r.depth),
            escape(&r.unit),
            escape(&r.name),
            r.pages,
            r.counted,
            r.invalid,
            r.review,
            r.rejected,
            r.duplicate
        ));
        if with_returns {
            let (i, ret) = r.returns.unwrap_or((0, 0));
            h.push_str(&format!(
                "<td>{i}</td><td>{ret}</td><td>{}</td>",
                percent(ret, i)
            ));
        }
        h.push_str(&format!(
            "<td>{}</td><td class=\"name\"><span class=\"bar\" style=\"width:{:.0}px\"></span></td></tr>\n",
            percent(r.overall.0, r.overall.1),
            overall.unwrap_or(0.0) * 1.5
        ));
    }
    h.push_str("</table>\n");
    if !summary.rated.is_empty() {
        h.push_str("<h2>Satisfaction per question (%)</h2>\n<table><tr><th>Unit</th>");
        for q in &summary.rated {
            h.push_str(&format!("<th>{}</th>", escape(q)));
        }
        h.push_str("<th>Overall</th></tr>\n");
        for r in &summary.rows {
            let low = rate(r.overall).is_some_and(|x| x < threshold);
            h.push_str(&format!(
                "<tr{}><td class=\"name\">{}{}</td>",
                if low { " class=\"low\"" } else { "" },
                "&nbsp;&nbsp;".repeat(r.depth),
                escape(&r.unit)
            ));
            for &(a, b) in &r.rates {
                h.push_str(&format!("<td>{}</td>", percent(a, b)));
            }
            h.push_str(&format!(
                "<td>{}</td></tr>\n",
                percent(r.overall.0, r.overall.1)
            ));
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

/// A horizontal bar chart of the overall satisfaction rate per unit, with the threshold line.
pub fn satisfaction_chart(summary: &Summary, threshold: f64) -> RgbImage {
    let rows: Vec<&SummaryRow> = summary.rows.iter().filter(|r| !r.unit.is_empty()).collect();
    let (label_w, bar_w, row_h, top) = (260u32, 600u32, 26u32, 40u32);
    let width = label_w + bar_w + 80;
    let height = top + row_h * rows.len() as u32 + 30;
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    text(
        &mut img,
        10.0,
        24.0,
        16.0,
        "Satisfaction rate per unit (%)",
        Rgb([0, 0, 0]),
    );
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as u32 * row_h;
        let label = format!("{}{}", "  ".repeat(r.depth), r.unit);
        text(
            &mut img,
            10.0,
            y as f32 + 18.0,
            13.0,
            &label,
            Rgb([0, 0, 0]),
        );
        if let Some(v) = rate(r.overall) {
            let len = (v / 100.0 * bar_w as f64).round() as u32;
            let colour = if v < threshold {
                Rgb([197, 48, 48])
            } else {
                Rgb([43, 108, 176])
            };
            fill(&mut img, label_w, y + 5, len, row_h - 10, colour);
            text(
                &mut img,
                (label_w + len + 6) as f32,
                y as f32 + 18.0,
                12.0,
                &format!("{v:.1}"),
                Rgb([0, 0, 0]),
            );
        } else {
            text(
                &mut img,
                label_w as f32,
                y as f32 + 18.0,
                12.0,
                "no counted answers",
                Rgb([120, 120, 120]),
            );
        }
    }
    let tx = label_w + (threshold / 100.0 * bar_w as f64) as u32;
    for y in (top - 6..height - 24).step_by(6) {
        fill(&mut img, tx, y, 2, 3, Rgb([0, 0, 0]));
    }
    text(
        &mut img,
        tx as f32 - 12.0,
        (height - 8) as f32,
        12.0,
        &format!("{threshold:.0} %"),
        Rgb([0, 0, 0]),
    );
    img
}

fn fill(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, c: Rgb<u8>) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, c);
        }
    }
}

/// Text with anti-aliased glyphs from the embedded font; `size` in pixels per em.
fn text(img: &mut RgbImage, x: f32, baseline: f32, size: f64, s: &str, c: Rgb<u8>) {
    let font = fonts::font(Weight::Regular);
    let scaled = font.as_scaled(fonts::em_scale(&font, size));
    let mut pen = x;
    for ch in s.chars() {
        let id = scaled.glyph_id(ch);
        let g = id.with_scale_and_position(scaled.scale(), ab_glyph::point(pen, baseline));
        pen += scaled.h_advance(id);
        if let Some(o) = font.outline_glyph(g) {
            let b = o.px_bounds();
            o.draw(|gx, gy, cov| {
                let (px, py) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    let p = img.get_pixel_mut(px as u32, py as u32);
                    for k in 0..3 {
                        p.0[k] = (p.0[k] as f32 * (1.0 - cov) + c.0[k] as f32 * cov).round() as u8;
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_everything_it_prints() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
