//! The printable report of a tally: `report.html` (one self-contained page a clerk can print)
//! and `satisfaction.png` (a bar chart of the overall satisfaction rate per unit).
//!
//! Drawn from the same [`Summary`] rows as `summary.csv`, so the report and the CSV cannot
//! disagree. No dates or machine names are written: tallying twice gives the same bytes.

use image::{Rgb, RgbImage};

use std::collections::BTreeMap;

use crate::draw;
use crate::fonts::Weight;
use crate::form::Question;
use crate::i18n::{text, Lang};
use crate::tally::{percent, wilson, Standing, Summary, SummaryRow, Z95};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn rate(r: (u64, u64)) -> Option<f64> {
    (r.1 > 0).then(|| r.0 as f64 * 100.0 / r.1 as f64)
}

/// A calendar date, written in the report's own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut it = s.trim().splitn(3, '-');
        let year = it.next()?.parse().ok()?;
        let month: u32 = it.next()?.parse().ok()?;
        let day: u32 = it.next()?.parse().ok()?;
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(Date { year, month, day })
    }

    /// The (UTC) calendar day of `secs` seconds after 1970-01-01 (Hinnant's civil_from_days).
    pub fn from_unix(secs: i64) -> Date {
        let z = secs.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// Today, or the day of `SOURCE_DATE_EPOCH` when set (so a re-run can give the same bytes).
    pub fn today() -> Date {
        let secs = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
        Date::from_unix(secs)
    }

    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A citizen's written comment, kept as an image for a person to read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Comment {
    pub unit: String,
    pub serial: String,
    pub question: String,
    /// Path inside the results folder (`comments/…png`).
    pub file: String,
}

/// Everything the official report says besides the summary itself.
pub struct ReportInfo<'a> {
    pub lang: Lang,
    /// Issuing agency; empty when not known.
    pub agency: &'a str,
    /// Survey period as the clerk wrote it; empty when not given.
    pub period: &'a str,
    pub date: Date,
    /// Satisfaction rate (percent) the units are judged against.
    pub threshold: f64,
    /// Rated answers a unit needs before it is ranked or flagged.
    pub min_answers: u64,
    /// Ballots still waiting for review (review status, undecided duplicate conflicts).
    pub pending: u64,
    /// The questions as the roll-ups count them (`tally::RollupQuestions::questions`): a
    /// question asked differently by two versions of a form is two questions here.
    pub questions: &'a [Question],
    /// (question, option or BLANK/MULTI/REVIEW) → ballots, over the whole batch.
    pub totals: &'a BTreeMap<(String, String), u64>,
    pub comments: &'a [Comment],
}

impl ReportInfo<'_> {
    /// Every question once, in form order, with its 1-based number.
    pub fn questions(&self) -> Vec<(usize, &Question)> {
        self.questions
            .iter()
            .enumerate()
            .map(|(i, q)| (i + 1, q))
            .collect()
    }

    pub fn title(&self) -> String {
        text(self.lang, "report.title", &[])
    }
}

/// A share written the way the report's language writes decimals (50,0 in Vietnamese).
pub fn pct(lang: Lang, part: u64, whole: u64) -> String {
    let p = percent(part, whole);
    localise_decimal(lang, &p)
}

fn localise_decimal(lang: Lang, s: &str) -> String {
    match lang {
        Lang::Vi => s.replace('.', ","),
        Lang::En => s.to_string(),
    }
}

/// "41,2 – 62,0" (percent, one decimal); empty when there are no answers.
pub fn interval_text(lang: Lang, overall: (u64, u64)) -> String {
    match wilson(overall.0, overall.1, Z95) {
        Some((lo, hi)) => localise_decimal(lang, &format!("{:.1} – {:.1}", lo * 100.0, hi * 100.0)),
        None => String::new(),
    }
}

/// The words for a unit's standing, and the marker printed beside it (a symbol, so the
/// highlight survives printing without background colours).
pub fn standing_words(lang: Lang, s: Standing) -> (&'static str, String) {
    match s {
        Standing::NoAnswers => ("", text(lang, "report.standing_no_answers", &[])),
        Standing::TooFew => ("○", text(lang, "report.standing_too_few", &[])),
        Standing::Below => ("▼", text(lang, "report.standing_below", &[])),
        Standing::PossiblyBelow => ("▽", text(lang, "report.standing_possibly_below", &[])),
        Standing::AtOrAbove => ("", text(lang, "report.standing_at_or_above", &[])),
    }
}

/// The name a person reads for a unit code.
pub fn unit_label(lang: Lang, r: &SummaryRow) -> String {
    if r.unit.is_empty() {
        text(lang, "report.no_identity", &[])
    } else if r.name.starts_with('(') {
        format!("{} ({})", r.unit, text(lang, "report.not_in_registry", &[]))
    } else {
        r.name.clone()
    }
}

/// The label of an option id, or of BLANK/MULTI/REVIEW, in the report's language.
pub fn option_label(lang: Lang, q: &Question, id: &str) -> String {
    match id {
        "BLANK" => text(lang, "report.answer_blank", &[]),
        "MULTI" => text(lang, "report.answer_multi", &[]),
        "REVIEW" => text(lang, "report.answer_review", &[]),
        _ => q
            .options
            .iter()
            .find(|o| o.id == id)
            .map_or_else(|| id.to_string(), |o| o.label.clone()),
    }
}

/// `report.html`: the official report of a tally, A4, in the catalogue's words.
pub fn report_html(summary: &Summary, info: &ReportInfo) -> String {
    let lang = info.lang;
    let e = |k: &str| escape(&text(lang, k, &[]));
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\n",
        lang.code()
    ));
    h.push_str(&format!("<title>{}</title>\n", escape(&info.title())));
    h.push_str(
        "<style>
@page{size:A4;margin:20mm 15mm 20mm 25mm}
body{font-family:'DejaVu Sans','Times New Roman',serif;font-size:10.5pt;color:#000;margin:0 auto;max-width:170mm;line-height:1.35}
.head{display:flex;justify-content:space-between;text-align:center;gap:6mm}
.head div{flex:1}.head .agency{font-weight:bold;text-transform:uppercase}
.motto{font-weight:bold}.motto span{font-weight:normal;text-decoration:underline}
.dateline{text-align:right;font-style:italic;margin:3mm 0}
h1{font-size:13pt;text-align:center;margin:6mm 0 1mm}
.sub{text-align:center;margin:0 0 4mm}
h2{font-size:11pt;margin:5mm 0 2mm;page-break-after:avoid}
h3{font-size:10.5pt;margin:3mm 0 1mm;font-weight:normal;page-break-after:avoid}
table{border-collapse:collapse;width:100%;margin:1mm 0 2mm;page-break-inside:auto}
th,td{border:1px solid #000;padding:1mm 1.5mm;text-align:right;vertical-align:top}
th{font-weight:bold;text-align:center}
td.name{text-align:left;min-width:45mm}td.c{text-align:center}
tr{page-break-inside:avoid}
tr.below td{font-weight:bold}tr.below td.mark{font-size:12pt}
tr.possibly td.mark{font-size:12pt}
.provisional{border:2pt solid #000;padding:2mm 3mm;margin:3mm 0;font-weight:bold;text-align:center}
.note{font-size:9pt}
.code{font-size:8pt}
.legend{font-size:9pt;margin:1mm 0 3mm}
.sign{display:flex;justify-content:space-between;margin-top:8mm;text-align:center;page-break-inside:avoid}
.sign div{flex:1}.sign .role{font-weight:bold}.sign .hint{font-style:italic;font-size:9pt}
.sign .space{height:28mm}
img.chart{max-width:100%}
img.comment{max-width:100%;border:1px solid #000;margin:1mm 0}
@media screen{body{margin:2em auto}}
</style></head><body>\n",
    );
    // The letterhead: agency left, national motto right, as official papers have them.
    let agency = if info.agency.is_empty() {
        String::new()
    } else {
        escape(info.agency)
    };
    h.push_str(&format!(
        "<div class=\"head\"><div class=\"agency\">{agency}</div><div class=\"motto\">{}<br><span>{}</span></div></div>\n",
        e("report.motto_nation"),
        e("report.motto_words")
    ));
    let d = info.date;
    h.push_str(&format!(
        "<p class=\"dateline\">{}</p>\n",
        escape(&text(
            lang,
            "report.date_line",
            &[("day", &d.day), ("month", &d.month), ("year", &d.year)]
        ))
    ));
    h.push_str(&format!("<h1>{}</h1>\n", escape(&info.title())));
    let period = if info.period.is_empty() {
        text(lang, "report.period_not_given", &[])
    } else {
        info.period.to_string()
    };
    h.push_str(&format!(
        "<p class=\"sub\">{}</p>\n",
        escape(&text(lang, "report.period", &[("period", &period)]))
    ));
    if info.pending > 0 {
        h.push_str(&format!(
            "<div class=\"provisional\">{}<br>{}</div>\n",
            e("report.provisional"),
            escape(&text(
                lang,
                "report.provisional_waiting",
                &[("n", &info.pending)]
            ))
        ));
    }

    // 1. The ballots behind the numbers.
    let total = summary
        .rows
        .iter()
        .filter(|r| r.depth == 0)
        .fold([0u64; 6], |mut a, r| {
            for (k, v) in [
                r.pages,
                r.counted,
                r.invalid,
                r.review,
                r.rejected,
                r.duplicate,
            ]
            .into_iter()
            .enumerate()
            {
                a[k] += v;
            }
            a
        });
    h.push_str(&format!("<h2>{}</h2>\n", e("report.section_ballots")));
    h.push_str(&format!(
        "<p>{}</p>\n",
        escape(&text(
            lang,
            "report.ballots_line",
            &[
                ("pages", &total[0]),
                ("counted", &total[1]),
                ("invalid", &total[2]),
                ("review", &total[3]),
                ("rejected", &total[4]),
                ("duplicate", &total[5]),
            ]
        ))
    ));
    let with_returns = summary.rows.iter().any(|r| r.returns.is_some());
    h.push_str("<table><tr>");
    h.push_str(&format!("<th>{}</th>", e("report.col_unit")));
    for k in [
        "report.col_pages",
        "status.counted",
        "status.invalid",
        "status.review",
        "status.rejected",
        "status.duplicate",
    ] {
        h.push_str(&format!("<th>{}</th>", e(k)));
    }
    if with_returns {
        for k in [
            "report.col_issued",
            "report.col_returned",
            "report.col_return_rate",
        ] {
            h.push_str(&format!("<th>{}</th>", e(k)));
        }
    }
    h.push_str("</tr>\n");
    for r in &summary.rows {
        h.push_str(&format!(
            "<tr><td class=\"name\" style=\"padding-left:{}mm\">{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            1.5 + 4.0 * r.depth as f64,
            escape(&unit_label(lang, r)),
            // The code too, to find the unit in the CSVs and the workbook.
            if r.unit.is_empty() || r.name.starts_with('(') {
                String::new()
            } else {
                format!(" <span class=\"code\">({})</span>", escape(&r.unit))
            },
            r.pages,
            r.counted,
            r.invalid,
            r.review,
            r.rejected,
            r.duplicate
        ));
        if with_returns {
            let (i, ret) = r.returns.unwrap_or((0, 0));
            h.push_str(&format!(
                "<td>{i}</td><td>{ret}</td><td>{}</td>",
                pct(lang, ret, i)
            ));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");

    // 2. Satisfaction per unit, with what the numbers can and cannot say.
    let ranks = crate::tally::ranks(summary, info.min_answers);
    let threshold = localise_decimal(lang, &format!("{:.0}", info.threshold));
    h.push_str(&format!("<h2>{}</h2>\n", e("report.section_units")));
    h.push_str(&format!(
        "<p class=\"note\">{}</p>\n",
        escape(&text(
            lang,
            "report.method",
            &[("threshold", &threshold), ("min", &info.min_answers)]
        ))
    ));
    h.push_str("<table><tr>");
    for k in [
        "report.col_marker",
        "report.col_unit",
        "report.col_answers",
        "report.col_rate",
        "report.col_interval",
        "report.col_rank",
        "report.col_standing",
    ] {
        h.push_str(&format!("<th>{}</th>", e(k)));
    }
    h.push_str("</tr>\n");
    for r in summary.rows.iter().filter(|r| !r.unit.is_empty()) {
        let standing = Standing::of(r.overall, info.threshold, info.min_answers);
        let (mark, words) = standing_words(lang, standing);
        let class = match standing {
            Standing::Below => " class=\"below\"",
            Standing::PossiblyBelow => " class=\"possibly\"",
            _ => "",
        };
        let rank = ranks.get(&r.unit).map_or(String::new(), |k| k.to_string());
        h.push_str(&format!(
            "<tr{class}><td class=\"c mark\">{mark}</td><td class=\"name\" style=\"padding-left:{}mm\">{}</td><td>{}</td><td>{}</td><td class=\"c\">{}</td><td class=\"c\">{rank}</td><td class=\"name\">{}</td></tr>\n",
            1.5 + 4.0 * r.depth as f64,
            escape(&unit_label(lang, r)),
            r.overall.1,
            pct(lang, r.overall.0, r.overall.1),
            interval_text(lang, r.overall),
            escape(&words)
        ));
    }
    h.push_str("</table>\n");
    h.push_str(&format!(
        "<p class=\"legend\">{}</p>\n",
        escape(&text(lang, "report.legend", &[("threshold", &threshold)]))
    ));
    h.push_str(&format!(
        "<p><img class=\"chart\" src=\"satisfaction.png\" alt=\"{}\"></p>\n",
        e("report.chart_title")
    ));

    // 3. Every question, yes/no ones included, as shares of the counted ballots.
    let questions = info.questions();
    h.push_str(&format!("<h2>{}</h2>\n", e("report.section_questions")));
    for (n, q) in &questions {
        // A written-comment question has no options to count: its images are listed below.
        if q.options.is_empty() {
            continue;
        }
        let ids: Vec<&str> = q
            .options
            .iter()
            .map(|o| o.id.as_str())
            .chain(["BLANK", "MULTI"])
            .collect();
        let count = |id: &str| {
            info.totals
                .get(&(q.id.clone(), id.to_string()))
                .copied()
                .unwrap_or(0)
        };
        let whole: u64 = ids.iter().map(|id| count(id)).sum();
        h.push_str(&format!(
            "<h3><b>{}</b> {}</h3>\n<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>\n",
            escape(&text(lang, "report.question_number", &[("n", n)])),
            escape(&q.text),
            e("report.col_option"),
            e("report.col_ballots"),
            e("report.col_share")
        ));
        for id in &ids {
            let c = count(id);
            if (*id == "BLANK" || *id == "MULTI") && c == 0 {
                continue;
            }
            let sat = q.satisfied.iter().any(|s| s == id);
            h.push_str(&format!(
                "<tr><td class=\"name\">{}{}</td><td>{c}</td><td>{}</td></tr>\n",
                escape(&option_label(lang, q, id)),
                if sat { " ✓" } else { "" },
                pct(lang, c, whole)
            ));
        }
        let waiting = count("REVIEW");
        h.push_str("</table>\n");
        if waiting > 0 {
            h.push_str(&format!(
                "<p class=\"note\">{}</p>\n",
                escape(&text(lang, "report.question_waiting", &[("n", &waiting)]))
            ));
        }
    }
    h.push_str(&format!(
        "<p class=\"legend\">{}</p>\n",
        e("report.satisfied_mark")
    ));

    // 4. Satisfaction per rated question and unit.
    let rated: Vec<(usize, &Question)> = summary
        .rated
        .iter()
        .filter_map(|id| questions.iter().find(|(_, q)| &q.id == id).copied())
        .collect();
    if !rated.is_empty() {
        h.push_str(&format!("<h2>{}</h2>\n", e("report.section_matrix")));
        h.push_str(&format!("<table><tr><th>{}</th>", e("report.col_unit")));
        for (n, _) in &rated {
            h.push_str(&format!(
                "<th>{}</th>",
                escape(&text(lang, "report.question_short", &[("n", n)]))
            ));
        }
        h.push_str(&format!("<th>{}</th></tr>\n", e("report.col_overall")));
        for r in summary.rows.iter().filter(|r| !r.unit.is_empty()) {
            h.push_str(&format!(
                "<tr><td class=\"name\" style=\"padding-left:{}mm\">{}</td>",
                1.5 + 4.0 * r.depth as f64,
                escape(&unit_label(lang, r))
            ));
            for &(a, b) in &r.rates {
                h.push_str(&format!("<td>{}</td>", pct(lang, a, b)));
            }
            h.push_str(&format!(
                "<td><b>{}</b></td></tr>\n",
                pct(lang, r.overall.0, r.overall.1)
            ));
        }
        h.push_str("</table>\n");
        h.push_str(&format!(
            "<p class=\"legend\">{}</p>\n",
            e("report.matrix_note")
        ));
    }

    // 5. Written comments, as images for a person to read.
    if !info.comments.is_empty() {
        h.push_str(&format!("<h2>{}</h2>\n", e("report.section_comments")));
        let mut unit = None;
        for c in info.comments {
            if unit != Some(&c.unit) {
                let name = summary
                    .rows
                    .iter()
                    .find(|r| r.unit == c.unit)
                    .map_or(c.unit.clone(), |r| unit_label(lang, r));
                h.push_str(&format!("<h3><b>{}</b></h3>\n", escape(&name)));
                unit = Some(&c.unit);
            }
            h.push_str(&format!(
                "<p class=\"note\">{}<br><img class=\"comment\" src=\"{}\" alt=\"{}\"></p>\n",
                escape(&text(
                    lang,
                    "report.comment_line",
                    &[("serial", &c.serial), ("question", &c.question)]
                )),
                escape(&c.file),
                escape(&c.file)
            ));
        }
    }

    // The signatures.
    h.push_str(&format!(
        "<div class=\"sign\"><div><div class=\"role\">{}</div><div class=\"hint\">{}</div><div class=\"space\"></div></div><div><div class=\"role\">{}</div><div class=\"hint\">{}</div><div class=\"space\"></div></div></div>\n",
        e("report.sign_preparer"),
        e("report.sign_preparer_hint"),
        e("report.sign_head"),
        e("report.sign_head_hint")
    ));
    h.push_str("</body></html>\n");
    h
}

/// A horizontal bar chart of the overall satisfaction rate per unit, each bar with its 95 %
/// (Wilson) interval as a whisker, and the threshold line.
pub fn satisfaction_chart(summary: &Summary, threshold: f64, lang: Lang) -> RgbImage {
    let rows: Vec<&SummaryRow> = summary.rows.iter().filter(|r| !r.unit.is_empty()).collect();
    let (label_w, bar_w, row_h, top) = (300u32, 560u32, 26u32, 40u32);
    let width = label_w + bar_w + 80;
    let height = top + row_h * rows.len() as u32 + 30;
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let black = Rgb([0, 0, 0]);
    draw_text(
        &mut img,
        10.0,
        24.0,
        16.0,
        &text(lang, "report.chart_title", &[]),
        black,
    );
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as u32 * row_h;
        let label = format!("{}{}", "  ".repeat(r.depth), unit_label(lang, r));
        draw_text(&mut img, 10.0, y as f64 + 18.0, 13.0, &label, black);
        if let Some(v) = rate(r.overall) {
            let len = (v / 100.0 * bar_w as f64).round() as u32;
            let colour = if v < threshold {
                Rgb([197, 48, 48])
            } else {
                Rgb([43, 108, 176])
            };
            draw::fill_rect(&mut img, label_w, y + 5, len, row_h - 10, colour);
            let mut end = label_w + len;
            if let Some((lo, hi)) = wilson(r.overall.0, r.overall.1, Z95) {
                let (x0, x1) = (
                    label_w + (lo * bar_w as f64).round() as u32,
                    label_w + (hi * bar_w as f64).round() as u32,
                );
                let mid = y + row_h / 2;
                draw::fill_rect(
                    &mut img,
                    x0,
                    mid - 1,
                    x1.saturating_sub(x0).max(1),
                    2,
                    black,
                );
                draw::fill_rect(&mut img, x0, mid - 5, 2, 10, black);
                draw::fill_rect(&mut img, x1.saturating_sub(1), mid - 5, 2, 10, black);
                end = end.max(x1);
            }
            draw_text(
                &mut img,
                (end + 6) as f64,
                y as f64 + 18.0,
                12.0,
                &localise_decimal(lang, &format!("{v:.1}")),
                black,
            );
        } else {
            draw_text(
                &mut img,
                label_w as f64,
                y as f64 + 18.0,
                12.0,
                &text(lang, "report.chart_no_answers", &[]),
                Rgb([120, 120, 120]),
            );
        }
    }
    let tx = label_w + (threshold.clamp(0.0, 100.0) / 100.0 * bar_w as f64) as u32;
    for y in (top - 6..height - 24).step_by(6) {
        draw::fill_rect(&mut img, tx, y, 2, 3, black);
    }
    draw_text(
        &mut img,
        tx as f64 - 12.0,
        (height - 8) as f64,
        12.0,
        &format!("{} %", localise_decimal(lang, &format!("{threshold:.0}"))),
        black,
    );
    img
}

/// The chart's text: DejaVu Sans (regular) at `size` pixels per em.
fn draw_text(img: &mut RgbImage, x: f64, baseline: f64, size: f64, s: &str, c: Rgb<u8>) {
    draw::text(img, x, baseline, size, Weight::Regular, c, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_everything_it_prints() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn dates_are_the_calendar_days_python_gives() {
        // datetime.datetime.fromtimestamp(s, datetime.UTC).date() for each s.
        for (secs, iso) in [
            (0, "1970-01-01"),
            (951_782_400, "2000-02-29"),
            (1_764_547_200, "2025-12-01"),
            (1_798_675_199, "2026-12-30"),
        ] {
            assert_eq!(Date::from_unix(secs).iso(), iso);
        }
        assert_eq!(
            Date::parse("2026-11-30"),
            Some(Date {
                year: 2026,
                month: 11,
                day: 30
            })
        );
        assert_eq!(Date::parse("30/11/2026"), None);
        assert_eq!(Date::parse("2026-13-01"), None);
    }
}
