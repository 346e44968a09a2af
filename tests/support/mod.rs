//! A small scan folder with one ballot of each kind the review page must show, shared by the
//! `review` tests (tests/review.rs, tests/review_browser.rs).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ballotscan::ballot::{Answer, QuestionRead, Status};
use ballotscan::form::Form;
use ballotscan::layout::{Layout, Shape};
use ballotscan::marks::{Fill, MarkState};
use ballotscan::payload::Payload;
use ballotscan::reason::Reason;
use ballotscan::registry::Registry;
use ballotscan::render::{ballot_shapes, raster};
use ballotscan::review::{Crop, CropBox, Entry, PageImage};
use ballotscan::scan::PageRecord;
use image::ImageEncoder;

pub fn bin() -> Command {
    Command::cargo_bin("ballotscan").expect("binary built")
}

/// A ballot with solid marks in the given boxes and, optionally, one faint dot that scores
/// between the default thresholds (0.03 and 0.06): a mark nobody may guess.
pub fn ballot(
    unit: &str,
    serial: u32,
    marks: &[(&str, &str)],
    faint: Option<(&str, &str)>,
    dpi: f64,
) -> image::GrayImage {
    let form = Form::default_form();
    let layout = Layout::new(&form).expect("layout");
    let p = Payload::new("CSAT", 1, unit, serial);
    let mut shapes = ballot_shapes(&layout, &p, "Công an phường").expect("shapes");
    for (q, o) in marks {
        let c = layout.checkbox(q, o).expect("box exists");
        // A firm mark, a third of the measured inside (fill about 0.36): two of them on one
        // question are an over-marked question, not a blacked-out correction (fill ≥ 0.5).
        shapes.push(Shape::Fill(c.rect.inset(2.0)));
    }
    if let Some((q, o)) = faint {
        let c = layout.checkbox(q, o).expect("box exists");
        // About 1.1 mm² of ink in the 25 mm² that is measured: a fill score near 0.045.
        let m = c.rect.center();
        shapes.push(Shape::Fill(ballotscan::geometry::RectMm::new(
            m.x - 0.5,
            m.y - 0.55,
            1.0,
            1.1,
        )));
    }
    raster::render(&shapes, dpi)
}

pub fn save_png(img: &image::GrayImage, path: &Path) {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .expect("png");
    std::fs::write(path, bytes).expect("write");
}

pub fn save_jpeg(img: &image::GrayImage, path: &Path) {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85)
        .encode_image(img)
        .expect("jpeg");
    std::fs::write(path, bytes).expect("write");
}

pub fn answers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("q1", "5"),
        ("q2", "4"),
        ("q3", "4"),
        ("q4", "3"),
        ("q5", "2"),
        ("q7", "1"),
        ("q8", "no"),
    ]
}

/// A file name an attacker or a careless clerk might give: HTML must show it as text.
pub const HOSTILE_NAME: &str = "b <i>&\"'x.png";

/// Writes the scans into `dir/scans` (file names sort in this order):
/// - `a-good.jpg`: counted, not flagged;
/// - `b <i>&"'x.png`: a faint mark on q6, turned a quarter turn → review (ambiguous_mark);
/// - `c-blank.jpg`: no marks → invalid (blank_ballot);
/// - `d-copy.jpg`: the same bytes as `a-good.jpg` → duplicate (duplicate_file);
/// - `e-junk.png`: text → rejected (not_an_image), no image;
/// - `f-multi.jpg`: two marks on q1 → counted with multi_mark;
/// - `g-sheet.jpg`: a blank sheet → rejected (no_qr), shown as the scan itself;
/// - `h-unknown-unit.jpg`: a unit not in the registry → review (unknown_unit).
///
/// Returns the scans folder.
pub fn make_scans(dir: &Path) -> PathBuf {
    let scans = dir.join("scans");
    std::fs::create_dir_all(&scans).expect("mkdir");
    save_jpeg(
        &ballot("P-ANBIEN", 1, &answers(), None, 150.0),
        &scans.join("a-good.jpg"),
    );
    // answers() leaves q6 alone: the faint dot is its only ink.
    let faint = ballot("P-ANBIEN", 2, &answers(), Some(("q6", "3")), 200.0);
    save_png(
        &image::imageops::rotate90(&faint),
        &scans.join(HOSTILE_NAME),
    );
    save_jpeg(
        &ballot("P-CATDAI", 3, &[], None, 150.0),
        &scans.join("c-blank.jpg"),
    );
    std::fs::copy(scans.join("a-good.jpg"), scans.join("d-copy.jpg")).expect("copy");
    std::fs::write(scans.join("e-junk.png"), b"not an image <script>").expect("write");
    save_jpeg(
        &ballot(
            "P-CATDAI",
            4,
            &[("q1", "1"), ("q1", "2"), ("q2", "5")],
            None,
            150.0,
        ),
        &scans.join("f-multi.jpg"),
    );
    save_jpeg(
        &image::GrayImage::from_pixel(1240, 1754, image::Luma([248])),
        &scans.join("g-sheet.jpg"),
    );
    save_jpeg(
        &ballot("Z-NOWHERE", 5, &answers(), None, 150.0),
        &scans.join("h-unknown-unit.jpg"),
    );
    scans
}

/// `ballotscan scan SCANS --out OUT` then `ballotscan review OUT`, both run from `cwd` (the
/// scan names files relative to where it ran, and review opens them from there).
pub fn scan_and_review(cwd: &Path, scans: &str, out: &str) {
    bin()
        .current_dir(cwd)
        .args(["scan", scans, "--out", out])
        .assert()
        .success();
    bin()
        .current_dir(cwd)
        .args(["review", out])
        .assert()
        .success();
}

/// `ballots.csv` rows (without the BOM), as written.
pub fn read_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("csv");
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect()
}

/// The `data-row` of every ballot card, top to bottom.
pub fn card_rows(html: &str) -> Vec<usize> {
    html.split("<section class=\"ballot ")
        .skip(1)
        .map(|s| {
            let at = s.find("data-row=\"").expect("data-row") + "data-row=\"".len();
            s[at..]
                .split('"')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a row number")
        })
        .collect()
}

/// A PDF file of `objects` (object 1 is the catalog), with its cross-reference table: the
/// hand-written PDFs of the input tests.
pub fn pdf_file(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// `n` synthetic flagged ballots of the standard form, each with an image and eight crops of
/// five boxes (two for the yes/no question), the first box marked: statuses in turn review,
/// invalid, rejected, duplicate; every third ballot with its answers in REVIEW.
pub fn synthetic_review(n: usize) -> (Vec<PageRecord>, Vec<Entry>) {
    let form = Form::default_form();
    let statuses = [
        Status::Review,
        Status::Invalid,
        Status::Rejected,
        Status::Duplicate,
    ];
    let mut records = Vec::new();
    let mut entries = Vec::new();
    for i in 0..n {
        let status = statuses[i % statuses.len()];
        let mut r = PageRecord::new(
            &format!("scans/batch <{}> & \"co\".tif", i / 50),
            i % 50 + 1,
        );
        r.status = status;
        r.reasons = vec![Reason::AmbiguousMark];
        r.detail = "a sentence for people".into();
        r.payload = Some(Payload::new("CSAT", 1, "P-ANBIEN", i as u32 + 1));
        r.form = Some(("CSAT".into(), 1));
        r.min_margin = Some((i % 7) as f64 / 100.0);
        r.questions = form
            .questions
            .iter()
            .map(|q| QuestionRead {
                question: q.id.clone(),
                answer: if i % 3 == 0 {
                    Answer::Review
                } else {
                    Answer::Chosen(vec![q.options[0].id.clone()])
                },
                boxes: Vec::new(),
                review_reason: None,
            })
            .collect();
        records.push(r);
        entries.push(Entry {
            index: i,
            image: Some(PageImage {
                file: ballotscan::review::image_name(i),
                width: 945,
                height: 1169,
                crops: form
                    .questions
                    .iter()
                    .enumerate()
                    .map(|(k, q)| Crop {
                        question: q.id.clone(),
                        x: 350,
                        y: 300 + 60 * k as u32,
                        w: 420,
                        h: 44,
                        // One box per option, a column of 79 px (20 mm) each, the first marked.
                        boxes: q
                            .options
                            .iter()
                            .enumerate()
                            .map(|(j, o)| CropBox {
                                option: o.id.clone(),
                                x: 26 + 79 * j as u32,
                                y: 8,
                                w: 28,
                                h: 28,
                                fill: Fill(if j == 0 { 0.412 } else { 0.012 }),
                                state: if j == 0 {
                                    MarkState::Marked
                                } else {
                                    MarkState::Empty
                                },
                            })
                            .collect(),
                    })
                    .collect(),
            }),
            warnings: Vec::new(),
        });
    }
    (records, entries)
}

/// The review page of [`synthetic_review`]`(n)`, in Vietnamese.
pub fn synthetic_page(n: usize) -> String {
    let (records, entries) = synthetic_review(n);
    ballotscan::review::page::index_html(&ballotscan::review::page::PageInput {
        scan_dir: "out",
        scan_key: "0123456789abcdef",
        records: &records,
        entries: &entries,
        forms: &ballotscan::form::Forms::from(vec![Form::default_form()]),
        registry: &Registry::default_units(),
        thresholds: Default::default(),
        lang: Default::default(),
    })
}
