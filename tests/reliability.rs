//! Issue #12: a results folder is all old or all new, every page is counted once, and no input
//! can hang, crash or miscount a batch. Each test is named for the failure it pins down.

mod support;

use std::path::{Path, PathBuf};

use support::{answers, ballot, bin, read_rows, save_jpeg};

/// `status` column of ballots.csv, counted by value.
fn statuses(out: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for r in read_rows(&out.join("ballots.csv")) {
        *m.entry(r[2].clone()).or_default() += 1;
    }
    m
}

/// Three good ballots of P-ANBIEN in `dir/in`.
fn three_ballots(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    for s in 1..=3 {
        save_jpeg(
            &ballot("P-ANBIEN", s, &answers(), None, 150.0),
            &input.join(format!("b{s}.jpg")),
        );
    }
    input
}

#[test]
fn tally_of_a_folder_scanned_twice_keeps_each_rows_answers() {
    // `scan in in/` names every file twice with the same text: rows, not names, are pages.
    let dir = tempfile::tempdir().expect("tempdir");
    three_ballots(dir.path());
    bin()
        .current_dir(dir.path())
        .args(["scan", "in", "in/", "--out", "out"])
        .assert()
        .success();
    let scanned = statuses(&dir.path().join("out"));
    assert_eq!(scanned.get("counted"), Some(&3), "{scanned:?}");
    assert_eq!(scanned.get("duplicate"), Some(&3), "{scanned:?}");
    bin()
        .current_dir(dir.path())
        .args(["tally", "out", "--out", "final"])
        .assert()
        .success();
    assert_eq!(statuses(&dir.path().join("final")), scanned);
    let answers = |d: &str| -> Vec<Vec<String>> {
        read_rows(&dir.path().join(d).join("answers.csv"))
            .into_iter()
            .map(|r| r[..6].to_vec())
            .collect()
    };
    assert_eq!(answers("final"), answers("out"));
}

#[test]
fn tally_refuses_a_scan_folder_whose_answers_are_missing_for_a_read_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_ballots(dir.path());
    bin()
        .current_dir(dir.path())
        .args(["scan", "in", "--out", "out"])
        .assert()
        .success();
    // Drop the answers of b2.jpg: its ballots.csv row says counted, answers.csv has nothing.
    let path = dir.path().join("out/answers.csv");
    let text = std::fs::read_to_string(&path).expect("answers");
    let kept: String = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("in/b2.jpg"))
        .collect();
    assert!(kept.len() < text.len());
    std::fs::write(&path, kept).expect("write");
    let out = bin()
        .current_dir(dir.path())
        .args(["tally", "out", "--out", "final"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("in/b2.jpg") && err.contains("answers.csv"),
        "{err}"
    );
}
