//! TIFF pages: the directory chain walked once, each page decoded from its own directory to
//! 8-bit gray, one strip or tile at a time.
//!
//! The `tiff` crate decodes the samples of most pages. What it refuses is handled here:
//! bilevel fax pages (CCITT modified Huffman, T.4 1-D and 2-D; T.6 goes the same way so every
//! fax page honours FillOrder and PhotometricInterpretation alike), decoded with the
//! `hayro-ccitt` decoder the PDF reader uses, and palette pages, whose indices the `tiff` crate
//! is made to read as gray samples and which are then looked up in the page's colour map.
//! Decoding chunk by chunk keeps only the gray page and one strip in memory: a 600 DPI A4
//! page in 16-bit RGB has 209 MB of samples, more than any page may take, and 35 MB of gray.

use ::tiff::decoder::{ChunkType, Decoder, DecodingResult};
use ::tiff::tags::Tag;
use ::tiff::ColorType;
use image::GrayImage;

use super::{check_size, luma, on_white, InputError, MAX_DECODED_BYTES};

/// More pages than any scanned stack holds in one file; past it a row says the rest was
/// not read (the directory chain of a hostile file can be made as long as the file allows).
pub const MAX_TIFF_PAGES: usize = 100_000;

/// T4Options (TIFF 6.0, section 11): bit 0 set = T.4 2-D coding, bit 2 = fill bits before
/// each EOL so it ends on a byte boundary.
const T4_OPTIONS: Tag = Tag::Unknown(292);

fn decode_err(e: impl std::fmt::Display) -> InputError {
    InputError::Decode(e.to_string())
}

pub(super) fn decoder<R: std::io::Read + std::io::Seek>(
    reader: R,
) -> Result<Decoder<R>, InputError> {
    let mut limits = ::tiff::decoder::Limits::default();
    // Per strip or tile: a page is decoded one chunk at a time.
    limits.decoding_buffer_size = MAX_DECODED_BYTES;
    Decoder::new(reader)
        .map(|d| d.with_limits(limits))
        .map_err(decode_err)
}

/// Where each page's directory (IFD) of a TIFF starts, found in one walk of the chain.
pub(super) struct TiffPages {
    pub(super) directories: Vec<u64>,
    /// Why the walk stopped before the end: that directory gets a row of its own.
    pub(super) bad: Option<String>,
}

impl TiffPages {
    pub(super) fn pages(&self) -> usize {
        self.directories.len() + usize::from(self.bad.is_some())
    }
}

/// Walks a TIFF's directory chain once: the pages up to the first bad directory are read,
/// the bad one gets its own row (the walk cannot go past it: the next link is in it).
pub(super) fn pages(bytes: &[u8]) -> Result<TiffPages, InputError> {
    let mut dec = decoder(std::io::Cursor::new(bytes))?;
    let mut directories = Vec::new();
    let mut bad = None;
    loop {
        let Some(at) = dec.ifd_pointer() else {
            bad = Some(format!(
                "page {}: its directory cannot be located",
                directories.len() + 1
            ));
            break;
        };
        directories.push(at.0);
        if !dec.more_images() {
            break;
        }
        if directories.len() == MAX_TIFF_PAGES {
            bad = Some(format!(
                "the file has more than {MAX_TIFF_PAGES} pages; pages after {MAX_TIFF_PAGES} were not read"
            ));
            break;
        }
        if let Err(e) = dec.next_image() {
            bad = Some(format!(
                "page {}: damaged page directory ({e}); the pages after it cannot be found",
                directories.len() + 1
            ));
            break;
        }
    }
    Ok(TiffPages { directories, bad })
}

/// A TIFF seen from one page's directory: the header's first-directory offset (bytes 4..8)
/// is made to point at it, so that page is decoded without walking the chain to it again
/// (walking from the start for every page cost quadratic time: 104 s for 10,000 pages).
/// `patch` overlays two bytes of the file: a palette page's PhotometricInterpretation, read
/// as gray so the `tiff` crate hands over its indices.
pub(super) struct PageView<'a> {
    bytes: &'a [u8],
    header: [u8; 8],
    patch: Option<(usize, [u8; 2])>,
    pos: u64,
}

impl<'a> PageView<'a> {
    pub(super) fn new(bytes: &'a [u8], directory: u64) -> Option<PageView<'a>> {
        let mut header: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
        let at = u32::try_from(directory).ok()?;
        let offset = if little_endian(bytes) {
            at.to_le_bytes()
        } else {
            at.to_be_bytes()
        };
        header[4..8].copy_from_slice(&offset);
        Some(PageView {
            bytes,
            header,
            patch: None,
            pos: 0,
        })
    }
}

fn little_endian(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'I')
}

impl std::io::Read for PageView<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let pos = usize::try_from(self.pos).unwrap_or(usize::MAX);
        let n = if pos < 8 {
            let n = buf.len().min(8 - pos);
            buf[..n].copy_from_slice(&self.header[pos..pos + n]);
            n
        } else {
            let rest = self.bytes.get(pos..).unwrap_or(&[]);
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            n
        };
        if let Some((at, value)) = self.patch {
            for (i, v) in value.iter().enumerate() {
                if let Some(b) = (at + i)
                    .checked_sub(pos)
                    .filter(|&k| k < n)
                    .and_then(|k| buf.get_mut(k))
                {
                    *b = *v;
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for PageView<'_> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let len = self.bytes.len() as i128;
        let at = match to {
            std::io::SeekFrom::Start(n) => n as i128,
            std::io::SeekFrom::End(d) => len + d as i128,
            std::io::SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        self.pos = u64::try_from(at).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

/// Where the value of `tag` sits in the directory at `directory` (classic or BigTIFF), for a
/// one-value SHORT tag, whose value is stored in the entry itself.
fn inline_value_at(bytes: &[u8], directory: u64, tag: u16) -> Option<usize> {
    let little = little_endian(bytes);
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let big = u16_at(2)? == 43;
    let dir = usize::try_from(directory).ok()?;
    let (count, first, size, value) = if big {
        let b: [u8; 8] = bytes.get(dir..dir + 8)?.try_into().ok()?;
        let n = if little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        };
        (usize::try_from(n).ok()?, dir + 8, 20, 12)
    } else {
        (usize::from(u16_at(dir)?), dir + 2, 12, 8)
    };
    (0..count)
        .map(|i| first + i * size)
        .take_while(|&e| e + size <= bytes.len())
        .find(|&e| u16_at(e) == Some(tag))
        .map(|e| e + value)
}

/// What reading the page whose directory is at `directory` costs besides its gray page,
/// from its headers: its pixels and the largest strip or tile its decoder holds.
pub(super) fn page_cost(bytes: &[u8], directory: u64) -> Option<(u64, u64)> {
    let mut dec = decoder(PageView::new(bytes, directory)?).ok()?;
    let (w, h) = dec.dimensions().ok()?;
    let pixels = u64::from(w) * u64::from(h);
    let compression = dec.find_tag_unsigned::<u16>(Tag::Compression).ok()?;
    if matches!(compression, Some(2..=4)) {
        // Fax strips are decoded straight into the page.
        return Some((pixels, 0));
    }
    let bits: u64 = dec
        .get_tag_u16_vec(Tag::BitsPerSample)
        .map(|b| b.iter().map(|&b| u64::from(b)).sum())
        .unwrap_or(1);
    let (cw, ch) = match dec.get_chunk_type() {
        ChunkType::Strip => {
            let rows = dec
                .find_tag_unsigned::<u32>(Tag::RowsPerStrip)
                .ok()
                .flatten()
                .unwrap_or(h);
            (w, rows.clamp(1, h.max(1)))
        }
        ChunkType::Tile => dec.chunk_dimensions(),
    };
    let chunk = (u64::from(cw) * bits).div_ceil(8) * u64::from(ch);
    Some((pixels, chunk))
}

/// Decodes the page whose directory is at `directory` to 8-bit gray.
pub(super) fn decode_page(bytes: &[u8], directory: u64) -> Result<GrayImage, InputError> {
    let view = PageView::new(bytes, directory)
        .ok_or_else(|| decode_err("the page directory lies beyond 4 GB"))?;
    let mut dec = decoder(view)?;
    let (w, h) = dec.dimensions().map_err(decode_err)?;
    check_size(w as u64, h as u64)?;
    let tag = |dec: &mut Decoder<PageView<'_>>, t: Tag| {
        dec.find_tag_unsigned::<u32>(t).map_err(decode_err)
    };
    let compression = tag(&mut dec, Tag::Compression)?.unwrap_or(1);
    let photometric = tag(&mut dec, Tag::PhotometricInterpretation)?;
    if let 2..=4 = compression {
        return decode_fax(bytes, &mut dec, (w, h), compression, photometric);
    }
    let palette = if photometric == Some(3) {
        let lut = palette_to_gray(&mut dec)?;
        // Read the indices as gray samples (BlackIsZero: no inversion), then look them up.
        let at = inline_value_at(bytes, directory, 262).ok_or_else(|| {
            decode_err(
                "the palette page's PhotometricInterpretation is not where its directory says",
            )
        })?;
        let one = if little_endian(bytes) {
            1u16.to_le_bytes()
        } else {
            1u16.to_be_bytes()
        };
        let mut view = PageView::new(bytes, directory)
            .ok_or_else(|| decode_err("the page directory lies beyond 4 GB"))?;
        view.patch = Some((at, one));
        dec = decoder(view)?;
        Some(lut)
    } else {
        None
    };
    decode_chunks(&mut dec, bytes.len(), (w, h), palette.as_deref())
}

/// A palette page's colour map as the gray of each index.
fn palette_to_gray(dec: &mut Decoder<PageView<'_>>) -> Result<Vec<u8>, InputError> {
    let bits = dec
        .find_tag_unsigned::<u16>(Tag::BitsPerSample)
        .map_err(decode_err)?
        .unwrap_or(1);
    if !matches!(bits, 1 | 2 | 4 | 8) {
        return Err(decode_err(format!(
            "a palette page of {bits} bits per pixel (1, 2, 4 or 8 are read)"
        )));
    }
    let map = dec
        .get_tag_u16_vec(Tag::ColorMap)
        .map_err(|e| decode_err(format!("a palette page without a usable colour map ({e})")))?;
    let n = 1usize << bits;
    if map.len() != 3 * n {
        return Err(decode_err(format!(
            "the colour map has {} entries, not 3 × {n}",
            map.len()
        )));
    }
    // The map lists all reds, then all greens, then all blues, in 16 bits.
    Ok((0..n)
        .map(|i| {
            luma(
                (map[i] >> 8) as u8,
                (map[n + i] >> 8) as u8,
                (map[2 * n + i] >> 8) as u8,
            )
        })
        .collect())
}

/// The page strip by strip (or tile by tile) into its gray image: only the gray page and one
/// chunk's samples are held.
fn decode_chunks(
    dec: &mut Decoder<PageView<'_>>,
    file_len: usize,
    (w, h): (u32, u32),
    palette: Option<&[u8]>,
) -> Result<GrayImage, InputError> {
    let colour = dec.colortype().map_err(decode_err)?;
    let planar = dec
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(decode_err)?;
    if planar == Some(2) && colour.num_samples() > 1 {
        return Err(decode_err(
            "colour planes stored apart (PlanarConfiguration 2) are not read: save the scan as PNG, JPEG or an ordinary TIFF",
        ));
    }
    let (chunks, across) = match dec.get_chunk_type() {
        ChunkType::Strip => (dec.strip_count().map_err(decode_err)?, 1),
        ChunkType::Tile => {
            let (cw, _) = dec.chunk_dimensions();
            (dec.tile_count().map_err(decode_err)?, w.div_ceil(cw.max(1)))
        }
    };
    chunks_in_file(dec, file_len)?;
    let (cw, ch) = dec.chunk_dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let mut out = vec![255u8; wu * hu];
    for i in 0..chunks {
        let (dw, dh) = dec.chunk_data_dimensions(i);
        let (x0, y0) = ((i % across) * cw, (i / across) * ch);
        if u64::from(x0) + u64::from(dw) > u64::from(w)
            || u64::from(y0) + u64::from(dh) > u64::from(h)
        {
            return Err(decode_err(format!(
                "strip or tile {i} lies outside the page"
            )));
        }
        let data = dec.read_chunk(i).map_err(decode_err)?;
        let (x0, y0, dw, dh) = (x0 as usize, y0 as usize, dw as usize, dh as usize);
        for y in 0..dh {
            let row = &mut out[(y0 + y) * wu + x0..(y0 + y) * wu + x0 + dw];
            gray_row(colour, &data, dw, y, palette, row)
                .ok_or_else(|| decode_err(format!("unexpected TIFF sample layout {colour:?}")))?;
        }
    }
    GrayImage::from_raw(w, h, out).ok_or_else(|| decode_err("bad TIFF buffer"))
}

/// Refuses a page any of whose strips or tiles the file ends before, before one is decoded: a
/// file cut short (copied or saved before the scanner finished writing it) is never read in
/// part, whatever its compression.
fn chunks_in_file(dec: &mut Decoder<PageView<'_>>, file_len: usize) -> Result<(), InputError> {
    let (offsets, counts) = match dec.get_chunk_type() {
        ChunkType::Strip => (Tag::StripOffsets, Tag::StripByteCounts),
        ChunkType::Tile => (Tag::TileOffsets, Tag::TileByteCounts),
    };
    let offsets = dec.get_tag_u64_vec(offsets).map_err(decode_err)?;
    let counts = dec.get_tag_u64_vec(counts).map_err(decode_err)?;
    let cut = offsets
        .iter()
        .zip(&counts)
        .position(|(&at, &n)| at.checked_add(n).is_none_or(|end| end > file_len as u64));
    match cut {
        Some(i) => Err(decode_err(format!(
            "the file ends before strip or tile {} of this page: it was cut short (saved or \
             copied before the scanner finished?)",
            i + 1
        ))),
        None => Ok(()),
    }
}

/// Row `y` of a chunk `dw` pixels wide, as gray. `None` for a sample layout not read (or a
/// chunk shorter than its size says).
fn gray_row(
    colour: ColorType,
    data: &DecodingResult,
    dw: usize,
    y: usize,
    palette: Option<&[u8]>,
    row: &mut [u8],
) -> Option<()> {
    let look = |v: u8| palette.map_or(Some(v), |p| p.get(usize::from(v)).copied());
    match (colour, data) {
        (ColorType::Gray(bits @ (1 | 2 | 4)), DecodingResult::U8(buf)) => {
            let stride = (dw * usize::from(bits)).div_ceil(8);
            let line = buf.get(y * stride..(y + 1) * stride)?;
            let max = (1u16 << bits) - 1;
            for (x, o) in row.iter_mut().enumerate() {
                let bit = x * usize::from(bits);
                let v = (line[bit / 8] >> (8 - usize::from(bits) - bit % 8)) & max as u8;
                *o = match palette {
                    Some(_) => look(v)?,
                    None => (u16::from(v) * 255 / max) as u8,
                };
            }
        }
        (ColorType::Gray(8), DecodingResult::U8(buf)) => {
            for (o, &v) in row.iter_mut().zip(buf.get(y * dw..(y + 1) * dw)?) {
                *o = look(v)?;
            }
        }
        (ColorType::Gray(16), DecodingResult::U16(buf)) if palette.is_none() => {
            for (o, &v) in row.iter_mut().zip(buf.get(y * dw..(y + 1) * dw)?) {
                *o = (v >> 8) as u8;
            }
        }
        (ColorType::GrayA(8), DecodingResult::U8(buf)) if palette.is_none() => {
            let line = buf.get(y * dw * 2..(y + 1) * dw * 2)?;
            for (o, px) in row.iter_mut().zip(line.chunks_exact(2)) {
                *o = on_white(px[0], px[1]);
            }
        }
        (ColorType::RGB(8) | ColorType::RGBA(8), DecodingResult::U8(buf)) if palette.is_none() => {
            let n = colour.num_samples() as usize;
            let line = buf.get(y * dw * n..(y + 1) * dw * n)?;
            for (o, px) in row.iter_mut().zip(line.chunks_exact(n)) {
                let v = luma(px[0], px[1], px[2]);
                *o = if n == 4 { on_white(v, px[3]) } else { v };
            }
        }
        (ColorType::RGB(16) | ColorType::RGBA(16), DecodingResult::U16(buf))
            if palette.is_none() =>
        {
            let n = colour.num_samples() as usize;
            let line = buf.get(y * dw * n..(y + 1) * dw * n)?;
            for (o, px) in row.iter_mut().zip(line.chunks_exact(n)) {
                let v = luma((px[0] >> 8) as u8, (px[1] >> 8) as u8, (px[2] >> 8) as u8);
                *o = if n == 4 {
                    on_white(v, (px[3] >> 8) as u8)
                } else {
                    v
                };
            }
        }
        _ => return None,
    }
    Some(())
}

/// A bilevel fax page (Compression 2, 3 or 4), strip by strip, straight into its gray image.
fn decode_fax(
    bytes: &[u8],
    dec: &mut Decoder<PageView<'_>>,
    (w, h): (u32, u32),
    compression: u32,
    photometric: Option<u32>,
) -> Result<GrayImage, InputError> {
    use hayro_ccitt::{DecodeSettings, DecoderContext, EncodingMode};
    if dec.get_chunk_type() == ChunkType::Tile {
        return Err(decode_err("a fax page stored in tiles is not read"));
    }
    let tag = |dec: &mut Decoder<PageView<'_>>, t: Tag| {
        dec.find_tag_unsigned::<u32>(t).map_err(decode_err)
    };
    let bits = tag(dec, Tag::BitsPerSample)?.unwrap_or(1);
    if bits != 1 {
        return Err(decode_err(format!(
            "a fax-compressed page of {bits} bits per pixel (fax pages are black and white)"
        )));
    }
    let offsets = dec.get_tag_u64_vec(Tag::StripOffsets).map_err(decode_err)?;
    let counts = dec
        .get_tag_u64_vec(Tag::StripByteCounts)
        .map_err(decode_err)?;
    let rows_per_strip = tag(dec, Tag::RowsPerStrip)?.unwrap_or(h).clamp(1, h);
    let strips = h.div_ceil(rows_per_strip) as usize;
    if offsets.len() < strips || counts.len() < strips {
        return Err(decode_err(format!(
            "the page needs {strips} strips, its directory lists {}",
            offsets.len().min(counts.len())
        )));
    }
    // FillOrder 2: the first pixel of each byte is its lowest bit.
    let reversed = tag(dec, Tag::FillOrder)? == Some(2);
    let t4 = tag(dec, T4_OPTIONS)?.unwrap_or(0);
    let encoding = match compression {
        2 => EncodingMode::Group3_1D,
        3 if t4 & 1 == 1 => EncodingMode::Group3_2D,
        3 => EncodingMode::Group3_1D,
        _ => EncodingMode::Group4,
    };
    // Fax codes runs of white and black; a pixel of a black run has the value 1, which is
    // black under WhiteIsZero (photometric 0, what fax pages use and the default) and white
    // under BlackIsZero.
    let (black, white) = if photometric == Some(1) {
        (255, 0)
    } else {
        (0, 255)
    };
    let (wu, hu) = (w as usize, h as usize);
    let mut sink = crate::input::pdf::CcittSink {
        out: vec![white; wu * hu],
        width: wu,
        rows: 0,
        max_rows: 0,
        black,
    };
    for s in 0..strips {
        let first = s * rows_per_strip as usize;
        let rows = (rows_per_strip as usize).min(hu - first);
        let data = usize::try_from(offsets[s])
            .ok()
            .zip(usize::try_from(counts[s]).ok())
            .and_then(|(at, n)| bytes.get(at..at.checked_add(n)?))
            .ok_or_else(|| decode_err(format!("strip {} lies outside the file", s + 1)))?;
        let flipped: Vec<u8>;
        let data = if reversed {
            flipped = data.iter().map(|b| b.reverse_bits()).collect();
            &flipped[..]
        } else {
            data
        };
        let settings = DecodeSettings {
            columns: w,
            rows: rows as u32,
            // Modified Huffman (2) has neither EOLs nor an end-of-block; each row starts on
            // a byte. T.4 (3) has EOLs, byte-aligned when T4Options bit 2 says so.
            end_of_block: compression != 2,
            end_of_line: compression == 3,
            rows_are_byte_aligned: compression == 2 || (compression == 3 && t4 & 4 != 0),
            encoding,
            strict: false,
        };
        sink.rows = first;
        sink.max_rows = first + rows;
        let result = hayro_ccitt::decode(data, &mut sink, &mut DecoderContext::new(settings));
        if sink.rows < first + rows {
            // A short strip would read as blank paper where rows are missing: refuse it.
            return Err(decode_err(match result {
                Err(e) => format!("fax data broken after row {} of {h}: {e}", sink.rows),
                Ok(_) => format!("fax data ends after row {} of {h}", sink.rows),
            }));
        }
    }
    GrayImage::from_raw(w, h, sink.out).ok_or_else(|| decode_err("bad fax page buffer"))
}
