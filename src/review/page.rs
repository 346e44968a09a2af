//! `review/index.html`: one self-contained page (inline CSS and JavaScript, no network, no
//! server) listing the flagged ballots, where the auditor chooses answers and whole-ballot
//! verdicts and exports them as `decisions.csv` for [`crate::audit::load_decisions`].
//!
//! Every value taken from the scan (file names, units, details, labels) is HTML-escaped. The
//! page stays light with thousands of ballots: images load lazily, each question's option list
//! is a `<template>` per form copied into its `<select>` only when the ballot scrolls into
//! view, and the per-ballot markup is the same few lines for every ballot, so the file grows
//! linearly with the number of ballots.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::audit::{DECISIONS_HEADER, WHOLE_BALLOT};
use crate::ballot::{Answer, Status};
use crate::form::{Form, QuestionKind};
use crate::marks::Thresholds;
use crate::registry::Registry;
use crate::scan::PageRecord;

use super::Entry;

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");
/// Question crops are shown at the images' own 100 DPI (a 7 mm box is 28 px), so a row of
/// five boxes with their scores fits beside the answer on a laptop screen.
const CROP_ZOOM: f64 = 1.0;

/// What the page is made of.
pub struct PageInput<'a> {
    /// The scan folder, as shown in the title.
    pub scan_dir: &'a str,
    /// Identifies the scan in the browser's storage (a hash of its `ballots.csv`), so saved
    /// decisions never land on another scan's rows.
    pub scan_key: &'a str,
    /// Every page of `ballots.csv`, in its order.
    pub records: &'a [PageRecord],
    /// The flagged pages, in the order they are listed.
    pub entries: &'a [Entry],
    pub forms: &'a [Form],
    pub registry: &'a Registry,
    pub thresholds: Thresholds,
}

pub use crate::printable::escape;

/// Builds the whole page.
pub fn index_html(input: &PageInput) -> String {
    let mut h = String::with_capacity(4096 + input.entries.len() * 3000);
    let e = escape;
    let mut by_status: BTreeMap<Status, usize> = BTreeMap::new();
    for x in input.entries {
        *by_status.entry(input.records[x.index].status).or_default() += 1;
    }
    let counts: Vec<String> = by_status
        .iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Review: {dir}</title>
<style>
{CSS}</style>
</head>
<body data-scan="{key}" data-header="{header}" data-whole="{whole}" data-total="{total}">
<header class="top">
<h1>Flagged ballots of {dir}</h1>
<div class="tools">
<label>Auditor <input id="auditor" type="text" autocomplete="name" placeholder="your name"></label>
<button id="export" type="button">Export decisions.csv</button>
<span id="status">{total} ballots to review</span>
</div>
</header>
<main>
<noscript><p class="warn">JavaScript is off: the ballots are listed, but decisions cannot be recorded or exported.</p></noscript>
<p class="help">{total} flagged ballots ({counts}), the closest calls first. For each ballot the scanner's reading is shown next to each question's boxes, drawn from the boxes, scores and page alignment the scan used: <span class="legend"><span class="m">marked</span><span class="a">ambiguous</span><span class="e">empty</span></span> (empty at or below {empty:.3}, marked at or above {marked:.3}). Choose an answer only where you disagree or confirm a doubtful one, or accept or reject the ballot as a whole, then <b>Export decisions.csv</b>. Choices are kept in this browser for this scan until you export; a note goes with every exported row of its ballot.</p>
"#,
        dir = e(input.scan_dir),
        key = e(input.scan_key),
        header = e(&DECISIONS_HEADER.join(",")),
        whole = e(WHOLE_BALLOT),
        total = input.entries.len(),
        counts = e(&counts.join(", ")),
        empty = input.thresholds.empty,
        marked = input.thresholds.marked,
    );
    forms_legend(&mut h, input);
    for (rank, entry) in input.entries.iter().enumerate() {
        ballot_card(&mut h, input, rank + 1, entry);
    }
    let _ = write!(h, "</main>\n<script>\n{JS}</script>\n</body>\n</html>\n");
    h
}

/// The questions and options of each form, and one `<template>` per question with its
/// option list (copied into a ballot's `<select>` when the ballot is shown).
fn forms_legend(h: &mut String, input: &PageInput) {
    let e = escape;
    for (fi, form) in input.forms.iter().enumerate() {
        let _ = write!(
            h,
            "<details class=\"forms\"><summary>Form {} v{}: questions and options</summary><ol>",
            e(&form.id),
            form.version
        );
        for q in &form.questions {
            let opts: Vec<String> = q
                .options
                .iter()
                .map(|o| format!("{} = {}", e(&o.id), e(&o.label)))
                .collect();
            let _ = write!(
                h,
                "<li><b>{}</b> {} <small>({})</small></li>",
                e(&q.id),
                e(&q.text),
                opts.join(" · ")
            );
        }
        h.push_str("</ol></details>\n");
        for q in &form.questions {
            let _ = write!(h, "<template id=\"t-{}\">", e(&template_id(fi, &q.id)));
            for o in &q.options {
                let _ = write!(
                    h,
                    "<option value=\"{}\">{} · {}</option>",
                    e(&o.id),
                    e(&o.id),
                    e(&o.label)
                );
            }
            h.push_str("<option value=\"BLANK\">BLANK: no answer</option>");
            if q.kind == QuestionKind::Single {
                h.push_str(
                    "<option value=\"MULTI\">MULTI: several boxes marked, not counted</option>",
                );
            }
            h.push_str("</template>\n");
        }
    }
}

fn template_id(form_index: usize, question: &str) -> String {
    format!("f{form_index}-{question}")
}

fn ballot_card(h: &mut String, input: &PageInput, rank: usize, entry: &Entry) {
    let e = escape;
    let r = &input.records[entry.index];
    let row = super::row_number(entry.index);
    let (unit, serial) = r
        .payload
        .as_ref()
        .map_or((String::new(), String::new()), |p| {
            (p.unit.clone(), p.serial_text())
        });
    let img = entry.image.as_ref();
    let _ = write!(
        h,
        "<section class=\"ballot st-{status}\" id=\"b{row}\" data-row=\"{row}\" data-source=\"{source}\" data-page=\"{page}\" data-sha=\"{sha}\" data-form=\"{form}\" data-unit=\"{unit}\" data-serial=\"{serial}\" data-img=\"{file}\"",
        status = r.status.as_str(),
        // A CR in a file name would reach the script as LF (HTML folds line ends in
        // attributes), and the exported name would no longer be the file's.
        source = e(&r.source).replace('\r', "&#13;"),
        page = r.page,
        sha = e(&r.file_sha256),
        form = e(r.payload.as_ref().map_or("", |p| p.form.as_str())),
        unit = e(&unit),
        serial = e(&serial),
        file = e(img.map_or("", |i| i.file.as_str())),
    );
    if let Some(i) = img {
        let _ = write!(
            h,
            " style=\"--bg-size:{:.0}px {:.0}px\"",
            i.width as f64 * CROP_ZOOM,
            i.height as f64 * CROP_ZOOM
        );
    }
    let _ = write!(
        h,
        ">\n<h2>#{rank} <span class=\"src\">{}</span> <small>(row {row} of ballots.csv)</small></h2>\n<p class=\"meta\"><span class=\"status\">{}</span> <span class=\"reasons\">{}</span>",
        e(&r.page_ref()),
        r.status.as_str(),
        e(&r.reasons.join("; ")),
    );
    if let Some(p) = &r.payload {
        let name = input
            .registry
            .get(&p.unit)
            .map_or("not in the units registry".to_string(), |u| u.name.clone());
        let _ = write!(
            h,
            " · unit <b class=\"unit\">{}</b> ({}) · serial <b class=\"serial\">{}</b> · form {} v{}",
            e(&p.unit),
            e(&name),
            e(&serial),
            e(&p.form),
            p.version
        );
    }
    if let (Status::Review, Some(m)) = (r.status, r.min_margin) {
        let _ = write!(h, " · closest call {m:.3} from a threshold");
    }
    if let Some(d) = &r.duplicate_of {
        let _ = write!(h, " · copy of {}", e(d));
    }
    h.push_str("</p>\n");
    if !r.detail.is_empty() {
        let _ = writeln!(h, "<p class=\"detail\">{}</p>", e(&r.detail));
    }
    for w in &entry.warnings {
        let _ = writeln!(h, "<p class=\"warn\">{}</p>", e(w));
    }
    h.push_str("<div class=\"cols\">\n");
    match img {
        Some(i) => {
            let _ = writeln!(
                h,
                "<a class=\"scan\" href=\"{f}\" target=\"_blank\"><img loading=\"lazy\" src=\"{f}\" width=\"{w}\" height=\"{ht}\" alt=\"{alt}\"></a>",
                f = e(&i.file),
                w = i.width,
                ht = i.height,
                alt = e(&format!("annotated scan of {}", r.page_ref())),
            );
        }
        None => h.push_str("<div class=\"noimg\">no image: the page could not be read</div>\n"),
    }
    h.push_str("<div class=\"qs\">\n");
    let form = r.form.as_ref().and_then(|(id, v)| {
        input
            .forms
            .iter()
            .enumerate()
            .find(|(_, f)| &f.id == id && f.version == *v)
    });
    // Decisions on answers only change readable ballots (see audit::redecide): a rejected page
    // or a copy of a file already read stays what it is, so only the verdict is offered there.
    let readable = r.status != Status::Rejected && !r.reasons.iter().any(|x| x == "duplicate_file");
    match form {
        Some((fi, form)) if readable => {
            for q in &form.questions {
                let read = r.questions.iter().find(|x| x.question == q.id);
                let (text, class) = match read.map(|x| &x.answer) {
                    Some(Answer::Chosen(ids)) => (
                        ids.iter()
                            .map(|id| {
                                q.options
                                    .iter()
                                    .find(|o| &o.id == id)
                                    .map_or(id.clone(), |o| format!("{id} · {}", o.label))
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                        "a-chosen",
                    ),
                    Some(Answer::Blank) => ("BLANK".to_string(), "a-blank"),
                    Some(Answer::Multi) => ("MULTI".to_string(), "a-multi"),
                    Some(Answer::Review) => ("REVIEW".to_string(), "a-review"),
                    None => ("not read".to_string(), "a-none"),
                };
                let doubt = matches!(
                    read.map(|x| &x.answer),
                    Some(Answer::Review | Answer::Multi)
                );
                let _ = write!(
                    h,
                    "<div class=\"q{}\"><span class=\"qid\">{}</span>",
                    if doubt { " doubt" } else { "" },
                    e(&q.id)
                );
                if let Some(c) = img.and_then(|i| i.crops.iter().find(|c| c.question == q.id)) {
                    let z = |v: u32| (v as f64 * CROP_ZOOM).round();
                    let _ = write!(
                        h,
                        "<div class=\"crop\" style=\"width:{}px;height:{}px;background-position:-{}px -{}px\"></div>",
                        z(c.w),
                        z(c.h),
                        z(c.x),
                        z(c.y)
                    );
                }
                let _ = writeln!(
                    h,
                    "<span class=\"read {class}\">{}</span><select class=\"ans\" data-q=\"{q}\" data-t=\"{t}\" aria-label=\"answer to {q}\"><option value=\"\">as read</option></select></div>",
                    e(&text),
                    q = e(&q.id),
                    t = e(&template_id(fi, &q.id)),
                );
            }
        }
        Some(_) => h.push_str(
            "<p>This page stays out of the tally whatever is decided on its answers; record your verdict below.</p>\n",
        ),
        None => h.push_str(
            "<p>No form could be read from this page: only a verdict on the whole page applies.</p>\n",
        ),
    }
    h.push_str(
        "<div class=\"verdict-row\"><select class=\"verdict\" aria-label=\"ballot verdict\"><option value=\"\">no verdict on the ballot</option><option value=\"ACCEPT\">accept ballot as read</option><option value=\"REJECT\">reject ballot</option></select><input class=\"note\" type=\"text\" placeholder=\"note (exported with this ballot's decisions)\" aria-label=\"note\"></div>\n",
    );
    h.push_str("</div>\n</div>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_text_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("Hài lòng"), "Hài lòng");
    }

    #[test]
    fn the_script_cannot_be_closed_early() {
        assert!(!JS.contains("</script"));
        assert!(!CSS.contains("</style"));
    }
}
