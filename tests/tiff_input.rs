//! TIFF pages as scanners and fax software write them (issue #12 point 13): CCITT G3 (modified
//! Huffman, T.4 1-D and 2-D) and G4 bilevel pages, palette pages, and 16-bit colour pages too
//! large to hold whole. Each is scanned as a clerk would and must read as its ballot: counted,
//! with the answers that were marked.
//!
//! The committed files under tests/fixtures/tiff/ come from tests/fixtures/tiff/make.sh (libtiff's
//! tiffcp and Pillow), from the ballot `write_the_fixtures_source_ballot` renders.

mod support;

use std::path::{Path, PathBuf};

use support::{answers, ballot, bin, read_rows, save_png};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiff")
        .join(name)
}

/// The ballot every fixture holds: P-ANBIEN serial 7 with `answers()` marked, at `dpi`.
fn source_ballot(dpi: f64) -> image::GrayImage {
    ballot("P-ANBIEN", 7, &answers(), None, dpi)
}

/// Renders the fixtures' source ballot (200 DPI for the fax pages, 150 DPI for the palette
/// page) into the folder named by `BALLOTSCAN_TIFF_SOURCES`; make.sh turns them into TIFFs.
#[test]
#[ignore = "writes the fixtures' sources; run by tests/fixtures/tiff/make.sh"]
fn write_the_fixtures_source_ballot() {
    let dir = PathBuf::from(std::env::var_os("BALLOTSCAN_TIFF_SOURCES").expect("set the folder"));
    save_png(&source_ballot(200.0), &dir.join("ballot200.png"));
    save_png(&source_ballot(150.0), &dir.join("ballot150.png"));
}

/// Scans `file` alone (as `in/NAME` in a fresh folder) and checks it reads as the source
/// ballot: one page, counted, P-ANBIEN serial 7, and every question answered as marked.
fn reads_as_the_source_ballot(file: &Path) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    let name = file.file_name().expect("a file name");
    std::fs::copy(file, input.join(name)).expect("copy");
    scan_in(dir.path());
    check_ballot(&dir.path().join("out"), name.to_str().expect("utf-8"));
}

fn scan_in(dir: &Path) {
    bin()
        .current_dir(dir)
        .args(["scan", "in", "--out", "out"])
        .assert()
        .success();
}

/// `out` holds one page, from `in/NAME`, read as the source ballot.
fn check_ballot(out: &Path, name: &str) {
    let rows = read_rows(&out.join("ballots.csv"));
    let row: Vec<(&str, &str, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (&*r[0], &*r[1], &*r[2], &*r[3], &*r[6], &*r[7]))
        .collect();
    let source = format!("in/{name}");
    assert_eq!(
        row,
        [(&*source, "1", "counted", "", "P-ANBIEN", "000007")],
        "{name}"
    );
    let got: Vec<(String, String)> = read_rows(&out.join("answers.csv"))
        .into_iter()
        .map(|r| (r[4].clone(), r[5].clone()))
        .collect();
    let mut want: Vec<(String, String)> = answers()
        .iter()
        .map(|(q, a)| (q.to_string(), a.to_string()))
        .collect();
    // answers() leaves q6 unmarked.
    want.insert(5, ("q6".into(), "BLANK".into()));
    assert_eq!(got, want, "{name}");
}

#[test]
fn a_modified_huffman_page_black_is_zero_reads_as_its_ballot() {
    // Compression 2 (CCITT RLE): no EOLs, every row starts on a byte; PhotometricInterpretation
    // 1, so a run coded black is white paper.
    reads_as_the_source_ballot(&fixture("ccitt-rle.tif"));
}

#[test]
fn a_t4_one_dimensional_page_reads_as_its_ballot() {
    reads_as_the_source_ballot(&fixture("g3-1d.tif"));
}

#[test]
fn a_t4_page_with_byte_aligned_eols_and_reversed_bit_order_reads_as_its_ballot() {
    // T4Options bit 2 (EOLs end on a byte) and FillOrder 2 (first pixel in the lowest bit).
    reads_as_the_source_ballot(&fixture("g3-1d-fill-lsb.tif"));
}

#[test]
fn a_t4_two_dimensional_page_in_strips_reads_as_its_ballot() {
    // T4Options bit 0: 2-D coding, which starts again at every strip of 64 rows.
    reads_as_the_source_ballot(&fixture("g3-2d.tif"));
}

#[test]
fn a_t6_g4_page_black_is_zero_reads_as_its_ballot() {
    reads_as_the_source_ballot(&fixture("g4-minisblack.tif"));
}

#[test]
fn every_fax_coding_of_the_page_decodes_to_the_same_pixels() {
    // The five files code one bilevel page: a misread bit order, colour or strip start shows
    // as a difference (a ballot can still read with a few wrong pixels).
    let page = |name: &str| {
        let file = ballotscan::input::open(&fixture(name)).expect("opens");
        ballotscan::input::decode_page(&file, 0).expect("decodes")
    };
    let reference = page("g3-1d.tif");
    assert_eq!(reference.dimensions(), (1654, 2339), "A4 at 200 DPI");
    let ink = reference.as_raw().iter().filter(|&&v| v == 0).count();
    assert!(
        (1..reference.as_raw().len() / 5).contains(&ink),
        "black ink on white paper, not a negative: {ink} black pixels"
    );
    for name in [
        "ccitt-rle.tif",
        "g3-1d-fill-lsb.tif",
        "g3-2d.tif",
        "g4-minisblack.tif",
    ] {
        assert!(page(name) == reference, "{name} differs from g3-1d.tif");
    }
}

#[test]
fn a_palette_page_reads_through_its_colour_map() {
    // PhotometricInterpretation 3: 16 colours, cream paper and blue-black ink, LZW.
    reads_as_the_source_ballot(&fixture("palette.tif"));
    let file = ballotscan::input::open(&fixture("palette.tif")).expect("opens");
    let page = ballotscan::input::decode_page(&file, 0).expect("decodes");
    // The paper is the map's cream (luma 245), not the index of its colour.
    let corner = page.get_pixel(5, 5).0[0];
    assert!((240..=250).contains(&corner), "paper reads {corner}");
}

#[test]
fn a_tiled_page_whose_edge_tiles_run_past_it_reads_as_its_ballot() {
    // 1240 × 1754 in 512 × 512 tiles: each tile is put at its place, the padding dropped.
    reads_as_the_source_ballot(&fixture("tiled-gray.tif"));
}

#[test]
fn a_600_dpi_a4_page_in_16_bit_rgb_reads_strip_by_strip() {
    // 4961 × 7016 pixels: 209 MB of samples, more than any page may decode into at once (128
    // MiB); its strips are read one at a time into the 35 MB gray page.
    let gray = source_ballot(600.0);
    let (w, h) = gray.dimensions();
    assert!(u64::from(w) * u64::from(h) * 6 > ballotscan::input::MAX_DECODED_BYTES as u64);
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    {
        let file = std::fs::File::create(input.join("colour.tif")).expect("create");
        let mut enc =
            ::tiff::encoder::TiffEncoder::new(std::io::BufWriter::new(file)).expect("encoder");
        let mut image = enc
            .new_image::<::tiff::encoder::colortype::RGB16>(w, h)
            .expect("image");
        // Rows of 4961 RGB16 pixels, 16 to a strip (476 KB), written as they are made.
        image.rows_per_strip(16).expect("rows per strip");
        let mut y = 0;
        while image.next_strip_sample_count() > 0 {
            let rows = (h - y).min(16);
            let strip: Vec<u16> = (y..y + rows)
                .flat_map(|yy| (0..w).map(move |x| (x, yy)))
                .flat_map(|(x, yy)| {
                    // A slightly warm paper, so the channels differ.
                    let v = u16::from(gray.get_pixel(x, yy).0[0]) * 257;
                    [v, v.saturating_sub(600), v.saturating_sub(2400)]
                })
                .collect();
            image.write_strip(&strip).expect("strip");
            y += rows;
        }
        image.finish().expect("finish");
    }
    drop(gray);
    scan_in(dir.path());
    check_ballot(&dir.path().join("out"), "colour.tif");
}
