//! Writing result files safely: atomically (temporary file, then rename, so an interrupted run
//! never leaves half a tally), as UTF-8 CSV with a BOM (Excel then shows Vietnamese correctly),
//! with cells that a spreadsheet would run as a formula neutralised.

use std::io::Write;
use std::path::Path;

/// A result file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::i18n::Msg::new("output.cannot_write", &[("path", .path), ("error", .error)]))]
pub struct WriteError {
    /// The file that was being written.
    pub path: String,
    /// Not a `source`: the message already says it, and a chain would say it twice.
    pub error: std::io::Error,
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let err = |error| WriteError {
        path: path.display().to_string(),
        error,
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new("."))).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    // Temporary files are private (0600); results are for everyone who may read the folder.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// A CSV table being built in memory, written in one atomic step.
pub struct CsvTable {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvTable {
    /// An empty table with these column names.
    pub fn new(header: &[&str]) -> CsvTable {
        // The BOM is what makes Excel read the file as UTF-8.
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice("\u{feff}".as_bytes());
        let mut writer = csv::WriterBuilder::new().from_writer(buf);
        // Writing into a Vec cannot fail.
        let _ = writer.write_record(header);
        CsvTable { writer }
    }

    /// Adds a row, each cell neutralised against spreadsheet formulas.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells.into_iter().map(|c| neutralise(c.as_ref())).collect();
        let _ = self.writer.write_record(&cells);
    }

    /// The whole file: BOM, header and rows.
    pub fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner().unwrap_or_default()
    }

    /// Writes the table to `path` atomically.
    pub fn write(self, path: &Path) -> Result<(), WriteError> {
        write_atomic(path, &self.into_bytes())
    }
}

/// A CSV written row by row into a temporary file beside its destination and renamed into
/// place by [`CsvStream::finish`]: for tables too long to hold in memory (one row per box).
pub struct CsvStream {
    writer: csv::Writer<std::io::BufWriter<tempfile::NamedTempFile>>,
    path: std::path::PathBuf,
}

impl CsvStream {
    /// Starts the file destined for `path` with its BOM and header.
    pub fn create(path: &Path, header: &[&str]) -> Result<CsvStream, WriteError> {
        let err = |error| WriteError {
            path: path.display().to_string(),
            error,
        };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new("."))).map_err(err)?;
        tmp.write_all("\u{feff}".as_bytes()).map_err(err)?;
        let mut writer = csv::WriterBuilder::new().from_writer(std::io::BufWriter::new(tmp));
        writer
            .write_record(header)
            .map_err(|e| err(std::io::Error::other(e)))?;
        Ok(CsvStream {
            writer,
            path: path.to_path_buf(),
        })
    }

    /// Adds a row, each cell neutralised against spreadsheet formulas.
    pub fn row<I, S>(&mut self, cells: I) -> Result<(), WriteError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells.into_iter().map(|c| neutralise(c.as_ref())).collect();
        self.writer.write_record(&cells).map_err(|e| WriteError {
            path: self.path.display().to_string(),
            error: std::io::Error::other(e),
        })
    }

    /// Flushes the file and renames it into place: only now does `path` change.
    pub fn finish(self) -> Result<(), WriteError> {
        let path = self.path;
        let err = |error| WriteError {
            path: path.display().to_string(),
            error,
        };
        let buf = self
            .writer
            .into_inner()
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        let tmp = buf.into_inner().map_err(|e| err(e.into_error()))?;
        tmp.as_file().sync_all().map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644));
        }
        tmp.persist(&path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

/// A cell that starts like a formula (`=`, `+`, `-`, `@`, or a tab/CR that some spreadsheets
/// skip) gets a leading apostrophe, so a hostile QR payload or file name cannot run in Excel.
pub fn neutralise(cell: &str) -> String {
    if needs_guard(cell) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// A cell a spreadsheet would run as a formula, or one that already looks guarded (a file
/// named `'=x.png`): it gets one more `'`, so reading it back gives the cell itself.
fn needs_guard(cell: &str) -> bool {
    matches!(
        cell.trim_start_matches('\'').as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Reads a CSV written by [`CsvTable`] (or by a user's spreadsheet), skipping a BOM.
pub fn read_csv(path: &Path) -> Result<(csv::StringRecord, Vec<csv::StringRecord>), ReadCsvError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| ReadCsvError::Unreadable {
        file: file.clone(),
        error,
    })?;
    let text =
        String::from_utf8(bytes).map_err(|_| ReadCsvError::NotUtf8 { file: file.clone() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter_of(text.as_bytes()))
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .map_err(|error| ReadCsvError::BadHeader {
            file: file.clone(),
            error,
        })?
        .clone();
    let mut rows = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        rows.push(r.map_err(|error| ReadCsvError::BadRow {
            file: file.clone(),
            line: error.position().map_or(i as u64 + 2, |p| p.line()),
            error,
        })?);
    }
    Ok((header, rows))
}

/// Why a CSV a person gave (or a folder holds) could not be read: the file, the line and what
/// to do, in the user's language; the csv crate's own words stay as the detail.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub enum ReadCsvError {
    /// The file cannot be read.
    Unreadable {
        /// The file as given.
        file: String,
        /// What the system said.
        error: std::io::Error,
    },
    /// Not UTF-8 text: to be saved again as "CSV UTF-8".
    NotUtf8 {
        /// The file as given.
        file: String,
    },
    /// The header line cannot be read.
    BadHeader {
        /// The file as given.
        file: String,
        /// What the csv reader said.
        error: csv::Error,
    },
    /// A row cannot be read.
    BadRow {
        /// The file as given.
        file: String,
        /// The row's line in the file (1-based).
        line: u64,
        /// What the csv reader said.
        error: csv::Error,
    },
}

impl ReadCsvError {
    /// What went wrong, to be put into words in any language.
    pub fn message(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match self {
            ReadCsvError::Unreadable { file, error } => {
                Msg::new("csv_error.unreadable", &[("file", file), ("error", error)])
            }
            ReadCsvError::NotUtf8 { file } => Msg::new("csv_error.not_utf8", &[("file", file)]),
            ReadCsvError::BadHeader { file, error } => {
                Msg::new("csv_error.bad_header", &[("file", file), ("error", error)])
            }
            ReadCsvError::BadRow { file, line, error } => Msg::new(
                "csv_error.bad_row",
                &[("file", file), ("line", line), ("error", error)],
            ),
        }
    }
}

/// The separator of a CSV a person gives, from its header line: `;` when the header has more
/// semicolons than commas (Excel writes `;` where the system's list separator is `;`, as in
/// a Vietnamese Windows whose decimal separator is the comma), else `,`. Quoted text is not
/// counted, so a header cell `"a;b"` does not decide it.
pub fn delimiter_of(start: &[u8]) -> u8 {
    let start = start.strip_prefix("\u{feff}".as_bytes()).unwrap_or(start);
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for &b in start {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

/// Undoes [`neutralise`] when reading our own files back.
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for c in ["=1+1", "+A1", "-2", "@SUM(A1)"] {
            let n = neutralise(c);
            assert!(n.starts_with('\''));
            assert_eq!(unneutralise(&n), c);
        }
        assert_eq!(neutralise("P-ANBIEN"), "P-ANBIEN");
        for c in ["'=x.png", "'-", "''@", "'plain", "'"] {
            assert_eq!(unneutralise(&neutralise(c)), c, "{c:?}");
        }
        assert_eq!(unneutralise("'quoted"), "'quoted");
    }

    #[cfg(unix)]
    #[test]
    fn a_write_error_says_the_os_error_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file where a folder should be: the write fails with the system's reason.
        std::fs::write(dir.path().join("file"), b"x").expect("write");
        let err = write_atomic(&dir.path().join("file/out.csv"), b"a").expect_err("fails");
        let text = format!("{:#}", anyhow::Error::from(err));
        let os = std::io::Error::from_raw_os_error(20).to_string();
        assert_eq!(text.matches(&os).count(), 1, "{text}");
    }

    #[test]
    fn a_semicolon_csv_from_excel_is_read_like_a_comma_csv() {
        assert_eq!(delimiter_of(b"code;name;parent\r\nA;a,b;\r\n"), b';');
        assert_eq!(delimiter_of(b"code,name,parent\nA,\"a;b;c\",\n"), b',');
        assert_eq!(delimiter_of("\u{feff}\"x;y\",b\n".as_bytes()), b',');
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("issued.csv");
        std::fs::write(
            &p,
            "\u{feff}form;version;unit;serial\r\nCSAT;2;P-ANBIEN;000005\r\n",
        )
        .expect("write");
        let (header, rows) = read_csv(&p).expect("reads");
        assert_eq!(
            header.iter().collect::<Vec<_>>(),
            ["form", "version", "unit", "serial"]
        );
        assert_eq!(rows[0].get(3), Some("000005"));
    }

    #[test]
    fn csv_starts_with_a_bom_and_is_written_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = CsvTable::new(&["a", "b"]);
        t.row(["Hài lòng", "=cmd"]);
        let p = dir.path().join("x.csv");
        t.write(&p).expect("writes");
        let bytes = std::fs::read(&p).expect("reads");
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let text = String::from_utf8(bytes).expect("utf8");
        assert!(text.contains("Hài lòng,'=cmd"));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }
}
