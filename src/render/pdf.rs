//! Writes print-ready PDFs with krilla: vector boxes and QR modules, the embedded font subset.

use krilla::geom::{PathBuilder, Point, Rect};
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};
use krilla::Document;

use crate::fonts::{self, Weight};
use crate::geometry::MM_PER_INCH;
use crate::layout::{Shape, PAGE_H, PAGE_W};

use super::RenderError;

const PT_PER_MM: f32 = (72.0 / MM_PER_INCH) as f32;

/// One PDF page per ballot, A4.
pub fn write_pdf(pages: &[Vec<Shape>]) -> Result<Vec<u8>, RenderError> {
    let regular = Font::new(fonts::REGULAR_TTF.to_vec().into(), 0)
        .ok_or(RenderError::Font { bold: false })?;
    let bold =
        Font::new(fonts::BOLD_TTF.to_vec().into(), 0).ok_or(RenderError::Font { bold: true })?;
    let mut doc = Document::new();
    for shapes in pages {
        let settings = PageSettings::from_wh(PAGE_W as f32 * PT_PER_MM, PAGE_H as f32 * PT_PER_MM)
            .ok_or(RenderError::PageSize)?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        // All rectangles and discs of the page in one path: smaller files, faster printing.
        let mut pb = PathBuilder::new();
        for shape in shapes {
            match shape {
                Shape::Fill(r) => {
                    if let Some(rect) = Rect::from_xywh(
                        r.x as f32 * PT_PER_MM,
                        r.y as f32 * PT_PER_MM,
                        r.w as f32 * PT_PER_MM,
                        r.h as f32 * PT_PER_MM,
                    ) {
                        pb.push_rect(rect);
                    }
                }
                Shape::Disc { center, radius } => push_circle(
                    &mut pb,
                    center.x as f32 * PT_PER_MM,
                    center.y as f32 * PT_PER_MM,
                    *radius as f32 * PT_PER_MM,
                ),
                Shape::Text(t) => {
                    let font = match t.weight {
                        Weight::Regular => regular.clone(),
                        Weight::Bold => bold.clone(),
                    };
                    surface.draw_text(
                        Point::from_xy(t.x as f32 * PT_PER_MM, t.baseline as f32 * PT_PER_MM),
                        font,
                        t.size_pt as f32,
                        &t.text,
                        false,
                        TextDirection::Auto,
                    );
                }
            }
        }
        if let Some(path) = pb.finish() {
            surface.draw_path(&path);
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| RenderError::Pdf(format!("{e:?}")))
}

/// A circle from four cubic Béziers (the usual 0.5523 control-point factor).
fn push_circle(pb: &mut PathBuilder, cx: f32, cy: f32, r: f32) {
    let k = 0.552_284_8 * r;
    pb.move_to(cx + r, cy);
    pb.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
    pb.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
    pb.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
    pb.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
    pb.close();
}
