//! Manual entry: a page whose QR code could not be read is keyed by an auditor (a `KEYED` row
//! with its form, unit and serial, and one row per question). `tally` checks every keyed row
//! before applying any, counts the ballot as `keyed`, never counts a serial twice, and says
//! who keyed what in the audit trail.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ballotscan::form::Form;
use ballotscan::layout::Layout;
use support::bin;

/// A ballot of form CSAT v1 with solid marks; `torn` paints its QR code over, so the scanner
/// rejects it as `no_qr` while a person still sees the marks.
fn ballot(unit: &str, serial: u32, marks: &[(&str, &str)], torn: bool) -> image::GrayImage {
    const DPI: f64 = 200.0;
    let mut img = support::ballot(unit, serial, marks, None, DPI);
    if torn {
        let px = |mm: f64| (mm * DPI / 25.4).round() as u32;
        let qr = Layout::new(&Form::default_form()).expect("layout").qr;
        for y in px(qr.y)..px(qr.y + qr.h).min(img.height()) {
            for x in px(qr.x)..px(qr.x + qr.w).min(img.width()) {
                img.put_pixel(x, y, image::Luma([255]));
            }
        }
    }
    img
}

/// Every question of CSAT v1 answered: q1–q7 on the satisfaction scale, q8 yes/no.
const ANSWERS: [(&str, &str); 8] = [
    ("q1", "5"),
    ("q2", "4"),
    ("q3", "4"),
    ("q4", "3"),
    ("q5", "5"),
    ("q6", "2"),
    ("q7", "4"),
    ("q8", "no"),
];

/// The rows of a CSV with a header, each as column → value.
fn table(path: &Path) -> Vec<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).expect("read");
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut rdr = csv::Reader::from_reader(bytes);
    let header = rdr.headers().expect("header").clone();
    let named = |r: csv::StringRecord| {
        let cells = r.iter().map(str::to_string);
        header.iter().map(str::to_string).zip(cells).collect()
    };
    rdr.records().map(|r| named(r.expect("row"))).collect()
}

struct Station {
    _dir: tempfile::TempDir,
    root: PathBuf,
    scan: PathBuf,
}

/// Ballot 1 of P-ANBIEN read as usual; `torn.png` (P-ANBIEN 4) and `torn2.png` (P-CATDAI 9),
/// whose QR codes are gone.
fn station() -> Station {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    let save = |img: image::GrayImage, name: &str| img.save(input.join(name)).expect("save");
    save(ballot("P-ANBIEN", 1, &ANSWERS, false), "1.png");
    save(ballot("P-ANBIEN", 4, &ANSWERS, true), "torn.png");
    save(
        ballot("P-CATDAI", 9, &[("q1", "1"), ("q8", "yes")], true),
        "torn2.png",
    );
    let scan = dir.path().join("scan");
    bin()
        .arg("scan")
        .arg(&input)
        .arg("--out")
        .arg(&scan)
        .assert()
        .success();
    Station {
        root: dir.path().to_path_buf(),
        scan,
        _dir: dir,
    }
}

impl Station {
    /// The `ballots.csv` row of the scan's file `name`.
    fn page(&self, name: &str) -> BTreeMap<String, String> {
        table(&self.scan.join("ballots.csv"))
            .into_iter()
            .find(|r| r["source"].ends_with(name))
            .unwrap_or_else(|| panic!("{name} in ballots.csv"))
    }

    /// The rows keying page `name` as `unit serial` of CSAT v1, with `answers`.
    fn keying(
        &self,
        name: &str,
        unit: &str,
        serial: &str,
        answers: &[(&str, &str)],
    ) -> Vec<String> {
        let p = self.page(name);
        let row = |question: &str, decision: &str| {
            format!(
                "{},1,{},CSAT,1,{unit},{serial},{question},{decision},Lê Thị C,read from the image",
                p["source"], p["file_sha256"]
            )
        };
        std::iter::once(row("*", "KEYED"))
            .chain(answers.iter().map(|(q, o)| row(q, o)))
            .collect()
    }

    fn decisions(&self, rows: &[String]) -> PathBuf {
        let path = self.root.join("decisions.csv");
        let mut text = String::from(
            "source,page,file_sha256,form,version,unit,serial,question,decision,auditor,note\n",
        );
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        std::fs::write(&path, text).expect("write decisions");
        path
    }

    /// Tallies with an `issued.csv` of these serials of P-ANBIEN; the results folder and what
    /// the console said.
    fn tally_issued(&self, rows: &[String], serials: &[u32]) -> (PathBuf, String) {
        let issued = self.root.join("issued.csv");
        let mut text = String::from("form,version,unit,serial,reprint\n");
        for serial in serials {
            text.push_str(&format!("CSAT,1,P-ANBIEN,{serial:06},\n"));
        }
        std::fs::write(&issued, text).expect("issued");
        let issued = issued.to_str().expect("utf-8");
        let done = self.tally(rows, &["--issued", issued], "final").success();
        let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
        (self.root.join("final"), stderr)
    }

    fn tally(&self, rows: &[String], extra: &[&str], out: &str) -> assert_cmd::assert::Assert {
        let decisions = self.decisions(rows);
        bin()
            .arg("tally")
            .arg(&self.scan)
            .args(["--date", "2026-11-30", "--lang", "en"])
            .arg("--decisions")
            .arg(decisions)
            .args(extra)
            .arg("--out")
            .arg(self.root.join(out))
            .assert()
    }

    /// The message of a tally that must refuse these rows, having written nothing.
    fn refused(&self, rows: &[String]) -> String {
        let a = self.tally(rows, &[], "refused").failure();
        assert!(!self.root.join("refused").exists(), "nothing is written");
        String::from_utf8_lossy(&a.get_output().stderr).to_string()
    }
}

/// reconciliation.csv's cells for P-ANBIEN in these columns.
fn reconciled(out: &Path, columns: &[&str]) -> Vec<String> {
    let rec = table(&out.join("reconciliation.csv"));
    let anbien = rec
        .iter()
        .find(|r| r["unit"] == "P-ANBIEN")
        .expect("P-ANBIEN reconciled");
    columns.iter().map(|c| anbien[*c].clone()).collect()
}

/// tallies.csv's count for a unit, question and option.
fn count(out: &Path, unit: &str, question: &str, option: &str) -> String {
    table(&out.join("tallies.csv"))
        .into_iter()
        .find(|r| r["unit"] == unit && r["question"] == question && r["option"] == option)
        .map(|r| r["count"].clone())
        .unwrap_or_default()
}

#[test]
fn a_keyed_ballot_is_counted_tallied_and_says_who_keyed_it() {
    let st = station();
    assert_eq!(st.page("torn.png")["status"], "rejected");
    assert_eq!(st.page("torn.png")["reasons"], "no_qr");
    let rows = st.keying("torn.png", "P-ANBIEN", "000004", &ANSWERS);
    let done = st.tally(&rows, &[], "final").success();
    let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
    assert!(
        stderr.contains("keyed 1") && stderr.contains("keyed by hand: 1 pages (keyed 1)"),
        "{stderr}"
    );
    let out = st.root.join("final");
    let torn = table(&out.join("ballots.csv"))
        .into_iter()
        .find(|r| r["source"].ends_with("torn.png"))
        .expect("torn.png");
    assert_eq!(
        (
            torn["status"].as_str(),
            torn["reasons"].as_str(),
            torn["form"].as_str(),
            torn["version"].as_str(),
            torn["unit"].as_str(),
            torn["serial"].as_str(),
        ),
        ("keyed", "no_qr", "CSAT", "1", "P-ANBIEN", "000004")
    );
    assert!(torn["detail"].contains("Lê Thị C"), "{torn:?}");
    // Counted like the ballot read beside it: both chose 5 for q1, 2 for q6.
    assert_eq!(count(&out, "P-ANBIEN", "q1", "5"), "2");
    assert_eq!(count(&out, "P-ANBIEN", "q6", "2"), "2");
    assert_eq!(count(&out, "P-ANBIEN", "q8", "no"), "2");
    let summary = table(&out.join("summary.csv"));
    let anbien = summary
        .iter()
        .find(|r| r["unit"] == "P-ANBIEN")
        .expect("P-ANBIEN in summary");
    assert_eq!(anbien["counted"], "2", "{anbien:?}");
    // The answers keyed are the ballot's answers.
    let answers: Vec<(String, String)> = table(&out.join("answers.csv"))
        .into_iter()
        .filter(|r| r["serial"] == "000004")
        .map(|r| (r["question"].clone(), r["answer"].clone()))
        .collect();
    let keyed: Vec<(String, String)> = ANSWERS
        .iter()
        .map(|(q, o)| (q.to_string(), o.to_string()))
        .collect();
    assert_eq!(answers, keyed);
    // The trail: the page keyed as a whole, then each answer, all by the auditor.
    let trail = table(&out.join("audit-trail.csv"));
    assert_eq!(trail.len(), 1 + ANSWERS.len(), "{trail:?}");
    let first = &trail[0];
    assert_eq!(
        (
            first["question"].as_str(),
            first["before"].as_str(),
            first["after"].as_str(),
            first["unit"].as_str(),
            first["serial"].as_str(),
            first["auditor"].as_str(),
        ),
        ("*", "rejected", "KEYED", "P-ANBIEN", "000004", "Lê Thị C")
    );
    assert!(trail[1..]
        .iter()
        .zip(ANSWERS)
        .all(|(t, (q, o))| t["question"] == q && t["after"] == o && t["before"].is_empty()));
    // Keying again gives the same bytes.
    st.tally(&rows, &[], "again").success();
    for f in [
        "ballots.csv",
        "answers.csv",
        "tallies.csv",
        "audit-trail.csv",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).expect("first"),
            std::fs::read(st.root.join("again").join(f)).expect("second"),
            "{f}"
        );
    }
}

#[test]
fn a_keyed_serial_already_returned_is_a_duplicate_and_never_counted_twice() {
    let st = station();
    // torn2.png keyed as ballot 1, which 1.png returned; torn.png keyed as itself.
    let mut rows = st.keying("torn2.png", "P-ANBIEN", "1", &[("q1", "1"), ("q2", "1")]);
    rows.extend(
        st.keying(
            "torn2.png",
            "P-ANBIEN",
            "1",
            &ANSWERS[2..]
                .iter()
                .map(|&(q, _)| (q, "BLANK"))
                .collect::<Vec<_>>(),
        ),
    );
    rows.extend(st.keying("torn.png", "P-ANBIEN", "4", &ANSWERS));
    let (out, stderr) = st.tally_issued(&rows, &[1, 2, 3, 4, 5]);
    assert!(
        stderr.contains("keyed by hand: 2 pages (duplicate 1, keyed 1)"),
        "{stderr}"
    );
    let ballots = table(&out.join("ballots.csv"));
    let torn2 = ballots
        .iter()
        .find(|r| r["source"].ends_with("torn2.png"))
        .expect("torn2.png");
    assert_eq!(torn2["status"], "duplicate");
    assert_eq!(torn2["reasons"], "no_qr;duplicate");
    assert!(torn2["duplicate_of"].ends_with("1.png#1"), "{torn2:?}");
    assert!(torn2["detail"].contains("already returned"), "{torn2:?}");
    let one = ballots
        .iter()
        .find(|r| r["source"].ends_with("/1.png") || r["source"] == "1.png")
        .expect("1.png");
    assert_eq!(one["status"], "counted", "the ballot read stays counted");
    // Only 1.png's answers count: the keyed copy chose 1 for q1.
    assert_eq!(count(&out, "P-ANBIEN", "q1", "1"), "0");
    assert_eq!(count(&out, "P-ANBIEN", "q1", "5"), "2");
    assert_eq!(count(&out, "P-ANBIEN", "q3", "BLANK"), "0");
    assert_eq!(
        reconciled(&out, &["returned", "missing_serials", "duplicates"]),
        ["2", "2-3,5", "1"]
    );
}

#[test]
fn a_keyed_serial_never_issued_is_reported_like_a_read_one() {
    let st = station();
    let rows = st.keying("torn.png", "P-ANBIEN", "000777", &ANSWERS);
    let (out, _) = st.tally_issued(&rows, &[1, 4]);
    assert_eq!(
        reconciled(&out, &["returned", "missing_serials", "not_issued_serials"]),
        ["1", "4", "777"]
    );
}

#[test]
fn an_unknown_keyed_unit_is_refused_naming_the_nearest_unit() {
    let st = station();
    let e = st.refused(&st.keying("torn.png", "P-ANBlEN", "4", &ANSWERS));
    assert!(
        e.contains("decisions.csv:2")
            && e.contains("P-ANBlEN")
            && e.contains("did you mean P-ANBIEN"),
        "{e}"
    );
}

#[test]
fn a_keyed_option_the_question_does_not_have_is_refused() {
    let st = station();
    let mut answers = ANSWERS;
    answers[0] = ("q1", "7");
    let e = st.refused(&st.keying("torn.png", "P-ANBIEN", "4", &answers));
    assert!(
        e.contains("decisions.csv:3") && e.contains("question q1 has no option \"7\""),
        "{e}"
    );
    // A yes/no question keyed on the satisfaction scale.
    answers = ANSWERS;
    answers[7] = ("q8", "5");
    let e = st.refused(&st.keying("torn.png", "P-ANBIEN", "4", &answers));
    assert!(e.contains("question q8 has no option \"5\""), "{e}");
}

#[test]
fn keying_a_page_that_was_read_is_refused_with_what_to_do_instead() {
    let st = station();
    let e = st.refused(&st.keying("1.png", "P-ANBIEN", "1", &ANSWERS));
    assert!(
        e.contains("decisions.csv:2")
            && e.contains("was read (counted, P-ANBIEN 000001)")
            && e.contains("Decide its questions instead"),
        "{e}"
    );
}

#[test]
fn a_keyed_page_must_be_whole_and_well_formed() {
    let st = station();
    // A question left out.
    let e = st.refused(&st.keying("torn.png", "P-ANBIEN", "4", &ANSWERS[..7]));
    assert!(
        e.contains("keyed as P-ANBIEN 000004, has no answer for q8"),
        "{e}"
    );
    // A serial that is not 1–9 digits.
    for serial in ["", "12a", "1234567890"] {
        let e = st.refused(&st.keying("torn.png", "P-ANBIEN", serial, &ANSWERS));
        assert!(
            e.contains("is not a number of 1 to 9 digits"),
            "{serial:?}: {e}"
        );
    }
    // A form that the scan folder does not hold.
    let rows: Vec<String> = st
        .keying("torn.png", "P-ANBIEN", "4", &ANSWERS)
        .into_iter()
        .map(|r| r.replace(",CSAT,1,", ",CSAT,3,"))
        .collect();
    let e = st.refused(&rows);
    assert!(
        e.contains("form CSAT version 3 is not among the forms") && e.contains("CSAT v1, CSAT v2"),
        "{e}"
    );
    // Answers without the KEYED row.
    let rows = st.keying("torn.png", "P-ANBIEN", "4", &ANSWERS);
    let e = st.refused(&rows[1..]);
    assert!(e.contains("no KEYED row"), "{e}");
    // Keyed twice as two ballots.
    let mut rows = st.keying("torn.png", "P-ANBIEN", "4", &ANSWERS);
    rows.extend(st.keying("torn.png", "P-ANBIEN", "5", &[]));
    let e = st.refused(&rows);
    assert!(e.contains("as different ballots"), "{e}");
    // Keyed and rejected.
    let mut rows = st.keying("torn.png", "P-ANBIEN", "4", &ANSWERS);
    // As the review page writes a verdict on a page whose QR code was not read: no unit.
    rows.push(rows[0].replace(",P-ANBIEN,4,*,KEYED,", ",,,*,REJECT,"));
    let e = st.refused(&rows);
    assert!(e.contains("decided REJECT"), "{e}");
}

#[test]
fn two_pages_keyed_as_one_serial_count_once() {
    let st = station();
    let mut rows = st.keying("torn.png", "P-CATDAI", "9", &ANSWERS);
    rows.extend(st.keying("torn2.png", "P-CATDAI", "000009", &ANSWERS));
    st.tally(&rows, &[], "final").success();
    let out = st.root.join("final");
    let statuses: Vec<(String, String)> = table(&out.join("ballots.csv"))
        .into_iter()
        .filter(|r| r["source"].contains("torn"))
        .map(|r| (r["status"].clone(), r["duplicate_of"].clone()))
        .collect();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0], ("keyed".to_string(), String::new()));
    assert_eq!(statuses[1].0, "duplicate");
    assert!(statuses[1].1.ends_with("torn.png#1"), "{statuses:?}");
    assert_eq!(count(&out, "P-CATDAI", "q1", "5"), "1");
}
