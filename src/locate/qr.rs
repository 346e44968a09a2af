//! Reading the ballot's QR code. It is looked for where the layout prints it, for each way the
//! sheet can lie in the image, then anywhere. Our own reader finds the three finder patterns
//! on scan lines, samples the modules through the transform they give (refined by the
//! alignment pattern) and hands the bits to quirc's decoder: on a ballot that takes a fraction
//! of a millisecond. rqrr's general detector, which costs about as much as decoding the JPEG,
//! is only the fallback for codes ours cannot read.

use image::GrayImage;

use super::QrFound;
use crate::geometry::{Homography, PointMm, PointPx};
use crate::layout::{PAGE_H, QR_MODULE_MM, QR_SYMBOL};

/// The page area searched for the QR code, in mm from the page's top-right corner: the symbol
/// with its quiet zone spans 10–53 mm down and 7–48 mm in from the right edge; the margins
/// allow ±5° of skew, a 5 % scale error and a sheet a few millimetres off on the glass.
const QR_SEARCH_W_MM: f64 = 58.0;
const QR_SEARCH_H_MM: f64 = 64.0;
/// Finder patterns and rqrr's detector both work from about 3 pixels per module: our reader
/// scans one row in `step`, rqrr gets a patch downscaled by `step`, which is what keeps the
/// search cheap at 200 and 300 DPI.
const QR_MIN_PX_PER_MODULE: f64 = 3.0;

/// A rectangle of the image to search, read at one pixel in `step` × `step`.
#[derive(Clone, Copy, Debug)]
struct Region {
    x0: u32,
    y0: u32,
    w: u32,
    h: u32,
    step: u32,
}

/// A region downscaled (mean of each step × step block) with one ink/paper threshold, for
/// rqrr's detector.
struct Patch {
    region: Region,
    w: usize,
    h: usize,
    pixels: Vec<u8>,
    threshold: u8,
}

impl Patch {
    fn new(img: &GrayImage, r: Region) -> Option<Patch> {
        let (w, h) = ((r.w / r.step) as usize, (r.h / r.step) as usize);
        if w < 21 || h < 21 {
            return None;
        }
        let raw = img.as_raw();
        let stride = img.width() as usize;
        let n = r.step as usize;
        // Mean of each block: downscaling without aliasing the modules.
        let mut pixels = vec![0u8; w * h];
        let mut sums = vec![0u32; w];
        for (y, out) in pixels.chunks_exact_mut(w).enumerate() {
            sums.iter_mut().for_each(|s| *s = 0);
            for yy in 0..n {
                let start = (r.y0 as usize + y * n + yy) * stride + r.x0 as usize;
                let row = &raw[start..start + w * n];
                for (s, block) in sums.iter_mut().zip(row.chunks_exact(n)) {
                    *s += block.iter().map(|&v| v as u32).sum::<u32>();
                }
            }
            for (o, s) in out.iter_mut().zip(&sums) {
                *o = (s / (n * n) as u32) as u8;
            }
        }
        // rqrr's own adaptive threshold averages over an eighth of the image width, which in a
        // small region is about one finder pattern wide and loses it.
        let threshold = ink_threshold(pixels.iter().copied());
        Some(Patch {
            region: r,
            w,
            h,
            pixels,
            threshold,
        })
    }

    /// A point of the patch (pixel-edge coordinates) in the full image.
    fn to_image(&self, x: f64, y: f64) -> PointPx {
        let s = self.region.step as f64;
        PointPx::new(x * s + self.region.x0 as f64, y * s + self.region.y0 as f64)
    }
}

/// One threshold halfway between paper and ink (the 97th and 3rd percentiles): light is even
/// over a 6 cm patch.
fn ink_threshold(values: impl Iterator<Item = u8>) -> u8 {
    let mut hist = [0usize; 256];
    let mut n = 0;
    for v in values {
        hist[v as usize] += 1;
        n += 1;
    }
    let percentile = |p: usize| {
        let target = n * p / 100;
        let mut acc = 0;
        hist.iter()
            .position(|&c| {
                acc += c;
                acc > target
            })
            .unwrap_or(0) as u32
    };
    ((percentile(3) + percentile(97)) / 2) as u8
}

/// A region as our reader sees it: full-resolution pixels, read one row in `step`.
struct Area<'a> {
    raw: &'a [u8],
    stride: usize,
    region: Region,
    threshold: u8,
    /// Thresholds per block of `BLOCK` × `BLOCK` pixels, when one for the whole region fails.
    local: Option<LocalThresholds>,
}

impl<'a> Area<'a> {
    fn new(img: &'a GrayImage, r: Region) -> Option<Area<'a>> {
        if r.w < 21 || r.h < 21 {
            return None;
        }
        let raw = img.as_raw().as_slice();
        let stride = img.width() as usize;
        let step = r.step as usize;
        let rows = (r.y0..r.y0 + r.h).step_by(step);
        let threshold = ink_threshold(rows.flat_map(|y| {
            let start = y as usize * stride + r.x0 as usize;
            raw[start..start + r.w as usize]
                .iter()
                .copied()
                .step_by(step)
        }));
        Some(Area {
            raw,
            stride,
            region: r,
            threshold,
            local: None,
        })
    }

    /// The region with a threshold per block (see [`LocalThresholds`]).
    fn with_local_thresholds(img: &'a GrayImage, r: Region) -> Option<Area<'a>> {
        let mut area = Area::new(img, r)?;
        area.local = Some(LocalThresholds::new(&area));
        Some(area)
    }

    /// The ink/paper threshold at pixel (x, y) of the image.
    fn threshold_at(&self, x: usize, y: usize) -> u8 {
        match &self.local {
            None => self.threshold,
            Some(t) => {
                let rows = t.values.len() / t.cols;
                let col = (x.saturating_sub(self.region.x0 as usize) / BLOCK).min(t.cols - 1);
                let row = (y.saturating_sub(self.region.y0 as usize) / BLOCK).min(rows - 1);
                t.values[row * t.cols + col]
            }
        }
    }

    /// Whether pixel (x, y) of the image is ink.
    fn dark(&self, x: usize, y: usize) -> bool {
        self.raw[y * self.stride + x] < self.threshold_at(x, y)
    }
}

/// Side of the blocks of [`LocalThresholds`], in pixels: a few modules of a code.
const BLOCK: usize = 32;

/// An ink/paper threshold for each block of a region, halfway between the darkest and the
/// lightest pixels of the block and its eight neighbours. A phone photo's page does not fill
/// the image: one threshold for the whole image then falls between the background and the
/// paper, where a blurred code's thin light modules are too.
struct LocalThresholds {
    cols: usize,
    values: Vec<u8>,
}

impl LocalThresholds {
    fn new(a: &Area) -> LocalThresholds {
        let r = a.region;
        let (cols, rows) = (
            (r.w as usize).div_ceil(BLOCK),
            (r.h as usize).div_ceil(BLOCK),
        );
        let (mut lo, mut hi) = (vec![255u8; cols * rows], vec![0u8; cols * rows]);
        // Every other pixel of every other row is enough for a block's extremes.
        for y in (0..r.h as usize).step_by(2) {
            let start = (r.y0 as usize + y) * a.stride + r.x0 as usize;
            let row = &a.raw[start..start + r.w as usize];
            for (x, &v) in row.iter().enumerate().step_by(2) {
                let b = (y / BLOCK) * cols + x / BLOCK;
                lo[b] = lo[b].min(v);
                hi[b] = hi[b].max(v);
            }
        }
        let mut values = vec![0u8; cols * rows];
        for row in 0..rows {
            for col in 0..cols {
                let (mut l, mut h) = (255u8, 0u8);
                for nr in row.saturating_sub(1)..(row + 2).min(rows) {
                    for nc in col.saturating_sub(1)..(col + 2).min(cols) {
                        l = l.min(lo[nr * cols + nc]);
                        h = h.max(hi[nr * cols + nc]);
                    }
                }
                // Flat paper or background has no ink: nothing in it is darker than its darkest.
                values[row * cols + col] = if h - l < 48 {
                    l
                } else {
                    ((l as u16 + h as u16) / 2) as u8
                };
            }
        }
        LocalThresholds { cols, values }
    }
}

/// Finds and reads the QR code: first where it sits for each way the sheet can lie in the
/// image (cheap, and the place it is found in tells the orientation), then in the whole image.
/// Our reader is tried everywhere before rqrr's detector is tried anywhere, so an upside-down
/// sheet costs one more cheap search, not one more expensive one.
pub fn find_qr(img: &GrayImage) -> Option<QrFound> {
    let (w, h) = img.dimensions();
    if w < 16 || h < 16 {
        return None;
    }
    // Assume the page fills the image along its long side: a scan, or a well-framed photo.
    let px_per_mm = w.max(h) as f64 / PAGE_H;
    let step = ((QR_MODULE_MM * px_per_mm / QR_MIN_PX_PER_MODULE) as u32).clamp(1, 4);
    let (a, b) = (
        ((QR_SEARCH_W_MM * px_per_mm) as u32).min(w).min(h),
        ((QR_SEARCH_H_MM * px_per_mm) as u32).min(w).min(h),
    );
    let region = |x0: u32, y0: u32, w: u32, h: u32, step: u32| Region { x0, y0, w, h, step };
    // Upright (QR top-right), upside down (bottom-left), turned clockwise (bottom-right),
    // turned anticlockwise (top-left). Portrait images try the first two first.
    let upright = [region(w - a, 0, a, b, step), region(0, h - b, a, b, step)];
    let sideways = [region(w - b, h - a, b, a, step), region(0, 0, b, a, step)];
    let mut tries: Vec<Region> = if h >= w {
        upright.into_iter().chain(sideways).collect()
    } else {
        sideways.into_iter().chain(upright).collect()
    };
    tries.push(region(0, 0, w, h, step));
    if step > 1 {
        tries.push(region(0, 0, w, h, 1));
    }
    // Last of ours: the whole image with a threshold per block (a photo with background).
    // Built only when reached: the thresholds cost ten times a search that succeeds.
    let whole = region(0, 0, w, h, step);
    let ours = tries
        .iter()
        .map(|&r| Area::new(img, r))
        .chain(std::iter::once(whole).map(|r| Area::with_local_thresholds(img, r)))
        .map(|area| {
            let area = area?;
            guarded(|| read_by_finders(img, &area))
        });
    let rqrr = tries.iter().map(|&r| {
        let patch = Patch::new(img, r)?;
        guarded(|| read_with_rqrr(&patch))
    });
    // A ballot's code ends the search; any other code is kept in case no ballot's turns up.
    let mut first_text = None;
    for found in ours.chain(rqrr).flatten() {
        if found.bytes.starts_with(b"BS") {
            return Some(found);
        }
        first_text.get_or_insert(found);
    }
    first_text
}

/// rqrr asserts on some degenerate geometries; a hostile or garbled page must not take the
/// batch down, so a panic there counts as "no QR code found".
fn guarded(read: impl FnOnce() -> Option<QrFound>) -> Option<QrFound> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .ok()
        .flatten()
}

/// A finder pattern seen in the image: its centre (pixels) and module size, averaged over
/// the scan lines that crossed it.
#[derive(Clone, Copy, Debug)]
struct Finder {
    x: f64,
    y: f64,
    module: f64,
    hits: u32,
}

/// The module size if five runs (dark, light, dark, light, dark) have a finder pattern's
/// 1:1:3:1:1 proportions, with the tolerance usual for scanned codes (half a module).
fn finder_ratio(runs: [usize; 5]) -> Option<f64> {
    let total: usize = runs.iter().sum();
    if total < 7 {
        return None;
    }
    let m = total as f64 / 7.0;
    let tol = m / 2.0;
    let near = |run: usize, modules: f64| (run as f64 - modules * m).abs() < modules * tol;
    (near(runs[0], 1.0)
        && near(runs[1], 1.0)
        && near(runs[2], 3.0)
        && near(runs[3], 1.0)
        && near(runs[4], 1.0))
    .then_some(m)
}

/// Checks a horizontal finder candidate along its column: the centre of the vertical
/// 1:1:3:1:1 pattern through (x, y) and its module size.
fn vertical_check(a: &Area, x: usize, y: usize, module: f64) -> Option<(f64, f64)> {
    if !a.dark(x, y) {
        return None;
    }
    let (top, bottom) = (a.region.y0 as isize, (a.region.y0 + a.region.h) as isize);
    let limit = (5.0 * module).ceil() as usize + 1;
    // Runs going up or down from y: centre (dark), light, outer dark.
    let count = |dir: isize| -> [usize; 3] {
        let mut counts = [0usize; 3];
        let mut yy = y as isize;
        for (k, c) in counts.iter_mut().enumerate() {
            let want_dark = k != 1;
            while yy >= top && yy < bottom && a.dark(x, yy as usize) == want_dark {
                *c += 1;
                if *c > limit {
                    return counts;
                }
                yy += dir;
            }
        }
        counts
    };
    let up = count(-1);
    let down = count(1);
    let centre = up[0] + down[0] - 1;
    let m = finder_ratio([up[2], up[1], centre, down[1], down[2]])?;
    if !(0.6..=1.6).contains(&(m / module)) {
        return None;
    }
    let first = y + 1 - up[0];
    Some((first as f64 + centre as f64 / 2.0, m))
}

/// Every finder pattern in the area: rows are scanned for 1:1:3:1:1 runs, each hit is checked
/// along its column, and hits on the same pattern are merged.
fn finder_patterns(a: &Area) -> Vec<Finder> {
    let r = a.region;
    let (x0, x1) = (r.x0 as usize, (r.x0 + r.w) as usize);
    let mut found: Vec<Finder> = Vec::new();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for y in (r.y0 as usize..(r.y0 + r.h) as usize).step_by(r.step as usize) {
        runs.clear();
        let first_dark = a.dark(x0, y);
        let mut colour = first_dark;
        let mut start = x0;
        for x in x0 + 1..=x1 {
            if x == x1 || a.dark(x, y) != colour {
                runs.push((start, x - start));
                start = x;
                colour = !colour;
            }
        }
        let mut i = usize::from(!first_dark);
        while i + 4 < runs.len() {
            let lens = [
                runs[i].1,
                runs[i + 1].1,
                runs[i + 2].1,
                runs[i + 3].1,
                runs[i + 4].1,
            ];
            if let Some(m) = finder_ratio(lens) {
                let (cs, cl) = runs[i + 2];
                let cx = cs as f64 + cl as f64 / 2.0;
                if let Some((cy, vm)) = vertical_check(a, cx as usize, y, m) {
                    merge_finder(&mut found, cx, cy, (m + vm) / 2.0);
                }
            }
            i += 2;
        }
    }
    // A real pattern is crossed by its whole centre's worth of scanned rows.
    found.retain(|f| f.hits >= 2);
    found.sort_by_key(|f| std::cmp::Reverse(f.hits));
    found.truncate(8);
    found
}

fn merge_finder(found: &mut Vec<Finder>, x: f64, y: f64, module: f64) {
    match found
        .iter_mut()
        .find(|f| (f.x - x).abs() < 2.0 * f.module && (f.y - y).abs() < 2.0 * f.module)
    {
        Some(f) => {
            let n = f.hits as f64;
            f.x = (f.x * n + x) / (n + 1.0);
            f.y = (f.y * n + y) / (n + 1.0);
            f.module = (f.module * n + module) / (n + 1.0);
            f.hits += 1;
        }
        None => found.push(Finder {
            x,
            y,
            module,
            hits: 1,
        }),
    }
}

/// Three finder patterns that can be one symbol's: top-left, top-right, bottom-left (image
/// pixels), the symbol's size in modules, and how far from a perfect square they lie.
struct Symbol {
    corners: [PointPx; 3],
    size: usize,
    skew: f64,
}

fn symbols(finders: &[Finder]) -> Vec<Symbol> {
    let mut out = Vec::new();
    let n = finders.len();
    for a in 0..n {
        for b in a + 1..n {
            for c in b + 1..n {
                let f = [finders[a], finders[b], finders[c]];
                for k in 0..3 {
                    let (o, q, r) = (f[k], f[(k + 1) % 3], f[(k + 2) % 3]);
                    let v1 = (q.x - o.x, q.y - o.y);
                    let v2 = (r.x - o.x, r.y - o.y);
                    let (l1, l2) = (v1.0.hypot(v1.1), v2.0.hypot(v2.1));
                    if l1 < 1.0 || l2 < 1.0 {
                        continue;
                    }
                    let cos = (v1.0 * v2.0 + v1.1 * v2.1) / (l1 * l2);
                    let ratio = l1 / l2;
                    if cos.abs() > 0.25 || !(0.8..=1.25).contains(&ratio) {
                        continue;
                    }
                    let module = (o.module + q.module + r.module) / 3.0;
                    let modules = (l1 + l2) / 2.0 / module + 7.0;
                    let version = ((modules - 17.0) / 4.0).round().clamp(1.0, 40.0);
                    let size = (4.0 * version + 17.0) as usize;
                    if (modules - size as f64).abs() > 0.15 * size as f64 {
                        continue;
                    }
                    // In image coordinates (y down) the top-right pattern is clockwise from
                    // the bottom-left one, seen from the top-left.
                    let cross = v1.0 * v2.1 - v1.1 * v2.0;
                    let (tr, bl) = if cross > 0.0 { (q, r) } else { (r, q) };
                    out.push(Symbol {
                        corners: [o, tr, bl].map(|f| PointPx::new(f.x, f.y)),
                        size,
                        skew: cos.abs() + (ratio - 1.0).abs(),
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| a.skew.total_cmp(&b.skew));
    out
}

/// Where module `(u, v)` (in modules from the symbol's top-left corner) is printed on a ballot.
/// The mapping is exact for our own code; for any other it is only a frame to sample in.
fn module_mm(u: f64, v: f64) -> PointMm {
    PointMm::new(
        QR_SYMBOL.x + u * QR_MODULE_MM,
        QR_SYMBOL.y + v * QR_MODULE_MM,
    )
}

fn read_by_finders(img: &GrayImage, area: &Area) -> Option<QrFound> {
    let finders = finder_patterns(area);
    if finders.len() >= 3 {
        let found = symbols(&finders)
            .iter()
            .take(4)
            .find_map(|symbol| decode_symbol(img, area, symbol));
        if found.is_some() {
            return found;
        }
    }
    // A finder pattern spoilt by a pen line, a stain or a seal's edge: the other two give the
    // square, and the third corner holds no data. The decoder's error correction rejects
    // every wrong guess.
    completed_from_two(&finders)
        .iter()
        .find_map(|symbol| decode_symbol(img, area, symbol))
}

/// Symbols completed from two finder patterns of like size: for each pair, the third pattern
/// where a square puts it — the pair as one side (either way round, either side) or as the
/// diagonal. Best-shaped first, at most a few per pair.
fn completed_from_two(finders: &[Finder]) -> Vec<Symbol> {
    let mut out: Vec<Symbol> = Vec::new();
    for (a, p) in finders.iter().enumerate() {
        for q in &finders[a + 1..] {
            let ratio = p.module / q.module;
            if !(0.8..=1.25).contains(&ratio) {
                continue;
            }
            let module = (p.module + q.module) / 2.0;
            let (dx, dy) = (q.x - p.x, q.y - p.y);
            let at = |x: f64, y: f64| Finder {
                x,
                y,
                module,
                hits: 0,
            };
            let (mx, my) = ((p.x + q.x) / 2.0, (p.y + q.y) / 2.0);
            let thirds = [
                at(p.x - dy, p.y + dx),
                at(p.x + dy, p.y - dx),
                at(q.x - dy, q.y + dx),
                at(q.x + dy, q.y - dx),
                at(mx - dy / 2.0, my + dx / 2.0),
                at(mx + dy / 2.0, my - dx / 2.0),
            ];
            for third in thirds {
                out.extend(symbols(&[*p, *q, third]).into_iter().take(1));
            }
        }
    }
    out.truncate(24);
    out
}

/// Samples and decodes one candidate symbol: through the affine transform its three finder
/// patterns give, then, for a bent photo, through the alignment pattern too.
fn decode_symbol(img: &GrayImage, area: &Area, symbol: &Symbol) -> Option<QrFound> {
    let s = symbol.size as f64;
    // Sampled with the threshold at the symbol's centre.
    let [_, tr, bl] = symbol.corners;
    let threshold = area.threshold_at(
        ((tr.x + bl.x) / 2.0).max(0.0) as usize,
        ((tr.y + bl.y) / 2.0).max(0.0) as usize,
    );
    let centres = [(3.5, 3.5), (s - 3.5, 3.5), (3.5, s - 3.5)];
    let pairs: Vec<(PointMm, PointPx)> = centres
        .iter()
        .zip(symbol.corners)
        .map(|(&(u, v), px)| (module_mm(u, v), px))
        .collect();
    let affine = Homography::fit_affine(&pairs)?;
    // With thresholds per block, each module is also read against its own block's: the edge
    // of a shadow cast across the code leaves its lit and shaded halves no threshold in common.
    let central = |_: PointPx| threshold;
    let own_block = |c: PointPx| area.threshold_at(c.x.max(0.0) as usize, c.y.max(0.0) as usize);
    let mut thresholds: Vec<&dyn Fn(PointPx) -> u8> = vec![&central];
    if area.local.is_some() {
        thresholds.push(&own_block);
    }
    if let Some(found) = thresholds
        .iter()
        .find_map(|t| decode_through(img, &affine, symbol.size, t))
    {
        return Some(found);
    }
    // Perspective (a phone photo) bends the far corner: the alignment pattern pins it.
    if symbol.size >= 25 {
        let at = module_mm(s - 6.5, s - 6.5);
        if let Some(px) = alignment_pattern(img, &affine, at, threshold) {
            let mut four = pairs.clone();
            four.push((at, px));
            if let Some(h) = Homography::fit(&four) {
                if let Some(found) = thresholds
                    .iter()
                    .find_map(|t| decode_through(img, &h, symbol.size, t))
                {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// Mean of the pixels within `r` of `c` (a square), or `None` outside the image.
fn mean_around(img: &GrayImage, c: PointPx, r: i64) -> Option<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (cx, cy) = (c.x.floor() as i64, c.y.floor() as i64);
    if cx - r < 0 || cy - r < 0 || cx + r >= w || cy + r >= h {
        return None;
    }
    let raw = img.as_raw();
    let mut sum = 0u32;
    for y in cy - r..=cy + r {
        let row = (y * w) as usize;
        for x in cx - r..=cx + r {
            sum += raw[row + x as usize] as u32;
        }
    }
    Some((sum / ((2 * r + 1) * (2 * r + 1)) as u32) as u8)
}

/// Samples every module's centre and decodes the bits, a module being dark below
/// `threshold(its centre)`.
fn decode_through(
    img: &GrayImage,
    h: &Homography,
    size: usize,
    threshold: &dyn Fn(PointPx) -> u8,
) -> Option<QrFound> {
    let module_px = h.px_per_mm(module_mm(size as f64 / 2.0, size as f64 / 2.0)) * QR_MODULE_MM;
    let r = (module_px / 5.0).floor().clamp(0.0, 2.0) as i64;
    // quirc's decoder (table-driven Reed-Solomon) reads the bits: rqrr's recomputes powers
    // in its syndrome loop and costs half a millisecond per code.
    let mut code = quircs::Code::default();
    if size * size > code.cell_bitmap.len() * 8 {
        return None;
    }
    code.size = size as i32;
    for v in 0..size {
        for u in 0..size {
            let c = h.map(module_mm(u as f64 + 0.5, v as f64 + 0.5));
            if mean_around(img, c, r)? < threshold(c) {
                let i = v * size + u;
                code.cell_bitmap[i >> 3] |= 1 << (i & 7);
            }
        }
    }
    let bytes = code.decode().ok()?.payload;
    // The corners as rqrr reports them (a square one module larger than the symbol), which is
    // what alignment expects.
    let e = size as f64 + 1.0;
    let corners = [(0.0, 0.0), (e, 0.0), (e, e), (0.0, e)].map(|(u, v)| h.map(module_mm(u, v)));
    Some(QrFound { bytes, corners })
}

/// The centre of the alignment pattern (one dark module in a light ring in a dark ring) within
/// two modules of where the finder patterns put it.
fn alignment_pattern(
    img: &GrayImage,
    h: &Homography,
    at: PointMm,
    threshold: u8,
) -> Option<PointPx> {
    let module = h.px_per_mm(at) * QR_MODULE_MM;
    let p = h.map(at);
    let step = (module / 4.0).max(1.0);
    let r = (module / 5.0).floor().clamp(0.0, 2.0) as i64;
    let reach = (2.0 * module / step).ceil() as i64;
    let mut best: Option<(i32, PointPx)> = None;
    for j in -reach..=reach {
        for i in -reach..=reach {
            let c = PointPx::new(p.x + i as f64 * step, p.y + j as f64 * step);
            let Some(centre) = mean_around(img, c, r) else {
                continue;
            };
            if centre >= threshold {
                continue;
            }
            let mut ring = 0i32;
            let mut light = 0;
            for (dx, dy) in [
                (-1.0, -1.0),
                (0.0, -1.0),
                (1.0, -1.0),
                (-1.0, 0.0),
                (1.0, 0.0),
                (-1.0, 1.0),
                (0.0, 1.0),
                (1.0, 1.0),
            ] {
                let q = PointPx::new(c.x + dx * module, c.y + dy * module);
                let v = mean_around(img, q, r)?;
                ring += v as i32;
                light += usize::from(v >= threshold);
            }
            let score = ring / 8 - centre as i32;
            if light >= 7 && best.is_none_or(|b| score > b.0) {
                best = Some((score, c));
            }
        }
    }
    best.map(|b| b.1)
}

/// Decodes the grids rqrr finds in a prepared image. A macro because rqrr does not name the
/// image type its two preparations share.
macro_rules! decode_grids {
    ($prepared:expr, $patch:expr) => {{
        let mut prepared = $prepared;
        let patch: &Patch = $patch;
        let grids = prepared.detect_grids();
        let mut fallback: Option<QrFound> = None;
        for g in grids {
            let mut bytes = Vec::new();
            if g.decode_to(&mut bytes).is_err() {
                continue;
            }
            let c = g.bounds.map(|p| patch.to_image(p.x as f64, p.y as f64));
            let found = QrFound { bytes, corners: c };
            if found.bytes.starts_with(b"BS") {
                fallback = Some(found);
                break;
            }
            fallback.get_or_insert(found);
        }
        fallback
    }};
}

/// rqrr's general detector on the patch: with our threshold first, then with its own
/// adaptive one (uneven light across the code).
fn read_with_rqrr(p: &Patch) -> Option<QrFound> {
    let (w, h, t) = (p.w, p.h, p.threshold);
    let found = decode_grids!(
        rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| p.pixels[y * w + x] < t),
        p
    );
    if found.as_ref().is_some_and(|f| f.bytes.starts_with(b"BS")) {
        return found;
    }
    let second = decode_grids!(
        rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| p.pixels[y * w + x]),
        p
    );
    second.or(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::layout::QR_MODULES;
    use crate::locate::tests::page;

    /// Our reader alone (no rqrr detection) over the whole image.
    fn read_without_rqrr(img: &GrayImage) -> Option<QrFound> {
        let (w, h) = img.dimensions();
        let step =
            ((QR_MODULE_MM * w.max(h) as f64 / PAGE_H / QR_MIN_PX_PER_MODULE) as u32).clamp(1, 4);
        let area = Area::new(
            img,
            Region {
                x0: 0,
                y0: 0,
                w,
                h,
                step,
            },
        )?;
        read_by_finders(img, &area)
    }

    #[test]
    fn finder_reader_reads_the_ballot_code_at_every_dpi_and_turn() {
        for dpi in [150.0, 200.0, 300.0] {
            let upright = page(dpi);
            let turns = [
                upright.clone(),
                image::imageops::rotate90(&upright),
                image::imageops::rotate180(&upright),
                image::imageops::rotate270(&upright),
            ];
            for (k, img) in turns.iter().enumerate() {
                let found = read_without_rqrr(img)
                    .unwrap_or_else(|| panic!("not read at {dpi} DPI, turn {k}"));
                assert_eq!(found.bytes, b"BS1:CSAT:1:P-ANBIEN:000042");
                // The reported corners agree with the layout within a module.
                let truth = Homography::at_dpi(dpi);
                let e = QR_MODULES as f64 + 1.0;
                let expected = truth.map(module_mm(0.0, 0.0));
                if k == 0 {
                    let module_px = QR_MODULE_MM * dpi / 25.4;
                    assert!(
                        found.corners[0].distance(expected) < module_px,
                        "{:?}",
                        found.corners
                    );
                    let far = truth.map(module_mm(e, e));
                    assert!(
                        found.corners[2].distance(far) < module_px,
                        "{:?}",
                        found.corners
                    );
                }
            }
        }
    }

    #[test]
    fn a_code_with_one_finder_pattern_spoilt_is_read_from_the_other_two() {
        // As on a real scan: a signature's felt-pen tail run through one finder pattern. Here
        // each pattern in turn is struck through by a thick stroke and, harder, wiped out.
        let dpi = 200.0;
        let s = dpi / 25.4;
        let upright = page(dpi);
        let corners = [
            (3.5, 3.5),
            (QR_MODULES as f64 - 3.5, 3.5),
            (3.5, QR_MODULES as f64 - 3.5),
        ];
        for (k, &(u, v)) in corners.iter().enumerate() {
            let c = module_mm(u, v);
            let (cx, cy) = (c.x * s, c.y * s);
            let r = 4.0 * QR_MODULE_MM * s;
            let mut struck = upright.clone();
            let mut wiped = upright.clone();
            for (x, y, p) in struck.enumerate_pixels_mut() {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                // A 1.2 mm stroke along the pattern's diagonal, and on beyond it.
                if (dx - dy).abs() / 2f64.sqrt() < 0.6 * s && dx.abs() < 2.0 * r {
                    p.0[0] = 60;
                }
            }
            for (x, y, p) in wiped.enumerate_pixels_mut() {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                if dx.abs() < r && dy.abs() < r {
                    p.0[0] = 255;
                }
            }
            for (what, img) in [("struck", &struck), ("wiped", &wiped)] {
                let found = read_without_rqrr(img)
                    .unwrap_or_else(|| panic!("pattern {k} {what}: not read"));
                assert_eq!(
                    found.bytes, b"BS1:CSAT:1:P-ANBIEN:000042",
                    "pattern {k} {what}"
                );
                // The corners still agree with the layout within a module.
                let truth = Homography::at_dpi(dpi);
                let module_px = QR_MODULE_MM * s;
                assert!(
                    found.corners[0].distance(truth.map(module_mm(0.0, 0.0))) < module_px,
                    "pattern {k} {what}: {:?}",
                    found.corners
                );
            }
        }
    }

    #[test]
    fn finder_proportions_are_recognised_within_half_a_module() {
        assert!(finder_ratio([3, 3, 9, 3, 3]).is_some());
        assert!(finder_ratio([2, 4, 10, 3, 2]).is_some());
        assert!(finder_ratio([3, 3, 3, 3, 3]).is_none());
        assert!(finder_ratio([1, 1, 1, 1, 1]).is_none());
        assert!(finder_ratio([6, 1, 9, 1, 6]).is_none());
    }
}
