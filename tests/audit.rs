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
        .args(["--date", "2026-11-30"])
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
            // unit, form, version, question, question_text, option, option_label, count
            .find(|r| r[0] == unit && r[3] == q && r[5] == o)
            .map(|r| r[7].clone())
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
        "report.pdf",
        "ketqua.xlsx",
        "satisfaction.png",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).expect("a"),
            std::fs::read(again.join(f)).expect("b"),
            "{f}"
        );
    }
}

/// The refusal of a tally with these decision rows, in English.
fn tally_error(st: &Station, lines: &[&str]) -> String {
    tally_error_in(st, &["--lang", "en"], lines)
}

/// The refusal of a tally with these decision rows, with `lang` (the `--lang` flag and its
/// value, or nothing for the default).
fn tally_error_in(st: &Station, lang: &[&str], lines: &[&str]) -> String {
    let dec = st.root.join("bad.csv");
    decisions(&dec, lines);
    let out = bin()
        .args(lang)
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
fn refused_decisions_are_explained_in_vietnamese_by_default_and_in_english_with_lang_en() {
    let st = station();
    let src = source_of(&st.scan, "000003");
    let rows = [
        "nowhere.png,1,P-ANBIEN,000003,q2,BLANK,A,".to_string(),
        format!("{src},1,P-ANBIEN,000003,q2,7,A,"),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let vietnamese = [
        "1 quyết định không áp dụng được nên không quyết định nào được áp dụng",
        "bad.csv:3: câu hỏi q2 không có phương án \"7\"",
        "1 quyết định không ứng với phiếu nào trong các thư mục quét đã cho",
        "bad.csv:2: nowhere.png#1",
    ];
    let english = [
        "1 decision cannot be applied, so none is; correct or delete it and tally again:",
        "bad.csv:3: question q2 has no option \"7\" (options:",
        "1 decision names no ballot in the scan folders given",
        "bad.csv:2: nowhere.png#1",
    ];
    for (lang, said) in [(&[][..], vietnamese), (&["--lang", "en"][..], english)] {
        let e = tally_error_in(&st, lang, &rows);
        for s in said {
            assert!(e.contains(s), "{s:?} not in {e}");
        }
        if lang.is_empty() {
            assert!(!e.contains("decision"), "English left in: {e}");
        }
    }
}

#[test]
fn a_tally_into_its_own_scan_folder_is_refused_in_the_users_language() {
    let st = station();
    let inside = st.scan.join("tong-hop");
    for (lang, said) in [
        (&[][..], "nằm trong thư mục kết quả quét"),
        (&["--lang", "en"][..], "lies inside the scan folder"),
    ] {
        let out = bin()
            .args(lang)
            .arg("tally")
            .arg(&st.scan)
            .arg("--out")
            .arg(&inside)
            .assert()
            .failure();
        let e = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(e.contains(said), "{said:?} not in {e}");
        assert!(
            !inside.exists(),
            "{lang:?}: a tally was written into the scan folder"
        );
    }
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
    // The copy of ballot 2 waits in review: the report says so.
    assert!(html.contains("KẾT QUẢ TẠM THỜI"), "{html}");
    let book = workbook(&out.join("ketqua.xlsx"));
    let sheet = book
        .iter()
        .find(|(name, _)| name == "Đối chiếu phát - thu")
        .map(|(_, rows)| rows)
        .expect("reconciliation sheet");
    for (csv_row, xl_row) in rec.iter().zip(&sheet[1..]) {
        assert_eq!(csv_row, xl_row, "reconciliation sheet = reconciliation.csv");
    }
    assert_eq!(sheet.len(), rec.len() + 1);
}

/// Every sheet of a workbook as (name, rows of cells), read back by calamine. Whole numbers
/// come back as "12" (as the CSVs write them), other numbers as Rust prints them.
fn workbook(path: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut book: Xlsx<_> = open_workbook(path).expect("ketqua.xlsx opens");
    let names = book.sheet_names().to_vec();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).expect("sheet");
            let rows = range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                            Data::Float(f) => f.to_string(),
                            Data::Int(i) => i.to_string(),
                            Data::String(s) => s.clone(),
                            Data::Empty => String::new(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect();
            (name, rows)
        })
        .collect()
}

fn sheet<'a>(book: &'a [(String, Vec<Vec<String>>)], name: &str) -> &'a [Vec<String>] {
    book.iter()
        .find(|(n, _)| n == name)
        .map(|(_, rows)| rows.as_slice())
        .unwrap_or_else(|| {
            let names: Vec<&String> = book.iter().map(|(n, _)| n).collect();
            panic!("no sheet {name:?} in {names:?}")
        })
}

fn official_tally(st: &Station, extra: &[&str], out: &Path) -> assert_cmd::assert::Assert {
    bin()
        .arg("tally")
        .arg(&st.scan)
        .args([
            "--agency",
            "Công an thành phố Hải Phòng",
            "--period",
            "01/10/2026 - 31/10/2026",
            "--date",
            "2026-11-30",
        ])
        .args(extra)
        .arg("--out")
        .arg(out)
        .assert()
}

#[test]
fn the_report_is_provisional_while_a_ballot_waits_and_final_refuses_until_review_is_done() {
    let st = station();
    // Ballot 3 waits for review (a doubtful speck on q2).
    let out = st.root.join("provisional");
    let run = official_tally(&st, &[], &out).success();
    let console = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert!(
        console.contains("KẾT QUẢ TẠM THỜI: còn 1 phiếu chờ kiểm tra"),
        "{console}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    for needle in [
        "<html lang=\"vi\">",
        "BÁO CÁO KẾT QUẢ KHẢO SÁT MỨC ĐỘ HÀI LÒNG",
        "Công an thành phố Hải Phòng",
        "Kỳ khảo sát: 01/10/2026 - 31/10/2026",
        "Ngày 30 tháng 11 năm 2026",
        "KẾT QUẢ TẠM THỜI",
        "Còn 1 phiếu đang chờ kiểm tra",
        // Three ballots are far fewer than 30 answers: shown, not ranked.
        "<td class=\"name\">chưa đủ phiếu để xếp hạng</td>",
        // Question texts, the yes/no question included, and option labels.
        "Thủ tục hành chính được niêm yết công khai, đầy đủ, dễ hiểu.",
        "Ông/Bà có phải đi lại nhiều lần để hoàn thiện hồ sơ không?",
        "Rất hài lòng",
        "Công an phường An Biên",
        "NGƯỜI LẬP BIỂU",
        "THỦ TRƯỞNG ĐƠN VỊ",
        "@page{size:A4",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle:?}");
    }
    assert!(
        !html.contains("PHIẾU KHẢO SÁT"),
        "the report has its own title, not the ballot's"
    );
    assert!(!html.contains(">q1<"), "questions by text, not id");

    // --final: refused, nothing written, the reason in the clerk's language.
    let refused = st.root.join("refused");
    let run = official_tally(&st, &["--final"], &refused).failure();
    let e = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert!(
        e.contains("chưa thể lập báo cáo chính thức: còn 1 phiếu chờ kiểm tra"),
        "{e}"
    );
    assert!(!refused.exists(), "nothing written when --final refuses");

    // Once review is decided, --final writes a report with no provisional banner.
    let src3 = source_of(&st.scan, "000003");
    let dec = st.root.join("decisions.csv");
    decisions(
        &dec,
        &[&format!("{src3},1,P-ANBIEN,000003,q2,BLANK,A,dust")],
    );
    let fin = st.root.join("final");
    official_tally(
        &st,
        &["--final", "--decisions", dec.to_str().expect("utf8")],
        &fin,
    )
    .success();
    let html = std::fs::read_to_string(fin.join("report.html")).expect("report");
    assert!(!html.contains("KẾT QUẢ TẠM THỜI"));

    // English when asked.
    let en = st.root.join("en");
    official_tally(&st, &["--lang", "en", "--min-answers", "1"], &en).success();
    let html = std::fs::read_to_string(en.join("report.html")).expect("report");
    for needle in [
        "<html lang=\"en\">",
        "PROVISIONAL RESULTS",
        "1 ballots are still waiting for review",
        "PREPARED BY",
        "Survey period: 01/10/2026 - 31/10/2026",
    ] {
        assert!(
            html.contains(needle),
            "English report.html lacks {needle:?}"
        );
    }
    // The legend explains the words; no unit's assessment cell says them.
    assert!(
        !html.contains("<td class=\"name\">too few answers to rank</td>"),
        "--min-answers 1 ranks every unit"
    );
    // P-ANBIEN: 2 of 4 satisfied, 95 % interval 15.0–85.0 %: it cannot be called below 80 %.
    assert!(html.contains("<td class=\"name\">possibly below the threshold</td>"));
}

#[test]
fn the_workbook_reads_back_equal_to_the_csvs_of_the_same_run() {
    let st = station();
    let src3 = source_of(&st.scan, "000003");
    let dec = st.root.join("decisions.csv");
    decisions(
        &dec,
        &[&format!(
            "{src3},1,P-ANBIEN,000003,q2,BLANK,Nguyễn Văn A,dust"
        )],
    );
    let out = st.root.join("book");
    official_tally(&st, &["--decisions", dec.to_str().expect("utf8")], &out).success();
    let book = workbook(&out.join("ketqua.xlsx"));
    let names: Vec<&str> = book.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Thông tin",
            "Tổng hợp theo đơn vị",
            "Kết quả từng câu",
            "Nhật ký kiểm tra"
        ]
    );

    // Summary: every unit of summary.csv with the same counts and rate.
    let summary = rows(&out.join("summary.csv"));
    let xl = sheet(&book, "Tổng hợp theo đơn vị");
    assert_eq!(xl[0][0], "Mã đơn vị");
    assert_eq!(xl.len(), summary.len() + 1);
    let n = summary[0].len();
    for (csv_row, xl_row) in summary.iter().zip(&xl[1..]) {
        assert_eq!(
            &xl_row[..11],
            &csv_row[..11],
            "unit, name, parent, form, version, counts"
        );
        // rated_answers is the CSV's last column (no --issued here).
        assert_eq!(
            xl_row[11],
            csv_row[n - 1],
            "rated answers of {}",
            csv_row[0]
        );
        let csv_rate = &csv_row[n - 2];
        if csv_rate.is_empty() {
            assert_eq!(xl_row[13], "");
        } else {
            let xl_rate: f64 = xl_row[13].parse().expect("rate is a number");
            let csv_rate: f64 = csv_rate.parse().expect("csv rate");
            assert!(
                (xl_rate * 100.0 - csv_rate).abs() < 0.051,
                "{xl_row:?} vs {csv_row:?}"
            );
            let lo: f64 = xl_row[14].parse().expect("interval low");
            let hi: f64 = xl_row[15].parse().expect("interval high");
            assert!(lo <= xl_rate && xl_rate <= hi, "{xl_row:?}");
        }
    }
    // P-ANBIEN: ballots 1 (5, 4), 2 (1, 2), 3 (4, blank) → 3 of 5 rated answers satisfied,
    // Wilson 95 % 23.07 %–88.24 % (statsmodels proportion_confint(3, 5, method="wilson")).
    let anbien = xl.iter().find(|r| r[0] == "P-ANBIEN").expect("P-ANBIEN");
    assert_eq!((anbien[11].as_str(), anbien[12].as_str()), ("5", "3"));
    let lo: f64 = anbien[14].parse().expect("lo");
    let hi: f64 = anbien[15].parse().expect("hi");
    assert!(
        (lo - 0.2307).abs() < 1e-4 && (hi - 0.8824).abs() < 1e-4,
        "{lo} {hi}"
    );
    assert_eq!(anbien[16], "", "5 answers are too few to rank");
    assert!(
        anbien[17].contains("chưa đủ phiếu để xếp hạng"),
        "{anbien:?}"
    );

    // Tallies: the CSV's ids and counts, with the question's text and the option's label.
    let tallies = rows(&out.join("tallies.csv"));
    let xl = sheet(&book, "Kết quả từng câu");
    assert_eq!(xl.len(), tallies.len() + 1);
    for (csv_row, xl_row) in tallies.iter().zip(&xl[1..]) {
        // tallies.csv: unit, form, version, question, question_text, option, option_label,
        // count; the sheet adds the unit's name after the unit.
        assert_eq!(xl_row[0], csv_row[0]);
        assert_eq!(&xl_row[2..], &csv_row[1..]);
    }
    let row = xl
        .iter()
        .find(|r| r[0] == "P-ANBIEN" && r[4] == "q1" && r[6] == "5")
        .expect("q1 option 5");
    assert_eq!(row[1], "Công an phường An Biên");
    assert_eq!((row[2].as_str(), row[3].as_str()), ("CSAT", "1"));
    assert!(row[5].starts_with("Nơi tiếp đón, chỗ ngồi chờ"), "{row:?}");
    assert_eq!((row[7].as_str(), row[8].as_str()), ("Rất hài lòng", "1"));

    // Audit trail: the CSV row for row.
    let trail = rows(&out.join("audit-trail.csv"));
    let xl = sheet(&book, "Nhật ký kiểm tra");
    assert_eq!(xl.len(), trail.len() + 1);
    for (csv_row, xl_row) in trail.iter().zip(&xl[1..]) {
        assert_eq!(csv_row, xl_row);
    }
    let info = sheet(&book, "Thông tin");
    assert!(info
        .iter()
        .any(|r| r.iter().any(|c| c.starts_with("KẾT QUẢ CHÍNH THỨC"))));
}

#[test]
fn the_pdf_report_is_a4_with_its_text_inside_the_margins() {
    if std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_err()
    {
        panic!("pdftotext is missing: install poppler-utils (.ci/run does)");
    }
    let st = station();
    let out = st.root.join("pdf");
    official_tally(&st, &[], &out).success();
    let pdf = out.join("report.pdf");
    let info = std::process::Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .expect("pdfinfo");
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    assert!(info.contains("595.276 x 841.89"), "A4: {info}");
    let txt = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let txt = String::from_utf8_lossy(&txt.stdout).to_string();
    for needle in [
        "BÁO CÁO KẾT QUẢ KHẢO SÁT",
        "CÔNG AN THÀNH PHỐ HẢI PHÒNG",
        "KẾT QUẢ TẠM THỜI",
        "chưa đủ phiếu để xếp hạng",
        "niêm yết công khai",
        "NGƯỜI LẬP BIỂU",
        "THỦ TRƯỞNG ĐƠN VỊ",
    ] {
        assert!(txt.contains(needle), "report.pdf lacks {needle:?}:\n{txt}");
    }
    // Every word's box inside the margins (25 mm left, 15 mm right, 20 mm top and bottom).
    let bbox = std::process::Command::new("pdftotext")
        .arg("-bbox")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext -bbox");
    let bbox = String::from_utf8_lossy(&bbox.stdout).to_string();
    let pt = |mm: f64| mm * 72.0 / 25.4;
    let mut words = 0;
    for line in bbox.lines().filter(|l| l.trim_start().starts_with("<word")) {
        let attr = |name: &str| -> f64 {
            let at = line.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
            line[at..line[at..].find('"').expect("quote") + at]
                .parse()
                .expect("number")
        };
        let (x0, y0, x1, y1) = (attr("xMin"), attr("yMin"), attr("xMax"), attr("yMax"));
        assert!(
            x0 >= pt(25.0) - 0.5 && x1 <= 595.276 - pt(15.0) + 0.5,
            "word outside the side margins: {line}"
        );
        assert!(
            y0 >= pt(20.0) - 2.0 && y1 <= 841.89 - pt(20.0) + 2.0,
            "word outside the top/bottom margins: {line}"
        );
        words += 1;
    }
    assert!(words > 100, "only {words} words in report.pdf");
}

/// A ballot of `form` with solid marks.
fn ballot_of(form: &Form, unit: &str, serial: u32, marks: &[(&str, &str)]) -> image::GrayImage {
    let layout = Layout::new(form).expect("layout");
    let p = Payload::new(&form.id, form.version, unit, serial);
    let mut shapes = ballot_shapes(&layout, &p, "x").expect("shapes");
    for (q, o) in marks {
        shapes.push(Shape::Fill(
            layout.checkbox(q, o).expect("box").rect.inset(1.3),
        ));
    }
    raster::render(&shapes, 200.0)
}

#[test]
fn two_versions_asking_q7_differently_are_kept_apart_and_alike_questions_merged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    // Version 3 of CSAT asks something else as q7: a yes-or-no matter, on the same scale.
    let v1_text = std::fs::read_to_string("fixtures/forms/csat-v1.toml").expect("v1");
    let q7_v1 = "Việc tiếp nhận, xử lý ý kiến phản ánh, kiến nghị.";
    let q7_v3 = "Cán bộ không yêu cầu nộp thêm giấy tờ ngoài quy định.";
    assert!(v1_text.contains(q7_v1));
    let v3_text = v1_text
        .replacen("version = 1", "version = 3", 1)
        .replace(q7_v1, q7_v3);
    let forms = root.join("forms");
    std::fs::create_dir_all(&forms).expect("mkdir");
    std::fs::write(forms.join("csat-v1.toml"), &v1_text).expect("v1");
    std::fs::write(forms.join("csat-v3.toml"), &v3_text).expect("v3");
    let v1 = Form::load(&forms.join("csat-v1.toml")).expect("v1 loads");
    let v3 = Form::load(&forms.join("csat-v3.toml")).expect("v3 loads");
    assert_eq!(v3.version, 3);
    // An Biên answered v1's q7 "very satisfied"; Cát Dài answered v3's q7 "very unsatisfied"
    // twice. Both answered q1 "satisfied", a question the versions ask alike.
    let input = root.join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    save(
        &ballot_of(&v1, "P-ANBIEN", 1, &[("q1", "4"), ("q7", "5")]),
        &input.join("a1.png"),
    );
    for s in [1, 2] {
        save(
            &ballot_of(&v3, "P-CATDAI", s, &[("q1", "4"), ("q7", "1")]),
            &input.join(format!("c{s}.png")),
        );
    }
    let scan = bin()
        .current_dir(root)
        .args(["scan", "in", "--out", "out", "--forms", "forms"])
        .assert()
        .success();
    let said = String::from_utf8_lossy(&scan.get_output().stderr).to_string()
        + &String::from_utf8_lossy(&scan.get_output().stdout);
    assert_eq!(
        said.matches("q7_v1 = CSAT v1; q7_v3 = CSAT v3").count(),
        1,
        "{said}"
    );
    let run = bin()
        .current_dir(root)
        .args(["tally", "out", "--out", "final", "--lang", "en"])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    // Said once, naming both names.
    assert_eq!(err.matches("counted apart").count(), 1, "{err}");
    assert!(err.contains("q7_v1 = CSAT v1; q7_v3 = CSAT v3"), "{err}");
    let fin = root.join("final");
    let summary = rows(&fin.join("summary.csv"));
    let header = {
        let text = std::fs::read_to_string(fin.join("summary.csv")).expect("summary");
        text.trim_start_matches('\u{feff}')
            .lines()
            .next()
            .expect("header")
            .split(',')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("no {n} in {header:?}"))
    };
    assert!(
        !header.contains(&"satisfaction_q7".to_string()),
        "{header:?}"
    );
    // The district holds both communes: v1's q7 at 100 %, v3's at 0 % — merged it would say
    // 33.3 % of one question that was never asked.
    let lechan = summary.iter().find(|r| r[0] == "Q-LECHAN").expect("row");
    assert_eq!(lechan[col("satisfaction_q7_v1")], "100.0", "{lechan:?}");
    assert_eq!(lechan[col("satisfaction_q7_v3")], "0.0", "{lechan:?}");
    assert_eq!(
        lechan[col("satisfaction_q1")],
        "100.0",
        "q1 is asked alike: one column"
    );
    assert_eq!(
        (
            lechan[col("form")].as_str(),
            lechan[col("version")].as_str()
        ),
        ("CSAT", "1;3")
    );
    let catdai = summary.iter().find(|r| r[0] == "P-CATDAI").expect("row");
    assert_eq!(catdai[col("version")], "3");
    assert_eq!(catdai[col("satisfaction_q7_v1")], "", "no v1 ballot there");
    // tallies.csv: v3's q7 under its own name, with its own text and version.
    let tallies = rows(&fin.join("tallies.csv"));
    let q7 = tallies
        .iter()
        .find(|r| r[0] == "P-CATDAI" && r[3] == "q7_v3" && r[5] == "1")
        .expect("q7_v3 row");
    assert_eq!(
        (q7[1].as_str(), q7[2].as_str(), q7[7].as_str()),
        ("CSAT", "3", "2")
    );
    assert!(q7[4].starts_with(q7_v3), "{q7:?}");
    assert!(!tallies.iter().any(|r| r[3] == "q7"), "no merged q7");
    // The report shows both questions, each with its own text.
    let html = std::fs::read_to_string(fin.join("report.html")).expect("report");
    assert!(
        html.contains(&format!("{q7_v3} (CSAT v3)")),
        "v3's q7 in the report"
    );
    assert!(
        html.contains(&format!("{q7_v1} (CSAT v1)")),
        "v1's q7 in the report"
    );
}

#[test]
fn a_damaged_scan_folder_is_refused_in_the_users_language_as_an_input_error() {
    let st = station();
    let ballots = st.scan.join("ballots.csv");
    let text = std::fs::read_to_string(&ballots).expect("ballots.csv");
    assert!(text.contains(",counted,"), "{text}");
    std::fs::write(&ballots, text.replacen(",counted,", ",broken,", 1)).expect("write");
    for (lang, said) in [
        (&[][..], "trạng thái “broken” không hợp lệ"),
        (&["--lang", "en"][..], "bad status \"broken\""),
    ] {
        let out = bin()
            .args(lang)
            .arg("tally")
            .arg(&st.scan)
            .arg("--out")
            .arg(st.root.join("tong-hop"))
            .assert()
            .failure()
            .code(3);
        let e = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(e.contains(said), "{said:?} not in {e}");
        assert!(e.contains("ballots.csv:"), "no file and line in {e}");
    }
    // `review` reads the folder back the same way and says so alike.
    let out = bin().arg("review").arg(&st.scan).assert().failure().code(3);
    let e = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(e.contains("trạng thái “broken” không hợp lệ"), "{e}");
}
