//! Printing ballots: payloads survive rendering, layout.json matches the pixels, the PDF is
//! well formed, serials stay unique, and bad form definitions get errors a person can act on.

use std::path::Path;

use assert_cmd::Command;
use ballotscan::form::Form;
use ballotscan::geometry::{Homography, PointMm};
use ballotscan::layout::Layout;
use ballotscan::locate;
use ballotscan::payload::{Payload, SigningKey};
use ballotscan::render::{ballot_shapes, raster};

fn bin() -> Command {
    Command::cargo_bin("ballotscan").expect("binary built")
}

#[test]
fn payload_round_trips_through_rendered_pages_at_150_200_300_dpi() {
    let form = Form::default_form();
    let layout = Layout::new(&form).expect("layout");
    let key = SigningKey::from_bytes(b"a secret only the office knows");
    let mut checked = 0;
    for dpi in [150.0, 200.0, 300.0] {
        for (i, serial) in [1u32, 9, 42, 999, 12_345, 999_999, 1_000_000, 987_654_321]
            .into_iter()
            .enumerate()
        {
            let unit = ["P-ANBIEN", "X-HONGPHONG", "Q-NGOQUYEN", "PC06"][i % 4];
            let mut p = Payload::new("CSAT", 1, unit, serial);
            if i % 2 == 1 {
                p = p.signed(&key);
            }
            let img = raster::render(&ballot_shapes(&layout, &p, "Công an").expect("shapes"), dpi);
            let found =
                locate::find_qr(&img).unwrap_or_else(|| panic!("no QR at {dpi} DPI for {p:?}"));
            assert_eq!(Payload::parse(&found.bytes), Ok(p.clone()), "{dpi} DPI");
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
}

/// The outer edges of a checkbox border along the box's middle row and column, in mm, to
/// sub-pixel precision from the anti-aliased coverage of the outermost inked pixel.
fn measured_box(
    img: &image::GrayImage,
    dpi: f64,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
) -> (f64, f64, f64, f64) {
    let s = dpi / 25.4;
    let (cx, cy) = (((x + w / 2.0) * s) as u32, ((y + h / 2.0) * s) as u32);
    let ink = |px: u32, py: u32| (255.0 - img.get_pixel(px, py).0[0] as f64) / 255.0;
    // First inked pixel walking inwards from `from`, and its coverage.
    let first = |from: f64, step: i64, horizontal: bool| -> f64 {
        let mut p = from as i64;
        loop {
            let c = if horizontal {
                ink(p as u32, cy)
            } else {
                ink(cx, p as u32)
            };
            if c > 0.01 {
                // Walking forwards the edge is at the far side of the uncovered part.
                return if step > 0 {
                    p as f64 + 1.0 - c
                } else {
                    p as f64 + c
                };
            }
            p += step;
        }
    };
    (
        first(x * s - 6.0, 1, true) / s,
        first(y * s - 6.0, 1, false) / s,
        first((x + w) * s + 6.0, -1, true) / s,
        first((y + h) * s + 6.0, -1, false) / s,
    )
}

#[test]
fn layout_json_boxes_match_the_rendered_png_within_a_tenth_of_a_mm() {
    let dir = tempfile::tempdir().expect("tempdir");
    bin()
        .args([
            "generate", "--unit", "P-ANBIEN", "--count", "1", "--png", "--dpi", "300", "--out",
        ])
        .arg(dir.path())
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("layout.json")).expect("layout.json"),
    )
    .expect("json");
    assert_eq!(json["units"], "mm");
    let img = image::open(dir.path().join("png/P-ANBIEN-000001.png"))
        .expect("png")
        .into_luma8();
    let boxes = json["checkboxes"].as_object().expect("checkboxes");
    assert_eq!(boxes.len(), 8);
    let mut n = 0;
    for (q, opts) in boxes {
        for (o, r) in opts.as_object().expect("options") {
            let f = |k: &str| r[k].as_f64().expect("number");
            let (x, y, w, h) = (f("x"), f("y"), f("w"), f("h"));
            let (l, t, r2, b) = measured_box(&img, 300.0, x, y, w, h);
            for (got, want, what) in [
                (l, x, "left"),
                (t, y, "top"),
                (r2, x + w, "right"),
                (b, y + h, "bottom"),
            ] {
                assert!(
                    (got - want).abs() < 0.1,
                    "{q}/{o} {what}: image {got:.3} mm, layout {want:.3} mm"
                );
            }
            n += 1;
        }
    }
    assert_eq!(n, 37);
    // Fiducials and QR are published too.
    assert_eq!(json["fiducials"].as_array().map(Vec::len), Some(4));
    assert!(json["qr"]["w"].as_f64().expect("qr width") >= 25.0);
}

#[test]
fn pdf_has_one_page_per_ballot_and_embeds_its_font() {
    let dir = tempfile::tempdir().expect("tempdir");
    bin()
        .args(["generate", "--unit", "X-ANDONG", "--count", "5", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let pdf = dir.path().join("ballots-X-ANDONG-000001-000005.pdf");
    let doc = lopdf::Document::load(&pdf).expect("the PDF parses");
    assert_eq!(doc.get_pages().len(), 5);
    let fonts = doc
        .objects
        .values()
        .filter(|o| {
            o.as_dict()
                .ok()
                .and_then(|d| d.get(b"FontFile2").ok())
                .is_some()
        })
        .count();
    assert_eq!(fonts, 2, "regular and bold DejaVu Sans embedded");
}

fn issued_serials(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("issued.csv")).expect("issued.csv");
    text.lines()
        .skip(1)
        // form,version,unit,serial,reprint
        .map(|l| l.split(',').nth(3).unwrap_or("").to_string())
        .collect()
}

#[test]
fn generating_again_continues_the_serials_and_never_reissues() {
    let dir = tempfile::tempdir().expect("tempdir");
    for _ in 0..2 {
        bin()
            .args(["generate", "--unit", "P-MAYTO", "--count", "3", "--out"])
            .arg(dir.path())
            .assert()
            .success();
    }
    bin()
        .args(["generate", "--unit", "P-LACVIEN", "--count", "2", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    assert_eq!(
        issued_serials(dir.path()),
        ["000001", "000002", "000003", "000004", "000005", "000006", "000001", "000002"]
    );
    let out = bin()
        .args([
            "--lang",
            "en",
            "generate",
            "--unit",
            "P-MAYTO",
            "--count",
            "2",
            "--first-serial",
            "5",
            "--out",
        ])
        .arg(dir.path())
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("000005 was already issued"), "{err}");
    bin()
        .args([
            "generate",
            "--unit",
            "P-MAYTO",
            "--count",
            "1",
            "--first-serial",
            "100",
            "--out",
        ])
        .arg(dir.path())
        .assert()
        .success();
    assert_eq!(
        issued_serials(dir.path()).last().map(String::as_str),
        Some("000100")
    );
}

#[test]
fn unknown_unit_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .args(["--lang", "en", "generate", "--unit", "NOPE", "--out"])
        .arg(dir.path())
        .assert()
        .failure()
        .code(3);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("unit NOPE is not in the units registry; `ballotscan units` lists its codes"),
        "{err}"
    );
}

fn form_error(src: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("my-form.toml");
    std::fs::write(&path, src).expect("write");
    let out = bin()
        .args(["--lang", "en", "generate", "--unit", "P-ANBIEN", "--form"])
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .failure();
    String::from_utf8_lossy(&out.get_output().stderr).to_string()
}

const GOOD_HEAD: &str = "id = \"T\"\nversion = 1\ntitle = \"Phiếu thử\"\n";

#[test]
fn definition_errors_name_the_file_the_line_and_the_fix() {
    let dup = format!(
        "{GOOD_HEAD}[[questions]]\nid = \"q1\"\ntext = \"a\"\noptions = [{{id = \"y\", label = \"Có\"}}]\n\n[[questions]]\nid = \"q1\"\ntext = \"b\"\noptions = [{{id = \"y\", label = \"Có\"}}]\n"
    );
    let e = form_error(&dup);
    assert!(
        e.contains("my-form.toml:9:") && e.contains("used twice"),
        "{e}"
    );

    let no_opts = format!("{GOOD_HEAD}[[questions]]\nid = \"q1\"\ntext = \"a\"\n");
    let e = form_error(&no_opts);
    assert!(
        e.contains("my-form.toml:4:") && e.contains("has no options"),
        "{e}"
    );

    let unknown = format!("{GOOD_HEAD}colour = \"red\"\n[[questions]]\nid = \"q1\"\ntext = \"a\"\noptions = [{{id = \"y\", label = \"Có\"}}]\n");
    let e = form_error(&unknown);
    assert!(e.contains("my-form.toml:4:") && e.contains("colour"), "{e}");

    let long_word = format!(
        "{GOOD_HEAD}[[questions]]\nid = \"q1\"\ntext = \"a\"\noptions = [{{id = \"y\", label = \"Cóóóóóóóóóóóóóóóóóóóóóóóóóó\"}}, {{id = \"n\", label = \"Không\"}}]\n"
    );
    let e = form_error(&long_word);
    assert!(
        e.contains("text too long to fit") && e.contains("q1"),
        "{e}"
    );

    let mut many = GOOD_HEAD.to_string();
    for i in 0..40 {
        many.push_str(&format!(
            "[[questions]]\nid = \"q{i}\"\ntext = \"Câu hỏi số {i} về thái độ phục vụ của cán bộ\"\noptions = [{{id = \"y\", label = \"Có\"}}]\n"
        ));
    }
    let e = form_error(&many);
    assert!(e.contains("does not fit on the page"), "{e}");
}

#[test]
fn the_upright_page_transform_maps_layout_to_pixels() {
    // Guards the convention every other test relies on: mm from the top-left, DPI scaling.
    let h = Homography::at_dpi(254.0);
    let p = h.map(PointMm::new(10.0, 20.0));
    assert!((p.x - 100.0).abs() < 1e-9 && (p.y - 200.0).abs() < 1e-9);
}
