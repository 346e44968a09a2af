//! Reading scanned pages from input files.
pub mod pdf;
