//! Renders a ballot's shapes into an 8-bit grayscale image at a given DPI, anti-aliased by
//! exact area coverage so box edges land within a fraction of a pixel of the layout.

use image::GrayImage;

use crate::draw;
use crate::fonts::MM_PER_PT;
use crate::geometry::{RectMm, MM_PER_INCH};
use crate::layout::{Shape, PAGE_H, PAGE_W};

/// Image size in pixels of an A4 page at `dpi`.
pub fn page_size_px(dpi: f64) -> (u32, u32) {
    let s = dpi / MM_PER_INCH;
    ((PAGE_W * s).round() as u32, (PAGE_H * s).round() as u32)
}

/// Draws a ballot's shapes onto a white A4 page at `dpi`: the PNG a unit prints, and the
/// synthetic scans start from.
pub fn render(shapes: &[Shape], dpi: f64) -> GrayImage {
    let (w, h) = page_size_px(dpi);
    let mut img = GrayImage::from_pixel(w, h, image::Luma([255]));
    draw(&mut img, shapes, dpi);
    img
}

/// Draws shapes onto an existing page image (a form's pre-rendered static part, say).
pub fn draw(img: &mut GrayImage, shapes: &[Shape], dpi: f64) {
    let img = &mut *img;
    let s = dpi / MM_PER_INCH;
    for shape in shapes {
        match shape {
            Shape::Fill(r) => fill_rect(img, r, s),
            Shape::Disc { center, radius } => {
                fill_disc(img, center.x * s, center.y * s, radius * s)
            }
            Shape::Text(t) => {
                draw::glyphs(
                    &t.text,
                    t.size_pt * MM_PER_PT * s,
                    t.weight,
                    (t.x * s) as f32,
                    (t.baseline * s) as f32,
                    |px, py, c| ink(img, px, py, c as f64),
                );
            }
        }
    }
}

/// Darkens one pixel by `coverage` of black ink (multiplicative, so overlaps stay black).
pub fn ink(img: &mut GrayImage, x: i64, y: i64, coverage: f64) {
    if x < 0 || y < 0 || x >= img.width() as i64 || y >= img.height() as i64 {
        return;
    }
    let p = img.get_pixel_mut(x as u32, y as u32);
    let c = coverage.clamp(0.0, 1.0);
    p.0[0] = (p.0[0] as f64 * (1.0 - c)).round() as u8;
}

fn fill_rect(img: &mut GrayImage, r: &RectMm, s: f64) {
    let (x0, y0, x1, y1) = (r.x * s, r.y * s, r.right() * s, r.bottom() * s);
    for py in y0.floor() as i64..y1.ceil() as i64 {
        let cy = (y1.min(py as f64 + 1.0) - y0.max(py as f64)).max(0.0);
        for px in x0.floor() as i64..x1.ceil() as i64 {
            let cx = (x1.min(px as f64 + 1.0) - x0.max(px as f64)).max(0.0);
            ink(img, px, py, cx * cy);
        }
    }
}

fn fill_disc(img: &mut GrayImage, cx: f64, cy: f64, r: f64) {
    const SUB: usize = 4;
    for py in (cy - r).floor() as i64..(cy + r).ceil() as i64 {
        for px in (cx - r).floor() as i64..(cx + r).ceil() as i64 {
            let mut inside = 0;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let x = px as f64 + (sx as f64 + 0.5) / SUB as f64;
                    let y = py as f64 + (sy as f64 + 0.5) / SUB as f64;
                    if (x - cx).hypot(y - cy) <= r {
                        inside += 1;
                    }
                }
            }
            ink(img, px, py, inside as f64 / (SUB * SUB) as f64);
        }
    }
}
