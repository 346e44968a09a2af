//! The IT officer's corrections (issue #15 point 4): reprinting issued serials, voiding
//! serials so they are never counted, and listing the units and forms in use.

mod support;

use std::path::Path;

use support::{answers, ballot, bin, read_rows, save_png};

fn stderr(run: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&run.get_output().stderr).into_owned()
}

fn generate(print: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .args(["--lang", "en", "generate", "--unit", "P-ANBIEN", "--out"])
        .arg(print)
        .args(args)
        .assert()
}

#[test]
fn a_reprint_prints_the_same_qr_codes_and_is_marked_in_issued_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let print = dir.path().join("print");
    let key = dir.path().join("office.key");
    std::fs::write(&key, "a secret only the office knows").expect("key");
    let key = key.to_str().expect("utf-8 path");
    generate(&print, &["--count", "8", "--png", "--key", key]).success();
    let png = |s: u32| std::fs::read(print.join(format!("png/P-ANBIEN-{s:06}.png"))).expect("png");
    let first: Vec<Vec<u8>> = (5..=7).map(png).collect();
    let first_pdf = std::fs::read(print.join("ballots-P-ANBIEN-000001-000008.pdf")).expect("pdf");
    std::fs::remove_dir_all(print.join("png")).expect("rm");

    let run = generate(&print, &["--reprint", "5-7", "--png", "--key", key]).success();
    assert!(
        stderr(&run).contains("3 ballots of P-ANBIEN printed again"),
        "{}",
        stderr(&run)
    );
    // The same payload and signature: the very same page, pixel for pixel.
    assert_eq!((5..=7).map(png).collect::<Vec<_>>(), first);
    assert!(!print.join("png/P-ANBIEN-000004.png").exists());
    assert!(print
        .join("ballots-P-ANBIEN-000005-000007-reprint.pdf")
        .exists());
    assert_eq!(
        std::fs::read(print.join("ballots-P-ANBIEN-000001-000008.pdf")).expect("pdf"),
        first_pdf,
        "the first printing's PDF is left as it was"
    );
    let issued = read_rows(&print.join("issued.csv"));
    assert_eq!(issued.len(), 11);
    let reprints: Vec<(&str, &str)> = issued
        .iter()
        .filter(|r| r[4] == "yes")
        .map(|r| (r[2].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        reprints,
        [
            ("P-ANBIEN", "000005"),
            ("P-ANBIEN", "000006"),
            ("P-ANBIEN", "000007")
        ]
    );

    // A serial never issued is not "reprinted" into existence; nothing is written.
    let run = generate(&print, &["--reprint", "8-9"]).failure().code(3);
    assert!(
        stderr(&run).contains("serials 9 were never issued"),
        "{}",
        stderr(&run)
    );
    assert_eq!(read_rows(&print.join("issued.csv")).len(), 11);
    // New serials still continue after the last one issued.
    generate(&print, &["--count", "2"]).success();
    let issued = read_rows(&print.join("issued.csv"));
    assert_eq!(issued[issued.len() - 1][3], "000010");
    assert_eq!(issued[issued.len() - 1][4], "");
}

#[test]
fn an_issued_csv_from_before_reprints_is_continued() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("issued.csv"),
        "\u{feff}form,version,unit,serial\nCSAT,2,P-ANBIEN,000001\nCSAT,2,P-ANBIEN,000002\n",
    )
    .expect("write");
    generate(dir.path(), &["--reprint", "2"]).success();
    let issued = read_rows(&dir.path().join("issued.csv"));
    assert_eq!(
        issued,
        [
            ["CSAT", "2", "P-ANBIEN", "000001", ""],
            ["CSAT", "2", "P-ANBIEN", "000002", ""],
            ["CSAT", "2", "P-ANBIEN", "000002", "yes"],
        ]
    );
}

fn void(print: &Path, serials: &str) -> assert_cmd::assert::Assert {
    bin()
        .args([
            "--lang",
            "en",
            "void",
            "--unit",
            "P-ANBIEN",
            "--serials",
            serials,
        ])
        .args(["--reason", "lost on the way to the ward office", "--out"])
        .arg(print)
        .assert()
}

#[test]
fn a_voided_serial_is_never_counted_and_reconciliation_lists_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).expect("mkdir");
    for serial in 1..=4 {
        save_png(
            &ballot("P-ANBIEN", serial, &answers(), None, 150.0),
            &scans.join(format!("b{serial}.png")),
        );
    }
    let scan = dir.path().join("scan");
    bin()
        .arg("scan")
        .arg(&scans)
        .arg("--out")
        .arg(&scan)
        .assert()
        .success();
    let print = dir.path().join("print");
    generate(&print, &["--count", "6"]).success();
    void(&print, "2,5").success();
    assert_eq!(
        read_rows(&print.join("voided.csv")),
        [
            ["P-ANBIEN", "000002", "lost on the way to the ward office"],
            ["P-ANBIEN", "000005", "lost on the way to the ward office"],
        ]
    );
    // Loud mistakes: a serial never issued, a serial voided twice, a reprint of a voided one.
    let run = void(&print, "6-7").failure().code(3);
    assert!(
        stderr(&run).contains("serials 7 were never issued"),
        "{}",
        stderr(&run)
    );
    let run = void(&print, "5").failure().code(3);
    assert!(stderr(&run).contains("already voided"), "{}", stderr(&run));
    let run = generate(&print, &["--reprint", "5"]).failure().code(3);
    assert!(stderr(&run).contains("voided"), "{}", stderr(&run));
    assert_eq!(read_rows(&print.join("voided.csv")).len(), 2);

    let city = dir.path().join("city");
    let run = bin()
        .args(["--lang", "en", "tally"])
        .arg(&scan)
        .arg("--issued")
        .arg(print.join("issued.csv"))
        .arg("--out")
        .arg(&city)
        .assert()
        .success();
    assert!(
        stderr(&run).contains("voided serials: 2 in"),
        "{}",
        stderr(&run)
    );
    let ballots = read_rows(&city.join("ballots.csv"));
    let by_serial = |s: &str| {
        ballots
            .iter()
            .find(|r| r[7] == s)
            .map(|r| (r[2].clone(), r[3].clone()))
    };
    assert_eq!(
        by_serial("000002"),
        Some(("rejected".into(), "voided_serial".into()))
    );
    assert_eq!(by_serial("000001"), Some(("counted".into(), String::new())));
    let summary = read_rows(&city.join("summary.csv"));
    let anbien = summary.iter().find(|r| r[0] == "P-ANBIEN").expect("row");
    assert_eq!(
        (anbien[6].as_str(), anbien[9].as_str()),
        ("3", "1"),
        "counted, rejected"
    );
    let rec = read_rows(&city.join("reconciliation.csv"));
    assert_eq!(
        rec,
        [[
            "P-ANBIEN",
            "Công an phường An Biên",
            "6",
            "3",
            "75.0",
            "1",
            "6",
            "0",
            "",
            "0",
            "2",
            "2,5",
            "2"
        ]]
    );

    // A scan told of the voided serials rejects them at once (and the review page lists them).
    let scan2 = dir.path().join("scan2");
    bin()
        .arg("scan")
        .arg(&scans)
        .arg("--voided")
        .arg(print.join("voided.csv"))
        .arg("--out")
        .arg(&scan2)
        .assert()
        .success();
    let scanned = read_rows(&scan2.join("ballots.csv"));
    let statuses: Vec<(&str, &str, &str)> = scanned
        .iter()
        .map(|r| (r[7].as_str(), r[2].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("000001", "counted", ""),
            ("000002", "rejected", "voided_serial"),
            ("000003", "counted", ""),
            ("000004", "counted", ""),
        ]
    );
    let settings = std::fs::read_to_string(scan2.join("scan.json")).expect("scan.json");
    assert!(settings.contains("voided.csv"), "{settings}");

    // The same print folder saved by Excel with ';' separators reconciles the same.
    let excel = dir.path().join("excel");
    std::fs::create_dir_all(&excel).expect("mkdir");
    for f in ["issued.csv", "voided.csv"] {
        let text = std::fs::read_to_string(print.join(f)).expect("read");
        std::fs::write(excel.join(f), text.replace(',', ";")).expect("write");
    }
    let again = dir.path().join("again");
    bin()
        .arg("tally")
        .arg(&scan)
        .arg("--issued")
        .arg(excel.join("issued.csv"))
        .arg("--out")
        .arg(&again)
        .assert()
        .success();
    assert_eq!(read_rows(&again.join("reconciliation.csv")), rec);
}

#[test]
fn forms_lists_the_embedded_forms_with_questions_and_options() {
    let run = bin().args(["--lang", "en", "forms"]).assert().success();
    let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "2 forms (the embedded standard forms):");
    assert!(lines[1].starts_with("CSAT v1  PHIẾU KHẢO SÁT"), "{out}");
    assert_eq!(
        lines[2],
        "  q1  Nơi tiếp đón, chỗ ngồi chờ và trang thiết bị phục vụ tại nơi giải quyết thủ tục hành chính."
    );
    assert_eq!(
        lines[3],
        "      1 Rất không hài lòng · 2 Không hài lòng · 3 Bình thường · 4 Hài lòng · 5 Rất hài lòng"
    );
    assert!(lines.iter().any(|l| l.starts_with("CSAT v2  ")), "{out}");
}

#[test]
fn units_lists_the_embedded_registry_as_a_tree() {
    let run = bin().args(["units"]).assert().success();
    let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "16 đơn vị (danh sách đơn vị có sẵn):");
    assert!(
        lines.contains(&"    P-ANBIEN      Công an phường An Biên"),
        "{out}"
    );
    assert_eq!(lines.len(), 17);
}
