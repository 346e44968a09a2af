//! ballotscan: printed ballots in, exact per-unit tallies out.
//!
//! The modules follow the data. Printing: [`form`] (definition) → [`layout`] (millimetres)
//! → [`render`] (PDF/PNG) with [`payload`] (QR text) and [`generate`] (the `generate` command).
//! Scanning: [`input`] (files, TIFF pages) → [`locate`] (QR, fiducials, page transform)
//! → [`marks`] (checkbox scoring) → [`ballot`] (answers and verdicts) → [`tally`] and
//! [`output`] (CSVs), orchestrated by [`scan`].

pub mod fonts;
pub mod form;
pub mod generate;
pub mod geometry;
pub mod input;
pub mod layout;
pub mod output;
pub mod payload;
pub mod registry;
pub mod render;
