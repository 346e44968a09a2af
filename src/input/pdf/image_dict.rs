//! An image's dictionary, read under its long or inline-image short key names, and its filter
//! chain: which filters apply, in which order, run up to the image codec under a size cap.

use std::borrow::Cow;

use hayro_syntax::object::Dict;
use hayro_syntax::object::Name;
use hayro_syntax::object::Object;
use hayro_syntax::object::Stream;

use super::filters::{ascii85, ascii_hex, inflate, lzw, run_length, Predictor};
use super::{decode_err, unsupported, Limits, PageResult};

/// Looks up image dictionary keys, including the abbreviations of inline images.
pub(super) struct ImageDict<'d, 'a> {
    pub(super) dict: &'d Dict<'a>,
    pub(super) inline: bool,
}

impl<'a> ImageDict<'_, 'a> {
    pub(super) fn obj(&self, long: &[u8], short: &[u8]) -> Option<Object<'a>> {
        self.dict.get::<Object<'a>>(long).or_else(|| {
            if self.inline {
                self.dict.get::<Object<'a>>(short)
            } else {
                None
            }
        })
    }

    pub(super) fn uint(&self, long: &[u8], short: &[u8]) -> Option<u64> {
        match self.obj(long, short)? {
            Object::Number(n) => {
                let v = n.as_f64();
                (v.is_finite() && v >= 0.0).then_some(v.round() as u64)
            }
            _ => None,
        }
    }

    pub(super) fn flag(&self, long: &[u8], short: &[u8]) -> bool {
        matches!(self.obj(long, short), Some(Object::Boolean(true)))
    }

    pub(super) fn decode_array(&self) -> Option<Vec<f64>> {
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
pub(super) enum FilterKind {
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

    pub(super) fn is_image_codec(self) -> bool {
        matches!(
            self,
            FilterKind::Dct | FilterKind::Ccitt | FilterKind::Jbig2 | FilterKind::Jpx
        )
    }
}

type FilterChain<'a> = Vec<(FilterKind, Dict<'a>)>;

/// The stream's filters with their parameters, in decoding order. `Crypt` is dropped: hayro
/// already decrypts stream data.
pub(super) fn filter_chain<'a>(dict: &Dict<'a>, inline: bool) -> PageResult<FilterChain<'a>> {
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
pub(super) fn decode_stream<'a>(
    stream: &Stream<'a>,
    limits: &Limits,
) -> Result<Cow<'a, [u8]>, String> {
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
pub(super) fn apply_chain<'a>(
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
