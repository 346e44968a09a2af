//! The auditors' re-tally: decisions are checked and applied with a trail, several scan
//! folders merge into one result with duplicates caught across them, issued and returned
//! ballots are reconciled, and tallying twice gives the same bytes.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ballotscan::form::Form;
use ballotscan::geometry::RectMm;
use ballotscan::layout::{Layout, Shape};
use ballotscan::payload::Payload;
use ballotscan::render::{ballot_shapes, raster};

fn bin() -> Command {
    Command::cargo_bin("ballotscan").expect("binary built")
}

/// A ballot with solid marks, plus optional small specks (`(question, option, side_mm)`).
fn ballot(
    unit: &str,
    serial: u32,
    marks: &[(&str, &str)],
    specks: &[(&str, &str, f64)],
) -> image::GrayImage {
    let form = Form::default_form();
    let layout = Layout::new(&form).expect("layout");
    let mut shapes =
        ballot_shapes(&layout, &Payload::new("CSAT", 1, unit, serial), "x").expect("shapes");
    for (q, o) in marks {
        shapes.push(Shape::Fill(
            layout.checkbox(q, o).expect("box").rect.inset(1.3),
        ));
    }
    for (q, o, side) in specks {
        let c = layout.checkbox(q, o).expect("box").rect.center();
        shapes.push(Shape::Fill(RectMm::new(
            c.x - side / 2.0,
            c.y - side / 2.0,
            *side,
            *side,
        )));
    }
    raster::render(&shapes, 200.0)
}

fn save(img: &image::GrayImage, path: &Path) {
    img.save(path).expect("save png");
}

fn scan(input: &Path, out: &Path) {
    bin()
        .arg("scan")
        .arg(input)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("read");
    let text = text.trim_start_matches('\u{feff}');
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect()
}

struct Station {
    _dir: tempfile::TempDir,
    scan: PathBuf,
    root: PathBuf,
}

/// A scanning station: ballots 1–3 of P-ANBIEN (3 has a doubtful speck on q2), ballot 7 of
/// P-CATDAI.
fn station() -> Station {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    save(
        &ballot("P-ANBIEN", 1, &[("q1", "5"), ("q2", "4")], &[]),
        &input.join("1.png"),
    );
    save(
        &ballot("P-ANBIEN", 2, &[("q1", "1"), ("q2", "2")], &[]),
        &input.join("2.png"),
    );
    save(
        &ballot("P-ANBIEN", 3, &[("q1", "4")], &[("q2", "3", 0.9)]),
        &input.join("3.png"),
    );
    save(
        &ballot("P-CATDAI", 7, &[("q1", "4")], &[]),
        &input.join("7.png"),
    );
    let scan_dir = dir.path().join("scan");
    scan(&input, &scan_dir);
    Station {
        root: dir.path().to_path_buf(),
        scan: scan_dir,
        _dir: dir,
    }
}

fn decisions(path: &Path, lines: &[&str]) {
    let mut text = String::from("source,page,unit,serial,question,decision,auditor,note\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(path, text).expect("write decisions");
}

fn tally_with(st: &Station, decisions: &Path, out: &Path) {
    bin()
        .arg("tally")
        .arg(&st.scan)
        .arg("--decisions")
        .arg(decisions)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

fn source_of(scan: &Path, serial: &str) -> String {
    rows(&scan.join("ballots.csv"))
        .into_iter()
        .find(|r| r[7] == serial)
        .map(|r| r[0].clone())
        .expect("ballot in scan")
}

#[test]
fn decisions_are_applied_with_a_trail_and_the_retally_is_reproducible() {
    let st = station();
    let b3 = rows(&st.scan.join("ballots.csv"))
        .into_iter()
        .find(|r| r[7] == "000003")
        .expect("ballot 3");
    assert_eq!(b3[2], "review", "the speck is doubtful: {b3:?}");
    let src3 = source_of(&st.scan, "000003");
    let src2 = source_of(&st.scan, "000002");
    let dec = st.root.join("decisions.csv");
    decisions(
        &dec,
        &[
            &format!("{src3},1,P-ANBIEN,000003,q2,BLANK,Nguyễn Văn A,a speck of dust"),
            &format!("{src2},1,P-ANBIEN,000002,*,REJECT,Trần Thị B,torn in half"),
        ],
    );
    let out = st.root.join("final");
    tally_with(&st, &dec, &out);
    let ballots = rows(&out.join("ballots.csv"));
    let status = |serial: &str| {
        ballots
            .iter()
            .find(|r| r[7] == serial)
            .map(|r| (r[2].clone(), r[3].clone()))
    };
    assert_eq!(status("000003"), Some(("counted".into(), "".into())));
    assert_eq!(
        status("000002"),
        Some(("rejected".into(), "auditor_rejected".into()))
    );
    let trail = rows(&out.join("audit-trail.csv"));
    assert_eq!(trail.len(), 2);
    assert!(trail
        .iter()
        .any(|r| r[4] == "q2" && r[5] == "REVIEW" && r[6] == "BLANK" && r[7] == "Nguyễn Văn A"));
    assert!(trail
        .iter()
        .any(|r| r[4] == "*" && r[5] == "counted" && r[6] == "REJECT" && r[8] == "torn in half"));
    let tallies = rows(&out.join("tallies.csv"));
    let count = |unit: &str, q: &str, o: &str| {
        tallies
            .iter()
            // unit, question, question_text, option, option_label, count
            .find(|r| r[0] == unit && r[1] == q && r[3] == o)
            .map(|r| r[5].clone())
    };
    assert_eq!(
        count("P-ANBIEN", "q1", "1"),
        Some("0".into()),
        "the rejected ballot is not counted"
    );
    assert_eq!(
        count("P-ANBIEN", "q1", "4"),
        Some("1".into()),
        "ballot 3 now counts"
    );
    assert_eq!(count("P-ANBIEN", "q2", "BLANK"), Some("1".into()));
    // Same inputs, same bytes.
    let again = st.root.join("again");
    tally_with(&st, &dec, &again);
    for f in [
        "ballots.csv",
        "tallies.csv",
        "summary.csv",
        "audit-trail.csv",
        "report.html",
        "satisfaction.png",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).expect("a"),
            std::fs::read(again.join(f)).expect("b"),
            "{f}"
        );
    }
}

fn tally_error(st: &Station, lines: &[&str]) -> String {
    let dec = st.root.join("bad.csv");
    decisions(&dec, lines);
    let out = bin()
        .arg("tally")
        .arg(&st.scan)
        .arg("--decisions")
        .arg(&dec)
        .arg("--out")
        .arg(st.root.join("bad-out"))
        .assert()
        .failure();
    String::from_utf8_lossy(&out.get_output().stderr).to_string()
}

#[test]
fn bad_decisions_are_refused_with_the_line_that_is_wrong() {
    let st = station();
    let src = source_of(&st.scan, "000003");
    let e = tally_error(&st, &["nowhere.png,1,P-ANBIEN,000003,q2,BLANK,A,"]);
    assert!(
        e.contains("names no ballot") && e.contains("bad.csv:2: nowhere.png#1"),
        "{e}"
    );
    let e = tally_error(&st, &[&format!("{src},1,P-ANBIEN,000003,q2,7,A,")]);
    assert!(e.contains("has no option \"7\""), "{e}");
    let e = tally_error(&st, &[&format!("{src},1,P-ANBIEN,000003,q9,1,A,")]);
    assert!(e.contains("no question \"q9\""), "{e}");
    let e = tally_error(
        &st,
        &[
            &format!("{src},1,P-ANBIEN,000003,q2,BLANK,A,"),
            &format!("{src},1,P-ANBIEN,000003,q2,3,B,"),
        ],
    );
    assert!(e.contains("differently"), "{e}");
    let e = tally_error(&st, &[&format!("{src},1,P-CATDAI,000003,q2,BLANK,A,")]);
    assert!(e.contains("wrong page"), "{e}");
    assert!(
        !st.root.join("bad-out").join("tallies.csv").exists(),
        "nothing written on error"
    );
}

#[test]
fn stations_merge_with_duplicates_caught_across_folders_and_returns_reconciled() {
    let a = station();
    // A second station scanned ballot 1 again (same answers) and a photocopy of 2 (different).
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    // Re-scanned: other bytes (JPEG), same answers.
    save(
        &ballot("P-ANBIEN", 1, &[("q1", "5"), ("q2", "4")], &[]),
        &input.join("again-1.jpg"),
    );
    save(
        &ballot("P-ANBIEN", 2, &[("q1", "5")], &[]),
        &input.join("copy-2.png"),
    );
    save(
        &ballot("P-ANBIEN", 99, &[("q1", "5")], &[]),
        &input.join("99.png"),
    );
    let scan_b = dir.path().join("scan");
    scan(&input, &scan_b);
    // What was printed: P-ANBIEN 1–10 and P-CATDAI 1–5.
    let print = dir.path().join("print");
    for (unit, n) in [("P-ANBIEN", "10"), ("P-CATDAI", "5")] {
        bin()
            .args(["generate", "--unit", unit, "--count", n, "--out"])
            .arg(&print)
            .assert()
            .success();
    }
    let out = dir.path().join("city");
    bin()
        .arg("tally")
        .arg(&a.scan)
        .arg(&scan_b)
        .arg("--issued")
        .arg(print.join("issued.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let ballots = rows(&out.join("ballots.csv"));
    let find = |name: &str| {
        ballots
            .iter()
            .find(|r| r[0].ends_with(name))
            .map(|r| (r[2].clone(), r[3].clone()))
    };
    assert_eq!(
        find("again-1.jpg"),
        Some(("duplicate".into(), "duplicate".into()))
    );
    assert_eq!(find("copy-2.png").map(|x| x.0), Some("review".into()));
    assert!(find("copy-2.png").is_some_and(|x| x.1.contains("duplicate_conflict")));
    let rec = rows(&out.join("reconciliation.csv"));
    let anbien = rec
        .iter()
        .find(|r| r[0] == "P-ANBIEN")
        .expect("P-ANBIEN row");
    assert_eq!(
        &anbien[2..10],
        ["10", "3", "30.0", "7", "4-10", "1", "99", "1"],
        "{anbien:?}"
    );
    let catdai = rec
        .iter()
        .find(|r| r[0] == "P-CATDAI")
        .expect("P-CATDAI row");
    assert_eq!(
        &catdai[2..9],
        ["5", "0", "0.0", "5", "1-5", "1", "7"],
        "{catdai:?}"
    );
    let summary = rows(&out.join("summary.csv"));
    let city = summary.iter().find(|r| r[0] == "CATP").expect("city");
    let n = city.len();
    assert_eq!(
        &city[n - 3..],
        ["15", "3", "20.0"],
        "issued, returned, rate rolled up: {city:?}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(html.contains("P-ANBIEN") && html.contains("satisfaction.png"));
}
