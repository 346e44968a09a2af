//! Mutation fuzzing of the file-level readers (issue #12): the committed sample scans — a
//! multi-page TIFF (its IFD chain), a PNG, JPEGs, a scanner PDF, and fax and palette TIFF
//! pages — are damaged at random and scanned; every damaged file must give exactly one row
//! per page it holds (or one row for the file), each with a status and a reason when it is
//! not counted, and never a panic.
//! INPUT_FUZZ_CASES=5000 for a longer hunt.

use std::path::Path;

use ballotscan::ballot::Status;
use ballotscan::form::Form;
use ballotscan::marks::Thresholds;
use ballotscan::registry::Registry;
use ballotscan::scan::{process_file, Config};
use proptest::prelude::*;

const FIXTURES: &[&str] = &[
    "samples/e-batch.tif",
    "samples/h-rescan-of-a-P-CATDAI-000002.png",
    "samples/a-P-ANBIEN-000001.jpg",
    "samples/i-truncated.jpg",
    "samples/f-scanner-batch.pdf",
    // Fax pages (the CCITT decoder and the strip table) and a palette page (its colour map).
    "tests/fixtures/tiff/ccitt-rle.tif",
    "tests/fixtures/tiff/g3-2d.tif",
    "tests/fixtures/tiff/g3-1d-fill-lsb.tif",
    "tests/fixtures/tiff/palette.tif",
];

/// Where a mutation lands: anywhere, or in the first or last KiB, where the headers, the
/// TIFF directory chain and the PDF cross-reference table are.
#[derive(Debug, Clone, Copy)]
enum Place {
    Anywhere(u32),
    Head(u16),
    Tail(u16),
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: Place, mask: u8 },
    Truncate { at: Place },
    Overwrite { at: Place, bytes: Vec<u8> },
    Insert { at: Place, bytes: Vec<u8> },
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        any::<u32>().prop_map(Place::Anywhere),
        (0u16..1024).prop_map(Place::Head),
        (0u16..1024).prop_map(Place::Tail),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that make lengths and offsets extreme.
    let bytes = prop::collection::vec(
        prop_oneof![any::<u8>(), Just(0u8), Just(0xFFu8), Just(0x7Fu8)],
        1..9,
    );
    prop_oneof![
        (place(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        place().prop_map(|at| Mutation::Truncate { at }),
        (place(), bytes.clone()).prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
        (place(), bytes).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn index(at: Place, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    match at {
        Place::Anywhere(n) => n as usize % len,
        Place::Head(n) => (n as usize).min(len - 1),
        Place::Tail(n) => len - 1 - (n as usize).min(len - 1),
    }
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip { at, mask } => {
            let i = index(*at, data.len());
            if let Some(b) = data.get_mut(i) {
                *b ^= mask;
            }
        }
        Mutation::Truncate { at } => {
            let i = index(*at, data.len());
            data.truncate(i);
        }
        Mutation::Overwrite { at, bytes } => {
            let i = index(*at, data.len());
            for (k, b) in bytes.iter().enumerate() {
                if let Some(d) = data.get_mut(i + k) {
                    *d = *b;
                }
            }
        }
        Mutation::Insert { at, bytes } => {
            let i = index(*at, data.len() + 1).min(data.len());
            data.splice(i..i, bytes.iter().copied());
        }
    }
}

fn config() -> Config {
    Config::new(
        vec![Form::default_form()],
        Registry::default_units(),
        None,
        Thresholds::default(),
    )
    .expect("config")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("INPUT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_damaged_file_gives_exactly_its_rows_with_a_status(
        which in 0..FIXTURES.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut data = std::fs::read(root.join(FIXTURES[which])).expect("fixture");
        for m in &mutations {
            apply(&mut data, m);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("damaged");
        std::fs::write(&path, &data).expect("write");
        let pages = ballotscan::input::from_bytes(data).map_or(1, |f| f.pages);
        let rows = process_file(&path, &config());
        prop_assert_eq!(rows.len(), pages);
        for (i, r) in rows.iter().enumerate() {
            prop_assert_eq!(r.page, i + 1);
            if r.status == Status::Rejected {
                prop_assert!(
                    r.reasons.len() == 1,
                    "page {}: a rejection without a reason: {:?}", r.page, r.reasons
                );
                prop_assert!(!r.detail.contains("internal error"), "a decoder panicked: {}", r.detail);
            }
        }
    }
}
