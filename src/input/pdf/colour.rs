//! Image colour spaces reduced to gray: DeviceGray/RGB/CMYK, CalGray/CalRGB, ICCBased by /N,
//! Indexed over those, /ImageMask and /Decode arrays, as per-component lookup tables.

use hayro_syntax::object::Object;
use hayro_syntax::page::Resources;

use super::image_dict::decode_stream;
use super::{decode_err, unsupported, Limits, PageResult};
use crate::input::luma;

/// An image colour space, reduced to what gray conversion needs.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Colour {
    Gray,
    Rgb,
    Cmyk,
    /// Palette already converted to gray, one entry per index.
    Indexed(Vec<u8>),
}

impl Colour {
    pub(super) fn components(&self) -> usize {
        match self {
            Colour::Gray | Colour::Indexed(_) => 1,
            Colour::Rgb => 3,
            Colour::Cmyk => 4,
        }
    }

    /// Gray of one colour given as 0–255 component values.
    pub(super) fn gray_of(&self, comps: &[u8]) -> u8 {
        match (self, comps) {
            (Colour::Rgb, [r, g, b, ..]) => luma(*r, *g, *b),
            (Colour::Cmyk, [c, m, y, k, ..]) => cmyk_gray(*c, *m, *y, *k),
            (Colour::Indexed(p), [i, ..]) => p.get(*i as usize).copied().unwrap_or(0),
            (_, [g, ..]) => *g,
            _ => 0,
        }
    }
}

/// Naive CMYK → RGB ((1−c)(1−k) …) then luma; no ICC profile, which is plenty for gray marks.
#[inline]
fn cmyk_gray(c: u8, m: u8, y: u8, k: u8) -> u8 {
    let kk = 255 - k as u32;
    let ch = |v: u8| ((255 - v as u32) * kk / 255) as u8;
    luma(ch(c), ch(m), ch(y))
}

pub(super) fn parse_colour(
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
pub(super) struct SampleMap {
    /// One table per component, indexed by the sample value (the high byte for 16-bit samples).
    pub(super) luts: Vec<[u8; 256]>,
    pub(super) colour: Colour,
}

impl SampleMap {
    /// `bpc` is the sample depth in the data (16-bit samples are looked up by their high byte).
    pub(super) fn new(
        colour: Colour,
        bpc: u32,
        decode: Option<&[f64]>,
        image_mask: bool,
    ) -> SampleMap {
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

    pub(super) fn is_single(&self) -> bool {
        self.luts.len() == 1
    }

    pub(super) fn gray(&self, samples: &[u8]) -> u8 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
