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

use crate::audit::{Decision, DECISIONS_HEADER, WHOLE_BALLOT};
use crate::ballot::{Answer, Status};
use crate::form::{Forms, QuestionKind};
use crate::i18n::{decimal, text, Lang};
use crate::marks::{MarkState, Thresholds};
use crate::reason::Reason;
use crate::registry::Registry;
use crate::scan::PageRecord;

use super::Entry;

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");
/// The unit filter's value for pages whose unit is unknown (no QR code read): never a unit
/// code (those are letters, digits, `-`, `_` and `.`), and page.js matches it the same way.
const NO_UNIT: &str = "*";
/// How many cards are shown at first, and how many more each "show more" adds. The page holds
/// every card, but those beyond are `hidden` (not laid out, their images not fetched), so a
/// page of 5,000 ballots opens as fast as one of 100 and the first hundred have their images
/// at once — on screen without scrolling, and in print.
pub const CHUNK: usize = 100;

/// What the page is made of.
pub struct PageInput<'a> {
    /// The scan folder, as shown in the title.
    pub scan_dir: &'a str,
    /// Names the scan folder in the browser's storage (its own name, never its path): saved
    /// decisions are kept there by ballot (page.js `keyOf`), so they survive a rescan.
    pub scan_key: &'a str,
    /// Every page of `ballots.csv`, in its order.
    pub records: &'a [PageRecord],
    /// The flagged pages, in the order they are listed.
    pub entries: &'a [Entry],
    /// The forms the scan read with: the cards show each question's text and options' labels.
    pub forms: &'a Forms,
    /// The units registry the scan used: the unit filter lists its units in its order.
    pub registry: &'a Registry,
    /// The scan's two thresholds, which the page's help quotes so a score can be read.
    pub thresholds: Thresholds,
    /// The language of everything the auditor reads; values (codes, ids) stay as written.
    pub lang: Lang,
}

pub(crate) use crate::printable::escape;

/// Builds the whole page.
pub fn index_html(input: &PageInput) -> String {
    let mut h = String::with_capacity(4096 + input.entries.len() * 3000);
    let e = escape;
    let mut by_status: BTreeMap<Status, usize> = BTreeMap::new();
    for x in input.entries {
        *by_status.entry(input.records[x.index].status).or_default() += 1;
    }
    // "To decide" is the rule of the scan's console ("cần kiểm tra N") and `tally --final`;
    // every other flagged page (a counted ballot with a note, a blank one, a copy, a rejected
    // file) is listed for information and counted apart.
    let to_decide = to_decide(input.records, input.entries);
    let for_information = input.entries.len() - to_decide;
    let counts: Vec<String> = by_status
        .iter()
        .map(|(s, n)| {
            format!(
                "{n} {}",
                text(input.lang, &format!("status.{}", s.as_str()), &[])
            )
        })
        .collect();
    let lang = input.lang;
    let dir = e(input.scan_dir);
    let total = input.entries.len();
    let legend = format!(
        "<span class=\"legend\"><span class=\"m\">{}</span><span class=\"a\">{}</span><span class=\"e\">{}</span></span>",
        text(lang, "review.legend_marked", &[]),
        text(lang, "review.legend_ambiguous", &[]),
        text(lang, "review.legend_empty", &[])
    );
    // The script's own sentences, as JSON it reads at start; `<` escaped so no text can
    // close the script element.
    let js_text: BTreeMap<&str, String> = [
        "js_decided",
        "js_kept",
        "js_not_kept",
        "js_need_name",
        "js_exported",
        "js_shown",
        "js_more",
        "js_empty_box",
        "legend_marked",
        "legend_ambiguous",
        "legend_empty",
    ]
    .into_iter()
    .map(|k| (k, text(lang, &format!("review.{k}"), &[])))
    .collect();
    let js_text = serde_json::to_string(&js_text)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{CSS}</style>
<noscript><style>section.ballot[hidden] {{ display: block; }}</style></noscript>
</head>
<body data-scan="{key}" data-header="{header}" data-whole="{whole}" data-total="{total}" data-no-unit="{NO_UNIT}" data-chunk="{CHUNK}" data-empty="{empty_at}">
<script type="application/json" id="text">{js_text}</script>
<header class="top">
<h1>{heading}</h1>
<div class="tools">
<label>{auditor} <input id="auditor" type="text" autocomplete="name" placeholder="{auditor_placeholder}"></label>
<button id="export" type="button">{export}</button>
<span id="status">{to_review}</span>
</div>
{filters}</header>
<main>
<noscript><p class="warn">{noscript}</p></noscript>
<p class="help">{help}</p>
<p class="keys">{keys}</p>
"#,
        code = lang.code(),
        title = text(lang, "review.title", &[("dir", &dir)]),
        heading = text(lang, "review.heading", &[("dir", &dir)]),
        auditor = text(lang, "review.auditor", &[]),
        auditor_placeholder = text(lang, "review.auditor_placeholder", &[]),
        export = text(lang, "review.export", &[]),
        to_review = text(
            lang,
            "review.to_decide",
            &[("todo", &to_decide), ("info", &for_information)]
        ),
        noscript = text(lang, "review.noscript", &[]),
        keys = text(lang, "review.keys", &[]),
        filters = filters(input),
        help = text(
            lang,
            "review.help",
            &[
                ("todo", &to_decide),
                ("info", &for_information),
                ("counts", &e(&counts.join(", "))),
                ("legend", &legend),
                ("empty", &decimal(lang, input.thresholds.empty, 3)),
                ("marked", &decimal(lang, input.thresholds.marked, 3)),
            ]
        ),
        key = e(input.scan_key),
        empty_at = decimal(lang, input.thresholds.empty, 3),
        header = e(&DECISIONS_HEADER.join(",")),
        whole = e(WHOLE_BALLOT),
    );
    forms_legend(&mut h, input);
    // Manual entry's lists (review/keyed.rs).
    super::keyed::templates(&mut h, input);
    let _ = writeln!(
        h,
        "<template id=\"t-verdict\"><option value=\"{}\">{}</option><option value=\"{}\">{}</option></template>",
        Decision::Accept,
        text(lang, "review.verdict_accept", &[]),
        Decision::Reject,
        text(lang, "review.verdict_reject", &[]),
    );
    let _ = writeln!(
        h,
        "<section id=\"orphans\" hidden><h2>{}</h2><p class=\"help\">{}</p><ul></ul><button id=\"forget\" type=\"button\">{}</button></section>",
        text(lang, "review.orphans_heading", &[]),
        text(lang, "review.orphans_help", &[]),
        text(lang, "review.orphans_forget", &[]),
    );
    for (rank, entry) in input.entries.iter().enumerate() {
        ballot_card(&mut h, input, rank + 1, entry);
    }
    // Shown by page.js while cards matching the filters are still hidden. There is no "show
    // all": laying out 5,000 cards at once takes a browser a minute (BENCHMARKS.md); the
    // filters narrow the list instead.
    let _ = writeln!(
        h,
        "<div id=\"more\" class=\"more\" hidden><button id=\"show-more\" type=\"button\"></button></div>"
    );
    comments_section(&mut h, input);
    let _ = write!(h, "</main>\n<script>\n{JS}</script>\n</body>\n</html>\n");
    h
}

/// The filters above the cards: by status, unit and reason, and "to decide" against "for
/// information". Each choice lists what the listed ballots carry, with its count (page.js keeps
/// the counts current as the other filters change); a card matches by its `st-` class,
/// `data-unit`, `data-reasons` and `data-todo`.
fn filters(input: &PageInput) -> String {
    let e = escape;
    let lang = input.lang;
    let records = input.records;
    let mut statuses: BTreeMap<Status, usize> = BTreeMap::new();
    let mut units: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<&str, (Reason, usize)> = BTreeMap::new();
    for x in input.entries {
        let r = &records[x.index];
        *statuses.entry(r.status).or_default() += 1;
        *units
            .entry(r.payload.as_ref().map_or("", |p| p.unit.as_str()))
            .or_default() += 1;
        for code in &r.reasons {
            reasons.entry(code.as_str()).or_insert((*code, 0)).1 += 1;
        }
    }
    let option = |value: &str, label: &str, title: &str, n: usize| {
        let title = if title.is_empty() {
            String::new()
        } else {
            format!(" title=\"{}\"", e(title))
        };
        format!(
            "<option value=\"{v}\" data-label=\"{l}\"{title}>{l} ({n})</option>",
            v = e(value),
            l = e(label)
        )
    };
    let all = text(lang, "review.filter_all", &[]);
    let total = input.entries.len();
    let select = |id: &str, label_key: &str, options: Vec<String>| {
        format!(
            "<label>{} <select id=\"{id}\">{}{}</select></label>",
            text(lang, label_key, &[]),
            option("", &all, "", total),
            options.concat()
        )
    };
    let status_options = statuses
        .iter()
        .map(|(s, n)| {
            option(
                s.as_str(),
                &text(lang, &format!("status.{}", s.as_str()), &[]),
                "",
                *n,
            )
        })
        .collect();
    // Units of the registry in its order, then codes it does not know, then pages without a
    // unit (no QR code read).
    let mut unit_order = input
        .registry
        .in_order(units.keys().copied().filter(|c| !c.is_empty()));
    if units.contains_key("") {
        unit_order.push("");
    }
    // Pages without a unit are chosen by NO_UNIT: "" is "every unit".
    let unit_options = unit_order
        .iter()
        .map(|&code| {
            let n = units.get(code).copied().unwrap_or_default();
            let label = match input.registry.get(code) {
                Some(u) => format!("{code} · {}", u.name),
                None if code.is_empty() => text(lang, "review.filter_no_unit", &[]),
                None => format!("{code} · {}", text(lang, "review.not_in_registry", &[])),
            };
            option(if code.is_empty() { NO_UNIT } else { code }, &label, "", n)
        })
        .collect();
    let reason_options = reasons
        .iter()
        .map(|(code, (reason, n))| option(code, code, &crate::i18n::reason(lang, *reason), *n))
        .collect();
    let todo = to_decide(records, input.entries);
    let todo_options = vec![
        option("1", &text(lang, "review.filter_to_decide", &[]), "", todo),
        option(
            "0",
            &text(lang, "review.filter_for_information", &[]),
            "",
            total - todo,
        ),
    ];
    format!(
        "<div class=\"filters\" id=\"filters\">{}{}{}{}<label><input type=\"checkbox\" id=\"f-scores\"> {}</label><span id=\"shown\"></span></div>\n",
        select("f-todo", "review.filter_which", todo_options),
        select("f-status", "review.filter_status", status_options),
        select("f-unit", "review.filter_unit", unit_options),
        select("f-reason", "review.filter_reason", reason_options),
        text(lang, "review.show_scores", &[]),
    )
}

/// How many of the listed pages wait for a decision ([`crate::audit::waiting_for_decision`]).
pub(crate) fn to_decide(records: &[PageRecord], entries: &[Entry]) -> usize {
    entries
        .iter()
        .filter(|x| crate::audit::waiting_for_decision(&records[x.index]))
        .count()
}

/// The questions and options of each form, and one `<template>` per question with its
/// option list (copied into a ballot's `<select>` when the ballot is shown).
fn forms_legend(h: &mut String, input: &PageInput) {
    let e = escape;
    let lang = input.lang;
    for (fi, form) in input.forms.iter().enumerate() {
        let _ = write!(
            h,
            "<details class=\"forms\"><summary>{}</summary><ol>",
            text(
                lang,
                "review.form_legend",
                &[("form", &e(&form.id)), ("version", &form.version)]
            )
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
        for q in form.questions.iter().filter(|q| q.is_choice()) {
            // The name of every answer list of this question (aria-labelledby): once per form
            // rather than once per ballot.
            let _ = write!(
                h,
                "<span hidden id=\"l-{}\">{}</span>",
                e(&template_id(fi, &q.id)),
                e(&text(lang, "review.answer_to", &[("question", &q.text)]))
            );
            let _ = write!(h, "<template id=\"t-{}\">", e(&template_id(fi, &q.id)));
            for o in &q.options {
                // data-l: the label page.js writes under the option's box in each crop.
                let _ = write!(
                    h,
                    "<option value=\"{id}\" data-l=\"{label}\">{id} · {label}</option>",
                    id = e(&o.id),
                    label = e(&o.label)
                );
            }
            // The values are what decisions.csv carries (crate::audit::Decision).
            let _ = write!(
                h,
                "<option value=\"{}\">{}</option>",
                Decision::Blank,
                text(lang, "review.option_blank", &[])
            );
            if q.kind == QuestionKind::Single {
                let _ = write!(
                    h,
                    "<option value=\"{}\">{}</option>",
                    Decision::Multi,
                    text(lang, "review.option_multi", &[])
                );
            }
            h.push_str("</template>\n");
        }
    }
}

/// A writing area's line in a ballot's card: its verdict, and the comment's image when
/// something is written.
fn comment_line(
    h: &mut String,
    q: &crate::form::Question,
    unit: &str,
    serial: &str,
    answer: Option<&Answer>,
    lang: Lang,
) {
    let e = escape;
    let verdict = answer.map_or_else(|| text(lang, "review.not_read", &[]), Answer::to_text);
    let _ = write!(
        h,
        "<div class=\"q comment\"><span class=\"qid\">{}</span><span class=\"read\">{}</span>",
        e(&q.id),
        e(&verdict)
    );
    if answer == Some(&Answer::Written) {
        let file = crate::comments::file_name(unit, serial, &q.id);
        let _ = write!(
            h,
            " <a href=\"../{dir}/{f}\" target=\"_blank\">{f}</a>",
            dir = crate::comments::DIR,
            f = e(&file)
        );
    }
    h.push_str("</div>\n");
}

/// Every comment written on the scan's ballots, by unit (registry order), each as its image
/// for a person to read. A comment decides nothing; it is listed whatever the ballot's status,
/// once per ballot (a copy of a file shows the same comment).
fn comments_section(h: &mut String, input: &PageInput) {
    let e = escape;
    let lang = input.lang;
    let mut by_unit: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in input.records {
        let Some(p) = &r.payload else { continue };
        for q in r.questions.iter().filter(|q| q.answer == Answer::Written) {
            let file = crate::comments::file_name(&p.unit, &p.serial_text(), &q.question);
            if seen.insert(file.clone()) {
                by_unit
                    .entry(p.unit.as_str())
                    .or_default()
                    .push((p.serial_text(), file));
            }
        }
    }
    for list in by_unit.values_mut() {
        list.sort();
    }
    let total: usize = by_unit.values().map(Vec::len).sum();
    let _ = writeln!(
        h,
        "<section class=\"comments\" id=\"comments\">\n<h2>{}</h2>",
        text(lang, "review.comments_heading", &[("total", &total)])
    );
    if total == 0 {
        let _ = writeln!(h, "<p>{}</p>", text(lang, "review.comments_none", &[]));
    }
    // Registry units in registry order, then codes not in the registry.
    for unit in input.registry.in_order(by_unit.keys().copied()) {
        let Some(list) = by_unit.get(unit) else {
            continue;
        };
        let name = input
            .registry
            .get(unit)
            .map_or(String::new(), |u| u.name.clone());
        let _ = writeln!(
            h,
            "<h3>{} <small>{}</small> · {}</h3>\n<div class=\"comment-list\">",
            e(unit),
            e(&name),
            text(lang, "review.comments_count", &[("n", &list.len())])
        );
        for (serial, file) in list {
            let _ = writeln!(
                h,
                "<figure><a href=\"../{dir}/{f}\" target=\"_blank\"><img loading=\"lazy\" src=\"../{dir}/{f}\" alt=\"{alt}\"></a><figcaption>{u} · {s}</figcaption></figure>",
                dir = crate::comments::DIR,
                f = e(file),
                alt = e(&text(
                    lang,
                    "review.comment_alt",
                    &[("unit", &unit), ("serial", &serial)]
                )),
                u = e(unit),
                s = e(serial),
            );
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

/// A crop's boxes for page.js (`data-b`): per box `option x y w h fill state` (pixels from
/// the crop's corner, the fill score as in answers.csv, `m` marked, `a` ambiguous, `e` empty),
/// boxes joined by `|`. Short, because a page carries thousands of them.
fn crop_boxes(c: &super::Crop) -> String {
    let mut out = String::new();
    for (k, b) in c.boxes.iter().enumerate() {
        let state = match b.state {
            MarkState::Marked => 'm',
            MarkState::Ambiguous => 'a',
            MarkState::Empty => 'e',
        };
        let _ = write!(
            out,
            "{}{} {} {} {} {} {} {state}",
            if k == 0 { "" } else { "|" },
            b.option,
            b.x,
            b.y,
            b.w,
            b.h,
            b.fill
        );
    }
    out
}

/// Whether `name` can stand unquoted in a CSS `url()` and an HTML attribute as it is: the
/// names [`super::image_name`] gives (`0007.jpg`) can.
fn css_safe(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

pub(super) fn template_id(form_index: usize, question: &str) -> String {
    format!("f{form_index}-{question}")
}

fn ballot_card(h: &mut String, input: &PageInput, rank: usize, entry: &Entry) {
    let e = escape;
    let lang = input.lang;
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
        "<section class=\"ballot st-{status}\" id=\"b{row}\" data-row=\"{row}\" data-source=\"{source}\" data-page=\"{page}\" data-sha=\"{sha}\" data-form=\"{form}\" data-version=\"{version}\" data-unit=\"{unit}\" data-serial=\"{serial}\" data-todo=\"{todo}\" data-reasons=\"{reasons}\"",
        status = r.status.as_str(),
        // A CR in a file name would reach the script as LF (HTML folds line ends in
        // attributes), and the exported name would no longer be the file's.
        source = e(&r.source).replace('\r', "&#13;"),
        page = r.page,
        sha = e(&r.file_sha256),
        form = e(r.payload.as_ref().map_or("", |p| p.form.as_str())),
        version = r.payload.as_ref().map_or(String::new(), |p| p.version.to_string()),
        unit = e(&unit),
        serial = e(&serial),
        todo = u8::from(crate::audit::waiting_for_decision(r)),
        reasons = e(&Reason::join(&r.reasons, " ")),
    );
    // The image every crop of the card shows (page.css: `.crop` takes it as its background at
    // the image's own 100 DPI, a 7 mm box 28 px). Written here rather than set by the script,
    // so the crops of every card shown are there at once and print; a card that is `hidden`
    // fetches nothing. Only names `review` gives its images (`0007.jpg`) go into the CSS.
    if let Some(i) = img.filter(|i| css_safe(&i.file)) {
        let _ = write!(h, " style=\"--img:url({})\"", i.file);
    }
    if rank > CHUNK {
        h.push_str(" hidden");
    }
    let _ = write!(
        h,
        ">\n<h2>#{rank} <span class=\"src\">{}</span> <small>{}</small></h2>\n<p class=\"meta\"><span class=\"status\" title=\"{}\">{}</span> <span class=\"reasons\">{}</span>",
        e(&r.page_ref()),
        text(lang, "review.row_of", &[("row", &row)]),
        r.status.as_str(),
        text(lang, &format!("status.{}", r.status.as_str()), &[]),
        e(&Reason::join(&r.reasons, "; ")),
    );
    if let Some(p) = &r.payload {
        let name = input
            .registry
            .get(&p.unit)
            .map_or(text(lang, "review.not_in_registry", &[]), |u| {
                u.name.clone()
            });
        let _ = write!(
            h,
            " · {} <b class=\"unit\">{}</b> ({}) · {} <b class=\"serial\">{}</b> · {} {} v{}",
            text(lang, "review.unit", &[]),
            e(&p.unit),
            e(&name),
            text(lang, "review.serial", &[]),
            e(&serial),
            text(lang, "review.form", &[]),
            e(&p.form),
            p.version
        );
    }
    if let (Status::Review, Some(m)) = (r.status, r.min_margin) {
        let _ = write!(
            h,
            " · {}",
            text(
                lang,
                "review.closest_call",
                &[("margin", &decimal(lang, m, 3))]
            )
        );
    }
    if let Some(d) = &r.duplicate_of {
        let _ = write!(
            h,
            " · {}",
            text(lang, "review.copy_of", &[("source", &e(d))])
        );
    }
    h.push_str("</p>\n");
    // Each code with its explanation, in the auditor's language.
    if !r.reasons.is_empty() {
        h.push_str("<ul class=\"why\">");
        for code in &r.reasons {
            let _ = write!(
                h,
                "<li><code>{}</code> {}</li>",
                e(code.as_str()),
                e(&crate::i18n::reason(lang, *code))
            );
        }
        h.push_str("</ul>\n");
    }
    if !r.detail.is_empty() {
        let _ = writeln!(h, "<p class=\"detail\">{}</p>", e(&r.detail));
    }
    for w in &entry.warnings {
        let _ = writeln!(h, "<p class=\"warn\">{}</p>", e(w));
    }
    h.push_str("<div class=\"cols\">\n");
    match img {
        Some(i) => {
            // Lazy where the card starts hidden: page.js makes it eager when it shows the card.
            let _ = writeln!(
                h,
                "<a class=\"scan\" href=\"{f}\" target=\"_blank\"><img {lazy}src=\"{f}\" width=\"{w}\" height=\"{ht}\" alt=\"{alt}\"></a>",
                lazy = if rank > CHUNK { "loading=\"lazy\" " } else { "" },
                f = e(&i.file),
                w = i.width,
                ht = i.height,
                alt = e(&text(lang, "review.scan_alt", &[("page", &r.page_ref())])),
            );
        }
        None => {
            let _ = writeln!(
                h,
                "<div class=\"noimg\">{}</div>",
                text(lang, "review.no_image", &[])
            );
        }
    }
    h.push_str("<div class=\"qs\">\n");
    let form = r
        .form
        .as_ref()
        .and_then(|(id, v)| input.forms.position(id, *v))
        .map(|fi| (fi, &input.forms[fi]));
    // Only the verdict is offered where decisions on answers would change nothing.
    let readable = crate::audit::answers_open_to_decisions(r);
    match form {
        Some((fi, form)) if readable => {
            for q in &form.questions {
                let read = r.questions.iter().find(|x| x.question == q.id);
                if !q.is_choice() {
                    // A comment is read by a person and decides nothing: no answer to choose.
                    comment_line(h, q, &unit, &serial, read.map(|x| &x.answer), lang);
                    continue;
                }
                let (read_text, class) = match read.map(|x| &x.answer) {
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
                    Some(Answer::Written | Answer::Empty | Answer::Unreadable) => {
                        (text(lang, "review.not_a_choice", &[]), "a-none")
                    }
                    None => (text(lang, "review.not_read", &[]), "a-none"),
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
                    let _ = write!(
                        h,
                        "<div class=\"crop\" style=\"width:{}px;height:{}px;background-position:-{}px -{}px\" data-b=\"{}\"></div>",
                        c.w,
                        c.h,
                        c.x,
                        c.y,
                        e(&crop_boxes(c))
                    );
                }
                let _ = writeln!(
                    h,
                    "<span class=\"read {class}\">{}</span><select class=\"ans\" data-q=\"{q}\" data-t=\"{t}\" aria-labelledby=\"l-{t}\"><option value=\"\">{as_read}</option></select></div>",
                    e(&read_text),
                    q = e(&q.id),
                    t = e(&template_id(fi, &q.id)),
                    as_read = text(lang, "review.as_read", &[]),
                );
            }
        }
        Some(_) => {
            let _ = writeln!(h, "<p>{}</p>", text(lang, "review.stays_out", &[]));
        }
        None => {
            let _ = writeln!(h, "<p>{}</p>", text(lang, "review.no_form", &[]));
        }
    }
    // A page that could not be read as a ballot may be keyed by hand (review/keyed.rs).
    if crate::audit::can_be_keyed(r) {
        super::keyed::form(h, input, r);
    }
    // The verdicts themselves come from the page's one <template id="t-verdict"> (page.js
    // copies them in when the ballot is shown), like the answers' option lists.
    let _ = writeln!(
        h,
        "<div class=\"verdict-row\"><select class=\"verdict\" data-t=\"verdict\" aria-label=\"{}\"><option value=\"\">{}</option></select><input class=\"note\" type=\"text\" placeholder=\"{}\" aria-label=\"{}\"></div>",
        text(lang, "review.verdict_label", &[]),
        text(lang, "review.verdict_none", &[]),
        text(lang, "review.note_placeholder", &[]),
        text(lang, "review.note_label", &[]),
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
    fn comments_are_listed_by_unit_in_registry_order_once_each_as_image_files() {
        use crate::ballot::QuestionRead;
        use crate::payload::Payload;
        let page = |unit: &str, serial: u32, answer: Answer| {
            let mut r = PageRecord::new("x.png", 1);
            r.status = Status::Counted;
            r.payload = Some(Payload::new("CSAT", 2, unit, serial));
            r.questions = vec![QuestionRead {
                question: "comment".into(),
                answer,
                boxes: Vec::new(),
                review_reason: None,
            }];
            r
        };
        let records = vec![
            page("P-MAYTO", 7, Answer::Written),
            page("P-ANBIEN", 9, Answer::Written),
            page("P-ANBIEN", 3, Answer::Written),
            page("P-ANBIEN", 3, Answer::Written), // the same ballot scanned twice
            page("P-ANBIEN", 4, Answer::Empty),
        ];
        let registry = Registry::default_units();
        let forms = Forms::from(crate::form::Form::standard_forms());
        let html = index_html(&PageInput {
            scan_dir: "out",
            scan_key: "k",
            records: &records,
            entries: &[],
            forms: &forms,
            registry: &registry,
            thresholds: Thresholds::default(),
            lang: Lang::En,
        });
        let section = &html[html.find("<section class=\"comments\"").expect("a section")..];
        assert!(section.contains("Comments written on the ballots (3)"));
        let at = |f: &str| {
            section
                .find(&format!("src=\"../comments/{f}\""))
                .unwrap_or_else(|| panic!("{f} not listed"))
        };
        // P-ANBIEN comes before P-MAYTO in the registry; serials in order within a unit.
        assert!(at("P-ANBIEN-000003-comment.png") < at("P-ANBIEN-000009-comment.png"));
        assert!(at("P-ANBIEN-000009-comment.png") < at("P-MAYTO-000007-comment.png"));
        assert_eq!(section.matches("P-ANBIEN-000003-comment.png\"").count(), 2); // link + img
        assert!(!section.contains("000004"));
    }

    #[test]
    fn only_plain_image_names_go_into_the_css() {
        assert!(css_safe("0007.jpg") && css_safe("12345.jpg"));
        for bad in ["", "a b.jpg", "x).jpg", "x\".jpg", "x;y.jpg", "../x.jpg"] {
            assert!(!css_safe(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_script_cannot_be_closed_early() {
        assert!(!JS.contains("</script"));
        assert!(!CSS.contains("</style"));
    }
}
