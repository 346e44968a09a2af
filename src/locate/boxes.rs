//! Registration from the checkboxes' printed borders: every box of the form is a landmark
//! whose place on the page is known to a tenth of a millimetre, and there are dozens of them
//! spread over the whole question area. They carry the page transform where corner discs are
//! cut off, hidden by a finger or lost in a shadow, and they pin down a phone photo's
//! perspective that three discs cannot.

use image::GrayImage;

use crate::geometry::{Homography, PointMm, PointPx, RectMm};
use crate::marks::bilinear;

/// Sampling step of the search grid. Coarser than the scoring grid (0.2 mm): the found
/// position is refined to a fraction of a cell, and the box is re-located again when scored.
const CELL_MM: f64 = 0.25;
/// Thickness of the border strip and of the paper strip just outside it, in cells.
const STRIP: i64 = 2;

/// Where a box's printed border is, within `search_mm` of where `h` puts it: the image point
/// that the box's centre maps to, or `None` when no box-shaped outline stands out there.
///
/// The score of a candidate place is how much darker the four sides of a square of the box's
/// size are than the paper just outside them. A mark inside the box does not move it (the
/// inside is not scored), text nearby does not form a square, and neighbouring boxes are
/// much further away than any search.
pub fn find_box(img: &GrayImage, h: &Homography, rect: &RectMm, search_mm: f64) -> Option<PointPx> {
    let margin = search_mm + 1.0;
    let side = (rect.w / CELL_MM).round() as i64;
    let n = ((rect.w + 2.0 * margin) / CELL_MM).round() as i64;
    let origin = PointMm::new(rect.x - margin, rect.y - margin);
    // The window is small enough to be affine in the page transform (as in `marks`).
    let o = h.map(origin);
    let ex = h.map(PointMm::new(origin.x + 10.0, origin.y));
    let ey = h.map(PointMm::new(origin.x, origin.y + 10.0));
    let k = CELL_MM / 10.0;
    let (dxi, dyi, dxj, dyj) = (
        (ex.x - o.x) * k,
        (ex.y - o.y) * k,
        (ey.x - o.x) * k,
        (ey.y - o.y) * k,
    );
    let (w, hgt) = (img.width() as f64, img.height() as f64);
    // The whole window must be on the image: a box cut by the image's edge is not a landmark.
    for (ci, cj) in [
        (0.0, 0.0),
        (n as f64, 0.0),
        (0.0, n as f64),
        (n as f64, n as f64),
    ] {
        let (x, y) = (o.x + ci * dxi + cj * dxj, o.y + ci * dyi + cj * dyj);
        if x < 0.0 || y < 0.0 || x >= w || y >= hgt {
            return None;
        }
    }
    let nu = n as usize;
    let mut v = vec![0f32; nu * nu];
    for j in 0..nu {
        for i in 0..nu {
            let (fi, fj) = (i as f64 + 0.5, j as f64 + 0.5);
            v[j * nu + i] = bilinear(img, o.x + fi * dxi + fj * dxj, o.y + fi * dyi + fj * dyj);
        }
    }
    let mut sorted = v.clone();
    let white = *sorted
        .select_nth_unstable_by(nu * nu * 9 / 10, f32::total_cmp)
        .1 as f64;
    // Integral image of darkness.
    let mut integral = vec![0f64; (nu + 1) * (nu + 1)];
    for j in 0..nu {
        let mut row = 0.0;
        for i in 0..nu {
            row += (white - v[j * nu + i] as f64).max(0.0);
            integral[(j + 1) * (nu + 1) + i + 1] = integral[j * (nu + 1) + i + 1] + row;
        }
    }
    let rect_sum = |x0: i64, y0: i64, x1: i64, y1: i64| -> f64 {
        let c = |a: i64| a.clamp(0, n) as usize;
        let (x0, y0, x1, y1) = (c(x0), c(y0), c(x1), c(y1));
        integral[y1 * (nu + 1) + x1] + integral[y0 * (nu + 1) + x0]
            - integral[y0 * (nu + 1) + x1]
            - integral[y1 * (nu + 1) + x0]
    };
    // Mean darkness of the outline of a square at (x, y) grown by `grow` cells (negative
    // shrinks it), `STRIP` cells thick, over the middle half of each side (the corners of a
    // tick or cross overshooting the box land elsewhere).
    let outline = |x: i64, y: i64, grow: i64| -> f64 {
        let (x0, y0, x1, y1) = (x - grow, y - grow, x + side + grow, y + side + grow);
        let (a0, a1) = (x0 + side / 4, x1 - side / 4);
        let (b0, b1) = (y0 + side / 4, y1 - side / 4);
        let sides = [
            rect_sum(a0, y0, a1, y0 + STRIP),
            rect_sum(a0, y1 - STRIP, a1, y1),
            rect_sum(x0, b0, x0 + STRIP, b1),
            rect_sum(x1 - STRIP, b0, x1, b1),
        ];
        // The weakest side counts most: all four sides of a box are printed.
        let weakest = sides.iter().copied().fold(f64::INFINITY, f64::min);
        let len = ((a1 - a0).max(1) * STRIP) as f64;
        (sides.iter().sum::<f64>() / 4.0 + weakest) / 2.0 / len
    };
    let score = |x: i64, y: i64| outline(x, y, 0) - outline(x, y, STRIP + 1);
    let reach = (search_mm / CELL_MM).round() as i64;
    let home = ((margin / CELL_MM).round()) as i64;
    let mut best = (f64::NEG_INFINITY, home, home);
    for y in home - reach..=home + reach {
        for x in home - reach..=home + reach {
            let s = score(x, y);
            if s > best.0 {
                best = (s, x, y);
            }
        }
    }
    let (s, bx, by) = best;
    // A printed border is near-black on paper: its outline is at least a quarter of the
    // paper's brightness darker than the paper beside it, also in a phone photo's shadow
    // (paper at 110 of 255) or on a grey scan, while text strokes and a shadow's edge never
    // form all four sides of a square.
    if s < 0.25 * white || s < 20.0 {
        return None;
    }
    // Sub-cell position from a parabola through the peak and its neighbours.
    let refine = |minus: f64, at: f64, plus: f64| {
        let d = minus - 2.0 * at + plus;
        if d < 0.0 {
            (0.5 * (minus - plus) / d).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let fx = bx as f64 + refine(score(bx - 1, by), s, score(bx + 1, by));
    let fy = by as f64 + refine(score(bx, by - 1), s, score(bx, by + 1));
    // The grid's cell (i, j) samples at (i + 0.5, j + 0.5) cells from the origin, and the
    // outline at x spans cells x .. x + side: its centre is at x + side / 2 cells.
    let cx = (fx + side as f64 / 2.0) * CELL_MM;
    let cy = (fy + side as f64 / 2.0) * CELL_MM;
    Some(h.map(PointMm::new(origin.x + cx, origin.y + cy)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{box_border, Shape, BOX_SIZE};
    use crate::render::raster;

    #[test]
    fn a_box_is_found_where_it_is_printed_within_the_search() {
        let dpi = 200.0;
        let printed = RectMm::new(21.3, 18.2, BOX_SIZE, BOX_SIZE);
        let shapes: Vec<_> = box_border(printed).into_iter().map(Shape::Fill).collect();
        let img = raster::render(&shapes, dpi);
        let h = Homography::at_dpi(dpi);
        // Looked for 2.3 mm left of and 1.2 mm below where it is.
        let expected = RectMm::new(19.0, 19.4, BOX_SIZE, BOX_SIZE);
        let found = find_box(&img, &h, &expected, 3.0).expect("found");
        let truth = h.map(printed.center());
        let off = found.distance(truth) / (dpi / 25.4);
        assert!(off < 0.08, "off by {off} mm");
        // Out of reach of a 1 mm search: not claimed.
        assert_eq!(find_box(&img, &h, &expected, 1.0), None);
    }
}
