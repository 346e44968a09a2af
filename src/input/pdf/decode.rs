//! An image XObject or inline image decoded to gray: raw samples unpacked, and the image codecs —
//! DCTDecode (the shared JPEG path, with tiff2pdf's stray markers repaired), CCITTFaxDecode
//! (`hayro-ccitt`), JBIG2Decode (`hayro-jbig2`) and JPXDecode (`hayro-jpeg2000`).

use hayro_syntax::object::Dict;
use hayro_syntax::object::Stream;
use hayro_syntax::page::Resources;
use image::GrayImage;

use super::colour::{parse_colour, Colour, SampleMap};
use super::image_dict::{apply_chain, decode_stream, filter_chain, FilterKind, ImageDict};
use super::{decode_err, unsupported, Limits, PageResult, PdfPageError};
use crate::input::luma;

pub(super) fn check_pixels(width: u64, height: u64, limits: &Limits) -> PageResult<usize> {
    let too_large = PdfPageError::TooLarge { width, height };
    let pixels = width.checked_mul(height).ok_or(too_large)?;
    if pixels > limits.max_pixels || width > u32::MAX as u64 || height > u32::MAX as u64 {
        return Err(PdfPageError::TooLarge { width, height });
    }
    usize::try_from(pixels).map_err(|_| PdfPageError::TooLarge { width, height })
}

pub(super) fn decode_image(
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
    use crate::input::jpeg::ColorSpace;

    let jpeg = crate::input::jpeg::open(data, limits.max_pixels)?;
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

impl From<crate::input::jpeg::JpegError> for PdfPageError {
    fn from(e: crate::input::jpeg::JpegError) -> PdfPageError {
        match e {
            crate::input::jpeg::JpegError::Truncated | crate::input::jpeg::JpegError::Decode(_) => {
                PdfPageError::Decode(e.to_string())
            }
            crate::input::jpeg::JpegError::TooLarge { width, height } => {
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
pub(in crate::input) struct CcittSink {
    pub(in crate::input) out: Vec<u8>,
    pub(in crate::input) width: usize,
    /// Rows written so far; the next row goes to `out` at this row.
    pub(in crate::input) rows: usize,
    /// Rows past this one are dropped (a fax strip that holds more rows than it should).
    pub(in crate::input) max_rows: usize,
    pub(in crate::input) black: u8,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
