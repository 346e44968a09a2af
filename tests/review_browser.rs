//! The review page in a real headless browser: an auditor's choices, made by clicking, come
//! out of "Export decisions.csv" exactly, and the audit code accepts that file.
//!
//! Needs Debian's Chromium (/usr/bin/chromium) and playwright-core in tests/browser/
//! (`bash .ci/install-browser` installs both). Without them this test fails, unless
//! BALLOTSCAN_SKIP_BROWSER=1 says to skip it.

mod support;

use std::path::Path;
use std::process::Command;

use ballotscan::audit;
use ballotscan::ballot::{Answer, Status};
use ballotscan::i18n::Lang;
use ballotscan::reason::Reason;
use ballotscan::report::ScanSettings;
use support::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// True when the browser test can run; panics with what to do when it cannot and was not
/// told to skip.
fn browser_available(root: &Path) -> bool {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM.to_string());
    }
    let driver = root.join("tests/browser/node_modules/playwright-core");
    if !driver.exists() {
        missing.push(driver.display().to_string());
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (Node.js)".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("BALLOTSCAN_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!(
            "review_browser: SKIPPED (BALLOTSCAN_SKIP_BROWSER=1); missing {}",
            missing.join(", ")
        );
        return false;
    }
    panic!(
        "the real-browser test needs {}: run `bash .ci/install-browser` (as root), or set BALLOTSCAN_SKIP_BROWSER=1 to skip it",
        missing.join(" and ")
    );
}

/// Runs tests/browser/review.test.mjs on the folder's review page with `expected`; returns
/// what it printed (its figures), having shown it (`--nocapture`).
fn browser_checks(root: &Path, out: &Path, expected: &Path) -> String {
    let run = Command::new("node")
        .current_dir(root)
        .arg("tests/browser/review.test.mjs")
        .arg(out.join("review/index.html"))
        .arg(expected)
        .output()
        .expect("node runs");
    assert!(
        run.status.success(),
        "browser checks failed ({}):\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let said = String::from_utf8_lossy(&run.stdout).into_owned();
    eprint!("{said}");
    said
}

/// The scans of `make_scans`, scanned into `out` with its review page, when the browser test
/// can run: the folder and `out`.
fn reviewed_scans(root: &Path) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    if !browser_available(root) {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    make_scans(dir.path());
    scan_and_review(dir.path(), "scans", "out");
    let out = dir.path().join("out");
    Some((dir, out))
}

/// `ballotscan tally out --decisions decisions.csv --out final`, run in `dir`.
fn final_tally(dir: &Path) {
    bin()
        .current_dir(dir)
        .args([
            "tally",
            "out",
            "--decisions",
            "decisions.csv",
            "--out",
            "final",
        ])
        .assert()
        .success();
}

#[test]
fn an_auditors_clicks_export_exactly_the_decisions_the_audit_accepts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some((dir, out)) = reviewed_scans(root) else {
        return;
    };
    let rows = read_rows(&out.join("ballots.csv"));
    let row_of = |name: &str| {
        rows.iter()
            .position(|r| r[0].ends_with(name))
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("no row for {name}"))
    };
    let html = std::fs::read_to_string(out.join("review/index.html")).expect("index.html");
    let order = card_rows(&html);
    assert_eq!(order.len(), 7);
    assert_eq!(order[0], row_of(HOSTILE_NAME), "the faint mark comes first");

    let auditor = "Nguyễn Văn An, kiểm toán";
    let note = "=torn, \"copy\" <b>& stained";
    let faint_source = format!("scans/{HOSTILE_NAME}");
    let save_to = dir.path().join("decisions.csv");
    // One browser profile for both visits, as an auditor's own browser.
    let profile = dir.path().join("profile");
    std::fs::create_dir_all(&profile).expect("profile");
    // Cells as the page must write them: rows in ballots.csv order, questions before the
    // whole-ballot verdict, a note starting like a formula behind an apostrophe.
    // Each ballot also by its file's content (ballots.csv's file_sha256) and its form.
    let sha_of = |name: &str| rows[row_of(name) - 1][13].clone();
    let (faint_sha, torn_sha) = (sha_of(HOSTILE_NAME), sha_of("h-unknown-unit.jpg"));
    // The unknown unit's rejection, from the file `source` (the same ballot after a rescan).
    let reject_row = |source: &'static str| {
        vec![
            source,
            "1",
            torn_sha.as_str(),
            "CSAT",
            "1",
            "Z-NOWHERE",
            "000005",
            "*",
            "REJECT",
            auditor,
            "'=torn, \"copy\" <b>& stained",
        ]
    };
    let expected_rows = vec![
        vec![
            faint_source.as_str(),
            "1",
            faint_sha.as_str(),
            "CSAT",
            "1",
            "P-ANBIEN",
            "000002",
            "q6",
            "3",
            auditor,
            "",
        ],
        reject_row("scans/h-unknown-unit.jpg"),
    ];
    let expected = serde_json::json!({
        "order": order,
        "auditor": auditor,
        "answer": { "row": row_of(HOSTILE_NAME), "question": "q6", "value": "3" },
        "reject": { "row": row_of("h-unknown-unit.jpg"), "note": note },
        "header": audit::DECISIONS_HEADER,
        "rows": expected_rows,
        "save_to": save_to,
        "profile": profile,
    });
    let expected_path = dir.path().join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).expect("write");

    browser_checks(root, &out, &expected_path);

    // The exported file is what the audit reads: every decision checked against its ballot.
    let decisions = audit::load_decisions(&save_to, Lang::En).expect("decisions.csv loads");
    assert_eq!(decisions.len(), 2);
    assert_eq!(decisions[0].source, faint_source);
    assert_eq!(decisions[1].note, note, "the apostrophe is taken off again");
    assert_eq!(decisions[1].auditor, auditor);
    let mut records = audit::load_scan(&out).expect("scan folder");
    let forms = ScanSettings::load(&out)
        .and_then(|s| s.forms())
        .expect("forms");
    let registry = ScanSettings::load(&out)
        .and_then(|s| s.registry())
        .expect("registry");
    let trail = audit::apply_decisions(&mut records, &decisions, &forms, &registry, Lang::En)
        .expect("the audit accepts the browser's decisions");
    assert_eq!(trail.len(), 2);
    let faint = &records[row_of(HOSTILE_NAME) - 1];
    let q6 = faint
        .questions
        .iter()
        .find(|q| q.question == "q6")
        .expect("q6");
    assert_eq!(q6.answer, Answer::Chosen(vec!["3".into()]));
    assert_eq!(faint.status, Status::Counted, "{:?}", faint.reasons);
    let rejected = &records[row_of("h-unknown-unit.jpg") - 1];
    assert_eq!(rejected.status, Status::Rejected);
    assert_eq!(rejected.reasons, vec![Reason::AuditorRejected]);

    // And through the command line: the final tally applies both and keeps the trail.
    final_tally(dir.path());
    let trail = read_rows(&dir.path().join("final/audit-trail.csv"));
    assert_eq!(trail.len(), 2, "{trail:?}");
    assert!(trail.iter().all(|r| r[7] == auditor), "{trail:?}");

    // The folder is scanned again into the same results, the unknown unit's file renamed so
    // that it comes first (every row moves) and the faint mark's file gone: the rejection
    // comes back on its ballot, the answer for the missing ballot is listed apart.
    let scans = dir.path().join("scans");
    std::fs::rename(
        scans.join("h-unknown-unit.jpg"),
        scans.join("0-renamed-unknown-unit.jpg"),
    )
    .expect("rename");
    std::fs::remove_file(scans.join(HOSTILE_NAME)).expect("remove");
    scan_and_review(dir.path(), "scans", "out");
    let rows = read_rows(&out.join("ballots.csv"));
    let renamed = rows
        .iter()
        .position(|r| r[0] == "scans/0-renamed-unknown-unit.jpg")
        .map(|i| i + 1)
        .expect("renamed row");
    assert_eq!(renamed, 1, "the renamed file comes first");
    let expected = serde_json::json!({
        "phase": "rescan",
        "profile": profile,
        "auditor": auditor,
        "reject": { "row": renamed, "note": note },
        "orphan": "CSAT v1 P-ANBIEN 000002",
        "orphan_what": "q6 = 3",
        "header": audit::DECISIONS_HEADER,
        "rows": [reject_row("scans/0-renamed-unknown-unit.jpg")],
        "save_to": save_to,
    });
    std::fs::write(&expected_path, expected.to_string()).expect("write");
    browser_checks(root, &out, &expected_path);
    let decisions = audit::load_decisions(&save_to, Lang::En).expect("decisions.csv loads");
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].version, "1");
}

/// 5,000 flagged ballots (the "thousands"): the page opens with the first chunk shown
/// and only its images fetched, filters and "show more" answer at once, and the decisions of
/// ballots shown later still export. The browser script prints what it measured (load time,
/// JS heap, DOM nodes, time to filter and show more); the bounds asserted are generous sanity
/// limits a real regression would break (a page that fetches every image, a heap of a
/// gigabyte), never tight timings.
#[test]
fn five_thousand_flagged_ballots_open_in_chunks_and_stay_responsive() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !browser_available(root) {
        return;
    }
    const N: usize = 5000;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let review = out.join("review");
    std::fs::create_dir_all(&review).expect("mkdir");
    let (records, entries) = synthetic_review(N);
    let html = synthetic_page(N);
    std::fs::write(review.join("index.html"), &html).expect("write");
    // One real annotated page (a ballot at the images' 100 DPI, the answer strip beside it),
    // linked under every name the page uses: the browser fetches and decodes each as its own
    // file, the disk holds it once.
    let page = ballot("P-ANBIEN", 1, &answers(), None, 100.0);
    let mut rgb = image::RgbImage::from_pixel(945, 1169, image::Rgb([242, 242, 242]));
    image::imageops::replace(
        &mut rgb,
        &image::DynamicImage::ImageLuma8(page).to_rgb8(),
        0,
        0,
    );
    let first = review.join("page.jpg");
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 80)
        .encode_image(&rgb)
        .expect("encode");
    std::fs::write(&first, &bytes).expect("write");
    for e in &entries {
        let file = review.join(&e.image.as_ref().expect("an image").file);
        if std::fs::hard_link(&first, &file).is_err() {
            std::fs::copy(&first, &file).expect("copy");
        }
    }
    let to_decide = records
        .iter()
        .filter(|r| audit::waiting_for_decision(r))
        .count();
    let invalid = records
        .iter()
        .filter(|r| r.status == Status::Invalid)
        .count();
    let save_to = dir.path().join("decisions.csv");
    let expected = serde_json::json!({
        "phase": "bulk",
        "total": N,
        "chunk": ballotscan::review::page::CHUNK,
        "to_decide": to_decide,
        "invalid": invalid,
        "html_bytes": html.len(),
        "auditor": "Trần Thị Bình",
        "header": audit::DECISIONS_HEADER,
        "save_to": save_to,
    });
    let expected_path = dir.path().join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).expect("write");
    let said = browser_checks(root, &out, &expected_path);
    assert!(said.contains("figures: "), "{said}");
    // The two decisions made in the browser, one on the first card and one on a card shown
    // only by "show more", both hidden by a filter when exported, are what the audit reads.
    let decisions = audit::load_decisions(&save_to, Lang::En).expect("decisions.csv loads");
    assert_eq!(decisions.len(), 2, "{decisions:?}");
}

#[test]
fn a_page_keyed_by_hand_exports_keyed_rows_that_the_tally_counts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some((dir, out)) = reviewed_scans(root) else {
        return;
    };
    let rows = read_rows(&out.join("ballots.csv"));
    // The blank sheet: rejected as no_qr, its image shown. Keyed as if it were a ballot.
    let (row, sheet) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r[0].ends_with("g-sheet.jpg"))
        .map(|(i, r)| (i + 1, r))
        .expect("the blank sheet");
    assert_eq!(
        (sheet[2].as_str(), sheet[3].as_str()),
        ("rejected", "no_qr")
    );
    let auditor = "Lê Thị C";
    let answers = [
        ("q1", "5"),
        ("q2", "4"),
        ("q3", "BLANK"),
        ("q4", "3"),
        ("q5", "5"),
        ("q6", "MULTI"),
        ("q7", "1"),
        ("q8", "no"),
    ];
    let who = [
        sheet[0].as_str(),
        "1",
        sheet[13].as_str(),
        "CSAT",
        "1",
        "P-ANBIEN",
        "000042",
    ];
    let mut expected_rows = vec![[&who[..], &["*", "KEYED", auditor, ""]].concat()];
    for (q, v) in answers {
        expected_rows.push([&who[..], &[q, v, auditor, ""]].concat());
    }
    let save_to = dir.path().join("decisions.csv");
    let expected = serde_json::json!({
        "phase": "keyed",
        "auditor": auditor,
        "keyed": {
            "row": row,
            "form": "CSAT|1",
            "unit": "P-ANBIEN",
            "serial": "000042",
            "answers": answers,
        },
        "header": audit::DECISIONS_HEADER,
        "rows": expected_rows,
        "save_to": save_to,
    });
    let expected_path = dir.path().join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).expect("write");
    browser_checks(root, &out, &expected_path);

    // The tally counts what was keyed, as keyed.
    final_tally(dir.path());
    let ballots = read_rows(&dir.path().join("final/ballots.csv"));
    let keyed = ballots
        .iter()
        .find(|r| r[0].ends_with("g-sheet.jpg"))
        .expect("the sheet in the tally");
    assert_eq!(
        (keyed[2].as_str(), keyed[6].as_str(), keyed[7].as_str()),
        ("keyed", "P-ANBIEN", "000042"),
        "{keyed:?}"
    );
    let trail = read_rows(&dir.path().join("final/audit-trail.csv"));
    assert_eq!(trail.len(), 1 + answers.len(), "{trail:?}");
}
