//! Drawing ballots: one list of shapes per ballot, rendered to PDF (for the printer) or to a
//! grayscale image (for PNG output, the synthetic scans and the tests).
//!
//! Both renderers draw the very same [`Shape`]s, so what the scanner expects is what was printed.

pub mod pdf;
pub mod raster;

use qrcode::{EcLevel, QrCode, Version};

use crate::layout::{Layout, Shape, QR_MODULES, QR_VERSION};
use crate::payload::Payload;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the QR payload {0:?} does not fit a version-5 QR code: use unit and form codes of at most 16 characters")]
    PayloadTooLong(String),
    #[error(
        "the text {0:?} does not fit its place on the ballot even at the smallest size: shorten it"
    )]
    TextTooLong(String),
    #[error("cannot write the PDF: {0}")]
    Pdf(String),
}

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
