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
    scan_in_to_out(dir.path());
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

/// `ballots.csv` `source` column.
fn sources(out: &Path) -> Vec<String> {
    read_rows(&out.join("ballots.csv"))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

/// A guard against a hang taking the suite down (the bugs below blocked forever); not a
/// measure of speed.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(300);

/// `ballotscan scan in --out out` run in `dir`, which must succeed (within the hang guard: a
/// walk that loops or a read that never ends fails the test instead of stalling it).
fn scan_in_to_out(dir: &Path) {
    bin()
        .current_dir(dir)
        .args(["scan", "in", "--out", "out"])
        .timeout(HANG_GUARD)
        .assert()
        .success();
}

#[test]
fn a_scan_killed_while_reading_leaves_the_previous_results_whole_and_no_temporary_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = three_ballots(dir.path());
    let out = dir.path().join("out");
    bin()
        .arg("scan")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let before: Vec<(String, Vec<u8>)> =
        ["ballots.csv", "answers.csv", "tallies.csv", "summary.csv"]
            .iter()
            .map(|n| (n.to_string(), std::fs::read(out.join(n)).expect("read")))
            .collect();
    // A larger batch, killed once it has started writing.
    for s in 4..=40 {
        save_jpeg(
            &ballot("P-CATDAI", s, &answers(), None, 200.0),
            &input.join(format!("c{s}.jpg")),
        );
    }
    let exe = assert_cmd::cargo::cargo_bin("ballotscan");
    let mut child = std::process::Command::new(exe)
        .arg("scan")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["--threads", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let writing = || {
        let in_out = std::fs::read_dir(&out)
            .expect("ls")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp"));
        let beside = std::fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".out.new-"));
        in_out || beside
    };
    let started = std::time::Instant::now();
    while !writing() && started.elapsed() < HANG_GUARD {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "left in the results folder: {leftovers:?}"
    );
    for (name, bytes) in &before {
        assert!(
            std::fs::read(out.join(name)).expect("read") == *bytes,
            "{name} changed though the scan never finished"
        );
    }
    // The next reader clears what the killed run left beside the folder.
    bin().arg("review").arg(&out).assert().success();
    let beside: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out.") && !n.ends_with(".lock"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
}

#[test]
fn a_second_scan_into_a_folder_being_written_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = three_ballots(dir.path());
    for s in 4..=30 {
        save_jpeg(
            &ballot("P-CATDAI", s, &answers(), None, 200.0),
            &input.join(format!("c{s}.jpg")),
        );
    }
    let out = dir.path().join("out");
    let exe = assert_cmd::cargo::cargo_bin("ballotscan");
    let mut first = std::process::Command::new(exe)
        .arg("scan")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["--threads", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until the first run has started writing, then start the second.
    let started = std::time::Instant::now();
    while !std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(".out.new-") || (n == "out")
        })
        && started.elapsed() < HANG_GUARD
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let second = bin()
        .arg("scan")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .timeout(HANG_GUARD)
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&second.get_output().stderr).to_string();
    // Vietnamese, the default.
    assert!(err.contains("một ballotscan khác đang ghi vào"), "{err}");
    assert!(first.wait().expect("wait").success());
    assert_eq!(statuses(&out).get("counted"), Some(&30));
}

#[test]
fn generate_into_a_folder_another_generate_holds_is_refused_and_serials_stay_unique() {
    let dir = tempfile::tempdir().expect("tempdir");
    let print = dir.path().join("print");
    let exe = assert_cmd::cargo::cargo_bin("ballotscan");
    let runs: Vec<std::process::Child> = (0..3)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["generate", "--unit", "P-ANBIEN", "--count", "40", "--out"])
                .arg(&print)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut ok = 0;
    for r in runs {
        let o = r.wait_with_output().expect("wait");
        if o.status.success() {
            ok += 1;
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("một ballotscan khác đang in phiếu vào"),
                "{err}"
            );
        }
    }
    let serials: Vec<String> = read_rows(&print.join("issued.csv"))
        .into_iter()
        .map(|r| r[3].clone())
        .collect();
    let unique: std::collections::BTreeSet<&String> = serials.iter().collect();
    assert_eq!(unique.len(), serials.len(), "a serial was issued twice");
    assert_eq!(serials.len(), 40 * ok);
}

#[test]
fn a_scan_whose_results_folder_lies_inside_its_input_does_not_read_its_own_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_ballots(dir.path());
    for _ in 0..2 {
        bin()
            .current_dir(dir.path())
            .args(["scan", "in", "--out", "in/out"])
            .assert()
            .success();
        bin()
            .current_dir(dir.path())
            .args(["review", "in/out"])
            .assert()
            .success();
    }
    assert_eq!(
        sources(&dir.path().join("in/out")),
        ["in/b1.jpg", "in/b2.jpg", "in/b3.jpg"]
    );
}

#[test]
fn an_empty_input_set_fails_and_keeps_the_previous_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = three_ballots(dir.path());
    let out = dir.path().join("out");
    bin()
        .arg("scan")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let before = std::fs::read(out.join("ballots.csv")).expect("read");
    let empty = dir.path().join("unmounted-share");
    std::fs::create_dir(&empty).expect("mkdir");
    // A missing folder is named as missing (tests/mistakes.rs), before anything is read.
    for (args, says) in [
        (vec![empty.clone()], "no files to scan"),
        (
            vec![dir.path().join("no-such-folder")],
            "no-such-folder does not exist",
        ),
    ] {
        let r = bin()
            .args(["--lang", "en", "scan"])
            .args(&args)
            .arg("--out")
            .arg(&out)
            .assert()
            .failure()
            .code(3);
        let err = String::from_utf8_lossy(&r.get_output().stderr).to_string();
        assert!(err.contains(says), "{err}");
        assert_eq!(
            std::fs::read(out.join("ballots.csv")).expect("read"),
            before
        );
    }
}

#[cfg(unix)]
#[test]
fn a_link_back_up_the_tree_gives_one_unreadable_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = three_ballots(dir.path());
    std::os::unix::fs::symlink(".", input.join("loop")).expect("symlink");
    scan_in_to_out(dir.path());
    let rows = read_rows(&dir.path().join("out/ballots.csv"));
    let summary: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r[0].clone(), r[2].clone(), r[3].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "in/loop".into(),
                "rejected".into(),
                "unreadable_file".into()
            ),
            ("in/b1.jpg".into(), "counted".into(), String::new()),
            ("in/b2.jpg".into(), "counted".into(), String::new()),
            ("in/b3.jpg".into(), "counted".into(), String::new()),
        ]
    );
}

#[cfg(unix)]
#[test]
fn two_links_back_up_the_tree_do_not_make_the_walk_explode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = three_ballots(dir.path());
    std::os::unix::fs::symlink(".", input.join("loop1")).expect("symlink");
    std::os::unix::fs::symlink("..", input.join("loop2")).expect("symlink");
    scan_in_to_out(dir.path());
    let s = statuses(&dir.path().join("out"));
    assert_eq!(s.get("counted"), Some(&3), "{s:?}");
    // loop1 is `in` again; loop2 is the parent, whose `in` is visited already and whose `out`
    // is the results folder: one row each for the links that lead back.
    assert_eq!(s.get("rejected"), Some(&2), "{s:?}");
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_get_a_row_and_are_never_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = three_ballots(dir.path());
    let fifo = input.join("a-pipe.jpg");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", input.join("a-zero.png")).expect("symlink");
    bin()
        .current_dir(dir.path())
        .args(["scan", "in", "/dev/urandom", "--out", "out"])
        .timeout(HANG_GUARD)
        .assert()
        .success();
    let rows = read_rows(&dir.path().join("out/ballots.csv"));
    let rejected: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r[2] == "rejected")
        .map(|r| (r[0].clone(), r[3].clone()))
        .collect();
    assert_eq!(
        rejected,
        [
            ("in/a-pipe.jpg".to_string(), "unreadable_file".to_string()),
            ("in/a-zero.png".to_string(), "unreadable_file".to_string()),
            ("/dev/urandom".to_string(), "unreadable_file".to_string()),
        ]
    );
    assert_eq!(statuses(&dir.path().join("out")).get("counted"), Some(&3));
}

/// A multi-page 8-bit gray TIFF of ballots P-ANBIEN 1..=n, and where each page's directory
/// (IFD) starts.
fn tiff_of_ballots(n: u32) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    {
        let mut enc =
            tiff::encoder::TiffEncoder::new(std::io::Cursor::new(&mut bytes)).expect("encoder");
        for s in 1..=n {
            let img = ballot("P-ANBIEN", s, &answers(), None, 150.0);
            enc.write_image::<tiff::encoder::colortype::Gray8>(
                img.width(),
                img.height(),
                img.as_raw(),
            )
            .expect("page");
        }
    }
    assert_eq!(&bytes[..4], b"II*\0", "a little-endian classic TIFF");
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4"));
    let mut ifds = Vec::new();
    let mut at = u32_at(&bytes, 4) as usize;
    while at != 0 {
        ifds.push(at);
        let entries = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        at = u32_at(&bytes, at + 2 + entries * 12) as usize;
    }
    (bytes, ifds)
}

#[test]
fn a_tiff_with_a_bad_third_page_directory_keeps_its_first_two_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    let (mut bytes, ifds) = tiff_of_ballots(4);
    assert_eq!(ifds.len(), 4);
    // Page 3's directory claims 65,535 entries: it runs past the end of the file.
    bytes[ifds[2]..ifds[2] + 2].copy_from_slice(&[0xFF, 0xFF]);
    std::fs::write(input.join("stack.tif"), &bytes).expect("write");
    scan_in_to_out(dir.path());
    let rows: Vec<(String, String, String, String)> =
        read_rows(&dir.path().join("out/ballots.csv"))
            .into_iter()
            .map(|r| (r[1].clone(), r[2].clone(), r[3].clone(), r[7].clone()))
            .collect();
    assert_eq!(
        rows,
        [
            ("1".into(), "counted".into(), String::new(), "000001".into()),
            ("2".into(), "counted".into(), String::new(), "000002".into()),
            (
                "3".into(),
                "rejected".into(),
                "decode_error".into(),
                String::new()
            ),
        ]
    );
}

#[test]
fn tally_without_decisions_reproduces_the_scans_files_byte_for_byte() {
    // The sample batch holds corrections (possible_correction), marginal marks, duplicates,
    // a rescan, upside-down pages and unreadable files.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (scan, fin) = (dir.path().join("scan"), dir.path().join("final"));
    bin()
        .current_dir(root)
        .arg("scan")
        .arg("samples")
        .arg("--out")
        .arg(&scan)
        .assert()
        .success();
    bin()
        .arg("tally")
        .arg(&scan)
        .arg("--out")
        .arg(&fin)
        .assert()
        .success();
    let reasons: String = read_rows(&scan.join("ballots.csv"))
        .iter()
        .map(|r| r[3].clone())
        .collect();
    assert!(
        reasons.contains("possible_correction"),
        "the batch must hold one"
    );
    for name in ["ballots.csv", "answers.csv", "tallies.csv", "summary.csv"] {
        let (a, b) = (
            std::fs::read_to_string(scan.join(name)).expect("scan file"),
            std::fs::read_to_string(fin.join(name)).expect("tally file"),
        );
        let diff: Vec<(&str, &str)> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
        assert!(a == b, "{name} differs: {:?}", &diff[..diff.len().min(3)]);
    }
}

/// `decisions.csv` with the given rows (source,page,unit,serial,question,decision,auditor,note).
fn decisions(dir: &Path, rows: &[&str]) -> PathBuf {
    let p = dir.join("decisions.csv");
    let mut text = String::from("source,page,unit,serial,question,decision,auditor,note\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(&p, text).expect("write");
    p
}

fn tally_fails(dir: &Path, dec: &Path) -> String {
    let r = bin()
        .current_dir(dir)
        .args([
            "--lang",
            "en",
            "tally",
            "out",
            "--out",
            "final",
            "--decisions",
        ])
        .arg(dec)
        .assert()
        .failure();
    String::from_utf8_lossy(&r.get_output().stderr).to_string()
}

#[test]
fn decisions_that_cannot_apply_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = three_ballots(dir.path());
    std::fs::write(input.join("junk.png"), b"not an image").expect("write");
    scan_in_to_out(dir.path());
    let err = tally_fails(
        dir.path(),
        &decisions(dir.path(), &["in/junk.png,1,,,*,ACCEPT,Lan,"]),
    );
    assert!(err.contains("cannot be accepted"), "{err}");
    let err = tally_fails(
        dir.path(),
        &decisions(dir.path(), &["in/b1.jpg,1,P-ANBIEN,1,q1,3,,"]),
    );
    assert!(err.contains("no auditor"), "{err}");
    assert!(!dir.path().join("final").exists(), "nothing written");
}

#[test]
fn rejecting_a_ballot_with_an_identical_rescan_names_the_rescan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = three_ballots(dir.path());
    // The same sheet scanned again: another file, the same answers.
    support::save_png(
        &ballot("P-ANBIEN", 1, &answers(), None, 200.0),
        &input.join("b1-rescan.png"),
    );
    scan_in_to_out(dir.path());
    let err = tally_fails(
        dir.path(),
        &decisions(dir.path(), &["in/b1.jpg,1,P-ANBIEN,1,*,REJECT,Lan,forged"]),
    );
    assert!(err.contains("in/b1-rescan.png#1"), "{err}");
    // Rejecting every copy rejects the ballot.
    let dec = decisions(
        dir.path(),
        &[
            "in/b1.jpg,1,P-ANBIEN,1,*,REJECT,Lan,forged",
            "in/b1-rescan.png,1,P-ANBIEN,1,*,REJECT,Lan,forged",
        ],
    );
    bin()
        .current_dir(dir.path())
        .args(["tally", "out", "--out", "final", "--decisions"])
        .arg(&dec)
        .assert()
        .success();
    let s = statuses(&dir.path().join("final"));
    assert_eq!(
        (s.get("counted"), s.get("rejected")),
        (Some(&2), Some(&2)),
        "{s:?}"
    );
}

#[test]
fn a_decision_error_names_its_line_after_a_note_spanning_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_ballots(dir.path());
    scan_in_to_out(dir.path());
    let dec = decisions(
        dir.path(),
        &[
            "in/b1.jpg,1,P-ANBIEN,1,q1,3,Lan,\"two\nlines\"",
            "in/b2.jpg,1,P-ANBIEN,2,q1,9,Lan,",
        ],
    );
    let err = tally_fails(dir.path(), &dec);
    assert!(err.contains("decisions.csv:4:"), "{err}");
}

#[test]
fn a_tally_without_issued_leaves_no_stale_reconciliation() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_ballots(dir.path());
    scan_in_to_out(dir.path());
    bin()
        .current_dir(dir.path())
        .args([
            "generate", "--unit", "P-ANBIEN", "--count", "3", "--out", "print",
        ])
        .assert()
        .success();
    bin()
        .current_dir(dir.path())
        .args([
            "tally",
            "out",
            "--out",
            "final",
            "--issued",
            "print/issued.csv",
        ])
        .assert()
        .success();
    assert!(dir.path().join("final/reconciliation.csv").exists());
    bin()
        .current_dir(dir.path())
        .args(["tally", "out", "--out", "final"])
        .assert()
        .success();
    assert!(!dir.path().join("final/reconciliation.csv").exists());
}

/// ballots.csv as written (cells still guarded), with its header.
fn ballots_rows(out: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(out.join("ballots.csv")).expect("ballots.csv");
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = rdr
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A decisions file as the review page exports it: each ballot named by its row's cells
/// (source, page, file_sha256, form, version, unit, serial), with `question` and `decision`.
fn export_decisions(path: &Path, out: &Path, decide: &[(u32, &str, &str)]) {
    let (header, rows) = ballots_rows(out);
    let col = |n: &str| header.iter().position(|h| h == n).expect(n);
    let mut w = csv::Writer::from_path(path).expect("decisions.csv");
    w.write_record([
        "source",
        "page",
        "file_sha256",
        "form",
        "version",
        "unit",
        "serial",
        "question",
        "decision",
        "auditor",
        "note",
    ])
    .expect("header");
    for (serial, question, decision) in decide {
        let r = rows
            .iter()
            .find(|r| r[col("serial")].parse::<u32>().ok() == Some(*serial))
            .expect("a row for the serial");
        w.write_record([
            r[col("source")].as_str(),
            &r[col("page")],
            &r[col("file_sha256")],
            &r[col("form")],
            &r[col("version")],
            &r[col("unit")],
            &r[col("serial")],
            question,
            decision,
            "Lan",
            "",
        ])
        .expect("row");
    }
    w.flush().expect("flush");
}

/// The count of `option` for question `q1` in tallies.csv, over every unit.
fn q1_count(out: &Path, option: &str) -> u64 {
    read_rows(&out.join("tallies.csv"))
        .iter()
        // unit, form, version, question, question_text, option, option_label, count
        .filter(|r| r[3] == "q1" && r[5] == option)
        .map(|r| r[7].parse::<u64>().expect("count"))
        .sum()
}

#[test]
fn decisions_round_trip_for_file_names_with_cr_spaces_a_quote_and_non_utf8_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    let mut names: Vec<std::ffi::OsString> = vec![
        "with\rCR.jpg".into(),
        " spaces around .jpg ".into(),
        "'=quoted.jpg".into(),
    ];
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        // Two names that print alike once their bad bytes are replaced.
        names.push(std::ffi::OsString::from_vec(b"bad\xff.jpg".to_vec()));
        names.push(std::ffi::OsString::from_vec(b"bad\xfe.jpg".to_vec()));
    }
    for (i, name) in names.iter().enumerate() {
        save_jpeg(
            &ballot("P-ANBIEN", i as u32 + 1, &answers(), None, 150.0),
            &input.join(name),
        );
    }
    scan_in_to_out(dir.path());
    assert_eq!(
        statuses(&dir.path().join("out")).get("counted"),
        Some(&names.len())
    );
    // Every ballot's q1 (5 as read) decided as 1.
    let decide: Vec<(u32, &str, &str)> = (1..=names.len() as u32).map(|s| (s, "q1", "1")).collect();
    let dec = dir.path().join("decisions.csv");
    export_decisions(&dec, &dir.path().join("out"), &decide);
    bin()
        .current_dir(dir.path())
        .args(["tally", "out", "--out", "final", "--decisions"])
        .arg(&dec)
        .assert()
        .success();
    let fin = dir.path().join("final");
    assert_eq!(q1_count(&fin, "1"), names.len() as u64);
    assert_eq!(q1_count(&fin, "5"), 0);
    // The trail names each file exactly as ballots.csv does.
    let (_, scanned) = ballots_rows(&dir.path().join("out"));
    let mut want: Vec<String> = scanned.iter().map(|r| r[0].clone()).collect();
    let mut got: Vec<String> = read_rows(&fin.join("audit-trail.csv"))
        .iter()
        .map(|r| r[0].clone())
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert!(
        want.contains(&"''=quoted.jpg".to_string())
            || want.iter().any(|s| s.ends_with("'=quoted.jpg")),
        "{want:?}"
    );
}

#[test]
fn decisions_name_their_ballot_across_stations_renames_and_rescans() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two stations whose scanners name files alike: IMG_0002.png holds serial 1 at one and
    // serial 2 at the other.
    for (station, serial) in [("a", 1), ("b", 2)] {
        let input = dir.path().join(station).join("in");
        std::fs::create_dir_all(&input).expect("mkdir");
        support::save_png(
            &ballot("P-ANBIEN", serial, &answers(), None, 150.0),
            &input.join("IMG_0002.png"),
        );
        scan_in_to_out(&dir.path().join(station));
    }
    let dec = dir.path().join("decisions.csv");
    export_decisions(&dec, &dir.path().join("a/out"), &[(1, "q1", "1")]);
    let mut text = std::fs::read_to_string(&dec).expect("read");
    let mut b = dir.path().join("b-dec.csv");
    export_decisions(&b, &dir.path().join("b/out"), &[(2, "q1", "2")]);
    text.push_str(
        std::fs::read_to_string(&b)
            .expect("read")
            .lines()
            .nth(1)
            .expect("row"),
    );
    text.push('\n');
    std::fs::write(&dec, &text).expect("write");
    let tally = |args: &[&str], dec: &Path| {
        bin()
            .current_dir(dir.path())
            .args(["--lang", "en", "tally"])
            .args(args)
            .args(["--out", "final", "--decisions"])
            .arg(dec)
            .assert()
    };
    tally(&["a/out", "b/out"], &dec).success();
    let fin = dir.path().join("final");
    assert_eq!(
        (
            q1_count(&fin, "1"),
            q1_count(&fin, "2"),
            q1_count(&fin, "5")
        ),
        (1, 1, 0)
    );
    // The old format names both files alike: refused, naming both, not applied to one.
    b = dir.path().join("old.csv");
    std::fs::write(
        &b,
        "source,page,unit,serial,question,decision,auditor,note\nin/IMG_0002.png,1,,,q1,1,Lan,\n",
    )
    .expect("write");
    let r = tally(&["a/out", "b/out"], &b).failure();
    let err = String::from_utf8_lossy(&r.get_output().stderr).to_string();
    assert!(err.contains("2 pages"), "{err}");
    // Station a renames its file and scans again: the decision still finds serial 1.
    std::fs::rename(
        dir.path().join("a/in/IMG_0002.png"),
        dir.path().join("a/in/renamed.png"),
    )
    .expect("rename");
    scan_in_to_out(&dir.path().join("a"));
    tally(&["a/out", "b/out"], &dec).success();
    assert_eq!((q1_count(&fin, "1"), q1_count(&fin, "2")), (1, 1));
    // Without station b, its decision matches no ballot: refused, and named.
    let r = tally(&["a/out"], &dec).failure();
    let err = String::from_utf8_lossy(&r.get_output().stderr).to_string();
    assert!(err.contains("1 decision names no ballot"), "{err}");
    assert!(err.contains("P-ANBIEN 000002"), "{err}");
}

#[test]
fn a_decision_made_on_one_folder_applies_to_a_rescan_of_its_ballots_into_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Folder A: the scanner's PNG files. Folder B: the same sheets scanned again a week later,
    // as JPEG under other names (other bytes, other content hashes), with one new ballot first.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d.join("in")).expect("mkdir");
    }
    for serial in [1, 2] {
        let img = ballot("P-ANBIEN", serial, &answers(), None, 150.0);
        support::save_png(&img, &a.join("in").join(format!("IMG_{serial:04}.png")));
        save_jpeg(
            &img,
            &b.join("in").join(format!("scan-{}.jpg", 10 - serial)),
        );
    }
    save_jpeg(
        &ballot("P-ANBIEN", 3, &answers(), None, 150.0),
        &b.join("in").join("scan-0.jpg"),
    );
    scan_in_to_out(&a);
    scan_in_to_out(&b);
    let (_, rows_a) = ballots_rows(&a.join("out"));
    let (_, rows_b) = ballots_rows(&b.join("out"));
    assert!(
        rows_a.iter().all(|r| !rows_b.iter().any(|s| s[0] == r[0])),
        "other names"
    );
    // Serial 2's q1 (read as 5) decided 1 and serial 1 rejected, on folder A.
    let dec = dir.path().join("decisions.csv");
    export_decisions(&dec, &a.join("out"), &[(2, "q1", "1"), (1, "*", "REJECT")]);
    let tally = |scan: &str, dec: &Path| {
        bin()
            .current_dir(dir.path())
            .args([
                "--lang",
                "en",
                "tally",
                scan,
                "--out",
                "final",
                "--decisions",
            ])
            .arg(dec)
            .assert()
    };
    tally("b/out", &dec).success();
    let fin = dir.path().join("final");
    // Serials 2 and 3 counted; serial 2's q1 as decided.
    assert_eq!((q1_count(&fin, "1"), q1_count(&fin, "5")), (1, 1));
    let status = |serial: &str| {
        read_rows(&fin.join("ballots.csv"))
            .into_iter()
            .find(|r| r[7] == serial)
            .map(|r| (r[2].clone(), r[3].clone()))
    };
    assert_eq!(
        status("000001"),
        Some(("rejected".into(), "auditor_rejected".into()))
    );
    // The trail names folder B's files: the decision found its ballot there.
    let trail = read_rows(&fin.join("audit-trail.csv"));
    assert_eq!(trail.len(), 2, "{trail:?}");
    assert!(
        trail.iter().all(|r| r[0].starts_with("in/scan-")),
        "{trail:?}"
    );
    // A decision for a ballot B does not hold: an error naming it by unit and serial, and
    // saying what to do.
    let mut text = std::fs::read_to_string(&dec).expect("read");
    text.push_str("in/IMG_0009.png,1,,CSAT,1,P-ANBIEN,000009,q1,2,Lan,\n");
    std::fs::write(&dec, text).expect("write");
    let r = tally("b/out", &dec).failure();
    let err = String::from_utf8_lossy(&r.get_output().stderr).to_string();
    assert!(
        err.contains("ballot P-ANBIEN 000009 of form CSAT v1"),
        "{err}"
    );
    assert!(
        err.contains("add the scan folder that holds these ballots"),
        "{err}"
    );
}

/// A PDF of JPEG pages, one per entry of `kids`: `Some(jpeg)` is a page, `None` a page-tree
/// entry that names an object the file does not have.
fn pdf_of_jpeg_pages(kids: &[Option<Vec<u8>>]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = vec![Vec::new(), Vec::new()];
    let mut refs = Vec::new();
    for kid in kids {
        let Some(jpeg) = kid else {
            refs.push("999 0 R".to_string());
            continue;
        };
        let decoded = image::load_from_memory(jpeg).expect("jpeg");
        let (page, content, img) = (objects.len() + 1, objects.len() + 2, objects.len() + 3);
        refs.push(format!("{page} 0 R"));
        // A4 in points, the scan drawn over the whole page.
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject \
                 << /Im0 {img} 0 R >> >> /Contents {content} 0 R >>"
            )
            .into_bytes(),
        );
        let draw = b"q 595 0 0 842 0 0 cm /Im0 Do Q";
        let mut c = format!("<< /Length {} >>\nstream\n", draw.len()).into_bytes();
        c.extend_from_slice(draw);
        c.extend_from_slice(b"\nendstream");
        objects.push(c);
        let mut i = format!(
            "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceGray \
             /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
            decoded.width(),
            decoded.height(),
            jpeg.len()
        )
        .into_bytes();
        i.extend_from_slice(jpeg);
        i.extend_from_slice(b"\nendstream");
        objects.push(i);
    }
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>".to_vec();
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        refs.join(" "),
        kids.len()
    )
    .into_bytes();
    support::pdf_file(&objects)
}

#[test]
fn a_pdf_with_a_missing_middle_page_keeps_every_ballot_at_its_own_page_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    let jpeg = |serial: u32| {
        let img = ballot("P-ANBIEN", serial, &answers(), None, 150.0);
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85)
            .encode_image(&img)
            .expect("jpeg");
        bytes
    };
    let pdf = pdf_of_jpeg_pages(&[Some(jpeg(1)), None, Some(jpeg(3)), Some(jpeg(4))]);
    std::fs::write(input.join("stack.pdf"), pdf).expect("write");
    scan_in_to_out(dir.path());
    let rows: Vec<(String, String, String, String)> =
        read_rows(&dir.path().join("out/ballots.csv"))
            .into_iter()
            .map(|r| (r[1].clone(), r[2].clone(), r[3].clone(), r[7].clone()))
            .collect();
    let row = |page: &str, status: &str, reason: &str, serial: &str| {
        (page.into(), status.into(), reason.into(), serial.into())
    };
    assert_eq!(
        rows,
        [
            row("1", "counted", "", "000001"),
            row("2", "rejected", "decode_error", ""),
            row("3", "counted", "", "000003"),
            row("4", "counted", "", "000004"),
        ]
    );
}

#[test]
fn tally_of_a_scan_folder_that_does_not_exist_says_so_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = bin()
        .current_dir(dir.path())
        .args(["--lang", "en", "tally", "nonexist", "--out", "x"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&r.get_output().stderr).to_string();
    assert!(err.contains("nonexist does not exist"), "{err}");
    assert!(!err.contains("given as input"), "{err}");
    // An input mistake (see the README's exit statuses).
    assert_eq!(r.get_output().status.code(), Some(3));
    let written: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(written.is_empty(), "{written:?}");
}

/// Every entry of `dir` (hidden ones too) with its bytes, sorted by name; none for a missing
/// folder.
fn folder_contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(list) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut all: Vec<(String, Vec<u8>)> = list
        .flatten()
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    all.sort();
    all
}

/// Starts `ballotscan ARGS review out` in `dir` and kills it once it has written at least one
/// review image (into `out/review/` or its staging folder beside it).
fn kill_review_while_it_writes_images(dir: &Path, args: &[&str]) {
    let out = dir.join("out");
    let exe = assert_cmd::cargo::cargo_bin("ballotscan");
    let mut child = std::process::Command::new(exe)
        .current_dir(dir)
        .args(args)
        .args(["review", "out"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let has_image = |d: &Path| {
        std::fs::read_dir(d)
            .map(|l| {
                l.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".jpg"))
            })
            .unwrap_or(false)
    };
    let writing = || {
        std::fs::read_dir(&out).expect("ls").flatten().any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            (n == "review" || n.starts_with(".review.new-")) && has_image(&e.path())
        })
    };
    let started = std::time::Instant::now();
    while !writing() && started.elapsed() < HANG_GUARD {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(
        !status.success(),
        "the review finished before it was killed"
    );
}

#[test]
fn a_review_killed_while_writing_images_leaves_the_previous_review_folder_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    // Blank ballots are invalid, so each gets a review image: enough pages that a kill lands
    // while images are being written.
    for s in 1..=30 {
        save_jpeg(
            &ballot("P-ANBIEN", s, &[], None, 200.0),
            &input.join(format!("b{s:02}.jpg")),
        );
    }
    scan_in_to_out(dir.path());
    let review = dir.path().join("out/review");
    // No review yet: a killed first review leaves none, not some images and no page.
    kill_review_while_it_writes_images(dir.path(), &[]);
    let left: Vec<String> = folder_contents(&review)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        left.is_empty(),
        "a killed first review left a partial review/: {left:?}"
    );
    bin()
        .current_dir(dir.path())
        .args(["review", "out"])
        .assert()
        .success();
    let complete = folder_contents(&review);
    assert_eq!(complete.len(), 31, "30 images and index.html");
    // A second review (in English, so its page differs) killed midway: the first stays whole.
    kill_review_while_it_writes_images(dir.path(), &["--lang", "en"]);
    let after = folder_contents(&review);
    let names = |c: &[(String, Vec<u8>)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&after), names(&complete));
    for ((name, now), (_, before)) in after.iter().zip(&complete) {
        assert!(
            now == before,
            "{name} changed though the second review never finished"
        );
    }
    // The next review clears what the killed ones left and replaces the folder whole.
    bin()
        .current_dir(dir.path())
        .args(["--lang", "en", "review", "out"])
        .assert()
        .success();
    let replaced = folder_contents(&review);
    assert_eq!(replaced.len(), 31);
    let page = &replaced
        .iter()
        .find(|(n, _)| n == "index.html")
        .expect("page")
        .1;
    assert!(String::from_utf8_lossy(page).contains("lang=\"en\""));
    let leftovers: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A swap killed between its two renames (on systems without an atomic exchange) leaves no
/// results folder, only the previous set and the complete new one under hidden names: `review`
/// and `tally` of that folder finish the swap instead of saying it does not exist.
#[test]
fn review_and_tally_of_a_folder_between_the_two_renames_finish_the_swap() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    save_jpeg(
        &ballot("P-ANBIEN", 1, &answers(), None, 200.0),
        &dir.path().join("in/a.jpg"),
    );
    scan_in_to_out(dir.path());
    let out = dir.path().join("out");
    copy_dir(&out, &dir.path().join(".out.new-4242"));
    std::fs::rename(&out, dir.path().join(".out.old-4242")).expect("rename");
    bin()
        .current_dir(dir.path())
        .args(["review", "out"])
        .assert()
        .success();
    assert!(out.join("ballots.csv").exists());
    assert!(out.join("review/index.html").exists());
    // The same for tally, killed after moving the previous set away but before the new set
    // was complete: the previous set comes back.
    std::fs::rename(&out, dir.path().join(".out.old-4243")).expect("rename");
    bin()
        .current_dir(dir.path())
        .args(["tally", "out", "--out", "city"])
        .assert()
        .success();
    assert!(dir.path().join("city/tallies.csv").exists());
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".new-") || n.contains(".old-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("ls").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}
