//! Image simulation for synthetic scans: what people's pens do to a checkbox ([`marks`]), what
//! happens to the sheet itself — a photocopied blank, a seal, folds, a curled edge, shadows, a
//! finger ([`sheet`]) — and what scanners and phones then do to the whole page ([`degrade`]).
//!
//! Everything here is a pure function of its inputs and the random generator passed in, so a
//! synthetic corpus is reproducible from its seed. [`ballots`] decides which boxes a citizen
//! marks, draws them, scans the page and records the ground truth (`truth.csv`).

pub mod ballots;
pub mod check;
pub mod degrade;
pub mod marks;
pub mod sheet;
