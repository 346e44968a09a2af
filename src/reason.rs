//! Why a page is not plainly counted: the reason codes of `ballots.csv` (the README's reason
//! table is the list users read; a test below keeps the two the same).
//!
//! One enum, so a new reason makes every `match` that must handle it fail to compile, and a
//! code cannot be misspelt or renamed on its way through the pipeline. Files hold the code as
//! the same snake_case string in every language; [`crate::i18n::reason`] explains it.

use std::fmt;
use std::str::FromStr;

/// A reason code, written as its snake_case [`Reason::as_str`] in every file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    // Rejected: the file or page could not be read as a ballot.
    /// The file or folder cannot be read (missing, a FIFO or device, a link loop, changed
    /// while read).
    UnreadableFile,
    /// Empty, or not PNG, JPEG, TIFF or PDF content whatever its name says.
    NotAnImage,
    /// A damaged or truncated image: refused, never read in part.
    DecodeError,
    /// More than 60 Mpx claimed: refused before decoding (decompression bombs).
    ImageTooLarge,
    /// A PDF whose structure cannot be read.
    BadPdf,
    /// A PDF that needs a password to open.
    EncryptedPdf,
    /// A PDF page without one page-sized scanned image (vector text, a small picture).
    NotAScannedPage,
    /// A PDF image in a format not read (Separation colours, layered scans).
    UnsupportedPdfImage,
    /// No QR code found: not a ballot, a blank sheet, or a destroyed code.
    NoQr,
    /// A QR code that is not a ballotscan ballot's.
    BadPayload,
    /// With a signing key: the ballot is unsigned or its signature is wrong.
    BadSignature,
    /// The QR code's form id and version are not among the loaded forms.
    UnknownForm,
    /// Too few fiducials found, or the page does not fit a flat sheet.
    AlignmentFailed,
    // Review: a person must look.
    /// A box scored between the two thresholds.
    AmbiguousMark,
    /// A heavily inked box beside another mark on a single-choice question: a crossed-out answer?
    PossibleCorrection,
    /// Several marks that do not all stand clearly above their row (a fold's shadow, a toner band).
    BackgroundInRow,
    /// The page fit is off by more than [`crate::scan::REVIEW_FIT_ERROR_MM`].
    PoorAlignment,
    /// The ballot's unit is not in the units registry.
    UnknownUnit,
    /// The same ballot (form, unit, serial) seen again with different answers: a photocopy?
    DuplicateConflict,
    // Invalid: read, but nothing to count.
    /// No question answered.
    BlankBallot,
    /// Fewer countable answers than the form's `rules.min_answered`.
    NoCountableAnswer,
    // Counted or invalid: a note.
    /// A single-choice question had several marks (`MULTI`, not counted): a note, not a verdict.
    MultiMark,
    // Duplicate: counted once, elsewhere.
    /// The same ballot seen again with the same answers (or keyed again): counted once.
    Duplicate,
    /// A file with exactly the content of an earlier file.
    DuplicateFile,
    // Set by `tally`: an auditor's `REJECT`.
    /// An auditor's `REJECT` decision.
    AuditorRejected,
    // Set by `scan --voided` or `tally`: a serial voided with `ballotscan void`.
    /// A serial voided with `ballotscan void`: read in full, never counted.
    VoidedSerial,
}

impl Reason {
    /// Every reason, in the README table's order.
    pub const ALL: [Reason; 26] = [
        Reason::UnreadableFile,
        Reason::NotAnImage,
        Reason::DecodeError,
        Reason::ImageTooLarge,
        Reason::BadPdf,
        Reason::EncryptedPdf,
        Reason::NotAScannedPage,
        Reason::UnsupportedPdfImage,
        Reason::NoQr,
        Reason::BadPayload,
        Reason::BadSignature,
        Reason::UnknownForm,
        Reason::AlignmentFailed,
        Reason::AmbiguousMark,
        Reason::PossibleCorrection,
        Reason::BackgroundInRow,
        Reason::PoorAlignment,
        Reason::UnknownUnit,
        Reason::DuplicateConflict,
        Reason::BlankBallot,
        Reason::NoCountableAnswer,
        Reason::MultiMark,
        Reason::Duplicate,
        Reason::DuplicateFile,
        Reason::AuditorRejected,
        Reason::VoidedSerial,
    ];

    /// The code as files and people's tools see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnreadableFile => "unreadable_file",
            Reason::NotAnImage => "not_an_image",
            Reason::DecodeError => "decode_error",
            Reason::ImageTooLarge => "image_too_large",
            Reason::BadPdf => "bad_pdf",
            Reason::EncryptedPdf => "encrypted_pdf",
            Reason::NotAScannedPage => "not_a_scanned_page",
            Reason::UnsupportedPdfImage => "unsupported_pdf_image",
            Reason::NoQr => "no_qr",
            Reason::BadPayload => "bad_payload",
            Reason::BadSignature => "bad_signature",
            Reason::UnknownForm => "unknown_form",
            Reason::AlignmentFailed => "alignment_failed",
            Reason::AmbiguousMark => "ambiguous_mark",
            Reason::PossibleCorrection => "possible_correction",
            Reason::BackgroundInRow => "background_in_row",
            Reason::PoorAlignment => "poor_alignment",
            Reason::UnknownUnit => "unknown_unit",
            Reason::DuplicateConflict => "duplicate_conflict",
            Reason::BlankBallot => "blank_ballot",
            Reason::NoCountableAnswer => "no_countable_answer",
            Reason::MultiMark => "multi_mark",
            Reason::Duplicate => "duplicate",
            Reason::DuplicateFile => "duplicate_file",
            Reason::AuditorRejected => "auditor_rejected",
            Reason::VoidedSerial => "voided_serial",
        }
    }

    /// Reasons as `ballots.csv` writes them: `;`-separated, in order.
    pub fn join(reasons: &[Reason], separator: &str) -> String {
        reasons
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(separator)
    }

    /// The reasons of a `reasons` cell (`;`-separated; empty for none).
    pub fn parse_list(cell: &str) -> Result<Vec<Reason>, UnknownReason> {
        if cell.is_empty() {
            return Ok(Vec::new());
        }
        cell.split(';').map(str::parse).collect()
    }

    /// The page image is there but the scanner could not read it as a ballot (no QR code, a
    /// QR code that is not a ballot's, a form it does not know, no alignment): an auditor may
    /// key its unit, serial and answers from the image (a `KEYED` decision). A forged
    /// signature, a voided serial or an undecodable file is never keyed.
    pub fn can_be_keyed(self) -> bool {
        matches!(
            self,
            Reason::NoQr | Reason::BadPayload | Reason::UnknownForm | Reason::AlignmentFailed
        )
    }

    /// The scan never had a page image: no image is expected for review.
    pub fn has_no_image(self) -> bool {
        matches!(
            self,
            Reason::UnreadableFile | Reason::NotAnImage | Reason::ImageTooLarge
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code that is not one of [`Reason::ALL`] (a damaged file, or one from a newer version).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown reason code {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Reason, UnknownReason> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_string()))
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Reason, D::Error> {
        let s = <std::borrow::Cow<str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_readme_reason_table_lists_exactly_the_codes() {
        let readme = include_str!("../README.md");
        let table: Vec<&str> = readme
            .lines()
            .skip_while(|l| !l.starts_with("#### Reason codes"))
            .skip(1)
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2) // header and rule
            .filter_map(|l| l.split('`').nth(1))
            .collect();
        let enum_codes: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(table, enum_codes, "README reason table vs Reason::ALL");
    }

    #[test]
    fn every_code_reads_back_as_itself_and_nothing_else_reads() {
        let distinct: BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(distinct.len(), Reason::ALL.len());
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
            assert_eq!(r.to_string(), r.as_str());
            let json = serde_json::to_string(&r).expect("serialises");
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&json).ok(), Some(r));
        }
        assert!("Ambiguous_mark".parse::<Reason>().is_err());
        assert!("".parse::<Reason>().is_err());
    }

    #[test]
    fn a_reasons_cell_reads_back_in_order() {
        let cell = "ambiguous_mark;poor_alignment;multi_mark";
        let got = Reason::parse_list(cell).expect("known codes");
        assert_eq!(
            got,
            [
                Reason::AmbiguousMark,
                Reason::PoorAlignment,
                Reason::MultiMark
            ]
        );
        assert_eq!(Reason::join(&got, ";"), cell);
        assert_eq!(Reason::parse_list(""), Ok(Vec::new()));
        assert_eq!(
            Reason::parse_list("no_qr;from_the_future"),
            Err(UnknownReason("from_the_future".into()))
        );
    }
}
