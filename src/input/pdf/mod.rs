//! Scanned pages out of PDF files, without a PDF renderer.
//!
//! Office scanners save a batch as a multi-page PDF holding one scanned image per page. This
//! module owns everything between those bytes and an 8-bit grayscale page image (0 = black):
//!
//! - the file structure (cross-reference tables and streams, object streams, repair of broken
//!   files, decryption of files that open without a password) — delegated to `hayro-syntax`;
//! - finding the one image XObject (or inline image) that covers most of the page, by following
//!   the content stream's `q`/`Q`/`cm`/`Do` operators into at most a few levels of Form XObjects,
//!   or the tiles or bands it is drawn from (tiff2pdf's tiled TIFFs, banded scanners) when they
//!   form a complete grid of images drawn at one scale and turn;
//! - decoding its filters: DCTDecode (zune-jpeg, straight to gray), FlateDecode and LZWDecode
//!   with PNG/TIFF predictors, RunLengthDecode, ASCIIHex/ASCII85, CCITTFaxDecode (G3 1-D/2-D
//!   and G4, via `hayro-ccitt`), JBIG2Decode (via `hayro-jbig2`) and JPXDecode (JPEG 2000, via
//!   `hayro-jpeg2000`);
//! - converting its colour space (DeviceGray/RGB/CMYK, CalGray/CalRGB, ICCBased by /N, Indexed
//!   over those, /ImageMask, /Decode) to gray;
//! - turning it the way a viewer displays it: the image's placement matrix and the page's
//!   /Rotate, in multiples of 90°, at the image's native resolution.
//!
//! Vector and text content is never rendered: a page without a page-sized image is reported as
//! [`PdfPageError::NotAScannedPage`]. Every input is untrusted: sizes are checked before
//! allocating, decompression is bounded, and a panic inside a dependency is caught and turned into
//! a per-page (or per-file) error so one bad file never stops a batch.

use std::borrow::Cow;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};

use hayro_syntax::content::UntypedIter;
use hayro_syntax::object::{Array, Dict, Name, Object, Stream};
use hayro_syntax::page::{Page, Resources, Rotation};
use hayro_syntax::{LoadPdfError, Pdf};
use image::GrayImage;

use crate::reason::Reason;

/// Resource limits for decoding one page. Inputs are untrusted; these keep a hostile or broken
/// file from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted image, in pixels (width × height), checked before any allocation.
    pub max_pixels: u64,
    /// Largest accepted decoded size of any one image stream (its inflated samples).
    pub max_stream_bytes: usize,
    /// Largest accepted decoded size of a page's drawing instructions (its content streams
    /// and the forms it draws, together) and of any other non-image stream. A scanner's page
    /// content is a few dozen bytes, a page of 10,000 tiles under 1 MB; a content stream that
    /// inflates to 190 MB took 407 MB to be found blank.
    pub max_content_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: super::MAX_PIXELS,
            max_stream_bytes: 200 * 1024 * 1024,
            max_content_bytes: 8 << 20,
        }
    }
}

/// What [`PdfDocument::page_size`] can tell before a page is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSize {
    /// The page image's declared width × height.
    Pixels(u64),
    /// The page has an image whose size is not declared ahead (an inline image).
    Unknown,
    /// The page cannot give an image: reading it stops before any is decoded.
    NoImage,
}

/// The whole file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The file is encrypted and cannot be opened without a password (files that only carry an
    /// owner password open without one, as in any viewer, and are read normally).
    #[error("the PDF is encrypted and needs a password")]
    Encrypted,
    /// Not a PDF, or so damaged that no page can be found.
    #[error("not a readable PDF: {0}")]
    Malformed(String),
}

impl PdfError {
    /// Stable machine-readable code for reports.
    pub fn reason_code(&self) -> Reason {
        match self {
            PdfError::Encrypted => Reason::EncryptedPdf,
            PdfError::Malformed(_) => Reason::BadPdf,
        }
    }
}

/// One page is unusable; the other pages of the file may be fine.
#[derive(Debug, thiserror::Error)]
pub enum PdfPageError {
    /// The page has no image covering it: vector/text content, a blank page, a small picture,
    /// or tiles that do not form a complete grid at one scale and turn.
    #[error("not a scanned page: {0}")]
    NotAScannedPage(String),
    /// The page image uses a feature this reader does not implement.
    #[error("unsupported PDF image: {0}")]
    Unsupported(String),
    /// The page image is larger than [`Limits::max_pixels`].
    #[error("page image of {width}x{height} pixels is larger than allowed")]
    TooLarge {
        /// Declared width in pixels.
        width: u64,
        /// Declared height in pixels.
        height: u64,
    },
    /// The page's data is broken (truncated stream, corrupt compressed data, bad dictionary).
    #[error("cannot decode the page image: {0}")]
    Decode(String),
}

impl PdfPageError {
    /// Stable machine-readable code for reports.
    pub fn reason_code(&self) -> Reason {
        match self {
            PdfPageError::NotAScannedPage(_) => Reason::NotAScannedPage,
            PdfPageError::Unsupported(_) => Reason::UnsupportedPdfImage,
            PdfPageError::TooLarge { .. } => Reason::ImageTooLarge,
            PdfPageError::Decode(_) => Reason::DecodeError,
        }
    }
}

type PageResult<T> = Result<T, PdfPageError>;

fn decode_err(msg: impl Into<String>) -> PdfPageError {
    PdfPageError::Decode(msg.into())
}

fn unsupported(msg: impl Into<String>) -> PdfPageError {
    PdfPageError::Unsupported(msg.into())
}

/// A parsed PDF. Parsing reads the cross-reference data and the page tree only; each page's
/// image is found and decoded on demand by [`PdfDocument::page_image`], which takes `&self`, so
/// pages can be decoded in parallel.
pub struct PdfDocument {
    pdf: Pdf,
    /// The document's pages in page-tree order: a page that can be read, or a hole where the
    /// tree names a page that cannot be found (a dangling reference, a missing or broken
    /// object). Holes keep their place, so the pages after one keep their numbers.
    slots: Vec<Slot>,
    /// Pages the page tree declares (/Count) beyond those that could be read, in a damaged
    /// file. They are reported as broken rather than silently dropped from the batch.
    missing_pages: usize,
}

/// One entry of the page tree, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// `pdf.pages()[i]`.
    Page(usize),
    /// A kid of the page tree that is no page dictionary.
    Missing,
}

impl std::fmt::Debug for PdfDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfDocument")
            .field("pages", &self.page_count())
            .finish()
    }
}

impl PdfDocument {
    /// Parses the file structure. Fails if the bytes are not a PDF, if no page can be found, or if
    /// opening the file needs a password.
    pub fn parse(bytes: &[u8]) -> Result<PdfDocument, PdfError> {
        PdfDocument::parse_shared(std::sync::Arc::new(bytes.to_vec()))
    }

    /// [`PdfDocument::parse`] without a copy: the document keeps the caller's bytes for lazy
    /// page decoding.
    pub fn parse_shared<T: AsRef<[u8]> + Send + Sync + 'static>(
        data: std::sync::Arc<T>,
    ) -> Result<PdfDocument, PdfError> {
        // Viewers accept the header anywhere in the first KiB; without one this is not a PDF,
        // and hayro's object-scanning repair should not be let loose on arbitrary files.
        let bytes = (*data).as_ref();
        let head = bytes.get(..bytes.len().min(1024)).unwrap_or(bytes);
        if find(head, b"%PDF-").is_none() {
            return Err(PdfError::Malformed(
                "no %PDF- header in the first 1024 bytes".into(),
            ));
        }
        let pdf = match catch_unwind(AssertUnwindSafe(move || Pdf::new(data))) {
            Ok(Ok(pdf)) => pdf,
            Ok(Err(LoadPdfError::Decryption(_))) => return Err(PdfError::Encrypted),
            Ok(Err(LoadPdfError::Invalid)) => {
                return Err(PdfError::Malformed(
                    "no readable cross-reference table or page tree".into(),
                ))
            }
            Err(_) => {
                return Err(PdfError::Malformed(
                    "the PDF structure could not be read".into(),
                ))
            }
        };
        if pdf.pages().is_empty() {
            return Err(PdfError::Malformed("the PDF has no pages".into()));
        }
        let found = pdf.pages().len();
        let mut slots = catch_unwind(AssertUnwindSafe(|| page_slots(&pdf)))
            .ok()
            .flatten()
            // The walk must agree with the pages hayro found (it falls back to searching every
            // object when the tree is unreadable): else the pages are taken as found, no holes.
            .filter(|s| s.iter().filter(|s| matches!(s, Slot::Page(_))).count() == found)
            .unwrap_or_else(|| (0..found).map(Slot::Page).collect());
        // Pages missing at the end (a file cut short) need no place kept: they join the one
        // row for the pages that cannot be found, as a /Count larger than the tree does.
        let trailing = slots
            .iter()
            .rev()
            .take_while(|s| **s == Slot::Missing)
            .count();
        slots.truncate(slots.len() - trailing);
        let declared = catch_unwind(AssertUnwindSafe(|| declared_page_count(&pdf))).unwrap_or(0);
        let missing_pages = declared.saturating_sub(slots.len()).max(trailing);
        Ok(PdfDocument {
            pdf,
            slots,
            missing_pages,
        })
    }

    /// Number of pages in the document: the pages the page tree names, found or not (one
    /// that cannot be found fails to decode at its own number), plus, in a damaged file whose
    /// page tree declares more, one page standing for all the others (it fails to decode and
    /// says how many are missing). A /Count that lies must not give a row per phantom page.
    pub fn page_count(&self) -> usize {
        self.slots.len() + usize::from(self.missing_pages > 0)
    }

    /// The readable page at row `index`, or why there is none.
    fn page(&self, index: usize) -> PageResult<&Page<'_>> {
        let pages = self.pdf.pages();
        match self.slots.get(index) {
            Some(&Slot::Page(i)) => pages
                .get(i)
                .ok_or_else(|| decode_err("internal error: a page went missing")),
            Some(Slot::Missing) => Err(decode_err(format!(
                "page {} cannot be found: the file is damaged (its page tree names an object \
                 that is missing or is no page); the other pages keep their numbers",
                index.saturating_add(1)
            ))),
            None if index < self.page_count() => {
                let declared = self.slots.len() + self.missing_pages;
                Err(decode_err(format!(
                    "pages {}-{declared} cannot be found: the file is damaged (its page tree \
                     declares {declared} pages, {} can be read)",
                    index.saturating_add(1),
                    pages.len()
                )))
            }
            None => Err(decode_err(format!(
                "page {} does not exist (the document has {} pages)",
                index.saturating_add(1),
                self.page_count()
            ))),
        }
    }

    /// Page `index` (0-based) as an 8-bit grayscale image, oriented as the page is displayed.
    ///
    /// The image is returned at its native resolution; its placement only decides which way it
    /// is turned (multiples of 90°, mirroring included). An index past the last page is a
    /// [`PdfPageError::Decode`] error.
    pub fn page_image(&self, index: usize, limits: &Limits) -> PageResult<GrayImage> {
        // Defence in depth: the PDF and image decoders are dependencies fed hostile bytes; a
        // panic in one of them must cost this page only, not the batch.
        match catch_unwind(AssertUnwindSafe(|| self.page_image_inner(index, limits))) {
            Ok(result) => result,
            Err(_) => Err(decode_err("internal error while decoding this page")),
        }
    }

    /// The size of the image page `index` (0-based) would be read from, found by walking its
    /// drawing instructions without decoding any image: what reading the page will cost.
    pub fn page_size(&self, index: usize) -> PageSize {
        catch_unwind(AssertUnwindSafe(|| {
            let limits = Limits::default();
            let Ok(page) = self.page(index) else {
                return PageSize::NoImage;
            };
            let mut walk = Walk::new(&limits, visible_box(page));
            let Ok(content) = page_content(page, &limits) else {
                return PageSize::NoImage;
            };
            if walk
                .run(&content, page.resources(), Affine::IDENTITY, 0)
                .is_err()
            {
                return PageSize::NoImage;
            }
            match choose_image(&walk) {
                Ok(Choice::One(i)) => {
                    walk.placements[i].size.map_or(PageSize::Unknown, |(w, h)| {
                        PageSize::Pixels(u64::from(w) * u64::from(h))
                    })
                }
                Ok(Choice::Tiles(grid)) => {
                    PageSize::Pixels(u64::from(grid.width) * u64::from(grid.height))
                }
                Err(_) => PageSize::NoImage,
            }
        }))
        .unwrap_or(PageSize::NoImage)
    }

    fn page_image_inner(&self, index: usize, limits: &Limits) -> PageResult<GrayImage> {
        let page = self.page(index)?;
        let page_box = visible_box(page);
        let mut walk = Walk::new(limits, page_box);
        let content = page_content(page, limits)?;
        walk.run(&content, page.resources(), Affine::IDENTITY, 0)?;
        let (image, ctm) = match choose_image(&walk)? {
            Choice::One(i) => {
                let chosen = walk.placements.swap_remove(i);
                let image = match chosen.source {
                    Source::XObject { stream, resources } => {
                        decode_image(&stream, &resources, false, limits)?
                    }
                    Source::Inline(result) => result?,
                };
                (image, chosen.ctm)
            }
            Choice::Tiles(grid) => (assemble(&walk.placements, &grid, limits)?, grid.ctm),
        };
        let (col_dir, row_dir) = display_axes(ctm, page.rotation());
        Ok(orient(image, col_dir, row_dir))
    }
}

/// The page tree's kids in order, as hayro walks them (`resolve_pages` in hayro-syntax: depth
/// first, each object visited once, a dictionary that is not /Pages taken as a page), with a
/// [`Slot::Missing`] where a kid is no dictionary: a dangling reference or a missing or
/// broken object, which hayro skips so the pages after it would move up one number. `None`
/// when the tree itself cannot be read.
fn page_slots(pdf: &Pdf) -> Option<Vec<Slot>> {
    use hayro_syntax::object::MaybeRef;
    let xref = pdf.xref();
    let root = xref
        .get::<Dict<'_>>(xref.root_id())?
        .get::<Dict<'_>>(b"Pages")?;
    let mut visited = std::collections::HashSet::new();
    if let Some(id) = root.obj_id() {
        visited.insert(id);
    }
    let mut slots = Vec::new();
    let mut found = 0;
    let mut stack = vec![root.get::<Array<'_>>(b"Kids")?.raw_iter()];
    while let Some(kids) = stack.last_mut() {
        let Some(kid) = kids.next() else {
            stack.pop();
            continue;
        };
        let dict = match kid {
            MaybeRef::Ref(id) => {
                if !visited.insert(id.into()) {
                    // A page named twice, or a loop: hayro reads it once, so no row here.
                    continue;
                }
                xref.get::<Dict<'_>>(id.into())
            }
            MaybeRef::NotRef(object) => object.into_dict(),
        };
        let Some(dict) = dict else {
            slots.push(Slot::Missing);
            continue;
        };
        if dict.get::<Name<'_>>(b"Type").as_deref() == Some(b"Pages".as_slice()) {
            // A subtree whose pages cannot be listed is skipped as hayro skips it: the root's
            // /Count still counts its pages, which then get the one row for the rest.
            if let Some(kids) = dict.get::<Array<'_>>(b"Kids") {
                stack.push(kids.raw_iter());
            }
        } else {
            slots.push(Slot::Page(found));
            found += 1;
        }
    }
    Some(slots)
}

/// The root page tree's /Count.
fn declared_page_count(pdf: &Pdf) -> usize {
    let xref = pdf.xref();
    xref.get::<Dict<'_>>(xref.root_id())
        .and_then(|catalog| catalog.get::<Dict<'_>>(b"Pages"))
        .and_then(|pages| pages.get::<u32>(b"Count"))
        // However large, the pages it claims beyond those found make one row (page_count).
        .map_or(0, |n| n as usize)
}

// ---------------------------------------------------------------------------------------------
// Geometry

/// A PDF matrix `[a b c d e f]`: x' = a·x + c·y + e, y' = b·x + d·y + f.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Affine([f64; 6]);

impl Affine {
    const IDENTITY: Affine = Affine([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// `self` applied first, then `next`. The `cm` operator makes CTM' = M × CTM, i.e.
    /// `m.then(ctm)`.
    fn then(self, next: Affine) -> Affine {
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

    fn apply(self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }

    fn from_numbers(nums: &[f64]) -> Option<Affine> {
        match nums {
            [a, b, c, d, e, f] if nums.iter().all(|v| v.is_finite()) => {
                Some(Affine([*a, *b, *c, *d, *e, *f]))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn area(&self) -> f64 {
        let w = self.x1 - self.x0;
        let h = self.y1 - self.y0;
        if w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite() {
            w * h
        } else {
            0.0
        }
    }

    fn intersect(&self, o: &Rect) -> Rect {
        Rect {
            x0: self.x0.max(o.x0),
            y0: self.y0.max(o.y0),
            x1: self.x1.min(o.x1),
            y1: self.y1.min(o.y1),
        }
    }
}

/// The part of the page a viewer shows: crop box ∩ media box, falling back to the media box.
fn visible_box(page: &Page<'_>) -> Rect {
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
fn unit_square_bbox(ctm: Affine) -> Rect {
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
fn coverage(ctm: Affine, page_box: &Rect) -> f64 {
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
enum Dir {
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
fn display_axes(ctm: Affine, rotation: Rotation) -> (Dir, Dir) {
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
fn orient(img: GrayImage, col_dir: Dir, row_dir: Dir) -> GrayImage {
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

// ---------------------------------------------------------------------------------------------
// Finding the page image

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

enum Source<'a> {
    XObject {
        stream: Stream<'a>,
        resources: Resources<'a>,
    },
    /// Inline images live in a content buffer that does not outlive the walk, so the large
    /// ones are decoded as soon as they are met.
    Inline(PageResult<GrayImage>),
}

struct Placement<'a> {
    source: Source<'a>,
    ctm: Affine,
    coverage: f64,
    /// Identifies the image object, so one image drawn twice is not taken for two layers.
    id: Option<(u32, i32)>,
    /// The declared /Width and /Height, when valid: where its pixels land, for tiles.
    size: Option<(u32, u32)>,
}

/// The declared pixel size of an image dictionary, if both are positive and fit a `u32`.
fn declared_size(dict: &Dict<'_>, inline: bool) -> Option<(u32, u32)> {
    let d = ImageDict { dict, inline };
    let w = u32::try_from(d.uint(b"Width", b"W")?).ok()?;
    let h = u32::try_from(d.uint(b"Height", b"H")?).ok()?;
    (w > 0 && h > 0).then_some((w, h))
}

struct Walk<'a, 'l> {
    limits: &'l Limits,
    page_box: Rect,
    operators: usize,
    content_bytes: usize,
    placements: Vec<Placement<'a>>,
    /// Whether anything besides images is painted (paths, text, shadings) — for the message.
    other_marks: bool,
}

impl<'a, 'l> Walk<'a, 'l> {
    fn new(limits: &'l Limits, page_box: Rect) -> Self {
        Walk {
            limits,
            page_box,
            operators: 0,
            content_bytes: 0,
            placements: Vec::new(),
            other_marks: false,
        }
    }

    fn run(
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

    fn push(&mut self, p: Placement<'a>) -> PageResult<()> {
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
fn page_content(page: &Page<'_>, limits: &Limits) -> PageResult<Vec<u8>> {
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
enum Choice {
    /// One image: an index into the walk's placements.
    One(usize),
    /// Several images drawn side by side (tiles or bands), put together.
    Tiles(TileGrid),
}

/// The placement that is the page's scan, or the tiles it is drawn from.
fn choose_image(walk: &Walk<'_, '_>) -> PageResult<Choice> {
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

// ---------------------------------------------------------------------------------------------
// Tiles
//
// tiff2pdf writes a tiled TIFF as one image per tile, Ghostscript and cairo keep those tiles,
// and some scanners write a page as bands: the page content then draws many images side by
// side. They are put back together when they are drawn at one scale and turn and their
// placements, in pixels, form a complete grid; anything else (overlaps, gaps, mixed scales or
// turns) is refused rather than guessed at.

/// One tile: which placement, and where its top-left pixel lands in the assembled image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tile {
    index: usize,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

#[derive(Debug)]
struct TileGrid {
    tiles: Vec<Tile>,
    width: u32,
    height: u32,
    /// Places the assembled image on the page as an image's CTM would (unit square).
    ctm: Affine,
    coverage: f64,
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
struct Tiling {
    /// Placement indices, the largest image's included.
    alike: Vec<usize>,
    grid: Result<TileGrid, String>,
}

/// The images on the page that are drawn alike with the largest one, laid out as a grid.
/// `None` when there is nothing to put together (fewer than two sized images on the page).
fn tile_grid(placements: &[Placement<'_>], page_box: &Rect) -> Option<Tiling> {
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
fn assemble(
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

// ---------------------------------------------------------------------------------------------
// Image dictionaries

/// Looks up image dictionary keys, including the abbreviations of inline images.
struct ImageDict<'d, 'a> {
    dict: &'d Dict<'a>,
    inline: bool,
}

impl<'a> ImageDict<'_, 'a> {
    fn obj(&self, long: &[u8], short: &[u8]) -> Option<Object<'a>> {
        self.dict.get::<Object<'a>>(long).or_else(|| {
            if self.inline {
                self.dict.get::<Object<'a>>(short)
            } else {
                None
            }
        })
    }

    fn uint(&self, long: &[u8], short: &[u8]) -> Option<u64> {
        match self.obj(long, short)? {
            Object::Number(n) => {
                let v = n.as_f64();
                (v.is_finite() && v >= 0.0).then_some(v.round() as u64)
            }
            _ => None,
        }
    }

    fn flag(&self, long: &[u8], short: &[u8]) -> bool {
        matches!(self.obj(long, short), Some(Object::Boolean(true)))
    }

    fn decode_array(&self) -> Option<Vec<f64>> {
        match self.obj(b"Decode", b"D")? {
            Object::Array(a) => {
                let v: Vec<f64> = a.iter::<f64>().collect();
                v.iter().all(|x| x.is_finite()).then_some(v)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterKind {
    AsciiHex,
    Ascii85,
    Lzw,
    Flate,
    RunLength,
    Dct,
    Ccitt,
    Jbig2,
    Jpx,
    Crypt,
}

impl FilterKind {
    fn from_name(name: &[u8]) -> Option<FilterKind> {
        Some(match name {
            b"ASCIIHexDecode" | b"AHx" => FilterKind::AsciiHex,
            b"ASCII85Decode" | b"A85" => FilterKind::Ascii85,
            b"LZWDecode" | b"LZW" => FilterKind::Lzw,
            b"FlateDecode" | b"Fl" => FilterKind::Flate,
            b"RunLengthDecode" | b"RL" => FilterKind::RunLength,
            b"DCTDecode" | b"DCT" => FilterKind::Dct,
            b"CCITTFaxDecode" | b"CCF" => FilterKind::Ccitt,
            b"JBIG2Decode" => FilterKind::Jbig2,
            b"JPXDecode" => FilterKind::Jpx,
            b"Crypt" => FilterKind::Crypt,
            _ => return None,
        })
    }

    fn is_image_codec(self) -> bool {
        matches!(
            self,
            FilterKind::Dct | FilterKind::Ccitt | FilterKind::Jbig2 | FilterKind::Jpx
        )
    }
}

type FilterChain<'a> = Vec<(FilterKind, Dict<'a>)>;

/// The stream's filters with their parameters, in decoding order. `Crypt` is dropped: hayro
/// already decrypts stream data.
fn filter_chain<'a>(dict: &Dict<'a>, inline: bool) -> PageResult<FilterChain<'a>> {
    let d = ImageDict { dict, inline };
    if !inline && dict.contains_key(b"F") {
        return Err(unsupported("stream data kept in an external file"));
    }
    let param_at = |i: usize| -> Dict<'a> {
        match d.obj(b"DecodeParms", b"DP") {
            Some(Object::Dict(p)) if i == 0 => p,
            Some(Object::Array(a)) => a
                .iter::<Object<'a>>()
                .nth(i)
                .and_then(|o| o.into_dict())
                .unwrap_or_default(),
            _ => Dict::default(),
        }
    };
    let names: Vec<Name<'a>> = match d.obj(b"Filter", b"F") {
        None | Some(Object::Null(_)) => Vec::new(),
        Some(Object::Name(n)) => vec![n],
        Some(Object::Array(a)) => {
            let names: Vec<Name<'a>> = a.iter::<Name<'a>>().collect();
            if names.len() != a.iter::<Object<'a>>().count() {
                return Err(decode_err("/Filter array holds something other than names"));
            }
            names
        }
        Some(_) => return Err(decode_err("/Filter is neither a name nor an array")),
    };
    let mut chain = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let kind = FilterKind::from_name(name)
            .ok_or_else(|| unsupported(format!("/{} filter", name.as_str())))?;
        if kind != FilterKind::Crypt {
            chain.push((kind, param_at(i)));
        }
    }
    Ok(chain)
}

/// Decodes a non-image stream (content, form, palette, JBIG2 globals) within the stream limit.
fn decode_stream<'a>(stream: &Stream<'a>, limits: &Limits) -> Result<Cow<'a, [u8]>, String> {
    let chain = filter_chain(stream.dict(), false).map_err(|e| e.to_string())?;
    if chain.iter().any(|(k, _)| k.is_image_codec()) {
        return Err("an image codec filter on a non-image stream".into());
    }
    let raw = stream.raw_data();
    apply_chain(raw, &chain, limits.max_content_bytes, None)
}

/// Runs the general-purpose filters of `chain` over `data`. Every output is bounded by
/// `max_bytes`, except that the last one may stop early at `final_need` bytes (all an image
/// needs) without that counting as an error.
fn apply_chain<'a>(
    data: Cow<'a, [u8]>,
    chain: &[(FilterKind, Dict<'_>)],
    max_bytes: usize,
    final_need: Option<usize>,
) -> Result<Cow<'a, [u8]>, String> {
    let mut data = data;
    for (i, (kind, params)) in chain.iter().enumerate() {
        let last = i + 1 == chain.len();
        let need = if last { final_need } else { None };
        let cap = need.map_or(max_bytes, |n| n.min(max_bytes));
        let (out, more) = apply_filter(*kind, &data, params, cap)?;
        if more && need.is_none_or(|n| n > max_bytes) {
            return Err(format!(
                "a stream decodes to more than the {max_bytes}-byte limit"
            ));
        }
        data = Cow::Owned(out);
    }
    Ok(data)
}

/// Applies one general filter, producing at most `cap` bytes; the flag says whether the input
/// held more.
fn apply_filter(
    kind: FilterKind,
    data: &[u8],
    params: &Dict<'_>,
    cap: usize,
) -> Result<(Vec<u8>, bool), String> {
    match kind {
        FilterKind::AsciiHex => capped(ascii_hex(data)?, cap),
        FilterKind::Ascii85 => capped(ascii85(data)?, cap),
        FilterKind::RunLength => run_length(data, cap),
        FilterKind::Flate | FilterKind::Lzw => {
            let pred = Predictor::from_params(params)?;
            let raw_cap = pred.encoded_len(cap);
            let (raw, more) = if kind == FilterKind::Flate {
                inflate(data, raw_cap)?
            } else {
                let early = params.get::<i64>(b"EarlyChange").unwrap_or(1) != 0;
                lzw(data, early, raw_cap)?
            };
            let mut out = pred.apply(raw)?;
            let more = more || out.len() > cap;
            out.truncate(cap);
            Ok((out, more))
        }
        FilterKind::Crypt => capped(data.to_vec(), cap),
        FilterKind::Dct | FilterKind::Ccitt | FilterKind::Jbig2 | FilterKind::Jpx => {
            Err("an image codec filter before the end of the filter chain".into())
        }
    }
}

fn capped(mut v: Vec<u8>, cap: usize) -> Result<(Vec<u8>, bool), String> {
    let more = v.len() > cap;
    v.truncate(cap);
    Ok((v, more))
}

// ---------------------------------------------------------------------------------------------
// General filters

/// Inflates zlib (or, for broken writers, raw deflate) data. A stream cut short yields what it
/// holds; the image decoder then reports missing rows.
fn inflate(data: &[u8], cap: usize) -> Result<(Vec<u8>, bool), String> {
    // An empty stream holds nothing (qpdf writes a blank page's content that way when it
    // turns the page into a form XObject); zlib would call it cut short.
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok((Vec::new(), false));
    }
    fn run<R: Read>(reader: R, cap: usize) -> (Vec<u8>, bool, bool) {
        let mut out = Vec::new();
        let limit = (cap as u64).saturating_add(1);
        let ok = reader.take(limit).read_to_end(&mut out).is_ok();
        let more = out.len() > cap;
        out.truncate(cap);
        (out, more, ok)
    }
    let (out, more, ok) = run(flate2::read::ZlibDecoder::new(data), cap);
    if ok || !out.is_empty() {
        return Ok((out, more));
    }
    let (out, more, ok) = run(flate2::read::DeflateDecoder::new(data), cap);
    if ok || !out.is_empty() {
        Ok((out, more))
    } else {
        Err("corrupt Flate data".into())
    }
}

fn lzw(data: &[u8], early_change: bool, cap: usize) -> Result<(Vec<u8>, bool), String> {
    use weezl::{decode::Decoder, BitOrder, LzwStatus};
    let mut dec = if early_change {
        Decoder::with_tiff_size_switch(BitOrder::Msb, 8)
    } else {
        Decoder::new(BitOrder::Msb, 8)
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut input = data;
    loop {
        let r = dec.decode_bytes(input, &mut buf);
        input = input.get(r.consumed_in..).unwrap_or(&[]);
        out.extend_from_slice(buf.get(..r.consumed_out).unwrap_or(&[]));
        if out.len() > cap {
            out.truncate(cap);
            return Ok((out, true));
        }
        match r.status {
            Ok(LzwStatus::Ok) if r.consumed_in > 0 || r.consumed_out > 0 => {}
            Ok(_) => break,
            // Broken data: keep what decoded, as for Flate.
            Err(e) if out.is_empty() => return Err(format!("corrupt LZW data: {e}")),
            Err(_) => break,
        }
    }
    Ok((out, false))
}

fn run_length(data: &[u8], cap: usize) -> Result<(Vec<u8>, bool), String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&n) = data.get(i) {
        if n == 128 {
            break;
        }
        if n < 128 {
            let len = n as usize + 1;
            let lit = data
                .get(i + 1..i + 1 + len)
                .ok_or("RunLength data ends inside a literal run")?;
            out.extend_from_slice(lit);
            i += 1 + len;
        } else {
            let &b = data
                .get(i + 1)
                .ok_or("RunLength data ends inside a repeat run")?;
            out.resize(out.len() + (257 - n as usize), b);
            i += 2;
        }
        if out.len() > cap {
            out.truncate(cap);
            return Ok((out, true));
        }
    }
    Ok((out, false))
}

fn ascii_hex(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len() / 2);
    let mut hi: Option<u8> = None;
    for &c in data {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'>' => break,
            c if c.is_ascii_whitespace() || c == 0 => continue,
            _ => return Err("invalid character in ASCIIHex data".into()),
        };
        match hi.take() {
            Some(h) => out.push(h << 4 | v),
            None => hi = Some(v),
        }
    }
    if let Some(h) = hi {
        out.push(h << 4);
    }
    Ok(out)
}

fn ascii85(data: &[u8]) -> Result<Vec<u8>, String> {
    let data = data.strip_prefix(b"<~").unwrap_or(data);
    let mut out = Vec::with_capacity(data.len() / 5 * 4 + 4);
    let mut group = [0u8; 5];
    let mut n = 0;
    let mut i = 0;
    while let Some(&c) = data.get(i) {
        i += 1;
        match c {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = c - b'!';
                n += 1;
                if n == 5 {
                    out.extend_from_slice(&a85_word(&group)?);
                    n = 0;
                }
            }
            c if c.is_ascii_whitespace() || c == 0 => {}
            _ => return Err("invalid character in ASCII85 data".into()),
        }
    }
    if n == 1 {
        return Err("ASCII85 data ends with a lone character".into());
    }
    if n > 1 {
        for g in group.iter_mut().skip(n) {
            *g = b'u' - b'!';
        }
        let word = a85_word(&group)?;
        out.extend_from_slice(word.get(..n - 1).unwrap_or(&[]));
    }
    Ok(out)
}

fn a85_word(group: &[u8; 5]) -> Result<[u8; 4], String> {
    let v = group.iter().fold(0u64, |acc, &d| acc * 85 + u64::from(d));
    u32::try_from(v)
        .map(u32::to_be_bytes)
        .map_err(|_| "ASCII85 group out of range".to_string())
}

/// The /Predictor of Flate and LZW streams.
struct Predictor {
    kind: i64,
    /// Bytes per decoded row.
    row_bytes: usize,
    /// Bytes per pixel, at least 1 (the PNG filters' left neighbour distance).
    bpp: usize,
    bits_per_component: u32,
}

impl Predictor {
    fn from_params(params: &Dict<'_>) -> Result<Predictor, String> {
        let kind = params.get::<i64>(b"Predictor").unwrap_or(1);
        let colors = params.get::<u32>(b"Colors").unwrap_or(1).clamp(1, 32);
        let bpc = params.get::<u32>(b"BitsPerComponent").unwrap_or(8);
        let columns = params.get::<u32>(b"Columns").unwrap_or(1).max(1);
        if kind > 1 && ![1, 2, 4, 8, 16].contains(&bpc) {
            return Err(format!("predictor with {bpc} bits per component"));
        }
        let bits_per_pixel = u64::from(colors) * u64::from(bpc);
        let row_bytes = usize::try_from((bits_per_pixel * u64::from(columns)).div_ceil(8))
            .map_err(|_| "predictor row too long".to_string())?;
        Ok(Predictor {
            kind,
            row_bytes,
            bpp: (bits_per_pixel.div_ceil(8) as usize).max(1),
            bits_per_component: bpc,
        })
    }

    fn is_png(&self) -> bool {
        self.kind >= 10
    }

    /// Encoded bytes needed for `decoded` output bytes (PNG rows carry a filter-type byte).
    fn encoded_len(&self, decoded: usize) -> usize {
        if self.is_png() && self.row_bytes > 0 {
            let rows = decoded.div_ceil(self.row_bytes);
            rows.saturating_mul(self.row_bytes + 1)
        } else {
            decoded
        }
    }

    fn apply(&self, data: Vec<u8>) -> Result<Vec<u8>, String> {
        match self.kind {
            ..=1 => Ok(data),
            2 => self.tiff(data),
            10.. => self.png(&data),
            k => Err(format!("unknown predictor {k}")),
        }
    }

    fn tiff(&self, mut data: Vec<u8>) -> Result<Vec<u8>, String> {
        let rb = self.row_bytes;
        if rb == 0 {
            return Ok(data);
        }
        match self.bits_per_component {
            8 => {
                for row in data.chunks_mut(rb) {
                    for i in self.bpp..row.len() {
                        row[i] = row[i].wrapping_add(row[i - self.bpp]);
                    }
                }
            }
            16 => {
                for row in data.chunks_mut(rb) {
                    let mut i = self.bpp;
                    while i + 1 < row.len() {
                        let prev = u16::from_be_bytes([row[i - self.bpp], row[i + 1 - self.bpp]]);
                        let cur = u16::from_be_bytes([row[i], row[i + 1]]);
                        let [a, b] = cur.wrapping_add(prev).to_be_bytes();
                        row[i] = a;
                        row[i + 1] = b;
                        i += 2;
                    }
                }
            }
            bpc => return Err(format!("TIFF predictor with {bpc} bits per component")),
        }
        Ok(data)
    }

    fn png(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let rb = self.row_bytes;
        let bpp = self.bpp;
        let rows = data.len() / (rb + 1);
        let mut out = vec![0u8; rows.checked_mul(rb).ok_or("predictor output too large")?];
        let mut prev_start: Option<usize> = None;
        for (r, chunk) in data.chunks_exact(rb + 1).enumerate() {
            let (&filter, src) = chunk.split_first().ok_or("empty predictor row")?;
            let start = r * rb;
            let (before, rest) = out.split_at_mut(start);
            let cur = &mut rest[..rb];
            let prev: Option<&[u8]> = prev_start.map(|p| &before[p..p + rb]);
            match filter {
                0 => cur.copy_from_slice(src),
                1 => {
                    for i in 0..rb {
                        let left = if i >= bpp { cur[i - bpp] } else { 0 };
                        cur[i] = src[i].wrapping_add(left);
                    }
                }
                2 => match prev {
                    Some(p) => {
                        for i in 0..rb {
                            cur[i] = src[i].wrapping_add(p[i]);
                        }
                    }
                    None => cur.copy_from_slice(src),
                },
                3 => {
                    for i in 0..rb {
                        let left = if i >= bpp { cur[i - bpp] as u16 } else { 0 };
                        let up = prev.map_or(0, |p| p[i] as u16);
                        cur[i] = src[i].wrapping_add(((left + up) / 2) as u8);
                    }
                }
                4 => {
                    for i in 0..rb {
                        let left = if i >= bpp { cur[i - bpp] } else { 0 };
                        let up = prev.map_or(0, |p| p[i]);
                        let up_left = match prev {
                            Some(p) if i >= bpp => p[i - bpp],
                            _ => 0,
                        };
                        cur[i] = src[i].wrapping_add(paeth(left, up, up_left));
                    }
                }
                f => return Err(format!("unknown PNG predictor row filter {f}")),
            }
            prev_start = Some(start);
        }
        Ok(out)
    }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let pa = (p - a as i16).abs();
    let pb = (p - b as i16).abs();
    let pc = (p - c as i16).abs();
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

// ---------------------------------------------------------------------------------------------
// Colour

/// An image colour space, reduced to what gray conversion needs.
#[derive(Debug, Clone, PartialEq)]
enum Colour {
    Gray,
    Rgb,
    Cmyk,
    /// Palette already converted to gray, one entry per index.
    Indexed(Vec<u8>),
}

impl Colour {
    fn components(&self) -> usize {
        match self {
            Colour::Gray | Colour::Indexed(_) => 1,
            Colour::Rgb => 3,
            Colour::Cmyk => 4,
        }
    }

    /// Gray of one colour given as 0–255 component values.
    fn gray_of(&self, comps: &[u8]) -> u8 {
        match (self, comps) {
            (Colour::Rgb, [r, g, b, ..]) => luma(*r, *g, *b),
            (Colour::Cmyk, [c, m, y, k, ..]) => cmyk_gray(*c, *m, *y, *k),
            (Colour::Indexed(p), [i, ..]) => p.get(*i as usize).copied().unwrap_or(0),
            (_, [g, ..]) => *g,
            _ => 0,
        }
    }
}

/// Rec. 601 luma, the same weights a JPEG's Y channel uses.
#[inline]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((19595 * r as u32 + 38470 * g as u32 + 7471 * b as u32 + 32768) >> 16) as u8
}

/// Naive CMYK → RGB ((1−c)(1−k) …) then luma; no ICC profile, which is plenty for gray marks.
#[inline]
fn cmyk_gray(c: u8, m: u8, y: u8, k: u8) -> u8 {
    let kk = 255 - k as u32;
    let ch = |v: u8| ((255 - v as u32) * kk / 255) as u8;
    luma(ch(c), ch(m), ch(y))
}

fn parse_colour(
    obj: Object<'_>,
    resources: &Resources<'_>,
    limits: &Limits,
    depth: usize,
) -> PageResult<Colour> {
    if depth > 4 {
        return Err(decode_err("colour space nested too deeply"));
    }
    match obj {
        Object::Name(n) => match &*n {
            b"DeviceGray" | b"G" | b"CalGray" => Ok(Colour::Gray),
            b"DeviceRGB" | b"RGB" | b"CalRGB" => Ok(Colour::Rgb),
            b"DeviceCMYK" | b"CMYK" => Ok(Colour::Cmyk),
            b"Pattern" | b"Lab" | b"Separation" | b"DeviceN" | b"Indexed" | b"I" => {
                Err(unsupported(format!("/{} colour space", n.as_str())))
            }
            // Strictly only inline images may name a resource, but writers do it anyway.
            _ => match resources.get_color_space(&n) {
                Some(o) => parse_colour(o, resources, limits, depth + 1),
                None => Err(decode_err(format!("unknown colour space /{}", n.as_str()))),
            },
        },
        Object::Array(arr) => {
            let mut items = arr.iter::<Object<'_>>();
            let family = match items.next() {
                Some(Object::Name(n)) => n,
                _ => return Err(decode_err("colour space array without a family name")),
            };
            match &*family {
                b"ICCBased" => {
                    let stream = match items.next() {
                        Some(Object::Stream(s)) => s,
                        _ => return Err(decode_err("ICCBased colour space without a profile")),
                    };
                    match stream.dict().get::<u32>(b"N") {
                        Some(1) => Ok(Colour::Gray),
                        Some(3) => Ok(Colour::Rgb),
                        Some(4) => Ok(Colour::Cmyk),
                        n => match stream.dict().get::<Object<'_>>(b"Alternate") {
                            Some(alt) => parse_colour(alt, resources, limits, depth + 1),
                            None => {
                                Err(unsupported(format!("ICCBased colour space with /N {n:?}")))
                            }
                        },
                    }
                }
                b"CalGray" | b"DeviceGray" | b"G" => Ok(Colour::Gray),
                b"CalRGB" | b"DeviceRGB" | b"RGB" => Ok(Colour::Rgb),
                b"DeviceCMYK" | b"CMYK" => Ok(Colour::Cmyk),
                b"Indexed" | b"I" => {
                    let base = items
                        .next()
                        .ok_or_else(|| decode_err("Indexed colour space without a base"))?;
                    let base = parse_colour(base, resources, limits, depth + 1)?;
                    if matches!(base, Colour::Indexed(_)) {
                        return Err(decode_err("Indexed colour space over Indexed"));
                    }
                    let hival = match items.next() {
                        Some(Object::Number(n)) => n.as_f64(),
                        _ => return Err(decode_err("Indexed colour space without /hival")),
                    };
                    if !(0.0..=255.0).contains(&hival) {
                        return Err(decode_err("Indexed colour space /hival out of range"));
                    }
                    let entries = hival as usize + 1;
                    let lookup: Vec<u8> = match items.next() {
                        Some(Object::String(s)) => s.as_bytes().to_vec(),
                        Some(Object::Stream(s)) => decode_stream(&s, limits)
                            .map_err(|e| decode_err(format!("Indexed lookup table: {e}")))?
                            .into_owned(),
                        _ => return Err(decode_err("Indexed colour space without a lookup table")),
                    };
                    let n = base.components();
                    // Short tables are padded with black, as other readers do.
                    let palette = (0..entries)
                        .map(|i| {
                            let mut comps = [0u8; 4];
                            for (j, c) in comps.iter_mut().enumerate().take(n) {
                                *c = lookup.get(i * n + j).copied().unwrap_or(0);
                            }
                            base.gray_of(&comps)
                        })
                        .collect();
                    Ok(Colour::Indexed(palette))
                }
                other => Err(unsupported(format!(
                    "/{} colour space",
                    String::from_utf8_lossy(other)
                ))),
            }
        }
        _ => Err(decode_err("/ColorSpace is neither a name nor an array")),
    }
}

/// Per-sample lookup tables from raw sample values (after /Decode) to 0–255 component values
/// (or, for one-component images, straight to gray).
struct SampleMap {
    /// One table per component, indexed by the sample value (the high byte for 16-bit samples).
    luts: Vec<[u8; 256]>,
    colour: Colour,
}

impl SampleMap {
    /// `bpc` is the sample depth in the data (16-bit samples are looked up by their high byte).
    fn new(colour: Colour, bpc: u32, decode: Option<&[f64]>, image_mask: bool) -> SampleMap {
        let n = colour.components();
        let (bits, max) = if bpc >= 16 {
            (8, 255.0)
        } else {
            (bpc, ((1u32 << bpc) - 1) as f64)
        };
        let count = 1usize << bits;
        let mut luts = vec![[0u8; 256]; n];
        for (ci, lut) in luts.iter_mut().enumerate() {
            let default = match &colour {
                Colour::Indexed(_) => (0.0, max),
                _ => (0.0, 1.0),
            };
            let (dmin, dmax) = decode
                .and_then(|d| Some((*d.get(2 * ci)?, *d.get(2 * ci + 1)?)))
                .unwrap_or(default);
            for (s, slot) in lut.iter_mut().enumerate().take(count) {
                let t = s as f64 / max;
                let v = dmin + t * (dmax - dmin);
                *slot = if image_mask {
                    // Stencil masks paint (black ink) where the decoded sample is 0.
                    if v < 0.5 {
                        0
                    } else {
                        255
                    }
                } else {
                    match &colour {
                        Colour::Indexed(p) => {
                            let idx = v.round().clamp(0.0, 255.0) as usize;
                            p.get(idx).or(p.last()).copied().unwrap_or(0)
                        }
                        _ => (v.clamp(0.0, 1.0) * 255.0).round() as u8,
                    }
                };
            }
        }
        SampleMap { luts, colour }
    }

    fn is_single(&self) -> bool {
        self.luts.len() == 1
    }

    fn gray(&self, samples: &[u8]) -> u8 {
        let mut comps = [0u8; 4];
        for ((c, lut), &s) in comps.iter_mut().zip(&self.luts).zip(samples) {
            *c = lut[s as usize];
        }
        match self.colour {
            Colour::Indexed(_) | Colour::Gray => comps[0],
            _ => self.colour.gray_of(&comps),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Image decoding

fn check_pixels(width: u64, height: u64, limits: &Limits) -> PageResult<usize> {
    let too_large = PdfPageError::TooLarge { width, height };
    let pixels = width.checked_mul(height).ok_or(too_large)?;
    if pixels > limits.max_pixels || width > u32::MAX as u64 || height > u32::MAX as u64 {
        return Err(PdfPageError::TooLarge { width, height });
    }
    usize::try_from(pixels).map_err(|_| PdfPageError::TooLarge { width, height })
}

fn decode_image(
    stream: &Stream<'_>,
    resources: &Resources<'_>,
    inline: bool,
    limits: &Limits,
) -> PageResult<GrayImage> {
    let dict = stream.dict();
    let d = ImageDict { dict, inline };
    let width = d.uint(b"Width", b"W").unwrap_or(0);
    let height = d.uint(b"Height", b"H").unwrap_or(0);
    if width == 0 || height == 0 {
        return Err(decode_err("image without a valid /Width and /Height"));
    }
    // Before anything is allocated or decompressed.
    check_pixels(width, height, limits)?;
    let (w, h) = (width as u32, height as u32);

    let image_mask = d.flag(b"ImageMask", b"IM");
    let mut chain = filter_chain(dict, inline)?;
    let codec = match chain.last() {
        Some((k, _)) if k.is_image_codec() => chain.pop(),
        _ => None,
    };
    if let Some((k, _)) = chain.iter().find(|(k, _)| k.is_image_codec()) {
        return Err(unsupported(format!(
            "{k:?} image codec followed by another filter"
        )));
    }
    let decode = d.decode_array();

    // Colour: stencil masks and bi-level codecs need none; JPEG can tell its own.
    let colour = if image_mask {
        Colour::Gray
    } else {
        match d.obj(b"ColorSpace", b"CS") {
            Some(o) => parse_colour(o, resources, limits, 0)?,
            // Optional for JPEG (which carries its own) and bi-level codecs; elsewhere a
            // missing colour space is taken as gray, as lenient viewers do.
            None => Colour::Gray,
        }
    };
    let bpc = if image_mask {
        1
    } else {
        d.uint(b"BitsPerComponent", b"BPC").unwrap_or(8)
    };

    match codec {
        Some((FilterKind::Dct, _)) => {
            let data = apply_chain(stream.raw_data(), &chain, limits.max_stream_bytes, None)
                .map_err(decode_err)?;
            let repaired = join_tiff2pdf_jpeg(&data);
            let data = repaired.as_deref().unwrap_or(&data);
            let img = decode_jpeg(data, &colour, decode.as_deref(), limits)?;
            // tiff2pdf passes a JPEG-compressed TIFF's edge tiles through whole: the JPEG
            // holds the full tile, padding included, and /Width and /Height the part that
            // belongs to the page. Viewers differ on that; the page is the top-left part.
            if img.width() >= w && img.height() >= h && img.dimensions() != (w, h) {
                Ok(image::imageops::crop_imm(&img, 0, 0, w, h).to_image())
            } else {
                Ok(img)
            }
        }
        Some((FilterKind::Ccitt, params)) => {
            let data = apply_chain(stream.raw_data(), &chain, limits.max_stream_bytes, None)
                .map_err(decode_err)?;
            let map = SampleMap::new(colour, 1, decode.as_deref(), image_mask);
            decode_ccitt(&data, &params, w, h, &map)
        }
        Some((FilterKind::Jbig2, params)) => {
            let data = apply_chain(stream.raw_data(), &chain, limits.max_stream_bytes, None)
                .map_err(decode_err)?;
            let map = SampleMap::new(colour, 1, decode.as_deref(), image_mask);
            decode_jbig2(&data, &params, w, h, &map, limits)
        }
        Some((FilterKind::Jpx, _)) => {
            let data = apply_chain(stream.raw_data(), &chain, limits.max_stream_bytes, None)
                .map_err(decode_err)?;
            decode_jpx(&data, w, h, limits)
        }
        _ => {
            let bpc32 = u32::try_from(bpc).unwrap_or(0);
            if ![1, 2, 4, 8, 16].contains(&bpc32) {
                return Err(unsupported(format!("{bpc} bits per component")));
            }
            let n = colour.components() as u64;
            let row_bytes = (u64::from(w) * n * u64::from(bpc32)).div_ceil(8);
            let need = row_bytes
                .checked_mul(u64::from(h))
                .and_then(|v| usize::try_from(v).ok())
                .ok_or(PdfPageError::TooLarge { width, height })?;
            let data = apply_chain(
                stream.raw_data(),
                &chain,
                limits.max_stream_bytes,
                Some(need),
            )
            .map_err(decode_err)?;
            if data.len() < need {
                return Err(decode_err(format!(
                    "image data is truncated: {} of {} bytes",
                    data.len(),
                    need
                )));
            }
            let map = SampleMap::new(colour, bpc32, decode.as_deref(), image_mask);
            unpack_samples(&data, w, h, bpc32, row_bytes as usize, &map)
        }
    }
}

/// Converts uncompressed samples to gray. Fast paths for the layouts scanners write.
fn unpack_samples(
    data: &[u8],
    w: u32,
    h: u32,
    bpc: u32,
    row_bytes: usize,
    map: &SampleMap,
) -> PageResult<GrayImage> {
    let (wu, hu) = (w as usize, h as usize);
    let n = map.luts.len();
    let mut out = vec![0u8; wu * hu];
    let rows = data.chunks(row_bytes.max(1)).zip(out.chunks_exact_mut(wu));
    match (n, bpc) {
        (1, 8) => {
            let lut = &map.luts[0];
            for (src, dst) in rows {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = lut[*s as usize];
                }
            }
        }
        (1, 1) => {
            let lut = &map.luts[0];
            let (g0, g1) = (lut[0], lut[1]);
            for (src, dst) in rows {
                for (chunk, &byte) in dst.chunks_mut(8).zip(src) {
                    for (bit, d) in chunk.iter_mut().enumerate() {
                        *d = if byte & (0x80 >> bit) != 0 { g1 } else { g0 };
                    }
                }
            }
        }
        (3, 8) | (4, 8) => {
            for (src, dst) in rows {
                for (d, px) in dst.iter_mut().zip(src.chunks_exact(n)) {
                    *d = map.gray(px);
                }
            }
        }
        _ => {
            // Any depth, any component count: read sample by sample.
            let mut samples = [0u8; 4];
            for (src, dst) in rows {
                let mut bit = 0usize;
                for d in dst.iter_mut() {
                    for s in samples.iter_mut().take(n) {
                        *s = read_sample(src, bit, bpc);
                        bit += bpc as usize;
                    }
                    *d = if map.is_single() {
                        map.luts[0][samples[0] as usize]
                    } else {
                        map.gray(&samples[..n])
                    };
                }
            }
        }
    }
    GrayImage::from_raw(w, h, out).ok_or_else(|| decode_err("image buffer size mismatch"))
}

/// The sample at `bit` in a row: the value for depths up to 8, the high byte for 16.
#[inline]
fn read_sample(row: &[u8], bit: usize, bpc: u32) -> u8 {
    let byte = row.get(bit / 8).copied().unwrap_or(0);
    match bpc {
        8 | 16 => byte,
        _ => {
            let shift = 8 - bpc as usize - (bit % 8);
            (byte >> shift) & ((1u8 << bpc) - 1)
        }
    }
}

fn decode_jpeg(
    data: &[u8],
    colour: &Colour,
    decode: Option<&[f64]>,
    limits: &Limits,
) -> PageResult<GrayImage> {
    use super::jpeg::ColorSpace;

    let jpeg = super::jpeg::open(data, limits.max_pixels)?;
    let first_pair = decode.and_then(|d| Some((*d.first()?, *d.get(1)?)));
    let inverted = first_pair.is_some_and(|(a, b)| a > b);

    let gray = match jpeg.coded {
        ColorSpace::Luma | ColorSpace::YCbCr => {
            let mut px = jpeg.decode(ColorSpace::Luma)?;
            if inverted {
                px.iter_mut().for_each(|p| *p = 255 - *p);
            }
            px
        }
        ColorSpace::RGB | ColorSpace::YCCK => {
            // YCCK comes out as RGB already assuming Adobe's inverted CMYK; /Decode is ignored.
            let mut px: Vec<u8> = jpeg
                .decode(ColorSpace::RGB)?
                .chunks_exact(3)
                .map(|p| luma(p[0], p[1], p[2]))
                .collect();
            if inverted && jpeg.coded == ColorSpace::RGB {
                px.iter_mut().for_each(|p| *p = 255 - *p);
            }
            px
        }
        ColorSpace::CMYK => {
            // PDF reads DCT CMYK samples as ink amounts. Adobe (Photoshop) JPEGs store them
            // inverted, and writers such as img2pdf then add /Decode [1 0 1 0 1 0 1 0].
            let map = SampleMap::new(Colour::Cmyk, 8, decode, false);
            jpeg.decode(ColorSpace::CMYK)?
                .chunks_exact(4)
                .map(|p| map.gray(p))
                .collect()
        }
        other => {
            return Err(unsupported(format!(
                "JPEG with colour space {other:?} (PDF says {:?})",
                colour
            )))
        }
    };
    GrayImage::from_raw(jpeg.width, jpeg.height, gray)
        .ok_or_else(|| decode_err("JPEG buffer size mismatch"))
}

impl From<super::jpeg::JpegError> for PdfPageError {
    fn from(e: super::jpeg::JpegError) -> PdfPageError {
        match e {
            super::jpeg::JpegError::Truncated | super::jpeg::JpegError::Decode(_) => {
                PdfPageError::Decode(e.to_string())
            }
            super::jpeg::JpegError::TooLarge { width, height } => {
                PdfPageError::TooLarge { width, height }
            }
        }
    }
}

/// tiff2pdf (libtiff 4.5) passes a JPEG-compressed TIFF through by writing the TIFF's shared
/// JPEG tables, then each strip as stored: its start-of-image marker stays after the tables,
/// and between strips the strip's end-of-image and the next strip's start-of-image markers stay
/// in front of the restart marker tiff2pdf puts there. Decoders (and viewers, which then show a
/// blank page) stop at those stray markers. Without them the data is the one JPEG tiff2pdf
/// meant. Returns `None`, without copying, for data that does not start that way: the check
/// reads only the marker segments before the frame header.
fn join_tiff2pdf_jpeg(data: &[u8]) -> Option<Vec<u8>> {
    const SOI: [u8; 2] = [0xFF, 0xD8];
    if !data.starts_with(&SOI) {
        return None;
    }
    let mut i = 2;
    let stray = loop {
        let (&ff, &marker) = (data.get(i)?, data.get(i + 1)?);
        if ff != 0xFF {
            return None;
        }
        match marker {
            // Fill byte before a marker.
            0xFF => i += 1,
            0xD8 => break i,
            // A frame header or scan before any stray SOI: an ordinary JPEG.
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA | 0xD9 => return None,
            _ => {
                let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
                i += 2 + len;
            }
        }
    };
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(data.get(..stray)?);
    let rest = data.get(stray + 2..)?;
    let mut j = 0;
    while let Some(k) = rest
        .get(j..)?
        .windows(4)
        .position(|w| w == [0xFF, 0xD9, 0xFF, 0xD8])
    {
        let at = j + k;
        out.extend_from_slice(&rest[j..at]);
        // Only in front of a restart marker: anywhere else EOI SOI is left for the decoder.
        if !matches!(rest.get(at + 4..at + 6), Some([0xFF, 0xD0..=0xD7])) {
            out.extend_from_slice(&rest[at..at + 4]);
        }
        j = at + 4;
    }
    out.extend_from_slice(rest.get(j..)?);
    Some(out)
}

/// Writes CCITT rows straight into an 8-bit buffer.
pub(super) struct CcittSink {
    pub(super) out: Vec<u8>,
    pub(super) width: usize,
    /// Rows written so far; the next row goes to `out` at this row.
    pub(super) rows: usize,
    /// Rows past this one are dropped (a fax strip that holds more rows than it should).
    pub(super) max_rows: usize,
    pub(super) black: u8,
}

impl hayro_ccitt::Decoder for CcittSink {
    fn push_row(&mut self, changes: &[u32]) {
        if self.rows >= self.max_rows {
            return;
        }
        let start = self.rows * self.width;
        if let Some(row) = self.out.get_mut(start..start + self.width) {
            for span in changes.chunks(2) {
                let s = span.first().map_or(0, |&v| v as usize).min(self.width);
                let e = span
                    .get(1)
                    .map_or(self.width, |&v| v as usize)
                    .min(self.width);
                if let Some(run) = row.get_mut(s..e) {
                    run.fill(self.black);
                }
            }
        }
        self.rows += 1;
    }
}

fn decode_ccitt(
    data: &[u8],
    params: &Dict<'_>,
    w: u32,
    h: u32,
    map: &SampleMap,
) -> PageResult<GrayImage> {
    use hayro_ccitt::{DecodeSettings, DecoderContext, EncodingMode};
    let columns = params.get::<u32>(b"Columns").unwrap_or(w);
    if columns != w {
        return Err(decode_err(format!(
            "CCITT /Columns {columns} differs from the image /Width {w}"
        )));
    }
    let k = params.get::<i64>(b"K").unwrap_or(0);
    let black_is_1 = params.get::<bool>(b"BlackIs1").unwrap_or(false);
    let settings = DecodeSettings {
        columns: w,
        rows: h,
        end_of_block: params.get::<bool>(b"EndOfBlock").unwrap_or(true),
        end_of_line: params.get::<bool>(b"EndOfLine").unwrap_or(false),
        rows_are_byte_aligned: params.get::<bool>(b"EncodedByteAlign").unwrap_or(false),
        encoding: match k {
            ..0 => EncodingMode::Group4,
            0 => EncodingMode::Group3_1D,
            _ => EncodingMode::Group3_2D,
        },
        strict: false,
    };
    // CCITT codes runs of white and black; the sample value of a black pixel is 0 unless
    // /BlackIs1, and the sample then goes through the colour space, /Decode or /ImageMask.
    let lut = &map.luts[0];
    let (black, white) = if black_is_1 {
        (lut[1], lut[0])
    } else {
        (lut[0], lut[1])
    };
    let (wu, hu) = (w as usize, h as usize);
    let mut sink = CcittSink {
        out: vec![white; wu * hu],
        width: wu,
        rows: 0,
        max_rows: hu,
        black,
    };
    let mut ctx = DecoderContext::new(settings);
    let result = hayro_ccitt::decode(data, &mut sink, &mut ctx);
    if sink.rows < hu {
        // A short image would read as blank paper where rows are missing: refuse it.
        return Err(decode_err(match result {
            Err(e) => format!("CCITT data broken after {} of {} rows: {e}", sink.rows, hu),
            Ok(_) => format!("CCITT data ends after {} of {} rows", sink.rows, hu),
        }));
    }
    GrayImage::from_raw(w, h, sink.out).ok_or_else(|| decode_err("CCITT buffer size mismatch"))
}

/// Writes JBIG2 pixels straight into an 8-bit buffer.
struct Jbig2Sink {
    out: Vec<u8>,
    width: usize,
    row: usize,
    col: usize,
    black: u8,
}

impl hayro_jbig2::Decoder for Jbig2Sink {
    fn push_pixel(&mut self, black: bool) {
        if black && self.col < self.width {
            if let Some(p) = self.out.get_mut(self.row * self.width + self.col) {
                *p = self.black;
            }
        }
        self.col += 1;
    }

    fn push_pixel_chunk(&mut self, black: bool, chunk_count: u32) {
        let n = chunk_count as usize * 8;
        if black {
            let start = self.row * self.width + self.col.min(self.width);
            let end = self.row * self.width + (self.col + n).min(self.width);
            if let Some(run) = self.out.get_mut(start..end) {
                run.fill(self.black);
            }
        }
        self.col += n;
    }

    fn next_line(&mut self) {
        self.row += 1;
        self.col = 0;
    }
}

/// JPEG 2000, as some colour scanners and archiving tools write: the codestream carries its own
/// colour space (a PDF's /ColorSpace is optional for it and ignored here, as viewers do when
/// the codestream has one). Alpha, if any, is dropped.
fn decode_jpx(data: &[u8], w: u32, h: u32, limits: &Limits) -> PageResult<GrayImage> {
    use hayro_jpeg2000::{ColorSpace, DecodeSettings, DecoderContext, Image};
    let jpx_err = |e: hayro_jpeg2000::DecodeError| decode_err(format!("JPEG 2000: {e:?}"));
    let image = Image::new(data, &DecodeSettings::default()).map_err(jpx_err)?;
    let (jw, jh) = (image.width(), image.height());
    // The decoder holds every component as 32-bit floats: check before it allocates.
    check_pixels(u64::from(jw), u64::from(jh), limits)?;
    if (jw, jh) != (w, h) {
        return Err(decode_err(format!(
            "JPEG 2000 image is {jw}x{jh} but the image says {w}x{h}"
        )));
    }
    let colour = match image.color_space() {
        ColorSpace::Gray => Colour::Gray,
        ColorSpace::RGB => Colour::Rgb,
        ColorSpace::CMYK => Colour::Cmyk,
        ColorSpace::Unknown { num_channels } | ColorSpace::Icc { num_channels, .. } => {
            match num_channels {
                1 => Colour::Gray,
                3 => Colour::Rgb,
                4 => Colour::Cmyk,
                n => return Err(unsupported(format!("JPEG 2000 image with {n} channels"))),
            }
        }
    };
    let channels = colour.components() + usize::from(image.has_alpha());
    let mut ctx = DecoderContext::default();
    let decoded = image.decode(&mut ctx).map_err(jpx_err)?;
    let samples = decoded.data_u8();
    let pixels = w as usize * h as usize;
    if samples.len() != pixels * channels {
        return Err(decode_err(format!(
            "JPEG 2000 decoder returned {} samples for {pixels} pixels of {channels} channels",
            samples.len()
        )));
    }
    let out: Vec<u8> = samples
        .chunks_exact(channels)
        .map(|px| colour.gray_of(px))
        .collect();
    GrayImage::from_raw(w, h, out).ok_or_else(|| decode_err("image buffer size mismatch"))
}

fn decode_jbig2(
    data: &[u8],
    params: &Dict<'_>,
    w: u32,
    h: u32,
    map: &SampleMap,
    limits: &Limits,
) -> PageResult<GrayImage> {
    let settings = hayro_jbig2::DecodeSettings { strict: false };
    let globals_data = match params.get::<Stream<'_>>(b"JBIG2Globals") {
        Some(s) => {
            Some(decode_stream(&s, limits).map_err(|e| decode_err(format!("JBIG2 globals: {e}")))?)
        }
        None => None,
    };
    let globals = match &globals_data {
        Some(g) => Some(
            hayro_jbig2::Globals::new(g, &settings)
                .map_err(|e| decode_err(format!("JBIG2 globals: {e:?}")))?,
        ),
        None => None,
    };
    let page = hayro_jbig2::Page::new_embedded(data, globals.as_ref(), &settings)
        .map_err(|e| decode_err(format!("JBIG2: {e:?}")))?;
    let (pw, ph) = (page.width(), page.height());
    check_pixels(u64::from(pw), u64::from(ph), limits)?;
    if (pw, ph) != (w, h) {
        return Err(decode_err(format!(
            "JBIG2 page is {pw}x{ph} but the image says {w}x{h}"
        )));
    }
    // JBIG2 black pixels are sample value 0 in PDF's DeviceGray (and "paint" for masks).
    let lut = &map.luts[0];
    let (black, white) = (lut[0], lut[1]);
    let mut sink = Jbig2Sink {
        out: vec![white; w as usize * h as usize],
        width: w as usize,
        row: 0,
        col: 0,
        black,
    };
    page.decode(&mut sink)
        .map_err(|e| decode_err(format!("JBIG2: {e:?}")))?;
    GrayImage::from_raw(w, h, sink.out).ok_or_else(|| decode_err("JBIG2 buffer size mismatch"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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

    #[test]
    fn png_predictors_round_trip() {
        // Two rows of 3 one-byte pixels: row 0 with Sub, row 1 with Paeth.
        let pred = Predictor {
            kind: 15,
            row_bytes: 3,
            bpp: 1,
            bits_per_component: 8,
        };
        let encoded = [1, 10, 5, 5, 4, 1, 1, 1];
        let out = pred.png(&encoded).unwrap();
        assert_eq!(out, vec![10, 15, 20, 11, 16, 21]);
    }

    #[test]
    fn tiff_predictor_accumulates() {
        let pred = Predictor {
            kind: 2,
            row_bytes: 4,
            bpp: 1,
            bits_per_component: 8,
        };
        assert_eq!(
            pred.tiff(vec![1, 1, 1, 1, 5, 255, 1, 0]).unwrap(),
            vec![1, 2, 3, 4, 5, 4, 5, 5]
        );
    }

    #[test]
    fn ascii_filters_decode() {
        assert_eq!(ascii_hex(b"48 65 6C6c 6>").unwrap(), b"Hel\x6c\x60");
        assert_eq!(ascii85(b"<~87cURD]i,\"Ebo80~>").unwrap(), b"Hello World!");
        assert_eq!(ascii85(b"z~>").unwrap(), vec![0; 4]);
        assert!(ascii85(b"!~>").is_err());
        assert!(ascii_hex(b"4G").is_err());
    }

    #[test]
    fn run_length_decodes_and_caps() {
        let data = [2, b'a', b'b', b'c', 254, b'x', 128];
        assert_eq!(run_length(&data, 100).unwrap(), (b"abcxxx".to_vec(), false));
        assert_eq!(run_length(&data, 4).unwrap(), (b"abcx".to_vec(), true));
    }

    #[test]
    fn inflate_is_bounded() {
        use std::io::Write;
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        let (out, more) = inflate(&bomb, 1000).unwrap();
        assert_eq!((out.len(), more), (1000, true));
        let (out, more) = inflate(&bomb, 2 << 20).unwrap();
        assert_eq!((out.len(), more), (1 << 20, false));
    }

    #[test]
    fn sample_map_honours_decode_and_masks() {
        let gray = SampleMap::new(Colour::Gray, 1, None, false);
        assert_eq!((gray.luts[0][0], gray.luts[0][1]), (0, 255));
        let inverted = SampleMap::new(Colour::Gray, 1, Some(&[1.0, 0.0]), false);
        assert_eq!((inverted.luts[0][0], inverted.luts[0][1]), (255, 0));
        let mask = SampleMap::new(Colour::Gray, 1, None, true);
        assert_eq!((mask.luts[0][0], mask.luts[0][1]), (0, 255));
        let mask_inv = SampleMap::new(Colour::Gray, 1, Some(&[1.0, 0.0]), true);
        assert_eq!((mask_inv.luts[0][0], mask_inv.luts[0][1]), (255, 0));
        let indexed = SampleMap::new(Colour::Indexed(vec![7, 9, 11]), 2, None, false);
        assert_eq!(&indexed.luts[0][..4], &[7, 9, 11, 11]);
        let four = SampleMap::new(Colour::Gray, 4, None, false);
        assert_eq!((four.luts[0][0], four.luts[0][15]), (0, 255));
    }

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

    #[test]
    fn tiff2pdf_jpeg_markers_are_dropped_only_where_tiff2pdf_puts_them() {
        let tables = [0xFF, 0xDB, 0x00, 0x03, 0x07];
        let frame = [0xFF, 0xC0, 0x00, 0x02];
        let scan = [0xFF, 0xDA, 0x00, 0x02, 0x11, 0xFF, 0x00];
        let glue = [0xFF, 0xD9, 0xFF, 0xD8, 0xFF, 0xD0];
        let eoi = [0xFF, 0xD9];
        let soi = [0xFF, 0xD8];
        let broken = [
            &soi[..],
            &tables,
            &soi,
            &frame,
            &scan,
            &glue,
            &[0x22],
            &eoi,
            &eoi,
        ]
        .concat();
        let fixed = [
            &soi[..],
            &tables,
            &frame,
            &scan,
            &[0xFF, 0xD0, 0x22],
            &eoi,
            &eoi,
        ]
        .concat();
        assert_eq!(join_tiff2pdf_jpeg(&broken), Some(fixed));
        // An ordinary JPEG is left alone (and not copied), even with EOI SOI inside.
        let plain = [&soi[..], &tables, &frame, &scan, &glue, &eoi].concat();
        assert_eq!(join_tiff2pdf_jpeg(&plain), None);
        assert_eq!(join_tiff2pdf_jpeg(&[0xFF, 0xD8, 0xFF]), None);
        assert_eq!(join_tiff2pdf_jpeg(b"not a jpeg"), None);
    }

    #[test]
    fn empty_flate_stream_is_empty() {
        assert_eq!(inflate(b"", 100).unwrap(), (Vec::new(), false));
        assert_eq!(inflate(b"\r\n", 100).unwrap(), (Vec::new(), false));
        // Data that is not Flate at all is still an error.
        assert!(inflate(&[0xFF; 8], 100).is_err());
    }

    #[test]
    fn too_large_is_refused_before_allocating() {
        let limits = Limits::default();
        assert!(matches!(
            check_pixels(100_000, 100_000, &limits),
            Err(PdfPageError::TooLarge {
                width: 100_000,
                height: 100_000
            })
        ));
        assert!(check_pixels(u64::MAX, 2, &limits).is_err());
        assert_eq!(check_pixels(1700, 2300, &limits).unwrap(), 1700 * 2300);
    }

    #[test]
    fn reason_codes_are_stable() {
        assert_eq!(PdfError::Encrypted.reason_code(), Reason::EncryptedPdf);
        assert_eq!(
            PdfError::Malformed(String::new()).reason_code(),
            Reason::BadPdf
        );
        assert_eq!(
            PdfPageError::NotAScannedPage(String::new()).reason_code(),
            Reason::NotAScannedPage
        );
        assert_eq!(
            PdfPageError::Unsupported(String::new()).reason_code(),
            Reason::UnsupportedPdfImage
        );
        assert_eq!(
            PdfPageError::TooLarge {
                width: 1,
                height: 1
            }
            .reason_code(),
            Reason::ImageTooLarge
        );
        assert_eq!(
            PdfPageError::Decode(String::new()).reason_code(),
            Reason::DecodeError
        );
    }

    #[test]
    fn document_is_sync_and_send() {
        fn check<T: Send + Sync>() {}
        check::<PdfDocument>();
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            PdfDocument::parse(b"hello"),
            Err(PdfError::Malformed(_))
        ));
        assert!(matches!(
            PdfDocument::parse(b"%PDF-1.4\n"),
            Err(PdfError::Malformed(_))
        ));
    }
}
