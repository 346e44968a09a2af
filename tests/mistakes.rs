//! Mistakes a clerk makes on the command line fail loudly, with an exit status a batch file
//! can test and a message saying what to do (issue #15 point 5).

mod support;

use std::path::Path;

use support::{answers, ballot, bin, read_rows, save_png};

fn stderr(run: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&run.get_output().stderr).into_owned()
}

#[test]
fn a_mistyped_scan_folder_is_an_input_error_not_a_rejected_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("scans");
    std::fs::create_dir_all(&good).expect("mkdir");
    save_png(
        &ballot("P-ANBIEN", 1, &answers(), None, 150.0),
        &good.join("a.png"),
    );
    let out = dir.path().join("out");
    let run = bin()
        .args(["--lang", "en", "scan"])
        .arg(&good)
        .arg(dir.path().join("scnas"))
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .code(3);
    let err = stderr(&run);
    assert!(err.contains("scnas does not exist"), "{err}");
    assert!(!err.contains("scans does not exist"), "{err}");
    assert!(!out.exists(), "nothing is written when an input is missing");
}

#[test]
fn a_missing_units_file_or_decisions_file_is_an_input_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = bin()
        .args(["--lang", "en", "units", "--units"])
        .arg(dir.path().join("donvi.csv"))
        .assert()
        .failure()
        .code(3);
    assert!(stderr(&run).contains("donvi.csv does not exist"));
    let run = bin()
        .args(["--lang", "en", "tally"])
        .arg(dir.path().join("scan1"))
        .arg(dir.path().join("scan2"))
        .arg("--out")
        .arg(dir.path().join("city"))
        .assert()
        .failure()
        .code(3);
    let err = stderr(&run);
    assert!(err.contains("scan1") && err.contains("scan2"), "{err}");
    assert!(!dir.path().join("city").exists());
}

#[test]
fn an_unknown_unit_suggests_the_registry_unit_meant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = bin()
        .args(["--lang", "en", "generate", "--unit", "P-ANBEIN", "--out"])
        .arg(dir.path())
        .assert()
        .failure()
        .code(3);
    let err = stderr(&run);
    assert!(
        err.contains("did you mean P-ANBIEN (Công an phường An Biên)?"),
        "{err}"
    );
    assert!(!dir.path().join("issued.csv").exists());
    // In Vietnamese by default.
    let run = bin()
        .args(["generate", "--unit", "cat dai", "--out"])
        .arg(dir.path())
        .assert()
        .failure()
        .code(3);
    assert!(
        stderr(&run).contains("có phải là P-CATDAI (Công an phường Cát Dài)?"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn a_semicolon_units_file_from_excel_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let units = dir.path().join("donvi.csv");
    // As Excel saves "CSV UTF-8" where the list separator is ';'.
    std::fs::write(
        &units,
        "\u{feff}code;name;parent\r\nCA-X;Công an xã Thủy Sơn;\r\nCA-Y;Công an thôn \"Đông\"; CA-X\r\n",
    )
    .expect("write");
    let run = bin()
        .args(["--lang", "en", "units", "--units"])
        .arg(&units)
        .assert()
        .success();
    let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("2 units"), "{out}");
    assert_eq!(lines[1], "CA-X    Công an xã Thủy Sơn");
    assert_eq!(lines[2], "  CA-Y  Công an thôn \"Đông\"");
}

fn scan_with(scans: &Path, out: &Path, empty_below: &str) {
    bin()
        .arg("scan")
        .arg(scans)
        .arg("--out")
        .arg(out)
        .args(["--empty-below", empty_below])
        .assert()
        .success();
}

#[test]
fn a_decimal_comma_is_read_as_a_decimal_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).expect("mkdir");
    save_png(
        &ballot("P-ANBIEN", 1, &answers(), Some(("q6", "3")), 150.0),
        &scans.join("a.png"),
    );
    let (comma, point) = (dir.path().join("comma"), dir.path().join("point"));
    scan_with(&scans, &comma, "0,02");
    scan_with(&scans, &point, "0.02");
    let settings = std::fs::read_to_string(comma.join("scan.json")).expect("scan.json");
    assert!(settings.contains("0.02"), "{settings}");
    assert_eq!(
        read_rows(&comma.join("ballots.csv")),
        read_rows(&point.join("ballots.csv"))
    );
    let run = bin()
        .args(["--lang", "en", "scan"])
        .arg(&scans)
        .args(["--empty-below", "1.000,5", "--out"])
        .arg(dir.path().join("x"))
        .assert()
        .failure()
        .code(2);
    assert!(stderr(&run).contains("write it as 0.03 or 0,03"));
    // Thresholds that contradict each other are a usage mistake too.
    bin()
        .arg("scan")
        .arg(&scans)
        .args(["--empty-below", "0,5", "--marked-above", "0,2", "--out"])
        .arg(dir.path().join("y"))
        .assert()
        .failure()
        .code(2);
}

#[test]
fn help_lists_the_commands_in_the_order_of_the_work() {
    let run = bin().args(["--lang", "en", "--help"]).assert().success();
    let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    let commands: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        [
            "generate", "scan", "review", "tally", "void", "units", "forms", "synth", "check",
            "help"
        ]
    );
    assert!(out.contains("Exit status"), "{out}");
}

#[test]
fn the_same_review_warning_about_many_pages_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).expect("mkdir");
    for f in ["e-batch.tif", "f-scanner-batch.pdf"] {
        std::fs::copy(samples.join(f), scans.join(f)).expect("copy");
    }
    support::scan_and_review(dir.path(), "scans", "out");
    // Changed after the scan: every flagged page of both files gets the same warning.
    for f in ["e-batch.tif", "f-scanner-batch.pdf"] {
        let mut bytes = std::fs::read(scans.join(f)).expect("read");
        bytes.extend_from_slice(b"\n%%EOF\n");
        std::fs::write(scans.join(f), bytes).expect("write");
    }
    let run = bin()
        .current_dir(dir.path())
        .args(["--lang", "en", "review", "out"])
        .assert()
        .success();
    let err = stderr(&run);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("the file has changed since the scan")
            && warnings[0].contains(" pages: scans/e-batch.tif#"),
        "{err}"
    );
}

/// One ballot in `dir/scans`, for the commands below that need a batch to get as far as
/// writing.
fn one_ballot(dir: &Path) -> std::path::PathBuf {
    let scans = dir.join("scans");
    std::fs::create_dir_all(&scans).expect("mkdir");
    save_png(
        &ballot("P-ANBIEN", 1, &answers(), None, 150.0),
        &scans.join("a.png"),
    );
    scans
}

#[test]
fn command_line_mistakes_exit_with_status_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scans = one_ballot(dir.path());
    // An unknown flag (clap's own refusal).
    bin()
        .args(["scan", "--bogus", "--out", "x"])
        .arg(&scans)
        .assert()
        .failure()
        .code(2);
    // A value out of range, found after parsing.
    let run = bin()
        .args([
            "--lang", "en", "synth", "--unit", "P-ANBIEN", "--dpi", "50", "--out",
        ])
        .arg(dir.path().join("synth"))
        .assert()
        .failure()
        .code(2);
    assert!(stderr(&run).contains("--dpi"), "{}", stderr(&run));
    // The current folder as --out: replacing it as a whole would pull the floor away.
    bin()
        .current_dir(dir.path())
        .args(["scan", "scans", "--out", "."])
        .assert()
        .failure()
        .code(2);
}

#[test]
fn unusable_inputs_exit_with_status_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scans = one_ballot(dir.path());
    // A form definition that is not one.
    let forms = dir.path().join("forms");
    std::fs::create_dir_all(&forms).expect("mkdir");
    std::fs::write(forms.join("broken.toml"), "id = \"CSAT\"\nversion = ").expect("write");
    let run = bin()
        .args(["--lang", "en", "scan"])
        .arg(&scans)
        .arg("--forms")
        .arg(&forms)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .failure()
        .code(3);
    assert!(stderr(&run).contains("broken.toml"), "{}", stderr(&run));
    // A units registry that is not one.
    let units = dir.path().join("donvi.csv");
    std::fs::write(&units, "this,is\nnot,a registry\n").expect("write");
    bin()
        .arg("scan")
        .arg(&scans)
        .arg("--units")
        .arg(&units)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .failure()
        .code(3);
    assert!(!dir.path().join("out").exists());
    // A folder given to review that is not a scan's: its scan.json cannot be read.
    let not_a_scan = dir.path().join("not-a-scan");
    std::fs::create_dir_all(&not_a_scan).expect("mkdir");
    std::fs::write(not_a_scan.join("scan.json"), "{ not json").expect("write");
    bin()
        .arg("review")
        .arg(&not_a_scan)
        .assert()
        .failure()
        .code(3);
    // check's truth file missing.
    bin()
        .arg("check")
        .arg(dir.path().join("truth.csv"))
        .arg(&not_a_scan)
        .assert()
        .failure()
        .code(3);
}

#[test]
fn results_that_cannot_be_written_exit_with_status_4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scans = one_ballot(dir.path());
    // A file where the results' parent folder should be: nothing can be created under it,
    // whoever runs the test (permissions would not stop root).
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "not a folder").expect("write");
    let run = bin()
        .args(["--lang", "en", "scan"])
        .arg(&scans)
        .arg("--out")
        .arg(file.join("out"))
        .assert()
        .failure()
        .code(4);
    assert!(stderr(&run).contains("cannot create"), "{}", stderr(&run));
    // --out naming the file itself.
    bin()
        .arg("scan")
        .arg(&scans)
        .arg("--out")
        .arg(&file)
        .assert()
        .failure()
        .code(4);
    // generate's print folder.
    bin()
        .args(["generate", "--unit", "P-ANBIEN", "--count", "1", "--out"])
        .arg(file.join("print"))
        .assert()
        .failure()
        .code(4);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "not a folder",
        "the file in the way is left as it was"
    );
}

#[test]
fn a_malformed_csv_is_named_with_its_line_in_the_users_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("in");
    std::fs::create_dir_all(&out).expect("mkdir");
    // A row a cell short, as a hand edit in a text editor leaves it.
    std::fs::write(
        out.join("issued.csv"),
        "form,version,unit,serial\nCSAT,2,P-ANBIEN,000001\nCSAT,2,P-ANBIEN\n",
    )
    .expect("write");
    for (lang, said) in [
        (&[][..], "issued.csv:3: dòng bị lỗi: "),
        (&["--lang", "en"][..], "issued.csv:3: bad row: "),
    ] {
        let run = bin()
            .args(lang)
            .args(["generate", "--unit", "P-ANBIEN", "--count", "1", "--out"])
            .arg(&out)
            .assert()
            .failure()
            .code(3);
        assert!(
            stderr(&run).contains(said),
            "{said:?} not in {}",
            stderr(&run)
        );
    }
}

#[test]
fn a_results_folder_held_by_another_run_is_refused_in_the_users_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scans = one_ballot(dir.path());
    // The lock another run would hold: the system's, on the file beside the folder.
    let lock = std::fs::File::create(dir.path().join(".out.lock")).expect("lock file");
    lock.lock().expect("lock");
    for (lang, said) in [
        (&[][..], "một ballotscan khác đang ghi vào"),
        (&["--lang", "en"][..], "another ballotscan is writing into"),
    ] {
        let run = bin()
            .args(lang)
            .arg("scan")
            .arg(&scans)
            .arg("--out")
            .arg(dir.path().join("out"))
            .assert()
            .failure()
            .code(1);
        assert!(
            stderr(&run).contains(said),
            "{said:?} not in {}",
            stderr(&run)
        );
    }
}

#[test]
fn command_line_mistakes_are_told_in_vietnamese_by_default_with_clap_specifics() {
    for (args, vi, en) in [
        (
            &["scan", "--bogus"][..],
            "lỗi: không có tùy chọn '--bogus'",
            "error: unexpected argument '--bogus' found",
        ),
        (
            &["scan", "x", "--out", "y", "--threads", "abc"][..],
            "lỗi: giá trị 'abc' không hợp lệ cho '--threads <THREADS>': phải là một số nguyên",
            "error: invalid value 'abc' for '--threads <THREADS>': invalid digit found in string",
        ),
        (
            &["tally", "x", "--out"][..],
            "lỗi: thiếu giá trị cho '--out <OUT>'",
            "error: a value is required for '--out <OUT>' but none was supplied",
        ),
        (
            &["scna"][..],
            "lỗi: không có lệnh 'scna'",
            "error: unrecognized subcommand 'scna'",
        ),
    ] {
        let run = bin().args(args).assert().failure().code(2);
        let e = stderr(&run);
        assert!(e.contains(vi), "{vi:?} not in {e}");
        // clap's usage line comes along, under a Vietnamese heading.
        if e.contains("Usage") || args[0] == "scna" {
            assert!(
                e.contains("Cách dùng: ballotscan") && !e.contains("Usage"),
                "{e}"
            );
        }
        let run = bin()
            .arg("--lang")
            .arg("en")
            .args(args)
            .assert()
            .failure()
            .code(2);
        let e = stderr(&run);
        assert!(e.contains(en), "{en:?} not in {e}");
    }
}
