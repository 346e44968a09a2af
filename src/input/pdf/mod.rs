//! Scanned pages out of PDF files, without a PDF renderer.
//!
//! Office scanners save a batch as a multi-page PDF holding one scanned image per page. This
//! module owns everything between those bytes and an 8-bit grayscale page image (0 = black):
//!
//! - the file structure (cross-reference tables and streams, object streams, repair of broken
//!   files, decryption of files that open without a password) — delegated to `hayro-syntax`;
//!   the document and its page tree are here, in `mod.rs`;
//! - finding the one image XObject (or inline image) that covers most of the page, by following
//!   the content stream's `q`/`Q`/`cm`/`Do` operators into at most a few levels of Form XObjects
//!   (`walk`), or the tiles or bands it is drawn from (tiff2pdf's tiled TIFFs, banded scanners)
//!   when they form a complete grid of images drawn at one scale and turn (`tiles`);
//! - reading its dictionary and filter chain (`image_dict`) and running its filters: FlateDecode
//!   and LZWDecode with PNG/TIFF predictors, RunLengthDecode, ASCIIHex/ASCII85 (`filters`);
//!   decoding its codec: DCTDecode (the JPEG path all inputs share, straight to gray),
//!   CCITTFaxDecode (G3 1-D/2-D and G4, via `hayro-ccitt`), JBIG2Decode (via `hayro-jbig2`) and
//!   JPXDecode (JPEG 2000, via `hayro-jpeg2000`), or unpacking its raw samples (`decode`);
//! - converting its colour space (DeviceGray/RGB/CMYK, CalGray/CalRGB, ICCBased by /N, Indexed
//!   over those, /ImageMask, /Decode) to gray (`colour`);
//! - turning it the way a viewer displays it: the image's placement matrix and the page's
//!   /Rotate, in multiples of 90°, at the image's native resolution (`geometry`).
//!
//! Vector and text content is never rendered: a page without a page-sized image is reported as
//! [`PdfPageError::NotAScannedPage`]. Every input is untrusted: sizes are checked before
//! allocating, decompression is bounded, and a panic inside a dependency is caught and turned into
//! a per-page (or per-file) error so one bad file never stops a batch.

mod colour;
mod decode;
mod filters;
mod geometry;
mod image_dict;
mod tiles;
mod walk;

use std::panic::{catch_unwind, AssertUnwindSafe};

use hayro_syntax::object::{Array, Dict, Name};
use hayro_syntax::page::Page;
use hayro_syntax::{LoadPdfError, Pdf};
use image::GrayImage;

use crate::reason::Reason;

use self::decode::decode_image;
pub(super) use self::decode::CcittSink;
use self::geometry::{display_axes, orient, visible_box, Affine};
use self::tiles::assemble;
use self::walk::{choose_image, page_content, Choice, Source, Walk};

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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

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
