//! Scanning a batch end to end through the command line: every file and page gets exactly one
//! row, bad files get their reason, duplicates and photocopies are caught, results do not
//! depend on the thread count, and outputs are safe to open in Excel.

mod support;

use std::path::{Path, PathBuf};

use ballotscan::form::Form;
use ballotscan::layout::Layout;
use ballotscan::payload::Payload;
use ballotscan::render::{ballot_shapes, raster};
use image::ImageEncoder;
use support::{ballot, bin, read_rows, save_jpeg};

fn scan(inputs: &[PathBuf], out: &Path, threads: usize) {
    bin()
        .arg("scan")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .args(["--threads", &threads.to_string()])
        .assert()
        .success();
}

fn all_answers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("q1", "5"),
        ("q2", "4"),
        ("q3", "4"),
        ("q4", "3"),
        ("q5", "2"),
        ("q6", "5"),
        ("q7", "1"),
        ("q8", "no"),
    ]
}

#[test]
fn a_messy_batch_gives_every_page_one_row_with_the_right_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("scans");
    std::fs::create_dir_all(input.join("sub")).expect("mkdir");
    let good = ballot("P-ANBIEN", 1, &all_answers(), None, 200.0);
    save_jpeg(&good, &input.join("a-good.jpg"));
    // The same file again, under another name: duplicate_file.
    std::fs::copy(input.join("a-good.jpg"), input.join("sub/a-good-again.jpg")).expect("copy");
    // The same ballot scanned twice (re-encoded, so a different file): duplicate.
    let mut rescan = Vec::new();
    image::codecs::png::PngEncoder::new(&mut rescan)
        .write_image(
            good.as_raw(),
            good.width(),
            good.height(),
            image::ExtendedColorType::L8,
        )
        .expect("png");
    std::fs::write(input.join("b-rescan.png"), &rescan).expect("write");
    // A photocopy of serial 2 with different answers: both copies go to review.
    save_jpeg(
        &ballot("P-CATDAI", 2, &[("q1", "1")], None, 200.0),
        &input.join("c-original.jpg"),
    );
    save_jpeg(
        &ballot("P-CATDAI", 2, &[("q1", "5")], None, 200.0),
        &input.join("c-photocopy.jpg"),
    );
    // Upside down and at 150 DPI: still read.
    let flipped = image::imageops::rotate180(&ballot(
        "X-ANDONG",
        3,
        &[("q3", "2"), ("q8", "yes")],
        None,
        150.0,
    ));
    save_jpeg(&flipped, &input.join("d-upside-down.jpg"));
    // A blank ballot and an over-marked question.
    save_jpeg(
        &ballot("X-ANDONG", 4, &[], None, 200.0),
        &input.join("e-blank-ballot.jpg"),
    );
    save_jpeg(
        &ballot(
            "X-ANDONG",
            5,
            &[("q1", "1"), ("q1", "2"), ("q2", "3")],
            None,
            200.0,
        ),
        &input.join("f-multi.jpg"),
    );
    // Junk: empty file, text named .png, truncated JPEG, blank sheet, a huge-claiming PNG.
    std::fs::write(input.join("g-empty.jpg"), b"").expect("write");
    std::fs::write(input.join("h-text.png"), b"this is not an image").expect("write");
    let jpeg = std::fs::read(input.join("a-good.jpg")).expect("read");
    // Cut inside the first scan lines: nothing of the page survives.
    std::fs::write(input.join("i-truncated.jpg"), &jpeg[..1500]).expect("write");
    save_jpeg(
        &image::GrayImage::from_pixel(1240, 1754, image::Luma([250])),
        &input.join("j-blank-sheet.jpg"),
    );
    let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bomb.extend_from_slice(&200_000u32.to_be_bytes());
    bomb.extend_from_slice(&200_000u32.to_be_bytes());
    bomb.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
    std::fs::write(input.join("k-bomb.png"), &bomb).expect("write");
    // A page of another form: unknown_form.
    let mut other = Form::default_form();
    other.id = "OTHER".into();
    let layout = Layout::new(&other).expect("layout");
    let shapes =
        ballot_shapes(&layout, &Payload::new("OTHER", 3, "P-ANBIEN", 1), "x").expect("shapes");
    save_jpeg(
        &raster::render(&shapes, 200.0),
        &input.join("l-other-form.jpg"),
    );
    // A two-page TIFF: both pages are ballots.
    let pages = [
        ballot("P-MAYTO", 7, &[("q1", "4")], None, 150.0),
        ballot("P-MAYTO", 8, &[("q2", "5")], None, 150.0),
    ];
    let mut tif = std::io::Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut tif).expect("tiff");
        for p in &pages {
            enc.write_image::<tiff::encoder::colortype::Gray8>(p.width(), p.height(), p.as_raw())
                .expect("page");
        }
    }
    std::fs::write(input.join("m-two-pages.tif"), tif.into_inner()).expect("write");
    // A missing input folder stops the scan instead (tests/mistakes.rs).
    let out = dir.path().join("out");
    scan(std::slice::from_ref(&input), &out, 2);
    let rows = read_rows(&out.join("ballots.csv"));
    let by_name = |name: &str| -> Vec<&Vec<String>> {
        rows.iter().filter(|r| r[0].ends_with(name)).collect()
    };
    let status = |name: &str| -> (String, String) {
        let r = by_name(name);
        assert_eq!(r.len(), 1, "exactly one row for {name}: {rows:?}");
        (r[0][2].clone(), r[0][3].clone())
    };
    assert_eq!(rows.len(), 16, "one row per page: {rows:#?}");
    assert_eq!(status("a-good.jpg"), ("counted".into(), "".into()));
    assert_eq!(
        status("a-good-again.jpg"),
        ("duplicate".into(), "duplicate_file".into())
    );
    assert_eq!(
        status("b-rescan.png"),
        ("duplicate".into(), "duplicate".into())
    );
    assert_eq!(
        status("c-original.jpg"),
        ("review".into(), "duplicate_conflict".into())
    );
    assert_eq!(
        status("c-photocopy.jpg"),
        ("review".into(), "duplicate_conflict".into())
    );
    assert_eq!(status("d-upside-down.jpg").0, "counted");
    assert_eq!(
        status("e-blank-ballot.jpg"),
        ("invalid".into(), "blank_ballot".into())
    );
    assert_eq!(
        status("f-multi.jpg"),
        ("counted".into(), "multi_mark".into())
    );
    assert_eq!(
        status("g-empty.jpg"),
        ("rejected".into(), "not_an_image".into())
    );
    assert_eq!(
        status("h-text.png"),
        ("rejected".into(), "not_an_image".into())
    );
    assert_eq!(status("i-truncated.jpg").0, "rejected");
    assert_eq!(
        status("j-blank-sheet.jpg"),
        ("rejected".into(), "no_qr".into())
    );
    assert_eq!(
        status("k-bomb.png"),
        ("rejected".into(), "image_too_large".into())
    );
    assert_eq!(
        status("l-other-form.jpg"),
        ("rejected".into(), "unknown_form".into())
    );
    let tiff_rows = by_name("m-two-pages.tif");
    assert_eq!(tiff_rows.len(), 2);
    assert_eq!(
        (tiff_rows[0][1].as_str(), tiff_rows[1][1].as_str()),
        ("1", "2")
    );
    let upside = by_name("d-upside-down.jpg")[0];
    let rot: f64 = upside[8].parse().expect("rotation");
    assert!((rot - 180.0).abs() < 1.0, "rotation {rot}");

    // Answers: exactly what was marked.
    let answers = read_rows(&out.join("answers.csv"));
    let answer = |file: &str, q: &str| -> String {
        answers
            .iter()
            .find(|r| r[0].ends_with(file) && r[4] == q)
            .map(|r| r[5].clone())
            .unwrap_or_else(|| panic!("no answer {file} {q}"))
    };
    for (q, o) in all_answers() {
        assert_eq!(answer("a-good.jpg", q), o);
    }
    assert_eq!(answer("d-upside-down.jpg", "q3"), "2");
    assert_eq!(answer("d-upside-down.jpg", "q8"), "yes");
    assert_eq!(answer("d-upside-down.jpg", "q1"), "BLANK");
    assert_eq!(answer("f-multi.jpg", "q1"), "MULTI");
    assert_eq!(answer("f-multi.jpg", "q2"), "3");

    // Tallies count only counted ballots, once.
    let tallies = read_rows(&out.join("tallies.csv"));
    let count = |unit: &str, q: &str, o: &str| -> String {
        tallies
            .iter()
            // unit, form, version, question, question_text, option, option_label, count
            .find(|r| r[0] == unit && r[3] == q && r[5] == o)
            .map(|r| r[7].clone())
            .unwrap_or_else(|| panic!("no tally {unit} {q} {o}"))
    };
    assert_eq!(
        count("P-ANBIEN", "q1", "5"),
        "1",
        "the rescan is not counted twice"
    );
    assert_eq!(count("X-ANDONG", "q1", "MULTI"), "1");
    assert_eq!(count("P-MAYTO", "q1", "4"), "1");
    assert_eq!(
        count("P-CATDAI", "q1", "1"),
        "0",
        "conflicting copies wait for review"
    );

    let summary = read_rows(&out.join("summary.csv"));
    let city = summary.iter().find(|r| r[0] == "CATP").expect("city row");
    // Pages with a readable identity: 9 files, one of them two pages, plus the other form's page.
    assert_eq!(city[5], "11", "{city:?}");
    // counted 5 (good, upside down, multi, two TIFF pages), invalid 1 (blank ballot), review 2
    // (original and photocopy), rejected 1 (the other form's page), duplicate 2.
    assert_eq!(&city[6..11], ["5", "1", "2", "1", "2"], "{city:?}");
}

#[test]
fn results_are_byte_identical_at_any_thread_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("scans");
    std::fs::create_dir_all(&input).expect("mkdir");
    for s in 1..=6u32 {
        let marks = [
            ("q1", ["1", "2", "3", "4", "5"][s as usize % 5]),
            ("q8", "yes"),
        ];
        save_jpeg(
            &ballot("P-LACVIEN", s, &marks, None, 150.0),
            &input.join(format!("{s}.jpg")),
        );
    }
    std::fs::write(input.join("junk.png"), b"nope").expect("write");
    let (o1, o2) = (dir.path().join("o1"), dir.path().join("o2"));
    scan(std::slice::from_ref(&input), &o1, 1);
    scan(std::slice::from_ref(&input), &o2, 2);
    for f in ["ballots.csv", "answers.csv", "tallies.csv", "summary.csv"] {
        let a = std::fs::read(o1.join(f)).expect("read");
        assert!(!a.is_empty());
        assert_eq!(a, std::fs::read(o2.join(f)).expect("read"), "{f} differs");
    }
}

#[test]
fn hostile_file_names_cannot_become_spreadsheet_formulas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("=HYPERLINK(1).png");
    std::fs::write(&input, b"junk").expect("write");
    let out = dir.path().join("out");
    // Relative path so the cell starts with the file name.
    bin()
        .current_dir(dir.path())
        .args(["scan", "=HYPERLINK(1).png", "--out"])
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(out.join("ballots.csv")).expect("csv");
    assert!(text.contains("'=HYPERLINK(1).png"), "{text}");
}

#[test]
fn bad_thresholds_are_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    bin()
        .args([
            "scan",
            "x",
            "--empty-below",
            "0.5",
            "--marked-above",
            "0.2",
            "--out",
        ])
        .arg(dir.path())
        .assert()
        .failure()
        .code(2);
}
