//! The `scan` command's pipeline: every page of every input file, in parallel, through
//! QR → alignment → box scores → decisions.
//!
//! Pages are decoded one at a time per worker and dropped once scored; each page's record is
//! handed on in input order (path, then page), so outputs do not depend on the number of
//! threads, and nothing is kept here (see [`crate::report::scan_to_dir`] for what is).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::GrayImage;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::ballot::{self, QuestionRead, Status};
use crate::comments;
use crate::form::{Form, Forms};
use crate::i18n::{text, Lang};
use crate::input;
use crate::layout::Layout;
use crate::locate;
use crate::marks::{self, Thresholds};
use crate::payload::{Payload, SignatureCheck, SigningKey};
use crate::previous_scan::{FileStamp, PreviousScan, ScannedPage};
use crate::reason::Reason;
use crate::registry::Registry;

/// Above this fit error (mm) the page is still read, but a person checks it: boxes may be off
/// by a fraction of their size.
pub const REVIEW_FIT_ERROR_MM: f64 = 0.6;

/// How pages are read: the one value a scan runs with and records in scan.json (see
/// [`crate::report::ScanSettings::of`]), so that `review` and `tally` replay the very forms,
/// units, thresholds, voided serials and language the scan used.
pub struct Config {
    /// The forms ballots may be printed from, each with its layout, by id and version.
    pub forms: Forms<(Form, Layout)>,
    /// The units a ballot may belong to.
    pub registry: Registry,
    /// The key ballots are signed with (`--key`): unsigned or wrongly signed ones are rejected.
    pub key: Option<SigningKey>,
    /// Where a box's fill stops being empty and starts being marked.
    pub thresholds: Thresholds,
    /// Serials voided with `ballotscan void` (`scan --voided`): their ballots are rejected
    /// as `voided_serial` once read.
    pub voided: crate::voided::SerialsByUnit,
    /// The language of the sentences in ballots.csv's `detail`.
    pub lang: Lang,
    /// Where the forms, units and voided serials were read from, as scan.json records them.
    pub sources: Sources,
}

/// The files a scan's [`Config`] was read from (absolute paths), recorded in scan.json so that
/// `review` and `tally` read them again: `None` for the embedded forms or units.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sources {
    /// The forms folder.
    pub forms: Option<PathBuf>,
    /// The units registry.
    pub units: Option<PathBuf>,
    /// The `voided.csv` files given with `--voided`.
    pub voided: Vec<PathBuf>,
}

impl Config {
    /// The configuration of a scan with these forms, units, key and thresholds (no voided serials,
    /// the default language); refuses a form whose layout cannot be worked out.
    pub fn new(
        forms: Vec<Form>,
        registry: Registry,
        key: Option<SigningKey>,
        thresholds: Thresholds,
    ) -> Result<Config, crate::form::FormError> {
        let forms = forms
            .into_iter()
            .map(|f| Layout::new(&f).map(|l| (f, l)))
            .collect::<Result<_, _>>()?;
        Ok(Config {
            forms,
            registry,
            key,
            thresholds,
            voided: Default::default(),
            lang: Lang::default(),
            sources: Sources::default(),
        })
    }

    fn form(&self, id: &str, version: u32) -> Option<&(Form, Layout)> {
        self.forms.get(id, version)
    }
}

/// Time spent in each stage of one page, for the speed benchmark.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimes {
    /// Reading the file into a gray image.
    pub decode: Duration,
    /// Finding the QR code.
    pub qr: Duration,
    /// Aligning the page (fiducials, page transform).
    pub align: Duration,
    /// Scoring the boxes and deciding the answers.
    pub score: Duration,
}

impl StageTimes {
    /// Adds another page's times to these.
    pub fn add(&mut self, other: &StageTimes) {
        self.decode += other.decode;
        self.qr += other.qr;
        self.align += other.align;
        self.score += other.score;
    }
}

/// Everything known about one page of input: where it came from, what reading it found, and
/// what the batch adds (file hash, duplicate). Serialised (without the transform, box scores
/// and timings) to hold a batch's pages on disk between reading and writing.
///
/// The reading's fields are reached through it (`record.status` is `record.reading.status`),
/// and written flattened among the record's own, so `pages.jsonl` lines have one level.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PageRecord {
    /// The input file as named in ballots.csv's `source` column.
    pub source: String,
    /// 1-based page number within the file.
    pub page: usize,
    /// What reading the page found.
    #[serde(flatten)]
    pub reading: PageReading,
    /// The SHA-256 of the input file (hex), for duplicate files and the next scan's memory.
    pub file_sha256: String,
    /// The page this one repeats (`source#page`), once duplicates are judged.
    pub duplicate_of: Option<String>,
}

impl std::ops::Deref for PageRecord {
    type Target = PageReading;
    fn deref(&self) -> &PageReading {
        &self.reading
    }
}

impl std::ops::DerefMut for PageRecord {
    fn deref_mut(&mut self) -> &mut PageReading {
        &mut self.reading
    }
}

impl PageRecord {
    /// A page about which nothing is known yet but where it came from: rejected, with no
    /// reason until it is read.
    pub fn new(source: &str, page: usize) -> PageRecord {
        PageRecord::of_reading(source, page, PageReading::new())
    }

    /// The record of page `page` of `source` as `reading` found it (no file hash, no
    /// duplicate and no decoding time yet).
    pub fn of_reading(source: &str, page: usize, reading: PageReading) -> PageRecord {
        PageRecord {
            source: source.to_string(),
            page,
            reading,
            file_sha256: String::new(),
            duplicate_of: None,
        }
    }

    fn rejected(source: &str, page: usize, code: Reason, detail: String) -> PageRecord {
        let mut rec = PageRecord::new(source, page);
        reject(&mut rec, code, detail);
        rec
    }

    /// This page as `reading` found it; its decoding time, file hash and duplicate stay.
    pub fn take(&mut self, reading: PageReading) {
        let decode = self.reading.times.decode;
        self.reading = reading;
        self.reading.times.decode = decode;
    }

    /// `source#page`, how one page is named in `duplicate_of` and in messages.
    pub fn page_ref(&self) -> String {
        format!("{}#{}", self.source, self.page)
    }
}

/// What reading one decoded page found: QR, alignment, box scores, answers, verdict. A
/// rejected reading keeps what was found before the step that failed (the payload of a page
/// that could not be aligned, say), for the review image and ballots.csv.
///
/// Serialised inside [`PageRecord`] (flattened), without what `pages.jsonl` does not keep.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PageReading {
    /// Counted, invalid, review, rejected (duplicates are judged later, over the whole batch).
    pub status: Status,
    /// Why the page is not plainly counted, in the order found.
    pub reasons: Vec<Reason>,
    /// A sentence for people, when the reason codes need one (rejections).
    pub detail: String,
    /// The QR code's contents, when it could be read.
    pub payload: Option<Payload>,
    /// The form id and version the page was read with.
    pub form: Option<(String, u32)>,
    /// How far the page is turned in the image, degrees clockwise.
    pub rotation_deg: Option<f64>,
    /// How far the landmarks lie from where the page fit puts them (mm, root mean square).
    pub fit_error_mm: Option<f64>,
    /// The page transform the boxes were read through (for review images).
    #[serde(skip)]
    pub transform: Option<crate::geometry::Homography>,
    /// How many of the four fiducials were found.
    pub fiducials_found: Option<usize>,
    /// Smallest distance of any box score to a threshold.
    pub min_margin: Option<f64>,
    /// Every question's verdict and boxes, in the form's order.
    pub questions: Vec<QuestionRead>,
    /// The written areas' images (PNG), by question, to be saved in the results folder's
    /// `comments/`; the verdicts themselves are in `questions`.
    #[serde(skip)]
    pub comment_images: Vec<(String, Vec<u8>)>,
    /// The ink counted as writing in each writing area (mm²), for answers.csv.
    #[serde(skip)]
    pub comment_ink: Vec<(String, f64)>,
    /// Time in decoding (the caller's), QR, alignment and scoring.
    #[serde(skip)]
    pub times: StageTimes,
}

impl PageReading {
    /// Nothing found yet: rejected, with no reason until one is known.
    fn new() -> PageReading {
        PageReading {
            status: Status::Rejected,
            reasons: Vec::new(),
            detail: String::new(),
            payload: None,
            form: None,
            rotation_deg: None,
            fit_error_mm: None,
            transform: None,
            fiducials_found: None,
            min_margin: None,
            questions: Vec::new(),
            comment_images: Vec::new(),
            comment_ink: Vec::new(),
            times: StageTimes::default(),
        }
    }

    /// This reading, stopped at a step that failed for `code`.
    fn rejected(mut self, code: Reason, detail: String) -> PageReading {
        self.status = Status::Rejected;
        self.reasons = vec![code];
        self.detail = detail;
        self
    }
}

/// Reads one decoded page.
pub fn read_page(img: &GrayImage, cfg: &Config) -> PageReading {
    let mut reading = PageReading::new();
    let t = Instant::now();
    let qr = locate::find_qr(img);
    reading.times.qr = t.elapsed();
    let Some(qr) = qr else {
        let key = if looks_blank(img) {
            "page.no_qr_blank"
        } else {
            "page.no_qr"
        };
        return reading.rejected(Reason::NoQr, text(cfg.lang, key, &[]));
    };
    let payload = match Payload::parse(&qr.bytes) {
        Ok(p) => p,
        Err(e) => {
            return reading.rejected(
                Reason::BadPayload,
                text(cfg.lang, "page.bad_payload", &[("why", &e)]),
            );
        }
    };
    reading.payload = Some(payload.clone());
    match payload.check_signature(cfg.key.as_ref()) {
        SignatureCheck::Valid | SignatureCheck::NotChecked => {}
        SignatureCheck::Missing => {
            return reading.rejected(Reason::BadSignature, text(cfg.lang, "page.unsigned", &[]));
        }
        SignatureCheck::Invalid => {
            return reading.rejected(
                Reason::BadSignature,
                text(cfg.lang, "page.bad_signature", &[]),
            );
        }
    }
    let Some((form, layout)) = cfg.form(&payload.form, payload.version) else {
        return reading.rejected(
            Reason::UnknownForm,
            text(
                cfg.lang,
                "page.unknown_form",
                &[("form", &payload.form), ("version", &payload.version)],
            ),
        );
    };
    reading.form = Some((form.id.clone(), form.version));
    let t = Instant::now();
    let box_rects: Vec<crate::geometry::RectMm> =
        layout.checkboxes.iter().map(|c| c.rect).collect();
    let aligned = locate::align(img, &qr, &box_rects);
    reading.times.align = t.elapsed();
    let alignment = match aligned {
        Ok(a) => a,
        Err(e) => {
            return reading.rejected(
                Reason::AlignmentFailed,
                text(cfg.lang, "page.not_aligned", &[("why", &e)]),
            );
        }
    };
    reading.rotation_deg = Some(alignment.rotation_deg);
    reading.fit_error_mm = Some(alignment.fit_error_mm);
    reading.transform = Some(alignment.transform);
    reading.fiducials_found = Some(alignment.fiducials_found);
    let t = Instant::now();
    let scores: Vec<(String, String, marks::BoxScore)> = layout
        .checkboxes
        .iter()
        .zip(marks::score_boxes(img, &alignment.transform, &box_rects))
        .map(|(c, score)| (c.question.clone(), c.option.clone(), score))
        .collect();
    reading.times.score = t.elapsed();
    reading.min_margin = scores
        .iter()
        .map(|(_, _, s)| cfg.thresholds.margin(s.fill))
        .min_by(f64::total_cmp);
    reading.questions = ballot::read_questions(form, &scores, &cfg.thresholds);
    if !layout.text_areas.is_empty() {
        let black = comments::print_black(img, &alignment.transform, &layout.fiducials);
        for area in &layout.text_areas {
            let c = comments::read_area(img, &alignment.transform, area, black);
            if let Some(q) = reading
                .questions
                .iter_mut()
                .find(|q| q.question == c.question)
            {
                q.answer = c.answer;
            }
            reading.comment_ink.push((c.question.clone(), c.ink_mm2));
            if let Some(png) = c.png {
                reading.comment_images.push((c.question, png));
            }
        }
    }
    let unknown_unit = cfg.registry.get(&payload.unit).is_none();
    let (status, reasons) = ballot::decide_ballot(
        form,
        &reading.questions,
        alignment.fit_error_mm > REVIEW_FIT_ERROR_MM,
        unknown_unit,
    );
    reading.status = status;
    reading.reasons = reasons;
    if unknown_unit {
        reading.detail = text(cfg.lang, "page.unknown_unit", &[("unit", &payload.unit)]);
    }
    // Read in full (the answers stay visible to an auditor), never counted.
    if cfg
        .voided
        .get(&payload.unit)
        .is_some_and(|s| s.contains(&payload.serial))
    {
        reading.status = Status::Rejected;
        reading.reasons.push(crate::reason::Reason::VoidedSerial);
        reading.detail = text(
            cfg.lang,
            "page.voided",
            &[("serial", &payload.serial_text()), ("unit", &payload.unit)],
        );
    }
    reading
}

fn reject(rec: &mut PageRecord, code: Reason, detail: String) {
    rec.status = Status::Rejected;
    rec.reasons = vec![code];
    rec.detail = detail;
}

/// A page with almost no dark pixels (sampled sparsely: this only words a message).
fn looks_blank(img: &GrayImage) -> bool {
    let raw = img.as_raw();
    let step = (raw.len() / 20_000).max(1);
    let dark = raw.iter().step_by(step).filter(|&&v| v < 128).count();
    dark * 1000 < raw.len() / step
}

/// How a file is named in the `source` column: the path as given, with `/` between folders
/// on every system, so that a batch scanned on Windows gives the same CSV bytes as on Linux
/// and a decisions.csv written at one station applies at another. (Windows opens a path
/// written with `/` as well, which `review` relies on.)
pub fn source_name(path: &Path) -> String {
    let shown = path.display().to_string();
    if cfg!(windows) {
        shown.replace('\\', "/")
    } else {
        // A `\` in a Linux file name is part of the name, not a separator.
        shown
    }
}

/// Processes one input file: every page, in parallel.
pub fn process_file(path: &Path, cfg: &Config) -> Vec<PageRecord> {
    let source = source_name(path);
    let t = Instant::now();
    match input::open(path) {
        Ok(opened) => read_pages(&source, &opened, t.elapsed(), None, cfg),
        Err(e) => vec![PageRecord::rejected(
            &source,
            1,
            e.code(),
            e.detail(cfg.lang),
        )],
    }
}

/// One input file's pages: kept from the previous scan when the file is unchanged (by path,
/// size and time) or its content was read before under another name, else read now.
pub fn scan_file(path: &Path, cfg: &Config, previous: &PreviousScan) -> Vec<ScannedPage> {
    let source = source_name(path);
    // Taken before the file is read: a file that changes while it is read gets a new stamp
    // and is read again next time.
    let stamp = FileStamp::at(path);
    if let Some(pages) = stamp.and_then(|s| previous.unchanged(&source, s)) {
        return pages;
    }
    let t = Instant::now();
    let records = match input::open(path) {
        Err(e) => vec![PageRecord::rejected(
            &source,
            1,
            e.code(),
            e.detail(cfg.lang),
        )],
        Ok(opened) if !previous.is_empty() => {
            // Hashed first, so that a renamed or copied file already read is not read again.
            let sha = file_sha256(&opened.bytes);
            if let Some(pages) = stamp.and_then(|s| previous.same_content(&sha, &source, s)) {
                return pages;
            }
            read_pages(&source, &opened, t.elapsed(), Some(sha), cfg)
        }
        Ok(opened) => read_pages(&source, &opened, t.elapsed(), None, cfg),
    };
    records
        .into_iter()
        .map(|record| ScannedPage {
            stamp,
            answers: crate::scan_files::answer_rows(&record),
            record,
            kept: false,
        })
        .collect()
}

/// Reads every page of an opened file in parallel; `sha` is the file's hash when the caller
/// already has it.
fn read_pages(
    source: &str,
    opened: &input::OpenedFile,
    open_time: Duration,
    sha: Option<String>,
    cfg: &Config,
) -> Vec<PageRecord> {
    // Hashing a 150 MB scanner PDF takes a tenth of a second: done beside the pages, not
    // before them, so the file costs no more than its pages as separate images.
    let (sha, mut records) = rayon::join(
        || sha.unwrap_or_else(|| file_sha256(&opened.bytes)),
        || {
            (0..opened.pages)
                .into_par_iter()
                .map(|i| {
                    let mut rec = PageRecord::new(source, i + 1);
                    // Held until the page is read: bounds the memory of all the pages in
                    // flight, whatever the number of workers (input::PAGE_MEMORY_BUDGET).
                    let _memory = input::PageMemory::reserve(input::page_memory(opened, i));
                    let t = Instant::now();
                    let img = input::decode_page(opened, i);
                    rec.times.decode =
                        t.elapsed() + if i == 0 { open_time } else { Duration::ZERO };
                    match img {
                        Ok(img) => rec.take(read_page(&img, cfg)),
                        Err(e) => reject(&mut rec, e.code(), e.detail(cfg.lang)),
                    }
                    rec
                })
                .collect::<Vec<_>>()
        },
    );
    for rec in &mut records {
        rec.file_sha256.clone_from(&sha);
    }
    records
}

/// The SHA-256 of a file's bytes in lower-case hex, as ballots.csv records it (`review` checks
/// a file is the one scanned by comparing it with this).
pub(crate) fn file_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes in lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Files scanned in parallel at a time, and their total size at most: their full records
/// (with every box's score, a few kB a page) wait to be handed on in order. Each batch ends
/// with a core idling while the last file finishes, so batches are made large.
const CHUNK_FILES: usize = 256;
const CHUNK_BYTES: u64 = 256 << 20;

/// Consecutive runs of files to scan together (see [`CHUNK_FILES`]).
fn chunks(files: &[PathBuf]) -> Vec<&[PathBuf]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, f) in files.iter().enumerate() {
        bytes += std::fs::metadata(f).map_or(0, |m| m.len());
        if i + 1 - start >= CHUNK_FILES || bytes >= CHUNK_BYTES {
            out.push(&files[start..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < files.len() {
        out.push(&files[start..]);
    }
    out
}

/// Scans walked inputs, handing every page to `on_page` in input order (path, then page),
/// whatever the number of threads; pages of files the previous scan read are kept from it.
/// `on_file` is called after each file (progress). Nothing is kept here: what the caller
/// keeps decides the memory a batch needs.
pub fn scan_walk(
    walk: &input::Walk,
    cfg: &Config,
    previous: &PreviousScan,
    on_file: &(dyn Fn(usize) + Sync),
    on_page: &mut dyn FnMut(ScannedPage),
) {
    for (p, why) in &walk.unreadable {
        let why = text(cfg.lang, "page.unreadable", &[("why", why)]);
        let record = PageRecord::rejected(&source_name(p), 1, Reason::UnreadableFile, why);
        on_page(ScannedPage {
            stamp: None,
            answers: Vec::new(),
            record,
            kept: false,
        });
    }
    for chunk in chunks(&walk.files) {
        let per_file: Vec<Vec<ScannedPage>> = chunk
            .par_iter()
            .map(|p| {
                let r = scan_file(p, cfg, previous);
                on_file(r.len());
                r
            })
            .collect();
        per_file.into_iter().flatten().for_each(&mut *on_page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two `pages.jsonl` records as the scan wrote them while the reading's fields were still
    /// declared in [`PageRecord`] itself (a page read and sent to review, a page refused): the
    /// flattened [`PageReading`] must read them and write them back byte for byte, so results
    /// folders of earlier scans stay readable and new ones stay the same.
    #[test]
    fn page_records_read_and_write_pages_jsonl_unchanged() {
        let lines = [
            r#"{"source":"samples/a-P-ANBIEN-000005.jpg","page":1,"status":"Review","reasons":["ambiguous_mark","multi_mark"],"detail":"","payload":{"form":"CSAT","version":1,"unit":"P-ANBIEN","serial":5,"signature":null},"form":["CSAT",1],"rotation_deg":359.999873178691,"fit_error_mm":0.005742571726097202,"fiducials_found":4,"min_margin":0.0,"questions":[{"question":"q1","answer":{"Chosen":["2"]}},{"question":"q2","answer":{"Chosen":["2"]}},{"question":"q3","answer":{"Chosen":["3"]}},{"question":"q4","answer":"Multi"},{"question":"q5","answer":{"Chosen":["2"]}},{"question":"q6","answer":{"Chosen":["2"]}},{"question":"q7","answer":"Review"},{"question":"q8","answer":{"Chosen":["yes"]}}],"file_sha256":"9dbe655e10de722dd962c620024f220f2393fecba4888ba6abe7480faa6766f6","duplicate_of":null}"#,
            r#"{"source":"samples/i-truncated.jpg","page":1,"status":"Rejected","reasons":["decode_error"],"detail":"không giải mã được ảnh: JPEG data is truncated (no end-of-image marker)","payload":null,"form":null,"rotation_deg":null,"fit_error_mm":null,"fiducials_found":null,"min_margin":null,"questions":[],"file_sha256":"ea9308e04e05dbb1646a844673362b4b7d056ad414d20c1c1720774792df3c77","duplicate_of":"samples/x.jpg#2"}"#,
        ];
        for line in lines {
            let rec: PageRecord = serde_json::from_str(line).expect("reads");
            assert_eq!(serde_json::to_string(&rec).expect("writes"), line);
        }
    }
}
