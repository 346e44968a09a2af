//! Comment areas on scanned ballots (issue #14 point 3): synthetic ballots of the official form
//! (version 2) with handwriting in the comment area or without, through degraded scans, must
//! read WRITTEN and EMPTY; and a comment never changes a ballot's status or any other answer.

use ballotscan::ballot::Answer;
use ballotscan::form::Form;
use ballotscan::layout::Layout;
use ballotscan::marks::Thresholds;
use ballotscan::payload::Payload;
use ballotscan::registry::Registry;
use ballotscan::render::raster;
use ballotscan::scan::{self, PageRecord};
use ballotscan::synth::ballots::make_page_with;
use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;

const DPI: f64 = 150.0;

/// One ballot of `profile`, made with the comment area written in or left blank (the rest of
/// the page identical either way), scanned.
fn read(
    cfg: &scan::Config,
    template: &image::GrayImage,
    profile: &str,
    serial: u32,
    written: bool,
) -> PageRecord {
    let (form, layout) = &cfg.forms[1];
    let payload = Payload::new(&form.id, form.version, "P-ANBIEN", serial);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0xC0FFEE ^ serial as u64);
    let page = make_page_with(
        form,
        layout,
        template,
        DPI,
        &payload,
        "Công an phường An Biên",
        profile,
        Some(written),
        &mut rng,
    )
    .expect("synth page");
    let mut rec = PageRecord::new(profile, serial as usize);
    rec.take(scan::read_page(&page.image, cfg));
    rec
}

fn comment(rec: &PageRecord) -> Option<&Answer> {
    rec.questions
        .iter()
        .find(|q| q.question == "comment")
        .map(|q| &q.answer)
}

#[test]
fn comments_are_read_as_written_or_empty_and_change_nothing_else() {
    let forms = Form::standard_forms();
    let cfg = scan::Config::new(
        forms,
        Registry::default_units(),
        None,
        Thresholds::default(),
    )
    .expect("config");
    assert_eq!(cfg.forms[1].0.version, 2);
    let template = raster::render(&Layout::new(&cfg.forms[1].0).expect("layout").shapes, DPI);
    let per_profile = 10u32;
    let mut missed_total = 0;
    let mut false_written_total = 0;
    let mut read_pages = 0;
    for (p, profile) in [
        "clean",
        "office-scanner",
        "folded",
        "photocopy",
        "phone-shadow",
    ]
    .iter()
    .enumerate()
    {
        let (mut missed, mut false_written, mut n) = (0, 0, 0);
        for k in 0..per_profile {
            let serial = 1000 * (p as u32 + 1) + k;
            let with = read(&cfg, &template, profile, serial, true);
            let without = read(&cfg, &template, profile, serial, false);
            if with.payload.is_none() || without.payload.is_none() {
                // Not a comment matter: a page the reader rejects (its QR code shaded away).
                assert_eq!(with.status, without.status, "{profile} {serial}");
                continue;
            }
            n += 1;
            // A comment never changes the ballot's status, reasons or any counted answer.
            assert_eq!(with.status, without.status, "{profile} {serial}");
            assert_eq!(with.reasons, without.reasons, "{profile} {serial}");
            for (a, b) in with.questions.iter().zip(&without.questions) {
                if a.question != "comment" {
                    assert_eq!(a.answer, b.answer, "{profile} {serial} {}", a.question);
                }
            }
            match comment(&with) {
                Some(Answer::Written) => {
                    assert_eq!(with.comment_images.len(), 1);
                    assert_eq!(with.comment_images[0].0, "comment");
                    // A PNG of the 190 mm wide area, at the scan's own resolution.
                    let img = image::load_from_memory(&with.comment_images[0].1).expect("png");
                    let area = cfg.forms[1].1.text_areas[0].rect;
                    let h = with.transform.expect("aligned");
                    let expected = area.w * h.px_per_mm(area.center());
                    assert!(
                        (img.width() as f64 - expected).abs() < 2.0,
                        "{} px",
                        img.width()
                    );
                    assert_eq!(img.color(), image::ColorType::L8);
                }
                other => {
                    missed += 1;
                    eprintln!("{profile} {serial}: written comment read as {other:?}");
                }
            }
            match comment(&without) {
                Some(Answer::Empty) => assert!(without.comment_images.is_empty()),
                other => {
                    false_written += 1;
                    eprintln!("{profile} {serial}: blank comment area read as {other:?}");
                }
            }
        }
        eprintln!(
            "[{profile}] {n} ballots read twice: written read otherwise {missed}, blank read otherwise {false_written}"
        );
        assert!(
            n >= per_profile as usize - 3,
            "{profile}: only {n} pages read"
        );
        // A comment lost is the worse error: none allowed.
        assert_eq!(missed, 0, "{profile}: written comments missed");
        missed_total += missed;
        false_written_total += false_written;
        read_pages += n;
    }
    eprintln!(
        "comments: {read_pages} written and {read_pages} blank areas, {missed_total} written missed, {false_written_total} blank read as written"
    );
    // A blank area read as written costs a person a glance at an empty image: rare, bounded.
    assert!(
        false_written_total * 10 <= read_pages,
        "{false_written_total} of {read_pages} blank areas read as written"
    );
}
