//! Where a page image is drawn and which way it is turned: PDF placement matrices ([`Affine`]),
//! the page's visible box and how much of it an image covers, and turning the decoded image the
//! way a viewer displays it (its matrix and the page's /Rotate, in multiples of 90°, mirroring
//! included) at its native resolution.

use hayro_syntax::page::Page;
use hayro_syntax::page::Rotation;
use image::GrayImage;

/// A PDF matrix `[a b c d e f]`: x' = a·x + c·y + e, y' = b·x + d·y + f.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Affine(pub(super) [f64; 6]);

impl Affine {
    pub(super) const IDENTITY: Affine = Affine([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// `self` applied first, then `next`. The `cm` operator makes CTM' = M × CTM, i.e.
    /// `m.then(ctm)`.
    pub(super) fn then(self, next: Affine) -> Affine {
        let [a, b, c, d, e, f] = self.0;
        let [na, nb, nc, nd, ne, nf] = next.0;
        Affine([
            a * na + b * nc,
            a * nb + b * nd,
            c * na + d * nc,
            c * nb + d * nd,
            e * na + f * nc + ne,
            e * nb + f * nd + nf,
        ])
    }

    pub(super) fn apply(self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }

    pub(super) fn from_numbers(nums: &[f64]) -> Option<Affine> {
        match nums {
            [a, b, c, d, e, f] if nums.iter().all(|v| v.is_finite()) => {
                Some(Affine([*a, *b, *c, *d, *e, *f]))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub(super) x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    pub(super) fn area(&self) -> f64 {
        let w = self.x1 - self.x0;
        let h = self.y1 - self.y0;
        if w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite() {
            w * h
        } else {
            0.0
        }
    }

    pub(super) fn intersect(&self, o: &Rect) -> Rect {
        Rect {
            x0: self.x0.max(o.x0),
            y0: self.y0.max(o.y0),
            x1: self.x1.min(o.x1),
            y1: self.y1.min(o.y1),
        }
    }
}

/// The part of the page a viewer shows: crop box ∩ media box, falling back to the media box.
pub(super) fn visible_box(page: &Page<'_>) -> Rect {
    let norm = |r: hayro_syntax::object::Rect| Rect {
        x0: r.x0.min(r.x1),
        y0: r.y0.min(r.y1),
        x1: r.x0.max(r.x1),
        y1: r.y0.max(r.y1),
    };
    let media = norm(page.media_box());
    let visible = media.intersect(&norm(page.crop_box()));
    if visible.area() > 0.0 {
        visible
    } else {
        media
    }
}

/// Bounding box of the unit square (where images are drawn) under `ctm`.
pub(super) fn unit_square_bbox(ctm: Affine) -> Rect {
    let corners = [
        ctm.apply(0.0, 0.0),
        ctm.apply(1.0, 0.0),
        ctm.apply(0.0, 1.0),
        ctm.apply(1.0, 1.0),
    ];
    let mut r = Rect {
        x0: f64::INFINITY,
        y0: f64::INFINITY,
        x1: f64::NEG_INFINITY,
        y1: f64::NEG_INFINITY,
    };
    for (x, y) in corners {
        r.x0 = r.x0.min(x);
        r.y0 = r.y0.min(y);
        r.x1 = r.x1.max(x);
        r.y1 = r.y1.max(y);
    }
    r
}

/// Share of the visible page covered by an image drawn with `ctm` (0.0 for degenerate cases).
pub(super) fn coverage(ctm: Affine, page_box: &Rect) -> f64 {
    let page_area = page_box.area();
    if page_area <= 0.0 {
        return 0.0;
    }
    let c = unit_square_bbox(ctm).intersect(page_box).area() / page_area;
    if c.is_finite() {
        c.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// A display direction (x to the right, y downwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    PosX,
    NegX,
    PosY,
    NegY,
}

impl Dir {
    fn is_horizontal(self) -> bool {
        matches!(self, Dir::PosX | Dir::NegX)
    }

    fn of(x: f64, y: f64) -> Dir {
        if x.abs() >= y.abs() {
            if x >= 0.0 {
                Dir::PosX
            } else {
                Dir::NegX
            }
        } else if y >= 0.0 {
            Dir::PosY
        } else {
            Dir::NegY
        }
    }
}

/// Where the image's columns (left→right) and rows (top→bottom) point once displayed, rounded
/// to the nearest multiple of 90°.
pub(super) fn display_axes(ctm: Affine, rotation: Rotation) -> (Dir, Dir) {
    let [a, b, c, d, _, _] = ctm.0;
    if ![a, b, c, d].iter().all(|v| v.is_finite()) {
        return (Dir::PosX, Dir::PosY);
    }
    // Image space maps onto the unit square with row 0 at the top (y = 1): a step along a row
    // is (1, 0) in unit space, a step down the columns is (0, -1).
    let col = (a, b);
    let row = (-c, -d);
    // User space is y-up; /Rotate turns the page clockwise for display; display space is y-down.
    let to_display = |(x, y): (f64, f64)| match rotation {
        Rotation::None => (x, -y),
        Rotation::Horizontal => (y, x),
        Rotation::Flipped => (-x, y),
        Rotation::FlippedHorizontal => (-y, -x),
    };
    let (cx, cy) = to_display(col);
    let (rx, ry) = to_display(row);
    let col_dir = Dir::of(cx, cy);
    let mut row_dir = Dir::of(rx, ry);
    if col_dir.is_horizontal() == row_dir.is_horizontal() {
        // Degenerate or 45°-sheared matrix: keep the column direction, make rows perpendicular.
        row_dir = if col_dir.is_horizontal() {
            if ry >= 0.0 {
                Dir::PosY
            } else {
                Dir::NegY
            }
        } else if rx >= 0.0 {
            Dir::PosX
        } else {
            Dir::NegX
        };
    }
    (col_dir, row_dir)
}

/// Re-lays the pixels of `img` so its columns run along `col_dir` and its rows along `row_dir`.
pub(super) fn orient(img: GrayImage, col_dir: Dir, row_dir: Dir) -> GrayImage {
    let (w, h) = img.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let mut buf = img.into_raw();
    buf.truncate(wu * hu);
    let (out_w, out_h) = if col_dir.is_horizontal() {
        (w, h)
    } else {
        // Columns run vertically: transpose first (the output is h wide and w tall), then
        // the remaining mirrors are cheap row or buffer reversals.
        buf = transpose(&buf, wu, hu);
        (h, w)
    };
    let ow = out_w as usize;
    // After the transpose, source rows run along output x and source columns along y.
    let (x_dir, y_dir) = if col_dir.is_horizontal() {
        (col_dir, row_dir)
    } else {
        (row_dir, col_dir)
    };
    let flip_x = matches!(x_dir, Dir::NegX | Dir::NegY);
    let flip_y = matches!(y_dir, Dir::NegX | Dir::NegY);
    match (flip_x, flip_y) {
        (false, false) => {}
        (true, true) => buf.reverse(),
        (true, false) => buf.chunks_exact_mut(ow.max(1)).for_each(|r| r.reverse()),
        (false, true) => {
            let oh = out_h as usize;
            for y in 0..oh / 2 {
                let (top, bottom) = buf.split_at_mut((oh - 1 - y) * ow);
                if let (Some(a), Some(b)) =
                    (top.get_mut(y * ow..(y + 1) * ow), bottom.get_mut(..ow))
                {
                    a.swap_with_slice(b);
                }
            }
        }
    }
    GrayImage::from_raw(out_w, out_h, buf).unwrap_or_else(|| GrayImage::new(0, 0))
}

/// `out[c * h + r] = src[r * w + c]`, in 8×8 blocks within bands of rows so that reads and
/// writes both stay in cache (a sideways 200-DPI page is 4 M pixels).
fn transpose(src: &[u8], w: usize, h: usize) -> Vec<u8> {
    const B: usize = 8;
    const BAND: usize = 64;
    let mut out = vec![0u8; w * h];
    if src.len() < w * h {
        return out;
    }
    for band in (0..h).step_by(BAND) {
        let band_end = (band + BAND).min(h);
        for c0 in (0..w).step_by(B) {
            let cb = B.min(w - c0);
            for r0 in (band..band_end).step_by(B) {
                let rb = B.min(band_end - r0);
                if cb == B && rb == B {
                    // Whole block: eight rows as u64 words, transposed with shifts and masks.
                    let mut rows = [0u64; B];
                    for (i, word) in rows.iter_mut().enumerate() {
                        let s = (r0 + i) * w + c0;
                        let mut bytes = [0u8; B];
                        bytes.copy_from_slice(&src[s..s + B]);
                        *word = u64::from_le_bytes(bytes);
                    }
                    let rows = transpose8(rows);
                    for (j, word) in rows.iter().enumerate() {
                        let d = (c0 + j) * h + r0;
                        out[d..d + B].copy_from_slice(&word.to_le_bytes());
                    }
                } else {
                    for i in 0..rb {
                        for j in 0..cb {
                            out[(c0 + j) * h + r0 + i] = src[(r0 + i) * w + c0 + j];
                        }
                    }
                }
            }
        }
    }
    out
}

/// Transposes an 8×8 byte matrix held as eight little-endian rows: swaps 1-, 2- then 4-byte
/// groups between rows 1, 2 and 4 apart.
fn transpose8(mut r: [u64; 8]) -> [u64; 8] {
    for (dist, shift, mask) in [
        (1, 8, 0x00FF_00FF_00FF_00FF_u64),
        (2, 16, 0x0000_FFFF_0000_FFFF),
        (4, 32, 0x0000_0000_FFFF_FFFF),
    ] {
        for i in 0..8 {
            if i & dist == 0 {
                let t = ((r[i] >> shift) ^ r[i + dist]) & mask;
                r[i + dist] ^= t;
                r[i] ^= t << shift;
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| image::Luma([(y * w + x) as u8]))
    }

    #[test]
    fn orient_covers_all_eight_turns() {
        let src = img(3, 2); // 0 1 2 / 3 4 5
        let cases = [
            ((Dir::PosX, Dir::PosY), (3, 2, vec![0, 1, 2, 3, 4, 5])),
            ((Dir::NegX, Dir::NegY), (3, 2, vec![5, 4, 3, 2, 1, 0])),
            ((Dir::NegX, Dir::PosY), (3, 2, vec![2, 1, 0, 5, 4, 3])),
            ((Dir::PosX, Dir::NegY), (3, 2, vec![3, 4, 5, 0, 1, 2])),
            // Rotated 90° clockwise: columns run down, rows run right-to-left.
            ((Dir::PosY, Dir::NegX), (2, 3, vec![3, 0, 4, 1, 5, 2])),
            // Rotated 90° counter-clockwise.
            ((Dir::NegY, Dir::PosX), (2, 3, vec![2, 5, 1, 4, 0, 3])),
            // Transposed and anti-transposed (mirror plus turn).
            ((Dir::PosY, Dir::PosX), (2, 3, vec![0, 3, 1, 4, 2, 5])),
            ((Dir::NegY, Dir::NegX), (2, 3, vec![5, 2, 4, 1, 3, 0])),
        ];
        for ((c, r), (w, h, px)) in cases {
            let out = orient(src.clone(), c, r);
            assert_eq!(out.dimensions(), (w, h), "{c:?} {r:?}");
            assert_eq!(out.into_raw(), px, "{c:?} {r:?}");
        }
    }

    #[test]
    fn blocked_transpose_matches_naive_on_ragged_sizes() {
        for (w, h) in [(1, 1), (13, 21), (70, 9), (8, 64), (65, 130), (128, 72)] {
            let src: Vec<u8> = (0..w * h).map(|i| (i * 7 % 251) as u8).collect();
            let out = transpose(&src, w, h);
            for r in 0..h {
                for c in 0..w {
                    assert_eq!(out[c * h + r], src[r * w + c], "{w}x{h} at {c},{r}");
                }
            }
        }
    }

    #[test]
    fn display_axes_follow_matrix_and_rotate() {
        let upright = Affine([100.0, 0.0, 0.0, 200.0, 0.0, 0.0]);
        assert_eq!(
            display_axes(upright, Rotation::None),
            (Dir::PosX, Dir::PosY)
        );
        // /Rotate 90 turns the page clockwise: image rows then run right-to-left.
        assert_eq!(
            display_axes(upright, Rotation::Horizontal),
            (Dir::PosY, Dir::NegX)
        );
        assert_eq!(
            display_axes(upright, Rotation::Flipped),
            (Dir::NegX, Dir::NegY)
        );
        // Drawn with y flipped (a common "top-down" writer matrix).
        let flipped = Affine([100.0, 0.0, 0.0, -200.0, 0.0, 200.0]);
        assert_eq!(
            display_axes(flipped, Rotation::None),
            (Dir::PosX, Dir::NegY)
        );
        // Drawn rotated 90° counter-clockwise in user space: [0 h -w 0 w 0].
        let ccw = Affine([0.0, 100.0, -200.0, 0.0, 200.0, 0.0]);
        assert_eq!(display_axes(ccw, Rotation::None), (Dir::NegY, Dir::PosX));
    }

    #[test]
    fn affine_then_matches_pdf_concatenation() {
        let scale = Affine([2.0, 0.0, 0.0, 3.0, 0.0, 0.0]);
        let shift = Affine([1.0, 0.0, 0.0, 1.0, 10.0, 20.0]);
        // "shift cm scale cm": CTM = scale × shift, so points are scaled first, then shifted.
        let ctm = scale.then(shift);
        assert_eq!(ctm.apply(1.0, 1.0), (12.0, 23.0));
    }
}
