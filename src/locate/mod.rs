//! Finding the printed page in a scanned image: the QR code first (it says which ballot this is
//! and, by its corners, which way up the sheet went through the scanner), then the four
//! fiducial discs near where the QR code predicts them and, when fewer than four are found,
//! the checkboxes' printed borders; then a least-squares projective transform from the layout
//! (mm) to the image (px) whose fit error is kept for review.

use image::GrayImage;

mod boxes;
mod qr;
pub use qr::find_qr;

use crate::geometry::{Homography, PointMm, PointPx, RectMm};
use crate::layout::{
    FIDUCIALS, FIDUCIAL_DIAMETER, PAGE_H, PAGE_W, QR_MODULES, QR_MODULE_MM, QR_SYMBOL,
};

/// The QR code as found: its raw bytes and the symbol's corners in the image, in the symbol's
/// own reading order (top-left, top-right, bottom-right, bottom-left).
#[derive(Clone, Debug)]
pub struct QrFound {
    /// The text the code holds (decoded by [`crate::payload`]).
    pub bytes: Vec<u8>,
    /// The symbol's corners in the image, in the order above: they anchor the page fit.
    pub corners: [PointPx; 4],
}

/// The page's place in the image.
#[derive(Clone, Debug)]
pub struct Alignment {
    /// From the printed page (mm) to the image (px): where every box is looked for.
    pub transform: Homography,
    /// Root-mean-square distance between where the fit puts the fiducials and QR corners and
    /// where they were found, in millimetres.
    pub fit_error_mm: f64,
    /// How many of the four fiducials were found.
    pub fiducials_found: usize,
    /// How many checkbox borders the fit also rests on (0 when four fiducials were found).
    pub boxes_found: usize,
    /// Rotation of the page in the image, degrees clockwise (0 = upright, 180 = upside down).
    pub rotation_deg: f64,
}

/// Why a page could not be aligned (reason `align_failed`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AlignError {
    /// Fewer than four fiducials found, and too few checkbox borders to stand in for them.
    #[error("only {0} of the 4 fiducial marks and too few checkbox borders were found: is the page torn, folded over the boxes or partly outside the scan?")]
    TooFewLandmarks(usize),
    /// The landmarks were found but do not fit a flat page: the fit error is given in mm.
    #[error("the fiducial marks do not fit a flat page (fit error {0:.2} mm)")]
    BadFit(f64),
}

/// Aligns the page from every printed landmark found: the QR code's finder patterns, the
/// fiducial discs, and, where fewer than four discs are found, the checkboxes' borders
/// (`boxes`: their printed rectangles), so that a page whose QR code and boxes are on the
/// image is aligned however many discs are cut off, hidden or shaded.
pub fn align(img: &GrayImage, qr: &QrFound, boxes: &[RectMm]) -> Result<Alignment, AlignError> {
    // rqrr reports the corners of a square one module larger than the symbol (it maps
    // `size + 1` modules from the top-left corner) and rounds them to whole pixels: good enough
    // to predict where to look, not to measure with.
    let m = QR_MODULE_MM;
    let reported = RectMm::new(QR_SYMBOL.x, QR_SYMBOL.y, QR_SYMBOL.w + m, QR_SYMBOL.h + m);
    let corner_pairs: Vec<(PointMm, PointPx)> =
        reported.corners().into_iter().zip(qr.corners).collect();
    let Some(rough) = Homography::fit_affine(&corner_pairs) else {
        return Err(AlignError::TooFewLandmarks(0));
    };
    // The centres of the three finder patterns, measured precisely, stand in for the corners.
    let finders = [
        (3.5, 3.5),
        (QR_MODULES as f64 - 3.5, 3.5),
        (3.5, QR_MODULES as f64 - 3.5),
    ]
    .map(|(u, v)| PointMm::new(QR_SYMBOL.x + u * m, QR_SYMBOL.y + v * m));
    let qr_pairs: Vec<(PointMm, PointPx)> = finders
        .iter()
        .filter_map(|&f| finder_centre(img, &rough, f).map(|p| (f, p)))
        .collect();
    let mut found: Vec<(PointMm, PointPx)> = FIDUCIALS
        .iter()
        .filter_map(|&f| find_fiducial(img, &rough, f, FIDUCIAL_SEARCH_MM).map(|p| (f, p)))
        .collect();
    // A phone photo's perspective can put the far corners beyond the first search. The
    // fiducials found so far span the page much better than the QR code: predict again from
    // them and look wider.
    if found.len() < FIDUCIALS.len() && !found.is_empty() {
        let mut pairs = found.clone();
        pairs.extend_from_slice(&qr_pairs);
        if let Some(better) = Homography::fit_affine(&pairs) {
            for f in FIDUCIALS {
                if found.iter().any(|(m, _)| *m == f) {
                    continue;
                }
                if let Some(p) = find_fiducial(img, &better, f, FIDUCIAL_WIDE_SEARCH_MM) {
                    found.push((f, p));
                }
            }
            // Keep the layout's order so the fit is the same whatever was found first.
            found.sort_by(|a, b| {
                (a.0.y, a.0.x)
                    .partial_cmp(&(b.0.y, b.0.x))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
    }
    // A wrong detection (a blot near a corner) shows as one fiducial far off the fit of the
    // others: drop the worst and refit while four remain.
    while found.len() >= 4 {
        let mut pairs = found.clone();
        pairs.extend_from_slice(&qr_pairs);
        let Some(h) = Homography::fit(&pairs) else {
            break;
        };
        let ppm = h.px_per_mm(PointMm::new(PAGE_W / 2.0, PAGE_H / 2.0));
        let (worst_i, worst_d) = found
            .iter()
            .enumerate()
            .map(|(i, (m, p))| (i, h.map(*m).distance(*p) / ppm))
            .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
        if worst_d > MAX_FIDUCIAL_OFF_MM {
            found.remove(worst_i);
            continue;
        }
        // Four discs pin down the projective transform of a flat sheet: the usual case, and
        // the cheapest.
        return finish(h, &pairs, found.len(), 0);
    }
    // Fewer than four discs: three give only an affine fit, which misplaces boxes on a phone
    // photo by millimetres, and fewer give nothing. The boxes carry the page from here.
    let mut pairs = found.clone();
    pairs.extend_from_slice(&qr_pairs);
    let h = Homography::fit_affine(&pairs).ok_or(AlignError::TooFewLandmarks(found.len()))?;
    let (mut h, mut pairs, boxes_found) = register_on_boxes(img, h, pairs, boxes);
    if boxes_found < MIN_BOXES.min(boxes.len()) {
        return Err(AlignError::TooFewLandmarks(found.len()));
    }
    // The boxes predict the page well enough to find a disc the first searches missed (a
    // phone photo's far corners): it extends the fit beyond the question area.
    let mut fiducials_found = found.len();
    let ppm = h.px_per_mm(PointMm::new(PAGE_W / 2.0, PAGE_H / 2.0));
    for f in FIDUCIALS {
        if found.iter().any(|(m, _)| *m == f) {
            continue;
        }
        if let Some(p) = find_fiducial(img, &h, f, FIDUCIAL_SEARCH_MM) {
            if h.map(f).distance(p) / ppm <= MAX_FIDUCIAL_OFF_MM {
                pairs.push((f, p));
                fiducials_found += 1;
            }
        }
    }
    if fiducials_found > found.len() {
        h = Homography::fit(&pairs).unwrap_or(h);
    }
    finish(h, &pairs, fiducials_found, boxes_found)
}

/// The alignment from a fitted transform and the landmarks it was fitted to.
fn finish(
    h: Homography,
    pairs: &[(PointMm, PointPx)],
    fiducials_found: usize,
    boxes_found: usize,
) -> Result<Alignment, AlignError> {
    let ppm = h.px_per_mm(PointMm::new(PAGE_W / 2.0, PAGE_H / 2.0));
    let fit_error_mm = h.rms_error_px(pairs) / ppm;
    if fit_error_mm > MAX_FIT_ERROR_MM {
        return Err(AlignError::BadFit(fit_error_mm));
    }
    let o = h.map(PointMm::new(0.0, 0.0));
    let x = h.map(PointMm::new(100.0, 0.0));
    let rotation_deg = (x.y - o.y).atan2(x.x - o.x).to_degrees().rem_euclid(360.0);
    Ok(Alignment {
        transform: h,
        fit_error_mm,
        fiducials_found,
        boxes_found,
        rotation_deg,
    })
}

/// At least this many boxes must be found for them to carry the page without four discs: a
/// row and a half of the standard form, enough to span the question area in both directions.
const MIN_BOXES: usize = 8;
/// How far from its predicted place a box is looked for, once boxes nearby have been found:
/// each group is predicted from a fit that includes the boxes next to it.
const BOX_SEARCH_MM: f64 = 3.0;
/// The first group's search: predicted from the QR code and three discs through an affine
/// fit, boxes of a strongly tilted phone photo are up to 5 mm off. Boxes are 15 mm apart or
/// more (8 mm of paper between rows), so even this finds no neighbour.
const FIRST_BOX_SEARCH_MM: f64 = 6.0;
/// Boxes looked for between two refits.
const GROUP: usize = 4;
/// The boxes found must span this much in both directions before they carry a projective fit.
const SPAN_MM: f64 = 12.0;
/// A box further than this from the fit of all landmarks is taken as a false detection.
const MAX_BOX_OFF_MM: f64 = 1.0;

/// Finds the boxes nearest the landmarks first and refits as each group is found, so that
/// the prediction for the next group is an interpolation, not a long extrapolation from the
/// QR code. Returns the final transform (projective once boxes span the page), the landmarks
/// it rests on, and how many boxes are among them.
fn register_on_boxes(
    img: &GrayImage,
    mut h: Homography,
    anchors: Vec<(PointMm, PointPx)>,
    boxes: &[RectMm],
) -> (Homography, Vec<(PointMm, PointPx)>, usize) {
    let mut found: Vec<(PointMm, PointPx)> = Vec::new();
    let refit = |found: &[(PointMm, PointPx)], h: Homography| {
        let mut pairs = anchors.clone();
        pairs.extend_from_slice(found);
        // Projective only once the boxes found span two directions: a single row of boxes
        // leaves the perspective across it free.
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (m, _) in found {
            (x0, x1, y0, y1) = (x0.min(m.x), x1.max(m.x), y0.min(m.y), y1.max(m.y));
        }
        let fitted = if found.len() >= 4 && x1 - x0 >= SPAN_MM && y1 - y0 >= SPAN_MM {
            Homography::fit(&pairs)
        } else {
            Homography::fit_affine(&pairs)
        };
        fitted.unwrap_or(h)
    };
    let mut left: Vec<&RectMm> = boxes.iter().collect();
    while !left.is_empty() {
        // The boxes nearest what is already known (landmarks and boxes found) come next.
        let known = || anchors.iter().chain(found.iter()).map(|(m, _)| *m);
        let distance = |r: &RectMm| {
            let c = r.center();
            known()
                .map(|m| (m.x - c.x).powi(2) + (m.y - c.y).powi(2))
                .fold(f64::INFINITY, f64::min)
        };
        left.sort_by(|a, b| distance(a).total_cmp(&distance(b)));
        let group: Vec<&RectMm> = left.drain(..GROUP.min(left.len())).collect();
        // The first boxes are predicted from the QR code and the discs alone, which a phone
        // photo's perspective misleads by several millimetres in the middle of the page.
        let search = if found.is_empty() {
            FIRST_BOX_SEARCH_MM
        } else {
            BOX_SEARCH_MM
        };
        for r in group {
            if let Some(p) = boxes::find_box(img, &h, r, search) {
                found.push((r.center(), p));
            }
        }
        h = refit(&found, h);
    }
    // Drop boxes far off the fit of all the others (a scribble that looked like a border),
    // then fit once more.
    for _ in 0..2 {
        let ppm = h.px_per_mm(PointMm::new(PAGE_W / 2.0, PAGE_H / 2.0));
        let before = found.len();
        found.retain(|(m, p)| h.map(*m).distance(*p) / ppm <= MAX_BOX_OFF_MM);
        if found.len() == before {
            break;
        }
        h = refit(&found, h);
    }
    let n = found.len();
    let mut pairs = anchors;
    pairs.extend(found);
    (h, pairs, n)
}

/// A fiducial further than this from the page fit is taken as a false detection.
const MAX_FIDUCIAL_OFF_MM: f64 = 1.0;
/// Beyond this the page is not flat (crumpled, or a photo of a curved sheet) or a mark was
/// mistaken: no box position can be trusted.
pub const MAX_FIT_ERROR_MM: f64 = 2.0;
/// How far from the QR-predicted place a fiducial is searched for. Extrapolating from a 30 mm
/// QR code to the far corners of the page multiplies its corner error about ninefold.
const FIDUCIAL_SEARCH_MM: f64 = 12.0;
/// The second, wider search for fiducials the first one missed (perspective, a shifted page).
/// Safe because a fiducial must also pass the disc shape check.
const FIDUCIAL_WIDE_SEARCH_MM: f64 = 25.0;

/// Finds the solid disc nearest the predicted centre: the position where a square inside the
/// disc is darkest compared with the ring of paper around it, then the centroid of its dark
/// pixels for sub-pixel precision.
fn find_fiducial(
    img: &GrayImage,
    rough: &Homography,
    centre: PointMm,
    search_mm: f64,
) -> Option<PointPx> {
    let ppm = rough.px_per_mm(centre);
    let p = rough.map(centre);
    let d = FIDUCIAL_DIAMETER * ppm;
    let reach = search_mm * ppm + d;
    let (w, h) = img.dimensions();
    let x0 = (p.x - reach).floor().max(0.0) as i64;
    let y0 = (p.y - reach).floor().max(0.0) as i64;
    let x1 = ((p.x + reach).ceil() as i64).min(w as i64);
    let y1 = ((p.y + reach).ceil() as i64).min(h as i64);
    if x1 - x0 < 8 || y1 - y0 < 8 || d < 4.0 {
        return None;
    }
    let ww = (x1 - x0) as usize;
    let hh = (y1 - y0) as usize;
    let raw = img.as_raw();
    let stride = w as usize;
    // Integral image of darkness over the window.
    let mut integral = vec![0u64; (ww + 1) * (hh + 1)];
    for y in 0..hh {
        let start = (y0 as usize + y) * stride + x0 as usize;
        let mut row = 0u64;
        for (x, &v) in raw[start..start + ww].iter().enumerate() {
            row += 255 - v as u64;
            integral[(y + 1) * (ww + 1) + x + 1] = integral[y * (ww + 1) + x + 1] + row;
        }
    }
    // Sum and pixel count of a square, clipped to the window: a disc near the edge of the
    // scan keeps the part of its paper ring that is in the image.
    let sum = |cx: i64, cy: i64, half: i64| -> Option<(u64, u64)> {
        let (ax, ay) = ((cx - half).max(0), (cy - half).max(0));
        let (bx, by) = (
            (cx + half + 1).min(ww as i64),
            (cy + half + 1).min(hh as i64),
        );
        if ax >= bx || ay >= by {
            return None;
        }
        let at = |x: i64, y: i64| integral[y as usize * (ww + 1) + x as usize];
        let s = at(bx, by) + at(ax, ay) - at(ax, by) - at(bx, ay);
        Some((s, ((bx - ax) * (by - ay)) as u64))
    };
    let inner = (0.3 * d).round() as i64;
    let ring_in = (0.65 * d).round() as i64;
    let ring_out = (1.0 * d).round() as i64;
    let search = (search_mm * ppm) as i64;
    let (pcx, pcy) = ((p.x - x0 as f64) as i64, (p.y - y0 as f64) as i64);
    let mut best: Option<(f64, i64, i64)> = None;
    let step = ((d / 12.0) as i64).max(1);
    let mut y = pcy - search;
    while y <= pcy + search {
        let mut x = pcx - search;
        while x <= pcx + search {
            if let (Some((si, ni)), Some((sm, nm)), Some((so, no))) =
                (sum(x, y, inner), sum(x, y, ring_in), sum(x, y, ring_out))
            {
                let inner_mean = si as f64 / ni as f64;
                let ring_mean = (so - sm) as f64 / (no - nm) as f64;
                let score = inner_mean - ring_mean;
                if best.is_none_or(|b| score > b.0) {
                    best = Some((score, x, y));
                }
            }
            x += step;
        }
        y += step;
    }
    let (score, bx, by) = best?;
    // A printed disc is near-black on white paper; 80 of 255 allows a faded toner or a
    // dark-gray scan while refusing text strokes and smudges.
    if score < 80.0 {
        return None;
    }
    // Dark and paper levels from the best position; a disc cut by the edge of the scan keeps
    // the parts of its squares that are in the image.
    let (sum_in, n_in) = sum(bx, by, inner)?;
    let (sum_mid, n_mid) = sum(bx, by, ring_in)?;
    let (sum_out, n_out) = sum(bx, by, ring_out)?;
    let dark = sum_in as f64 / n_in as f64;
    let paper = (sum_out - sum_mid) as f64 / (n_out - n_mid) as f64;
    let threshold = (dark + paper) / 2.0;
    let expected = d / 2.0;
    let is_dark = |xx: i64, yy: i64| -> Option<bool> {
        if xx < 0 || yy < 0 || xx >= w as i64 || yy >= h as i64 {
            return None;
        }
        Some(255.0 - raw[yy as usize * stride + xx as usize] as f64 > threshold)
    };
    let clearance = (0.5 * d + 2.0) as i64;
    let (ix, iy) = (x0 + bx, y0 + by);
    let cut = ix < clearance
        || iy < clearance
        || ix + clearance >= w as i64
        || iy + clearance >= h as i64;
    let (c, radius) = if cut {
        // The centroid of what is left of a cut disc lies inwards of its centre.
        cut_disc(img, PointPx::new(ix as f64, iy as f64), expected, threshold)?
    } else {
        // Centroid of the dark pixels within the disc's reach.
        let r = (0.75 * d) as i64;
        let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
        for yy in (by - r).max(0)..=(by + r).min(hh as i64 - 1) {
            for xx in (bx - r).max(0)..=(bx + r).min(ww as i64 - 1) {
                let v = 255.0 - raw[(y0 + yy) as usize * stride + (x0 + xx) as usize] as f64;
                if v > threshold {
                    let wgt = v - paper;
                    sx += wgt * (xx as f64 + 0.5);
                    sy += wgt * (yy as f64 + 0.5);
                    sw += wgt;
                }
            }
        }
        if sw <= 0.0 {
            return None;
        }
        let c = PointPx::new(x0 as f64 + sx / sw, y0 as f64 + sy / sw);
        // The disc's radius is measured from its ink, because a phone photo's perspective
        // makes far discs smaller than the QR code predicts and near ones larger.
        let (_, area) = count_dark(c, 0.0, 1.3 * expected, &is_dark);
        (c, (area as f64 / std::f64::consts::PI).sqrt())
    };
    if !(0.6 * expected..=1.25 * expected).contains(&radius) {
        return None;
    }
    // Shape check: ink fills the disc and the ring around it is paper. Bold title letters or
    // a doodle near a corner can outscore paper, but not this.
    let (inside, inside_dark) = count_dark(c, 0.0, 0.8 * radius, &is_dark);
    let (ring, ring_dark) = count_dark(c, 1.3 * radius, 1.8 * radius, &is_dark);
    let solid = inside_dark as f64 >= 0.9 * inside as f64;
    let clear = (ring_dark as f64) <= 0.1 * ring as f64;
    // A disc that is mostly off the image is not measured well enough.
    let seen = inside as f64 >= 0.4 * std::f64::consts::PI * (0.8 * radius).powi(2);
    (solid && clear && seen).then_some(c)
}

/// Pixels (in the image) at a distance from `c` between `from` and `to`, and how many of them
/// are dark.
fn count_dark(
    c: PointPx,
    from: f64,
    to: f64,
    is_dark: &dyn Fn(i64, i64) -> Option<bool>,
) -> (u32, u32) {
    let (mut all, mut dark) = (0u32, 0u32);
    let (from2, to2) = (from * from, to * to);
    let reach = to.ceil() as i64 + 1;
    for yy in (c.y as i64 - reach)..=(c.y as i64 + reach) {
        for xx in (c.x as i64 - reach)..=(c.x as i64 + reach) {
            let (dx, dy) = (xx as f64 + 0.5 - c.x, yy as f64 + 0.5 - c.y);
            let dist2 = dx * dx + dy * dy;
            if dist2 >= from2 && dist2 <= to2 {
                if let Some(is_dark) = is_dark(xx, yy) {
                    all += 1;
                    dark += is_dark as u32;
                }
            }
        }
    }
    (all, dark)
}

/// The centre and radius of a fiducial disc cut by the edge of the scan, from a circle fitted
/// to its visible edge. A sheet fed askew into a scanner whose scan area is the page loses its
/// corners, and with them part of a fiducial, first.
fn cut_disc(
    img: &GrayImage,
    near: PointPx,
    expected: f64,
    threshold: f64,
) -> Option<(PointPx, f64)> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let raw = img.as_raw();
    let ink = |x: i64, y: i64| 255.0 - raw[y as usize * w as usize + x as usize] as f64;
    // The search's best position is within a radius of the centre.
    let reach = (2.2 * expected).ceil() as i64;
    let (cx, cy) = (near.x as i64, near.y as i64);
    let mut edge = Vec::new();
    for y in (cy - reach).max(0)..(cy + reach + 1).min(h) {
        for x in (cx - reach).max(0)..(cx + reach + 1).min(w) {
            let v = ink(x, y);
            if v <= threshold {
                continue;
            }
            for (dx, dy) in [(1i64, 0i64), (-1, 0), (0, 1), (0, -1)] {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w || ny >= h {
                    continue;
                }
                let u = ink(nx, ny);
                if u <= threshold {
                    // Where the ink crosses the threshold between the two pixel centres.
                    let t = (v - threshold) / (v - u);
                    edge.push(PointPx::new(
                        x as f64 + 0.5 + t * dx as f64,
                        y as f64 + 0.5 + t * dy as f64,
                    ));
                }
            }
        }
    }
    // Other ink in reach (a letter, the dark border beyond the sheet) is not on the circle:
    // fit, drop what is far from it, fit again.
    let mut circle = crate::geometry::fit_circle(&edge)?;
    for _ in 0..3 {
        let (c, r) = circle;
        let tolerance = 0.15 * r + 1.0;
        let on: Vec<PointPx> = edge
            .iter()
            .copied()
            .filter(|p| (p.distance(c) - r).abs() <= tolerance)
            .collect();
        if (on.len() as f64) < 0.6 * edge.len() as f64 {
            return None;
        }
        circle = crate::geometry::fit_circle(&on)?;
        edge = on;
    }
    let (c, r) = circle;
    // At least 150° of the edge must show (the largest gap between edge points, seen from the
    // centre, is at most 210°): a shorter arc leaves the centre poorly pinned down.
    let mut angles: Vec<f64> = edge.iter().map(|p| (p.y - c.y).atan2(p.x - c.x)).collect();
    angles.sort_by(f64::total_cmp);
    let wrap = angles
        .first()
        .zip(angles.last())
        .map(|(a, b)| a + std::f64::consts::TAU - b)?;
    let largest_gap = angles.windows(2).map(|p| p[1] - p[0]).fold(wrap, f64::max);
    (largest_gap <= 210f64.to_radians()).then_some((c, r))
}

/// The centre of a QR finder pattern (7 × 7 modules, symmetric), as the centroid of ink in a
/// window of 7.6 × 7.6 modules (the pattern and part of its white separator, never the data),
/// re-centred twice, because the prediction from rqrr's rounded corners can be a module off.
fn finder_centre(img: &GrayImage, rough: &Homography, centre: PointMm) -> Option<PointPx> {
    let ppm = rough.px_per_mm(centre);
    let half = 3.8 * QR_MODULE_MM * ppm;
    let mut c = rough.map(centre);
    for _ in 0..3 {
        let (w, h) = img.dimensions();
        let x0 = (c.x - half).floor().max(0.0) as u32;
        let y0 = (c.y - half).floor().max(0.0) as u32;
        let x1 = ((c.x + half).ceil() as u32).min(w);
        let y1 = ((c.y + half).ceil() as u32).min(h);
        let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
        for y in y0..y1 {
            for x in x0..x1 {
                let v = 255.0 - img.get_pixel(x, y).0[0] as f64;
                // Ignore paper noise: only ink counts.
                if v > 96.0 {
                    sx += v * (x as f64 + 0.5);
                    sy += v * (y as f64 + 0.5);
                    sw += v;
                }
            }
        }
        if sw <= 0.0 {
            return None;
        }
        c = PointPx::new(sx / sw, sy / sw);
    }
    Some(c)
}

/// The image rectangle a page rectangle maps to (its bounding box), for crops.
pub fn bounding_box_px(h: &Homography, r: &RectMm) -> (f64, f64, f64, f64) {
    let pts = r.corners().map(|c| h.map(c));
    let xs = pts.iter().map(|p| p.x);
    let ys = pts.iter().map(|p| p.y);
    (
        xs.clone().fold(f64::MAX, f64::min),
        ys.clone().fold(f64::MAX, f64::min),
        xs.fold(f64::MIN, f64::max),
        ys.fold(f64::MIN, f64::max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Form;
    use crate::layout::Layout;
    use crate::payload::Payload;
    use crate::render::{ballot_shapes, raster};

    /// The standard form's checkbox rectangles.
    fn standard_boxes() -> Vec<RectMm> {
        let layout = Layout::new(&Form::default_form()).expect("layout");
        layout.checkboxes.iter().map(|c| c.rect).collect()
    }

    /// The standard ballot rendered upright at `dpi` (also used by the QR reader's tests).
    pub(super) fn page(dpi: f64) -> GrayImage {
        let form = Form::default_form();
        let layout = Layout::new(&form).expect("layout");
        let p = Payload::new("CSAT", 1, "P-ANBIEN", 42);
        raster::render(
            &ballot_shapes(&layout, &p, "Công an phường An Biên").expect("shapes"),
            dpi,
        )
    }

    #[test]
    fn upright_render_aligns_to_the_layout_within_a_tenth_of_a_mm() {
        let img = page(200.0);
        let qr = find_qr(&img).expect("qr found");
        assert_eq!(qr.bytes, b"BS1:CSAT:1:P-ANBIEN:000042");
        let a = align(&img, &qr, &standard_boxes()).expect("aligned");
        assert_eq!(a.fiducials_found, 4);
        assert!(a.fit_error_mm < 0.3, "fit error {}", a.fit_error_mm);
        let truth = Homography::at_dpi(200.0);
        for m in [PointMm::new(30.0, 100.0), PointMm::new(180.0, 250.0)] {
            let d = a.transform.map(m).distance(truth.map(m)) / (200.0 / 25.4);
            assert!(d < 0.1, "{m:?} off by {d} mm");
        }
        assert!(a.rotation_deg < 0.5 || a.rotation_deg > 359.5);
    }

    #[test]
    fn fiducials_cut_by_the_edge_of_the_scan_are_measured_while_more_than_half_shows() {
        // Fiducial centres are 11 mm from the page edges, their radius is 3 mm.
        let dpi = 200.0;
        let px = dpi / 25.4;
        let full = page(dpi);
        let cropped = |left_mm: f64, top_mm: f64| {
            let (x, y) = ((left_mm * px) as u32, (top_mm * px) as u32);
            let img = image::imageops::crop_imm(&full, x, y, full.width() - x, full.height() - y)
                .to_image();
            (img, x as f64, y as f64)
        };
        // Both left discs lose a third of their width, the top-left one also a sixth of its
        // height: 157° of its edge shows.
        let (img, dx, dy) = cropped(10.0, 9.0);
        let qr = find_qr(&img).expect("qr found");
        let a = align(&img, &qr, &standard_boxes()).expect("aligned");
        assert_eq!(a.fiducials_found, 4);
        let truth = Homography::at_dpi(dpi);
        for m in FIDUCIALS.into_iter().chain([PointMm::new(100.0, 150.0)]) {
            let t = truth.map(m);
            let d = a
                .transform
                .map(m)
                .distance(PointPx::new(t.x - dx, t.y - dy))
                / px;
            assert!(d < 0.1, "{m:?} off by {d} mm");
        }
        // With the left discs' centres off the image, the checkboxes carry the page.
        let (img, dx, dy) = cropped(12.5, 0.0);
        let qr = find_qr(&img).expect("qr found");
        let a = align(&img, &qr, &standard_boxes()).expect("aligned on the boxes");
        assert_eq!(a.fiducials_found, 2);
        assert!(a.boxes_found >= 30, "{} boxes", a.boxes_found);
        let shifted = |m: PointMm| {
            let t = truth.map(m);
            PointPx::new(t.x - dx, t.y - dy)
        };
        let worst = worst_box_error_mm(&a, &shifted, px);
        assert!(worst < 0.1, "boxes off by {worst} mm");
    }

    /// The largest distance (mm) between where `a` puts the standard form's box centres and
    /// where `truth` (page mm → image px) does.
    fn worst_box_error_mm(a: &Alignment, truth: &dyn Fn(PointMm) -> PointPx, ppm: f64) -> f64 {
        standard_boxes()
            .iter()
            .map(|r| a.transform.map(r.center()).distance(truth(r.center())) / ppm)
            .fold(0.0, f64::max)
    }

    #[test]
    fn every_corner_and_every_pair_of_corners_cut_off_still_aligns_on_the_boxes() {
        let dpi = 200.0;
        let px = dpi / 25.4;
        let full = page(dpi);
        let truth = Homography::at_dpi(dpi);
        // Paper beyond the scan's edge: 15 mm squares at the corners take a disc (8–14 mm from
        // the edges) entirely, and leave the QR code's quiet zone (from 15.7 mm down) alone.
        let cut = |corners: &[usize]| {
            let mut img = full.clone();
            let (w, h) = (img.width(), img.height());
            let side = (15.0 * px) as u32;
            for &c in corners {
                let (x0, y0) = match c {
                    0 => (0, 0),
                    1 => (w - side, 0),
                    2 => (w - side, h - side),
                    _ => (0, h - side),
                };
                for y in y0..y0 + side {
                    for x in x0..x0 + side {
                        img.put_pixel(x, y, image::Luma([255]));
                    }
                }
            }
            img
        };
        let mut cases: Vec<Vec<usize>> = (0..4).map(|c| vec![c]).collect();
        for a in 0..4 {
            for b in a + 1..4 {
                cases.push(vec![a, b]);
            }
        }
        for corners in cases {
            let img = cut(&corners);
            let qr = find_qr(&img).expect("qr found");
            let a = align(&img, &qr, &standard_boxes())
                .unwrap_or_else(|e| panic!("corners {corners:?} cut: {e}"));
            assert_eq!(a.fiducials_found, 4 - corners.len(), "{corners:?}");
            let worst = worst_box_error_mm(&a, &|m| truth.map(m), px);
            assert!(worst < 0.15, "corners {corners:?}: boxes off by {worst} mm");
        }
    }

    #[test]
    fn a_tilted_phone_photo_with_one_disc_hidden_aligns_in_perspective() {
        use crate::synth::degrade::{apply, map_point, Degradation};
        use rand::SeedableRng;
        let dpi = 200.0;
        let sheet = page(dpi);
        for (perspective, hidden) in [(0.04, 0usize), (-0.04, 2), (0.06, 3), (0.03, 1)] {
            let d = Degradation {
                perspective,
                rotate_deg: 3.0,
                offset_mm: (12.0, 12.0),
                background: 90,
                ..Degradation::none()
            };
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
            let mut img = apply(&sheet, &d, &mut rng);
            let to_image = |m: PointMm| map_point(sheet.dimensions(), &d, m.at_dpi(dpi));
            // A finger over one disc: a dark blob twice its size.
            let c = to_image(FIDUCIALS[hidden]);
            let r = 6.0 * dpi / 25.4;
            for y in (c.y - r) as u32..(c.y + r) as u32 {
                for x in (c.x - r) as u32..(c.x + r) as u32 {
                    img.put_pixel(x, y, image::Luma([70]));
                }
            }
            let qr = find_qr(&img).expect("qr found");
            let a = align(&img, &qr, &standard_boxes())
                .unwrap_or_else(|e| panic!("{perspective} / disc {hidden}: {e}"));
            assert_eq!(a.fiducials_found, 3);
            let ppm =
                to_image(PointMm::new(100.0, 150.0)).distance(to_image(PointMm::new(101.0, 150.0)));
            let worst = worst_box_error_mm(&a, &to_image, ppm);
            assert!(
                worst < 0.3,
                "{perspective} / disc {hidden}: boxes off by {worst} mm"
            );
        }
    }

    #[test]
    fn upside_down_page_is_found_and_reported_as_180_degrees() {
        let img = image::imageops::rotate180(&page(150.0));
        let qr = find_qr(&img).expect("qr found");
        let a = align(&img, &qr, &standard_boxes()).expect("aligned");
        assert!((a.rotation_deg - 180.0).abs() < 0.5, "{}", a.rotation_deg);
        let sideways = image::imageops::rotate90(&page(150.0));
        let qr = find_qr(&sideways).expect("qr found");
        let a = align(&sideways, &qr, &standard_boxes()).expect("aligned");
        assert!((a.rotation_deg - 90.0).abs() < 0.5, "{}", a.rotation_deg);
    }
}
