//! Filled and scanned ballots with their truth: who marked which box, how, and whether the mark
//! is a definite vote or deliberately marginal. Seeded: the same request gives the same bytes.

use std::path::{Path, PathBuf};

use image::GrayImage;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::degrade::{self, Degradation};
use super::marks::{self, BoxPx, MarkStyle};
use crate::form::{Form, QuestionKind};
use crate::geometry::PointPx;
use crate::layout::Layout;
use crate::output::{self, CsvTable};
use crate::payload::{Payload, SigningKey};
use crate::registry::Registry;
use crate::render::{self, raster};

/// Styles of a definite vote, with how often people use them.
const DEFINITE: [(MarkStyle, u32); 7] = [
    (MarkStyle::Filled, 3),
    (MarkStyle::Tick, 4),
    (MarkStyle::Cross, 4),
    (MarkStyle::PencilLine, 2),
    (MarkStyle::LightPencil, 2),
    (MarkStyle::Scribble, 1),
    (MarkStyle::Partial, 1),
];

/// How the simulated pages are written (`synth --format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// What the profile says (JPEG or PNG).
    Auto,
    #[value(alias = "jpg")]
    Jpeg,
    Png,
    /// All pages of the run in one multi-page TIFF.
    #[value(name = "tiff", alias = "tif")]
    MultiPageTiff,
    /// All pages of the run in one PDF, one JPEG image per page, as office scanners write it.
    Pdf,
}

pub struct Request<'a> {
    pub form: &'a Form,
    pub registry: &'a Registry,
    pub units: Vec<String>,
    pub count_per_unit: u32,
    pub first_serial: u32,
    pub profile: String,
    pub seed: u64,
    /// Fixed DPI; `None` draws 150, 200 or 300 per page.
    pub dpi: Option<f64>,
    pub key: Option<&'a SigningKey>,
    pub format: FileFormat,
    /// JPEG quality overriding the profile's (smaller sample files).
    pub jpeg_quality: Option<u8>,
    pub out_dir: &'a Path,
    /// File name prefix (lets several runs share a folder).
    pub prefix: String,
}

/// What one box should read as.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxTruth {
    pub option: String,
    /// `definite`, `marginal` or `empty`.
    pub kind: &'static str,
    pub style: Option<MarkStyle>,
}

#[derive(Clone, Debug)]
pub struct QuestionTruth {
    pub question: String,
    pub expected: String,
    /// Other answers that are not errors (REVIEW where a person should look).
    pub acceptable: Vec<String>,
    pub boxes: Vec<BoxTruth>,
}

pub struct Page {
    /// The file the page was written to, when it has one of its own.
    pub file: Option<PathBuf>,
    pub dpi: f64,
    pub unit: String,
    pub serial: u32,
    pub image: GrayImage,
    pub degradation: Degradation,
    pub truth: Vec<QuestionTruth>,
}

pub const TRUTH_HEADER: [&str; 10] = [
    "source",
    "page",
    "unit",
    "serial",
    "question",
    "expected",
    "acceptable",
    "marks",
    "profile",
    "dpi",
];

fn style_name(s: MarkStyle) -> &'static str {
    match s {
        MarkStyle::Filled => "filled",
        MarkStyle::Tick => "tick",
        MarkStyle::Cross => "cross",
        MarkStyle::PencilLine => "pencil-line",
        MarkStyle::LightPencil => "light-pencil",
        MarkStyle::Scribble => "scribble",
        MarkStyle::Partial => "partial",
        MarkStyle::CrossedOut => "crossed-out",
        MarkStyle::Faint => "faint",
    }
}

/// A definite mark's style. A 1-bit scan turns pencil lighter than its threshold into paper,
/// so binarized pages get pen marks only: the truth must be something a reader could see.
fn pick_definite(rng: &mut Xoshiro256PlusPlus, pen_only: bool) -> MarkStyle {
    let styles: Vec<(MarkStyle, u32)> = DEFINITE
        .into_iter()
        .filter(|(s, _)| !pen_only || !matches!(s, MarkStyle::PencilLine | MarkStyle::LightPencil))
        .collect();
    let total: u32 = styles.iter().map(|(_, w)| w).sum();
    let mut r = rng.random_range(0..total);
    for (s, w) in styles {
        if r < w {
            return s;
        }
        r -= w;
    }
    MarkStyle::Tick
}

/// Decides how a citizen fills the ballot: mostly one mark per question, sometimes blank,
/// over-marked, corrected, with a marginal speck, or not filled at all.
fn plan(form: &Form, pen_only: bool, rng: &mut Xoshiro256PlusPlus) -> Vec<QuestionTruth> {
    let blank_ballot = rng.random_bool(0.03);
    let mut out = Vec::new();
    // Writing areas are filled after the marks (see make_page).
    for q in form.questions.iter().filter(|q| q.is_choice()) {
        let n = q.options.len();
        let mut boxes: Vec<BoxTruth> = q
            .options
            .iter()
            .map(|o| BoxTruth {
                option: o.id.clone(),
                kind: "empty",
                style: None,
            })
            .collect();
        let mut acceptable = Vec::new();
        let mut expected;
        let roll = rng.random_range(0.0..1.0);
        let definite = |boxes: &mut Vec<BoxTruth>, i: usize, s: MarkStyle| {
            boxes[i].kind = "definite";
            boxes[i].style = Some(s);
        };
        if blank_ballot || roll < 0.07 {
            expected = "BLANK".to_string();
        } else if q.kind == QuestionKind::Single && n >= 2 && roll < 0.11 {
            let a = rng.random_range(0..n);
            let b = (a + rng.random_range(1..n)) % n;
            definite(&mut boxes, a, pick_definite(rng, pen_only));
            definite(&mut boxes, b, pick_definite(rng, pen_only));
            expected = "MULTI".to_string();
            // Two solid fills look like a correction to a careful reader too.
            acceptable.push("REVIEW".to_string());
        } else if q.kind == QuestionKind::Single && n >= 2 && roll < 0.14 {
            let old = rng.random_range(0..n);
            let new = (old + rng.random_range(1..n)) % n;
            definite(&mut boxes, old, MarkStyle::CrossedOut);
            definite(&mut boxes, new, pick_definite(rng, pen_only));
            expected = boxes[new].option.clone();
            acceptable.push("REVIEW".to_string());
            acceptable.push("MULTI".to_string());
        } else {
            let i = rng.random_range(0..n);
            definite(&mut boxes, i, pick_definite(rng, pen_only));
            expected = boxes[i].option.clone();
        }
        if q.kind == QuestionKind::Multi {
            let chosen: Vec<String> = boxes
                .iter()
                .filter(|b| b.kind == "definite")
                .map(|b| b.option.clone())
                .collect();
            if !chosen.is_empty() {
                expected = chosen.join(";");
            }
        }
        // A marginal speck in an empty box of a few questions.
        if rng.random_bool(0.04) {
            let empties: Vec<usize> = (0..n).filter(|&i| boxes[i].kind == "empty").collect();
            if !empties.is_empty() {
                let i = empties[rng.random_range(0..empties.len())];
                boxes[i].kind = "marginal";
                boxes[i].style = Some(MarkStyle::Faint);
                acceptable.push("REVIEW".to_string());
            }
        }
        out.push(QuestionTruth {
            question: q.id.clone(),
            expected,
            acceptable,
            boxes,
        });
    }
    out
}

/// Share of ballots whose citizen writes in the comment area.
const COMMENT_SHARE: f64 = 0.4;

/// Draws one filled ballot and scans it. `template` is the form's static part at `dpi`.
#[allow(clippy::too_many_arguments)]
pub fn make_page(
    form: &Form,
    layout: &Layout,
    template: &GrayImage,
    dpi: f64,
    payload: &Payload,
    unit_name: &str,
    profile: &str,
    rng: &mut Xoshiro256PlusPlus,
) -> anyhow::Result<Page> {
    make_page_with(
        form, layout, template, dpi, payload, unit_name, profile, None, rng,
    )
}

/// [`make_page`], with each writing area written in (`Some(true)`), left blank
/// (`Some(false)`) or either at random (`None`); everything else on the page is the same
/// whichever is asked, so a test can compare the same ballot with and without a comment.
#[allow(clippy::too_many_arguments)]
pub fn make_page_with(
    form: &Form,
    layout: &Layout,
    template: &GrayImage,
    dpi: f64,
    payload: &Payload,
    unit_name: &str,
    profile: &str,
    comments: Option<bool>,
    rng: &mut Xoshiro256PlusPlus,
) -> anyhow::Result<Page> {
    let mut img = template.clone();
    raster::draw(
        &mut img,
        &render::ballot_specific_shapes(layout, payload, unit_name)?,
        dpi,
    );
    let ppm = dpi / crate::geometry::MM_PER_INCH;
    let landmarks = degrade::Landmarks::of(layout);
    let degradation = degrade::profile(profile, &landmarks, rng).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown profile {profile:?}; use one of {:?}",
            degrade::PROFILES
        )
    })?;
    // A photocopied blank or a stamped one is what the citizen marks.
    super::sheet::prepare_blank(&mut img, &degradation, rng);
    let mut truth = plan(form, degradation.binarize, rng);
    for q in &mut truth {
        for b in &mut q.boxes {
            if let Some(style) = b.style {
                let c = layout
                    .checkbox(&q.question, &b.option)
                    .ok_or_else(|| anyhow::anyhow!("no box for {}/{}", q.question, b.option))?;
                let bp = BoxPx::from_mm(&c.rect, ppm);
                marks::draw_mark(&mut img, &bp, style, ppm, rng);
                // A 1-bit scan keeps only ink darker than its threshold: a light pen stroke may
                // vanish. Press harder (draw again) until the mark survives, as the truth says
                // "definite"; failing that, the mark is honestly marginal.
                if degradation.binarize && b.kind == "definite" {
                    let mut tries = 0;
                    while survives_threshold(&img, &bp, ppm) < 0.05 && tries < 6 {
                        marks::draw_mark(&mut img, &bp, style, ppm, rng);
                        tries += 1;
                    }
                    if survives_threshold(&img, &bp, ppm) < 0.05 {
                        b.kind = "marginal";
                    }
                }
            }
        }
    }
    // Doodles next to a box on some ballots.
    if rng.random_bool(0.12) {
        for _ in 0..rng.random_range(1..=2) {
            let c = &layout.checkboxes[rng.random_range(0..layout.checkboxes.len())];
            marks::draw_stray_mark(&mut img, &BoxPx::from_mm(&c.rect, ppm), ppm, rng);
        }
    }
    // Comments, from a generator of their own: the rest of the page is the same with or
    // without them, and a form without writing areas (version 1) draws nothing here.
    if !layout.text_areas.is_empty() {
        let mut crng = Xoshiro256PlusPlus::seed_from_u64(rng.random());
        for area in &layout.text_areas {
            let roll = crng.random_bool(COMMENT_SHARE);
            let written = comments.unwrap_or(roll);
            if written {
                let r = area.rect;
                marks::draw_handwriting(
                    &mut img,
                    (r.x, r.right(), r.y),
                    &area.rules,
                    ppm,
                    degradation.binarize,
                    &mut crng,
                );
            }
            truth.push(QuestionTruth {
                question: area.question.clone(),
                expected: if written { "WRITTEN" } else { "EMPTY" }.to_string(),
                acceptable: Vec::new(),
                boxes: Vec::new(),
            });
        }
    }
    let image = degrade::apply(&img, &degradation, rng);
    // Blur comes before a 1-bit scanner's threshold and can still thin a stroke away: a mark
    // the scan no longer shows is marginal, whatever was drawn.
    if degradation.binarize {
        for q in &mut truth {
            for b in q.boxes.iter_mut().filter(|b| b.kind == "definite") {
                if let Some(c) = layout.checkbox(&q.question, &b.option) {
                    let core = BoxPx::from_mm(&c.rect, ppm).inset(ppm);
                    if ink_in_scan(&image, img.dimensions(), &degradation, &core) < 0.05 {
                        b.kind = "marginal";
                    }
                }
            }
        }
    }
    Ok(Page {
        file: None,
        dpi,
        unit: payload.unit.clone(),
        serial: payload.serial,
        image,
        degradation,
        truth,
    })
}

/// Share of `core` (page pixels) that is ink in the scan made of the page: the core's corners
/// are mapped through the degradation and the inside interpolated, pixel by pixel.
fn ink_in_scan(
    scan: &GrayImage,
    page_size: (u32, u32),
    d: &degrade::Degradation,
    core: &BoxPx,
) -> f64 {
    let map = |x: f64, y: f64| degrade::map_point(page_size, d, PointPx::new(x, y));
    let (tl, tr, bl, br) = (
        map(core.x, core.y),
        map(core.right(), core.y),
        map(core.x, core.bottom()),
        map(core.right(), core.bottom()),
    );
    let (nu, nv) = (core.w.ceil().max(1.0) as u32, core.h.ceil().max(1.0) as u32);
    let (mut dark, mut all) = (0u32, 0u32);
    for j in 0..nv {
        for i in 0..nu {
            let (u, v) = ((i as f64 + 0.5) / nu as f64, (j as f64 + 0.5) / nv as f64);
            let x = (1.0 - v) * ((1.0 - u) * tl.x + u * tr.x) + v * ((1.0 - u) * bl.x + u * br.x);
            let y = (1.0 - v) * ((1.0 - u) * tl.y + u * tr.y) + v * ((1.0 - u) * bl.y + u * br.y);
            if x < 0.0 || y < 0.0 || x >= scan.width() as f64 || y >= scan.height() as f64 {
                continue;
            }
            all += 1;
            if scan.get_pixel(x as u32, y as u32).0[0] < 128 {
                dark += 1;
            }
        }
    }
    dark as f64 / all.max(1) as f64
}

/// Share of the box's inside (1 mm in) darker than a 1-bit scanner's threshold, with room for
/// the blur and noise that come before it.
fn survives_threshold(img: &GrayImage, b: &BoxPx, ppm: f64) -> f64 {
    let core = b.inset(ppm);
    let (x0, y0) = (core.x.max(0.0) as u32, core.y.max(0.0) as u32);
    let (x1, y1) = (
        (core.right() as u32).min(img.width()),
        (core.bottom() as u32).min(img.height()),
    );
    let (mut dark, mut all) = (0u32, 0u32);
    for y in y0..y1 {
        for x in x0..x1 {
            all += 1;
            if img.get_pixel(x, y).0[0] < 100 {
                dark += 1;
            }
        }
    }
    dark as f64 / all.max(1) as f64
}

pub struct Report {
    pub files: Vec<PathBuf>,
    pub pages: usize,
}

/// Generates the batch and writes the images and `truth.csv` (appending to an existing one,
/// so several runs can share a folder).
pub fn run(req: &Request) -> anyhow::Result<Report> {
    use anyhow::Context;
    if degrade::PROFILES.iter().all(|p| *p != req.profile) {
        anyhow::bail!(
            "unknown profile {:?}; use one of {:?}",
            req.profile,
            degrade::PROFILES
        );
    }
    let layout = Layout::new(req.form)?;
    std::fs::create_dir_all(req.out_dir)
        .with_context(|| format!("cannot create {}", req.out_dir.display()))?;
    let mut jobs = Vec::new();
    for unit in &req.units {
        let u = req
            .registry
            .get(unit)
            .with_context(|| format!("unit {unit:?} is not in the units registry"))?;
        for k in 0..req.count_per_unit {
            jobs.push((u.code.clone(), u.name.clone(), req.first_serial + k));
        }
    }
    let dpis = [150.0, 200.0, 300.0];
    let templates: Vec<(f64, GrayImage)> = dpis
        .iter()
        .filter(|d| req.dpi.is_none_or(|x| x == **d))
        .chain(req.dpi.iter().filter(|d| !dpis.contains(d)))
        .map(|&d| (d, raster::render(&layout.shapes, d)))
        .collect();
    // Images in OUT/scans, truth beside them: `scan OUT/scans` then reads only pages.
    let scans = req.out_dir.join("scans");
    std::fs::create_dir_all(&scans)
        .with_context(|| format!("cannot create {}", scans.display()))?;
    let multipage = matches!(req.format, FileFormat::MultiPageTiff | FileFormat::Pdf);
    let pages: Vec<anyhow::Result<Page>> = jobs
        .par_iter()
        .map(|(unit, name, serial)| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                req.seed ^ (*serial as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hash(unit),
            );
            let (dpi, template) = &templates[rng.random_range(0..templates.len())];
            let mut p = Payload::new(&req.form.id, req.form.version, unit, *serial);
            if let Some(k) = req.key {
                p = p.signed(k);
            }
            make_page(
                req.form,
                &layout,
                template,
                *dpi,
                &p,
                name,
                &req.profile,
                &mut rng,
            )
            .map(|mut page| {
                let q = page
                    .degradation
                    .jpeg_quality
                    .map(|q| req.jpeg_quality.unwrap_or(q));
                let or_default = q.or(Some(req.jpeg_quality.unwrap_or(85)));
                page.degradation.jpeg_quality = match req.format {
                    FileFormat::Jpeg | FileFormat::Pdf => or_default,
                    FileFormat::Png | FileFormat::MultiPageTiff => None,
                    FileFormat::Auto => q,
                };
                page
            })
            .and_then(|mut page| {
                // One file per page: write it now and drop the pixels, so a large batch never
                // holds more than a few images.
                if !multipage {
                    let (bytes, ext) = degrade::encode(&page.image, &page.degradation)?;
                    let path = scans.join(format!(
                        "{}{}-{:06}.{ext}",
                        req.prefix, page.unit, page.serial
                    ));
                    output::write_atomic(&path, &bytes)?;
                    page.image = GrayImage::new(0, 0);
                    page.file = Some(path);
                }
                Ok(page)
            })
        })
        .collect();
    let pages: Vec<Page> = pages.into_iter().collect::<Result<_, _>>()?;

    let mut files = Vec::new();
    let mut rows: Vec<(String, usize, &Page)> = Vec::new();
    if matches!(req.format, FileFormat::MultiPageTiff | FileFormat::Pdf) {
        let (bytes, ext) = if req.format == FileFormat::Pdf {
            (scanner_pdf(&pages)?, "pdf")
        } else {
            (multipage_tiff(&pages)?, "tif")
        };
        let path = scans.join(format!("{}batch.{ext}", req.prefix));
        output::write_atomic(&path, &bytes)?;
        for (i, p) in pages.iter().enumerate() {
            rows.push((path.display().to_string(), i + 1, p));
        }
        files.push(path);
    } else {
        for p in &pages {
            if let Some(path) = &p.file {
                rows.push((path.display().to_string(), 1, p));
                files.push(path.clone());
            }
        }
    }
    append_truth(req.out_dir, &rows, &req.profile)?;
    Ok(Report {
        pages: pages.len(),
        files,
    })
}

fn hash(s: &str) -> u64 {
    // FNV-1a: stable across platforms and releases, unlike the std hasher.
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn multipage_tiff(pages: &[Page]) -> anyhow::Result<Vec<u8>> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut buf)?.with_compression(
            tiff::encoder::Compression::Deflate(tiff::encoder::DeflateLevel::Balanced),
        );
        for p in pages {
            let (w, h) = p.image.dimensions();
            enc.write_image::<tiff::encoder::colortype::Gray8>(w, h, p.image.as_raw())?;
        }
    }
    Ok(buf.into_inner())
}

/// A minimal PDF the way scanners write one: each page an A4 media box filled by one
/// DCT-encoded (JPEG) grayscale image.
fn scanner_pdf(pages: &[Page]) -> anyhow::Result<Vec<u8>> {
    let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets: Vec<usize> = Vec::new();
    let n = pages.len();
    // Objects: 1 catalog, 2 pages, then per page: page, content, image.
    let page_id = |i: usize| 3 + 3 * i;
    let obj = |out: &mut Vec<u8>, offsets: &mut Vec<usize>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    obj(&mut out, &mut offsets, b"<< /Type /Catalog /Pages 2 0 R >>");
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", page_id(i))).collect();
    obj(
        &mut out,
        &mut offsets,
        format!("<< /Type /Pages /Count {n} /Kids [{}] >>", kids.join(" ")).as_bytes(),
    );
    for (i, p) in pages.iter().enumerate() {
        let (w, h) = p.image.dimensions();
        // Media box from the image at its DPI, in points.
        let (pw, ph) = (w as f64 * 72.0 / p.dpi, h as f64 * 72.0 / p.dpi);
        let jpeg_degradation = Degradation {
            jpeg_quality: p.degradation.jpeg_quality.or(Some(85)),
            ..p.degradation.clone()
        };
        let (jpeg, _) = degrade::encode(&p.image, &jpeg_degradation)?;
        let id = page_id(i);
        obj(
            &mut out,
            &mut offsets,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2} {ph:.2}] /Resources << /XObject << /Im0 {} 0 R >> >> /Contents {} 0 R >>",
                id + 2,
                id + 1
            )
            .as_bytes(),
        );
        let content = format!("q {pw:.2} 0 0 {ph:.2} 0 0 cm /Im0 Do Q");
        obj(
            &mut out,
            &mut offsets,
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            )
            .as_bytes(),
        );
        let mut image = format!(
            "<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
            jpeg.len()
        )
        .into_bytes();
        image.extend_from_slice(&jpeg);
        image.extend_from_slice(b"\nendstream");
        obj(&mut out, &mut offsets, &image);
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    Ok(out)
}

fn append_truth(dir: &Path, rows: &[(String, usize, &Page)], profile: &str) -> anyhow::Result<()> {
    let path = dir.join("truth.csv");
    let mut table = CsvTable::new(&TRUTH_HEADER);
    if path.exists() {
        let (_, old) = output::read_csv(&path)?;
        for r in old {
            table.row(r.iter().map(output::unneutralise));
        }
    }
    for (source, page, p) in rows {
        for q in &p.truth {
            let marks: Vec<String> = q
                .boxes
                .iter()
                .filter(|b| b.kind != "empty")
                .map(|b| format!("{}={}:{}", b.option, b.kind, b.style.map_or("", style_name)))
                .collect();
            table.row([
                source.clone(),
                page.to_string(),
                p.unit.clone(),
                format!("{:06}", p.serial),
                q.question.clone(),
                q.expected.clone(),
                q.acceptable.join(";"),
                marks.join(" "),
                profile.to_string(),
                p.dpi.to_string(),
            ]);
        }
    }
    table.write(&path)?;
    Ok(())
}
