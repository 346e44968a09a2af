//! Finding the page image: the page's content stream walked (`q`/`Q`/`cm`/`Do`, inline images,
//! into at most a few levels of Form XObjects) for every image it draws and where, and the one
//! image (or the grid of tiles) that covers most of the page chosen from them.

use hayro_syntax::content::UntypedIter;
use hayro_syntax::object::Array;
use hayro_syntax::object::Dict;
use hayro_syntax::object::Name;
use hayro_syntax::object::Object;
use hayro_syntax::object::Stream;
use hayro_syntax::page::Page;
use hayro_syntax::page::Resources;
use image::GrayImage;

use super::decode::decode_image;
use super::geometry::{coverage, unit_square_bbox, Affine, Rect};
use super::image_dict::{decode_stream, ImageDict};
use super::tiles::{tile_grid, TileGrid, Tiling};
use super::{decode_err, unsupported, Limits, PageResult, PdfPageError};

/// Images covering at least this share of the page count as the page's scan.
const MIN_COVERAGE: f64 = 0.5;
/// Besides the scan, other images may cover this share of the page (a logo, a stamp). More is
/// a part of the page or a layer of it that would be left out.
const MAX_EXTRA_COVERAGE: f64 = 0.1;
/// Form XObjects nested deeper than this are not entered.
const MAX_FORM_DEPTH: usize = 4;
/// Bounds the work a hostile content stream (or forms drawn many times) can cause.
const MAX_OPERATORS: usize = 5_000_000;
const MAX_PLACEMENTS: usize = 10_000;
const MAX_STATE_DEPTH: usize = 256;

pub(super) enum Source<'a> {
    XObject {
        stream: Stream<'a>,
        resources: Resources<'a>,
    },
    /// Inline images live in a content buffer that does not outlive the walk, so the large
    /// ones are decoded as soon as they are met.
    Inline(PageResult<GrayImage>),
}

pub(super) struct Placement<'a> {
    pub(super) source: Source<'a>,
    pub(super) ctm: Affine,
    pub(super) coverage: f64,
    /// Identifies the image object, so one image drawn twice is not taken for two layers.
    id: Option<(u32, i32)>,
    /// The declared /Width and /Height, when valid: where its pixels land, for tiles.
    pub(super) size: Option<(u32, u32)>,
}

/// The declared pixel size of an image dictionary, if both are positive and fit a `u32`.
fn declared_size(dict: &Dict<'_>, inline: bool) -> Option<(u32, u32)> {
    let d = ImageDict { dict, inline };
    let w = u32::try_from(d.uint(b"Width", b"W")?).ok()?;
    let h = u32::try_from(d.uint(b"Height", b"H")?).ok()?;
    (w > 0 && h > 0).then_some((w, h))
}

pub(super) struct Walk<'a, 'l> {
    pub(super) limits: &'l Limits,
    pub(super) page_box: Rect,
    operators: usize,
    content_bytes: usize,
    pub(super) placements: Vec<Placement<'a>>,
    /// Whether anything besides images is painted (paths, text, shadings) — for the message.
    other_marks: bool,
}

impl<'a, 'l> Walk<'a, 'l> {
    pub(super) fn new(limits: &'l Limits, page_box: Rect) -> Self {
        Walk {
            limits,
            page_box,
            operators: 0,
            content_bytes: 0,
            placements: Vec::new(),
            other_marks: false,
        }
    }

    pub(super) fn run(
        &mut self,
        content: &[u8],
        resources: &Resources<'a>,
        base: Affine,
        depth: usize,
    ) -> PageResult<()> {
        self.content_bytes = self.content_bytes.saturating_add(content.len());
        if self.content_bytes > self.limits.max_content_bytes {
            return Err(unsupported("page content is larger than the stream limit"));
        }
        let mut ctm = base;
        let mut saved: Vec<Affine> = Vec::new();
        let mut iter = UntypedIter::new(content);
        while let Some(instr) = iter.next() {
            self.operators += 1;
            if self.operators > MAX_OPERATORS {
                return Err(unsupported("page content has too many operators"));
            }
            match &**instr.operator {
                // Deeper nesting than this is ignored (and its `Q`s then pop earlier states).
                b"q" if saved.len() < MAX_STATE_DEPTH => saved.push(ctm),
                b"Q" => {
                    if let Some(m) = saved.pop() {
                        ctm = m;
                    }
                }
                b"cm" => {
                    let nums: Vec<f64> = instr
                        .operands()
                        .filter_map(|o| match o {
                            Object::Number(n) => Some(n.as_f64()),
                            _ => None,
                        })
                        .collect();
                    if let Some(m) = Affine::from_numbers(&nums) {
                        ctm = m.then(ctm);
                    }
                }
                b"Do" => {
                    let name = instr.operands().find_map(|o| match o {
                        Object::Name(n) => Some(n.clone()),
                        _ => None,
                    });
                    if let Some(name) = name {
                        self.draw_xobject(&name, resources, ctm, depth)?;
                    }
                }
                b"BI" => {
                    let stream = instr.operands().find_map(|o| match o {
                        Object::Stream(s) => Some(s.clone()),
                        _ => None,
                    });
                    if let Some(stream) = stream {
                        let cov = coverage(ctm, &self.page_box);
                        // Small inline images (logos, glyph bitmaps) are never the scan; only
                        // page-sized ones are worth decoding now.
                        let decoded = if cov >= MIN_COVERAGE {
                            decode_image(&stream, resources, true, self.limits)
                        } else {
                            Err(unsupported("small inline image"))
                        };
                        self.push(Placement {
                            size: declared_size(stream.dict(), true),
                            source: Source::Inline(decoded),
                            ctm,
                            coverage: cov,
                            id: None,
                        })?;
                    }
                }
                b"f" | b"F" | b"f*" | b"B" | b"B*" | b"b" | b"b*" | b"S" | b"s" | b"Tj" | b"TJ"
                | b"'" | b"\"" | b"sh" => self.other_marks = true,
                _ => {}
            }
        }
        Ok(())
    }

    pub(super) fn push(&mut self, p: Placement<'a>) -> PageResult<()> {
        if self.placements.len() >= MAX_PLACEMENTS {
            return Err(unsupported("page draws too many images"));
        }
        self.placements.push(p);
        Ok(())
    }

    fn draw_xobject(
        &mut self,
        name: &Name<'_>,
        resources: &Resources<'a>,
        ctm: Affine,
        depth: usize,
    ) -> PageResult<()> {
        let Some(xobj) = resources.get_x_object(name) else {
            if resources.x_objects.contains_key(name) {
                // Named but unreadable: typically the object was cut off with a truncated
                // file. Reporting it keeps a damaged scan from passing as a blank page.
                return Err(decode_err(format!(
                    "XObject /{} is missing or broken",
                    name.as_str()
                )));
            }
            // An undefined name draws nothing in viewers either.
            return Ok(());
        };
        let subtype = xobj.dict().get::<Name<'_>>(b"Subtype");
        match subtype.as_deref() {
            Some(b"Image") => {
                let id = xobj.dict().obj_id().map(|o| (o.obj_number, o.gen_number));
                self.push(Placement {
                    coverage: coverage(ctm, &self.page_box),
                    size: declared_size(xobj.dict(), false),
                    source: Source::XObject {
                        stream: xobj,
                        resources: resources.clone(),
                    },
                    ctm,
                    id,
                })
            }
            Some(b"Form") if depth < MAX_FORM_DEPTH => {
                let matrix = xobj
                    .dict()
                    .get::<Array<'_>>(b"Matrix")
                    .map(|a| a.iter::<f64>().collect::<Vec<_>>())
                    .and_then(|v| Affine::from_numbers(&v))
                    .unwrap_or(Affine::IDENTITY);
                let form_resources = xobj
                    .dict()
                    .get::<Dict<'a>>(b"Resources")
                    .map(Resources::new)
                    .unwrap_or_else(|| resources.clone());
                let content = decode_stream(&xobj, self.limits)
                    .map_err(|e| decode_err(format!("form XObject content: {e}")))?;
                self.run(&content, &form_resources, matrix.then(ctm), depth + 1)
            }
            _ => {
                self.other_marks = true;
                Ok(())
            }
        }
    }
}

/// The page's content streams, decoded and joined.
pub(super) fn page_content(page: &Page<'_>, limits: &Limits) -> PageResult<Vec<u8>> {
    let dict = page.raw();
    let streams: Vec<Stream<'_>> = if let Some(s) = dict.get::<Stream<'_>>(b"Contents") {
        vec![s]
    } else if let Some(a) = dict.get::<Array<'_>>(b"Contents") {
        // The resolving iterator stops at the first part it cannot read; a missing part
        // would silently drop drawing operators.
        let parts: Vec<Stream<'_>> = a.iter::<Stream<'_>>().collect();
        if parts.len() != a.raw_iter().count() {
            return Err(decode_err(
                "a part of the page content is missing or broken",
            ));
        }
        parts
    } else if dict.contains_key(b"Contents") {
        return Err(decode_err("the page content stream is missing or broken"));
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for s in &streams {
        let data = decode_stream(s, limits)
            .map_err(|e| decode_err(format!("page content stream: {e}")))?;
        if out.len().saturating_add(data.len()) > limits.max_content_bytes {
            return Err(unsupported("page content is larger than the stream limit"));
        }
        out.extend_from_slice(&data);
        // Content streams split mid-token are joined with white space, as the spec asks.
        out.push(b'\n');
    }
    Ok(out)
}

/// What a page's scan is made of.
pub(super) enum Choice {
    /// One image: an index into the walk's placements.
    One(usize),
    /// Several images drawn side by side (tiles or bands), put together.
    Tiles(TileGrid),
}

/// The placement that is the page's scan, or the tiles it is drawn from.
pub(super) fn choose_image(walk: &Walk<'_, '_>) -> PageResult<Choice> {
    let placements = &walk.placements;
    if placements.is_empty() {
        return Err(PdfPageError::NotAScannedPage(if walk.other_marks {
            "the page has no image, only vector or text content".into()
        } else {
            "the page is blank".into()
        }));
    }
    let n = placements.len();
    let candidates: Vec<usize> = (0..n)
        .filter(|&i| placements[i].coverage >= MIN_COVERAGE)
        .collect();
    let largest = placements
        .iter()
        .map(|p| p.coverage)
        .fold(0.0_f64, f64::max);
    let tiling = tile_grid(placements, &walk.page_box);
    let grid_why = match &tiling {
        Some(Tiling { grid: Err(why), .. }) => Some(why.clone()),
        _ => None,
    };
    let mut alike = vec![false; n];
    let (grid, alike_count) = match tiling {
        Some(t) => {
            for &i in &t.alike {
                if let Some(a) = alike.get_mut(i) {
                    *a = true;
                }
            }
            (Some(t.grid), t.alike.len())
        }
        None => (None, 0),
    };
    let cannot_tile = |why: &str| {
        PdfPageError::NotAScannedPage(format!(
            "the page is tiled from {n} images (the largest covers {:.0}% of it) that cannot \
             be put together: {why}",
            largest * 100.0
        ))
    };
    // The scan, and which placements it is made of.
    let mut chosen = vec![false; n];
    let (choice, ctm, what) = match grid {
        Some(Ok(g)) if g.coverage >= MIN_COVERAGE => {
            for t in &g.tiles {
                if let Some(c) = chosen.get_mut(t.index) {
                    *c = true;
                }
            }
            let (ctm, what) = (g.ctm, format!("tiled from {} images", g.tiles.len()));
            (Choice::Tiles(g), ctm, what)
        }
        grid => match candidates.as_slice() {
            [] => {
                let total: f64 = placements.iter().map(|p| p.coverage).sum();
                return Err(match grid.filter(|_| n > 1 && total >= MIN_COVERAGE) {
                    Some(Err(why)) => cannot_tile(&why),
                    Some(Ok(g)) => PdfPageError::NotAScannedPage(format!(
                        "the page is tiled from {n} images; the {} drawn alike (same scale \
                         and turn) cover only {:.0}% of it",
                        g.tiles.len(),
                        g.coverage * 100.0
                    )),
                    None => PdfPageError::NotAScannedPage(format!(
                        "the largest image covers only {:.0}% of the page",
                        largest * 100.0
                    )),
                });
            }
            [first, rest @ ..] => {
                let id = placements[*first].id;
                let one_image = id.is_some() && rest.iter().all(|&i| placements[i].id == id);
                if !rest.is_empty() && !one_image {
                    return Err(unsupported(format!(
                        "the page is {} overlapping page-sized images (a layered, mixed-raster \
                         scan); composing layers needs a renderer",
                        candidates.len()
                    )));
                }
                // One image, perhaps drawn several times: the last drawing is what shows.
                for &i in &candidates {
                    chosen[i] = true;
                }
                let last = rest.last().copied().unwrap_or(*first);
                let what = "one page-sized image".to_string();
                (Choice::One(last), placements[last].ctm, what)
            }
        },
    };
    // Images drawn alike with the scan but not part of it are pieces of the same picture that
    // do not fit: taking the scan without them would lose part of the page.
    if alike_count > 1 && (0..n).any(|i| alike[i] && !chosen[i]) {
        return Err(cannot_tile(
            grid_why.as_deref().unwrap_or("they do not form a grid"),
        ));
    }
    // Other images over or under the scan are another layer of it (a mixed-raster page), and
    // beside it another part of the page. Either would be left out, which is fine only for
    // small ones (a logo, a stamp).
    let page_area = walk.page_box.area();
    let scan_box = unit_square_bbox(ctm).intersect(&walk.page_box);
    let (mut over, mut beside) = (0.0, 0.0);
    for (p, _) in placements.iter().zip(&chosen).filter(|(_, &c)| !c) {
        let b = unit_square_bbox(p.ctm).intersect(&walk.page_box);
        let o = b.intersect(&scan_box).area();
        if page_area > 0.0 {
            over += o / page_area;
            beside += (b.area() - o).max(0.0) / page_area;
        }
    }
    if over >= MAX_EXTRA_COVERAGE {
        return Err(unsupported(format!(
            "the page is {what} and other images over or under it covering {:.0}% of it (a \
             layered, mixed-raster scan); composing layers needs a renderer",
            over.min(1.0) * 100.0
        )));
    }
    if beside >= MAX_EXTRA_COVERAGE {
        return Err(cannot_tile(grid_why.as_deref().unwrap_or(
            "images beside the largest are drawn at another scale or turn",
        )));
    }
    Ok(choice)
}
