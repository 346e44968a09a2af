//! `ketqua.xlsx`: the tally as an Excel workbook for the office that keeps the numbers.
//!
//! Built from the same summary as report.html and from the very CSV bytes written beside it
//! (tallies, reconciliation, audit trail), so the workbook cannot disagree with the CSVs. Sheet
//! names, headings and labels come from the catalogue; ids stay in their own columns.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet};

use crate::i18n::{text, Lang};
use crate::output::unneutralise;
use crate::printable::{standing_words, ReportInfo};
use crate::registry::Registry;
use crate::tally::{ranks, wilson, Standing, Summary, Z95};

/// What the workbook is made of besides the report's information.
pub struct WorkbookInput<'a> {
    pub info: &'a ReportInfo<'a>,
    pub summary: &'a Summary,
    pub registry: &'a Registry,
    /// The bytes of tallies.csv, reconciliation.csv (when issued.csv was given) and
    /// audit-trail.csv as written in this run.
    pub tallies_csv: &'a [u8],
    pub reconciliation_csv: Option<&'a [u8]>,
    pub trail_csv: &'a [u8],
}

struct Formats {
    header: Format,
    percent: Format,
    wrap: Format,
    bold: Format,
}

fn xl(e: rust_xlsxwriter::XlsxError) -> anyhow::Error {
    anyhow::Error::msg(crate::i18n::Msg::new(
        "workbook_error.cannot_build",
        &[("error", &e)],
    ))
}

/// Parses CSV bytes written by [`crate::output::CsvTable`] (BOM, header) into rows of cells.
fn csv_rows(bytes: &[u8]) -> anyhow::Result<(Vec<String>, Vec<Vec<String>>)> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut r = csv::Reader::from_reader(bytes);
    let header = r.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        rows.push(rec?.iter().map(|c| unneutralise(c).to_string()).collect());
    }
    Ok((header, rows))
}

/// A column heading for a CSV header id: the catalogue's words when it has them.
fn heading(lang: Lang, id: &str) -> String {
    crate::_rust_i18n_try_translate(lang.code(), format!("workbook.col_{id}"))
        .map_or_else(|| id.to_string(), |c| c.into_owned())
}

fn header_row(
    ws: &mut Worksheet,
    f: &Formats,
    cells: &[String],
    widths: &[f64],
) -> anyhow::Result<()> {
    for (c, (h, w)) in cells.iter().zip(widths).enumerate() {
        ws.write_string_with_format(0, c as u16, h, &f.header)
            .map_err(xl)?;
        ws.set_column_width(c as u16, *w).map_err(xl)?;
    }
    ws.set_row_height(0, 32).map_err(xl)?;
    ws.set_freeze_panes(1, 0).map_err(xl)?;
    Ok(())
}

/// A cell that is a whole number in the CSV is a number in the workbook.
fn write_cell(ws: &mut Worksheet, row: u32, col: u16, cell: &str) -> anyhow::Result<()> {
    match cell.parse::<u64>() {
        Ok(n) if !cell.starts_with('0') || cell == "0" => {
            ws.write_number(row, col, n as f64).map_err(xl)?;
        }
        _ => {
            ws.write_string(row, col, cell).map_err(xl)?;
        }
    }
    Ok(())
}

/// A CSV copied to its own sheet: ids and numbers unchanged, headings in the language.
fn csv_sheet(
    wb: &mut Workbook,
    f: &Formats,
    lang: Lang,
    name: &str,
    bytes: &[u8],
) -> anyhow::Result<()> {
    let (header, rows) = csv_rows(bytes)?;
    let ws = wb.add_worksheet();
    ws.set_name(name).map_err(xl)?;
    let headings: Vec<String> = header.iter().map(|h| heading(lang, h)).collect();
    let widths: Vec<f64> = header
        .iter()
        .enumerate()
        .map(|(c, h)| {
            let longest = rows
                .iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max();
            (longest
                .unwrap_or(0)
                .max(heading(lang, h).chars().count().min(24)) as f64
                + 2.0)
                .clamp(8.0, 60.0)
        })
        .collect();
    header_row(ws, f, &headings, &widths)?;
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            write_cell(ws, r as u32 + 1, c as u16, cell)?;
        }
    }
    Ok(())
}

/// `ketqua.xlsx` as bytes.
pub fn ketqua_xlsx(input: &WorkbookInput) -> anyhow::Result<Vec<u8>> {
    let info = input.info;
    let lang = info.lang;
    let f = Formats {
        header: Format::new()
            .set_bold()
            .set_text_wrap()
            .set_border(FormatBorder::Thin),
        percent: Format::new().set_num_format("0.0%"),
        wrap: Format::new().set_text_wrap(),
        bold: Format::new().set_bold(),
    };
    let mut wb = Workbook::new();
    // The report's date as the file's creation date: the same tally gives the same bytes.
    let d = info.date;
    let created =
        ExcelDateTime::from_ymd(d.year.clamp(1900, 9999) as u16, d.month as u8, d.day as u8)
            .map_err(xl)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(info.title())
            .set_creation_datetime(&created),
    );

    // Information: what the numbers are and whether they are final.
    {
        let ws = wb.add_worksheet();
        ws.set_name(text(lang, "workbook.sheet_info", &[]))
            .map_err(xl)?;
        ws.set_column_width(0, 28).map_err(xl)?;
        ws.set_column_width(1, 90).map_err(xl)?;
        ws.write_string_with_format(0, 0, info.title(), &f.bold)
            .map_err(xl)?;
        let status = if info.pending > 0 {
            format!(
                "{} – {}",
                text(lang, "report.provisional", &[]),
                text(lang, "report.provisional_waiting", &[("n", &info.pending)])
            )
        } else {
            text(lang, "workbook.final", &[])
        };
        let lines = [
            (
                text(lang, "workbook.info_agency", &[]),
                info.agency.to_string(),
            ),
            (
                text(lang, "workbook.info_period", &[]),
                info.period.to_string(),
            ),
            (text(lang, "workbook.info_date", &[]), d.iso()),
            (text(lang, "workbook.info_status", &[]), status),
            (
                text(lang, "workbook.info_threshold", &[]),
                format!("{} %", info.threshold),
            ),
            (
                text(lang, "workbook.info_min_answers", &[]),
                info.min_answers.to_string(),
            ),
            (
                text(lang, "workbook.info_method", &[]),
                text(lang, "workbook.method", &[]),
            ),
        ];
        for (i, (k, v)) in lines.iter().enumerate() {
            ws.write_string_with_format(i as u32 + 2, 0, k, &f.bold)
                .map_err(xl)?;
            ws.write_string_with_format(i as u32 + 2, 1, v, &f.wrap)
                .map_err(xl)?;
        }
    }

    // Summary by unit.
    {
        let ws = wb.add_worksheet();
        ws.set_name(text(lang, "workbook.sheet_summary", &[]))
            .map_err(xl)?;
        let with_returns = input.summary.rows.iter().any(|r| r.returns.is_some());
        let mut cols: Vec<(&str, f64)> = vec![
            ("unit", 12.0),
            ("name", 34.0),
            ("parent", 12.0),
            ("form", 10.0),
            ("version", 10.0),
            ("pages", 9.0),
            ("counted", 9.0),
            ("invalid", 9.0),
            ("review", 9.0),
            ("rejected", 9.0),
            ("duplicate", 9.0),
            ("rated_answers", 11.0),
            ("satisfied_answers", 11.0),
            ("satisfaction_overall", 11.0),
            ("interval_low", 11.0),
            ("interval_high", 11.0),
            ("rank", 9.0),
            ("standing", 28.0),
        ];
        if with_returns {
            cols.extend([("issued", 9.0), ("returned", 9.0), ("return_rate", 11.0)]);
        }
        let headings: Vec<String> = cols.iter().map(|(id, _)| heading(lang, id)).collect();
        let widths: Vec<f64> = cols.iter().map(|c| c.1).collect();
        header_row(ws, &f, &headings, &widths)?;
        let rank = ranks(input.summary, info.min_answers);
        for (i, r) in input.summary.rows.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write_string(row, 0, &r.unit).map_err(xl)?;
            let name = if r.unit.is_empty() {
                text(lang, "report.no_identity", &[])
            } else if input.registry.get(&r.unit).is_none() {
                text(lang, "report.not_in_registry", &[])
            } else {
                r.name.clone()
            };
            ws.write_string(row, 1, name).map_err(xl)?;
            ws.write_string(row, 2, &r.parent).map_err(xl)?;
            let (form, version) = crate::tally::forms_cells(&r.forms);
            ws.write_string(row, 3, form).map_err(xl)?;
            ws.write_string(row, 4, version).map_err(xl)?;
            for (c, v) in [
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
                ws.write_number(row, c as u16 + 5, v as f64).map_err(xl)?;
            }
            ws.write_number(row, 11, r.overall.1 as f64).map_err(xl)?;
            ws.write_number(row, 12, r.overall.0 as f64).map_err(xl)?;
            if r.overall.1 > 0 {
                ws.write_number_with_format(
                    row,
                    13,
                    r.overall.0 as f64 / r.overall.1 as f64,
                    &f.percent,
                )
                .map_err(xl)?;
            }
            if let Some((lo, hi)) = wilson(r.overall.0, r.overall.1, Z95) {
                ws.write_number_with_format(row, 14, lo, &f.percent)
                    .map_err(xl)?;
                ws.write_number_with_format(row, 15, hi, &f.percent)
                    .map_err(xl)?;
            }
            if let Some(k) = rank.get(&r.unit) {
                ws.write_number(row, 16, *k as f64).map_err(xl)?;
            }
            if !r.unit.is_empty() {
                let standing = Standing::of(r.overall, info.threshold, info.min_answers);
                let (mark, words) = standing_words(lang, standing);
                let cell = if mark.is_empty() {
                    words
                } else {
                    format!("{mark} {words}")
                };
                ws.write_string(row, 17, cell).map_err(xl)?;
            }
            if with_returns {
                let (issued, returned) = r.returns.unwrap_or((0, 0));
                ws.write_number(row, 18, issued as f64).map_err(xl)?;
                ws.write_number(row, 19, returned as f64).map_err(xl)?;
                if issued > 0 {
                    ws.write_number_with_format(
                        row,
                        20,
                        returned as f64 / issued as f64,
                        &f.percent,
                    )
                    .map_err(xl)?;
                }
            }
        }
    }

    // Tallies with the question's text and the option's label beside the ids.
    {
        let (_, rows) = csv_rows(input.tallies_csv)?;
        let ws = wb.add_worksheet();
        ws.set_name(text(lang, "workbook.sheet_tallies", &[]))
            .map_err(xl)?;
        let cols = [
            ("unit", 12.0),
            ("name", 30.0),
            ("form", 10.0),
            ("version", 10.0),
            ("question", 9.0),
            ("question_text", 60.0),
            ("option", 9.0),
            ("option_label", 24.0),
            ("count", 9.0),
        ];
        let headings: Vec<String> = cols.iter().map(|(id, _)| heading(lang, id)).collect();
        let widths: Vec<f64> = cols.iter().map(|c| c.1).collect();
        header_row(ws, &f, &headings, &widths)?;
        // tallies.csv already carries the text and label beside the ids (TALLIES_HEADER).
        for (i, row) in rows.iter().enumerate() {
            let [unit, form, version, qid, question_text, opt, label, count] = row.as_slice()
            else {
                anyhow::bail!(crate::i18n::Msg::new(
                    "workbook_error.tallies_row",
                    &[("line", &(i + 2)), ("cells", &row.len())],
                ));
            };
            let r = i as u32 + 1;
            ws.write_string(r, 0, unit).map_err(xl)?;
            ws.write_string(
                r,
                1,
                input.registry.get(unit).map_or("", |u| u.name.as_str()),
            )
            .map_err(xl)?;
            ws.write_string(r, 2, form).map_err(xl)?;
            ws.write_string(r, 3, version).map_err(xl)?;
            ws.write_string(r, 4, qid).map_err(xl)?;
            ws.write_string_with_format(r, 5, question_text, &f.wrap)
                .map_err(xl)?;
            ws.write_string(r, 6, opt).map_err(xl)?;
            ws.write_string(r, 7, label).map_err(xl)?;
            write_cell(ws, r, 8, count)?;
        }
    }

    if let Some(bytes) = input.reconciliation_csv {
        csv_sheet(
            &mut wb,
            &f,
            lang,
            &text(lang, "workbook.sheet_reconciliation", &[]),
            bytes,
        )?;
    }

    if !info.comments.is_empty() {
        let ws = wb.add_worksheet();
        ws.set_name(text(lang, "workbook.sheet_comments", &[]))
            .map_err(xl)?;
        let cols = [
            ("unit", 12.0),
            ("name", 30.0),
            ("serial", 10.0),
            ("question", 9.0),
            ("question_text", 40.0),
            ("file", 40.0),
        ];
        let headings: Vec<String> = cols.iter().map(|(id, _)| heading(lang, id)).collect();
        let widths: Vec<f64> = cols.iter().map(|c| c.1).collect();
        header_row(ws, &f, &headings, &widths)?;
        let questions = info.questions();
        for (i, c) in info.comments.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_string(r, 0, &c.unit).map_err(xl)?;
            ws.write_string(
                r,
                1,
                input.registry.get(&c.unit).map_or("", |u| u.name.as_str()),
            )
            .map_err(xl)?;
            ws.write_string(r, 2, &c.serial).map_err(xl)?;
            ws.write_string(r, 3, &c.question).map_err(xl)?;
            let qt = questions
                .iter()
                .find(|(_, q)| q.id == c.question)
                .map_or("", |(_, q)| q.text.as_str());
            ws.write_string(r, 4, qt).map_err(xl)?;
            ws.write_string(r, 5, &c.file).map_err(xl)?;
        }
    }

    csv_sheet(
        &mut wb,
        &f,
        lang,
        &text(lang, "workbook.sheet_trail", &[]),
        input.trail_csv,
    )?;

    wb.save_to_buffer().map_err(xl)
}
