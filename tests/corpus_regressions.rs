//! Pages from the independent corpus (tools/corpus/make_corpus.py, seeds 75, 76, 91 and 92:
//! augraphy and our own folds, copiers and photos, code the reader's authors did not write) on
//! which the reader misread a box. Each was sent to review, so no vote was lost; these tests
//! keep it so: the misread question must stay `REVIEW` and the ballot with a person, never
//! counted. Also pages of our own simulator that exposed a misread or a needless rejection.

mod support;

use std::path::Path;

use support::{bin, read_rows};

/// Each page, and the questions whose boxes were misread there (BENCHMARKS.md, sessions 9
/// and 11): toner blotches from a worn copier and augraphy's dark fields inside empty boxes
/// (seed 75), and a copier's toner in an empty box beside a real mark (seed 76).
///
/// Seed 91 (session 12): augraphy's Markup drew pen strike-throughs across empty boxes of q4,
/// q5 and q6, ink the truth does not know of; q4 reads a strike-through beside the citizen's
/// filled box. (q5 reads the struck-through option, as a person might; the ballot is with a
/// person either way.)
const MISREAD: [(&str, &[&str]); 7] = [
    ("photocopy-PC08-000014.jpg", &["q3"]),
    ("photocopy-PC08-000007.jpg", &["q2"]),
    ("augraphy-default-X-ANDONG-000035.jpg", &["q4", "q8"]),
    ("augraphy-default-P-ANBIEN-000016.jpg", &["q4"]),
    ("photocopy-seed76-P-MAYTO-000017.jpg", &["q5"]),
    ("photocopy-seed76-P-ANBIEN-000007.jpg", &["q7"]),
    ("augraphy-default-seed91-P-ANBIEN-000011.jpg", &["q4"]),
];

#[test]
fn boxes_misread_on_independent_scans_send_the_ballot_to_a_person() {
    let names: Vec<&str> = MISREAD.iter().map(|(name, _)| *name).collect();
    let (ballots, answers) = scan_fixtures(&names);
    for (name, questions) in MISREAD {
        let on_page = |row: &Vec<String>| Path::new(&row[0]).file_name() == Some(name.as_ref());
        let status: Vec<&str> = ballots
            .iter()
            .filter(|r| on_page(r))
            .map(|r| r[2].as_str())
            .collect();
        assert_eq!(status, ["review"], "{name}");
        for q in questions {
            let answer: Vec<&str> = answers
                .iter()
                .filter(|r| on_page(r) && r[4] == *q)
                .map(|r| r[5].as_str())
                .collect();
            assert_eq!(answer, ["REVIEW"], "{name} {q}");
        }
    }
}

/// Our own simulator's photocopy (synth seed 12, BENCHMARKS.md session 11): a toner band over
/// option 3 of q1 and q2 reads as a mark beside the citizen's real one. The ballot must stay
/// with a person, and neither question may read as the band's option alone.
#[test]
fn a_toner_band_beside_real_marks_keeps_the_ballot_with_a_person() {
    let (ballots, answers) = scan_one("photocopy-seed12-P-MAYTO-000004.jpg");
    assert_eq!(ballots[0][2], "review", "{:?}", ballots[0]);
    let answer = |q: &str| {
        answers
            .iter()
            .find(|r| r[4] == q)
            .map(|r| r[5].clone())
            .expect("question read")
    };
    // The truth is 5 for q1 and 4 for q2; the band is on option 3 of both.
    assert!(
        ["MULTI", "REVIEW", "5"].contains(&answer("q1").as_str()),
        "q1 {}",
        answer("q1")
    );
    assert!(
        ["REVIEW", "4"].contains(&answer("q2").as_str()),
        "q2 {}",
        answer("q2")
    );
}

/// The independent corpus, seed 92 (session 13): a tired copier's toner band as wide as the
/// option-5 column, its mottling inside the empty boxes of q6 and q7 read as marks (0.14 and
/// 0.09) beside the citizen's tick in q6 — one clean row more and q6 would have been `MULTI` on
/// a counted ballot. Light marks where the paper around the box changes sharply now go to a
/// person; the real ticks of the page are still read.
#[test]
fn a_copiers_mottled_band_over_a_column_is_not_read_as_marks() {
    let (ballots, answers) = scan_one("photocopy-seed92-P-MAYTO-000016.jpg");
    assert_eq!(ballots[0][2], "review", "{:?}", ballots[0]);
    let states = |q: &str| {
        answers
            .iter()
            .find(|r| r[4] == q)
            .map(|r| r[6].clone())
            .expect("question read")
    };
    for q in ["q6", "q7"] {
        assert!(!states(q).contains("5=marked"), "{q}: {}", states(q));
    }
    // The citizen's tick in q6 (option 1, 0.23 on clean paper) is still a mark.
    assert!(states("q6").contains("1=marked"), "{}", states("q6"));
}

/// The independent corpus, seed 92 (session 13), the one box error left on it: a worn drum's
/// chain of toner blots down the option-1 column, one blot inside the empty box of q3 (0.13,
/// its neighbours crossing the ring above and below), read as a mark beside the citizen's
/// circle-inside in option 2 — q3 reads `MULTI`. Not fixed yet (a blot chain is told from an
/// off-centre tick by nothing the box measures); the ballot must stay with a person, as it
/// does for the blots' other boxes.
#[test]
fn a_chain_of_toner_blots_down_a_column_keeps_the_ballot_with_a_person() {
    let (ballots, answers) = scan_one("photocopy-seed92-P-MAYTO-000020.png");
    assert_eq!(ballots[0][2], "review", "{:?}", ballots[0]);
    let q3 = answers.iter().find(|r| r[4] == "q3").expect("q3 read");
    assert!(["MULTI", "REVIEW", "2"].contains(&q3[5].as_str()), "{q3:?}");
}

/// Our own simulator's phone photo (synth seed 13, BENCHMARKS.md session 12): a sheet upside
/// down with a hand's shadow whose edge runs across the QR code. zbar reads the code; ours
/// read its lit and shaded halves against one threshold and rejected the page (`no_qr`).
#[test]
fn a_shadow_edge_across_the_qr_code_does_not_reject_the_page() {
    let (ballots, answers) = scan_one("phone-shadow-seed13-X-ANDONG-000001.jpg");
    // status, unit and serial as the code says; the truth's answers where read.
    assert_ne!(ballots[0][2], "rejected", "{:?}", ballots[0]);
    assert_eq!(
        (&ballots[0][6][..], &ballots[0][7][..]),
        ("X-ANDONG", "000001")
    );
    let truth = [
        ("q2", "5"),
        ("q3", "5"),
        ("q4", "3"),
        ("q5", "5"),
        ("q6", "BLANK"),
        ("q7", "5"),
        ("q8", "yes"),
    ];
    for (q, expected) in truth {
        let read: Vec<&str> = answers
            .iter()
            .filter(|r| r[4] == q)
            .map(|r| r[5].as_str())
            .collect();
        assert!(read == [expected] || read == ["REVIEW"], "{q}: {read:?}");
    }
}

/// Scans one fixture page on its own: its ballots.csv and answers.csv rows (one ballot).
fn scan_one(name: &str) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let (ballots, answers) = scan_fixtures(&[name]);
    assert_eq!(ballots.len(), 1, "{name}");
    (ballots, answers)
}

/// Scans fixture pages together: the ballots.csv and answers.csv rows.
fn scan_fixtures(names: &[&str]) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    for name in names {
        std::fs::copy(fixtures.join(name), dir.path().join("in").join(name)).expect("copy fixture");
    }
    bin()
        .current_dir(dir.path())
        .args(["scan", "in", "--out", "out"])
        .assert()
        .success();
    (
        read_rows(&dir.path().join("out/ballots.csv")),
        read_rows(&dir.path().join("out/answers.csv")),
    )
}
