//! Scanned pages in: which files a batch holds, how many pages each has, and each page decoded
//! to 8-bit grayscale.
//!
//! Formats are recognised by their first bytes, not by their names (a text file called
//! `.png` is "not an image", not a crash). Every decoder runs under size limits, because a
//! few hundred bytes of hostile PNG can claim a 100,000 × 100,000 page.

use std::path::{Path, PathBuf};

use image::GrayImage;

pub mod pdf;

/// Pages larger than this many pixels are refused: an A4 page at 600 DPI is 35 Mpx.
pub const MAX_PIXELS: u64 = 60_000_000;
/// Files larger than this are refused before they are read.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Tiff,
    Pdf,
}

/// Why a file or a page could not give an image. `code()` is the reason written to the CSVs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("not an image this tool reads (PNG, JPEG, TIFF or PDF), judged by its content")]
    NotAnImage,
    #[error("cannot decode the image: {0}")]
    Decode(String),
    #[error("the image claims {width} × {height} pixels, more than a scanned page can have")]
    TooLarge { width: u64, height: u64 },
    #[error("{0}")]
    Pdf(String, &'static str),
}

impl InputError {
    pub fn code(&self) -> &'static str {
        match self {
            InputError::Unreadable(_) => "unreadable_file",
            InputError::Empty | InputError::NotAnImage => "not_an_image",
            InputError::Decode(_) => "decode_error",
            InputError::TooLarge { .. } => "image_too_large",
            InputError::Pdf(_, code) => code,
        }
    }
}

/// The inputs of a batch, walked once: the files to read, in batch order, and the paths that
/// get an `unreadable_file` row without being opened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
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
    pub format: Format,
    pub pages: usize,
    /// A PDF is parsed once; its pages are then decoded in parallel.
    pdf: Option<pdf::PdfDocument>,
}

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

pub fn from_bytes(bytes: Vec<u8>) -> Result<OpenedFile, InputError> {
    from_file_bytes(FileBytes::Read(bytes))
}

fn from_file_bytes(bytes: FileBytes) -> Result<OpenedFile, InputError> {
    if bytes.is_empty() {
        return Err(InputError::Empty);
    }
    let format = sniff(&bytes).ok_or(InputError::NotAnImage)?;
    let bytes = std::sync::Arc::new(bytes);
    let mut pdf_doc = None;
    let pages = match format {
        Format::Png | Format::Jpeg => 1,
        Format::Tiff => tiff_page_count(&bytes)?,
        Format::Pdf => {
            let doc = pdf::PdfDocument::parse_shared(bytes.clone())
                .map_err(|e| InputError::Pdf(e.to_string(), e.reason_code()))?;
            let n = doc.page_count();
            if n == 0 {
                return Err(InputError::Pdf("the PDF has no pages".into(), "bad_pdf"));
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
    })
}

/// Decodes page `index` (0-based) of an opened file.
pub fn decode_page(file: &OpenedFile, index: usize) -> Result<GrayImage, InputError> {
    match file.format {
        Format::Jpeg => decode_jpeg(&file.bytes),
        Format::Png => decode_png(&file.bytes),
        Format::Tiff => decode_tiff_page(&file.bytes, index),
        Format::Pdf => match &file.pdf {
            Some(doc) => doc
                .page_image(
                    index,
                    &pdf::Limits {
                        max_pixels: MAX_PIXELS,
                        ..pdf::Limits::default()
                    },
                )
                .map_err(|e| InputError::Pdf(e.to_string(), e.reason_code())),
            None => Err(InputError::Pdf("the PDF was not parsed".into(), "bad_pdf")),
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
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        .set_max_width(1 << 16)
        .set_max_height(1 << 16)
        .set_strict_mode(false);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    dec.decode_headers()
        .map_err(|e| InputError::Decode(format!("{e:?}")))?;
    let (w, h) = dec
        .dimensions()
        .ok_or_else(|| InputError::Decode("no JPEG dimensions".into()))?;
    check_size(w as u64, h as u64)?;
    let pixels = dec
        .decode()
        .map_err(|e| InputError::Decode(format!("{e:?}")))?;
    if pixels.len() != w * h {
        return Err(InputError::Decode(format!(
            "decoder returned {} bytes for {w}×{h} gray",
            pixels.len()
        )));
    }
    GrayImage::from_raw(w as u32, h as u32, pixels)
        .ok_or_else(|| InputError::Decode("bad JPEG buffer".into()))
}

fn decode_png(bytes: &[u8]) -> Result<GrayImage, InputError> {
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Png);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(1 << 16);
    limits.max_image_height = Some(1 << 16);
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    // The PNG standard puts IHDR first: width and height are bytes 16..24. Checking them here
    // refuses a decompression bomb before the decoder reads anything else.
    let dim = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
            .ok_or_else(|| InputError::Decode("truncated PNG header".into()))
    };
    check_size(dim(16)?, dim(20)?)?;
    let img = reader
        .decode()
        .map_err(|e| InputError::Decode(e.to_string()))?;
    Ok(img.into_luma8())
}

fn tiff_decoder(
    bytes: &[u8],
) -> Result<tiff::decoder::Decoder<std::io::Cursor<&[u8]>>, InputError> {
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size = (MAX_PIXELS * 4) as usize;
    tiff::decoder::Decoder::new(std::io::Cursor::new(bytes))
        .map(|d| d.with_limits(limits))
        .map_err(|e| InputError::Decode(e.to_string()))
}

fn tiff_page_count(bytes: &[u8]) -> Result<usize, InputError> {
    let mut dec = tiff_decoder(bytes)?;
    let mut n = 1;
    // A hostile file could chain directories in a loop; no batch has this many pages in one file.
    while dec.more_images() && n < 10_000 {
        dec.next_image()
            .map_err(|e| InputError::Decode(format!("page {}: {e}", n + 1)))?;
        n += 1;
    }
    Ok(n)
}

fn decode_tiff_page(bytes: &[u8], index: usize) -> Result<GrayImage, InputError> {
    use tiff::decoder::DecodingResult;
    use tiff::ColorType;
    let mut dec = tiff_decoder(bytes)?;
    dec.seek_to_image(index)
        .map_err(|e| InputError::Decode(e.to_string()))?;
    let (w, h) = dec
        .dimensions()
        .map_err(|e| InputError::Decode(e.to_string()))?;
    check_size(w as u64, h as u64)?;
    let color = dec
        .colortype()
        .map_err(|e| InputError::Decode(e.to_string()))?;
    let data = dec
        .read_image()
        .map_err(|e| InputError::Decode(e.to_string()))?;
    let (w, h) = (w as usize, h as usize);
    let mut out = vec![0u8; w * h];
    let bad = || InputError::Decode(format!("unexpected TIFF sample layout {color:?}"));
    match (color, data) {
        (ColorType::Gray(1), DecodingResult::U8(buf)) => {
            let stride = w.div_ceil(8);
            if buf.len() < stride * h {
                return Err(bad());
            }
            for y in 0..h {
                for x in 0..w {
                    let bit = (buf[y * stride + x / 8] >> (7 - x % 8)) & 1;
                    out[y * w + x] = if bit == 1 { 255 } else { 0 };
                }
            }
        }
        (ColorType::Gray(8), DecodingResult::U8(buf)) if buf.len() >= w * h => {
            out.copy_from_slice(&buf[..w * h]);
        }
        (ColorType::Gray(16), DecodingResult::U16(buf)) if buf.len() >= w * h => {
            for (o, v) in out.iter_mut().zip(buf) {
                *o = (v >> 8) as u8;
            }
        }
        (ColorType::RGB(8) | ColorType::RGBA(8), DecodingResult::U8(buf)) => {
            let n = if matches!(color, ColorType::RGB(_)) {
                3
            } else {
                4
            };
            if buf.len() < w * h * n {
                return Err(bad());
            }
            for (o, px) in out.iter_mut().zip(buf.chunks_exact(n)) {
                *o = luma(px[0], px[1], px[2]);
            }
        }
        (ColorType::GrayA(8), DecodingResult::U8(buf)) if buf.len() >= w * h * 2 => {
            for (o, px) in out.iter_mut().zip(buf.chunks_exact(2)) {
                *o = px[0];
            }
        }
        _ => return Err(bad()),
    }
    GrayImage::from_raw(w as u32, h as u32, out).ok_or_else(bad)
}

/// ITU-R BT.601 luma, as JPEG uses.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500) / 1000) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(short.code(), "unreadable_file");
        assert!(short.to_string().contains("changed size"), "{short}");
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
            Some("not_an_image")
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
        assert_eq!(err.code(), "image_too_large", "{err}");
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
