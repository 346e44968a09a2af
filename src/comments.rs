//! Comments: whether a citizen wrote anything in a writing area (`text` question), and the
//! area's image for a person to read.
//!
//! A comment is never counted and never sends a ballot to review: the scanner only says
//! `WRITTEN`, `EMPTY` or `UNREADABLE`, and keeps the written areas as images in the results
//! folder's `comments/` (named by [`file_name`]).
//!
//! Ink is judged as carefully as in a box ([`crate::marks`]), against the paper right where it
//! is: the area is sampled through the page transform on a fine grid, and the paper level of
//! every cell is the brightest value within [`PAPER_RADIUS_MM`] of it, then the darkest of
//! those (a grey-level closing). A pen or pencil stroke is narrower than that neighbourhood, so
//! it stands out from its paper; shading wider than it — a fold's shadow, the edge of a cast
//! shadow, uneven light, tinted paper — is paper. The printed rules are masked out; specks
//! (a photocopier's dust, JPEG noise) are too small to count; and a thin straight line across
//! much of the area (a fold's crease, a scanner streak) is not writing.

use image::{GrayImage, ImageEncoder};

use crate::ballot::Answer;
use crate::geometry::{Homography, PointMm, RectMm};
use crate::layout::{TextArea, FIDUCIAL_DIAMETER, RULE_DOT};
use crate::marks::bilinear;

/// The results folder's subfolder holding the written areas' images.
pub const DIR: &str = "comments";

/// `<unit>-<serial>-<question>.png`: the name of a written area's image in [`DIR`]. The report
/// lists comments from answers.csv rows with answer `WRITTEN` by this name, so it never changes.
pub fn file_name(unit: &str, serial: &str, question: &str) -> String {
    format!("{unit}-{serial}-{question}.png")
}

/// Sampling grid (mm): finer than a pen stroke is wide (0.3–0.5 mm), so a stroke covers whole
/// cells, and coarse enough to keep the area's cost a few milliseconds.
const CELL_MM: f64 = 0.25;
/// The paper level's neighbourhood: wider than any pen or pencil stroke (up to 1.5 mm for a
/// soft pencil pressed flat), narrower than a fold's shadow or a shadow's soft edge.
pub const PAPER_RADIUS_MM: f64 = 1.5;
/// A cell is ink from this share of the print contrast (its paper to the fiducials' black):
/// a light pencil stroke reaches 0.3–0.5 of it, paper grain and JPEG ripple stay under 0.12.
const INK_SHARE: f32 = 0.22;
/// Around each printed rule's centre line, this much (mm) either side is masked: half the
/// dot, the registration error the reader accepts for boxes (up to 0.6 mm before review) and
/// a scan's blur.
const RULE_MASK_MM: f64 = RULE_DOT / 2.0 + 0.8;
/// The first millimetre under the area's label is left out: the label's descenders and
/// diacritics of the line above would be read as ink when the page is a little off.
const TOP_SKIP_MM: f64 = 1.0;
/// A blot of ink smaller than this (mm², about a 0.8 mm dot) is a speck, not writing.
const MIN_BLOT_MM2: f64 = 0.5;
/// … and one no longer than this (mm) either way is a speck too.
const MIN_BLOT_EXTENT_MM: f64 = 1.0;
/// Written: at least this much ink (mm²) in blots that are not specks or lines — a short
/// word's worth (a 0.4 mm stroke about 8 mm long). A single letter or a dash is below it and
/// reads as empty; so do the few specks that survive the size test on a dirty copy.
pub const WRITTEN_INK_MM2: f64 = 3.0;
/// A blot at least this long whose cells lie this close to one straight line (RMS, mm) is a
/// fold's crease or a streak, not handwriting (a written word bends more than a millimetre).
const LINE_MIN_LENGTH_MM: f64 = 25.0;
const LINE_MAX_RMS_MM: f64 = 0.45;
/// A vertical streak or fold (a scanner's dirty glass, a toner band, a fold across the rules)
/// inks at least this share of a column between two rules, in at least this many of those
/// spaces, within this much of each other sideways (a line's drift at 2° of skew over the
/// area). See [`without_streaks`].
const STREAK_COLUMN_SHARE: f64 = 0.5;
const STREAK_MIN_BANDS: usize = 3;
const STREAK_DRIFT_MM: f64 = 2.0;
/// Cleared either side of a streak's columns: its drift over the area at 1° of skew.
const STREAK_CLEAR_MM: f64 = 1.0;
/// The area cannot be judged when the print contrast on its paper is below this (grey
/// levels): a black or blank-white page region, a heavy shadow.
const MIN_CONTRAST: f32 = 40.0;
/// … or when more than this share of it lies outside the scan.
const MAX_OFF_SCAN: f64 = 0.1;

/// One writing area as read.
#[derive(Clone, Debug)]
pub struct CommentRead {
    /// The question id of the writing area.
    pub question: String,
    /// `Written`, `Empty` or `Unreadable`.
    pub answer: Answer,
    /// Ink counted as writing (mm²), for answers.csv's `scores` column.
    pub ink_mm2: f64,
    /// The area's image (PNG, grayscale, at the scan's resolution) when something is written.
    pub png: Option<Vec<u8>>,
}

/// Reads one writing area of an aligned page. `black` is the print's black on this scan (see
/// [`print_black`]).
pub fn read_area(img: &GrayImage, h: &Homography, area: &TextArea, black: f32) -> CommentRead {
    let judged = judge(img, h, area, black);
    let png = (judged.0 == Answer::Written).then(|| area_png(img, h, &area.rect));
    CommentRead {
        question: area.question.clone(),
        answer: judged.0,
        ink_mm2: judged.1,
        png,
    }
}

/// The print's black on a scan: the second darkest of the four fiducial discs' centres (one
/// disc may be cut off or covered by a thumb).
pub fn print_black(img: &GrayImage, h: &Homography, fiducials: &[PointMm; 4]) -> f32 {
    let r = FIDUCIAL_DIAMETER / 4.0;
    let mut levels: Vec<f32> = fiducials
        .iter()
        .map(|c| {
            let mut sum = 0.0;
            let mut n = 0.0;
            for dy in [-r, 0.0, r] {
                for dx in [-r, 0.0, r] {
                    let p = h.map(PointMm::new(c.x + dx, c.y + dy));
                    sum += bilinear(img, p.x, p.y);
                    n += 1.0;
                }
            }
            sum / n
        })
        .collect();
    levels.sort_by(f32::total_cmp);
    levels[1]
}

/// The verdict and the ink counted (mm²).
fn judge(img: &GrayImage, h: &Homography, area: &TextArea, black: f32) -> (Answer, f64) {
    let r = area.rect;
    let top = r.y + TOP_SKIP_MM;
    let nx = (r.w / CELL_MM).floor() as usize;
    let ny = ((r.bottom() - top) / CELL_MM).floor() as usize;
    if nx < 8 || ny < 8 {
        return (Answer::Unreadable, 0.0);
    }
    let (w, ht) = (img.width() as f64, img.height() as f64);
    let mut v = vec![0f32; nx * ny];
    let mut off_scan = 0usize;
    for j in 0..ny {
        for i in 0..nx {
            let mut sum = 0.0;
            for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let p = h.map(PointMm::new(
                    r.x + (i as f64 + sx) * CELL_MM,
                    top + (j as f64 + sy) * CELL_MM,
                ));
                if sx == 0.25 && sy == 0.25 && (p.x < 0.0 || p.y < 0.0 || p.x >= w || p.y >= ht) {
                    off_scan += 1;
                }
                sum += bilinear(img, p.x, p.y);
            }
            v[j * nx + i] = sum / 4.0;
        }
    }
    if off_scan as f64 > MAX_OFF_SCAN * (nx * ny) as f64 {
        return (Answer::Unreadable, 0.0);
    }
    let masked: Vec<bool> = (0..ny)
        .map(|j| {
            let y = top + (j as f64 + 0.5) * CELL_MM;
            area.rules.iter().any(|ry| (y - ry).abs() <= RULE_MASK_MM)
        })
        .collect();
    let radius = (PAPER_RADIUS_MM / CELL_MM).round() as usize;
    let paper = closing(&v, nx, ny, radius);
    // The area's paper as a whole: its upper quartile is paper whatever is written.
    let mut levels: Vec<f32> = paper.clone();
    levels.sort_by(f32::total_cmp);
    let typical = levels[levels.len() * 3 / 4];
    if typical - black < MIN_CONTRAST {
        return (Answer::Unreadable, 0.0);
    }
    let ink: Vec<bool> = (0..nx * ny)
        .map(|k| {
            let contrast = (paper[k] - black).max(MIN_CONTRAST);
            !masked[k / nx] && paper[k] - v[k] >= INK_SHARE * contrast
        })
        .collect();
    let ink = without_streaks(ink, &masked, nx, ny);
    let cell_mm2 = CELL_MM * CELL_MM;
    let mut counted = 0.0;
    for blot in blots(&ink, nx, ny) {
        let area_mm2 = blot.len() as f64 * cell_mm2;
        let (x0, x1, y0, y1) = extent(&blot, nx);
        let long = ((x1 - x0).max(y1 - y0) + 1) as f64 * CELL_MM;
        if area_mm2 < MIN_BLOT_MM2 || long < MIN_BLOT_EXTENT_MM {
            continue;
        }
        if long >= LINE_MIN_LENGTH_MM && line_rms_mm(&blot, nx) <= LINE_MAX_RMS_MM {
            continue;
        }
        counted += area_mm2;
    }
    let answer = if counted >= WRITTEN_INK_MM2 {
        Answer::Written
    } else {
        Answer::Empty
    };
    (answer, counted)
}

/// Clears vertical streaks from the ink: a scanner streak, a toner band's edge or a fold
/// across the rules inks the same few columns of every space between two rules. In each such
/// space (a band of rows), a column mostly ink from top to bottom is a streak when at least
/// [`STREAK_MIN_BANDS`] bands have one within [`STREAK_DRIFT_MM`] of it; handwriting's tall
/// strokes do not stack from rule to rule.
fn without_streaks(mut ink: Vec<bool>, masked: &[bool], nx: usize, ny: usize) -> Vec<bool> {
    let mut bands: Vec<(usize, usize)> = Vec::new();
    let mut j = 0;
    while j < ny {
        if masked[j] {
            j += 1;
            continue;
        }
        let start = j;
        while j < ny && !masked[j] {
            j += 1;
        }
        if j - start >= 8 {
            bands.push((start, j));
        }
    }
    let tall: Vec<Vec<bool>> = bands
        .iter()
        .map(|&(a, b)| {
            (0..nx)
                .map(|i| {
                    let n = (a..b).filter(|&jj| ink[jj * nx + i]).count();
                    n as f64 >= STREAK_COLUMN_SHARE * (b - a) as f64
                })
                .collect()
        })
        .collect();
    let drift = (STREAK_DRIFT_MM / CELL_MM).round() as usize;
    let mut streak = vec![false; nx];
    for t in &tall {
        for i in (0..nx).filter(|&i| t[i]) {
            let (lo, hi) = (i.saturating_sub(drift), (i + drift).min(nx - 1));
            let stacked = tall
                .iter()
                .filter(|t| t[lo..=hi].iter().any(|&x| x))
                .count();
            if stacked >= STREAK_MIN_BANDS {
                streak[i] = true;
            }
        }
    }
    // A faint streak breaks up where its band is not mostly ink: its columns are cleared
    // over the whole area, with the width it drifts and blurs by on either side.
    let side = (STREAK_CLEAR_MM / CELL_MM).round() as usize;
    for i in (0..nx).filter(|&i| streak[i]) {
        for ii in i.saturating_sub(side)..=(i + side).min(nx - 1) {
            for j in 0..ny {
                ink[j * nx + ii] = false;
            }
        }
    }
    ink
}

/// Grey-level closing (the largest value within `r` cells, then the smallest of those), with
/// square neighbourhoods done as rows then columns.
fn closing(v: &[f32], nx: usize, ny: usize, r: usize) -> Vec<f32> {
    let dilated = filter(v, nx, ny, r, f32::max);
    filter(&dilated, nx, ny, r, f32::min)
}

fn filter(v: &[f32], nx: usize, ny: usize, r: usize, pick: fn(f32, f32) -> f32) -> Vec<f32> {
    let mut rows = vec![0f32; v.len()];
    for j in 0..ny {
        let row = &v[j * nx..(j + 1) * nx];
        for i in 0..nx {
            let (a, b) = (i.saturating_sub(r), (i + r).min(nx - 1));
            rows[j * nx + i] = row[a..=b].iter().copied().reduce(pick).unwrap_or(row[i]);
        }
    }
    let mut out = vec![0f32; v.len()];
    for i in 0..nx {
        for j in 0..ny {
            let (a, b) = (j.saturating_sub(r), (j + r).min(ny - 1));
            out[j * nx + i] = (a..=b)
                .map(|jj| rows[jj * nx + i])
                .reduce(pick)
                .unwrap_or(rows[j * nx + i]);
        }
    }
    out
}

/// The 8-connected groups of ink cells, each as its cell indices.
fn blots(ink: &[bool], nx: usize, ny: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; ink.len()];
    let mut out = Vec::new();
    for start in 0..ink.len() {
        if !ink[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        let mut blot = Vec::new();
        let mut stack = vec![start];
        while let Some(k) = stack.pop() {
            blot.push(k);
            let (i, j) = ((k % nx) as i64, (k / nx) as i64);
            for dj in -1..=1 {
                for di in -1..=1 {
                    let (a, b) = (i + di, j + dj);
                    if a < 0 || b < 0 || a >= nx as i64 || b >= ny as i64 {
                        continue;
                    }
                    let n = b as usize * nx + a as usize;
                    if ink[n] && !seen[n] {
                        seen[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
        out.push(blot);
    }
    out
}

fn extent(blot: &[usize], nx: usize) -> (usize, usize, usize, usize) {
    let mut e = (usize::MAX, 0, usize::MAX, 0);
    for &k in blot {
        let (i, j) = (k % nx, k / nx);
        e = (e.0.min(i), e.1.max(i), e.2.min(j), e.3.max(j));
    }
    e
}

/// RMS distance (mm) of a blot's cells from its best straight line (principal axis).
fn line_rms_mm(blot: &[usize], nx: usize) -> f64 {
    let n = blot.len() as f64;
    let pts = blot.iter().map(|&k| ((k % nx) as f64, (k / nx) as f64));
    let (mx, my) = pts
        .clone()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (x, y) in pts {
        sxx += (x - mx) * (x - mx) / n;
        syy += (y - my) * (y - my) / n;
        sxy += (x - mx) * (y - my) / n;
    }
    // The smaller eigenvalue of the covariance is the mean squared distance from the axis.
    let half_trace = (sxx + syy) / 2.0;
    let det = sxx * syy - sxy * sxy;
    let small = half_trace - (half_trace * half_trace - det).max(0.0).sqrt();
    small.max(0.0).sqrt() * CELL_MM
}

/// The area, straightened through the page transform, at the scan's own resolution, as a
/// grayscale PNG. Same scan, same bytes: the sampling and the encoder are deterministic.
pub fn area_png(img: &GrayImage, h: &Homography, rect: &RectMm) -> Vec<u8> {
    let s = h.px_per_mm(rect.center()).clamp(1.0, 40.0);
    let (w, ht) = (
        (rect.w * s).round().max(1.0) as u32,
        (rect.h * s).round().max(1.0) as u32,
    );
    let mut out = GrayImage::new(w, ht);
    for y in 0..ht {
        for x in 0..w {
            let p = h.map(PointMm::new(
                rect.x + (x as f64 + 0.5) / s,
                rect.y + (y as f64 + 0.5) / s,
            ));
            let v = bilinear(img, p.x, p.y).round().clamp(0.0, 255.0) as u8;
            out.put_pixel(x, y, image::Luma([v]));
        }
    }
    let mut bytes = Vec::new();
    // Writing into memory cannot fail but for a zero-sized image, which the size rules out.
    let _ = image::codecs::png::PngEncoder::new(&mut bytes).write_image(
        out.as_raw(),
        w,
        ht,
        image::ExtendedColorType::L8,
    );
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_documented_convention() {
        assert_eq!(
            file_name("P-ANBIEN", "000017", "comment"),
            "P-ANBIEN-000017-comment.png"
        );
    }

    #[test]
    fn closing_keeps_a_step_and_removes_a_thin_stroke() {
        let (nx, ny) = (40, 20);
        // Left half in shadow (120), right half paper (220), a 2-cell dark stroke at x = 30.
        let v: Vec<f32> = (0..nx * ny)
            .map(|k| {
                let i = k % nx;
                if i == 30 || i == 31 {
                    60.0
                } else if i < 20 {
                    120.0
                } else {
                    220.0
                }
            })
            .collect();
        let p = closing(&v, nx, ny, 6);
        assert_eq!(p[5 * nx + 10], 120.0, "the shadow stays paper");
        assert_eq!(p[5 * nx + 25], 220.0);
        assert_eq!(p[5 * nx + 30], 220.0, "the stroke is not paper");
    }

    #[test]
    fn a_straight_line_has_a_small_rms_and_a_scrawl_a_large_one() {
        let nx = 200;
        let line: Vec<usize> = (0..150).map(|i| 10 * nx + i).collect();
        assert!(line_rms_mm(&line, nx) < 0.05);
        let zigzag: Vec<usize> = (0..150).map(|i| ((i / 3) % 16) * nx + i).collect();
        assert!(line_rms_mm(&zigzag, nx) > LINE_MAX_RMS_MM);
    }
}
