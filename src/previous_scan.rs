//! `pages.jsonl` in a results folder: every page as the scan read it (before duplicates were
//! judged), with its input file's size and modification time, so that the next `scan` into the
//! same folder reads only what it has not read. A file unchanged by path, size and time, or
//! with the same content under another name (by SHA-256), keeps its earlier result; the
//! duplicates and every result file are then worked out again over all the pages, so a scan of
//! A followed by a scan of A and B gives the same files as one scan of A and B.
//!
//! The first line names the settings the pages were read with (forms, units, thresholds,
//! voided serials, signing key, language and the ballotscan program itself): when any of them
//! differs, every file is read again, since the same image could read differently.
//!
//! Every page of the scan is written (the scan reads its records back from here to write
//! ballots.csv once duplicates are known), but pages whose file could not be opened (no hash)
//! are never kept: the reason may be passing (a file still being written, a share that was
//! away), so they are tried again.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scan::{Config, PageRecord};
use crate::scan_files::ANSWERS_HEADER;

/// The file's name in the results folder.
pub const FILE: &str = "pages.jsonl";
const FORMAT: &str = "ballotscan-pages/1";

/// An input file's size and modification time when it was read: how the next scan tells it
/// unchanged without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Bytes.
    pub size: u64,
    /// Nanoseconds since 1970 (negative before).
    pub modified_ns: i64,
}

impl FileStamp {
    /// The stamp in a file's metadata.
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        let modified_ns =
            meta.modified()
                .map_or(0, |t| match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                    Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
                });
        FileStamp {
            size: meta.len(),
            modified_ns,
        }
    }

    /// The stamp of the file at `path` now (None when it cannot be looked at).
    pub fn at(path: &Path) -> Option<FileStamp> {
        std::fs::metadata(path).ok().map(|m| FileStamp::of(&m))
    }
}

/// One answers.csv row.
pub type AnswerRow = [String; ANSWERS_HEADER.len()];

/// One page of input, as read now or kept from the previous scan: its record (before
/// duplicates are judged) and its answers.csv rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScannedPage {
    /// The file's stamp when it was read; `None` when it could not be looked at.
    pub stamp: Option<FileStamp>,
    /// The page as read.
    pub record: PageRecord,
    /// Its answers.csv rows.
    pub answers: Vec<AnswerRow>,
    /// Kept from the previous scan rather than read now.
    #[serde(skip)]
    pub kept: bool,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    settings: String,
}

/// Where one file's pages are in `pages.jsonl` (byte ranges of their lines): only these are
/// held in memory, so a folder of 20,000 pages costs a few hundred kB, not its records.
#[derive(Debug)]
struct KnownFile {
    stamp: FileStamp,
    lines: Vec<(u64, usize)>,
}

/// What the previous scan into a results folder read, by file.
#[derive(Debug, Default)]
pub struct PreviousScan {
    /// The results folder it was read from (its `comments/` images are kept too).
    dir: PathBuf,
    /// `pages.jsonl`, open for the kept pages' lines.
    pages: Option<std::sync::Mutex<std::fs::File>>,
    files: Vec<KnownFile>,
    by_source: HashMap<String, usize>,
    by_sha: HashMap<String, usize>,
}

/// Why a previous scan's pages are not used: every file is read.
#[derive(Clone, Debug, PartialEq)]
pub enum NotKept {
    /// The first scan into this folder, `--rescan`, or a folder of an older ballotscan.
    Nothing,
    /// Forms, units, thresholds, voided serials, key, language or the program differ.
    OtherSettings,
    /// The file is damaged (a disk error, an edit by hand): the message says where.
    Damaged(String),
}

impl PreviousScan {
    /// Reads `dir/pages.jsonl` if it was written with the settings `fingerprint`. Every line
    /// is checked here, so a damaged file means a full scan, never a failure halfway.
    pub fn load(dir: &Path, fingerprint: &str) -> Result<PreviousScan, NotKept> {
        let path = dir.join(FILE);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NotKept::Nothing),
            Err(e) => return Err(NotKept::Damaged(format!("{}: {e}", path.display()))),
        };
        let damaged = |line: usize, why: &dyn std::fmt::Display| {
            NotKept::Damaged(format!("{}:{line}: {why}", path.display()))
        };
        let mut reader = std::io::BufReader::new(&file);
        let mut line = String::new();
        let mut offset = 0u64;
        let mut number = 0;
        let mut previous = PreviousScan {
            dir: dir.to_path_buf(),
            ..PreviousScan::default()
        };
        loop {
            line.clear();
            let len = reader
                .read_line(&mut line)
                .map_err(|e| damaged(number + 1, &e))?;
            if len == 0 {
                break;
            }
            number += 1;
            let at = offset;
            offset += len as u64;
            if number == 1 {
                let header: Header =
                    serde_json::from_str(&line).map_err(|e| damaged(number, &e))?;
                if header.format != FORMAT {
                    return Err(NotKept::Nothing);
                }
                if header.settings != fingerprint {
                    return Err(NotKept::OtherSettings);
                }
                continue;
            }
            // Parsed in full once, so that a kept page can never fail to load later.
            let page: ScannedPage = serde_json::from_str(&line).map_err(|e| damaged(number, &e))?;
            // A page whose file could not be opened (no hash) is read again.
            let Some(stamp) = page.stamp.filter(|_| !page.record.file_sha256.is_empty()) else {
                continue;
            };
            let f = *previous
                .by_source
                .entry(page.record.source)
                .or_insert(previous.files.len());
            if f == previous.files.len() {
                previous.by_sha.entry(page.record.file_sha256).or_insert(f);
                previous.files.push(KnownFile {
                    stamp,
                    lines: Vec::new(),
                });
            }
            previous.files[f].lines.push((at, len));
        }
        if number == 0 {
            return Err(damaged(1, &"empty"));
        }
        previous.pages = Some(std::sync::Mutex::new(file));
        Ok(previous)
    }

    /// True when nothing is kept: every file is read.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The pages of the file `source` if it has not changed since it was read.
    pub fn unchanged(&self, source: &str, stamp: FileStamp) -> Option<Vec<ScannedPage>> {
        let f = &self.files[*self.by_source.get(source)?];
        if f.stamp != stamp {
            return None;
        }
        self.kept(f, source, stamp)
    }

    /// The pages of a file with these contents, read before under any name.
    pub fn same_content(
        &self,
        sha256: &str,
        source: &str,
        stamp: FileStamp,
    ) -> Option<Vec<ScannedPage>> {
        self.kept(&self.files[*self.by_sha.get(sha256)?], source, stamp)
    }

    /// A known file's pages under the name and stamp it has now (None if `pages.jsonl`
    /// cannot be read again: the file is then read).
    fn kept(&self, f: &KnownFile, source: &str, stamp: FileStamp) -> Option<Vec<ScannedPage>> {
        use std::io::{Read, Seek};
        let mut file = self.pages.as_ref()?.lock().ok()?;
        let mut out = Vec::with_capacity(f.lines.len());
        for &(at, len) in &f.lines {
            let mut bytes = vec![0; len];
            file.seek(std::io::SeekFrom::Start(at)).ok()?;
            file.read_exact(&mut bytes).ok()?;
            let mut p: ScannedPage = serde_json::from_slice(&bytes).ok()?;
            p.stamp = Some(stamp);
            p.kept = true;
            p.record.source = source.to_string();
            for row in &mut p.answers {
                row[0] = source.to_string();
            }
            out.push(p);
        }
        Some(out)
    }

    /// Copies the written areas' images of a kept page from the previous results folder into
    /// `staging` (the images are made only when a page is read).
    pub fn copy_comments(&self, page: &PageRecord, staging: &Path) -> std::io::Result<()> {
        let Some(p) = &page.payload else {
            return Ok(());
        };
        let (from, to) = (
            self.dir.join(crate::comments::DIR),
            staging.join(crate::comments::DIR),
        );
        for q in &page.questions {
            if q.answer != crate::ballot::Answer::Written {
                continue;
            }
            let name = crate::comments::file_name(&p.unit, &p.serial_text(), &q.question);
            if from.join(&name).is_file() && !to.join(&name).exists() {
                std::fs::create_dir_all(&to)?;
                std::fs::copy(from.join(&name), to.join(&name))?;
            }
        }
        Ok(())
    }
}

/// What decides how a page reads, as one value: pages read under another are read again.
pub fn settings_fingerprint(cfg: &Config) -> String {
    let forms: Vec<_> = cfg.forms.iter().map(|(f, _)| f).collect();
    let text = format!(
        "{FORMAT}\n{}\n{}\n{forms:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}",
        env!("CARGO_PKG_VERSION"),
        program_fingerprint(),
        cfg.registry,
        cfg.thresholds,
        cfg.voided,
        cfg.lang,
        cfg.key.as_ref().map_or(String::new(), |k| k.fingerprint()),
    );
    crate::scan::file_sha256(text.as_bytes())
}

/// The running program's size and time: a new build of ballotscan may read a page
/// differently, so its pages are read again. (Not its hash: a build with debug information
/// is tens of MB, too much to read on every scan.)
fn program_fingerprint() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| FileStamp::at(&p))
        .map_or(String::new(), |s| format!("{s:?}"))
}

/// Writes `pages.jsonl` as the scan reads pages (one line each, in input order).
pub struct PagesWriter {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
}

impl PagesWriter {
    /// Starts `dir/pages.jsonl` with the line naming the settings `fingerprint`.
    pub fn create(dir: &Path, fingerprint: &str) -> std::io::Result<PagesWriter> {
        let path = dir.join(FILE);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let header = Header {
            format: FORMAT.into(),
            settings: fingerprint.into(),
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        Ok(PagesWriter { out, path })
    }

    /// Adds one page's line.
    pub fn page(&mut self, page: &ScannedPage) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, page)?;
        self.out.write_all(b"\n")
    }

    /// Flushes the file to disk.
    pub fn finish(self) -> std::io::Result<()> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }

    /// Where the file is being written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The records of a `pages.jsonl` just written, in page order (how the scan reads its pages
/// back once duplicates are known, so that memory does not grow with the batch).
pub fn records(dir: &Path) -> std::io::Result<impl Iterator<Item = std::io::Result<PageRecord>>> {
    let file = std::fs::File::open(dir.join(FILE))?;
    Ok(std::io::BufReader::new(file).lines().skip(1).map(|line| {
        line.and_then(|l| {
            serde_json::from_str::<ScannedPage>(&l)
                .map(|p| p.record)
                .map_err(std::io::Error::other)
        })
    }))
}
