//! Page geometry with its unit in the type.
//!
//! Everything printed is placed in millimetres from the top-left corner of the page
//! ([`PointMm`], [`RectMm`]); everything scanned is measured in image pixels ([`PointPx`]).
//! The only bridge between the two is a [`Homography`], so mixing them up is a type error
//! rather than the classic off-by-a-DPI bug of this field.

use serde::Serialize;

/// Millimetres per inch, the bridge between DPI and the page.
pub const MM_PER_INCH: f64 = 25.4;

/// A point on the printed page, in millimetres from the top-left corner.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PointMm {
    /// Millimetres from the left edge.
    pub x: f64,
    /// Millimetres from the top edge.
    pub y: f64,
}

/// An axis-aligned rectangle on the printed page, in millimetres.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RectMm {
    /// Left edge (mm from the page's left).
    pub x: f64,
    /// Top edge (mm from the page's top).
    pub y: f64,
    /// Width (mm).
    pub w: f64,
    /// Height (mm).
    pub h: f64,
}

/// A point in a scanned or rendered image, in pixels (sub-pixel precision).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointPx {
    /// Pixels from the image's left edge.
    pub x: f64,
    /// Pixels from the image's top edge.
    pub y: f64,
}

impl PointMm {
    /// The point `x` mm from the left and `y` mm from the top.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// Where this point lands in an upright, unskewed image rendered at `dpi`.
    pub fn at_dpi(self, dpi: f64) -> PointPx {
        let s = dpi / MM_PER_INCH;
        PointPx::new(self.x * s, self.y * s)
    }
}

impl PointPx {
    /// The point `x` px from the left and `y` px from the top.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// Straight-line distance in pixels.
    pub fn distance(self, other: PointPx) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

impl RectMm {
    /// The rectangle with top-left corner (`x`, `y`), `w` wide and `h` high (mm).
    pub const fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Self { x, y, w, h }
    }

    /// The right edge (mm).
    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    /// The bottom edge (mm).
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// The middle of the rectangle.
    pub fn center(&self) -> PointMm {
        PointMm::new(self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// The rectangle shrunk by `d` mm on every side (grown when `d` is negative).
    pub fn inset(&self, d: f64) -> RectMm {
        RectMm::new(self.x + d, self.y + d, self.w - 2.0 * d, self.h - 2.0 * d)
    }

    /// True when the two rectangles share any area (touching edges do not count).
    pub fn overlaps(&self, other: &RectMm) -> bool {
        self.x < other.right()
            && other.x < self.right()
            && self.y < other.bottom()
            && other.y < self.bottom()
    }

    /// True when `other` lies wholly inside this rectangle (edges may touch).
    pub fn contains(&self, other: &RectMm) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.right() <= self.right()
            && other.bottom() <= self.bottom()
    }

    /// Top-left, top-right, bottom-right, bottom-left.
    pub fn corners(&self) -> [PointMm; 4] {
        [
            PointMm::new(self.x, self.y),
            PointMm::new(self.right(), self.y),
            PointMm::new(self.right(), self.bottom()),
            PointMm::new(self.x, self.bottom()),
        ]
    }
}

/// A projective transform from the page (mm) to an image (px).
///
/// Nine coefficients, row-major, with `h[8]` normalised to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Homography {
    h: [f64; 9],
}

impl Homography {
    /// The upright transform of a page rendered at `dpi` with no skew.
    pub fn at_dpi(dpi: f64) -> Self {
        let s = dpi / MM_PER_INCH;
        Self {
            h: [s, 0.0, 0.0, 0.0, s, 0.0, 0.0, 0.0, 1.0],
        }
    }

    /// Where a page point lands in the image.
    pub fn map(&self, p: PointMm) -> PointPx {
        let h = &self.h;
        let w = h[6] * p.x + h[7] * p.y + h[8];
        PointPx::new(
            (h[0] * p.x + h[1] * p.y + h[2]) / w,
            (h[3] * p.x + h[4] * p.y + h[5]) / w,
        )
    }

    /// Pixels per millimetre around `p`: the mean length of the images of 1 mm steps
    /// along x and y. Used to size search windows and to report fit errors in mm.
    pub fn px_per_mm(&self, p: PointMm) -> f64 {
        let o = self.map(p);
        let dx = self.map(PointMm::new(p.x + 1.0, p.y)).distance(o);
        let dy = self.map(PointMm::new(p.x, p.y + 1.0)).distance(o);
        (dx + dy) / 2.0
    }

    /// Least-squares fit from at least four correspondences (direct linear transform with
    /// `h[8] = 1`, solved through the normal equations). Returns `None` when the points are
    /// degenerate (collinear, repeated) or fewer than four.
    pub fn fit(pairs: &[(PointMm, PointPx)]) -> Option<Self> {
        if pairs.len() < 4 {
            return None;
        }
        // Normalise both sides so the normal equations stay well conditioned when pixel
        // coordinates are in the thousands.
        let (src_c, src_s) = normalisation(pairs.iter().map(|(m, _)| (m.x, m.y)));
        let (dst_c, dst_s) = normalisation(pairs.iter().map(|(_, p)| (p.x, p.y)));
        let mut ata = [[0.0f64; 8]; 8];
        let mut atb = [0.0f64; 8];
        for (m, p) in pairs {
            let (x, y) = ((m.x - src_c.0) * src_s, (m.y - src_c.1) * src_s);
            let (u, v) = ((p.x - dst_c.0) * dst_s, (p.y - dst_c.1) * dst_s);
            let rows = [
                ([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u),
                ([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v),
            ];
            for (a, b) in rows {
                for i in 0..8 {
                    atb[i] += a[i] * b;
                    for j in 0..8 {
                        ata[i][j] += a[i] * a[j];
                    }
                }
            }
        }
        let n = solve(ata, atb)?;
        // Undo the normalisation: H = D⁻¹ · N · S.
        let nm = [n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], 1.0];
        let s = [
            src_s,
            0.0,
            -src_s * src_c.0,
            0.0,
            src_s,
            -src_s * src_c.1,
            0.0,
            0.0,
            1.0,
        ];
        let d_inv = [
            1.0 / dst_s,
            0.0,
            dst_c.0,
            0.0,
            1.0 / dst_s,
            dst_c.1,
            0.0,
            0.0,
            1.0,
        ];
        let h = mul3(&mul3(&d_inv, &nm), &s);
        if h[8].abs() < 1e-12 || h.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut out = [0.0; 9];
        for (o, v) in out.iter_mut().zip(h.iter()) {
            *o = v / h[8];
        }
        Some(Self { h: out })
    }

    /// Least-squares affine fit (no perspective) from at least three correspondences. Used to
    /// extrapolate from a small, imprecisely measured patch (the QR code) to the whole page,
    /// where the perspective terms of a full fit would amplify the measurement noise.
    pub fn fit_affine(pairs: &[(PointMm, PointPx)]) -> Option<Self> {
        if pairs.len() < 3 {
            return None;
        }
        let mut ata = [[0.0f64; 3]; 3];
        let mut atu = [0.0f64; 3];
        let mut atv = [0.0f64; 3];
        for (m, p) in pairs {
            let a = [m.x, m.y, 1.0];
            for i in 0..3 {
                atu[i] += a[i] * p.x;
                atv[i] += a[i] * p.y;
                for j in 0..3 {
                    ata[i][j] += a[i] * a[j];
                }
            }
        }
        let det = |m: &[[f64; 3]; 3]| {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        };
        let d = det(&ata);
        if d.abs() < 1e-9 {
            return None;
        }
        // Cramer's rule for the two 3×3 systems.
        let solve = |b: [f64; 3]| {
            let mut out = [0.0; 3];
            for (k, o) in out.iter_mut().enumerate() {
                let mut m = ata;
                for r in 0..3 {
                    m[r][k] = b[r];
                }
                *o = det(&m) / d;
            }
            out
        };
        let (u, v) = (solve(atu), solve(atv));
        Some(Self {
            h: [u[0], u[1], u[2], v[0], v[1], v[2], 0.0, 0.0, 1.0],
        })
    }

    /// Root-mean-square distance, in pixels, between the mapped page points and where
    /// they were found in the image.
    pub fn rms_error_px(&self, pairs: &[(PointMm, PointPx)]) -> f64 {
        if pairs.is_empty() {
            return 0.0;
        }
        let sum: f64 = pairs
            .iter()
            .map(|(m, p)| {
                let d = self.map(*m).distance(*p);
                d * d
            })
            .sum();
        (sum / pairs.len() as f64).sqrt()
    }
}

fn normalisation(points: impl Iterator<Item = (f64, f64)> + Clone) -> ((f64, f64), f64) {
    let n = points.clone().count().max(1) as f64;
    let (sx, sy) = points
        .clone()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let c = (sx / n, sy / n);
    let mean_dist = points.map(|(x, y)| (x - c.0).hypot(y - c.1)).sum::<f64>() / n;
    let s = if mean_dist > 1e-12 {
        std::f64::consts::SQRT_2 / mean_dist
    } else {
        1.0
    };
    (c, s)
}

/// The product `a · b` of two row-major 3×3 matrices.
pub(crate) fn mul3(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut r = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            r[i * 3 + j] = (0..3).map(|k| a[i * 3 + k] * b[k * 3 + j]).sum();
        }
    }
    r
}

/// The circle nearest to `points` in the least-squares sense of Kåsa (x² + y² + Dx + Ey + F = 0):
/// its centre and radius. Points on an arc of a half-circle or more pin it down well.
pub fn fit_circle(points: &[PointPx]) -> Option<(PointPx, f64)> {
    if points.len() < 3 {
        return None;
    }
    // Centred coordinates keep the sums small and the system well conditioned.
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.x / n, b + p.y / n));
    let mut ata = [[0.0f64; 3]; 3];
    let mut atb = [0.0f64; 3];
    for p in points {
        let (x, y) = (p.x - mx, p.y - my);
        let a = [x, y, 1.0];
        let b = -(x * x + y * y);
        for i in 0..3 {
            atb[i] += a[i] * b;
            for j in 0..3 {
                ata[i][j] += a[i] * a[j];
            }
        }
    }
    let [d, e, f] = solve(ata, atb)?;
    let r2 = (d * d + e * e) / 4.0 - f;
    (r2 > 0.0).then(|| (PointPx::new(mx - d / 2.0, my - e / 2.0), r2.sqrt()))
}

/// Gaussian elimination with partial pivoting on an N×N system.
#[allow(clippy::needless_range_loop)]
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-10 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..N {
            let f = a[row][col] / a[col][col];
            for k in col..N {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; N];
    for row in (0..N).rev() {
        let s: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_projective_transform() {
        let truth = Homography {
            h: [8.1, 0.4, 120.0, -0.3, 7.9, 64.0, 0.0002, -0.0001, 1.0],
        };
        let pts = [
            PointMm::new(12.0, 12.0),
            PointMm::new(198.0, 12.0),
            PointMm::new(198.0, 285.0),
            PointMm::new(12.0, 285.0),
            PointMm::new(170.0, 20.0),
            PointMm::new(100.0, 150.0),
        ];
        let pairs: Vec<_> = pts.iter().map(|&m| (m, truth.map(m))).collect();
        let fit = Homography::fit(&pairs).expect("fit");
        assert!(fit.rms_error_px(&pairs) < 1e-6);
        let p = PointMm::new(50.0, 250.0);
        assert!(fit.map(p).distance(truth.map(p)) < 1e-6);
    }

    #[test]
    fn circle_is_recovered_from_half_its_edge() {
        // 200° of a circle of radius 24 around (100.3, 50.7), with ±0.3 px of wobble.
        let pts: Vec<PointPx> = (0..60)
            .map(|i| {
                let a = (i as f64 / 59.0) * 200f64.to_radians() - 1.0;
                let r = 24.0 + 0.3 * ((i * 7 % 5) as f64 - 2.0) / 2.0;
                PointPx::new(100.3 + r * a.cos(), 50.7 + r * a.sin())
            })
            .collect();
        let (c, r) = fit_circle(&pts).expect("a circle");
        assert!(c.distance(PointPx::new(100.3, 50.7)) < 0.1, "{c:?}");
        assert!((r - 24.0).abs() < 0.1, "{r}");
        assert!(fit_circle(&pts[..2]).is_none());
    }

    #[test]
    fn fit_refuses_collinear_points() {
        let pairs: Vec<_> = (0..5)
            .map(|i| {
                let m = PointMm::new(i as f64, i as f64);
                (m, m.at_dpi(300.0))
            })
            .collect();
        assert!(Homography::fit(&pairs).is_none());
    }

    #[test]
    fn rectangles_overlap_only_when_sharing_area() {
        let a = RectMm::new(0.0, 0.0, 10.0, 10.0);
        assert!(a.overlaps(&RectMm::new(9.0, 9.0, 5.0, 5.0)));
        assert!(!a.overlaps(&RectMm::new(10.0, 0.0, 5.0, 5.0)));
        assert!(a.contains(&a.inset(1.0)));
    }
}
