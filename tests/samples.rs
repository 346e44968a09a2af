//! The shipped sample batch is also the golden test: its results are compared byte for byte
//! with `fixtures/samples/expected/`, so any change in what the scanner reads shows up in
//! review, and with the synthetic truth, so the change is judged right or wrong.
//!
//! After an intended change: `cargo run --release -- scan samples --out fixtures/samples/expected`
//! (then delete its scan.json) and review the diff.

use assert_cmd::Command;

#[test]
fn sample_batch_matches_the_golden_results_and_the_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    Command::cargo_bin("ballotscan")
        .expect("binary")
        .args(["scan", "samples", "--out"])
        .arg(&out)
        .assert()
        .success();
    for f in ["ballots.csv", "answers.csv", "tallies.csv", "summary.csv"] {
        let got = std::fs::read_to_string(out.join(f)).expect("output");
        let want =
            std::fs::read_to_string(format!("fixtures/samples/expected/{f}")).expect("golden");
        if got != want {
            let diff: Vec<String> = got
                .lines()
                .zip(want.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(a, b)| format!("  got:  {a}\n  want: {b}"))
                .collect();
            panic!(
                "{f} differs from fixtures/samples/expected/{f} ({} vs {} lines):\n{}",
                got.lines().count(),
                want.lines().count(),
                diff.join("\n")
            );
        }
    }
    let acc = ballotscan::synth::check::compare(
        std::path::Path::new("fixtures/samples/truth.csv"),
        &out.join("answers.csv"),
    )
    .expect("compare");
    assert_eq!(acc.errors, 0, "{:#?}", acc.worst);
    assert_eq!(acc.ballots_unread, 0);
    assert!(acc.positions > 1900, "{}", acc.positions);
    // Every file and page is in ballots.csv exactly once: 55 files, two of them multi-page.
    let ballots = std::fs::read_to_string(out.join("ballots.csv")).expect("ballots");
    assert_eq!(ballots.lines().count() - 1, 59);
    for special in [
        ("samples/g-copy-of-a-P-ANBIEN-000001.jpg,1,duplicate,duplicate_file"),
        ("samples/h-rescan-of-a-P-CATDAI-000002.png,1,duplicate,duplicate,"),
        ("samples/j-cover-letter.jpg,1,rejected,no_qr"),
        ("samples/k-blank-ballot.jpg,1,invalid,blank_ballot"),
        ("samples/f-scanner-batch.pdf,3,"),
        ("samples/e-batch.tif,3,"),
    ] {
        assert!(ballots.contains(special), "no row like {special:?}");
    }
}
