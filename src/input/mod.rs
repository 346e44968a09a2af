//! Scanned pages in: which files a batch holds, how many pages each has, and each page decoded
//! to 8-bit grayscale.
//!
//! Formats are recognised by their first bytes, not by their names (a text file called
//! `.png` is "not an image", not a crash). Every decoder runs under size limits, because a
//! few hundred bytes of hostile PNG can claim a 100,000 × 100,000 page.

use std::path::{Path, PathBuf};

use image::GrayImage;

use crate::i18n::{text, Lang};
use crate::reason::Reason;

mod jpeg;
pub mod pdf;
mod tiff;

pub use self::tiff::MAX_TIFF_PAGES;

/// Pages larger than this many pixels are refused: an A4 page at 600 DPI is 35 Mpx.
pub const MAX_PIXELS: u64 = 60_000_000;
/// Files larger than this are refused before they are read.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// The most any one page may decode into besides its gray image: a PDF image's inflated
/// samples, a TIFF page's samples. A4 at 600 DPI in RGB is 105 MB; a page that needs more is
/// refused rather than allowed to take a worker's share of memory several times over.
pub const MAX_DECODED_BYTES: usize = 128 << 20;

/// Bytes a page costs per pixel while it is read, besides what its decoder needs: the gray
/// page itself and the QR search's full-size copies of it (measured: a blank 59 Mpx page,
/// which takes every search, peaks at about three times its size).
pub const READ_BYTES_PER_PIXEL: u64 = 3;

/// Memory all the pages being read at one time may take together, whatever the number of
/// workers. With the file bytes held at once (at most `scan`'s chunk of 256 MiB plus one file
/// of [`MAX_FILE_BYTES`], 512 MiB) and about 64 MiB for the rest of the process, a batch of
/// hostile files stays under 768 + 768 + 64 MiB = 1.6 GiB (1.7 GB) on any number of cores,
/// 16 included: a 600 DPI A4 page (35 Mpx, about 105 MiB) lets seven pages be read at once,
/// a 300 DPI page (9 Mpx) twenty-eight.
pub const PAGE_MEMORY_BUDGET: u64 = 768 << 20;

/// A share of [`PAGE_MEMORY_BUDGET`] held while one page is decoded and read; given back
/// when dropped.
#[derive(Debug)]
pub struct PageMemory {
    bytes: u64,
}

static PAGE_MEMORY_IN_USE: std::sync::Mutex<u64> = std::sync::Mutex::new(0);
static PAGE_MEMORY_FREED: std::sync::Condvar = std::sync::Condvar::new();

impl PageMemory {
    /// Waits until `bytes` of the budget are free and takes them. A page larger than the
    /// whole budget takes all of it (it is then read alone). The caller must not wait for
    /// other rayon tasks while holding it (a page's decode and read never do), or a worker
    /// could wait on itself.
    pub fn reserve(bytes: u64) -> PageMemory {
        let bytes = bytes.min(PAGE_MEMORY_BUDGET);
        let mut used = PAGE_MEMORY_IN_USE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used + bytes > PAGE_MEMORY_BUDGET {
            used = PAGE_MEMORY_FREED
                .wait(used)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *used += bytes;
        PageMemory { bytes }
    }

    /// The bytes this share holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The bytes held by every page being read now.
    pub fn in_use() -> u64 {
        *PAGE_MEMORY_IN_USE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for PageMemory {
    fn drop(&mut self) {
        let mut used = PAGE_MEMORY_IN_USE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *used = used.saturating_sub(self.bytes);
        PAGE_MEMORY_FREED.notify_all();
    }
}

/// What reading page `index` of `file` will cost in memory at most, from its headers only
/// (nothing is decoded): its pixels at [`READ_BYTES_PER_PIXEL`] plus its decoder's own
/// buffers. A page whose headers cannot be read costs little (its decoder stops at the same
/// headers); one whose size cannot be told in advance is taken at the largest size allowed.
pub fn page_memory(file: &OpenedFile, index: usize) -> u64 {
    const UNREADABLE: u64 = 1 << 20;
    let worst = MAX_PIXELS * READ_BYTES_PER_PIXEL + MAX_DECODED_BYTES as u64;
    let cost = |pixels: u64, decoder: u64| {
        pixels.min(MAX_PIXELS) * READ_BYTES_PER_PIXEL + decoder.min(MAX_DECODED_BYTES as u64)
    };
    let bytes: &[u8] = &file.bytes;
    match file.format {
        Format::Png => {
            let dim = |at: usize| {
                bytes
                    .get(at..at + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
            };
            match (dim(16), dim(20)) {
                (Some(w), Some(h)) => cost(w.saturating_mul(h), PNG_DECODER_BYTES as u64),
                _ => UNREADABLE,
            }
        }
        Format::Jpeg => {
            use zune_jpeg::zune_core::bytestream::ZCursor;
            use zune_jpeg::zune_core::colorspace::ColorSpace;
            let mut dec = zune_jpeg::JpegDecoder::new(ZCursor::new(bytes));
            if dec.decode_headers().is_err() {
                return UNREADABLE;
            }
            let Some((w, h)) = dec.dimensions() else {
                return UNREADABLE;
            };
            let pixels = (w as u64).saturating_mul(h as u64);
            // Gray and YCbCr decode straight into the page; other colours go through RGB.
            let colour = !matches!(
                dec.input_colorspace(),
                Some(ColorSpace::Luma | ColorSpace::YCbCr) | None
            );
            cost(pixels, if colour { pixels.saturating_mul(3) } else { 0 })
        }
        Format::Tiff => {
            let Some(&at) = file.tiff.as_ref().and_then(|t| t.directories.get(index)) else {
                return UNREADABLE;
            };
            match tiff::page_cost(bytes, at) {
                Some((pixels, chunk)) => cost(pixels, chunk),
                None => UNREADABLE,
            }
        }
        Format::Pdf => match file.pdf.as_ref().map(|d| d.page_size(index)) {
            Some(pdf::PageSize::Pixels(pixels)) => cost(pixels, pixels.saturating_mul(3)),
            Some(pdf::PageSize::Unknown) | None => worst,
            Some(pdf::PageSize::NoImage) => UNREADABLE,
        },
    }
}

/// A file format read, recognised by its first bytes ([`sniff`]), never by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// TIFF, one ballot per page.
    Tiff,
    /// PDF as office scanners write it, one ballot per page.
    Pdf,
}

/// Why a file or a page could not give an image. `code()` is the reason written to the CSVs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The file cannot be read (reason `unreadable_file`); what the system said.
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// An empty file (reason `not_an_image`).
    #[error("empty file (0 bytes)")]
    Empty,
    /// Content that is no format read (reason `not_an_image`).
    #[error("not an image this tool reads (PNG, JPEG, TIFF or PDF), judged by its content")]
    NotAnImage,
    /// A damaged or truncated image (reason `decode_error`); what the decoder said.
    #[error("cannot decode the image: {0}")]
    Decode(String),
    /// More pixels than a scanned page can have (reason `image_too_large`).
    #[error("the image claims {width} × {height} pixels, more than a scanned page can have")]
    TooLarge {
        /// Pixels across, as the file claims.
        width: u64,
        /// Pixels down, as the file claims.
        height: u64,
    },
    /// A PDF page that gives no scanned image, with its reason (`bad_pdf`, `encrypted_pdf`, …).
    #[error("{0}")]
    Pdf(String, Reason),
}

impl InputError {
    /// The reason code written to the CSVs.
    pub fn code(&self) -> Reason {
        match self {
            InputError::Unreadable(_) => Reason::UnreadableFile,
            InputError::Empty | InputError::NotAnImage => Reason::NotAnImage,
            InputError::Decode(_) => Reason::DecodeError,
            InputError::TooLarge { .. } => Reason::ImageTooLarge,
            InputError::Pdf(_, code) => *code,
        }
    }

    /// The sentence for ballots.csv's `detail` in the scan's language (what the decoder or
    /// the system said stays as they said it).
    pub fn detail(&self, lang: Lang) -> String {
        match self {
            InputError::Unreadable(why) => text(lang, "page.unreadable", &[("why", why)]),
            InputError::Empty => text(lang, "page.empty", &[]),
            InputError::NotAnImage => text(lang, "page.not_an_image", &[]),
            InputError::Decode(why) => text(lang, "page.decode", &[("why", why)]),
            InputError::TooLarge { width, height } => text(
                lang,
                "page.too_large",
                &[("width", width), ("height", height)],
            ),
            InputError::Pdf(why, _) => text(lang, "page.pdf", &[("why", why)]),
        }
    }
}

/// The inputs of a batch, walked once: the files to read, in batch order, and the paths that
/// get an `unreadable_file` row without being opened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
    /// The files to read, in batch order.
    pub files: Vec<PathBuf>,
    /// A path and why it is not read: missing, a link loop, a FIFO or device, a folder that
    /// cannot be listed.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Lists the files of a batch (see [`walk_inputs`]): the files, and the paths that cannot be
/// read.
pub fn collect_files(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let w = walk_inputs(inputs, None);
    (w.files, w.unreadable.into_iter().map(|(p, _)| p).collect())
}

/// What identifies a folder however it is reached (through links, `.`, `..`).
#[cfg(unix)]
fn folder_id(meta: &std::fs::Metadata, _: &Path) -> (u64, u64, PathBuf) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino(), PathBuf::new())
}

#[cfg(not(unix))]
fn folder_id(_: &std::fs::Metadata, path: &Path) -> (u64, u64, PathBuf) {
    (
        0,
        0,
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
    )
}

/// Walks the inputs: files as given, folders recursively, each folder's entries in sorted
/// order so the output order never depends on the file system. Hidden entries (names
/// starting with a dot) inside folders are skipped, and so is the folder `skip` (the results
/// folder, when it lies inside an input). Each folder is visited once per input, known by
/// device and inode, so a link back up the tree (`ln -s . loop`) gives one row instead of an
/// endless walk. Only regular files are read: a FIFO would block the batch forever and a
/// device read without end, so they, sockets and links that lead nowhere get a row instead.
pub fn walk_inputs(inputs: &[PathBuf], skip: Option<&Path>) -> Walk {
    let skip = skip
        .and_then(|p| std::fs::metadata(p).ok().map(|m| folder_id(&m, p)))
        .filter(|_| skip.is_some());
    let mut w = Walk::default();
    for input in inputs {
        let mut visited = std::collections::HashSet::new();
        visit(input, skip.as_ref(), &mut visited, &mut w);
    }
    w
}

type FolderId = (u64, u64, PathBuf);

fn visit(
    path: &Path,
    skip: Option<&FolderId>,
    visited: &mut std::collections::HashSet<FolderId>,
    w: &mut Walk,
) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            let why = if std::fs::symlink_metadata(path).is_ok() {
                format!("a link that loops or leads nowhere ({})", os_error(&e))
            } else if e.kind() == std::io::ErrorKind::NotFound {
                "no such file or folder".to_string()
            } else {
                os_error(&e)
            };
            w.unreadable.push((path.to_path_buf(), why));
            return;
        }
    };
    if meta.is_file() {
        w.files.push(path.to_path_buf());
        return;
    }
    if !meta.is_dir() {
        w.unreadable
            .push((path.to_path_buf(), not_a_regular_file(&meta).to_string()));
        return;
    }
    let id = folder_id(&meta, path);
    if skip == Some(&id) {
        return;
    }
    if !visited.insert(id) {
        w.unreadable.push((
            path.to_path_buf(),
            "a folder already read in this input (a link loop, or a link to a folder above it): not read again".into(),
        ));
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => {
            w.unreadable.push((
                path.to_path_buf(),
                format!("a folder that cannot be listed ({})", os_error(&e)),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    paths.sort();
    for p in paths {
        visit(&p, skip, visited, w);
    }
}

/// The OS error's own words, once (`Display` of an `io::Error` adds the code).
fn os_error(e: &std::io::Error) -> String {
    e.to_string()
}

/// What a path that is neither a file nor a folder is, for its row.
fn not_a_regular_file(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe), not a file: not read";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device, not a file: not read";
        }
        if t.is_socket() {
            return "a socket, not a file: not read";
        }
    }
    let _ = meta;
    "not a regular file: not read"
}

/// The format of a file's content, or `None` when it is no format read.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some(Format::Tiff)
    } else if bytes.len() >= 5
        && bytes[..bytes.len().min(1024)]
            .windows(5)
            .any(|w| w == b"%PDF-")
    {
        Some(Format::Pdf)
    } else {
        None
    }
}

/// A file read into memory, with its page count known.
pub struct OpenedFile {
    /// Shared with the parsed PDF, so a 150 MB scanner PDF is held once, not twice.
    pub bytes: std::sync::Arc<FileBytes>,
    /// The file's format.
    pub format: Format,
    /// How many pages (ballots) it holds: 1 except for TIFF and PDF.
    pub pages: usize,
    /// A PDF is parsed once; its pages are then decoded in parallel.
    pdf: Option<pdf::PdfDocument>,
    /// A TIFF's directory chain is walked once; each page is then decoded from its own.
    tiff: Option<tiff::TiffPages>,
}

/// Opens a file for reading its pages: refuses what is not a regular file, reads it whole and
/// counts its pages.
pub fn open(path: &Path) -> Result<OpenedFile, InputError> {
    let unreadable = |e: std::io::Error| InputError::Unreadable(os_error(&e));
    // Looked at before opening: opening a FIFO blocks until someone writes to it.
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(InputError::Unreadable(
            "a folder that cannot be listed".into(),
        ));
    }
    if !meta.is_file() {
        return Err(InputError::Unreadable(not_a_regular_file(&meta).into()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Replaced by a FIFO since it was looked at: do not wait for a writer.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc_nonblock());
    }
    let file = options.open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(InputError::Unreadable(not_a_regular_file(&meta).into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(InputError::TooLarge {
            width: 0,
            height: 0,
        });
    }
    let bytes = read_file(&file, meta.len())?;
    from_file_bytes(FileBytes::Read(bytes))
}

/// `O_NONBLOCK`, which has the same value on every Linux and BSD target we build for
/// except where libc says otherwise.
#[cfg(unix)]
fn libc_nonblock() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        0o4000
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        0x0004
    }
}

/// A file's bytes. (Files are read, never memory-mapped: a mapped file that another program
/// truncates kills the whole process with SIGBUS.)
pub enum FileBytes {
    /// The file read into memory.
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Read(v) => v,
        }
    }
}

impl AsRef<[u8]> for FileBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Files above this size are read in pieces on every core: a scanner's multi-page PDF or
/// TIFF, none of whose pages can start before the whole file is in memory.
const LARGE_FILE: u64 = 16 << 20;

/// Reads a whole file of `len` bytes (as its metadata said), never more than that and
/// [`MAX_FILE_BYTES`]. A file that changes size while it is read (a scanner still writing
/// it, or another program truncating it) is refused with a reason rather than read half.
fn read_file(file: &std::fs::File, len: u64) -> Result<Vec<u8>, InputError> {
    use std::io::Read;
    let changed = || {
        InputError::Unreadable(
            "the file changed size while it was read (still being written?): scan it again once it is complete".into(),
        )
    };
    let bytes = if len > LARGE_FILE {
        read_in_pieces(file, len).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => changed(),
            _ => InputError::Unreadable(os_error(&e)),
        })?
    } else {
        // One byte more than expected tells a file that grew from one that did not.
        let mut bytes = Vec::with_capacity(len as usize);
        (&mut &*file)
            .take(len + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| InputError::Unreadable(os_error(&e)))?;
        bytes
    };
    let now = file.metadata().map(|m| m.len()).unwrap_or(len);
    if bytes.len() as u64 != len || now != len {
        return Err(changed());
    }
    Ok(bytes)
}

/// Reads `len` bytes in pieces on every core (copying 100 MB on one core took a twentieth
/// of a 200-page batch).
fn read_in_pieces(file: &std::fs::File, len: u64) -> std::io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use rayon::prelude::*;
        use std::os::unix::fs::FileExt;
        const PIECE: usize = 8 << 20;
        let mut bytes = vec![0u8; len as usize];
        bytes
            .par_chunks_mut(PIECE)
            .enumerate()
            .try_for_each(|(i, piece)| file.read_exact_at(piece, (i * PIECE) as u64))?;
        Ok(bytes)
    }
    #[cfg(not(unix))]
    {
        use std::io::Read;
        let mut bytes = Vec::with_capacity(len as usize);
        (&mut &*file).take(len).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// A file already in memory, opened like [`open`] does (for tests and embedding programs).
pub fn from_bytes(bytes: Vec<u8>) -> Result<OpenedFile, InputError> {
    from_file_bytes(FileBytes::Read(bytes))
}

fn from_file_bytes(bytes: FileBytes) -> Result<OpenedFile, InputError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        from_file_bytes_inner(bytes)
    }))
    .unwrap_or_else(|_| {
        Err(InputError::Decode(
            "internal error while reading the file's structure".into(),
        ))
    })
}

fn from_file_bytes_inner(bytes: FileBytes) -> Result<OpenedFile, InputError> {
    if bytes.is_empty() {
        return Err(InputError::Empty);
    }
    let format = sniff(&bytes).ok_or(InputError::NotAnImage)?;
    let bytes = std::sync::Arc::new(bytes);
    let mut pdf_doc = None;
    let mut tiff = None;
    let pages = match format {
        Format::Png | Format::Jpeg => 1,
        Format::Tiff => {
            let t = tiff::pages(&bytes)?;
            let n = t.pages();
            tiff = Some(t);
            n
        }
        Format::Pdf => {
            let doc = pdf::PdfDocument::parse_shared(bytes.clone())
                .map_err(|e| InputError::Pdf(e.to_string(), e.reason_code()))?;
            let n = doc.page_count();
            if n == 0 {
                return Err(InputError::Pdf(
                    "the PDF has no pages".into(),
                    Reason::BadPdf,
                ));
            }
            pdf_doc = Some(doc);
            n
        }
    };
    Ok(OpenedFile {
        bytes,
        format,
        pages,
        pdf: pdf_doc,
        tiff,
    })
}

/// Decodes page `index` (0-based) of an opened file.
pub fn decode_page(file: &OpenedFile, index: usize) -> Result<GrayImage, InputError> {
    // The decoders are dependencies fed hostile bytes: a panic in one costs this page only.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_page_inner(file, index)
    }))
    .unwrap_or_else(|_| {
        Err(InputError::Decode(
            "internal error while decoding this page".into(),
        ))
    })
}

fn decode_page_inner(file: &OpenedFile, index: usize) -> Result<GrayImage, InputError> {
    match file.format {
        Format::Jpeg => decode_jpeg(&file.bytes),
        Format::Png => decode_png(&file.bytes),
        Format::Tiff => match &file.tiff {
            Some(t) => match (t.directories.get(index), &t.bad) {
                (Some(&at), _) => tiff::decode_page(&file.bytes, at),
                (None, Some(why)) if index == t.directories.len() => {
                    Err(InputError::Decode(why.clone()))
                }
                _ => Err(InputError::Decode(format!(
                    "page {} does not exist",
                    index + 1
                ))),
            },
            None => Err(InputError::Decode("the TIFF was not read".into())),
        },
        Format::Pdf => match &file.pdf {
            Some(doc) => doc
                .page_image(
                    index,
                    &pdf::Limits {
                        max_pixels: MAX_PIXELS,
                        max_stream_bytes: MAX_DECODED_BYTES,
                        ..pdf::Limits::default()
                    },
                )
                .map_err(|e| InputError::Pdf(e.to_string(), e.reason_code())),
            None => Err(InputError::Pdf(
                "the PDF was not parsed".into(),
                Reason::BadPdf,
            )),
        },
    }
}

fn check_size(width: u64, height: u64) -> Result<(), InputError> {
    if width == 0 || height == 0 || width.saturating_mul(height) > MAX_PIXELS {
        return Err(InputError::TooLarge { width, height });
    }
    Ok(())
}

/// JPEG straight to grayscale: the decoder skips colour conversion, which is most of the cost
/// of decoding a colour scan.
pub fn decode_jpeg(bytes: &[u8]) -> Result<GrayImage, InputError> {
    use jpeg::ColorSpace;
    let jpeg = jpeg::open(bytes, MAX_PIXELS)?;
    let pixels = match jpeg.coded {
        ColorSpace::Luma | ColorSpace::YCbCr => jpeg.decode(ColorSpace::Luma)?,
        // CMYK and YCCK scans (and RGB without a YCbCr transform) through their colours.
        _ => jpeg
            .decode(ColorSpace::RGB)?
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
    };
    GrayImage::from_raw(jpeg.width, jpeg.height, pixels)
        .ok_or_else(|| InputError::Decode("bad JPEG buffer".into()))
}

impl From<jpeg::JpegError> for InputError {
    fn from(e: jpeg::JpegError) -> InputError {
        match e {
            jpeg::JpegError::Truncated | jpeg::JpegError::Decode(_) => {
                InputError::Decode(e.to_string())
            }
            jpeg::JpegError::TooLarge { width, height } => InputError::TooLarge { width, height },
        }
    }
}

/// PNG straight to 8-bit gray, row by row: only the gray page and one decoded row are ever
/// held, whatever the file's sample format (a 7,700 × 7,700 RGBA16 PNG of 477 KB decoded whole
/// took 474 MB before its gray copy was made; row by row it takes its 59 MB gray page).
fn decode_png(bytes: &[u8]) -> Result<GrayImage, InputError> {
    let decode = |e: png::DecodingError| match e {
        png::DecodingError::LimitsExceeded => InputError::Decode(
            "the PNG needs more memory to decode than any scanned page may take".into(),
        ),
        e => InputError::Decode(e.to_string()),
    };
    // The PNG standard puts IHDR first: width and height are bytes 16..24. Checking them here
    // refuses a decompression bomb before the decoder reads anything else.
    let dim = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
            .ok_or_else(|| InputError::Decode("truncated PNG header".into()))
    };
    let (w, h) = (dim(16)?, dim(20)?);
    if w == 0 || h == 0 {
        return Err(InputError::Decode(format!(
            "the PNG claims {w} × {h} pixels: no image"
        )));
    }
    check_size(w, h)?;
    // The decoder's own allocations (one row, the inflate window, text chunks) stay small;
    // this caps them against chunks that claim huge sizes.
    let limits = png::Limits {
        bytes: PNG_DECODER_BYTES,
    };
    let mut dec = png::Decoder::new_with_limits(std::io::Cursor::new(bytes), limits);
    // 8 bits per sample, palettes and low bit depths expanded: every row is then gray,
    // gray + alpha, RGB or RGBA bytes.
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(decode)?;
    let (color, depth) = reader.output_color_type();
    let channels = match (color, depth) {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => 1,
        (png::ColorType::GrayscaleAlpha, png::BitDepth::Eight) => 2,
        (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
        (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
        other => {
            return Err(InputError::Decode(format!(
                "unexpected PNG sample layout {other:?}"
            )))
        }
    };
    let (w, h) = (w as usize, h as usize);
    let mut gray = vec![255u8; w * h];
    let mut line = Vec::with_capacity(w);
    // Rows come in order: a plain PNG's row `y` is the `y`-th row handed over.
    let mut y = 0;
    while let Some(row) = reader.next_interlaced_row().map_err(decode)? {
        line.clear();
        line.extend(row.data().chunks_exact(channels).map(|p| match p {
            [v] => *v,
            // Transparent paper is white paper: composite on white (dropping alpha made it
            // black).
            [v, a] => on_white(*v, *a),
            [r, g, b] => luma(*r, *g, *b),
            [r, g, b, a] => on_white(luma(*r, *g, *b), *a),
            _ => 255,
        }));
        match row.interlace() {
            png::InterlaceInfo::Null(_) => {
                if let Some(out) = gray.get_mut(y * w..(y + 1) * w) {
                    let n = line.len().min(w);
                    out[..n].copy_from_slice(&line[..n]);
                }
                y += 1;
            }
            png::InterlaceInfo::Adam7(pass) => {
                png::expand_interlaced_row(&mut gray, w, &line, pass, 8);
            }
        }
    }
    // Every row was there; the file must still reach its end marker (IEND). A file that
    // ends early is refused whole: where it was cut cannot be told, and the same scan cut a
    // little earlier would have lost its last rows.
    reader.finish().map_err(decode)?;
    GrayImage::from_raw(w as u32, h as u32, gray)
        .ok_or_else(|| InputError::Decode("bad PNG buffer".into()))
}

/// What the PNG decoder may allocate besides the page: a row of the widest page in RGBA16
/// (65,536 × 8 bytes) twice over, the inflate state, and the ancillary chunks kept.
const PNG_DECODER_BYTES: usize = 8 << 20;

/// A gray value with its opacity, laid on white paper.
fn on_white(v: u8, a: u8) -> u8 {
    let (v, a) = (v as u32, a as u32);
    ((v * a + 255 * (255 - a) + 127) / 255) as u8
}

/// ITU-R BT.601 luma, as JPEG uses: 0.299 R + 0.587 G + 0.114 B rounded to the nearest gray.
/// The one colour-to-gray rule for every input (PNG, TIFF, JPEG, PDF images), so the same
/// scan reads the same whichever file it arrives in. (The `image` crate's `to_luma8` is not
/// it: that uses sRGB/Rec. 709 weights and truncates.)
#[inline]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500) / 1000) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_is_rec_601_rounded_to_the_nearest_gray_for_every_colour() {
        for r in 0..=255u8 {
            for g in 0..=255u8 {
                for b in 0..=255u8 {
                    let exact = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
                    let got = luma(r, g, b) as f64;
                    assert!(
                        (got - exact).abs() <= 0.5 + 1e-9,
                        "luma({r}, {g}, {b}) = {got}, Rec. 601 says {exact:.3}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_large_file_is_read_whole_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.pdf");
        // 20 MB and a bit, so the last piece is short; non-periodic, so a misplaced piece shows.
        let data: Vec<u8> = (0..(20u64 << 20) + 12_345)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        std::fs::write(&path, &data).expect("write");
        let file = std::fs::File::open(&path).expect("open");
        let read = read_file(&file, data.len() as u64).expect("read");
        assert!(read == data, "the pieces were not put back in order");
        // Truncated since its size was taken: refused, not read half (nor a SIGBUS).
        let short = read_file(&file, data.len() as u64 + 100).expect_err("refused");
        assert_eq!(short.code(), Reason::UnreadableFile);
        assert!(short.to_string().contains("changed size"), "{short}");
    }

    /// A page that is white except for a black square in its middle (grays in `px`).
    fn page(w: u32, h: u32) -> impl Fn(u32, u32) -> bool {
        move |x, y| (w / 4..3 * w / 4).contains(&x) && (h / 4..3 * h / 4).contains(&y)
    }

    /// The decoded page is white around, black in the middle (within JPEG's error).
    fn assert_page(img: &GrayImage) {
        let (w, h) = img.dimensions();
        let ink = page(w, h);
        for (x, y, p) in img.enumerate_pixels() {
            let want = if ink(x, y) { 0 } else { 255 };
            assert!(
                (p.0[0] as i32 - want).abs() < 40,
                "({x},{y}) is {} not {want}",
                p.0[0]
            );
        }
    }

    #[test]
    fn a_truncated_jpeg_is_a_decode_error_not_half_a_page() {
        let img = GrayImage::from_fn(64, 64, |x, y| {
            image::Luma([if page(64, 64)(x, y) { 0 } else { 255 }])
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .expect("jpeg");
        assert_page(&decode_jpeg(&jpeg).expect("whole"));
        let cut = &jpeg[..jpeg.len() * 2 / 3];
        assert_eq!(
            decode_jpeg(cut).expect_err("refused").code(),
            Reason::DecodeError
        );
    }

    #[test]
    fn a_cmyk_jpeg_reads_as_its_gray_page() {
        // The Adobe CMYK JPEG inside a committed PDF fixture, as a file of its own.
        let pdf = include_bytes!("../../tests/fixtures/pdf/jpeg_cmyk.pdf");
        let find = |pat: &[u8]| pdf.windows(pat.len()).position(|w| w == pat);
        let start = find(&[0xFF, 0xD8, 0xFF]).expect("SOI");
        let end = pdf
            .windows(2)
            .rposition(|w| w == [0xFF, 0xD9])
            .expect("EOI")
            + 2;
        let img = decode_jpeg(&pdf[start..end]).expect("decodes");
        let want = image::load_from_memory(include_bytes!("../../tests/fixtures/pdf/src_cmyk.png"))
            .expect("png")
            .into_luma8();
        assert_eq!(img.dimensions(), want.dimensions());
        let mad = img
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .sum::<f64>()
            / img.as_raw().len() as f64;
        assert!(
            mad < 8.0,
            "mean difference {mad}: a negative or a colour mix-up"
        );
    }

    fn png(w: u32, h: u32, colour: image::ExtendedColorType, data: &[u8]) -> Vec<u8> {
        use image::ImageEncoder;
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(data, w, h, colour)
            .expect("png");
        out
    }

    #[test]
    fn a_png_with_transparent_paper_reads_white() {
        let (w, h) = (40u32, 40u32);
        let ink = page(w, h);
        // Black ink, opaque; paper fully transparent (its colour values black, as often).
        let la: Vec<u8> = (0..w * h)
            .flat_map(|i| if ink(i % w, i / w) { [0, 255] } else { [0, 0] })
            .collect();
        let f = from_bytes(png(w, h, image::ExtendedColorType::La8, &la)).expect("png");
        assert_page(&decode_page(&f, 0).expect("decodes"));
    }

    #[test]
    fn a_png_of_no_pixels_is_a_decode_error() {
        let mut bytes = png(1, 1, image::ExtendedColorType::L8, &[255]);
        // Width 0 in IHDR (the CRC does not matter: the size is checked first).
        bytes[16..20].copy_from_slice(&0u32.to_be_bytes());
        let f = from_bytes(bytes).expect("png");
        assert_eq!(
            decode_page(&f, 0).expect_err("refused").code(),
            Reason::DecodeError
        );
    }

    /// A TIFF of `n` one-pixel gray pages, page `i` of value `i % 256`.
    fn tiny_pages_tiff(n: usize) -> Vec<u8> {
        use ::tiff::encoder::{colortype, TiffEncoder};
        let mut bytes = Vec::new();
        {
            let mut enc = TiffEncoder::new(std::io::Cursor::new(&mut bytes)).expect("encoder");
            for i in 0..n {
                enc.write_image::<colortype::Gray8>(1, 1, &[(i % 256) as u8])
                    .expect("page");
            }
        }
        bytes
    }

    #[test]
    fn every_page_of_a_long_tiff_is_found_and_past_the_limit_one_row_says_so() {
        // Pages after 10,000 were once dropped without a row (issue #12 point 6).
        let f = from_bytes(tiny_pages_tiff(10_001)).expect("tiff");
        assert_eq!(f.pages, 10_001);
        let last = decode_page(&f, 10_000).expect("the last page decodes");
        assert_eq!(last.as_raw(), &vec![(10_000 % 256) as u8]);
        // Past MAX_TIFF_PAGES the rest is one failing row that says what was not read.
        let f = from_bytes(tiny_pages_tiff(MAX_TIFF_PAGES + 2)).expect("tiff");
        assert_eq!(f.pages, MAX_TIFF_PAGES + 1);
        let rest = decode_page(&f, MAX_TIFF_PAGES).expect_err("not read");
        assert_eq!(rest.code(), crate::reason::Reason::DecodeError);
        assert!(rest.to_string().contains("were not read"), "{rest}");
    }

    #[test]
    fn an_rgb16_tiff_reads_as_its_gray_page() {
        use ::tiff::encoder::{colortype, TiffEncoder};
        let (w, h) = (32u32, 32u32);
        let ink = page(w, h);
        let mut rgb16 = Vec::new();
        {
            let data: Vec<u16> = (0..w * h)
                .flat_map(|i| [if ink(i % w, i / w) { 0 } else { 65535 }; 3])
                .collect();
            TiffEncoder::new(std::io::Cursor::new(&mut rgb16))
                .expect("encoder")
                .write_image::<colortype::RGB16>(w, h, &data)
                .expect("rgb16");
        }
        let f = from_bytes(rgb16).expect("tiff");
        assert_page(&decode_page(&f, 0).expect("rgb16 decodes"));
    }

    #[test]
    fn formats_are_recognised_by_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(Format::Png));
        assert_eq!(sniff(b"hello, I am text"), None);
        assert_eq!(from_bytes(Vec::new()).err(), Some(InputError::Empty));
        assert_eq!(
            from_bytes(b"just text named .png".to_vec())
                .err()
                .map(|e| e.code()),
            Some(Reason::NotAnImage)
        );
    }

    #[test]
    fn a_png_claiming_a_huge_page_is_refused_without_allocating() {
        // A valid PNG header for 100000 × 100000 gray pixels, followed by nothing.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        let crc = crc32(&ihdr);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc.to_be_bytes());
        let f = from_bytes(png).expect("a PNG");
        let err = decode_page(&f, 0).expect_err("refused");
        assert_eq!(err.code(), Reason::ImageTooLarge, "{err}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
