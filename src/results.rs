//! A results folder (`scan --out`, `tally --out`) is one unit: it holds either the previous
//! complete set of files or the new complete set, never a mix.
//!
//! A run writes into a fresh hidden sibling, `.OUT.new-PID`, and only when every file is
//! written and synced swaps it in: on Linux with one atomic exchange of the two folders;
//! elsewhere (where a folder cannot be renamed over another) by renaming `OUT` to
//! `.OUT.old-PID` and the new folder to `OUT`. A kill between those two renames leaves no
//! `OUT` but both siblings; the next run, `tally` or `review` of `OUT` finishes the swap (the
//! new folder is complete, since the old one is only moved once it is) or, with only the old
//! one left, puts it back. Leftover siblings of a killed run are removed the same way.
//!
//! Files in `OUT` that a run does not write (a saved `decisions.csv`, notes) are moved into
//! the new folder; a previous run's `review/` images are not (their rows may have changed).
//!
//! `review` replaces `OUT/review/` the same way ([`StagedFolder`], staged in
//! `OUT/.review.new-PID`), under the results folder's lock.
//!
//! A lock file beside the folder, `.OUT.lock`, is held for the whole run, so two runs into
//! one folder cannot mix their files: the second stops with an error. The lock is the
//! system's (released when the process ends, even by a kill), so it never goes stale.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::i18n::Msg;

/// Files and folders a run writes into a results folder; anything else there is the
/// user's and is kept.
const WRITTEN: [&str; 12] = [
    "ballots.csv",
    "answers.csv",
    "pages.jsonl",
    "comments",
    "tallies.csv",
    "summary.csv",
    "scan.json",
    "audit-trail.csv",
    "reconciliation.csv",
    "report.html",
    "satisfaction.png",
    "review",
];

/// Whether `name` in a results folder is one of the run's own (replaced by the next run) rather
/// than the user's (kept): the files in [`WRITTEN`], temporary files, and what `review` leaves
/// of a swap of `review/` that was interrupted.
fn written_by_a_run(name: &str) -> bool {
    WRITTEN.contains(&name) || name.starts_with(".tmp") || name.starts_with(".review.")
}

/// The lock on a results folder (or on `generate`'s output folder), held until dropped.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
}

/// The absolute path of an existing file or folder, links followed, as the user would write
/// it. On Windows `std::fs::canonicalize` gives the verbatim form (`\\?\Z:\results`), which
/// no clerk recognises in a message and which never `starts_with` a plain path such as the
/// current folder, so the verbatim prefix is dropped (std adds it back itself when a path
/// is too long for the plain form).
pub fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path).map(plain)
}

#[cfg(windows)]
fn plain(path: PathBuf) -> PathBuf {
    use std::path::{Component, Prefix};
    let mut parts = path.components();
    let head = match parts.next() {
        Some(Component::Prefix(p)) => match p.kind() {
            Prefix::VerbatimDisk(letter) => format!("{}:", char::from(letter)),
            Prefix::VerbatimUNC(server, share) => match (server.to_str(), share.to_str()) {
                (Some(server), Some(share)) => format!("\\\\{server}\\{share}"),
                _ => return path,
            },
            _ => return path,
        },
        _ => return path,
    };
    let mut out = PathBuf::from(head);
    for c in parts {
        out.push(c.as_os_str());
    }
    out
}

#[cfg(not(windows))]
fn plain(path: PathBuf) -> PathBuf {
    path
}

/// `OUT` as an absolute path whose parent exists, so its siblings can be named.
fn resolve(out: &Path) -> anyhow::Result<(PathBuf, PathBuf, String)> {
    // A link to a folder is followed: the swap replaces the folder, not the link.
    let out = canonical(out).unwrap_or_else(|_| out.to_path_buf());
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(str::to_string)
        .ok_or_else(|| {
            anyhow::Error::from(ResultsError::NoName {
                folder: out.display().to_string(),
            })
        })?;
    let parent = match out.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(cannot(Msg::new(
        "results_error.cannot_create_folder",
        &[("path", &parent.display())],
    )))?;
    let parent = canonical(&parent).unwrap_or(parent);
    Ok((parent.join(&name), parent, name))
}

/// Why a results folder could not be used: in the run's language, each with its exit status
/// ([`ResultsError::failure`]).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub enum ResultsError {
    /// Another run holds the folder's lock.
    Locked { folder: String, printing: bool },
    /// `--out` has no name of its own (`/`, `..`).
    NoName { folder: String },
    /// `--out` is the current folder or holds it.
    HoldsCurrentFolder { folder: String },
    /// `--out` names a file.
    IsAFile { folder: String },
    /// `what` could not be done; the system's reason why. Not a `source`: the message says
    /// it, and a chain would say it twice.
    Io { what: Msg, error: std::io::Error },
}

impl ResultsError {
    /// What went wrong, to be put into words in any language.
    pub fn message(&self) -> Msg {
        match self {
            ResultsError::Locked { folder, printing } => Msg::new(
                if *printing {
                    "results_error.locked_printing"
                } else {
                    "results_error.locked_writing"
                },
                &[("folder", folder)],
            ),
            ResultsError::NoName { folder } => {
                Msg::new("results_error.no_name", &[("folder", folder)])
            }
            ResultsError::HoldsCurrentFolder { folder } => {
                Msg::new("results_error.holds_current", &[("folder", folder)])
            }
            ResultsError::IsAFile { folder } => {
                Msg::new("results_error.is_a_file", &[("folder", folder)])
            }
            ResultsError::Io { what, error } => {
                Msg::new("results_error.io", &[("what", what), ("error", error)])
            }
        }
    }

    /// The kind of failure, and so the exit status: a lock held by another run is a refusal,
    /// a folder that cannot be one a command-line mistake, the rest output failures.
    pub fn failure(&self) -> crate::failure::Failure {
        use crate::failure::Failure;
        match self {
            ResultsError::Locked { .. } => Failure::Refused,
            ResultsError::NoName { .. } | ResultsError::HoldsCurrentFolder { .. } => Failure::Usage,
            ResultsError::IsAFile { .. } | ResultsError::Io { .. } => Failure::Output,
        }
    }
}

/// An output failure (exit status 4): `what` could not be done with the results, and the
/// system's reason why.
fn cannot(what: Msg) -> impl FnOnce(std::io::Error) -> anyhow::Error {
    move |error| ResultsError::Io { what, error }.into()
}

/// Takes the lock of the folder `out` (its lock file is `lock_name` inside `lock_dir`).
fn take_lock(lock_path: &Path, out: &Path, printing: bool) -> anyhow::Result<FolderLock> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path)
        .map_err(cannot(Msg::new(
            "results_error.cannot_create_lock",
            &[("path", &lock_path.display())],
        )))?;
    match file.try_lock() {
        Ok(()) => {
            hide(lock_path);
            Ok(FolderLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(ResultsError::Locked {
            folder: out.display().to_string(),
            printing,
        }
        .into()),
        Err(std::fs::TryLockError::Error(e)) => Err(cannot(Msg::new(
            "results_error.cannot_lock",
            &[("path", &lock_path.display())],
        ))(e)),
    }
}

/// Locks `generate`'s output folder (the lock file is inside it: that folder is never
/// swapped), so that two runs cannot both continue `issued.csv` from the same last serial.
pub fn lock_print_folder(out: &Path) -> anyhow::Result<FolderLock> {
    std::fs::create_dir_all(out).map_err(cannot(Msg::new(
        "results_error.cannot_create_output",
        &[("path", &out.display())],
    )))?;
    take_lock(&out.join(".ballotscan.lock"), out, true)
}

/// A results folder being written: files go into [`ResultsFolder::staging`], and
/// [`ResultsFolder::commit`] swaps them in as a whole.
#[derive(Debug)]
pub struct ResultsFolder {
    // Dropped first: a failed run's staging folder is removed while the lock is still held.
    folder: StagedFolder,
    _lock: FolderLock,
}

impl ResultsFolder {
    /// Locks `out`, finishes or undoes an interrupted swap, and creates an empty staging folder.
    pub fn begin(out: &Path) -> anyhow::Result<ResultsFolder> {
        let (out, parent, name) = resolve(out)?;
        if std::env::current_dir().is_ok_and(|cwd| cwd.starts_with(&out)) {
            return Err(ResultsError::HoldsCurrentFolder {
                folder: out.display().to_string(),
            }
            .into());
        }
        let lock = take_lock(&parent.join(format!(".{name}.lock")), &out, false)?;
        let folder = StagedFolder::in_parent(parent, name, written_by_a_run)?;
        Ok(ResultsFolder {
            folder,
            _lock: lock,
        })
    }

    /// Where the new files are written.
    pub fn staging(&self) -> &Path {
        self.folder.staging()
    }

    /// The results folder itself (absolute).
    pub fn path(&self) -> &Path {
        self.folder.path()
    }

    /// Swaps the complete new set in for the previous one.
    pub fn commit(self) -> anyhow::Result<()> {
        self.folder.commit()
    }
}

/// A folder replaced as a whole: its new content is written into a hidden sibling,
/// `.NAME.new-PID`, and [`StagedFolder::commit`] swaps it in (see the module's comment). The
/// caller holds the lock that keeps other runs out (a results folder's own, or for `review/`
/// the lock of the results folder it lies in).
#[derive(Debug)]
pub struct StagedFolder {
    out: PathBuf,
    staging: PathBuf,
    parent: PathBuf,
    name: String,
    /// Which names in the folder the writer makes (the rest are the user's and are kept).
    ours: fn(&str) -> bool,
}

impl StagedFolder {
    /// Stages a new `out`, which must lie in a folder that exists. `ours` tells the names
    /// the writer makes from the user's own files, which are moved into the new folder.
    /// Finishes or undoes an interrupted swap of `out` first.
    pub fn begin(out: &Path, ours: fn(&str) -> bool) -> anyhow::Result<StagedFolder> {
        let (_, parent, name) = resolve(out)?;
        StagedFolder::in_parent(parent, name, ours)
    }

    fn in_parent(
        parent: PathBuf,
        name: String,
        ours: fn(&str) -> bool,
    ) -> anyhow::Result<StagedFolder> {
        let out = parent.join(&name);
        recover(&parent, &name, ours)?;
        if out.exists() && !out.is_dir() {
            return Err(ResultsError::IsAFile {
                folder: out.display().to_string(),
            }
            .into());
        }
        let staging = parent.join(format!(".{name}.new-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(cannot(Msg::new(
                "results_error.cannot_remove",
                &[("path", &staging.display())],
            )))?;
        }
        std::fs::create_dir(&staging).map_err(cannot(Msg::new(
            "results_error.cannot_create",
            &[("path", &staging.display())],
        )))?;
        hide(&staging);
        Ok(StagedFolder {
            out,
            staging,
            parent,
            name,
            ours,
        })
    }

    /// Where the new files are written.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// The folder itself (absolute).
    pub fn path(&self) -> &Path {
        &self.out
    }

    /// Swaps the complete new set in for the previous one.
    pub fn commit(self) -> anyhow::Result<()> {
        sync_dir(&self.staging);
        let fail = |e: std::io::Error| {
            cannot(Msg::new(
                "results_error.cannot_swap",
                &[("folder", &self.out.display())],
            ))(e)
        };
        if !self.out.exists() {
            std::fs::rename(&self.staging, &self.out).map_err(fail)?;
            unhide(&self.out);
            sync_dir(&self.parent);
            return Ok(());
        }
        let old = if exchange(&self.staging, &self.out).is_ok() {
            // The staging name now holds the previous set.
            self.staging.clone()
        } else {
            let old = self
                .parent
                .join(format!(".{}.old-{}", self.name, std::process::id()));
            std::fs::rename(&self.out, &old).map_err(fail)?;
            if let Err(e) = std::fs::rename(&self.staging, &self.out) {
                // Put the previous set back rather than leave no folder.
                let _ = std::fs::rename(&old, &self.out);
                return Err(fail(e));
            }
            old
        };
        unhide(&self.out);
        sync_dir(&self.parent);
        retire(&old, &self.out, self.ours)
    }
}

impl Drop for StagedFolder {
    fn drop(&mut self) {
        // A run that failed leaves nothing behind; after a commit the staging name is gone
        // (or holds the previous set, which commit has already removed).
        if self.staging.exists() {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// Whether a results folder is there to be read: the folder itself, or what a swap killed
/// between its two renames left (the previous set moved away, with or without the complete
/// new set beside it), which [`lock_for_reading`] puts back. A new set alone is a run killed
/// while writing: incomplete, never read.
pub fn present(dir: &Path) -> bool {
    if std::fs::symlink_metadata(dir).is_ok() {
        return true;
    }
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str()))
    else {
        return false;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let old_prefix = format!(".{name}.old-");
    std::fs::read_dir(parent).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&old_prefix))
        })
    })
}

/// Locks an existing results folder for reading (`tally`, `review`), finishing an
/// interrupted swap first. A folder on a read-only share is read without the lock.
pub fn lock_for_reading(dir: &Path) -> anyhow::Result<Option<FolderLock>> {
    let (out, parent, name) = resolve(dir)?;
    let lock_path = parent.join(format!(".{name}.lock"));
    let lock = match take_lock(&lock_path, &out, false) {
        Ok(l) => Some(l),
        Err(e)
            if matches!(
                e.downcast_ref::<ResultsError>(),
                Some(ResultsError::Io { error, .. }) if matches!(
                    error.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                )
            ) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    if lock.is_some() {
        recover(&parent, &name, written_by_a_run)?;
    }
    Ok(lock)
}

/// Finishes or undoes a swap a killed run left half done, and removes its leftovers.
fn recover(parent: &Path, name: &str, ours: fn(&str) -> bool) -> anyhow::Result<()> {
    let out = parent.join(name);
    let mut new = Vec::new();
    let mut old = Vec::new();
    let new_prefix = format!(".{name}.new-");
    let old_prefix = format!(".{name}.old-");
    if let Ok(entries) = std::fs::read_dir(parent) {
        for e in entries.flatten() {
            let file_name = e.file_name();
            let Some(n) = file_name.to_str() else {
                continue;
            };
            if let Some(pid) = n.strip_prefix(&new_prefix) {
                new.push((pid.to_string(), e.path()));
            } else if let Some(pid) = n.strip_prefix(&old_prefix) {
                old.push((pid.to_string(), e.path()));
            }
        }
    }
    if !out.exists() {
        // The previous set is only moved away once the new one is complete: a new folder of
        // the same run as an old one is complete; an old one alone is the previous set.
        let complete = new
            .iter()
            .position(|(pid, _)| old.iter().any(|(p, _)| p == pid));
        let restore = match complete {
            Some(i) => Some(new.remove(i).1),
            None => old.pop().map(|(_, p)| p),
        };
        if let Some(from) = restore {
            std::fs::rename(&from, &out).map_err(cannot(Msg::new(
                "results_error.cannot_restore",
                &[("from", &from.display()), ("folder", &out.display())],
            )))?;
            unhide(&out);
            sync_dir(parent);
        }
    }
    for (_, p) in old.into_iter().chain(new) {
        if out.is_dir() {
            retire(&p, &out, ours)?;
        }
    }
    Ok(())
}

/// Moves the user's own files (those not `ours`) from a retired folder into `out`, then
/// removes it.
fn retire(old: &Path, out: &Path, ours: fn(&str) -> bool) -> anyhow::Result<()> {
    if let Ok(entries) = std::fs::read_dir(old) {
        for e in entries.flatten() {
            let n = e.file_name();
            let ours = n.to_str().is_some_and(ours);
            let dest = out.join(&n);
            if !ours && std::fs::symlink_metadata(&dest).is_err() {
                std::fs::rename(e.path(), &dest).map_err(cannot(Msg::new(
                    "results_error.cannot_move_in",
                    &[("path", &e.path().display()), ("folder", &out.display())],
                )))?;
            }
        }
    }
    std::fs::remove_dir_all(old).map_err(cannot(Msg::new(
        "results_error.cannot_remove_previous",
        &[("path", &old.display())],
    )))
}

/// Exchanges two folders in one step (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Marks a lock file or a staging folder hidden on Windows, where a leading dot does not hide
/// it from a clerk browsing the folder (best effort: a name still works unhidden).
#[cfg(windows)]
fn hide(path: &Path) {
    set_hidden(path, true);
}

/// A staging folder swapped in becomes the visible results folder.
#[cfg(windows)]
fn unhide(path: &Path) {
    set_hidden(path, false);
}

#[cfg(windows)]
fn set_hidden(path: &Path, hidden: bool) {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Storage::FileSystem::{
        GetFileAttributesW, SetFileAttributesW, FILE_ATTRIBUTE_HIDDEN, INVALID_FILE_ATTRIBUTES,
    };
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    // SAFETY: `wide` is a NUL-terminated UTF-16 path that outlives both calls.
    unsafe {
        let now = GetFileAttributesW(wide.as_ptr());
        if now == INVALID_FILE_ATTRIBUTES {
            return;
        }
        let want = if hidden {
            now | FILE_ATTRIBUTE_HIDDEN
        } else {
            now & !FILE_ATTRIBUTE_HIDDEN
        };
        if want != now {
            SetFileAttributesW(wide.as_ptr(), want);
        }
    }
}

/// Elsewhere the leading dot of the name hides it.
#[cfg(not(windows))]
fn hide(_: &Path) {}

#[cfg(not(windows))]
fn unhide(_: &Path) {}

/// Makes renames and new files in `dir` durable before the next step (best effort: not every
/// system can sync a folder).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        std::fs::write(p, text).expect("write");
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).expect("read")
    }

    #[test]
    fn a_commit_replaces_the_set_and_keeps_the_users_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        write(&out.join("ballots.csv"), "old");
        write(&out.join("tallies.csv"), "old");
        write(&out.join("decisions.csv"), "mine");
        let f = ResultsFolder::begin(&out).expect("begin");
        write(&f.staging().join("ballots.csv"), "new");
        assert_eq!(
            read(&out.join("ballots.csv")),
            "old",
            "untouched until commit"
        );
        f.commit().expect("commit");
        assert_eq!(read(&out.join("ballots.csv")), "new");
        assert!(
            !out.join("tallies.csv").exists(),
            "a stale file of ours goes"
        );
        assert_eq!(read(&out.join("decisions.csv")), "mine");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "only out and its lock file: {names:?}");
    }

    #[test]
    fn a_failed_run_leaves_the_previous_set_and_no_staging_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        write(&out.join("ballots.csv"), "old");
        {
            let f = ResultsFolder::begin(&out).expect("begin");
            write(&f.staging().join("ballots.csv"), "half");
        }
        assert_eq!(read(&out.join("ballots.csv")), "old");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 2);
    }

    #[test]
    fn a_folder_between_the_two_renames_of_a_swap_is_present() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("Ngày 1");
        assert!(!present(&out));
        // A run killed while writing: nothing complete to read.
        std::fs::create_dir(dir.path().join(".Ngày 1.new-4242")).expect("mkdir");
        assert!(!present(&out));
        std::fs::create_dir(dir.path().join(".Ngày 1.old-4242")).expect("mkdir");
        assert!(present(&out));
        std::fs::create_dir(&out).expect("mkdir");
        assert!(present(&out));
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let first = ResultsFolder::begin(&out).expect("begin");
        let locked = |e: anyhow::Error| {
            matches!(
                e.downcast_ref::<ResultsError>(),
                Some(ResultsError::Locked {
                    printing: false,
                    ..
                })
            )
        };
        let err = ResultsFolder::begin(&out).expect_err("refused");
        assert_eq!(crate::failure::Failure::of(&err).exit_status(), 1);
        assert!(locked(err));
        assert!(locked(lock_for_reading(&out).expect_err("refused")));
        drop(first);
        assert!(ResultsFolder::begin(&out).is_ok());
    }

    #[test]
    fn a_kill_between_the_two_renames_is_finished_by_the_next_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        // What the two-rename swap leaves when killed after moving the previous set away.
        let old = dir.path().join(".out.old-77");
        let new = dir.path().join(".out.new-77");
        std::fs::create_dir(&old).expect("mkdir");
        std::fs::create_dir(&new).expect("mkdir");
        write(&old.join("ballots.csv"), "old");
        write(&old.join("notes.txt"), "mine");
        write(&new.join("ballots.csv"), "new");
        let _lock = lock_for_reading(&out).expect("lock");
        assert_eq!(read(&out.join("ballots.csv")), "new");
        assert_eq!(read(&out.join("notes.txt")), "mine");
        assert!(!old.exists() && !new.exists());
    }

    #[test]
    fn a_kill_while_writing_leaves_the_previous_set_for_the_next_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        write(&out.join("ballots.csv"), "old");
        let new = dir.path().join(".out.new-78");
        std::fs::create_dir(&new).expect("mkdir");
        write(&new.join(".tmpAbC"), "half");
        let _lock = lock_for_reading(&out).expect("lock");
        assert_eq!(read(&out.join("ballots.csv")), "old");
        assert!(!new.exists());
        assert!(!out.join(".tmpAbC").exists());
        // Only the old set moved away (killed between the renames, new never written):
        drop(_lock);
        let old = dir.path().join(".out.old-79");
        std::fs::rename(&out, &old).expect("mv");
        let _lock = lock_for_reading(&out).expect("lock");
        assert_eq!(read(&out.join("ballots.csv")), "old");
    }
}
