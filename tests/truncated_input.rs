//! A scan that ends early is never read in part (issue #11 point 4): a JPEG, PNG or TIFF file
//! cut short, and a JPEG or Flate image cut short inside a PDF, give `decode_error` for every
//! page whose pixels are not all there, one row per page, on every input path. A decoder that
//! fills the missing rows with gray would otherwise hand the reader a half-gray ballot, and
//! once registration no longer needs the lower corner discs that reads as blank answers.
//!
//! Each file is a real ballot (rendered by the crate's own renderer), cut at half its length,
//! at nine tenths, and just before its last two bytes, and scanned alone as a clerk would.
//! The same file uncut must still read as its ballot.

mod support;

use std::path::Path;

use support::{answers, ballot, bin, pdf_file, read_rows};

/// The lengths each file is cut to.
fn cuts(len: usize) -> [usize; 3] {
    [len / 2, len * 9 / 10, len - 2]
}

/// What one row of ballots.csv says: page, status, reasons, serial.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    page: String,
    status: String,
    reasons: String,
    serial: String,
}

/// Scans `bytes` alone, saved as `in/NAME`, and returns its rows of ballots.csv.
fn scan_alone(name: &str, bytes: &[u8]) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    std::fs::write(input.join(name), bytes).expect("write");
    bin()
        .current_dir(dir.path())
        .args(["scan", "in", "--out", "out"])
        .assert()
        .success();
    rows(&dir.path().join("out/ballots.csv"), &format!("in/{name}"))
}

/// The rows of `csv` (every one of which must come from `source`), by column name.
fn rows(csv: &Path, source: &str) -> Vec<Row> {
    let table = read_rows(csv);
    let text = std::fs::read_to_string(csv).expect("csv");
    let header: Vec<&str> = text
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .expect("a header")
        .split(',')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let (src, page, status, reasons, serial) = (
        col("source"),
        col("page"),
        col("status"),
        col("reasons"),
        col("serial"),
    );
    table
        .iter()
        .map(|r| {
            assert_eq!(r[src], source, "a row from another file");
            Row {
                page: r[page].clone(),
                status: r[status].clone(),
                reasons: r[reasons].clone(),
                serial: r[serial].clone(),
            }
        })
        .collect()
}

fn counted(page: usize, serial: u32) -> Row {
    Row {
        page: page.to_string(),
        status: "counted".into(),
        reasons: String::new(),
        serial: format!("{serial:06}"),
    }
}

fn decode_error(page: usize) -> Row {
    Row {
        page: page.to_string(),
        status: "rejected".into(),
        reasons: "decode_error".into(),
        serial: String::new(),
    }
}

/// The ballot of serial `serial`, marked with `answers()`, at 150 DPI.
fn page(serial: u32) -> image::GrayImage {
    ballot("P-ANBIEN", serial, &answers(), None, 150.0)
}

fn jpeg(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(img)
        .expect("jpeg");
    out
}

fn png(img: &image::GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("deflate");
    enc.finish().expect("deflate")
}

/// Checks a one-page file: whole, it reads as serial `serial`; cut anywhere, it is one row,
/// `decode_error`.
fn one_page_file(name: &str, bytes: &[u8], serial: u32) {
    assert_eq!(
        scan_alone(name, bytes),
        [counted(1, serial)],
        "{name} whole"
    );
    for cut in cuts(bytes.len()) {
        assert_eq!(
            scan_alone(name, &bytes[..cut]),
            [decode_error(1)],
            "{name} cut to {cut} of {} bytes",
            bytes.len()
        );
    }
}

#[test]
fn a_cut_jpeg_file_is_a_decode_error() {
    let gray = image::DynamicImage::ImageLuma8(page(11));
    one_page_file("ballot.jpg", &jpeg(&gray), 11);
    // A colour scan (YCbCr) goes the same way.
    let colour =
        image::DynamicImage::ImageRgb8(image::DynamicImage::ImageLuma8(page(12)).to_rgb8());
    one_page_file("colour.jpg", &jpeg(&colour), 12);
}

#[test]
fn a_cut_png_file_is_a_decode_error() {
    // Cut two bytes short, every row is there and only the end marker's checksum is missing:
    // a file that ends early is refused all the same, as it cannot be told from one cut in
    // its last rows.
    one_page_file("ballot.png", &png(&page(21)), 21);
}

/// A baseline gray TIFF with its directories first and the pixels after them, as many
/// scanners write it (so a cut loses pixels, not directories), in strips of 64 rows, each
/// deflated when `deflate`. Returns the file and, for each page, where its last strip ends.
fn tiff_directories_first(pages: &[image::GrayImage], deflate: bool) -> (Vec<u8>, Vec<usize>) {
    const ROWS: u32 = 64;
    const ENTRIES: usize = 9;
    let strips: Vec<Vec<Vec<u8>>> = pages
        .iter()
        .map(|p| {
            p.as_raw()
                .chunks((p.width() * ROWS) as usize)
                .map(|s| if deflate { zlib(s) } else { s.to_vec() })
                .collect()
        })
        .collect();
    // Each page: its directory, then its strips' offsets and byte counts.
    let dir_len = |s: usize| 2 + 12 * ENTRIES + 4 + 8 * s;
    let mut at = 8;
    let mut dirs = Vec::new();
    for s in &strips {
        assert!(
            s.len() > 1,
            "offsets and counts must lie outside the entries"
        );
        dirs.push(at);
        at += dir_len(s.len());
    }
    let mut data_at = Vec::new();
    for s in &strips {
        let mut offsets = Vec::new();
        for strip in s {
            offsets.push(at);
            at += strip.len();
        }
        data_at.push(offsets);
    }
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&(dirs[0] as u32).to_le_bytes());
    for (i, (p, s)) in pages.iter().zip(&strips).enumerate() {
        let arrays = dirs[i] + 2 + 12 * ENTRIES + 4;
        let entry = |out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        };
        let (short, long) = (3, 4);
        let n = s.len() as u32;
        out.extend_from_slice(&(ENTRIES as u16).to_le_bytes());
        entry(&mut out, 256, long, 1, p.width());
        entry(&mut out, 257, long, 1, p.height());
        entry(&mut out, 258, short, 1, 8);
        entry(&mut out, 259, short, 1, if deflate { 8 } else { 1 });
        entry(&mut out, 262, short, 1, 1);
        entry(&mut out, 273, long, n, arrays as u32);
        entry(&mut out, 277, short, 1, 1);
        entry(&mut out, 278, long, 1, ROWS);
        entry(&mut out, 279, long, n, (arrays + 4 * s.len()) as u32);
        let next = dirs.get(i + 1).copied().unwrap_or(0) as u32;
        out.extend_from_slice(&next.to_le_bytes());
        for &o in &data_at[i] {
            out.extend_from_slice(&(o as u32).to_le_bytes());
        }
        for strip in s {
            out.extend_from_slice(&(strip.len() as u32).to_le_bytes());
        }
    }
    assert_eq!(out.len(), data_at[0][0], "the layout was computed wrong");
    let mut ends = Vec::new();
    for s in &strips {
        for strip in s {
            out.extend_from_slice(strip);
        }
        ends.push(out.len());
    }
    (out, ends)
}

/// Checks a TIFF whose pages are serials `first..`: whole, every page reads; cut, the pages
/// whose pixels are all before the cut read and every other page is `decode_error`, once.
fn tiff_file(name: &str, bytes: &[u8], ends: &[usize], first: u32) {
    let whole: Vec<Row> = (0..ends.len())
        .map(|i| counted(i + 1, first + i as u32))
        .collect();
    assert_eq!(scan_alone(name, bytes), whole, "{name} whole");
    for cut in cuts(bytes.len()) {
        let want: Vec<Row> = ends
            .iter()
            .enumerate()
            .map(|(i, &end)| {
                if end <= cut {
                    counted(i + 1, first + i as u32)
                } else {
                    decode_error(i + 1)
                }
            })
            .collect();
        assert_eq!(
            scan_alone(name, &bytes[..cut]),
            want,
            "{name} cut to {cut} of {} bytes",
            bytes.len()
        );
    }
}

#[test]
fn a_cut_tiff_page_is_a_decode_error_and_the_whole_pages_before_it_read() {
    for deflate in [false, true] {
        let (one, ends) = tiff_directories_first(&[page(31)], deflate);
        tiff_file(&format!("one-{deflate}.tif"), &one, &ends, 31);
        let pages = [page(41), page(42), page(43)];
        let (three, ends) = tiff_directories_first(&pages, deflate);
        tiff_file(&format!("three-{deflate}.tif"), &three, &ends, 41);
    }
}

#[test]
fn a_cut_tiff_written_pixels_first_is_a_decode_error() {
    // The `tiff` crate (like libtiff) writes each page's directory after its pixels: a cut
    // then loses a directory, and the page it describes and all after it are one row.
    use tiff::encoder::{colortype, TiffEncoder};
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    {
        let mut enc = TiffEncoder::new(std::io::Cursor::new(&mut bytes)).expect("encoder");
        for serial in [51, 52, 53] {
            let p = page(serial);
            enc.write_image::<colortype::Gray8>(p.width(), p.height(), p.as_raw())
                .expect("page");
        }
    }
    // Where each page's directory ends: find them by walking the chain.
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
    let mut at = u32_at(4);
    while at != 0 {
        let n = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        ends.push(at + 2 + 12 * n + 4);
        at = u32_at(at + 2 + 12 * n);
    }
    assert_eq!(ends.len(), 3);
    let name = "written.tif";
    let whole: Vec<Row> = (0..3).map(|i| counted(i + 1, 51 + i as u32)).collect();
    assert_eq!(scan_alone(name, &bytes), whole, "{name} whole");
    for cut in cuts(bytes.len()) {
        let read = ends.iter().filter(|&&e| e <= cut).count();
        let mut want: Vec<Row> = (0..read).map(|i| counted(i + 1, 51 + i as u32)).collect();
        want.push(decode_error(read + 1));
        assert_eq!(scan_alone(name, &bytes[..cut]), want, "{name} cut to {cut}");
    }
}

/// A one-page PDF drawing one image of `img`'s size over the whole page, its data `data` under
/// `filter` (the image dictionary's /Length is the data's: the image is what ends early, not
/// the file).
fn pdf_page(img: &image::GrayImage, filter: &str, data: &[u8]) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let (pw, ph) = (w as f64 * 72.0 / 150.0, h as f64 * 72.0 / 150.0);
    let content = format!("q {pw} 0 0 {ph} 0 0 cm /Im0 Do Q");
    let stream = |dict: &str, data: &[u8]| {
        [
            format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes(),
            data.to_vec(),
            b"\nendstream".to_vec(),
        ]
        .concat()
    };
    pdf_file(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw} {ph}] /Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>"
        )
        .into_bytes(),
        stream("", content.as_bytes()),
        stream(
            &format!(
                "/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter {filter}"
            ),
            data,
        ),
    ])
}

#[test]
fn a_cut_image_inside_a_pdf_is_a_decode_error() {
    let img = page(61);
    let dct = jpeg(&image::DynamicImage::ImageLuma8(img.clone()));
    let flate = zlib(img.as_raw());
    // A Flate stream that lacks only its last bytes (its checksum) still holds every sample:
    // viewers show it and so does the PDF reader, by design, so it is cut where rows are lost.
    let [half, most, _] = cuts(flate.len());
    for (filter, data, cuts) in [
        ("/DCTDecode", &dct, cuts(dct.len()).to_vec()),
        ("/FlateDecode", &flate, vec![half, most]),
    ] {
        let name = "ballot.pdf";
        assert_eq!(
            scan_alone(name, &pdf_page(&img, filter, data)),
            [counted(1, 61)],
            "{filter} whole"
        );
        for cut in cuts {
            assert_eq!(
                scan_alone(name, &pdf_page(&img, filter, &data[..cut])),
                [decode_error(1)],
                "{filter} cut to {cut} of {} bytes",
                data.len()
            );
        }
    }
}
