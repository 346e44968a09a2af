//! What the console prints beside a command's own summary: warnings, collapsed so that the
//! same warning about twelve pages is one line a clerk reads, not twelve to scroll past; and
//! the Windows console switched to UTF-8 while the program runs.

use crate::i18n::{text, Lang};

/// How many of the places a repeated warning concerns are named on its line; the count says
/// how many there are in all.
const PLACES_SHOWN: usize = 3;

/// One line per distinct warning, in the order each first appeared: `place: warning` when it
/// concerns one place, else the warning with its count and the first few places.
pub fn collapse_warnings(lang: Lang, warnings: &[(String, String)]) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (place, warning) in warnings {
        match groups.iter_mut().find(|(w, _)| *w == warning.as_str()) {
            Some((_, places)) => places.push(place),
            None => groups.push((warning, vec![place])),
        }
    }
    groups
        .into_iter()
        .map(|(warning, places)| {
            if places.len() == 1 {
                return format!("{}: {warning}", places[0]);
            }
            let mut shown = places[..places.len().min(PLACES_SHOWN)].join(", ");
            if places.len() > PLACES_SHOWN {
                shown.push_str(", …");
            }
            text(
                lang,
                "console.warning_repeated",
                &[("text", &warning), ("n", &places.len()), ("places", &shown)],
            )
        })
        .collect()
}

/// A Windows console shows bytes in its code page (often 437 or 1258), so UTF-8 output
/// written through a pipe or by a child such as `more` would show "Phiáº¿u": the console is
/// switched to UTF-8 for this run and put back when it ends (the code page outlives the
/// process otherwise). Rust writes to a console window itself in UTF-16, needing no code page.
pub struct Utf8Console {
    #[cfg(windows)]
    previous: u32,
}

impl Utf8Console {
    /// Puts the console in UTF-8 for as long as the value lives (Windows; nothing elsewhere), so
    /// Vietnamese messages print as written.
    pub fn switch() -> Utf8Console {
        #[cfg(windows)]
        {
            use windows_sys::Win32::System::Console::{GetConsoleOutputCP, SetConsoleOutputCP};
            // SAFETY: both take or give a code page number; without a console they fail
            // harmlessly (0), and 0 is then not restored.
            let previous = unsafe { GetConsoleOutputCP() };
            unsafe { SetConsoleOutputCP(65001) };
            Utf8Console { previous }
        }
        #[cfg(not(windows))]
        Utf8Console {}
    }
}

impl Drop for Utf8Console {
    fn drop(&mut self) {
        #[cfg(windows)]
        if self.previous != 0 {
            // SAFETY: as in `switch`.
            unsafe { windows_sys::Win32::System::Console::SetConsoleOutputCP(self.previous) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_warning_about_many_pages_is_one_line_with_a_count() {
        let moved = "cannot open the scan now";
        let mut w: Vec<(String, String)> = (1..=12)
            .map(|i| (format!("scans/b{i:02}.png"), moved.to_string()))
            .collect();
        w.insert(1, ("scans/x.tif#2".into(), "the file has changed".into()));
        let lines = collapse_warnings(Lang::En, &w);
        assert_eq!(
            lines,
            vec![
                "cannot open the scan now (12 pages: scans/b01.png, scans/b02.png, scans/b03.png, …)"
                    .to_string(),
                "scans/x.tif#2: the file has changed".to_string(),
            ]
        );
    }
}
