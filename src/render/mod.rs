//! Drawing ballots: one list of shapes per ballot, rendered to PDF (for the printer) or to a
//! grayscale image (for PNG output, the synthetic scans and the tests).
//!
//! Both renderers draw the very same [`Shape`]s, so what the scanner expects is what was printed.

pub mod pdf;
pub mod raster;

use qrcode::{EcLevel, QrCode, Version};

use crate::i18n::Msg;
use crate::layout::{Layout, Shape, QR_MODULES, QR_VERSION};
use crate::payload::Payload;

/// Why a ballot could not be drawn; shown in the run's language (see [`crate::i18n::spoken`]).
#[derive(Debug)]
pub enum RenderError {
    /// The QR text (as encoded) is too long for the QR code's fixed size.
    PayloadTooLong(String),
    /// A text that does not fit its place even at the smallest size.
    TextTooLong(String),
    /// The embedded font (bold or not) could not be used: a fault of this program's build.
    Font {
        /// Whether the bold face was the one refused.
        bold: bool,
    },
    /// The PDF writer refused the A4 page size: a fault of this program.
    PageSize,
    /// The PDF writer failed; its own words, quoted as it said them.
    Pdf(String),
}

impl RenderError {
    /// The message, to be put into words in any language.
    pub fn message(&self) -> Msg {
        match self {
            // `quoted` as Rust quotes it (escapes shown), for the English message as it was;
            // the Vietnamese one sets the text in its own quotation marks.
            RenderError::PayloadTooLong(payload) => Msg::new(
                "render_error.payload_too_long",
                &[("payload", payload), ("quoted", &format!("{payload:?}"))],
            ),
            RenderError::TextTooLong(text) => Msg::new(
                "render_error.text_too_long",
                &[("text", text), ("quoted", &format!("{text:?}"))],
            ),
            RenderError::Font { bold: true } => Msg::new("render_error.bold_font", &[]),
            RenderError::Font { bold: false } => Msg::new("render_error.regular_font", &[]),
            RenderError::PageSize => Msg::new("render_error.page_size", &[]),
            RenderError::Pdf(why) => Msg::new("render_error.pdf", &[("why", why)]),
        }
    }
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.message().fmt(f)
    }
}

impl std::error::Error for RenderError {}

/// Everything printed on one ballot: the form's static shapes, the QR code, the identifier
/// under it and the unit's name.
pub fn ballot_shapes(
    layout: &Layout,
    payload: &Payload,
    unit_name: &str,
) -> Result<Vec<Shape>, RenderError> {
    let mut shapes = layout.shapes.clone();
    shapes.extend(ballot_specific_shapes(layout, payload, unit_name)?);
    Ok(shapes)
}

/// Only what differs from ballot to ballot: the QR code, the identifier and the unit's name.
pub fn ballot_specific_shapes(
    layout: &Layout,
    payload: &Payload,
    unit_name: &str,
) -> Result<Vec<Shape>, RenderError> {
    let text = payload.encode();
    let code = QrCode::with_version(text.as_bytes(), Version::Normal(QR_VERSION), EcLevel::M)
        .map_err(|_| RenderError::PayloadTooLong(text.clone()))?;
    debug_assert_eq!(code.width(), QR_MODULES);
    let mut shapes = Vec::new();
    for row in 0..code.width() {
        for col in 0..code.width() {
            if code[(col, row)] == qrcode::Color::Dark {
                shapes.push(Shape::Fill(layout.qr_module_rect(col, row)));
            }
        }
    }
    let mut id_lines = vec![
        format!("{} · {}", payload.unit, payload.serial_text()),
        format!("{} v{}", payload.form, payload.version),
    ];
    if let Some(sig) = &payload.signature {
        id_lines.push(sig.clone());
    }
    let id = layout
        .id_text(&id_lines)
        .ok_or_else(|| RenderError::TextTooLong(id_lines.join(" ")))?;
    shapes.extend(id.into_iter().map(Shape::Text));
    let unit = layout
        .unit_shapes(unit_name)
        .ok_or_else(|| RenderError::TextTooLong(unit_name.to_string()))?;
    shapes.extend(unit);
    Ok(shapes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn a_render_error_is_told_in_vietnamese_and_in_english() {
        let e = RenderError::TextTooLong("Công an phường An Biên".into());
        assert_eq!(
            e.message().in_lang(Lang::En),
            "the text \"Công an phường An Biên\" does not fit its place on the ballot even at the smallest size: shorten it"
        );
        let vi = e.message().in_lang(Lang::Vi);
        assert!(vi.contains("“Công an phường An Biên” không vừa"), "{vi}");
        for e in [
            RenderError::PayloadTooLong("BS1:X".into()),
            RenderError::Font { bold: true },
            RenderError::Font { bold: false },
            RenderError::PageSize,
            RenderError::Pdf("krilla".into()),
        ] {
            let (vi, en) = (e.message().in_lang(Lang::Vi), e.message().in_lang(Lang::En));
            assert!(!vi.contains("render_error") && !en.contains("render_error"));
            assert_ne!(vi, en);
        }
    }
}
