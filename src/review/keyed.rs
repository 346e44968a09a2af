//! The review page's manual entry ("Nhập tay"): on the card of a page the scanner could not
//! read as a ballot ([`crate::audit::can_be_keyed`]: no QR code, no alignment…), a small form
//! where the auditor keys the ballot's form, unit, serial and answers from the image. page.js
//! (its "Manual entry" section) keeps them with the page's other decisions and exports them as
//! a `KEYED` row and one row per question ([`crate::audit::Decision::Keyed`]), which `tally`
//! checks before counting the ballot as `keyed`.
//!
//! The form stays closed until opened, and is a `<template>` copied in only then (with the
//! units' and each question's option lists), so each unreadable page costs one line of the
//! page whatever the forms and registry.

use std::fmt::Write;

use crate::audit::{Decision, KEYED};
use crate::i18n::text;
use crate::scan::PageRecord;

use super::page::{escape, template_id, PageInput};

/// The id (after `t-`) of the units' template, as the unit select's `data-t` names it.
const UNITS_TEMPLATE: &str = "k-units";

/// The value of a form in the form select and of its block of questions: `id|version`.
fn form_value(id: &str, version: u32) -> String {
    format!("{id}|{version}")
}

/// The form's parts, written once for the page as `<template>`s (page.js copies them into a
/// card's form when it is opened): the units of the registry (code and name, in registry order)
/// with the script's words for manual entry, and the form itself — form, unit and serial, then
/// one block of questions per form (the chosen form's shown), each question's options coming
/// from its form's template. Written only when a listed page can be keyed.
pub(super) fn templates(h: &mut String, input: &PageInput) {
    let keyable = input
        .entries
        .iter()
        .any(|x| crate::audit::can_be_keyed(&input.records[x.index]));
    if !keyable {
        return;
    }
    let e = escape;
    let lang = input.lang;
    let choose = text(lang, "review_keyed.choose", &[]);
    let _ = write!(
        h,
        "<template id=\"t-{UNITS_TEMPLATE}\" data-keyed=\"{keyed}\" data-unfinished=\"{unfinished}\">",
        keyed = e(KEYED),
        unfinished = e(&text(lang, "review_keyed.js_unfinished", &[])),
    );
    for u in &input.registry.units {
        let _ = write!(
            h,
            "<option value=\"{}\">{} · {}</option>",
            e(&u.code),
            e(&u.code),
            e(&u.name)
        );
    }
    let _ = write!(
        h,
        "</template>\n<template id=\"t-k-form\"><p class=\"k-help\">{help}</p><div class=\"k-id\"><label>{form_label} <select class=\"k-form\"><option value=\"\">{choose}</option>",
        help = text(lang, "review_keyed.help", &[("keyed", &KEYED)]),
        form_label = text(lang, "review_keyed.form", &[]),
    );
    for f in input.forms.iter() {
        let _ = write!(
            h,
            "<option value=\"{}\">{} v{}</option>",
            e(&form_value(&f.id, f.version)),
            e(&f.id),
            f.version
        );
    }
    let _ = write!(
        h,
        "</select></label> <label>{unit_label} <select class=\"k-unit\" data-t=\"{UNITS_TEMPLATE}\"><option value=\"\">{choose}</option></select></label> <label>{serial_label} <input class=\"k-serial\" type=\"text\" inputmode=\"numeric\" maxlength=\"9\" pattern=\"[0-9]{{1,9}}\"></label></div>",
        unit_label = text(lang, "review_keyed.unit", &[]),
        serial_label = text(lang, "review_keyed.serial", &[]),
    );
    for (fi, f) in input.forms.iter().enumerate() {
        let _ = write!(
            h,
            "<div class=\"k-qs\" data-f=\"{}\" hidden>",
            e(&form_value(&f.id, f.version))
        );
        // Comment areas are read by a person, never counted: nothing to key.
        for q in f.questions.iter().filter(|q| q.is_choice()) {
            let _ = write!(
                h,
                "<label class=\"k-q\" title=\"{title}\"><span class=\"qid\">{id}</span> <select class=\"k-ans\" data-q=\"{id}\" data-t=\"{t}\"><option value=\"\">{choose}</option></select></label>",
                title = e(&q.text),
                id = e(&q.id),
                t = e(&template_id(fi, &q.id)),
            );
        }
        h.push_str("</div>");
    }
    let _ = writeln!(
        h,
        "<button type=\"button\" class=\"k-clear\">{}</button> <small>{}</small></template>",
        text(lang, "review_keyed.clear", &[]),
        text(
            lang,
            "review_keyed.answers",
            &[("blank", &Decision::Blank), ("multi", &Decision::Multi)]
        ),
    );
}

/// The manual-entry form on the card of page `r` (a page that can be keyed), closed: page.js
/// fills it from the page's template when it is opened, with the form preset when the scan
/// folder holds only one or the page's QR code named it, and the unit and serial preset where
/// a QR code was read.
pub(super) fn form(h: &mut String, input: &PageInput, r: &PageRecord) {
    let e = escape;
    let read = r.payload.as_ref();
    let preset = match (read, &input.forms[..]) {
        (Some(p), _) => form_value(&p.form, p.version),
        (None, [only]) => form_value(&only.id, only.version),
        (None, _) => String::new(),
    };
    let _ = writeln!(
        h,
        "<details class=\"keyed\" data-form=\"{form}\" data-unit=\"{unit}\" data-serial=\"{serial}\"><summary>{heading}</summary></details>",
        form = e(&preset),
        unit = e(read.map_or("", |p| p.unit.as_str())),
        serial = read.map_or(String::new(), |p| p.serial_text()),
        heading = text(input.lang, "review_keyed.heading", &[]),
    );
}
