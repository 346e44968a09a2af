//! Scoring one checkbox: how much of its inside is covered by ink, from 0 (clean paper) to 1
//! (solid ink), and whether that is a mark, no mark, or too close to call.
//!
//! Each box is sampled through the page transform on a fine grid in the box's own frame (no
//! need to warp the whole page), re-located by a small search for its printed border, and
//! measured only inside the border, relative to the paper's local white level and the border's
//! own print black. Measuring against local paper makes a blank ballot read as blank on grey
//! recycled paper, under uneven light, or from a dark scanner — never "everything marked".

use std::fmt;

use image::GrayImage;

use crate::geometry::{Homography, PointMm, RectMm};
use crate::layout::{BOX_BORDER, BOX_SIZE};

/// A fill score in [0, 1]: the mean ink coverage of the inside of a box.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Fill(pub f64);

impl fmt::Display for Fill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0)
    }
}

/// The two thresholds. Between them a mark is `Ambiguous` and goes to a person.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// At or below: no mark.
    pub empty: f64,
    /// At or above: a mark.
    pub marked: f64,
}

impl Default for Thresholds {
    /// Chosen from the synthetic corpus (`bench accuracy`, 4,000 ballots over the four
    /// profiles, 145,188 boxes; BENCHMARKS.md): the highest score of an empty box was 0.047
    /// (a phone photo) and the lowest of a definite mark 0.054 (light pencil). Between the two
    /// thresholds a person looks; both extremes of the corpus fall there, so neither kind of
    /// error occurred. A single 1 mm pencil stroke across a box scores about 0.15–0.30.
    fn default() -> Self {
        Thresholds {
            empty: 0.03,
            marked: 0.06,
        }
    }
}

/// How a box's fill was called against the [`Thresholds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkState {
    /// Too little ink to be a mark.
    Empty,
    /// Between the two thresholds: a person decides.
    Ambiguous,
    /// Enough ink to be a mark.
    Marked,
}

impl MarkState {
    /// The word answers.csv's `states` column uses.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkState::Empty => "empty",
            MarkState::Ambiguous => "ambiguous",
            MarkState::Marked => "marked",
        }
    }
}

impl Thresholds {
    /// Calls a box's fill empty, ambiguous or marked.
    pub fn classify(&self, fill: Fill) -> MarkState {
        if fill.0 >= self.marked {
            MarkState::Marked
        } else if fill.0 <= self.empty {
            MarkState::Empty
        } else {
            MarkState::Ambiguous
        }
    }

    /// Distance to the nearest threshold (0 when ambiguous): how safe the call was.
    pub fn margin(&self, fill: Fill) -> f64 {
        match self.classify(fill) {
            MarkState::Marked => fill.0 - self.marked,
            MarkState::Empty => self.empty - fill.0,
            MarkState::Ambiguous => 0.0,
        }
    }
}

/// One scored box.
#[derive(Clone, Copy, Debug)]
pub struct BoxScore {
    /// How much of the box's inside is inked (the score answers.csv shows).
    pub fill: Fill,
    /// Where the box was found, relative to where the transform put it (mm, page frame).
    pub shift_mm: (f64, f64),
    /// The box as actually found on the page (outer edge of the border, mm).
    pub found: RectMm,
    /// Share of the inside left out because a scanner streak or fold crosses it.
    pub masked_share: f64,
    /// The fill measured against the lightest paper of the whole window instead of the paper
    /// right around the box: far above `fill`, the box sits in shading.
    pub window_fill: Fill,
    /// How dark the darkest part of the paper around the box is, in units of print contrast
    /// (0 = as light as the lightest paper nearby, 1 = as dark as the printed border).
    pub ring_dark: f64,
    /// How speckled or mottled the paper around the box is: the fill its worst side scores
    /// measured like a box, against its own paper.
    pub ring_texture: f64,
    /// How much ink a pen stroke crossing the paper right around the box leaves there (the
    /// inkiest 1.4 mm stretch of the ring over its median stretch).
    pub ring_stroke: f64,
    /// The sharpest change of paper brightness along the ring, between neighbouring 1.4 mm
    /// stretches, in units of print contrast: a shadow's edge crossing the box.
    pub ring_step: f64,
    /// How far the ink inside the box reaches: the diagonal of the smallest rectangle holding
    /// every clearly inked cell (mm). A tick, a cross or a pencil line spans most of the box;
    /// a dot or a speck of toner does not.
    pub ink_span_mm: f64,
    /// Whether one thin pen line runs all the way around the box, just outside its border:
    /// the citizen circled the box instead of marking inside it (see `circled`).
    pub circled: bool,
}

impl BoxScore {
    /// A box known only by the fill score a results file recorded (its state is recorded
    /// beside it): nothing about where it was found or what surrounds it.
    pub fn as_recorded(fill: Fill) -> BoxScore {
        BoxScore {
            fill,
            window_fill: fill,
            shift_mm: (0.0, 0.0),
            found: RectMm::new(0.0, 0.0, 0.0, 0.0),
            masked_share: 0.0,
            ring_dark: 0.0,
            ring_texture: 0.0,
            ring_stroke: 0.0,
            ring_step: 0.0,
            ink_span_mm: f64::INFINITY,
            circled: false,
        }
    }

    /// Whether the paper around the box is too dark or too uneven to tell ink from shading:
    /// such a box is never read as marked or empty without a person.
    pub fn surroundings_unusable(&self) -> bool {
        self.ring_dark > MAX_RING_DARK
            || self.ring_texture > MAX_RING_TEXTURE
            || self.ring_step > MAX_RING_STEP
    }

    /// Whether a pen stroke crosses the paper right around the box: beside an empty inside it
    /// is a mark made off-centre (a tick whose corner barely enters the box), which a person
    /// reads as a vote; the box is not called empty without one.
    pub fn stroke_beside(&self) -> bool {
        self.ring_stroke > MIN_RING_STROKE
    }
}

/// A 0.5 mm stroke crossing a 1.4 mm stretch of the ring inks about a third of it; paper
/// noise, JPEG ripple and a border's blur ink every stretch alike and stay far below.
const MIN_RING_STROKE: f64 = 0.1;

/// Paper around a box darker than this (in print contrast) is no longer paper one can compare
/// ink with: a toner band, a deep shadow, or ink spilling over the border all around.
const MAX_RING_DARK: f64 = 0.5;
/// Across a box the paper is interpolated between stretches 1.4 mm apart, so a sharper edge
/// of shading (a cast shadow, a toner band's side) is smoothed over, and the part of the box
/// beyond it misread by up to the edge's height. Ink counts from 10 % of the print contrast:
/// an edge up to this high can leave an empty box ambiguous at worst, never marked.
const MAX_RING_STEP: f64 = 0.15;
/// Paper that alone scores like a box between the thresholds is speckled or mottled (a worn
/// copier drum, toner haze): a box's fill there is as much texture as ink. Paired with the
/// default empty threshold (0.03).
const MAX_RING_TEXTURE: f64 = 0.03;

/// Replaces one or two neighbouring stretches of the ring that are darker than the stretches
/// on both sides of them with those stretches' mean, when the dip is a pen stroke: deeper than
/// `spike`, or shallower but holding a sample twice `spike` darker than the paper beside it
/// (a pen's core, where a stroke covers only part of the stretch and leaves its upper quartile
/// a little dark). Shading — a shadow's edge, a band — changes the ring's brightness softly,
/// over a longer run, or steps once and stays. The ring is walked as the closed loop it is
/// (top, right, bottom, left), so a stroke leaving the box through a corner — a cross's arms,
/// a tick's tail — is a spike like any other. `cores`: each stretch's darkest sample.
fn despike(sides: [&mut [f64; 7]; 4], cores: [&[f64; 7]; 4], spike: f64) {
    // Clockwise: top left→right, right top→bottom, bottom right→left, left bottom→top. Held on
    // the stack: this runs for every box of every page.
    let loop_of = |s: [&[f64; 7]; 4]| -> [f64; 28] {
        std::array::from_fn(|k| match k / 7 {
            0 => s[0][k],
            1 => s[1][k - 7],
            2 => s[2][20 - k],
            _ => s[3][27 - k],
        })
    };
    let [top, right, bottom, left] = sides;
    let mut ring = loop_of([&*top, &*right, &*bottom, &*left]);
    let core = loop_of(cores);
    let shallow = spike / 4.0;
    let n = ring.len();
    for width in [1usize, 2] {
        for k in 0..n {
            let (before, after) = (ring[(k + n - 1) % n], ring[(k + width) % n]);
            let darkest_neighbour = before.min(after);
            let dip = |depth: f64| (k..k + width).all(|i| ring[i % n] < darkest_neighbour - depth);
            let pen_core = (k..k + width).any(|i| core[i % n] < darkest_neighbour - 1.5 * spike);
            if dip(spike) || (dip(shallow) && pen_core) {
                let mean = (before + after) / 2.0;
                (k..k + width).for_each(|i| ring[i % n] = mean);
            }
        }
    }
    for k in 0..7 {
        top[k] = ring[k];
        right[k] = ring[7 + k];
        bottom[6 - k] = ring[14 + k];
        left[6 - k] = ring[21 + k];
    }
}

/// The paper around a box: its brightness along each side, just outside the printed border,
/// as a patch that gives the paper's brightness anywhere inside the box.
struct Surroundings {
    /// Brightness along the top, bottom, left and right sides, at [`Surroundings::POSITIONS`].
    top: [f64; 7],
    bottom: [f64; 7],
    left: [f64; 7],
    right: [f64; 7],
    /// Mean and lowest of all the stretches.
    mean: f64,
    darkest: f64,
    /// How much ink the paper alone shows beside the box: each stretch measured like a box
    /// against its own paper level, the median of each side, and the worst side.
    texture: f64,
    /// How much more ink the inkiest stretch holds than the median stretch: a pen stroke
    /// crossing the ring.
    stroke: f64,
    /// The largest change of paper brightness between neighbouring stretches: a shadow's sharp
    /// edge, which the patch smooths over.
    step: f64,
}

impl Surroundings {
    /// Cells between the border's outer edge and the ring (the border's blur), and the ring's
    /// depth: the ring lies 0.4–1.4 mm outside the box, clear of the border and of any
    /// neighbour on every layout.
    const GAP: i64 = 2;
    const DEPTH: i64 = 5;
    /// Each side of the ring is cut into seven stretches of 1.4 mm; the first and last are
    /// the corners, shared with the neighbouring sides.
    const STRETCH: i64 = 7;

    /// Centre of stretch `s` along a side, in cells from the box's outer edge.
    fn position(s: usize) -> f64 {
        let start = -(Self::GAP + Self::DEPTH);
        start as f64 + (s as i64 * Self::STRETCH) as f64 + (Self::STRETCH - 1) as f64 / 2.0
    }

    /// `at(i, j)`: brightness of the cell `i` columns right of and `j` rows below the box's
    /// outer top-left corner, NaN where a scanner streak or fold line crosses it;
    /// `at_unmasked`: the same without the lines; `side`: the box's size in cells; `shifts`:
    /// how far (cells) the top, bottom, left and right borders were found from where the box's
    /// size puts them.
    fn measure(
        at: &dyn Fn(i64, i64) -> f64,
        at_unmasked: &dyn Fn(i64, i64) -> f64,
        side: i64,
        shifts: [i64; 4],
        ink: &dyn Fn(f64, f64) -> f64,
        spike: f64,
    ) -> Surroundings {
        let near = -(Self::GAP + Self::DEPTH);
        let far = side + Self::GAP;
        let stretch = |vertical: bool, across0: i64, s: usize| -> (f64, f64, f64) {
            let along0 = near + s as i64 * Self::STRETCH;
            let mut all = [0f64; (Self::STRETCH * Self::DEPTH) as usize];
            let mut k = 0;
            for a in along0..along0 + Self::STRETCH {
                for c in across0..across0 + Self::DEPTH {
                    let value = if vertical { at(c, a) } else { at(a, c) };
                    // Cells under a thin line (NaN) are left out while most of the stretch
                    // remains.
                    if !value.is_nan() {
                        all[k] = value;
                        k += 1;
                    }
                }
            }
            // A stretch that a streak or fold line covers says nothing about the paper: it
            // is filled in from the rest of the ring below.
            if k < all.len() / 3 {
                return (f64::NAN, f64::NAN, f64::NAN);
            }
            let vals = &mut all[..k];
            // A pen stroke crossing the stretch darkens a third of it at most: the upper
            // quartile is the paper.
            let paper = *vals
                .select_nth_unstable_by((k - 1) * 3 / 4, f64::total_cmp)
                .1;
            let texture = vals.iter().map(|&v| ink(paper, v)).sum::<f64>() / vals.len() as f64;
            let darkest = vals.iter().copied().fold(f64::INFINITY, f64::min);
            (paper, texture, darkest)
        };
        let mut side_texture = 0f64;
        let mut stretch_inks: Vec<f64> = Vec::with_capacity(28);
        let mut one_side = |vertical: bool, across0: i64| -> ([f64; 7], [f64; 7]) {
            let measured: [(f64, f64, f64); 7] =
                std::array::from_fn(|s| stretch(vertical, across0, s));
            // A pen stroke overshooting the box crosses one or two stretches of a side; a band,
            // speckle or a mottled shadow covers most of it.
            let mut t: Vec<f64> = measured
                .iter()
                .map(|m| m.1)
                .filter(|t| !t.is_nan())
                .collect();
            stretch_inks.extend_from_slice(&t);
            t.sort_by(f64::total_cmp);
            if let Some(&median) = t.get(t.len() / 2) {
                side_texture = side_texture.max(median);
            }
            (measured.map(|m| m.0), measured.map(|m| m.2))
        };
        let (mut top, top_core) = one_side(false, near + shifts[0]);
        let (mut bottom, bottom_core) = one_side(false, far + shifts[1]);
        let (mut left, left_core) = one_side(true, near + shifts[2]);
        let (mut right, right_core) = one_side(true, far + shifts[3]);
        let texture = side_texture;
        stretch_inks.sort_by(f64::total_cmp);
        let stroke = match (
            stretch_inks.last(),
            stretch_inks.get(stretch_inks.len() / 2),
        ) {
            (Some(most), Some(median)) => most - median,
            _ => 0.0,
        };
        let mut known: Vec<f64> = [top, bottom, left, right]
            .iter()
            .flatten()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        known.sort_by(f64::total_cmp);
        let fallback = known
            .get(known.len() / 2)
            .copied()
            .unwrap_or(at_unmasked(-1, -1));
        for side in [&mut top, &mut bottom, &mut left, &mut right] {
            for v in side.iter_mut().filter(|v| v.is_nan()) {
                *v = fallback;
            }
        }
        despike(
            [&mut top, &mut right, &mut bottom, &mut left],
            [&top_core, &right_core, &bottom_core, &left_core],
            spike,
        );
        let all = || top.iter().chain(&bottom).chain(&left).chain(&right);
        let step = [&top, &bottom, &left, &right]
            .iter()
            .flat_map(|side| side.windows(2).map(|p| (p[1] - p[0]).abs()))
            .fold(0.0, f64::max);
        Surroundings {
            top,
            bottom,
            left,
            right,
            mean: all().sum::<f64>() / 28.0,
            darkest: all().copied().fold(f64::INFINITY, f64::min),
            texture,
            stroke,
            step,
        }
    }

    /// The paper's brightness at every cell of `cols` × `rows` inside the box (row-major; cells
    /// counted from the box's outer top-left corner): a Coons patch over the four sides, which
    /// reproduces any shading that varies linearly across the box and follows a band or a
    /// shadow edge that crosses two opposite sides.
    fn paper_inside(&self, cols: std::ops::Range<i64>, rows: std::ops::Range<i64>) -> Vec<f64> {
        let (lo, hi) = (Self::position(0), Self::position(6));
        let t = |k: i64| ((k as f64 - lo) / (hi - lo)).clamp(0.0, 1.0);
        let along = |side: &[f64; 7], t: f64| {
            let f = t * 6.0;
            let k = (f as usize).min(5);
            side[k] + (f - k as f64) * (side[k + 1] - side[k])
        };
        let corner = |a: f64, b: f64| (a + b) / 2.0;
        let (tl, tr) = (
            corner(self.top[0], self.left[0]),
            corner(self.top[6], self.right[0]),
        );
        let (bl, br) = (
            corner(self.bottom[0], self.left[6]),
            corner(self.bottom[6], self.right[6]),
        );
        // Per column: u, and the top and bottom sides at u; per row: w, and the left and right
        // sides at w. Each cell then costs a few multiplications.
        let columns: Vec<(f64, f64, f64)> = cols
            .map(|i| {
                let u = t(i);
                (u, along(&self.top, u), along(&self.bottom, u))
            })
            .collect();
        let mut out = Vec::with_capacity(columns.len() * rows.clone().count());
        for j in rows {
            let w = t(j);
            let (left, right) = (along(&self.left, w), along(&self.right, w));
            for &(u, top, bottom) in &columns {
                out.push(
                    (1.0 - w) * top + w * bottom + (1.0 - u) * left + u * right
                        - ((1.0 - u) * (1.0 - w) * tl
                            + u * (1.0 - w) * tr
                            + (1.0 - u) * w * bl
                            + u * w * br),
                );
            }
        }
        out
    }
}

/// Sampling step of the box grid: 0.2 mm resolves a 1 mm pencil line at any scan resolution
/// while keeping a box to about 2,400 samples.
const CELL_MM: f64 = 0.2;
/// Grid margin around the box: room for the border search (1 mm) plus the ring of paper
/// around the box (0.4–1.4 mm out, see [`Surroundings`]).
const MARGIN_MM: f64 = 2.4;
/// The border is searched within this distance of its predicted place. The page fit is good to
/// a few tenths of a millimetre; printers shift and stretch by up to this much more.
const SEARCH_MM: f64 = 1.0;
/// How far one side's border is looked for from where the box's joint fit puts it (cells):
/// the half millimetre a fold ridge or a curled edge shifts the paper, and a little more.
const SIDE_SHIFT_CELLS: i64 = 3;
/// The inside is measured this far in from the border's outer edge: the 0.4 mm border plus
/// room for blur, JPEG ringing and a border printed slightly thick.
const INSET_MM: f64 = 1.0;

/// A neighbourhood whose boxes were found this far from where the page transform puts them,
/// in the same direction, shows paper that one flat transform cannot follow (a fold ridge, a
/// curled edge, a bent sheet in a photo): the box is searched again from where its neighbours
/// are. Well under the 1 mm search, so a box found on its own is never moved.
const LOCAL_SHIFT_MM: f64 = 0.5;
/// Neighbours consulted for that correction: the nearest boxes, on its row and the next.
const NEIGHBOURS: usize = 4;

/// Scores every checkbox of a page (`rects` in layout order). Each box is re-located by its
/// own border search; where its nearest neighbours were all found shifted the same way, it is
/// searched again from their median shift, so a box displaced by more than its own search can
/// still be found.
pub fn score_boxes(img: &GrayImage, h: &Homography, rects: &[RectMm]) -> Vec<BoxScore> {
    let mut scores: Vec<BoxScore> = rects.iter().map(|r| score_box(img, h, r)).collect();
    let first: Vec<(f64, f64)> = scores.iter().map(|s| s.shift_mm).collect();
    for (i, r) in rects.iter().enumerate() {
        let c = r.center();
        let mut near: Vec<(f64, usize)> = rects
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != i)
            .map(|(k, o)| {
                let d = o.center();
                ((d.x - c.x).powi(2) + (d.y - c.y).powi(2), k)
            })
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        near.truncate(NEIGHBOURS);
        if near.len() < NEIGHBOURS {
            continue;
        }
        let median = |pick: fn(&(f64, f64)) -> f64| {
            let mut v: Vec<f64> = near.iter().map(|&(_, k)| pick(&first[k])).collect();
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        let (ox, oy) = (median(|s| s.0), median(|s| s.1));
        if ox.hypot(oy) < LOCAL_SHIFT_MM {
            continue;
        }
        let moved = RectMm::new(r.x + ox, r.y + oy, r.w, r.h);
        let mut again = score_box(img, h, &moved);
        again.shift_mm = (again.shift_mm.0 + ox, again.shift_mm.1 + oy);
        scores[i] = again;
    }
    scores
}

/// Scores one checkbox.
pub fn score_box(img: &GrayImage, h: &Homography, rect: &RectMm) -> BoxScore {
    let n = ((BOX_SIZE + 2.0 * MARGIN_MM) / CELL_MM).round() as usize;
    let origin = PointMm::new(rect.x - MARGIN_MM, rect.y - MARGIN_MM);
    // Brightness samples, row-major, n × n.
    let mut v = vec![0f32; n * n];
    // Over one box (10 mm) the page transform is affine to well under a hundredth of a pixel
    // even for a phone photo, so the grid is stepped instead of projected point by point.
    let at = |i: f64, j: f64| {
        h.map(PointMm::new(
            origin.x + (i + 0.5) * CELL_MM,
            origin.y + (j + 0.5) * CELL_MM,
        ))
    };
    let (o, ex, ey) = (at(0.0, 0.0), at(n as f64, 0.0), at(0.0, n as f64));
    let ((dxi, dyi), (dxj, dyj)) = (
        ((ex.x - o.x) / n as f64, (ex.y - o.y) / n as f64),
        ((ey.x - o.x) / n as f64, (ey.y - o.y) / n as f64),
    );
    for j in 0..n {
        for i in 0..n {
            let (fi, fj) = (i as f64, j as f64);
            v[j * n + i] = bilinear(img, o.x + fi * dxi + fj * dxj, o.y + fi * dyi + fj * dyj);
        }
    }
    let cells = |mm: f64| (mm / CELL_MM).round() as i64;
    let m = cells(MARGIN_MM);
    let b = cells(BOX_BORDER).max(1);
    let side = cells(BOX_SIZE);
    let search = cells(SEARCH_MM);

    // Paper white: a high percentile of the whole window (most of it is paper or border-free
    // inside), robust to a stray mark or the box's own ink.
    let mut sorted = v.clone();
    let k = (sorted.len() * 9) / 10;
    let white = *sorted.select_nth_unstable_by(k, f32::total_cmp).1 as f64;

    // Darkness profiles along columns and rows, over the middle of the box only (the corners
    // belong to both directions).
    let dark = |i: i64, j: i64| -> f64 {
        if i < 0 || j < 0 || i >= n as i64 || j >= n as i64 {
            0.0
        } else {
            (white - v[j as usize * n + i as usize] as f64).max(0.0)
        }
    };
    let span = |from: i64| (from + side / 4)..(from + side - side / 4);
    // Summed once per column and row: the border searches below ask for each a dozen times.
    let sums = |sum: &dyn Fn(i64) -> f64| (0..n as i64).map(sum).collect::<Vec<f64>>();
    let (cols, rows) = (
        sums(&|i| span(m).map(|j| dark(i, j)).sum()),
        sums(&|j| span(m).map(|i| dark(i, j)).sum()),
    );
    let lookup = |sums: &[f64], k: i64| usize::try_from(k).ok().and_then(|k| sums.get(k)).copied();
    let col = |i: i64| lookup(&cols, i).unwrap_or(0.0);
    let row = |j: i64| lookup(&rows, j).unwrap_or(0.0);
    let edge_score = |profile: &dyn Fn(i64) -> f64, d: i64| -> f64 {
        let near = m + d;
        let far = m + side - b + d;
        let border: f64 = (0..b).map(|k| profile(near + k) + profile(far + k)).sum();
        // The paper just outside the border must be light: this keeps a solidly filled box from
        // pulling the border inwards.
        let outside = profile(near - 2) + profile(far + b + 1);
        border - outside - 0.02 * (d.abs() as f64) * border.abs().max(1.0)
    };
    let best = |profile: &dyn Fn(i64) -> f64| {
        (-search..=search)
            .max_by(|&a, &b| edge_score(profile, a).total_cmp(&edge_score(profile, b)))
            .unwrap_or(0)
    };
    let dx = best(&col);
    let dy = best(&row);
    // Each side's own border, where the paper under it moved apart from the rest of the box:
    // a fold ridge or a curled edge shifts one side of a box against the other by up to half
    // a millimetre, and the paper around that side must be measured outside *its* border —
    // measured from the box's joint fit, the ring ran along the border's ink, and the box (empty
    // or plainly marked) went to a person as "speckled surroundings". Moved only when the
    // border is plainly no longer where the joint fit puts it, so a pen line hugging a border
    // (a circle drawn tight around the box) is never taken for it.
    let own_border = |profile: &dyn Fn(i64) -> f64, at: i64, outside: i64| -> i64 {
        let score = |d: i64| {
            let border: f64 = (0..b).map(|k| profile(at + d + k)).sum();
            border - profile(at + d + outside)
        };
        let joint = score(0);
        let (moved, best) = (-SIDE_SHIFT_CELLS..=SIDE_SHIFT_CELLS)
            .filter(|d| d.abs() >= 2)
            .map(|d| (d, score(d)))
            .fold((0, f64::MIN), |a, c| if c.1 > a.1 { c } else { a });
        if best > 0.0 && joint < 0.5 * best {
            moved
        } else {
            0
        }
    };
    let (near_x, far_x) = (m + dx, m + side - b + dx);
    let (near_y, far_y) = (m + dy, m + side - b + dy);
    let side_shifts = [
        own_border(&row, near_y, -2),
        own_border(&row, far_y, b + 1),
        own_border(&col, near_x, -2),
        own_border(&col, far_x, b + 1),
    ];

    // Print black: the darkest part of the found border, so ink is measured in "how dark a
    // pen is here", whatever the scanner's contrast.
    let mut border_vals: Vec<f32> = Vec::new();
    for k in span(m) {
        for t in 0..b {
            for (i, j) in [
                (m + dx + t, k + dy),
                (m + dx + side - 1 - t, k + dy),
                (k + dx, m + dy + t),
                (k + dx, m + dy + side - 1 - t),
            ] {
                if i >= 0 && j >= 0 && (i as usize) < n && (j as usize) < n {
                    border_vals.push(v[j as usize * n + i as usize]);
                }
            }
        }
    }
    let black = if border_vals.is_empty() {
        0.0
    } else {
        let k = border_vals.len() / 4;
        *border_vals.select_nth_unstable_by(k, f32::total_cmp).1 as f64
    };
    // A faint border (light toner, heavy blur) must not make every speck count as ink.
    let contrast = (white - black).max(96.0);
    let ink = |value: f64| ink_level(white, contrast, value);

    // The paper right around the box, on all four sides: shading that crosses the box and its
    // surroundings alike (a fold's shadow, the edge of a cast shadow, a toner band, uneven
    // light) is paper, not ink.
    let sample = |i: i64, j: i64| -> f64 {
        if i >= 0 && j >= 0 && (i as usize) < n && (j as usize) < n {
            v[j as usize * n + i as usize] as f64
        } else {
            white
        }
    };
    let found = RectMm::new(
        rect.x + dx as f64 * CELL_MM,
        rect.y + dy as f64 * CELL_MM,
        rect.w,
        rect.h,
    );
    let lines = line_defects(img, h, &found, &ink);
    let cell_mm = |k: i64| k as f64 * CELL_MM + CELL_MM / 2.0;
    let surroundings = Surroundings::measure(
        &|i, j| {
            if lines.iter().any(|l| l.covers(cell_mm(i), cell_mm(j))) {
                f64::NAN
            } else {
                sample(m + dx + i, m + dy + j)
            }
        },
        &|i, j| sample(m + dx + i, m + dy + j),
        side,
        side_shifts,
        &|paper, value| ink_level(paper, contrast, value),
        // A stroke's darkening, in grey levels: over a third of the print contrast.
        contrast / 3.0,
    );
    let paper_contrast = (surroundings.mean - black).max(96.0);
    let ring_dark = ((white - surroundings.darkest) / contrast).max(0.0);
    let ring_texture = surroundings.texture;
    let ring_stroke = surroundings.stroke;
    let ring_step = surroundings.step / paper_contrast;

    let inset = cells(INSET_MM);
    let (i0, i1) = (m + dx + inset, m + dx + side - inset);
    let (j0, j1) = (m + dy + inset, m + dy + side - inset);
    let paper_inside =
        surroundings.paper_inside(i0 - m - dx..i1 - m - dx, j0 - m - dy..j1 - m - dy);
    let width = (i1 - i0) as usize;
    let (mut total, mut window_total, mut count, mut masked) = (0.0, 0.0, 0usize, 0usize);
    // Bounds of the clearly inked cells: (min i, max i, min j, max j).
    let mut inked: Option<(i64, i64, i64, i64)> = None;
    for j in j0..j1 {
        for i in i0..i1 {
            // Cell centre in mm, relative to the found box's top-left corner.
            let x = (i - m - dx) as f64 * CELL_MM + CELL_MM / 2.0;
            let y = (j - m - dy) as f64 * CELL_MM + CELL_MM / 2.0;
            if lines.iter().any(|l| l.covers(x, y)) {
                masked += 1;
                continue;
            }
            let value = sample(i, j);
            let paper = paper_inside[(j - j0) as usize * width + (i - i0) as usize];
            let level = ink_level(paper, paper_contrast, value);
            if level >= 0.5 {
                inked = Some(match inked {
                    None => (i, i, j, j),
                    Some((a, b, c, d)) => (a.min(i), b.max(i), c.min(j), d.max(j)),
                });
            }
            total += level;
            window_total += ink(value);
            count += 1;
        }
    }
    let (fill, window_fill) = if count == 0 {
        (0.0, 0.0)
    } else {
        (total / count as f64, window_total / count as f64)
    };
    let masked_share = masked as f64 / (masked + count).max(1) as f64;
    let shift_mm = (dx as f64 * CELL_MM, dy as f64 * CELL_MM);
    let ink_span_mm = inked.map_or(0.0, |(a, b, c, d)| {
        ((b - a + 1) as f64).hypot((d - c + 1) as f64) * CELL_MM
    });
    // Only a box whose ring holds ink can have been circled; the rays cost ~500 samples.
    let circled = (ring_stroke > MIN_RING_STROKE || ring_dark > MAX_RING_DARK)
        && circled(img, h, &found, contrast);
    BoxScore {
        circled,
        fill: Fill(fill),
        window_fill: Fill(window_fill),
        shift_mm,
        found,
        masked_share,
        ring_dark,
        ring_texture,
        ring_stroke,
        ring_step,
        ink_span_mm,
    }
}

/// Rays per side of the box looked along for a circle drawn around it: within 20° of the
/// side's normal, where even a tight circle (one that cuts the box's corners) runs clear of
/// the border.
const CIRCLE_RAY_DEGREES: [f64; 5] = [-20.0, -10.0, 0.0, 10.0, 20.0];
/// Rays that must cross the line, of 20, and of the five on each side: a hand-drawn loop may
/// leave a gap where it starts and ends, or run into the border for a ray or two.
const CIRCLE_MIN_RAYS: usize = 16;
const CIRCLE_MIN_RAYS_PER_SIDE: usize = 3;
/// Looked for from just outside the border to this far beyond it: a circle around a 7 mm box
/// is drawn 0.4–3 mm out, and the next box, row rule or heading is farther. The border's blur
/// at the ray's start is never taken for a line (see [`line_crossing`]).
const CIRCLE_FROM_MM: f64 = 0.3;
const CIRCLE_TO_MM: f64 = 3.3;
const CIRCLE_STEP_MM: f64 = 0.1;
/// A pen line is at least this dark against the paper on both sides of it (print contrast):
/// pencil reaches about half, a ballpoint more.
const CIRCLE_MIN_DEPTH: f64 = 0.3;
/// A pen line is narrow: its dark core (darker than halfway down) spans at most this much.
const CIRCLE_MAX_CORE_MM: f64 = 1.2;
/// Along a drawn loop the distance from the box changes smoothly: neighbouring rays (10°,
/// under 1 mm apart) meet it at most this much nearer or farther. Scattered specks do not.
const CIRCLE_MAX_JUMP_MM: f64 = 0.7;

/// Whether one thin, dark, continuous line runs around the box just outside its border, on
/// every side: a citizen who circles an option instead of ticking inside its box. Each ray
/// from the box's centre must cross a line narrower than a pen stroke with lighter paper on
/// both sides of it — a shadow, a band or a grey paper has no such narrow dip — and the line
/// must be met at nearly the same distance on neighbouring rays. Used only where the rest of
/// the row is plainly empty (see `crate::ballot`).
fn circled(img: &GrayImage, h: &Homography, found: &RectMm, contrast: f64) -> bool {
    let c = found.center();
    let half = found.w.min(found.h) / 2.0;
    let steps = ((CIRCLE_TO_MM - CIRCLE_FROM_MM) / CIRCLE_STEP_MM).round() as usize + 1;
    let mut profile = vec![0f64; steps];
    let mut crossings: Vec<Option<f64>> = Vec::with_capacity(20);
    for side in 0..4 {
        for offset in CIRCLE_RAY_DEGREES {
            let angle = (side as f64 * 90.0 + offset).to_radians();
            let (ux, uy) = (angle.cos(), angle.sin());
            let edge = half / ux.abs().max(uy.abs());
            for (k, v) in profile.iter_mut().enumerate() {
                let t = edge + CIRCLE_FROM_MM + k as f64 * CIRCLE_STEP_MM;
                let p = h.map(PointMm::new(c.x + t * ux, c.y + t * uy));
                *v = bilinear(img, p.x, p.y) as f64;
            }
            crossings.push(
                line_crossing(&profile, contrast)
                    .map(|k| edge + CIRCLE_FROM_MM + k as f64 * CIRCLE_STEP_MM),
            );
        }
    }
    if crossings.iter().filter(|c| c.is_some()).count() < CIRCLE_MIN_RAYS {
        return false;
    }
    // Neighbouring rays, all the way round (the last ray of a side is 50° from the first of
    // the next, so only rays within a side are compared).
    crossings.chunks(CIRCLE_RAY_DEGREES.len()).all(|side| {
        side.windows(2).all(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => (a - b).abs() <= CIRCLE_MAX_JUMP_MM,
            _ => true,
        }) && side.iter().filter(|c| c.is_some()).count() >= CIRCLE_MIN_RAYS_PER_SIDE
    })
}

/// Where along a ray's brightness profile a pen line crosses it: the darkest sample, when it
/// is `CIRCLE_MIN_DEPTH` of the print contrast darker than the lightest paper on each side of
/// it and its dark core is narrow.
fn line_crossing(profile: &[f64], contrast: f64) -> Option<usize> {
    let (k, &darkest) = profile
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let core = (CIRCLE_MAX_CORE_MM / CIRCLE_STEP_MM).round() as usize;
    // Paper on each side: the lightest sample beyond the core's reach, or the ray's end on
    // the inner side (the line may run right beside the border's blur).
    // The darkest sample at the ray's start is the border's blur running on, not a line:
    // paper must be seen on both sides.
    if k == 0 {
        return None;
    }
    let inner = profile[..k].iter().copied().fold(f64::MIN, f64::max);
    let outer = profile[k + 1..].iter().copied().fold(f64::MIN, f64::max);
    let depth = inner.min(outer) - darkest;
    if depth < CIRCLE_MIN_DEPTH * contrast {
        return None;
    }
    let halfway = darkest + depth / 2.0;
    let first = (0..=k).rev().take_while(|&i| profile[i] < halfway).last()?;
    let last = (k..profile.len())
        .take_while(|&i| profile[i] < halfway)
        .last()?;
    // The core must end inside the ray on the outer side: light paper beyond the line.
    if last + 1 >= profile.len() || last - first + 1 > core {
        return None;
    }
    Some(k)
}

/// How much of a sample is ink, 0..1: darkness relative to the local paper, in units of the
/// local print contrast, with a dead zone for paper texture, sensor noise and JPEG ripple
/// (below 10 % of the contrast) and full weight from 35 % up, so light pencil (a third of the
/// contrast) counts as much as a ballpoint pen.
fn ink_level(white: f64, contrast: f64, value: f64) -> f64 {
    (((white - value) / contrast - 0.10) / 0.25).clamp(0.0, 1.0)
}

/// Distance from the box at which lines are looked for on both sides: beyond any overshoot of
/// a pen stroke, within the paper around a box on every form this tool lays out.
const FAR_MM: f64 = 4.0;
/// How far sideways the two ends of a line may be (cells) — up to about 6° of slant.
const MAX_SLANT_CELLS: i64 = 8;
/// The widest dark run taken for a line (cells): a 0.7 mm streak blurred by a 150 DPI scanner
/// spreads to about 1.2 mm; a wider run is a mark or a shadow.
const MAX_LINE_CELLS: usize = 10;

/// A thin straight line crossing the box: a scanner streak or a fold, recognised because it
/// is also on the paper 4 mm beyond the box on both sides, where no pen stroke reaches.
/// Coordinates in mm relative to the found box's top-left corner.
#[derive(Clone, Copy, Debug)]
struct Line {
    vertical: bool,
    /// Position across the line at the two far ends (x for vertical lines, y for horizontal).
    start: f64,
    end: f64,
    half_width: f64,
}

impl Line {
    fn covers(&self, x: f64, y: f64) -> bool {
        let (along, across) = if self.vertical { (y, x) } else { (x, y) };
        let len = BOX_SIZE + 2.0 * FAR_MM;
        let t = (along + FAR_MM) / len;
        let at = self.start + t * (self.end - self.start);
        (across - at).abs() <= self.half_width
    }
}

fn line_defects(
    img: &GrayImage,
    h: &Homography,
    found: &RectMm,
    ink: &dyn Fn(f64) -> f64,
) -> Vec<Line> {
    let cells = (BOX_SIZE / CELL_MM).round() as i64;
    let reach = cells + 2 * MAX_SLANT_CELLS;
    // Locally affine, as in `score_box`: one projection per 10 mm, not one per sample.
    let o = h.map(PointMm::new(found.x, found.y));
    let step = |dx: f64, dy: f64| {
        let p = h.map(PointMm::new(found.x + 10.0 * dx, found.y + 10.0 * dy));
        ((p.x - o.x) / 10.0, (p.y - o.y) / 10.0)
    };
    let (ex, ey) = (step(1.0, 0.0), step(0.0, 1.0));
    // Ink profile across a strip parallel to one side, `at` mm from the box's edge.
    let profile = |vertical: bool, at: f64| -> Vec<f64> {
        (0..reach)
            .map(|k| {
                let across = (k - MAX_SLANT_CELLS) as f64 * CELL_MM + CELL_MM / 2.0;
                // The most ink over a millimetre along the line: a streak that a 1-bit scan
                // has broken into dashes still shows.
                let mut most: f64 = 0.0;
                for d in [-0.5, -0.25, 0.0, 0.25, 0.5] {
                    let (x, y) = if vertical {
                        (across, at + d)
                    } else {
                        (at + d, across)
                    };
                    let (px, py) = (o.x + x * ex.0 + y * ey.0, o.y + x * ex.1 + y * ey.1);
                    most = most.max(ink(bilinear(img, px, py) as f64));
                }
                most
            })
            .collect()
    };
    // Dark runs as (centre in mm, width in cells).
    let runs = |p: &[f64]| -> Vec<(f64, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (k, &x) in p.iter().chain(std::iter::once(&0.0)).enumerate() {
            match (x > 0.5, start) {
                (true, None) => start = Some(k),
                (false, Some(s)) => {
                    let centre = ((s + k) as f64 / 2.0 - MAX_SLANT_CELLS as f64) * CELL_MM;
                    out.push((centre, k - s));
                    start = None;
                }
                _ => {}
            }
        }
        out
    };
    let mut lines = Vec::new();
    for vertical in [true, false] {
        let before = runs(&profile(vertical, -FAR_MM));
        // Clean paper on one side (the usual case) settles it.
        if before.is_empty() {
            continue;
        }
        let after = runs(&profile(vertical, BOX_SIZE + FAR_MM));
        for &(c0, w0) in &before {
            for &(c1, w1) in &after {
                if (c0 - c1).abs() <= MAX_SLANT_CELLS as f64 * CELL_MM
                    && w0.max(w1) <= MAX_LINE_CELLS
                {
                    lines.push(Line {
                        vertical,
                        start: c0,
                        end: c1,
                        half_width: w0.max(w1) as f64 * CELL_MM / 2.0 + 0.3,
                    });
                }
            }
        }
    }
    lines
}

/// Brightness at a sub-pixel position (pixel centres at +0.5), clamped at the image's edges.
/// Public so the review images sample the scan exactly as the scores did.
///
/// Called some 100,000 times per page, so it avoids `floor` (a library call on baseline
/// x86-64): coordinates are clamped to be non-negative first, where truncation is floor.
#[inline]
pub fn bilinear(img: &GrayImage, x: f64, y: f64) -> f32 {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return 255.0;
    }
    let fx = ((x - 0.5) as f32).clamp(0.0, (w - 1) as f32);
    let fy = ((y - 0.5) as f32).clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (fx as usize, fy as usize);
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let (w, h) = (w as usize, h as usize);
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let raw = img.as_raw();
    let (r0, r1) = (y0 * w, y1 * w);
    let top = raw[r0 + x0] as f32 * (1.0 - ax) + raw[r0 + x1] as f32 * ax;
    let bottom = raw[r1 + x0] as f32 * (1.0 - ax) + raw[r1 + x1] as f32 * ax;
    top * (1.0 - ay) + bottom * ay
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::raster;

    fn blank_box_image(dpi: f64, shift_mm: f64) -> (GrayImage, RectMm) {
        let rect = RectMm::new(20.0, 20.0, BOX_SIZE, BOX_SIZE);
        let moved = RectMm::new(rect.x + shift_mm, rect.y - shift_mm, rect.w, rect.h);
        let shapes: Vec<_> = crate::layout::box_border(moved)
            .into_iter()
            .map(crate::layout::Shape::Fill)
            .collect();
        (raster::render(&shapes, dpi), rect)
    }

    #[test]
    fn blank_box_scores_near_zero_and_is_relocated() {
        let (img, rect) = blank_box_image(200.0, 0.6);
        let s = score_box(&img, &Homography::at_dpi(200.0), &rect);
        assert!(s.fill.0 < 0.01, "{}", s.fill);
        assert!(
            (s.shift_mm.0 - 0.6).abs() < 0.21 && (s.shift_mm.1 + 0.6).abs() < 0.21,
            "{:?}",
            s.shift_mm
        );
    }

    #[test]
    fn a_one_mm_line_across_the_box_is_a_mark() {
        for dpi in [150.0, 200.0, 300.0] {
            let (mut img, rect) = blank_box_image(dpi, 0.0);
            let s = dpi / 25.4;
            // A 1 mm horizontal line through the middle, mid-grey like pencil.
            let y0 = ((rect.y + 3.0) * s) as u32;
            for y in y0..y0 + s as u32 {
                for x in ((rect.x - 0.5) * s) as u32..((rect.right() + 0.5) * s) as u32 {
                    img.put_pixel(x, y, image::Luma([120]));
                }
            }
            let score = score_box(&img, &Homography::at_dpi(dpi), &rect);
            assert_eq!(
                Thresholds::default().classify(score.fill),
                MarkState::Marked,
                "{dpi}: {}",
                score.fill
            );
        }
    }

    #[test]
    fn a_speck_spans_little_of_the_box_and_a_line_spans_most_of_it() {
        for dpi in [150.0, 200.0, 300.0] {
            let s = dpi / 25.4;
            let (blank, rect) = blank_box_image(dpi, 0.0);
            // A pen's dot 1.5 mm across, inside the box: enough ink to pass the marked
            // threshold on its own, as a real speck did (0.066 on a counted ballot).
            let mut dot = blank.clone();
            let (cx, cy) = ((rect.x + 2.5) * s, (rect.y + 4.0) * s);
            for (x, y, p) in dot.enumerate_pixels_mut() {
                if (x as f64 + 0.5 - cx).hypot(y as f64 + 0.5 - cy) < 0.75 * s {
                    p.0[0] = 60;
                }
            }
            let d = score_box(&dot, &Homography::at_dpi(dpi), &rect);
            assert!(d.fill.0 >= 0.06, "{dpi}: {d:?}");
            assert!((1.0..3.0).contains(&d.ink_span_mm), "{dpi}: {d:?}");
            // A thin pencil stroke across the whole box, no more ink than the dot.
            let mut line = blank.clone();
            let y0 = ((rect.y + 3.3) * s) as u32;
            for y in y0..y0 + (0.4 * s).ceil() as u32 {
                for x in ((rect.x + 0.5) * s) as u32..((rect.right() - 0.5) * s) as u32 {
                    line.put_pixel(x, y, image::Luma([120]));
                }
            }
            let l = score_box(&line, &Homography::at_dpi(dpi), &rect);
            assert!(l.ink_span_mm >= 4.5, "{dpi}: {l:?}");
            // A clean box has no ink to span.
            let b = score_box(&blank, &Homography::at_dpi(dpi), &rect);
            assert_eq!(b.ink_span_mm, 0.0, "{dpi}: {b:?}");
        }
    }

    #[test]
    fn a_pencil_line_running_on_past_the_box_is_a_mark_and_a_soft_band_is_not() {
        // As in the independent corpus: a 0.8 mm pencil line drawn slanting across the box and
        // on past it. Where it crosses the ring, blurred, it darkens the paper's upper quartile
        // by a quarter of the print contrast — too shallow for a stroke by depth alone — and
        // the box went to review as "shading" (a quarter of the definite marks sent to review).
        let dpi = 200.0;
        let s = dpi / 25.4;
        let (blank, rect) = blank_box_image(dpi, 0.0);
        let mut line = blank.clone();
        let c = rect.center();
        let (dx, dy) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        for (x, y, p) in line.enumerate_pixels_mut() {
            let (px, py) = ((x as f64 + 0.5) / s - c.x, (y as f64 + 0.5) / s - c.y);
            if (-px * dy + py * dx).abs() < 0.4 && (px * dx + py * dy).abs() < 6.5 {
                p.0[0] = 110;
            }
        }
        // The scanner's blur spreads the stroke's edge over the ring's paper.
        let line = imageproc::filter::gaussian_blur_f32(&line, 1.5);
        let l = score_box(&line, &Homography::at_dpi(dpi), &rect);
        assert!(!l.surroundings_unusable(), "{l:?}");
        assert_eq!(
            Thresholds::default().classify(l.fill),
            MarkState::Marked,
            "{l:?}"
        );
        // A soft shadow band of the same width and place, as dark as light pencil at its
        // middle but with no dark core: the paper model must follow it, never call it ink.
        let mut band = blank.clone();
        let mid = rect.y + 3.5;
        shade(&mut band, dpi, 0.35, &|_, y| {
            (-0.5 * ((y - mid) / 0.6).powi(2)).exp()
        });
        let b = score_box(&band, &Homography::at_dpi(dpi), &rect);
        assert!(
            b.surroundings_unusable() || Thresholds::default().classify(b.fill) == MarkState::Empty,
            "{b:?}"
        );
    }

    #[test]
    fn a_blurred_scanner_streak_through_the_box_is_not_a_mark() {
        // As in a real failure: a 3-pixel streak at 150 DPI, blurred to over a millimetre,
        // running the whole height of the scan.
        let (mut img, rect) = blank_box_image(150.0, 0.0);
        // A grey scanner: paper at 232, print at 90, as on that scan.
        for p in img.pixels_mut() {
            p.0[0] = (90 + p.0[0] as u32 * (232 - 90) / 255) as u8;
        }
        let s = 150.0 / 25.4;
        let x0 = ((rect.x + 2.6) * s) as u32;
        for (k, v) in [195u8, 160, 120, 95, 95, 120, 160, 195, 215]
            .into_iter()
            .enumerate()
        {
            for y in 0..img.height() {
                let p = &mut img.get_pixel_mut(x0 + k as u32, y).0[0];
                *p = (*p).min(v);
            }
        }
        let score = score_box(&img, &Homography::at_dpi(150.0), &rect);
        assert!(score.masked_share > 0.1, "{score:?}");
        assert_eq!(
            Thresholds::default().classify(score.fill),
            MarkState::Empty,
            "{score:?}"
        );
    }

    /// Darkens the image by `depth` (0..1) times `profile(x_mm, y_mm)` (0..1).
    fn shade(img: &mut GrayImage, dpi: f64, depth: f64, profile: &dyn Fn(f64, f64) -> f64) {
        let s = dpi / 25.4;
        for (x, y, p) in img.enumerate_pixels_mut() {
            let f = 1.0 - depth * profile((x as f64 + 0.5) / s, (y as f64 + 0.5) / s);
            p.0[0] = (p.0[0] as f64 * f).round() as u8;
        }
    }

    #[test]
    fn a_fold_shadow_across_a_blank_box_is_paper_not_ink() {
        // As on a real folded ballot: a soft shadow 10 mm wide, 30 % dark, sharper on one
        // side, its ridge 1 mm below the box's top edge.
        let (blank, rect) = blank_box_image(200.0, 0.0);
        let ridge = rect.y + 1.0;
        let fold = |sharp: f64, soft: f64| {
            let mut img = blank.clone();
            shade(&mut img, 200.0, 0.3, &|_, y| {
                let d = y - ridge;
                let sigma = if d < 0.0 { sharp } else { soft };
                (-0.5 * (d / sigma).powi(2)).exp()
            });
            score_box(&img, &Homography::at_dpi(200.0), &rect)
        };
        let s = fold(2.5, 5.0);
        // Measured against the lightest paper of the window, as before, it read as a mark.
        assert!(s.window_fill.0 >= 0.06, "{s:?}");
        assert!(!s.surroundings_unusable(), "{s:?}");
        assert_eq!(
            Thresholds::default().classify(s.fill),
            MarkState::Empty,
            "{s:?}"
        );
        // A sharper ridge is smoothed over by the paper patch: the box is left to a person.
        let s = fold(0.8, 4.0);
        assert!(s.surroundings_unusable(), "{s:?}");
    }

    #[test]
    fn the_edge_of_a_cast_shadow_across_a_box_is_paper_but_a_mark_in_it_is_ink() {
        let (mut img, rect) = blank_box_image(200.0, 0.0);
        // A penumbra 6 mm wide crossing the box diagonally, 45 % dark beyond it.
        let edge = |x: f64, y: f64| 1.0 / (1.0 + (-((x - 23.5) + (y - 23.5)) / 1.5).exp());
        let mut marked = img.clone();
        let s = 200.0 / 25.4;
        // A 0.6 mm pen stroke across the middle.
        for y in ((rect.y + 3.2) * s) as u32..((rect.y + 3.8) * s) as u32 {
            for x in ((rect.x + 1.0) * s) as u32..((rect.right() - 1.0) * s) as u32 {
                marked.put_pixel(x, y, image::Luma([40]));
            }
        }
        shade(&mut img, 200.0, 0.45, &edge);
        shade(&mut marked, 200.0, 0.45, &edge);
        let h = Homography::at_dpi(200.0);
        let t = Thresholds::default();
        let blank = score_box(&img, &h, &rect);
        assert_eq!(t.classify(blank.fill), MarkState::Empty, "{blank:?}");
        let mark = score_box(&marked, &h, &rect);
        assert_eq!(t.classify(mark.fill), MarkState::Marked, "{mark:?}");
    }

    #[test]
    fn a_mottled_toner_band_over_a_box_makes_it_unreadable_not_marked() {
        use rand::{RngExt, SeedableRng};
        let (mut img, rect) = blank_box_image(200.0, 0.0);
        // A worn copier drum: a 6 mm band down the left part of the box, 35 % dark, mottled.
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7);
        let s = 200.0 / 25.4;
        for (x, _, p) in img.enumerate_pixels_mut() {
            let xm = (x as f64 + 0.5) / s;
            if (rect.x - 2.0..rect.x + 4.0).contains(&xm) {
                let depth = 0.35 * rng.random_range(0.4..1.6);
                p.0[0] = (p.0[0] as f64 * (1.0 - depth)).round() as u8;
            }
        }
        let score = score_box(&img, &Homography::at_dpi(200.0), &rect);
        assert!(score.surroundings_unusable(), "{score:?}");
    }

    #[test]
    fn a_circle_drawn_around_a_box_is_a_stroke_beside_it_not_an_empty_box() {
        let (mut img, rect) = blank_box_image(200.0, 0.0);
        let clean = score_box(&img, &Homography::at_dpi(200.0), &rect);
        assert!(!clean.stroke_beside(), "{clean:?}");
        // A 0.5 mm ballpoint circle of radius 5.2 mm around the box's centre: it crosses the
        // ring near the box's corners and leaves the inside clean.
        let s = 200.0 / 25.4;
        let c = rect.center();
        for (x, y, p) in img.enumerate_pixels_mut() {
            let (xm, ym) = ((x as f64 + 0.5) / s, (y as f64 + 0.5) / s);
            let r = ((xm - c.x).powi(2) + (ym - c.y).powi(2)).sqrt();
            if (r - 5.2).abs() < 0.25 {
                p.0[0] = 40;
            }
        }
        let score = score_box(&img, &Homography::at_dpi(200.0), &rect);
        assert_eq!(
            Thresholds::default().classify(score.fill),
            MarkState::Empty,
            "{score:?}"
        );
        assert!(score.stroke_beside(), "{score:?}");
        // ... and a line that closes around the box: the citizen circled it.
        assert!(score.circled, "{score:?}");
        assert!(!clean.circled, "{clean:?}");
    }

    /// Draws a dark 0.5 mm pen line wherever `on_line(x_mm, y_mm)` holds.
    fn pen(img: &mut GrayImage, dpi: f64, on_line: &dyn Fn(f64, f64) -> bool) {
        let s = dpi / 25.4;
        for (x, y, p) in img.enumerate_pixels_mut() {
            if on_line((x as f64 + 0.5) / s, (y as f64 + 0.5) / s) {
                p.0[0] = 40;
            }
        }
    }

    #[test]
    fn only_a_line_closing_around_the_box_is_a_circle() {
        let h = Homography::at_dpi(200.0);
        let (blank, rect) = blank_box_image(200.0, 0.0);
        let c = rect.center();
        // An ellipse drawn by hand, wider than high, with a gap where the pen started.
        let mut ellipse = blank.clone();
        pen(&mut ellipse, 200.0, &|x, y| {
            let (dx, dy) = ((x - c.x) / 1.1, y - c.y);
            let r = dx.hypot(dy);
            let gap = dy.atan2(dx).to_degrees();
            (r - 4.9).abs() < 0.25 && !(40.0..55.0).contains(&gap)
        });
        let e = score_box(&ellipse, &h, &rect);
        assert!(e.circled, "{e:?}");
        // Lines along two sides only (a ruled row, a fold ridge above and below): not a circle.
        let mut ruled = blank.clone();
        pen(&mut ruled, 200.0, &|_, y| {
            (y - (rect.y - 1.5)).abs() < 0.25 || (y - (rect.bottom() + 1.5)).abs() < 0.25
        });
        let r = score_box(&ruled, &h, &rect);
        assert!(!r.circled, "{r:?}");
        // A half circle (a tick's curved tail, a bracket): not a circle.
        let mut half = blank.clone();
        pen(&mut half, 200.0, &|x, y| {
            ((x - c.x).hypot(y - c.y) - 5.0).abs() < 0.25 && x < c.x
        });
        let hf = score_box(&half, &h, &rect);
        assert!(!hf.circled, "{hf:?}");
        // A heavily blurred scan (the border's blur reaches into the ring) and a dark shadow
        // all around: no narrow line with paper on both sides.
        let mut dark = imageproc::filter::gaussian_blur_f32(&blank, 3.0);
        shade(&mut dark, 200.0, 0.6, &|_, _| 1.0);
        let d = score_box(&dark, &h, &rect);
        assert!(!d.circled, "{d:?}");
    }

    #[test]
    fn toner_specks_all_around_a_box_are_not_a_circle() {
        use rand::{RngExt, SeedableRng};
        let h = Homography::at_dpi(200.0);
        let (blank, rect) = blank_box_image(200.0, 0.0);
        for seed in 0..20 {
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut img = blank.clone();
            // Dense specks of 2×2 pixels (0.25 mm), one in 40 places.
            let (w, hgt) = img.dimensions();
            for _ in 0..(w * hgt / 160) {
                let (x, y) = (rng.random_range(0..w - 1), rng.random_range(0..hgt - 1));
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    img.put_pixel(x + dx, y + dy, image::Luma([50]));
                }
            }
            let s = score_box(&img, &h, &rect);
            assert!(!s.circled, "seed {seed}: {s:?}");
        }
    }

    /// The paper right of `x_mm` moved `by_mm` further right, as a fold ridge running down
    /// through a box leaves it on the glass.
    fn ridge(img: &GrayImage, dpi: f64, x_mm: f64, by_mm: f64) -> GrayImage {
        let s = dpi / 25.4;
        let (x0, by) = ((x_mm * s) as u32, (by_mm * s).round() as u32);
        let mut out = img.clone();
        for (x, y, p) in out.enumerate_pixels_mut() {
            if x >= x0 {
                p.0 = img.get_pixel(x.saturating_sub(by).max(x0), y).0;
            }
        }
        out
    }

    #[test]
    fn a_box_split_by_a_fold_ridge_is_judged_against_the_paper_outside_each_border() {
        let h = Homography::at_dpi(200.0);
        let (blank, rect) = blank_box_image(200.0, 0.0);
        let c = rect.center();
        for by in [0.4, 0.5, 0.6] {
            // Empty: the right border half a millimetre out is not ink around the box.
            let empty = score_box(&ridge(&blank, 200.0, c.x, by), &h, &rect);
            assert!(!empty.surroundings_unusable(), "{by}: {empty:?}");
            assert!(!empty.stroke_beside(), "{by}: {empty:?}");
            assert_eq!(
                Thresholds::default().classify(empty.fill),
                MarkState::Empty,
                "{by}: {empty:?}"
            );
            // Marked: a cross inside is still a plain mark.
            let mut crossed = blank.clone();
            pen(&mut crossed, 200.0, &|x, y| {
                let (u, v) = (x - c.x, y - c.y);
                u.abs() < 2.2 && v.abs() < 2.2 && ((u - v).abs() < 0.35 || (u + v).abs() < 0.35)
            });
            let marked = score_box(&ridge(&crossed, 200.0, c.x, by), &h, &rect);
            assert!(!marked.surroundings_unusable(), "{by}: {marked:?}");
            assert_eq!(
                Thresholds::default().classify(marked.fill),
                MarkState::Marked,
                "{by}: {marked:?}"
            );
        }
        // A pen line drawn tight around the box, 0.8 mm out, is never taken for its border:
        // it stays a stroke beside the box.
        let mut hugged = blank.clone();
        pen(&mut hugged, 200.0, &|x, y| {
            let (u, v) = ((x - c.x).abs(), (y - c.y).abs());
            let out = rect.w / 2.0 + 0.8;
            (u.max(v) - out).abs() < 0.25
        });
        let hg = score_box(&hugged, &h, &rect);
        assert!(hg.stroke_beside() || hg.surroundings_unusable(), "{hg:?}");
    }

    #[test]
    fn thresholds_classify_with_margins() {
        let t = Thresholds::default();
        assert_eq!(t.classify(Fill(0.0)), MarkState::Empty);
        assert_eq!(t.classify(Fill(0.045)), MarkState::Ambiguous);
        assert_eq!(t.classify(Fill(0.5)), MarkState::Marked);
        assert!((t.margin(Fill(0.5)) - 0.44).abs() < 1e-9);
    }
}
