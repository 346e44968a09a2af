//! Pages drawn as tiles or bands (tiff2pdf's tiled TIFFs, banded scanners): the images are put
//! back together when they are drawn at one scale and turn and form a complete grid; anything
//! else is refused rather than guessed at.

use image::GrayImage;

use super::decode::{check_pixels, decode_image};
use super::geometry::{coverage, Affine, Rect};
use super::walk::{Placement, Source};
use super::{decode_err, unsupported, Limits, PageResult};

//
// tiff2pdf writes a tiled TIFF as one image per tile, Ghostscript and cairo keep those tiles,
// and some scanners write a page as bands: the page content then draws many images side by
// side. They are put back together when they are drawn at one scale and turn and their
// placements, in pixels, form a complete grid; anything else (overlaps, gaps, mixed scales or
// turns) is refused rather than guessed at.

/// One tile: which placement, and where its top-left pixel lands in the assembled image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tile {
    pub(super) index: usize,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

#[derive(Debug)]
pub(super) struct TileGrid {
    pub(super) tiles: Vec<Tile>,
    pub(super) width: u32,
    pub(super) height: u32,
    /// Places the assembled image on the page as an image's CTM would (unit square).
    pub(super) ctm: Affine,
    pub(super) coverage: f64,
}

/// The user-space step of one pixel to the right and one pixel down in an image drawn with
/// `ctm`, and the position of its top-left corner.
fn pixel_frame(ctm: Affine, (w, h): (u32, u32)) -> ((f64, f64), (f64, f64), (f64, f64)) {
    let [a, b, c, d, e, f] = ctm.0;
    let (w, h) = (f64::from(w), f64::from(h));
    // Row 0 is at the top of the unit square (y = 1), so "down" is -(c, d) per image height.
    ((a / w, b / w), (-c / h, -d / h), (c + e, d + f))
}

/// The images drawn alike with the largest one on the page (same scale and turn), and the grid
/// they form or why they do not form one.
pub(super) struct Tiling {
    /// Placement indices, the largest image's included.
    pub(super) alike: Vec<usize>,
    pub(super) grid: Result<TileGrid, String>,
}

/// The images on the page that are drawn alike with the largest one, laid out as a grid.
/// `None` when there is nothing to put together (fewer than two sized images on the page).
pub(super) fn tile_grid(placements: &[Placement<'_>], page_box: &Rect) -> Option<Tiling> {
    // Tiles outside the visible page count too: a crop box may hide whole edge tiles.
    let sized: Vec<(usize, (u32, u32))> = placements
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.size?)))
        .collect();
    if sized.len() < 2 {
        return None;
    }
    let &(reference, ref_size) = sized.iter().max_by(|a, b| {
        placements[a.0]
            .coverage
            .total_cmp(&placements[b.0].coverage)
    })?;
    let fail = |alike: Vec<usize>, why: &str| {
        Some(Tiling {
            alike,
            grid: Err(why.to_string()),
        })
    };
    let (u, v, origin) = pixel_frame(placements[reference].ctm, ref_size);
    let det = u.0 * v.1 - u.1 * v.0;
    let norm = |(x, y): (f64, f64)| x.hypot(y);
    if !det.is_finite() || det.abs() < 1e-12 * norm(u) * norm(v) || norm(u) == 0.0 {
        return fail(
            vec![reference],
            "the largest image is drawn with a degenerate matrix",
        );
    }
    let mut cells: Vec<(Tile, i64, i64)> = Vec::new();
    let mut why_not = None;
    for &(index, (w, h)) in &sized {
        let (ui, vi, oi) = pixel_frame(placements[index].ctm, (w, h));
        // Drawn alike: over the tile's own width and height, its scale and turn differ from
        // the reference's by at most half a pixel.
        let off =
            |p: (f64, f64), q: (f64, f64), n: u32| norm((p.0 - q.0, p.1 - q.1)) * f64::from(n);
        if off(ui, u, w) > 0.5 * norm(u) || off(vi, v, h) > 0.5 * norm(v) {
            continue;
        }
        if matches!(placements[index].source, Source::Inline(_)) {
            why_not = Some("tiles drawn as inline images are not put together");
        }
        // Where the tile's top-left corner falls, in reference pixels: origin + x·u + y·v.
        let (px, py) = (oi.0 - origin.0, oi.1 - origin.1);
        let x = (px * v.1 - py * v.0) / det;
        let y = (u.0 * py - u.1 * px) / det;
        if !(x.is_finite() && y.is_finite() && x.abs() < 1e9 && y.abs() < 1e9) {
            why_not = Some("a tile is drawn far off the page");
            continue;
        }
        let tile = Tile {
            index,
            x: 0,
            y: 0,
            width: w,
            height: h,
        };
        // Half-pixel rounding of the writer's coordinates is absorbed here.
        cells.push((tile, x.round() as i64, y.round() as i64));
    }
    let alike: Vec<usize> = cells.iter().map(|(t, _, _)| t.index).collect();
    if let Some(why) = why_not {
        return fail(alike, why);
    }
    // Images drawn at other scales or turns are left out: a complete grid of the rest that
    // covers the page on its own is taken (as a single scan is beside a small logo).
    let other = sized.len() - cells.len();
    let (width, height) = match grid_layout(&mut cells) {
        Ok(size) if cells.len() > 1 => size,
        _ if other > 0 => {
            return fail(
                alike,
                &format!(
                    "{other} of the {} images are drawn at another scale or turn than the \
                     largest",
                    sized.len()
                ),
            )
        }
        Ok(_) => return None,
        Err(why) => return fail(alike, &why),
    };
    // The assembled image's unit square: top-left at grid pixel (0, 0).
    let (x0, y0) = cells
        .iter()
        .find(|(t, _, _)| t.index == reference)
        .map_or((0.0, 0.0), |(t, _, _)| (f64::from(t.x), f64::from(t.y)));
    let top_left = (
        origin.0 - x0 * u.0 - y0 * v.0,
        origin.1 - x0 * u.1 - y0 * v.1,
    );
    let (wf, hf) = (f64::from(width), f64::from(height));
    let ctm = Affine([
        u.0 * wf,
        u.1 * wf,
        -v.0 * hf,
        -v.1 * hf,
        top_left.0 + v.0 * hf,
        top_left.1 + v.1 * hf,
    ]);
    Some(Tiling {
        alike,
        grid: Ok(TileGrid {
            tiles: cells.into_iter().map(|(t, _, _)| t).collect(),
            width,
            height,
            coverage: coverage(ctm, page_box),
            ctm,
        }),
    })
}

/// Checks that the tiles (with their rounded pixel positions) fill a rectangle exactly, as the
/// cells of a grid: every column one width, every row one height, each cell drawn once. Sets
/// each tile's position from the grid's top-left corner and returns the rectangle's size.
fn grid_layout(cells: &mut [(Tile, i64, i64)]) -> Result<(u32, u32), String> {
    let mut xs: Vec<i64> = cells.iter().map(|c| c.1).collect();
    let mut ys: Vec<i64> = cells.iter().map(|c| c.2).collect();
    xs.sort_unstable();
    xs.dedup();
    ys.sort_unstable();
    ys.dedup();
    if xs.len().saturating_mul(ys.len()) != cells.len() {
        return Err(format!(
            "the {} tiles are not a grid (they overlap or leave gaps)",
            cells.len()
        ));
    }
    let mut seen = vec![false; cells.len()];
    let mut col_width: Vec<Option<u32>> = vec![None; xs.len()];
    let mut row_height: Vec<Option<u32>> = vec![None; ys.len()];
    for (tile, x, y) in cells.iter() {
        let col = xs
            .binary_search(x)
            .map_err(|_| "tile column lost".to_string())?;
        let row = ys
            .binary_search(y)
            .map_err(|_| "tile row lost".to_string())?;
        let cell = row * xs.len() + col;
        if std::mem::replace(&mut seen[cell], true) {
            return Err("two tiles are drawn at the same place".into());
        }
        for (slot, size) in [
            (&mut col_width[col], tile.width),
            (&mut row_height[row], tile.height),
        ] {
            match slot {
                Some(s) if *s != size => {
                    return Err("tiles in one row or column differ in size".into())
                }
                _ => *slot = Some(size),
            }
        }
    }
    // Each column must end where the next begins (and likewise rows): no overlap, no gap.
    let extent = |starts: &[i64], sizes: &[Option<u32>]| -> Result<u32, String> {
        for (k, pair) in starts.windows(2).enumerate() {
            let size = sizes.get(k).copied().flatten().unwrap_or(0);
            if pair[0] + i64::from(size) != pair[1] {
                return Err("the tiles overlap or leave gaps between them".into());
            }
        }
        let last = sizes.last().copied().flatten().unwrap_or(0);
        let total = starts.last().copied().unwrap_or(0) - starts.first().copied().unwrap_or(0)
            + i64::from(last);
        u32::try_from(total).map_err(|_| "the tiles span too many pixels".to_string())
    };
    let width = extent(&xs, &col_width)?;
    let height = extent(&ys, &row_height)?;
    let (x_min, y_min) = (xs[0], ys[0]);
    for (tile, x, y) in cells.iter_mut() {
        // Within [0, width) and [0, height) by the checks above.
        tile.x = u32::try_from(*x - x_min).unwrap_or(0);
        tile.y = u32::try_from(*y - y_min).unwrap_or(0);
    }
    Ok((width, height))
}

/// Decodes the tiles one by one into the assembled image (one tile's pixels at a time besides
/// the page itself).
pub(super) fn assemble(
    placements: &[Placement<'_>],
    grid: &TileGrid,
    limits: &Limits,
) -> PageResult<GrayImage> {
    check_pixels(u64::from(grid.width), u64::from(grid.height), limits)?;
    let (w, h) = (grid.width as usize, grid.height as usize);
    let mut out = vec![255u8; w * h];
    for tile in &grid.tiles {
        let Some(p) = placements.get(tile.index) else {
            return Err(decode_err("tile placement lost"));
        };
        let Source::XObject { stream, resources } = &p.source else {
            return Err(unsupported(
                "tiles drawn as inline images are not put together",
            ));
        };
        let img = decode_image(stream, resources, false, limits)?;
        if img.dimensions() != (tile.width, tile.height) {
            return Err(decode_err(format!(
                "a tile decodes to {}x{} pixels but declares {}x{}",
                img.width(),
                img.height(),
                tile.width,
                tile.height
            )));
        }
        let tw = tile.width as usize;
        for (r, src) in img.as_raw().chunks_exact(tw.max(1)).enumerate() {
            let start = (tile.y as usize + r) * w + tile.x as usize;
            if let Some(dst) = out.get_mut(start..start + tw) {
                dst.copy_from_slice(src);
            }
        }
    }
    GrayImage::from_raw(grid.width, grid.height, out)
        .ok_or_else(|| decode_err("assembled image size mismatch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(rects: &[(i64, i64, u32, u32)]) -> Vec<(Tile, i64, i64)> {
        rects
            .iter()
            .enumerate()
            .map(|(index, &(x, y, width, height))| {
                let tile = Tile {
                    index,
                    x: 0,
                    y: 0,
                    width,
                    height,
                };
                (tile, x, y)
            })
            .collect()
    }

    #[test]
    fn grid_layout_takes_ragged_edge_tiles_in_any_order() {
        // 2 columns (256 + 100) by 2 rows (256 + 30), drawn from the bottom right, offset.
        let mut c = cells(&[
            (256 - 7, 256 + 3, 100, 30),
            (-7, 256 + 3, 256, 30),
            (256 - 7, 3, 100, 256),
            (-7, 3, 256, 256),
        ]);
        assert_eq!(grid_layout(&mut c), Ok((356, 286)));
        let at: Vec<(u32, u32)> = c.iter().map(|(t, _, _)| (t.x, t.y)).collect();
        assert_eq!(at, vec![(256, 256), (0, 256), (256, 0), (0, 0)]);
    }

    #[test]
    fn grid_layout_refuses_overlaps_gaps_and_doubles() {
        let overlap = grid_layout(&mut cells(&[(0, 0, 10, 10), (8, 0, 10, 10)]));
        assert!(overlap.unwrap_err().contains("overlap or leave gaps"));
        let gap = grid_layout(&mut cells(&[
            (0, 0, 10, 10),
            (10, 0, 10, 10),
            (0, 10, 10, 10),
        ]));
        assert!(gap.unwrap_err().contains("not a grid"));
        let ragged = grid_layout(&mut cells(&[(0, 0, 10, 10), (0, 10, 12, 10)]));
        assert!(ragged.unwrap_err().contains("differ in size"));
        let double = grid_layout(&mut cells(&[(0, 0, 10, 10), (0, 0, 10, 10)]));
        assert!(double.is_err());
    }
}
