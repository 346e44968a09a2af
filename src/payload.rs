//! The QR payload that identifies one printed ballot.
//!
//! Text form, kept to the QR alphanumeric character set so the code stays small:
//!
//! ```text
//! BS1:<form id>:<form version>:<unit code>:<serial>[:<signature>]
//! BS1:CSAT:1:P-ANBIEN:000123:4F0A9C21D3B7
//! ```
//!
//! `BS1` is the payload format version. The serial is decimal, zero-padded to six digits. The
//! optional signature is the first 48 bits of HMAC-SHA256 over everything before it, in upper
//! case hex, with a key the office keeps: a ballot with a made-up serial fails the check.
//!
//! The parser is strict and total: any byte string gives a [`Payload`] or a [`PayloadError`].

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::form::is_valid_id;
use crate::i18n::Msg;

/// The first field of every ballot payload: "ballotscan, format 1".
const PREFIX: &str = "BS1";
/// Hex digits of the truncated HMAC (48 bits: a forger's guess succeeds once in 2.8·10¹⁴).
const SIGNATURE_HEX_LEN: usize = 12;
/// Serials are printed with at least this many digits.
pub const SERIAL_DIGITS: usize = 6;
/// Longer payloads are refused before any other work: a hostile QR code could hold kilobytes.
const MAX_LEN: usize = 160;

/// What a ballot's QR code says: which form, which unit, which serial, and the office's
/// signature when ballots are signed.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Payload {
    /// The form id printed on the ballot.
    pub form: String,
    /// The form's version.
    pub version: u32,
    /// The unit the ballot was issued to.
    pub unit: String,
    /// The ballot's serial within its unit.
    pub serial: u32,
    /// Upper-case hex, as printed; `None` for an unsigned ballot.
    pub signature: Option<String>,
}

/// Why a QR code's text is not a ballot's (reason `bad_payload`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Longer than any ballot payload: refused before it is looked at.
    #[error("the QR code holds {0} bytes, more than a ballot payload ever has")]
    TooLong(usize),
    /// Not UTF-8 text.
    #[error("the QR code is not text (not UTF-8)")]
    NotText,
    /// Text that does not start with this program's prefix.
    #[error("not a ballotscan payload (it does not start with {PREFIX}:)")]
    NotBallot,
    /// Not 5 fields (6 when signed).
    #[error("the payload has {0} fields; a ballot has 5 (or 6 when signed)")]
    FieldCount(usize),
    /// A field that is not a valid id, version, unit or serial.
    #[error("bad {field} {value:?} in the payload")]
    BadField {
        /// Which field (`form`, `version`, `unit`, `serial`).
        field: &'static str,
        /// What it held.
        value: String,
    },
}

/// The office's signing key, read from a file.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

/// A key file that cannot serve; shown in the run's language.
#[derive(Debug)]
pub enum KeyError {
    /// The key file cannot be read.
    Read {
        /// The key file as given.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The key file holds too few bytes to be a secret (its path given).
    TooShort(String),
}

impl KeyError {
    fn message(&self) -> Msg {
        match self {
            KeyError::Read { path, source } => {
                Msg::new("key_error.unreadable", &[("path", path), ("error", source)])
            }
            KeyError::TooShort(path) => Msg::new("key_error.too_short", &[("path", path)]),
        }
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.message().fmt(f)
    }
}

/// No `source`: the message already says what the system said, and `{:#}` would repeat it.
impl std::error::Error for KeyError {}

impl SigningKey {
    /// The key is the file's bytes, with surrounding white space trimmed so an editor's final
    /// newline does not change it.
    pub fn from_file(path: &std::path::Path) -> Result<SigningKey, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let trimmed = bytes.trim_ascii();
        if trimmed.len() < 16 {
            return Err(KeyError::TooShort(path.display().to_string()));
        }
        Ok(SigningKey(trimmed.to_vec()))
    }

    /// A key given as its bytes (for tests and programs that hold the key themselves).
    pub fn from_bytes(bytes: &[u8]) -> SigningKey {
        SigningKey(bytes.to_vec())
    }

    /// A value that tells keys apart without giving the key away (an HMAC of a fixed text):
    /// `pages.jsonl` records it, so pages read with another key are read again.
    pub fn fingerprint(&self) -> String {
        crate::scan::hex(&self.mac("ballotscan pages.jsonl").finalize().into_bytes())
    }

    fn mac(&self, body: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(body.as_bytes());
        mac
    }
}

/// What a signature check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    /// No key was given: signatures are not checked.
    NotChecked,
    /// Signed with the key given.
    Valid,
    /// A key was given and the ballot is unsigned.
    Missing,
    /// A key was given and the signature is not the one it makes: altered or forged.
    Invalid,
}

impl Payload {
    /// An unsigned ballot's payload.
    pub fn new(form: &str, version: u32, unit: &str, serial: u32) -> Payload {
        Payload {
            form: form.to_string(),
            version,
            unit: unit.to_string(),
            serial,
            signature: None,
        }
    }

    /// The text without the signature: what the signature covers.
    fn body(&self) -> String {
        format!(
            "{PREFIX}:{}:{}:{}:{:0width$}",
            self.form,
            self.version,
            self.unit,
            self.serial,
            width = SERIAL_DIGITS
        )
    }

    /// The payload signed with the office's key.
    pub fn signed(mut self, key: &SigningKey) -> Payload {
        let tag = key.mac(&self.body()).finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02X}")).collect();
        self.signature = Some(hex[..SIGNATURE_HEX_LEN].to_string());
        self
    }

    /// The text stored in the QR code (and printed under it).
    pub fn encode(&self) -> String {
        match &self.signature {
            Some(s) => format!("{}:{s}", self.body()),
            None => self.body(),
        }
    }

    /// The serial as printed and as the CSVs write it: at least six digits, `000123`.
    pub fn serial_text(&self) -> String {
        format!("{:0width$}", self.serial, width = SERIAL_DIGITS)
    }

    /// Reads a QR code's text as a ballot's payload.
    pub fn parse(bytes: &[u8]) -> Result<Payload, PayloadError> {
        if bytes.len() > MAX_LEN {
            return Err(PayloadError::TooLong(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| PayloadError::NotText)?;
        let fields: Vec<&str> = text.split(':').collect();
        if fields[0] != PREFIX {
            return Err(PayloadError::NotBallot);
        }
        if fields.len() != 5 && fields.len() != 6 {
            return Err(PayloadError::FieldCount(fields.len()));
        }
        let bad = |field: &'static str, value: &str| PayloadError::BadField {
            field,
            value: value.chars().take(40).collect(),
        };
        let form = fields[1];
        if !is_valid_id(form) {
            return Err(bad("form id", form));
        }
        let version = parse_decimal(fields[2], 5)
            .filter(|v| (1..=65535).contains(v))
            .ok_or_else(|| bad("form version", fields[2]))?;
        let unit = fields[3];
        if !is_valid_id(unit) {
            return Err(bad("unit code", unit));
        }
        let serial = Some(fields[4])
            .filter(|s| s.len() >= SERIAL_DIGITS)
            .and_then(|s| parse_decimal(s, 9))
            .ok_or_else(|| bad("serial", fields[4]))?;
        let signature = match fields.get(5) {
            None => None,
            Some(s)
                if s.len() == SIGNATURE_HEX_LEN
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) =>
            {
                Some(s.to_string())
            }
            Some(s) => return Err(bad("signature", s)),
        };
        let p = Payload {
            form: form.to_string(),
            version,
            unit: unit.to_string(),
            serial,
            signature,
        };
        // Canonical form only: one ballot has one payload text, so duplicates are exact.
        if p.encode() != text {
            return Err(bad("serial", fields[4]));
        }
        Ok(p)
    }

    /// Whether the ballot is signed with `key` (checked only when a key is given).
    pub fn check_signature(&self, key: Option<&SigningKey>) -> SignatureCheck {
        let Some(key) = key else {
            return SignatureCheck::NotChecked;
        };
        let Some(sig) = &self.signature else {
            return SignatureCheck::Missing;
        };
        let expected = self.clone().signed(key);
        // Constant-time comparison of the truncated tag.
        let a = sig.as_bytes();
        let b = expected.signature.as_deref().unwrap_or("").as_bytes();
        if a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0 {
            SignatureCheck::Valid
        } else {
            SignatureCheck::Invalid
        }
    }
}

fn parse_decimal(s: &str, max_digits: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_plain_and_signed() {
        let p = Payload::new("CSAT", 1, "P-ANBIEN", 123);
        assert_eq!(p.encode(), "BS1:CSAT:1:P-ANBIEN:000123");
        assert_eq!(Payload::parse(p.encode().as_bytes()), Ok(p.clone()));
        let key = SigningKey::from_bytes(b"0123456789abcdef0123");
        let s = p.signed(&key);
        let back = Payload::parse(s.encode().as_bytes()).expect("parses");
        assert_eq!(back.check_signature(Some(&key)), SignatureCheck::Valid);
        let other = SigningKey::from_bytes(b"another key entirely!!");
        assert_eq!(back.check_signature(Some(&other)), SignatureCheck::Invalid);
    }

    #[test]
    fn a_changed_serial_breaks_the_signature() {
        let key = SigningKey::from_bytes(b"0123456789abcdef0123");
        let mut s = Payload::new("CSAT", 1, "P-ANBIEN", 123).signed(&key);
        s.serial = 124;
        assert_eq!(s.check_signature(Some(&key)), SignatureCheck::Invalid);
        let unsigned = Payload::new("CSAT", 1, "P-ANBIEN", 123);
        assert_eq!(
            unsigned.check_signature(Some(&key)),
            SignatureCheck::Missing
        );
    }

    #[test]
    fn non_canonical_texts_are_refused() {
        for t in [
            "BS1:CSAT:1:P-ANBIEN:123",
            "BS1:CSAT:01:P-ANBIEN:000123",
            "BS1:CSAT:1:P-ANBIEN:0000123",
            "BS1:CSAT:1:P-ANBIEN:000123:abcdefabcdef",
            "BS1:CSAT:0:P-ANBIEN:000123",
            "BS1:CS AT:1:P-ANBIEN:000123",
            "BS2:CSAT:1:P-ANBIEN:000123",
            "",
        ] {
            assert!(Payload::parse(t.as_bytes()).is_err(), "{t}");
        }
    }

    proptest! {
        #[test]
        fn parse_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Payload::parse(&bytes);
        }

        #[test]
        fn parse_is_total_on_near_payloads(s in "BS1(:[A-Z0-9:.-]{0,12}){0,7}") {
            if let Ok(p) = Payload::parse(s.as_bytes()) {
                prop_assert_eq!(p.encode(), s);
            }
        }

        #[test]
        fn encode_parse_round_trip(form in "[A-Z0-9_.-]{1,12}", version in 1u32..=65535,
                                   unit in "[A-Z0-9-]{1,20}", serial in 0u32..=999_999_999) {
            let p = Payload::new(&form, version, &unit, serial);
            prop_assert_eq!(Payload::parse(p.encode().as_bytes()), Ok(p));
        }
    }
}
