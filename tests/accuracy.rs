//! A slice of the accuracy benchmark, run on every CI build: synthetic ballots for every
//! degradation profile (and a scanner PDF) must be read with zero errors — no definite mark
//! read as empty, no empty box read as marked — and zero silent errors (a wrong answer on a
//! ballot counted or voided without a person). The full benchmark is `bench accuracy`.

use std::path::Path;

use assert_cmd::Command;

fn bin() -> Command {
    Command::cargo_bin("ballotscan").expect("binary built")
}

/// Simulates a batch with `synth` (the given arguments, into `out`), scans it and compares
/// the result with the truth, box by box.
fn synth_scan_check(out: &Path, synth_args: &[&str]) -> ballotscan::synth::check::Accuracy {
    bin()
        .arg("synth")
        .args(synth_args)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    bin()
        .arg("scan")
        .arg(out.join("scans"))
        .arg("--out")
        .arg(out.join("result"))
        .assert()
        .success();
    ballotscan::synth::check::compare(&out.join("truth.csv"), &out.join("result/answers.csv"))
        .expect("compare")
}

fn run_profile(
    dir: &Path,
    profile: &str,
    format: &str,
    seed: u64,
) -> ballotscan::synth::check::Accuracy {
    let seed = seed.to_string();
    synth_scan_check(
        &dir.join(profile),
        &[
            "--unit",
            "P-ANBIEN,X-ANDONG,P-MAYTO",
            "--count",
            "4",
            "--profile",
            profile,
            "--format",
            format,
            "--seed",
            &seed,
        ],
    )
}

#[test]
fn every_profile_is_read_without_a_single_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut positions = 0;
    for (i, (profile, format)) in [
        ("clean", "auto"),
        ("office-scanner", "auto"),
        ("bad-scanner", "auto"),
        ("phone-photo", "auto"),
        ("office-scanner", "pdf"),
    ]
    .into_iter()
    .enumerate()
    {
        let a = run_profile(
            &dir.path().join(format!("{i}")),
            profile,
            format,
            100 + i as u64,
        );
        assert_eq!(a.errors, 0, "{profile}/{format}: {:#?}", a.worst);
        assert_eq!(a.silent_errors, 0, "{profile}/{format}: {:#?}", a.worst);
        assert!(
            a.definite > 40,
            "{profile}: the batch has marks to read ({})",
            a.definite
        );
        // A definite mark sent to a person is a cost, not an error, but it must stay rare.
        assert!(
            a.definite_to_review * 20 <= a.definite,
            "{profile}: {:#?}",
            a.worst
        );
        // Bad scans may lose a ballot to a torn-off corner, never most of them.
        assert!(
            a.ballots_unread * 4 <= a.ballots,
            "{profile}: {} of {} unread",
            a.ballots_unread,
            a.ballots
        );
        positions += a.positions;
    }
    assert!(positions > 1500, "{positions}");
}

/// The effect families users reported (issue #11), a slice each: 12 ballots, 0 errors and 0
/// silent errors, definite marks rarely sent to review, no page rejected (each family keeps
/// the QR code and every box on the image).
///
/// `review_percent` bounds the definite marks sent to a person: 5 % where the paper around the
/// boxes is plain; more where a band or a ridge's sharp shadow leaves boxes to a person (the
/// issue's aim of 0.5 % is not met there yet: BENCHMARKS.md), so a collapse still fails.
fn family_is_read_without_a_single_error(profile: &str, seed: u64, review_percent: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = run_profile(dir.path(), profile, "auto", seed);
    assert_eq!(a.errors, 0, "{profile}: {:#?}", a.worst);
    assert_eq!(a.silent_errors, 0, "{profile}: {:#?}", a.worst);
    assert!(
        a.definite > 40,
        "{profile}: the batch has marks to read ({})",
        a.definite
    );
    assert!(
        a.definite_to_review * 100 <= a.definite * review_percent,
        "{profile}: {} of {} definite marks to review: {:#?}",
        a.definite_to_review,
        a.definite,
        a.worst
    );
    assert_eq!(
        a.pages_rejected(),
        0,
        "{profile}: rejected {}",
        a.rejected_summary()
    );
}

#[test]
// Before the reader judged marks against their surroundings and aligned on the boxes: folded: 2 silent MULTIs, 14 box errors in 12 ballots (seed 201).
fn folded_ballots_are_read_without_a_single_error() {
    family_is_read_without_a_single_error("folded", 201, 10);
}

#[test]
// Before the reader judged marks against their surroundings and aligned on the boxes: photocopy: 6 silent errors on one counted ballot, boxes under a band read marked (fill up to 0.92).
fn photocopied_ballots_are_read_without_a_single_error() {
    family_is_read_without_a_single_error("photocopy", 202, 20);
}

#[test]
// Before the reader judged marks against their surroundings and aligned on the boxes: phone-shadow: a silent MULTI, boxes at the shadow edge read marked.
fn phone_photos_with_a_cast_shadow_are_read_without_a_single_error() {
    family_is_read_without_a_single_error("phone-shadow", 203, 5);
}

#[test]
// Before the reader judged marks against their surroundings and aligned on the boxes: phone-corner: three-disc fits, every box read marked, ballots voided (invalid) silently.
fn phone_photos_with_a_hidden_corner_are_read_without_a_single_error() {
    family_is_read_without_a_single_error("phone-corner", 204, 5);
}

#[test]
// Before the reader judged marks against their surroundings and aligned on the boxes: cut-corners: 9 of 12 pages rejected alignment_failed.
fn scans_with_corners_cut_off_are_read_without_a_single_error() {
    family_is_read_without_a_single_error("cut-corners", 205, 5);
}

#[test]
// Before the reader judged marks against their surroundings and aligned on the boxes: curled: a silent MULTI, 10 box errors.
fn ballots_with_a_curled_edge_are_read_without_a_single_error() {
    family_is_read_without_a_single_error("curled", 206, 5);
}

#[test]
fn stamped_ballots_are_read_without_a_single_error() {
    family_is_read_without_a_single_error("stamped", 207, 5);
}

#[test]
fn the_speed_benchmark_runs_and_reports_its_figures() {
    let out = Command::cargo_bin("bench")
        .expect("bench binary")
        .args(["speed", "--pages", "8", "--rounds", "1"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for batch in ["200 DPI JPEG", "300 DPI JPEG", "200 DPI PNG", "200 DPI PDF"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(batch))
            .unwrap_or_else(|| panic!("no {batch} in {text}"));
        let numbers: Vec<f64> = line[batch.len()..]
            .split_whitespace()
            .filter_map(|w| w.trim_end_matches("ms").parse().ok())
            .collect();
        // decode p/s, scan p/s, ratio: positive, and a scan cannot beat decoding by much.
        assert!(
            numbers.len() >= 3 && numbers[0] > 0.0 && numbers[1] > 0.0,
            "{line}"
        );
        assert!(numbers[2] > 0.5, "scan/decode ratio {line}");
    }
}

/// Regressions named after what broke: a phone photo whose far fiducials lay beyond the first
/// search (perspective), and a sideways scan with one fiducial cut by the image edge, where a
/// bold title letter passed for the missing disc.
#[test]
fn regression_far_fiducials_of_a_phone_photo_and_a_cut_fiducial_on_a_sideways_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (profile, seed, serial) in [("phone-photo", 3042, 1), ("bad-scanner", 2042, 41)] {
        let (seed, serial) = (seed.to_string(), serial.to_string());
        let a = synth_scan_check(
            &dir.path().join(profile),
            &[
                "--unit",
                "P-ANBIEN",
                "--count",
                "1",
                "--profile",
                profile,
                "--seed",
                &seed,
                "--first-serial",
                &serial,
            ],
        );
        assert_eq!(a.ballots_unread, 0, "{profile}: the page was not read");
        assert_eq!(a.errors, 0, "{profile}: {:#?}", a.worst);
    }
}

/// One synthetic ballot (the same page as in a larger batch of that seed), scanned and checked.
fn one_ballot(
    out: &Path,
    profile: &str,
    seed: &str,
    unit: &str,
    serial: &str,
) -> ballotscan::synth::check::Accuracy {
    synth_scan_check(
        out,
        &[
            "--unit",
            unit,
            "--count",
            "1",
            "--profile",
            profile,
            "--seed",
            seed,
            "--first-serial",
            serial,
        ],
    )
}

/// Regressions from the 1,000,000-position run: a 1-bit scanner streak broken into dashes
/// across a row of empty boxes (one was read as marked), and ticks the same scanner's blur
/// and threshold erased down to a few specks (now marginal in the truth: no reader sees them).
#[test]
fn regression_dashed_streak_and_ticks_erased_by_a_1_bit_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (unit, serial, erased) in [
        ("P-MAYTO", 1450, None),
        ("P-ANBIEN", 1134, Some("1=marginal:tick")),
        ("P-CATDAI", 1300, Some("4=marginal:tick")),
    ] {
        let out = dir.path().join(unit);
        let a = one_ballot(&out, "bad-scanner", "2042", unit, &serial.to_string());
        assert_eq!(a.ballots_unread, 0, "{unit}: the page was not read");
        assert_eq!(a.errors, 0, "{unit}: {:#?}", a.worst);
        if let Some(mark) = erased {
            let truth = std::fs::read_to_string(out.join("truth.csv")).expect("truth");
            assert!(truth.contains(mark), "{unit}: {truth}");
        }
    }
}

/// Pages once rejected although a person reads them easily: a skewed bad scan whose four corner
/// fiducials are all cut by the edge of the image, and phone photos of a blurred QR code on a
/// page that does not fill the frame (one threshold for the whole photo fell between the
/// background and the paper).
#[test]
fn regression_cut_fiducials_and_blurred_codes_in_photos_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (profile, seed, unit, serial) in [
        ("bad-scanner", "2042", "P-CATDAI", "26"),
        ("bad-scanner", "2042", "P-ANBIEN", "5"),
        ("phone-photo", "42", "P-ANBIEN", "28"),
        ("phone-photo", "42", "P-ANBIEN", "59"),
    ] {
        let out = dir.path().join(format!("{profile}-{unit}-{serial}"));
        let a = one_ballot(&out, profile, seed, unit, serial);
        assert_eq!(a.ballots_unread, 0, "{profile} {unit} {serial}: not read");
        assert_eq!(a.errors, 0, "{profile} {unit} {serial}: {:#?}", a.worst);
    }
}

/// Regression from `bench accuracy --seed 1` (bad-scanner): a cross that a 1-bit scan thinned
/// to a trace (fill 0.028, just under the empty threshold, every other box of the row 0.000)
/// was read BLANK on a counted ballot: a silent error. It now goes to review.
#[test]
fn regression_a_cross_thinned_to_a_trace_by_a_1_bit_scan_goes_to_review() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("trace");
    let a = one_ballot(&out, "bad-scanner", "2001", "X-ANDONG", "3");
    assert_eq!(a.ballots_unread, 0, "the page was not read");
    assert_eq!(a.silent_errors, 0, "{:#?}", a.worst);
    let truth = std::fs::read_to_string(out.join("truth.csv")).expect("truth");
    assert!(truth.contains("q1,1,,1=marginal:cross"), "{truth}");
    let answers = std::fs::read_to_string(out.join("result/answers.csv")).expect("answers");
    assert!(
        answers.lines().any(|l| l.contains(",q1,REVIEW,")),
        "{answers}"
    );
}
