//! The command line speaks the clerk's language (issue #14 point 1): its mistakes are told in
//! Vietnamese by default and in English with `--lang en`, with the same exit status.

use std::path::Path;

use assert_cmd::Command;

fn bin() -> Command {
    Command::cargo_bin("ballotscan").expect("binary built")
}

/// Runs `args` once as given and once after `--lang en`; returns (exit status, stderr) of each.
fn both(args: &[&str], dir: &Path) -> [(i32, String); 2] {
    let run = |lang: &[&str]| {
        let out = bin()
            .current_dir(dir)
            .args(lang)
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    [run(&[]), run(&["--lang", "en"])]
}

/// The mistake `args` makes is told in each language with its own words, never in the other,
/// and with the same exit status.
fn told(args: &[&str], dir: &Path, status: i32, vi: &str, en: &str) {
    let [(vi_status, vi_err), (en_status, en_err)] = both(args, dir);
    assert_eq!(
        (vi_status, en_status),
        (status, status),
        "{vi_err}\n{en_err}"
    );
    assert!(vi_err.contains(vi) && !vi_err.contains(en), "{vi_err}");
    assert!(en_err.contains(en) && !en_err.contains(vi), "{en_err}");
    assert!(vi_err.starts_with("ballotscan: lỗi: "), "{vi_err}");
    assert!(en_err.starts_with("ballotscan: error: "), "{en_err}");
}

#[test]
fn a_units_registry_with_the_wrong_header_is_told_in_the_clerks_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("donvi.csv"), "ma,ten\nA,Công an A\n").expect("write");
    told(
        &["units", "--units", "donvi.csv"],
        dir.path(),
        3,
        "donvi.csv:1: dòng tiêu đề phải là `code,name,parent`",
        "donvi.csv:1: the header must be `code,name,parent`",
    );
}

#[test]
fn a_form_with_a_question_id_used_twice_is_told_in_the_clerks_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let forms = dir.path().join("forms");
    std::fs::create_dir(&forms).expect("mkdir");
    let question = "[[questions]]\nid = \"q1\"\ntext = \"Câu hỏi\"\noptions = [{id = \"a\", label = \"Có\"}]\n";
    std::fs::write(
        forms.join("f.toml"),
        format!("id = \"F\"\nversion = 1\ntitle = \"Phiếu\"\n{question}{question}"),
    )
    .expect("write");
    told(
        &["forms", "--forms", "forms"],
        dir.path(),
        3,
        "f.toml:8: mã câu hỏi “q1” bị dùng hai lần: mỗi câu hỏi cần một mã riêng",
        "f.toml:8: question id \"q1\" is used twice: every question needs its own id",
    );
}

#[test]
fn thresholds_in_the_wrong_order_are_a_usage_mistake_in_both_languages() {
    let dir = tempfile::tempdir().expect("tempdir");
    told(
        &[
            "scan",
            "scans",
            "--out",
            "out",
            "--empty-below",
            "0,5",
            "--marked-above",
            "0.2",
        ],
        dir.path(),
        2,
        "các ngưỡng phải thỏa 0 ≤ --empty-below < --marked-above ≤ 1 (đang là 0.5 và 0.2)",
        "thresholds must satisfy 0 ≤ --empty-below < --marked-above ≤ 1 (got 0.5 and 0.2)",
    );
}

#[test]
fn a_short_key_file_a_zero_count_and_a_bad_dpi_are_told_with_what_to_do_and_the_right_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("key.txt"), "short\n").expect("write");
    let gen = |extra: &[&'static str]| {
        let mut a = vec!["generate", "--unit", "P-ANBIEN", "--out", "in"];
        a.extend_from_slice(extra);
        a
    };
    told(
        &gen(&["--key", "key.txt"]),
        dir.path(),
        3,
        "tệp khóa key.txt có ít hơn 16 byte: hãy dùng một chuỗi bí mật ngẫu nhiên đủ dài",
        "the key file key.txt holds fewer than 16 bytes: use a long random secret",
    );
    told(
        &gen(&["--count", "0"]),
        dir.path(),
        2,
        "--count phải từ 1 trở lên",
        "--count must be at least 1",
    );
    // Flag values out of range are command-line mistakes (2); a bad key file is input (3).
    told(
        &gen(&["--png", "--dpi", "50"]),
        dir.path(),
        2,
        "--dpi phải từ 150 đến 600 (đang là 50)",
        "--dpi must be from 150 to 600 (got 50)",
    );
    assert!(
        !dir.path().join("in").join("issued.csv").exists(),
        "nothing is issued by a refused command"
    );
}

#[test]
fn a_mistyped_report_date_is_a_usage_mistake_in_the_clerks_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let [(vi_status, vi), (en_status, en)] = both(
        &["tally", "scan", "--out", "o", "--date", "30/11/2026"],
        dir.path(),
    );
    assert_eq!((vi_status, en_status), (2, 2));
    assert!(
        vi.contains("“30/11/2026” không phải ngày hợp lệ: hãy viết theo dạng YYYY-MM-DD"),
        "{vi}"
    );
    assert!(
        en.contains("\"30/11/2026\" is not a date: write it as YYYY-MM-DD"),
        "{en}"
    );
}

/// The catalogue's `help` block in `lang` (`vi` or `en`), as the binary reads it.
fn help_catalogue(lang: &str) -> serde_yaml::Mapping {
    let path = format!("{}/locales/{lang}.yml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("catalogue");
    let all: serde_yaml::Value = serde_yaml::from_str(&text).expect("catalogue parses");
    all["help"].as_mapping().expect("a help block").clone()
}

/// The stdout of `ballotscan ARGS` (with `env` set), which must succeed.
fn help_of(args: &[&str], env: Option<(&str, &str)>) -> String {
    let mut cmd = bin();
    cmd.env_remove("BALLOTSCAN_LANG").args(args);
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The commands `--help` lists, first word of each line under `heading`, with their lines.
fn listed_commands(help: &str, heading: &str) -> Vec<(String, String)> {
    help.lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (name, line) = l.trim().split_once(' ')?;
            Some((name.to_string(), line.trim().to_string()))
        })
        .collect()
}

const ORDER_OF_THE_WORK: [&str; 10] = [
    "generate", "scan", "review", "tally", "void", "units", "forms", "synth", "check", "help",
];

#[test]
fn help_is_in_vietnamese_by_default_with_the_commands_in_the_order_of_the_work() {
    let help = help_of(&["--help"], None);
    let commands = listed_commands(&help, "Các lệnh:");
    let names: Vec<&str> = commands.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ORDER_OF_THE_WORK, "{help}");
    let vi = help_catalogue("vi");
    for (name, line) in &commands[..9] {
        assert_eq!(
            Some(line.as_str()),
            vi[name.as_str()]["about"].as_str(),
            "{name}"
        );
    }
    assert_eq!(
        commands[0].1,
        "In phiếu cho một đơn vị: tệp PDF với số sê-ri không trùng, ghi lại vào issued.csv."
    );
    for words in [
        "Cách dùng: ballotscan",
        "Tùy chọn:",
        "Xem hướng dẫn",
        "Mã thoát: 0 hoàn tất",
    ] {
        assert!(help.contains(words), "{words}: {help}");
    }
    assert!(
        !help.contains("Print ballots") && !help.contains("Exit status"),
        "{help}"
    );
}

#[test]
fn help_is_in_english_with_lang_en_or_the_environment_variable() {
    let by_flag = help_of(&["--lang", "en", "--help"], None);
    let by_env = help_of(&["--help"], Some(("BALLOTSCAN_LANG", "en")));
    assert_eq!(by_flag, by_env);
    let commands = listed_commands(&by_flag, "Commands:");
    assert_eq!(
        commands[0],
        (
            "generate".to_string(),
            "Print ballots for one unit: a PDF with unique serials, recorded in issued.csv."
                .to_string()
        )
    );
    assert!(by_flag.contains("Exit status: 0 done"), "{by_flag}");
    assert!(!by_flag.contains("In phiếu"), "{by_flag}");
    // The flag wins over the variable.
    let flag_wins = help_of(&["--lang", "vi", "--help"], Some(("BALLOTSCAN_LANG", "en")));
    assert!(flag_wins.contains("Các lệnh:"), "{flag_wins}");
}

#[test]
fn every_commands_help_explains_every_flag_in_both_languages() {
    for lang in ["vi", "en"] {
        let catalogue = help_catalogue(lang);
        for name in &ORDER_OF_THE_WORK[..9] {
            let help = help_of(&["--lang", lang, name, "--help"], None);
            let texts = catalogue[*name].as_mapping().expect("a block per command");
            // Every text of the command's block is shown: its line and each flag's help
            // (a flag renamed in the code but not in the catalogue would show the raw key).
            for (key, text) in texts {
                let text = text.as_str().expect("text");
                assert!(help.contains(text), "{lang} {name} {key:?}: {help}");
            }
            assert!(
                !help.contains("help."),
                "{lang} {name}: a raw key in {help}"
            );
            let flags = help
                .lines()
                .map(str::trim_start)
                .filter(|l| l.starts_with("--") || l.starts_with("-h,") || l.starts_with('<'))
                .count();
            // Each flag and argument of the block, plus --help and the global --lang.
            assert_eq!(flags, texts.len() - 1 + 2, "{lang} {name}: {help}");
        }
    }
}

#[test]
fn a_command_line_mistake_still_exits_2_in_both_languages() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["scan"][..],
        &["--bogus"],
        &["scan", "s", "--out", "o", "--threads", "all"],
    ] {
        let [(vi, _), (en, _)] = both(args, dir.path());
        assert_eq!((vi, en), (2, 2), "{args:?}");
    }
}

#[test]
fn the_detail_column_of_ballots_csv_is_in_the_scans_language() {
    let dir = tempfile::tempdir().expect("tmp");
    let inbox = dir.path().join("in");
    std::fs::create_dir_all(&inbox).expect("mkdir");
    for f in ["i-truncated.jpg", "j-cover-letter.jpg"] {
        std::fs::copy(Path::new("samples").join(f), inbox.join(f)).expect("copy");
    }
    std::fs::write(inbox.join("empty.png"), b"").expect("empty");
    let detail = |lang: &str| {
        let out = dir.path().join(format!("out-{lang}"));
        bin()
            .args(["--lang", lang, "scan"])
            .arg(&inbox)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let text = std::fs::read_to_string(out.join("ballots.csv")).expect("ballots");
        let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        rows.records()
            .map(|r| r.expect("row").get(14).expect("detail").to_string())
            .collect::<Vec<_>>()
    };
    let (vi, en) = (detail("vi"), detail("en"));
    assert_eq!(
        vi,
        [
            "tệp rỗng (0 byte)",
            "không giải mã được ảnh: JPEG data is truncated (no end-of-image marker)",
            "không thấy mã QR: trang trông như để trắng (tờ giấy trắng, hay mặt sau của phiếu?)",
        ]
    );
    assert_eq!(
        en,
        [
            "empty file (0 bytes)",
            "cannot decode the image: JPEG data is truncated (no end-of-image marker)",
            "no QR code found: the page looks blank (a blank sheet, or the back of a ballot?)",
        ]
    );
}

#[test]
fn a_language_variable_naming_no_language_is_warned_about_in_both_languages() {
    let run = |args: &[&str]| {
        let out = bin()
            .env("BALLOTSCAN_LANG", "fr")
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (status, stdout, stderr) = run(&["units"]);
    assert_eq!(status, Some(0), "{stderr}");
    // Said in both languages, naming the value and the ones accepted; the run goes on in
    // Vietnamese.
    assert!(
        stderr.contains("cảnh báo: biến môi trường BALLOTSCAN_LANG đang là “fr”")
            && stderr.contains("warning: the environment variable BALLOTSCAN_LANG is 'fr'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("vi (tiếng Việt) hoặc en (tiếng Anh)"),
        "{stderr}"
    );
    assert!(stdout.contains("đơn vị"), "{stdout}");
    // With --lang typed, the variable is not consulted: nothing to warn about.
    let (status, _, stderr) = run(&["--lang", "en", "units"]);
    assert_eq!(status, Some(0));
    assert!(!stderr.contains("BALLOTSCAN_LANG"), "{stderr}");
}
