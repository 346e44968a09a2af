//! Image simulation for synthetic scans: what people's pens do to a checkbox ([`marks`]) and
//! what scanners and phones then do to the whole page ([`degrade`]).
//!
//! Everything here is a pure function of its inputs and the random generator passed in, so a
//! synthetic corpus is reproducible from its seed. This module only makes pixels; deciding which
//! boxes to mark, and recording the ground truth, belongs to the caller.

pub mod degrade;
pub mod marks;
