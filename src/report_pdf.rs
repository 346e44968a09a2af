//! `report.pdf`: the official report laid out on A4 and written with krilla and the embedded
//! DejaVu fonts, the same way ballots are, so printing it needs no browser.
//!
//! The same words and numbers as report.html (both are built from [`ReportInfo`] and the
//! summary); the chart stays in the HTML, the PDF carries the intervals in its table.

use crate::draw;
use crate::fonts::{self, Weight};
use crate::geometry::RectMm;
use crate::i18n::text;
use crate::layout::{Shape, TextLine, PAGE_H, PAGE_W};
use crate::printable::{interval_text, option_label, pct, standing_words, unit_label, ReportInfo};
use crate::tally::{ranks, Standing, Summary};

/// Margins in millimetres, as in report.html's `@page` (left wider for binding).
pub const MARGIN_LEFT: f64 = 25.0;
pub const MARGIN_RIGHT: f64 = 15.0;
pub const MARGIN_TOP: f64 = 20.0;
pub const MARGIN_BOTTOM: f64 = 20.0;
const WIDTH: f64 = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT;
const LINE: f64 = 0.25;
const PAD: f64 = 1.2;

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Centre,
    Right,
}

struct Flow {
    pages: Vec<Vec<Shape>>,
    y: f64,
}

/// Greedy wrap that never fails: a word wider than the line is cut by characters.
fn wrap(s: &str, size: f64, weight: Weight, width: f64) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in s.split_whitespace() {
        if fonts::text_width_mm(w, size, weight) <= width {
            words.push(w.to_string());
            continue;
        }
        let mut piece = String::new();
        for c in w.chars() {
            piece.push(c);
            if fonts::text_width_mm(&piece, size, weight) > width && piece.chars().count() > 1 {
                piece.pop();
                words.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        if !piece.is_empty() {
            words.push(piece);
        }
    }
    draw::wrap(words.iter().map(String::as_str), width, |l| {
        fonts::text_width_mm(l, size, weight)
    })
}

fn line_height(size: f64) -> f64 {
    size * fonts::MM_PER_PT * 1.3
}

impl Flow {
    fn new() -> Flow {
        Flow {
            pages: vec![Vec::new()],
            y: MARGIN_TOP,
        }
    }

    fn page(&mut self) -> &mut Vec<Shape> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let n = self.pages.len() - 1;
        &mut self.pages[n]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN_TOP;
    }

    /// Starts a new page unless `h` millimetres still fit on this one.
    fn need(&mut self, h: f64) {
        if self.y + h > PAGE_H - MARGIN_BOTTOM && self.y > MARGIN_TOP {
            self.new_page();
        }
    }

    fn text_at(&mut self, x: f64, baseline: f64, size: f64, weight: Weight, s: &str) {
        let w = fonts::text_width_mm(s, size, weight);
        let (a, d) = (
            fonts::ascent_mm(size, weight),
            fonts::descent_mm(size, weight),
        );
        self.page().push(Shape::Text(TextLine {
            x,
            baseline,
            size_pt: size,
            weight,
            text: s.to_string(),
            bounds: RectMm::new(x, baseline - a, w, a + d),
        }));
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64) {
        self.page().push(Shape::Fill(RectMm::new(x, y, w, h)));
    }

    /// A box outline of hairlines.
    fn frame(&mut self, x: f64, y: f64, w: f64, h: f64, t: f64) {
        self.rect(x, y, w, t);
        self.rect(x, y + h - t, w, t);
        self.rect(x, y, t, h);
        self.rect(x + w - t, y, t, h);
    }

    /// Lines of text in a column `x..x+width` starting at `top`; returns the height used.
    // A text run's full placement; grouping these into a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn lines_in(
        &mut self,
        lines: &[String],
        x: f64,
        width: f64,
        top: f64,
        size: f64,
        weight: Weight,
        align: Align,
    ) -> f64 {
        let lh = line_height(size);
        let ascent = fonts::ascent_mm(size, weight);
        for (i, l) in lines.iter().enumerate() {
            let w = fonts::text_width_mm(l, size, weight);
            let lx = match align {
                Align::Left => x,
                Align::Centre => x + (width - w).max(0.0) / 2.0,
                Align::Right => x + (width - w).max(0.0),
            };
            self.text_at(lx, top + ascent + i as f64 * lh, size, weight, l);
        }
        lines.len() as f64 * lh
    }

    /// A paragraph across the text width.
    fn para(&mut self, s: &str, size: f64, weight: Weight, align: Align, after: f64) {
        for l in wrap(s, size, weight, WIDTH) {
            self.need(line_height(size));
            let y = self.y;
            self.y += self.lines_in(&[l], MARGIN_LEFT, WIDTH, y, size, weight, align);
        }
        self.y += after;
    }

    /// A bordered table; `widths` are shares of the text width. Each row is (cells, bold);
    /// the header repeats on every page the table spans.
    fn table(
        &mut self,
        widths: &[f64],
        aligns: &[Align],
        header: &[String],
        rows: &[(Vec<String>, bool)],
    ) {
        let total: f64 = widths.iter().sum();
        let cols: Vec<f64> = widths.iter().map(|w| w / total * WIDTH).collect();
        let size = 8.5;
        // Headings a little smaller, so one-word headings fit their column.
        let head_size = 7.5;
        // A cell's leading spaces (a unit's depth under its parent) become an indent of
        // 1.5 mm each; wrapping would otherwise drop them.
        let layout =
            |cells: &[String], weight: Weight, size: f64| -> (Vec<(f64, Vec<String>)>, f64) {
                let wrapped: Vec<(f64, Vec<String>)> = cells
                    .iter()
                    .zip(&cols)
                    .map(|(c, w)| {
                        let indent = (c.len() - c.trim_start_matches(' ').len()) as f64 * 1.5;
                        let indent = indent.min(w / 3.0);
                        (indent, wrap(c, size, weight, w - 2.0 * PAD - indent))
                    })
                    .collect();
                let n = wrapped.iter().map(|c| c.1.len()).max().unwrap_or(1).max(1);
                (wrapped, n as f64 * line_height(size) + 2.0 * PAD)
            };
        let (head, head_h) = layout(header, Weight::Bold, head_size);
        let draw_row = |flow: &mut Flow,
                        cells: &[(f64, Vec<String>)],
                        h: f64,
                        weight: Weight,
                        is_head: bool| {
            let mut x = MARGIN_LEFT;
            let y = flow.y;
            for (i, (indent, lines)) in cells.iter().enumerate() {
                let align = if is_head {
                    Align::Centre
                } else {
                    aligns.get(i).copied().unwrap_or(Align::Left)
                };
                flow.lines_in(
                    lines,
                    x + PAD + indent,
                    cols[i] - 2.0 * PAD - indent,
                    y + PAD,
                    if is_head { head_size } else { size },
                    weight,
                    align,
                );
                flow.frame(x, y, cols[i], h, LINE);
                x += cols[i];
            }
            flow.y += h;
        };
        self.need(head_h + line_height(size) * 2.0);
        draw_row(self, &head, head_h, Weight::Bold, true);
        for (cells, bold) in rows {
            let weight = if *bold { Weight::Bold } else { Weight::Regular };
            let (wrapped, h) = layout(cells, weight, size);
            if self.y + h > PAGE_H - MARGIN_BOTTOM {
                self.new_page();
                draw_row(self, &head, head_h, Weight::Bold, true);
            }
            draw_row(self, &wrapped, h, weight, false);
        }
        self.y += 2.0;
    }
}

/// The pages of the official report, as shapes in millimetres on A4.
pub fn report_pages(summary: &Summary, info: &ReportInfo) -> Vec<Vec<Shape>> {
    let lang = info.lang;
    let t = |k: &str| text(lang, k, &[]);
    let mut f = Flow::new();

    // Letterhead: agency left, national motto right.
    let half = WIDTH / 2.0;
    let agency = wrap(&info.agency.to_uppercase(), 10.0, Weight::Bold, half - 4.0);
    let motto = wrap(&t("report.motto_nation"), 10.0, Weight::Bold, half + 4.0);
    let top = f.y;
    let h1 = f.lines_in(
        &agency,
        MARGIN_LEFT,
        half - 4.0,
        top,
        10.0,
        Weight::Bold,
        Align::Centre,
    );
    let mut h2 = f.lines_in(
        &motto,
        MARGIN_LEFT + half - 4.0,
        half + 4.0,
        top,
        10.0,
        Weight::Bold,
        Align::Centre,
    );
    let words = t("report.motto_words");
    h2 += f.lines_in(
        std::slice::from_ref(&words),
        MARGIN_LEFT + half - 4.0,
        half + 4.0,
        top + h2,
        10.0,
        Weight::Bold,
        Align::Centre,
    );
    let ww = fonts::text_width_mm(&words, 10.0, Weight::Bold);
    f.rect(
        MARGIN_LEFT + half - 4.0 + (half + 4.0 - ww) / 2.0,
        top + h2 + 0.3,
        ww,
        0.3,
    );
    f.y = top + h1.max(h2) + 4.0;
    let d = info.date;
    f.para(
        &text(
            lang,
            "report.date_line",
            &[("day", &d.day), ("month", &d.month), ("year", &d.year)],
        ),
        10.0,
        Weight::Regular,
        Align::Right,
        4.0,
    );
    f.para(&info.title(), 12.0, Weight::Bold, Align::Centre, 1.0);
    let period = if info.period.is_empty() {
        t("report.period_not_given")
    } else {
        info.period.to_string()
    };
    f.para(
        &text(lang, "report.period", &[("period", &period)]),
        10.0,
        Weight::Regular,
        Align::Centre,
        3.0,
    );
    if info.pending > 0 {
        let lines: Vec<String> = [
            t("report.provisional"),
            text(lang, "report.provisional_waiting", &[("n", &info.pending)]),
        ]
        .iter()
        .flat_map(|s| wrap(s, 10.0, Weight::Bold, WIDTH - 8.0))
        .collect();
        let h = lines.len() as f64 * line_height(10.0) + 4.0;
        f.need(h);
        let y = f.y;
        f.frame(MARGIN_LEFT, y, WIDTH, h, 0.6);
        f.lines_in(
            &lines,
            MARGIN_LEFT + 4.0,
            WIDTH - 8.0,
            y + 2.0,
            10.0,
            Weight::Bold,
            Align::Centre,
        );
        f.y += h + 3.0;
    }

    // 1. Ballots.
    f.para(
        &t("report.section_ballots"),
        11.0,
        Weight::Bold,
        Align::Left,
        1.0,
    );
    let with_returns = summary.rows.iter().any(|r| r.returns.is_some());
    let mut header: Vec<String> = [
        "report.col_unit",
        "report.col_pages",
        "status.counted",
        "status.invalid",
        "status.review",
        "status.rejected",
        "status.duplicate",
    ]
    .iter()
    .map(|k| t(k))
    .collect();
    let mut widths = vec![30.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0];
    if with_returns {
        header.extend(
            [
                "report.col_issued",
                "report.col_returned",
                "report.col_return_rate",
            ]
            .iter()
            .map(|k| t(k)),
        );
        widths.extend([10.0, 10.0, 11.0]);
    }
    let mut aligns = vec![Align::Left];
    aligns.extend(std::iter::repeat_n(Align::Right, widths.len() - 1));
    let rows: Vec<(Vec<String>, bool)> = summary
        .rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                format!("{}{}", "  ".repeat(r.depth), unit_label(lang, r)),
                r.pages.to_string(),
                r.counted.to_string(),
                r.invalid.to_string(),
                r.review.to_string(),
                r.rejected.to_string(),
                r.duplicate.to_string(),
            ];
            if with_returns {
                let (i, ret) = r.returns.unwrap_or((0, 0));
                cells.extend([i.to_string(), ret.to_string(), pct(lang, ret, i)]);
            }
            (cells, false)
        })
        .collect();
    f.table(&widths, &aligns, &header, &rows);

    // 2. Satisfaction per unit.
    let threshold = match lang {
        crate::i18n::Lang::Vi => format!("{:.0}", info.threshold).replace('.', ","),
        crate::i18n::Lang::En => format!("{:.0}", info.threshold),
    };
    f.para(
        &t("report.section_units"),
        11.0,
        Weight::Bold,
        Align::Left,
        1.0,
    );
    f.para(
        &text(
            lang,
            "report.method",
            &[("threshold", &threshold), ("min", &info.min_answers)],
        ),
        8.5,
        Weight::Regular,
        Align::Left,
        1.5,
    );
    let rank = ranks(summary, info.min_answers);
    let header: Vec<String> = [
        "report.col_marker",
        "report.col_unit",
        "report.col_answers",
        "report.col_rate",
        "report.col_interval",
        "report.col_rank",
        "report.col_standing",
    ]
    .iter()
    .map(|k| t(k))
    .collect();
    let rows: Vec<(Vec<String>, bool)> = summary
        .rows
        .iter()
        .filter(|r| !r.unit.is_empty())
        .map(|r| {
            let standing = Standing::of(r.overall, info.threshold, info.min_answers);
            let (mark, words) = standing_words(lang, standing);
            (
                vec![
                    mark.to_string(),
                    format!("{}{}", "  ".repeat(r.depth), unit_label(lang, r)),
                    r.overall.1.to_string(),
                    pct(lang, r.overall.0, r.overall.1),
                    interval_text(lang, r.overall),
                    rank.get(&r.unit).map_or(String::new(), |k| k.to_string()),
                    words,
                ],
                standing == Standing::Below,
            )
        })
        .collect();
    f.table(
        &[8.0, 30.0, 12.0, 15.0, 16.0, 8.0, 20.0],
        &[
            Align::Centre,
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Centre,
            Align::Centre,
            Align::Left,
        ],
        &header,
        &rows,
    );
    f.para(
        &text(lang, "report.legend", &[("threshold", &threshold)]),
        8.5,
        Weight::Regular,
        Align::Left,
        3.0,
    );

    // 3. Every question.
    f.para(
        &t("report.section_questions"),
        11.0,
        Weight::Bold,
        Align::Left,
        1.0,
    );
    let questions = info.questions();
    for (n, q) in &questions {
        // A written-comment question has no options to count: its images are listed below.
        if q.options.is_empty() {
            continue;
        }
        let count = |id: &str| {
            info.totals
                .get(&(q.id.clone(), id.to_string()))
                .copied()
                .unwrap_or(0)
        };
        let ids: Vec<&str> = q
            .options
            .iter()
            .map(|o| o.id.as_str())
            .chain(["BLANK", "MULTI"])
            .collect();
        let whole: u64 = ids.iter().map(|id| count(id)).sum();
        f.need(line_height(10.0) * 4.0);
        f.para(
            &format!(
                "{} {}",
                text(lang, "report.question_number", &[("n", n)]),
                q.text
            ),
            9.5,
            Weight::Bold,
            Align::Left,
            0.5,
        );
        let rows: Vec<(Vec<String>, bool)> = ids
            .iter()
            .filter(|id| !((**id == "BLANK" || **id == "MULTI") && count(id) == 0))
            .map(|id| {
                let sat = q.satisfied.iter().any(|s| s == id);
                (
                    vec![
                        format!(
                            "{}{}",
                            option_label(lang, q, id),
                            if sat { " ✓" } else { "" }
                        ),
                        count(id).to_string(),
                        pct(lang, count(id), whole),
                    ],
                    false,
                )
            })
            .collect();
        f.table(
            &[50.0, 12.0, 12.0],
            &[Align::Left, Align::Right, Align::Right],
            &[
                t("report.col_option"),
                t("report.col_ballots"),
                t("report.col_share"),
            ],
            &rows,
        );
        let waiting = count("REVIEW");
        if waiting > 0 {
            f.para(
                &text(lang, "report.question_waiting", &[("n", &waiting)]),
                8.5,
                Weight::Regular,
                Align::Left,
                1.0,
            );
        }
    }
    f.para(
        &t("report.satisfied_mark"),
        8.5,
        Weight::Regular,
        Align::Left,
        3.0,
    );

    // 4. Per rated question and unit.
    let rated: Vec<usize> = summary
        .rated
        .iter()
        .filter_map(|id| questions.iter().find(|(_, q)| &q.id == id).map(|(n, _)| *n))
        .collect();
    if !rated.is_empty() {
        f.para(
            &t("report.section_matrix"),
            11.0,
            Weight::Bold,
            Align::Left,
            1.0,
        );
        let mut header = vec![t("report.col_unit")];
        header.extend(
            rated
                .iter()
                .map(|n| text(lang, "report.question_short", &[("n", n)])),
        );
        header.push(t("report.col_overall"));
        let mut widths = vec![30.0];
        widths.extend(std::iter::repeat_n(7.0, rated.len() + 1));
        let mut aligns = vec![Align::Left];
        aligns.extend(std::iter::repeat_n(Align::Right, rated.len() + 1));
        let rows: Vec<(Vec<String>, bool)> = summary
            .rows
            .iter()
            .filter(|r| !r.unit.is_empty())
            .map(|r| {
                let mut cells = vec![format!("{}{}", "  ".repeat(r.depth), unit_label(lang, r))];
                cells.extend(r.rates.iter().map(|&(a, b)| pct(lang, a, b)));
                cells.push(pct(lang, r.overall.0, r.overall.1));
                (cells, false)
            })
            .collect();
        f.table(&widths, &aligns, &header, &rows);
        f.para(
            &t("report.matrix_note"),
            8.5,
            Weight::Regular,
            Align::Left,
            3.0,
        );
    }

    // 5. Comments: listed here; their images are in comments/ and in report.html.
    if !info.comments.is_empty() {
        f.para(
            &t("report.section_comments"),
            11.0,
            Weight::Bold,
            Align::Left,
            1.0,
        );
        for c in info.comments {
            let line = format!(
                "{}: {} — {}",
                c.unit,
                text(
                    lang,
                    "report.comment_line",
                    &[("serial", &c.serial), ("question", &c.question)]
                ),
                c.file
            );
            f.para(&line, 9.0, Weight::Regular, Align::Left, 0.5);
        }
        f.y += 3.0;
    }

    // Signatures, kept together on one page.
    let sign_h = line_height(10.0) * 2.0 + 30.0;
    f.need(sign_h + 6.0);
    f.y += 6.0;
    let y = f.y;
    for (i, &(role, hint)) in [
        ("report.sign_preparer", "report.sign_preparer_hint"),
        ("report.sign_head", "report.sign_head_hint"),
    ]
    .iter()
    .enumerate()
    {
        let x = MARGIN_LEFT + i as f64 * half;
        let h = f.lines_in(&[t(role)], x, half, y, 10.0, Weight::Bold, Align::Centre);
        f.lines_in(
            &[t(hint)],
            x,
            half,
            y + h,
            9.0,
            Weight::Regular,
            Align::Centre,
        );
    }
    f.y = y + sign_h;
    f.pages
}

/// `report.pdf` as bytes.
pub fn report_pdf(summary: &Summary, info: &ReportInfo) -> anyhow::Result<Vec<u8>> {
    crate::render::pdf::write_pdf(&report_pages(summary, info)).map_err(|e| {
        anyhow::Error::msg(crate::i18n::Msg::new(
            "report_error.cannot_write_pdf",
            &[("error", &e)],
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_wider_than_the_line_is_cut_and_every_line_fits() {
        let long = "Ủybannhândân".repeat(6);
        let text = format!("Công an {long} phường");
        let lines = wrap(&text, 10.0, Weight::Regular, 40.0);
        assert!(lines.len() >= 3, "{lines:?}");
        for l in &lines {
            assert!(
                fonts::text_width_mm(l, 10.0, Weight::Regular) <= 40.0,
                "{l}"
            );
        }
        assert!(lines[0].starts_with("Công an"), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }
}
