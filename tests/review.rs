//! `ballotscan review` end to end: which pages get an image and a card, in which order, drawn
//! upright from the scan's own reading, with every value escaped — and a page that stays
//! linear in size with thousands of flagged ballots.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use ballotscan::review::page;
use support::*;

/// The row number (1-based, as the review page counts) of the page whose source ends so.
fn row_of(rows: &[Vec<String>], name: &str) -> usize {
    let hits: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r[0].ends_with(name))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "one row for {name}: {rows:?}");
    hits[0]
}

fn mean(img: &image::RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> f64 {
    let mut sum = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x, y).0;
            sum += (p[0] as u64 + p[1] as u64 + p[2] as u64) / 3;
        }
    }
    sum as f64 / ((x1 - x0) * (y1 - y0)) as f64
}

fn review_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("review folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn flagged_ballots_get_an_upright_annotated_image_and_a_card_most_doubtful_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_scans(dir.path());
    scan_and_review(dir.path(), "scans", "out");
    let out = dir.path().join("out");
    let rows = read_rows(&out.join("ballots.csv"));
    let status = |name: &str| {
        let r = &rows[row_of(&rows, name) - 1];
        (r[2].clone(), r[3].clone())
    };
    // The fixture is what the test thinks it is.
    assert_eq!(status("a-good.jpg"), ("counted".into(), "".into()));
    assert_eq!(
        status(HOSTILE_NAME),
        ("review".into(), "ambiguous_mark".into())
    );
    assert_eq!(
        status("c-blank.jpg"),
        ("invalid".into(), "blank_ballot".into())
    );
    assert_eq!(
        status("d-copy.jpg"),
        ("duplicate".into(), "duplicate_file".into())
    );
    assert_eq!(
        status("e-junk.png"),
        ("rejected".into(), "not_an_image".into())
    );
    assert_eq!(
        status("f-multi.jpg"),
        ("counted".into(), "multi_mark".into())
    );
    assert_eq!(status("g-sheet.jpg"), ("rejected".into(), "no_qr".into()));
    assert_eq!(
        status("h-unknown-unit.jpg"),
        ("review".into(), "unknown_unit".into())
    );

    // The documented order: review by min_margin (the faint mark is a 0.000 call), invalid,
    // duplicate, rejected (in ballots.csv order), then counted ballots with a reason.
    let expected: Vec<usize> = [
        HOSTILE_NAME,
        "h-unknown-unit.jpg",
        "c-blank.jpg",
        "d-copy.jpg",
        "e-junk.png",
        "g-sheet.jpg",
        "f-multi.jpg",
    ]
    .iter()
    .map(|n| row_of(&rows, n))
    .collect();
    let html = std::fs::read_to_string(out.join("review/index.html")).expect("index.html");
    assert_eq!(card_rows(&html), expected, "cards in doubt order");

    // "To decide" is what the scan's console calls "cần kiểm tra": the pages in review (the
    // faint mark, the unknown unit), never the counted ballot with a multi_mark note nor the
    // blank, copied or rejected pages, which are listed for information only.
    let in_review = rows.iter().filter(|r| r[2] == "review").count();
    assert_eq!(in_review, 2);
    assert_eq!(html.matches("data-todo=\"1\"").count(), in_review);
    assert_eq!(html.matches("data-todo=\"0\"").count(), 5);
    assert!(
        html.contains("<span id=\"status\">2 phiếu cần quyết định · 5 phiếu chỉ để biết</span>"),
        "the page's count of ballots to decide"
    );

    // Filters above the cards: each choice with the number of cards it lists (page.js keeps
    // the numbers current), each card carrying what it is filtered by.
    let option = |select: &str, value: &str| -> String {
        let s = &html[html
            .find(&format!("<select id=\"{select}\">"))
            .unwrap_or_else(|| panic!("no filter {select}"))..];
        let s = &s[..s.find("</select>").expect("end of the select")];
        let at = s
            .find(&format!("<option value=\"{value}\""))
            .unwrap_or_else(|| panic!("no choice {value} in {select}: {s}"));
        let o = &s[at..];
        o[o.find('>').expect(">") + 1..o.find("</option>").expect("end")].to_string()
    };
    assert_eq!(option("f-todo", ""), "tất cả (7)");
    assert_eq!(option("f-todo", "1"), "chỉ phiếu cần quyết định (2)");
    assert_eq!(option("f-todo", "0"), "chỉ phiếu để biết (5)");
    assert_eq!(option("f-status", "review"), "cần kiểm tra (2)");
    assert_eq!(option("f-status", "rejected"), "bị loại (2)");
    assert_eq!(option("f-status", "counted"), "đã đếm (1)");
    assert_eq!(
        option("f-unit", "P-ANBIEN"),
        "P-ANBIEN · Công an phường An Biên (2)"
    );
    assert_eq!(
        option("f-unit", "Z-NOWHERE"),
        "Z-NOWHERE · không có trong danh sách đơn vị (1)"
    );
    assert_eq!(
        option("f-unit", "*"),
        "(không rõ đơn vị: không đọc được mã QR) (2)"
    );
    assert_eq!(option("f-reason", "ambiguous_mark"), "ambiguous_mark (1)");
    assert_eq!(option("f-reason", "multi_mark"), "multi_mark (1)");
    assert!(
        !html.contains("<option value=\"poor_alignment\""),
        "only reasons listed"
    );
    assert!(html.contains("data-unit=\"Z-NOWHERE\" data-serial=\"000005\""));
    assert_eq!(html.matches("data-reasons=\"ambiguous_mark\"").count(), 1);
    assert_eq!(html.matches("data-reasons=\"no_qr\"").count(), 1);

    // Each crop carries its boxes for the page to label: the faint mark's question has its
    // five boxes left to right, one column each, the faint one ambiguous, the rest empty.
    let faint_card = {
        let at = html
            .find(&format!("id=\"b{}\"", row_of(&rows, HOSTILE_NAME)))
            .expect("the faint ballot's card");
        &html[at..at + html[at..].find("</section>").expect("end of card")]
    };
    let q6 = faint_card
        .split("<span class=\"qid\">q6</span>")
        .nth(1)
        .expect("q6's row");
    let attr = |name: &str| -> String {
        let at = q6.find(&format!("{name}\"")).expect(name) + name.len() + 1;
        q6[at..].split('"').next().expect("value").to_string()
    };
    let crop_w: f64 = attr("style=")
        .split(';')
        .find_map(|p| p.strip_prefix("width:"))
        .and_then(|w| w.trim_end_matches("px").parse().ok())
        .expect("crop width");
    let boxes: Vec<Vec<String>> = attr("data-b=")
        .split('|')
        .map(|b| b.split(' ').map(str::to_string).collect())
        .collect();
    assert_eq!(boxes.len(), 5, "{boxes:?}");
    let num = |b: &Vec<String>, i: usize| -> f64 { b[i].parse().expect("a number") };
    for (k, b) in boxes.iter().enumerate() {
        assert_eq!(b.len(), 7, "option x y w h fill state: {b:?}");
        assert_eq!(b[0], (k + 1).to_string(), "boxes in the form's order");
        assert!(
            (26.0..=30.0).contains(&num(b, 3)),
            "a 7 mm box is about 28 px: {b:?}"
        );
        let (fill, state) = (num(b, 5), b[6].as_str());
        if k == 2 {
            assert!(
                state == "a" && fill > 0.03 && fill < 0.06,
                "the faint box: {b:?}"
            );
        } else {
            assert!(state == "e" && fill <= 0.03, "an empty box: {b:?}");
        }
    }
    let centres: Vec<f64> = boxes.iter().map(|b| num(b, 1) + num(b, 3) / 2.0).collect();
    let pitch = centres[1] - centres[0];
    assert!(pitch > 40.0, "columns {centres:?}");
    for w in centres.windows(2) {
        assert!(
            ((w[1] - w[0]) - pitch).abs() <= 2.0,
            "even columns {centres:?}"
        );
    }
    assert!(
        centres[0] >= pitch / 2.0 - 1.0 && crop_w - centres[4] >= pitch / 2.0 - 1.0,
        "the crop spans each option's column, room for its label: {centres:?} in {crop_w}"
    );
    // Labels come from the form's option lists, once per form.
    assert!(html.contains("<option value=\"3\" data-l=\"Bình thường\">3 · Bình thường</option>"));

    // One image per flagged page that has one; the junk file only gets its card.
    let files = review_files(&out.join("review"));
    let mut want: BTreeSet<String> = expected
        .iter()
        .filter(|&&r| r != row_of(&rows, "e-junk.png"))
        .map(|r| format!("{r:04}.jpg"))
        .collect();
    want.insert("index.html".into());
    assert_eq!(files, want);

    // Aligned pages are drawn upright at 100 DPI with the answer strip: 240 × 297 mm.
    let open = |name: &str| {
        image::open(
            out.join("review")
                .join(format!("{:04}.jpg", row_of(&rows, name))),
        )
        .expect("a JPEG that decodes")
        .to_rgb8()
    };
    let px = |mm: f64| (mm * 100.0 / 25.4).round() as u32;
    for name in [
        HOSTILE_NAME,
        "h-unknown-unit.jpg",
        "c-blank.jpg",
        "d-copy.jpg",
        "f-multi.jpg",
    ] {
        let img = open(name);
        assert_eq!(
            img.dimensions(),
            (px(210.0) + px(30.0), px(297.0)),
            "{name} is the upright page plus the answer strip"
        );
    }
    // The faint ballot was scanned a quarter turn round: its QR code (top right of the page)
    // must be top right in the image, and the paper at the bottom left blank.
    let faint = open(HOSTILE_NAME);
    let qr = mean(&faint, px(167.0), px(21.0), px(194.0), px(48.0));
    let paper = mean(&faint, px(20.0), px(240.0), px(60.0), px(270.0));
    assert!(
        qr < 170.0 && paper > 220.0,
        "not upright: QR area {qr}, blank area {paper}"
    );
    // Its ambiguous box is outlined in orange; the solid marks in green.
    let count = |img: &image::RgbImage, f: &dyn Fn([u8; 3]) -> bool| {
        img.pixels().filter(|p| f(p.0)).count()
    };
    let orange = count(&faint, &|[r, g, b]| {
        r > 200 && (70..160).contains(&g) && b < 70
    });
    let green = count(&faint, &|[r, g, b]| r < 60 && g > 120 && b < 100);
    assert!(
        orange > 100,
        "ambiguous box outlined: {orange} orange pixels"
    );
    assert!(green > 500, "marked boxes outlined: {green} green pixels");
    // The blank sheet is the scan itself, shrunk, under a banner.
    let sheet = open("g-sheet.jpg");
    assert!(sheet.height() > sheet.width() && sheet.height() <= px(297.0) + 120);
    let banner = sheet.get_pixel(3, 3).0;
    assert!(
        banner[0] > 240 && banner[2] < 245,
        "banner colour {banner:?}"
    );

    // Every value from the scan is escaped: the hostile file name only appears as text.
    assert!(!html.contains(HOSTILE_NAME));
    assert!(!html.contains("<i>"));
    assert!(html.contains("b &lt;i&gt;&amp;&quot;&#39;x.png"));
    assert_eq!(
        html.matches("<script").count()
            - html
                .matches("<script type=\"application/json\" id=\"text\">")
                .count(),
        1,
        "only the page's own script (and its sentences, as data)"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network"
    );
    // Fewer cards than a chunk: every card shown, its page image fetched at once (not lazy)
    // and its crops given their image by the card's own style, so they are there without
    // scrolling, without the script, and in print; and the decision controls.
    assert_eq!(html.matches("<img src=\"").count(), 6);
    assert!(
        !html.contains("loading=\"lazy\" src=\"0"),
        "no lazy page image"
    );
    assert_eq!(html.matches(" style=\"--img:url(").count(), 6);
    assert!(html.contains(&format!(
        " style=\"--img:url({:04}.jpg)\">",
        row_of(&rows, HOSTILE_NAME)
    )));
    assert!(!html.contains("\" hidden>\n<h2>"), "no card hidden");
    // The keyboard shortcuts, listed in a help line.
    assert!(html.contains("<p class=\"keys\">Phím tắt: <kbd>n</kbd> / <kbd>p</kbd> phiếu sau"));
    // The empty threshold, as the warning on an answer whose box looks empty says it.
    assert!(html.contains(" data-empty=\"0,030\">"));
    assert!(html.contains("\"js_empty_box\":\"⚠ ô của phương án %{option} trông như để trống"));
    assert!(html.contains("<button id=\"export\""));
    assert!(html.contains("<input id=\"auditor\""));
    assert!(html.contains(
        "data-header=\"source,page,file_sha256,form,version,unit,serial,question,decision,auditor,note\""
    ));

    // The same result again, whatever the thread count; an image of an earlier run that is no
    // longer flagged is removed.
    let before: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            let b = std::fs::read(out.join("review").join(f)).expect("read");
            (f.clone(), b)
        })
        .collect();
    std::fs::write(out.join("review/9999.jpg"), b"stale").expect("write");
    bin()
        .current_dir(dir.path())
        .env("RAYON_NUM_THREADS", "1")
        .args(["review", "out"])
        .assert()
        .success();
    assert_eq!(
        review_files(&out.join("review")),
        files,
        "stale image removed"
    );
    for (f, b) in before {
        let again = std::fs::read(out.join("review").join(&f)).expect("read");
        assert!(again == b, "{f} differs between runs");
    }
}

#[test]
fn scans_moved_away_still_give_the_list_and_say_why_there_is_no_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_scans(dir.path());
    bin()
        .current_dir(dir.path())
        .args(["scan", "scans", "--out", "out"])
        .assert()
        .success();
    std::fs::rename(dir.path().join("scans"), dir.path().join("moved")).expect("move");
    let run = bin()
        .current_dir(dir.path())
        .args(["review", "out"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(
        stderr.contains("không mở được tệp quét lúc này"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(dir.path().join("out/review/index.html")).expect("html");
    assert_eq!(card_rows(&html).len(), 7);
    assert_eq!(html.matches("<img ").count(), 0);
    assert!(html.contains("không mở được tệp quét lúc này"));
    // And in English when asked.
    let run = bin()
        .current_dir(dir.path())
        .args(["--lang", "en", "review", "out"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("cannot open the scan now"), "{stderr}");
}

#[test]
fn review_of_a_folder_that_is_not_a_scan_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = bin()
        .arg("review")
        .arg(dir.path())
        .assert()
        .failure()
        .code(3);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("ballotscan scan"), "{stderr}");
}

#[test]
fn the_page_grows_linearly_with_2000_flagged_ballots() {
    let (empty, one_k, two_k) = (
        synthetic_page(0),
        synthetic_page(1000),
        synthetic_page(2000),
    );
    // Size: the fixed part plus the same amount per ballot (to within the digits of numbers).
    let per_ballot_1 = (one_k.len() - empty.len()) as f64 / 1000.0;
    let per_ballot_2 = (two_k.len() - empty.len()) as f64 / 2000.0;
    assert!(
        (per_ballot_2 / per_ballot_1 - 1.0).abs() < 0.02,
        "per-ballot size {per_ballot_1} vs {per_ballot_2}"
    );
    eprintln!("{per_ballot_2:.0} bytes per ballot");
    assert!(
        // About 4 kB, 14 bytes of it the card's data-todo (to decide or for information).
        per_ballot_2 < 4100.0,
        "{per_ballot_2} bytes per ballot: the page would be heavy at 2,000 ballots"
    );
    // Structure: one card and one image per ballot, the first hundred shown with their images
    // fetched at once, the others hidden with a lazy image (the script shows them a hundred
    // at a time); eight crops and eight still empty answer lists per ballot whose answers can
    // be decided (every one but the rejected quarter); the option lists exist once per form,
    // in templates.
    let n = 2000;
    let decidable = n - n / 4;
    assert_eq!(page::CHUNK, 100);
    assert_eq!(two_k.matches("<section class=\"ballot").count(), n);
    assert_eq!(two_k.matches("\" hidden>\n<h2>").count(), n - page::CHUNK);
    assert!(!two_k[..two_k.find("id=\"b101\"").expect("card 101")].contains(" hidden>\n<h2>"));
    assert_eq!(
        two_k.matches("<img loading=\"lazy\" src=").count(),
        n - page::CHUNK
    );
    assert_eq!(two_k.matches("<img src=").count(), page::CHUNK);
    assert_eq!(two_k.matches(" style=\"--img:url(").count(), n);
    assert_eq!(two_k.matches("class=\"crop\"").count(), 8 * decidable);
    assert_eq!(
        two_k.matches("<select class=\"ans\"").count(),
        8 * decidable
    );
    assert_eq!(two_k.matches("<select class=\"verdict\"").count(), n);
    let options = |h: &str| h.matches("<option").count();
    assert_eq!(
        options(&two_k) - options(&empty),
        n + 8 * decidable + 6,
        "per ballot: 'no verdict' and one 'as read' per question (the verdicts and answers \
         are in templates); the filters' choices (four statuses, one unit, one reason) once"
    );
    assert_eq!(
        two_k.matches("<template id=").count(),
        9,
        "an option list per question of the form, and the verdicts"
    );
    // Escaped even in bulk.
    assert!(!two_k.contains("<0>") && two_k.contains("&lt;0&gt; &amp; &quot;co&quot;"));
}
