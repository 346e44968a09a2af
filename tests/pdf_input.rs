//! Reading scanned pages out of PDFs built the way scanner software builds them.
//!
//! The fixtures under tests/fixtures/pdf/ come from tests/fixtures/pdf/make.sh (img2pdf,
//! tiff2pdf, qpdf and a few hand-written files); each decoded page is compared with the source
//! image it was made from.

mod support;

use std::path::PathBuf;

use ballotscan::input::pdf::{Limits, PdfDocument, PdfError, PdfPageError};
use image::GrayImage;
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pdf")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn open(name: &str) -> PdfDocument {
    PdfDocument::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A source picture as gray: Rec. 601 weights (those JPEG's luma uses) rounded to the nearest
/// gray, written out here rather than taken from the library so the test checks it.
fn source(name: &str) -> GrayImage {
    let img = image::load_from_memory(&fixture(name)).unwrap().to_rgb8();
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let [r, g, b] = img.get_pixel(x, y).0;
        let l = (299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500) / 1000;
        image::Luma([l as u8])
    })
}

fn mean_abs_diff(a: &GrayImage, b: &GrayImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "image sizes differ");
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| x.abs_diff(y) as u64)
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

fn page(doc: &PdfDocument, i: usize) -> GrayImage {
    doc.page_image(i, &Limits::default())
        .unwrap_or_else(|e| panic!("page {i}: {e}"))
}

fn assert_close(got: &GrayImage, want: &GrayImage, max_mad: f64) {
    let mad = mean_abs_diff(got, want);
    assert!(mad <= max_mad, "mean abs diff {mad:.3} > {max_mad}");
}

fn assert_exact(got: &GrayImage, want: &GrayImage) {
    assert_eq!(got.dimensions(), want.dimensions());
    let wrong = got
        .as_raw()
        .iter()
        .zip(want.as_raw())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(wrong, 0, "{wrong} pixels differ");
}

#[test]
fn img2pdf_gray_jpeg_page_matches_source() {
    let doc = open("jpeg_gray.pdf");
    assert_eq!(doc.page_count(), 1);
    let img = page(&doc, 0);
    assert_eq!(img.dimensions(), (360, 480));
    assert_close(&img, &source("src_gray.png"), 2.5);
}

#[test]
fn img2pdf_colour_jpeg_page_is_the_luma_of_the_source() {
    let img = page(&open("jpeg_rgb.pdf"), 0);
    assert_eq!(img.dimensions(), (360, 480));
    assert_close(&img, &source("src_rgb.png"), 3.0);
}

#[test]
fn adobe_cmyk_jpeg_with_inverting_decode_array_is_not_a_negative() {
    let img = page(&open("jpeg_cmyk.pdf"), 0);
    assert_eq!(img.dimensions(), (240, 320));
    assert_close(&img, &source("src_cmyk.png"), 6.0);
    // The page is mostly white paper.
    let mean = img.as_raw().iter().map(|&v| v as f64).sum::<f64>() / img.as_raw().len() as f64;
    assert!(mean > 180.0, "mean {mean}");
}

#[test]
fn img2pdf_jpeg2000_pages_decode_exactly() {
    // Lossless JPEG 2000: gray comes back bit for bit, colour as its luma.
    assert_exact(&page(&open("jpx_gray.pdf"), 0), &source("src_gray.png"));
    assert_exact(&page(&open("jpx_rgb.pdf"), 0), &source("src_rgb.png"));
}

#[test]
fn img2pdf_png_pages_decode_flate_with_png_predictors() {
    let doc = open("png.pdf");
    assert_eq!(doc.page_count(), 4);
    let gray = source("src_small_gray.png");
    // 8-bit gray, 8-bit RGB, 4-bit palette (Indexed), 16-bit gray: all lossless.
    assert_exact(&page(&doc, 0), &gray);
    assert_close(&page(&doc, 1), &source("src_small_rgb.png"), 0.0);
    assert_close(&page(&doc, 2), &source("src_pal4.png"), 0.0);
    assert_exact(&page(&doc, 3), &gray);
}

#[test]
fn page_stored_sideways_with_rotate_90_comes_out_upright() {
    let doc = open("rotate90.pdf");
    let img = page(&doc, 0);
    // Stored 480 wide and 360 tall; displayed (and returned) portrait.
    assert_eq!(img.dimensions(), (360, 480));
    assert_close(&img, &source("src_gray.png"), 2.5);
}

#[test]
fn tiff2pdf_ccitt_g4_page_is_exact() {
    let img = page(&open("g4.pdf"), 0);
    assert_exact(&img, &source("src_bw.png"));
}

#[test]
fn ccitt_g3_one_and_two_dimensional_pages_are_exact() {
    let doc = open("g3.pdf");
    assert_eq!(doc.page_count(), 3);
    let want = source("src_bw.png");
    for i in 0..3 {
        assert_exact(&page(&doc, i), &want);
    }
}

#[test]
fn jbig2_mmr_page_is_exact() {
    let img = page(&open("jbig2.pdf"), 0);
    assert_exact(&img, &source("src_bw.png"));
}

#[test]
fn hand_written_placements_filters_and_colour_spaces() {
    let doc = open("handmade.pdf");
    assert_eq!(doc.page_count(), 17);
    let hand = source("src_hand.png");
    // 1 plain, 2 y-flipping matrix, 3 matrix turning 90°, 4 inside a Form XObject with PNG
    // predictors, 5 /Rotate 180 inherited from a Pages node, 7 negative with /Decode [1 0]
    // (RunLength), 8 inline image with abbreviated keys, 9 four tiles in a 2x2 grid.
    for i in [0, 1, 2, 3, 4, 6, 7, 8] {
        let img = page(&doc, i);
        assert_eq!(img.dimensions(), (120, 160), "page {}", i + 1);
        let mad = mean_abs_diff(&img, &hand);
        assert!(mad == 0.0, "page {}: mean abs diff {mad}", i + 1);
    }
    // 6: stencil mask through [/ASCIIHexDecode /FlateDecode].
    assert_exact(&page(&doc, 5), &source("src_small_mask.png"));
    // 17: Indexed over DeviceRGB, stored mirrored and drawn with a mirroring matrix.
    assert_exact(&page(&doc, 16), &source("src_indexed.png"));
}

#[test]
fn hand_written_pages_that_are_not_usable_scans() {
    let doc = open("handmade.pdf");
    let err = |i: usize| doc.page_image(i, &Limits::default()).unwrap_err();
    match err(9) {
        PdfPageError::NotAScannedPage(m) => assert!(m.contains("covers only 6%"), "{m}"),
        e => panic!("logo: {e:?}"),
    }
    match err(10) {
        PdfPageError::Unsupported(m) => assert!(m.contains("2 overlapping"), "{m}"),
        e => panic!("layers: {e:?}"),
    }
    assert!(matches!(
        err(11),
        PdfPageError::TooLarge {
            width: 100_000,
            height: 100_000
        }
    ));
    assert!(matches!(err(12), PdfPageError::Decode(_)), "corrupt flate");
    match err(13) {
        PdfPageError::Decode(m) => assert!(m.contains("truncated: 9600 of 19200"), "{m}"),
        e => panic!("short data: {e:?}"),
    }
    match err(14) {
        PdfPageError::Unsupported(m) => assert!(m.contains("Separation"), "{m}"),
        e => panic!("separation: {e:?}"),
    }
    match err(15) {
        PdfPageError::Decode(m) => assert!(m.contains("JPEG 2000"), "{m}"),
        e => panic!("jpx with a broken codestream: {e:?}"),
    }
    for (i, code) in [
        (9, "not_a_scanned_page"),
        (10, "unsupported_pdf_image"),
        (11, "image_too_large"),
        (12, "decode_error"),
    ] {
        assert_eq!(err(i).reason_code().as_str(), code);
    }
    // Past the last page.
    assert!(matches!(err(17), PdfPageError::Decode(_)));
}

#[test]
fn tiff2pdf_tiled_pages_are_put_together_exactly() {
    // tiff2pdf writes each tile of a tiled TIFF as its own image, edge tiles cut to the page.
    let doc = open("tiled.pdf");
    assert_eq!(doc.page_count(), 3);
    // Deflate tiles of 128x128 (3x4, the last column 104 wide, the last row 96 tall).
    assert_exact(&page(&doc, 0), &source("src_gray.png"));
    // CCITT G4 tiles of 256x256 (4x5).
    assert_exact(&page(&doc, 1), &source("src_bw.png"));
    // The gray page stored sideways as tiles, stood up by /Rotate 90.
    assert_exact(&page(&doc, 2), &source("src_gray.png"));
}

#[test]
fn tiff2pdf_jpeg_strips_and_padded_tiles_decode() {
    // tiff2pdf (libtiff 4.5) keeps stray start/end-of-image markers in the JPEG data of a
    // JPEG-compressed TIFF (viewers show those pages blank), and passes JPEG edge tiles
    // through whole, with /Width and /Height of the part on the page.
    let doc = open("tiff2pdf_jpeg.pdf");
    let want = source("src_small_gray.png");
    for (i, what) in ["one strip", "16-row strips", "128x128 tiles"]
        .iter()
        .enumerate()
    {
        let img = doc
            .page_image(i, &Limits::default())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(img.dimensions(), (180, 240), "{what}");
        let mad = mean_abs_diff(&img, &want);
        assert!(mad < 2.5, "{what}: mean abs diff {mad:.3}");
    }
}

#[test]
fn scan_laid_over_an_empty_page_by_qpdf_overlay_is_read() {
    // Both pages become form XObjects; the empty page's content is an empty Flate stream.
    assert_exact(
        &page(&open("overlay.pdf"), 0),
        &source("src_small_gray.png"),
    );
}

#[test]
fn hand_written_tiles_are_put_together_or_refused_with_a_reason() {
    let doc = open("tiles.pdf");
    assert_eq!(doc.page_count(), 8);
    let hand = source("src_hand.png");
    // 1: bands of uneven height under a y-flipping matrix, off by up to 0.2 pixel.
    // 2: a 2x2 grid of a picture stored turned, the whole grid drawn turned back.
    for i in [0, 1] {
        assert_exact(&page(&doc, i), &hand);
    }
    let reason = |i: usize| match doc.page_image(i, &Limits::default()) {
        Err(e) => (e.reason_code().as_str(), e.to_string()),
        Ok(img) => panic!("page {}: decoded to {:?}", i + 1, img.dimensions()),
    };
    for (i, code, says) in [
        (2, "not_a_scanned_page", "the tiles overlap or leave gaps"),
        (
            3,
            "not_a_scanned_page",
            "1 of the 3 images are drawn at another scale or turn",
        ),
        (
            4,
            "not_a_scanned_page",
            "1 of the 3 images are drawn at another scale or turn",
        ),
        (5, "not_a_scanned_page", "the 3 tiles are not a grid"),
        (
            7,
            "unsupported_pdf_image",
            "over or under it covering 100% of it (a layered",
        ),
    ] {
        let (got_code, message) = reason(i);
        assert_eq!(got_code, code, "page {}: {message}", i + 1);
        assert!(message.contains(says), "page {}: {message}", i + 1);
    }
    // 8 (checked above): a page-sized picture at a lower resolution under a grid of tiles.
    // 7: the lower half is one white tile object drawn in both of its cells.
    let img = page(&doc, 6);
    assert_eq!(img.dimensions(), (120, 160));
    for (x, y, px) in img.enumerate_pixels() {
        let want = if y < 80 {
            hand.get_pixel(x, y).0[0]
        } else {
            255
        };
        assert_eq!(px.0[0], want, "at {x},{y}");
    }
}

#[test]
fn vector_only_page_is_not_a_scanned_page() {
    let doc = open("vector.pdf");
    match doc.page_image(0, &Limits::default()) {
        Err(PdfPageError::NotAScannedPage(m)) => assert!(m.contains("vector or text"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mixed_batch_with_object_streams_is_read_page_by_page() {
    let doc = open("mixed.pdf");
    assert_eq!(doc.page_count(), 4);
    assert_close(&page(&doc, 0), &source("src_gray.png"), 2.5);
    assert_exact(&page(&doc, 1), &source("src_bw.png"));
    assert!(matches!(
        doc.page_image(2, &Limits::default()),
        Err(PdfPageError::NotAScannedPage(_))
    ));
    assert_close(&page(&doc, 3), &source("src_gray.png"), 2.5);
}

#[test]
fn pages_decode_in_parallel_from_a_shared_document() {
    let doc = open("mixed.pdf");
    let results: Vec<Option<(u32, u32)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..doc.page_count())
            .map(|i| {
                let doc = &doc;
                s.spawn(move || {
                    doc.page_image(i, &Limits::default())
                        .ok()
                        .map(|p| p.dimensions())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results,
        vec![Some((360, 480)), Some((816, 1056)), None, Some((360, 480))]
    );
}

#[test]
fn encrypted_pdf_needing_a_password_is_refused() {
    let err = PdfDocument::parse(&fixture("encrypted_userpw.pdf")).unwrap_err();
    assert!(matches!(err, PdfError::Encrypted));
    assert_eq!(err.reason_code().as_str(), "encrypted_pdf");
}

#[test]
fn encrypted_pdf_with_only_an_owner_password_opens_like_in_a_viewer() {
    let img = page(&open("encrypted_ownerpw.pdf"), 0);
    assert_exact(&img, &source("src_bw.png"));
}

#[test]
fn pixel_limit_is_checked_before_decoding() {
    let doc = open("jpeg_gray.pdf");
    let limits = Limits {
        max_pixels: 100_000,
        ..Limits::default()
    };
    assert!(matches!(
        doc.page_image(0, &limits),
        Err(PdfPageError::TooLarge {
            width: 360,
            height: 480
        })
    ));
}

#[test]
fn truncated_files_never_pass_as_good_pages() {
    let bytes = fixture("jpeg_gray.pdf");
    // Cut inside the JPEG data, then at the end (xref and trailer lost).
    for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 200] {
        let cut_bytes = &bytes[..cut];
        match PdfDocument::parse(cut_bytes) {
            Err(PdfError::Malformed(_)) => {}
            Err(e) => panic!("cut at {cut}: {e:?}"),
            Ok(doc) => {
                let result = doc.page_image(0, &Limits::default());
                if cut < bytes.len() - 1000 {
                    assert!(
                        matches!(result, Err(PdfPageError::Decode(_))),
                        "cut at {cut}: {result:?}"
                    );
                } else {
                    // Only the cross-reference table is gone: the page is intact and repaired.
                    assert_close(&result.unwrap(), &source("src_gray.png"), 2.5);
                }
            }
        }
    }
    // A batch cut part way keeps its first pages, and the lost ones (of the 17 its page tree
    // declares) get one failing row that says which they are.
    let bytes = fixture("handmade.pdf");
    let doc = PdfDocument::parse(&bytes[..bytes.len() * 6 / 10]).unwrap();
    let found = doc.page_count() - 1;
    assert!((1..16).contains(&found), "{found} pages found");
    assert_exact(&page(&doc, 0), &source("src_hand.png"));
    let last = doc.page_image(found, &Limits::default());
    assert!(
        matches!(&last, Err(PdfPageError::Decode(m)) if m.contains(&format!("pages {}-17 cannot be found", found + 1))),
        "{last:?}"
    );
    assert!(matches!(
        PdfDocument::parse(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog"),
        Err(PdfError::Malformed(_))
    ));
    assert!(matches!(
        PdfDocument::parse(&fixture("src_gray.png")),
        Err(PdfError::Malformed(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Never panic: mutated fixtures always give Ok or a typed error.

const FUZZ_FIXTURES: &[&str] = &[
    "jpeg_gray.pdf",
    "jpeg_cmyk.pdf",
    "png.pdf",
    "g4.pdf",
    "g3.pdf",
    "jpx_gray.pdf",
    "jbig2.pdf",
    "handmade.pdf",
    "mixed.pdf",
    "encrypted_ownerpw.pdf",
    "tiles.pdf",
    "tiled.pdf",
    "tiff2pdf_jpeg.pdf",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: u32, mask: u8 },
    Truncate { at: u32 },
    Insert { at: u32, bytes: Vec<u8> },
    Overwrite { at: u32, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that steer a PDF parser: digits, delimiters, keywords' letters.
    let token = prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            prop::sample::select(b"0123456789 /<>[]()RobjstreamendxrefQqcmDo\n".to_vec()),
        ],
        1..12,
    );
    prop_oneof![
        (any::<u32>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<u32>().prop_map(|at| Mutation::Truncate { at }),
        (any::<u32>(), token.clone()).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<u32>(), token).prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    let pos = |at: u32, len: usize| if len == 0 { 0 } else { at as usize % len };
    match m {
        Mutation::Flip { at, mask } => {
            let i = pos(*at, data.len());
            if let Some(b) = data.get_mut(i) {
                *b ^= mask;
            }
        }
        Mutation::Truncate { at } => {
            let i = pos(*at, data.len() + 1);
            data.truncate(i);
        }
        Mutation::Insert { at, bytes } => {
            let i = pos(*at, data.len() + 1);
            data.splice(i..i, bytes.iter().copied());
        }
        Mutation::Overwrite { at, bytes } => {
            let i = pos(*at, data.len());
            for (k, b) in bytes.iter().enumerate() {
                if let Some(d) = data.get_mut(i + k) {
                    *d = *b;
                }
            }
        }
    }
}

/// Parses and decodes every page; any outcome but a panic (or the internal safety net, which
/// catches panics inside the decoders) is fine.
fn exercise(data: &[u8]) {
    let limits = Limits {
        max_pixels: 4_000_000,
        max_stream_bytes: 16 << 20,
        max_content_bytes: 8 << 20,
    };
    match PdfDocument::parse(data) {
        Ok(doc) => {
            for i in 0..doc.page_count().min(20) {
                if let Err(PdfPageError::Decode(m)) = doc.page_image(i, &limits) {
                    assert!(!m.contains("internal error"), "decoder panicked: {m}");
                }
            }
        }
        Err(PdfError::Malformed(m)) => {
            assert!(!m.contains("could not be read"), "parser panicked: {m}");
        }
        Err(PdfError::Encrypted) => {}
    }
}

proptest! {
    // PDF_FUZZ_CASES=20000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PDF_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(160),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FUZZ_FIXTURES.len(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut data = fixture(FUZZ_FIXTURES[which]);
        for m in &mutations {
            apply(&mut data, m);
        }
        exercise(&data);
    }
}

#[test]
fn self_drawing_forms_and_deep_nesting_are_bounded() {
    // A form that draws itself twice: this must end (hayro refuses the self-reference; were
    // it followed, the form depth cap would stop it) with a typed error.
    let pdf = image_page_pdf(
        "/Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << /Im0 5 0 R >> >>",
        b"/Im0 Do /Im0 Do",
        "/Im0 Do",
        "/MediaBox [0 0 240 320]",
    );
    let doc = PdfDocument::parse(&pdf).unwrap();
    let r = doc.page_image(0, &Limits::default());
    assert!(
        matches!(
            r,
            Err(PdfPageError::NotAScannedPage(_) | PdfPageError::Decode(_))
        ),
        "{r:?}"
    );
    // Unbalanced and very deep q/Q around a plain image still finds it.
    let content = format!(
        "{} 240 0 0 320 0 0 cm /Im0 Do {}",
        "q ".repeat(5000),
        "Q ".repeat(7000)
    );
    let pdf = image_page_pdf(
        "/Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8",
        &[0, 255, 255, 0],
        &content,
        "/MediaBox [0 0 240 320]",
    );
    let img = PdfDocument::parse(&pdf)
        .unwrap()
        .page_image(0, &Limits::default())
        .unwrap();
    assert_eq!(img.into_raw(), vec![0, 255, 255, 0]);
}

#[test]
fn every_truncation_point_of_a_batch_is_handled() {
    let bytes = fixture("handmade.pdf");
    let step = (bytes.len() / 97).max(1);
    for cut in (0..bytes.len()).step_by(step) {
        exercise(&bytes[..cut]);
    }
}

// ---------------------------------------------------------------------------------------------
// PDFs written by hand

use support::pdf_file;

#[test]
fn a_page_count_that_lies_gives_one_row_for_all_the_missing_pages() {
    // One real page; the page tree claims 100,000 (and then 4,000,000,000).
    for count in [100_000u64, 4_000_000_000] {
        let bytes = pdf_file(&[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!("<< /Type /Pages /Kids [3 0 R] /Count {count} >>").into_bytes(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>".to_vec(),
            stream_object("", b"q 100 0 0 100 0 0 cm /Im0 Do Q"),
            stream_object(
                "/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8",
                &[0, 255, 255, 0],
            ),
        ]);
        let doc = PdfDocument::parse(&bytes).expect("parses");
        assert_eq!(
            doc.page_count(),
            2,
            "the real page and one row for the rest"
        );
        assert_eq!(page(&doc, 0).as_raw(), &vec![0, 255, 255, 0]);
        let err = doc
            .page_image(1, &Limits::default())
            .expect_err("missing")
            .to_string();
        assert!(
            err.contains(&format!("pages 2-{count} cannot be found")),
            "{err}"
        );
    }
}

#[test]
fn a_missing_middle_page_keeps_its_number_and_the_pages_after_it_keep_theirs() {
    // Three pages; the page tree's second kid is a dangling reference (object 99 does not
    // exist) or an object that is no dictionary. hayro skips it: page 3 would become page 2.
    for second in ["99 0 R", "9 0 R"] {
        let page_dict = |contents: u32, image: u32| {
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Resources << /XObject \
                 << /Im0 {image} 0 R >> >> /Contents {contents} 0 R >>"
            )
            .into_bytes()
        };
        let image = |px: [u8; 4]| {
            stream_object(
                "/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8",
                &px,
            )
        };
        let bytes = pdf_file(&[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!("<< /Type /Pages /Kids [3 0 R {second} 4 0 R] /Count 3 >>").into_bytes(),
            page_dict(5, 6),
            page_dict(7, 8),
            stream_object("", b"q 100 0 0 100 0 0 cm /Im0 Do Q"),
            image([0, 255, 255, 0]),
            stream_object("", b"q 100 0 0 100 0 0 cm /Im0 Do Q"),
            image([255, 0, 0, 255]),
            b"(a string, not a page)".to_vec(),
        ]);
        let doc = PdfDocument::parse(&bytes).expect("parses");
        assert_eq!(doc.page_count(), 3, "{second}");
        assert_eq!(page(&doc, 0).as_raw(), &vec![0, 255, 255, 0]);
        let err = doc
            .page_image(1, &Limits::default())
            .expect_err("page 2 is missing")
            .to_string();
        assert!(err.contains("page 2 cannot be found"), "{second}: {err}");
        assert_eq!(
            page(&doc, 2).as_raw(),
            &vec![255, 0, 0, 255],
            "{second}: page 3 is read at its own number"
        );
    }
}

/// A stream object: its dictionary entries `dict` (without /Length) and its data.
fn stream_object(dict: &str, data: &[u8]) -> Vec<u8> {
    [
        format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes(),
        data.to_vec(),
        b"\nendstream".to_vec(),
    ]
    .concat()
}

/// A one-page PDF whose content `content` draws XObject /Im0 (object 5); `image_dict` holds
/// its dictionary entries after /Type (so /Subtype too), without /Length.
fn image_page_pdf(image_dict: &str, data: &[u8], content: &str, page_extra: &str) -> Vec<u8> {
    pdf_file(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R {page_extra} /Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>"
        )
        .into_bytes(),
        stream_object("", content.as_bytes()),
        stream_object(&format!("/Type /XObject {image_dict}"), data),
    ])
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

prop_compose! {
    /// Image dictionaries with arbitrary (often inconsistent) sizes, depths, colour spaces,
    /// filters and parameters, over random or real data.
    fn hostile_image()(
        w in prop_oneof![12 => 1u32..80, 1 => Just(0u32), 1 => Just(100_000), 1 => any::<u32>()],
        h in prop_oneof![12 => 1u32..80, 1 => Just(0u32), 1 => Just(70_000), 1 => any::<u32>()],
        bpc in prop::sample::select(vec![0u32, 1, 2, 3, 4, 8, 16, 32]),
        cs in prop::sample::select(vec![
            "/ColorSpace /DeviceGray", "/ColorSpace /DeviceRGB", "/ColorSpace /DeviceCMYK", "",
            "/ColorSpace [/Indexed /DeviceRGB 3 <00112233445566778899aabb>]",
            "/ColorSpace [/Indexed /DeviceCMYK 255 <00>]", "/ColorSpace [/Indexed /DeviceRGB -4 <00>]",
            "/ColorSpace [/Indexed [/Indexed /DeviceGray 1 <00ff>] 1 <0001>]",
            "/ColorSpace [/CalRGB << /WhitePoint [1 1 1] >>]", "/ColorSpace /Lab",
            "/ColorSpace [/ICCBased 1 0 R]", "/ColorSpace /Foo", "/ColorSpace 7",
            "/ImageMask true", "/ImageMask true /Decode [1 0]",
        ]),
        filter in prop::sample::select(vec![
            "", "/Filter /FlateDecode", "/Filter /DCTDecode", "/Filter /CCITTFaxDecode",
            "/Filter /JBIG2Decode", "/Filter /RunLengthDecode", "/Filter /LZWDecode",
            "/Filter [/ASCIIHexDecode /FlateDecode]", "/Filter /ASCII85Decode",
            "/Filter [/FlateDecode /DCTDecode]", "/Filter [/DCTDecode /FlateDecode]",
            "/Filter /Bogus", "/Filter [/Crypt /FlateDecode]",
        ]),
        predictor in prop::sample::select(vec![1i64, 2, 10, 12, 15, 99, -3]),
        colors in 0i64..6,
        columns in prop::sample::select(vec![0i64, 1, 7, 64, 100_000, -5]),
        k in -2i64..3,
        flags in any::<(bool, bool, bool)>(),
        decode in prop::sample::select(vec!["", "/Decode [1 0]", "/Decode [0 1 1 0 0 1 1 0]", "/Decode [1]", "/Decode [0 15]"]),
        kind in 0u8..4,
        raw in prop::collection::vec(any::<u8>(), 0..8000),
        matrix in prop_oneof![
            6 => prop::sample::select(vec![
                "240 0 0 320 0 0", "0 320 -240 0 240 0", "-240 0 0 -320 240 320", "240 5 7 320 0 0",
            ]),
            1 => prop::sample::select(vec!["0 0 0 0 0 0", "99999999999 0 0 1 0 0", "0 0 0 320 0 0"]),
        ],
        rotate in prop::sample::select(vec![0i64, 90, 180, 270, -90, 45, 100_000]),
    ) -> Vec<u8> {
        let parms = format!(
            "/DecodeParms << /Predictor {predictor} /Colors {colors} /Columns {columns} /K {k} \
             /BitsPerComponent {bpc} /BlackIs1 {} /EncodedByteAlign {} /EndOfLine {} >>",
            flags.0, flags.1, flags.2
        );
        let data = match kind {
            0 => raw,
            1 => zlib(&raw),
            // Real codec data from the fixtures, under the random dictionary.
            2 => fixture_stream("jpeg_gray.pdf"),
            _ => fixture_stream("g4.pdf"),
        };
        image_page_pdf(
            &format!(
                "/Subtype /Image /Width {w} /Height {h} /BitsPerComponent {bpc} {cs} {filter} \
                 {parms} {decode}"
            ),
            &data,
            &format!("q {matrix} cm /Im0 Do Q"),
            &format!("/MediaBox [0 0 240 320] /Rotate {rotate}"),
        )
    }
}

/// The first stream's data in a fixture (the image, for the single-image fixtures).
fn fixture_stream(name: &str) -> Vec<u8> {
    let bytes = fixture(name);
    let find = |needle: &[u8], from: usize| {
        bytes[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut at = 0;
    // Skip to the largest stream: the scan.
    let mut best: Vec<u8> = Vec::new();
    while let Some(s) = find(b"stream\n", at) {
        let start = s + 7;
        let Some(e) = find(b"endstream", start) else {
            break;
        };
        if e - start > best.len() {
            best = bytes[start..e].to_vec();
        }
        at = e + 9;
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PDF_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_image_dictionaries_never_panic(pdf in hostile_image()) {
        exercise(&pdf);
    }
}

/// A one-page PDF whose resources name the gray images `/I0`, `/I1`… (width, height, pixels,
/// stored as Flate) and whose content is `content`.
fn images_page_pdf(images: &[(u32, u32, Vec<u8>)], content: &str, media: [f64; 4]) -> Vec<u8> {
    let names: Vec<String> = (0..images.len())
        .map(|i| format!("/I{i} {} 0 R", i + 5))
        .collect();
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [{} {} {} {}] /Resources << /XObject << {} \
             >> >> /Contents 4 0 R >>",
            media[0],
            media[1],
            media[2],
            media[3],
            names.join(" ")
        )
        .into_bytes(),
        stream_object("", content.as_bytes()),
    ];
    for (w, h, px) in images {
        objects.push(stream_object(
            &format!(
                "/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray \
                 /BitsPerComponent 8 /Filter /FlateDecode"
            ),
            &zlib(px),
        ));
    }
    pdf_file(&objects)
}

/// A picture cut into tiles and the PDF content drawing them where `full` would draw the whole
/// picture; `shift` moves one tile by whole pixels, `jitter` all of them by a fraction.
struct TiledPage {
    tiles: Vec<(u32, u32, Vec<u8>)>,
    content: String,
    whole: String,
    media: [f64; 4],
}

fn tiled_page(
    (w, h): (u32, u32),
    (tw, th): (u32, u32),
    turn: usize,
    scale: f64,
    jitter: (f64, f64),
    shift: Option<(usize, i32, i32)>,
) -> TiledPage {
    let pixel = |x: u32, y: u32| ((x * 7 + y * 13 + (x * y) % 11) % 256) as u8;
    let (sw, sh) = (f64::from(w) * scale, f64::from(h) * scale);
    // The eight turns and mirrors of the unit square onto [0, sw or sh] x [0, sh or sw].
    let full: [f64; 6] = match turn {
        0 => [sw, 0.0, 0.0, sh, 0.0, 0.0],
        1 => [0.0, sw, -sh, 0.0, sh, 0.0],
        2 => [-sw, 0.0, 0.0, -sh, sw, sh],
        3 => [0.0, -sw, sh, 0.0, 0.0, sw],
        4 => [-sw, 0.0, 0.0, sh, sw, 0.0],
        5 => [sw, 0.0, 0.0, -sh, 0.0, sh],
        6 => [0.0, sw, sh, 0.0, 0.0, 0.0],
        _ => [0.0, -sw, -sh, 0.0, sh, sw],
    };
    // The page is the picture's bounding box.
    let corners = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)].map(|(x, y)| {
        (
            full[0] * x + full[2] * y + full[4],
            full[1] * x + full[3] * y + full[5],
        )
    });
    let media = corners.iter().fold(
        [f64::MAX, f64::MAX, f64::MIN, f64::MIN],
        |[x0, y0, x1, y1], &(x, y)| [x0.min(x), y0.min(y), x1.max(x), y1.max(y)],
    );
    let draw = |m: [f64; 6], name: &str| {
        format!(
            "q {:.4} {:.4} {:.4} {:.4} {:.4} {:.4} cm /{name} Do Q\n",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    };
    let mut tiles = Vec::new();
    let mut content = String::new();
    for top in (0..h).step_by(th as usize) {
        for left in (0..w).step_by(tw as usize) {
            let (cw, ch) = ((w - left).min(tw), (h - top).min(th));
            let px: Vec<u8> = (top..top + ch)
                .flat_map(|y| (left..left + cw).map(move |x| pixel(x, y)))
                .collect();
            let k = tiles.len();
            tiles.push((cw, ch, px));
            // The tile's part of the unit square (row 0 at the top), moved as asked.
            let (mut l, mut t) = (f64::from(left), f64::from(top));
            if let Some((which, dx, dy)) = shift {
                if which == k {
                    l += f64::from(dx);
                    t += f64::from(dy);
                }
            }
            l += jitter.0;
            t += jitter.1;
            let (x0, y0) = (l / f64::from(w), 1.0 - (t + f64::from(ch)) / f64::from(h));
            let (fx, fy) = (f64::from(cw) / f64::from(w), f64::from(ch) / f64::from(h));
            let [a, b, c, d, e, f] = full;
            let m = [
                a * fx,
                b * fx,
                c * fy,
                d * fy,
                a * x0 + c * y0 + e,
                b * x0 + d * y0 + f,
            ];
            content.push_str(&draw(m, &format!("I{k}")));
        }
    }
    TiledPage {
        tiles,
        content,
        whole: draw(full, "I0"),
        media,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PDF_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn tiles_decode_like_the_whole_picture_in_every_turn(
        w in 5u32..70, h in 5u32..70, tw in 3u32..40, th in 3u32..40,
        turn in 0usize..8, scale in 0.3f64..3.0, jx in -0.3f64..0.3, jy in -0.3f64..0.3,
    ) {
        let page = tiled_page((w, h), (tw, th), turn, scale, (jx, jy), None);
        let limits = Limits::default();
        let tiled = PdfDocument::parse(&images_page_pdf(&page.tiles, &page.content, page.media))
            .unwrap()
            .page_image(0, &limits);
        // The same picture as one image, drawn with the whole-picture matrix.
        let whole: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| ((x * 7 + y * 13 + (x * y) % 11) % 256) as u8))
            .collect();
        let single = PdfDocument::parse(&images_page_pdf(&[(w, h, whole)], &page.whole, page.media))
            .unwrap()
            .page_image(0, &limits)
            .unwrap();
        match tiled {
            Ok(img) => prop_assert!(img == single, "{} tiles, turn {turn}", page.tiles.len()),
            Err(e) => prop_assert!(false, "{} tiles, turn {turn}: {e}", page.tiles.len()),
        }
    }

    #[test]
    fn a_tile_out_of_place_is_refused(
        w in 8u32..70, h in 8u32..70, tw in 3u32..40, th in 3u32..40,
        turn in 0usize..8, which in 0usize..100, dx in -2i32..3, dy in -2i32..3,
    ) {
        let n = w.div_ceil(tw.min(w)) * h.div_ceil(th.min(h));
        prop_assume!(n > 1 && (dx, dy) != (0, 0));
        let which = which % n as usize;
        let page = tiled_page((w, h), (tw, th), turn, 1.5, (0.0, 0.0), Some((which, dx, dy)));
        let r = PdfDocument::parse(&images_page_pdf(&page.tiles, &page.content, page.media))
            .unwrap()
            .page_image(0, &Limits::default());
        prop_assert!(
            matches!(r, Err(PdfPageError::NotAScannedPage(_) | PdfPageError::Unsupported(_))),
            "{n} tiles, tile {which} moved by {dx},{dy}: {:?}", r.map(|i| i.dimensions())
        );
    }
}
