//! The general PDF filters, each bounded in output: FlateDecode and LZWDecode (with PNG and TIFF
//! predictors), RunLengthDecode, ASCIIHexDecode and ASCII85Decode.

use std::io::Read;

use hayro_syntax::object::Dict;

/// Inflates zlib (or, for broken writers, raw deflate) data. A stream cut short yields what it
/// holds; the image decoder then reports missing rows.
pub(super) fn inflate(data: &[u8], cap: usize) -> Result<(Vec<u8>, bool), String> {
    // An empty stream holds nothing (qpdf writes a blank page's content that way when it
    // turns the page into a form XObject); zlib would call it cut short.
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok((Vec::new(), false));
    }
    pub(super) fn run<R: Read>(reader: R, cap: usize) -> (Vec<u8>, bool, bool) {
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

pub(super) fn lzw(data: &[u8], early_change: bool, cap: usize) -> Result<(Vec<u8>, bool), String> {
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

pub(super) fn run_length(data: &[u8], cap: usize) -> Result<(Vec<u8>, bool), String> {
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

pub(super) fn ascii_hex(data: &[u8]) -> Result<Vec<u8>, String> {
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

pub(super) fn ascii85(data: &[u8]) -> Result<Vec<u8>, String> {
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
pub(super) struct Predictor {
    pub(super) kind: i64,
    /// Bytes per decoded row.
    pub(super) row_bytes: usize,
    /// Bytes per pixel, at least 1 (the PNG filters' left neighbour distance).
    bpp: usize,
    bits_per_component: u32,
}

impl Predictor {
    pub(super) fn from_params(params: &Dict<'_>) -> Result<Predictor, String> {
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
    pub(super) fn encoded_len(&self, decoded: usize) -> usize {
        if self.is_png() && self.row_bytes > 0 {
            let rows = decoded.div_ceil(self.row_bytes);
            rows.saturating_mul(self.row_bytes + 1)
        } else {
            decoded
        }
    }

    pub(super) fn apply(&self, data: Vec<u8>) -> Result<Vec<u8>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn empty_flate_stream_is_empty() {
        assert_eq!(inflate(b"", 100).unwrap(), (Vec::new(), false));
        assert_eq!(inflate(b"\r\n", 100).unwrap(), (Vec::new(), false));
        // Data that is not Flate at all is still an error.
        assert!(inflate(&[0xFF; 8], 100).is_err());
    }
}
