//! JPEG data to samples, for every input that carries it: a `.jpg` file and a PDF page's
//! DCTDecode image go through this one path, so both refuse a cut-off JPEG and an oversized
//! one alike. What the samples mean (a PDF's /Decode array, its colour space) stays with the
//! caller: this module only says which colour space the file was coded in and hands over the
//! samples asked for.

use zune_jpeg::zune_core::bytestream::ZCursor;
pub use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// Why JPEG data gives no samples.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    /// The data stops before its end-of-image marker: a file cut short.
    #[error("JPEG data is truncated (no end-of-image marker)")]
    Truncated,
    /// Broken data.
    #[error("JPEG: {0}")]
    Decode(String),
    /// More pixels than the caller allows.
    #[error("the JPEG claims {width} × {height} pixels, more than a scanned page can have")]
    TooLarge { width: u64, height: u64 },
}

/// JPEG data whose headers were read and whose size is within the limit.
pub struct Jpeg<'a> {
    data: &'a [u8],
    pub width: u32,
    pub height: u32,
    /// The colour space the samples were coded in.
    pub coded: ColorSpace,
}

/// JPEG frame sizes are 16-bit: no decoder limit below this is needed besides the pixel one.
const MAX_SIDE: usize = 1 << 16;

/// How far from the end the end-of-image marker may lie: cameras and phones append data after
/// it (a maker's trailer, a motion photo's video), which is not the picture.
const EOI_WINDOW: usize = 1024;

/// Reads the headers of `data` and checks it is whole and at most `max_pixels` pixels.
///
/// zune-jpeg fills a cut-off JPEG with gray instead of failing: a missing end-of-image marker
/// is how a truncated scan shows, and a half-gray ballot must not be read.
pub fn open(data: &[u8], max_pixels: u64) -> Result<Jpeg<'_>, JpegError> {
    let tail = data
        .get(data.len().saturating_sub(EOI_WINDOW)..)
        .unwrap_or(data);
    if tail.windows(2).all(|p| p != [0xFF, 0xD9]) {
        return Err(JpegError::Truncated);
    }
    let mut dec =
        zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), options(ColorSpace::Luma));
    dec.decode_headers().map_err(decode_error)?;
    let (w, h) = dec
        .dimensions()
        .ok_or_else(|| JpegError::Decode("no dimensions".into()))?;
    let (width, height) = (w as u64, h as u64);
    if width == 0 || height == 0 || width.saturating_mul(height) > max_pixels {
        return Err(JpegError::TooLarge { width, height });
    }
    let coded = dec
        .input_colorspace()
        .ok_or_else(|| JpegError::Decode("no colour space".into()))?;
    Ok(Jpeg {
        data,
        width: w as u32,
        height: h as u32,
        coded,
    })
}

impl Jpeg<'_> {
    /// The samples converted to `out` (`Luma` from a YCbCr file decodes its Y channel only:
    /// chroma is never decoded or upsampled, the cheap path for scans), every pixel there.
    pub fn decode(&self, out: ColorSpace) -> Result<Vec<u8>, JpegError> {
        let mut dec =
            zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(self.data), options(out));
        let mut samples = dec.decode().map_err(decode_error)?;
        let want = self.width as usize * self.height as usize * out.num_components();
        if samples.len() < want {
            return Err(JpegError::Decode(format!(
                "decoded {} samples for {}×{} pixels",
                samples.len(),
                self.width,
                self.height
            )));
        }
        samples.truncate(want);
        Ok(samples)
    }
}

fn options(out: ColorSpace) -> DecoderOptions {
    DecoderOptions::default()
        .jpeg_set_out_colorspace(out)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE)
        .set_strict_mode(false)
}

fn decode_error(e: zune_jpeg::errors::DecodeErrors) -> JpegError {
    JpegError::Decode(e.to_string())
}
