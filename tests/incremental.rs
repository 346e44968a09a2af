//! Scanning a growing folder into the same results folder: only files not read before are
//! read (by path, size and time, or by content when renamed), and the results are exactly
//! those of one full scan of everything; changed settings or `--rescan` read everything again;
//! `--watch` keeps up as files arrive.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::bin;

/// The shipped samples whose name starts with one of `prefixes`, copied into `dir` (keeping
/// their times, so two copies of one sample have the same stamp).
fn copy_samples(dir: &Path, prefixes: &[&str]) -> usize {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut n = 0;
    for e in std::fs::read_dir("samples").expect("samples").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if prefixes.iter().any(|p| name.starts_with(p)) {
            std::fs::copy(e.path(), dir.join(&name)).expect("copy");
            n += 1;
        }
    }
    n
}

/// Runs a scan and returns its console output.
fn scan(inputs: &Path, out: &Path, extra: &[&str]) -> String {
    let o = bin()
        .arg("scan")
        .arg(inputs)
        .arg("--out")
        .arg(out)
        .args(["--lang", "en"])
        .args(extra)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "scan failed: {text}");
    text
}

/// "N pages kept from the previous scan (…), M pages read": (N, M), or (0, all) when absent.
fn kept_and_read(console: &str) -> (usize, usize) {
    let Some(line) = console
        .lines()
        .find(|l| l.contains("kept from the previous scan"))
    else {
        let pages = console
            .split_whitespace()
            .nth(1)
            .and_then(|w| w.parse().ok())
            .expect("the first line says how many pages");
        return (0, pages);
    };
    let nums: Vec<usize> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

/// The result files a scan writes, by name, with their bytes.
fn results(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for name in [
        "ballots.csv",
        "answers.csv",
        "tallies.csv",
        "summary.csv",
        "pages.jsonl",
        "scan.json",
    ] {
        files.push((
            name.to_string(),
            std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}")),
        ));
    }
    let mut comments: Vec<(String, Vec<u8>)> = std::fs::read_dir(out.join("comments"))
        .map(|d| {
            d.flatten()
                .map(|e| {
                    (
                        format!("comments/{}", e.file_name().to_string_lossy()),
                        std::fs::read(e.path()).expect("comment image"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    comments.sort();
    files.extend(comments);
    files
}

fn assert_same_results(a: &Path, b: &Path) {
    let (ra, rb) = (results(a), results(b));
    let names = |r: &[(String, Vec<u8>)]| r.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ra), names(&rb));
    for ((name, x), (_, y)) in ra.iter().zip(&rb) {
        assert!(
            x == y,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

fn page_rows(out: &Path) -> usize {
    support::read_rows(&out.join("ballots.csv")).len()
}

#[test]
fn a_second_scan_reads_only_the_new_files_and_gives_the_full_scans_results() {
    let t = tempfile::tempdir().expect("tmp");
    let (inbox, out, full) = (
        t.path().join("in"),
        t.path().join("out"),
        t.path().join("full"),
    );
    // Day 1: two units' ballots, with written comments among them.
    copy_samples(&inbox, &["a-", "b-"]);
    let first = scan(&inbox, &out, &[]);
    let day1 = page_rows(&out);
    assert_eq!(kept_and_read(&first), (0, day1));
    // Day 2: more ballots, a multi-page TIFF and PDF, a byte copy and a rescan of day 1's
    // ballots (duplicates of pages read yesterday), a truncated and a blank page.
    copy_samples(&inbox, &["c-", "d-", "e-", "f-", "g-", "h-", "i-", "k-"]);
    let second = scan(&inbox, &out, &[]);
    let all = page_rows(&out);
    assert!(
        all > day1 + 10,
        "{all} pages after day 2, {day1} after day 1"
    );
    // The byte copy of a day-1 file is known by its content: not read either.
    assert_eq!(
        kept_and_read(&second),
        (day1 + 1, all - day1 - 1),
        "{second}"
    );
    // Exactly what one scan of everything gives, duplicates across the two days included.
    scan(&inbox, &full, &[]);
    assert_same_results(&out, &full);
    let ballots = std::fs::read_to_string(out.join("ballots.csv")).expect("ballots");
    assert!(
        ballots.contains("g-copy-of-a-P-ANBIEN-000001.jpg,1,duplicate"),
        "a copy of a day-1 ballot found on day 2 is a duplicate"
    );
    // Nothing new: every page kept.
    let third = scan(&inbox, &out, &[]);
    assert_eq!(kept_and_read(&third), (all, 0), "{third}");
    assert_same_results(&out, &full);
}

#[test]
fn an_unchanged_file_is_not_read_again_and_a_changed_one_is() {
    let t = tempfile::tempdir().expect("tmp");
    let (inbox, out) = (t.path().join("in"), t.path().join("out"));
    copy_samples(&inbox, &["a-P-ANBIEN-00000"]);
    scan(&inbox, &out, &[]);
    let before = std::fs::read(out.join("ballots.csv")).expect("ballots");
    // The same size and time but other bytes: were the file read again, its page would be
    // rejected (no QR code). Kept, it keeps its reading — the proof that it was not read.
    let victim = inbox.join("a-P-ANBIEN-000003.jpg");
    let meta = std::fs::metadata(&victim).expect("meta");
    std::fs::write(&victim, vec![0u8; meta.len() as usize]).expect("overwrite");
    let f = std::fs::File::options()
        .write(true)
        .open(&victim)
        .expect("open");
    f.set_modified(meta.modified().expect("mtime"))
        .expect("set mtime");
    drop(f);
    let console = scan(&inbox, &out, &[]);
    assert_eq!(kept_and_read(&console), (9, 0), "{console}");
    assert_eq!(
        std::fs::read(out.join("ballots.csv")).expect("ballots"),
        before
    );
    // A new time: the file is read again and its page now rejected.
    let f = std::fs::File::options()
        .write(true)
        .open(&victim)
        .expect("open");
    f.set_modified(std::time::SystemTime::now())
        .expect("set mtime");
    drop(f);
    let console = scan(&inbox, &out, &[]);
    assert_eq!(kept_and_read(&console), (8, 1), "{console}");
    let rows = support::read_rows(&out.join("ballots.csv"));
    let row = rows
        .iter()
        .find(|r| r[0].ends_with("a-P-ANBIEN-000003.jpg"))
        .expect("row");
    assert_eq!(row[2], "rejected", "{row:?}");
    // --rescan reads every file.
    let console = scan(&inbox, &out, &["--rescan"]);
    assert_eq!(kept_and_read(&console), (0, 9), "{console}");
}

#[test]
fn a_renamed_file_is_kept_by_its_content_and_a_removed_one_leaves_the_results() {
    let t = tempfile::tempdir().expect("tmp");
    let (inbox, out, full) = (
        t.path().join("in"),
        t.path().join("out"),
        t.path().join("full"),
    );
    copy_samples(&inbox, &["a-P-CATDAI-00000", "e-"]);
    let pages = page_rows(&{
        scan(&inbox, &out, &[]);
        out.clone()
    });
    std::fs::rename(inbox.join("e-batch.tif"), inbox.join("moved-batch.tif")).expect("mv");
    std::fs::remove_file(inbox.join("a-P-CATDAI-000001.jpg")).expect("rm");
    let console = scan(&inbox, &out, &[]);
    assert_eq!(kept_and_read(&console), (pages - 1, 0), "{console}");
    scan(&inbox, &full, &[]);
    assert_same_results(&out, &full);
    let ballots = std::fs::read_to_string(out.join("ballots.csv")).expect("ballots");
    assert!(ballots.contains("moved-batch.tif"));
    assert!(!ballots.contains("e-batch.tif") && !ballots.contains("a-P-CATDAI-000001.jpg"));
}

#[test]
fn other_thresholds_read_every_file_again_and_say_why() {
    let t = tempfile::tempdir().expect("tmp");
    let (inbox, out) = (t.path().join("in"), t.path().join("out"));
    let n = copy_samples(&inbox, &["a-X-ANDONG-00000"]);
    scan(&inbox, &out, &[]);
    let console = scan(&inbox, &out, &["--empty-below", "0.04"]);
    assert_eq!(kept_and_read(&console), (0, n), "{console}");
    assert!(console.contains("every file was read again"), "{console}");
    // The new settings are now the folder's: the next scan keeps everything.
    let console = scan(&inbox, &out, &["--empty-below", "0.04"]);
    assert_eq!(kept_and_read(&console), (n, 0), "{console}");
}

#[test]
fn a_damaged_pages_file_means_a_full_scan_not_a_failure() {
    let t = tempfile::tempdir().expect("tmp");
    let (inbox, out) = (t.path().join("in"), t.path().join("out"));
    let n = copy_samples(&inbox, &["a-P-ANBIEN-00000"]);
    scan(&inbox, &out, &[]);
    let before = std::fs::read(out.join("ballots.csv")).expect("ballots");
    let pages = std::fs::read_to_string(out.join("pages.jsonl")).expect("pages");
    std::fs::write(out.join("pages.jsonl"), &pages[..pages.len() / 2]).expect("cut");
    let console = scan(&inbox, &out, &[]);
    assert_eq!(kept_and_read(&console), (0, n), "{console}");
    assert!(console.contains("could not be used"), "{console}");
    assert_eq!(
        std::fs::read(out.join("ballots.csv")).expect("ballots"),
        before
    );
}

/// Waits up to two minutes for `ballots.csv` in `out` to satisfy `done`; returns its text.
fn wait_for(out: &Path, child: &mut std::process::Child, done: &dyn Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let now = std::fs::read_to_string(out.join("ballots.csv")).unwrap_or_default();
        if done(&now) || start.elapsed() > Duration::from_secs(120) {
            return now;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("scan --watch ended: {status}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn watch_reads_files_as_they_arrive_and_waits_for_an_empty_folder() {
    let t = tempfile::tempdir().expect("tmp");
    let (inbox, out) = (t.path().join("in"), t.path().join("out"));
    std::fs::create_dir_all(&inbox).expect("mkdir");
    let exe: PathBuf = assert_cmd::cargo::cargo_bin("ballotscan");
    let mut child = std::process::Command::new(exe)
        .arg("scan")
        .arg(&inbox)
        .arg("--out")
        .arg(&out)
        .arg("--watch")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // The folder starts empty: no results, no failure.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "--watch gave up on an empty folder"
    );
    assert!(!out.join("ballots.csv").exists());
    let n = copy_samples(&inbox, &["a-P-ANBIEN-00000"]);
    let rows = |text: &str| text.lines().count().saturating_sub(1);
    let ballots = wait_for(&out, &mut child, &|b| rows(b) >= n);
    assert_eq!(rows(&ballots), n);
    assert_eq!(copy_samples(&inbox, &["e-", "f-"]), 2);
    let both = |b: &str| b.contains("e-batch.tif") && b.contains("f-scanner-batch.pdf");
    let ballots = wait_for(&out, &mut child, &both);
    let _ = child.kill();
    let _ = child.wait();
    assert!(both(&ballots), "the TIFF and the PDF were read: {ballots}");
    // Every page of both: the same rows as one scan of the folder.
    let full = t.path().join("full");
    scan(&inbox, &full, &[]);
    assert_eq!(
        ballots,
        std::fs::read_to_string(full.join("ballots.csv")).expect("ballots")
    );
}
