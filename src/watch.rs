//! `scan --watch`: keeps scanning a folder the scanner is still filling. The inputs are looked
//! at every second (a plain listing, which works the same on a network share, where change
//! notifications often never arrive); once the set of files has changed and then stayed the same
//! for [`SETTLE`], the scan runs again, incrementally (see [`crate::previous_scan`]), so
//! each round reads only the new files and swaps the results folder in as a whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::input::{walk_inputs, Walk};
use crate::previous_scan::FileStamp;

/// How often the inputs are listed.
pub const EVERY: Duration = Duration::from_secs(1);
/// How long the files must stay unchanged before they are read: a scanner writes a
/// multi-page PDF over several seconds, and a half-written file would be read in part.
pub const SETTLE: Duration = Duration::from_secs(2);

/// What the inputs hold at one moment: every file with its size and time, and the paths that
/// cannot be read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    files: BTreeMap<PathBuf, Option<FileStamp>>,
    unreadable: Vec<PathBuf>,
}

impl Snapshot {
    /// What `walk` found, with each file's size and time as they are now.
    pub fn of(walk: &Walk) -> Snapshot {
        Snapshot {
            files: walk
                .files
                .iter()
                .map(|p| (p.clone(), FileStamp::at(p)))
                .collect(),
            unreadable: walk.unreadable.iter().map(|(p, _)| p.clone()).collect(),
        }
    }

    /// How many files there are.
    pub fn files(&self) -> usize {
        self.files.len()
    }
}

/// When to scan, from one listing to the next.
#[derive(Debug)]
pub struct Settling {
    /// What the last scan read.
    scanned: Snapshot,
    /// The last listing and since when it has not changed.
    seen: Snapshot,
    since: Instant,
}

impl Settling {
    /// After a scan of `scanned`.
    pub fn new(scanned: Snapshot, now: Instant) -> Settling {
        Settling {
            seen: scanned.clone(),
            scanned,
            since: now,
        }
    }

    /// Takes a new listing; true when it differs from what was scanned and has stayed the
    /// same for [`SETTLE`]. An empty listing is never scanned (a share that went away must not
    /// wipe the results).
    pub fn ready(&mut self, now_seen: Snapshot, now: Instant) -> bool {
        if now_seen != self.seen {
            self.seen = now_seen;
            self.since = now;
            return false;
        }
        self.seen != self.scanned
            && self.seen.files() > 0
            && now.duration_since(self.since) >= SETTLE
    }

    /// Records that the current listing was scanned.
    pub fn scanned(&mut self) {
        self.scanned = self.seen.clone();
    }
}

/// Runs `scan` on every settled change of `inputs`, for ever (until the process is stopped).
/// A round that fails is reported by `scan` itself and tried again on the next change.
pub fn watch(inputs: &[PathBuf], out: &Path, first: Snapshot, scan: &mut dyn FnMut(&Walk)) -> ! {
    let mut settling = Settling::new(first, Instant::now());
    loop {
        std::thread::sleep(EVERY);
        let walk = walk_inputs(inputs, Some(out));
        if settling.ready(Snapshot::of(&walk), Instant::now()) {
            scan(&walk);
            settling.scanned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(files: &[(&str, u64)]) -> Snapshot {
        Snapshot {
            files: files
                .iter()
                .map(|(p, size)| {
                    (
                        PathBuf::from(p),
                        Some(FileStamp {
                            size: *size,
                            modified_ns: 1,
                        }),
                    )
                })
                .collect(),
            unreadable: Vec::new(),
        }
    }

    #[test]
    fn a_new_file_is_scanned_only_once_it_stopped_changing() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut w = Settling::new(snap(&[("a.jpg", 10)]), t0);
        assert!(!w.ready(snap(&[("a.jpg", 10)]), s(1)), "nothing new");
        assert!(!w.ready(snap(&[("a.jpg", 10), ("b.pdf", 5)]), s(2)));
        // Still growing: the clock starts again.
        assert!(!w.ready(snap(&[("a.jpg", 10), ("b.pdf", 9)]), s(3)));
        assert!(!w.ready(snap(&[("a.jpg", 10), ("b.pdf", 9)]), s(4)));
        assert!(w.ready(snap(&[("a.jpg", 10), ("b.pdf", 9)]), s(5)));
        w.scanned();
        assert!(
            !w.ready(snap(&[("a.jpg", 10), ("b.pdf", 9)]), s(9)),
            "scanned"
        );
    }

    #[test]
    fn a_removed_file_is_a_change_but_an_empty_listing_is_not_scanned() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut w = Settling::new(snap(&[("a.jpg", 10), ("b.jpg", 10)]), t0);
        assert!(!w.ready(snap(&[("a.jpg", 10)]), s(1)));
        assert!(w.ready(snap(&[("a.jpg", 10)]), s(3)));
        w.scanned();
        assert!(!w.ready(snap(&[]), s(4)));
        assert!(
            !w.ready(snap(&[]), s(10)),
            "an unmounted share keeps the results"
        );
    }
}
