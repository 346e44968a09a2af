//! What reading one hostile page may allocate (issue #12 point 11). Allocation sizes are
//! deterministic for a single-threaded decode, so the peak is counted by a global allocator
//! and asserted; wall time never is.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

mod support;

use ballotscan::input;

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One measurement at a time: the counters are the whole process's.
static MEASURING: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result with the most it held allocated at once beyond what was
/// allocated before it started.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = NOW.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

const MB: usize = 1 << 20;

#[test]
fn a_16_bit_rgba_png_is_decoded_row_by_row_into_its_gray_page() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    // 2,000 × 2,000 RGBA16: 32 MB of samples, 4 MB of gray. White paper, a black square in
    // the middle, and a transparent stripe on the left that must read as white paper.
    let (w, h) = (2000u32, 2000u32);
    let ink = |x: u32, y: u32| (500..1500).contains(&x) && (500..1500).contains(&y);
    let mut samples = Vec::with_capacity((w * h * 8) as usize);
    for y in 0..h {
        for x in 0..w {
            let (v, a): (u16, u16) = if x < 100 {
                (0, 0)
            } else if ink(x, y) {
                (0, 65535)
            } else {
                (65535, 65535)
            };
            for s in [v, v, v, a] {
                samples.extend_from_slice(&s.to_be_bytes());
            }
        }
    }
    let mut file = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut file, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Sixteen);
        let mut writer = enc.write_header().expect("png header");
        writer.write_image_data(&samples).expect("png data");
    }
    drop(samples);
    let opened = input::from_bytes(file).expect("a PNG");
    let (page, peak) = peak_of(|| input::decode_page(&opened, 0));
    let page = page.expect("decodes");
    assert_eq!(page.dimensions(), (w, h));
    for (x, y, p) in page.enumerate_pixels() {
        let want = if ink(x, y) { 0 } else { 255 };
        assert_eq!(p.0[0], want, "({x},{y})");
    }
    // The gray page (4 MB) and the decoder's rows; decoded whole it took the 32 MB of samples
    // and then the gray copy.
    assert!(
        peak < 4 * MB + 9 * MB,
        "decoding took {} MB at its peak",
        peak / MB
    );
    // What the scan reserves for it before decoding: the pixels three times over (page and
    // QR search) and the decoder's rows.
    assert_eq!(
        input::page_memory(&opened, 0),
        u64::from(w * h) * input::READ_BYTES_PER_PIXEL + 8 * MB as u64
    );
}

#[test]
fn a_16_bit_rgb_tiff_is_decoded_strip_by_strip_into_its_gray_page() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    // 3,000 × 3,000 RGB16 in strips of 1 MB: 54 MB of samples, 9 MB of gray. Decoded whole
    // (as before), a 600 DPI A4 page of this kind needed 209 MB and was refused.
    let (w, h) = (3000u32, 3000u32);
    let ink = |x: u32, y: u32| (750..2250).contains(&x) && (750..2250).contains(&y);
    let samples: Vec<u16> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| {
            if ink(x, y) {
                [0, 0, 0]
            } else {
                [65535, 65000, 60000]
            }
        })
        .collect();
    let mut file = Vec::new();
    tiff::encoder::TiffEncoder::new(std::io::Cursor::new(&mut file))
        .expect("encoder")
        .write_image::<tiff::encoder::colortype::RGB16>(w, h, &samples)
        .expect("rgb16");
    drop(samples);
    let opened = input::from_bytes(file).expect("a TIFF");
    let (page, peak) = peak_of(|| input::decode_page(&opened, 0));
    let page = page.expect("decodes");
    assert_eq!(page.dimensions(), (w, h));
    for (x, y, p) in page.enumerate_pixels() {
        let want = if ink(x, y) { 0 } else { 251 };
        assert!(p.0[0].abs_diff(want) <= 1, "({x},{y}) is {}", p.0[0]);
    }
    // The gray page (9 MB) and one strip of samples (1 MB, held twice while it is decoded).
    assert!(
        peak < 9 * MB + 3 * MB,
        "decoding took {} MB at its peak",
        peak / MB
    );
    // What the scan reserves: the pixels three times over and one strip (167 rows of 18 KB).
    let strip = (1_000_000u64).div_ceil(u64::from(w) * 6) * u64::from(w) * 6;
    assert_eq!(
        input::page_memory(&opened, 0),
        u64::from(w * h) * input::READ_BYTES_PER_PIXEL + strip
    );
}

/// A one-page PDF whose only content stream inflates to `len` bytes of spaces.
fn pdf_with_content(len: usize) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b' '; MB];
    for _ in 0..len / MB {
        z.write_all(&block).expect("deflate");
    }
    let stream = z.finish().expect("deflate");
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
    ];
    let mut content = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        stream.len()
    )
    .into_bytes();
    content.extend_from_slice(&stream);
    content.extend_from_slice(b"\nendstream");
    objects.push(content);
    support::pdf_file(&objects)
}

#[test]
fn a_pdf_content_stream_inflating_past_the_limit_is_refused_without_being_held() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    // 40 MB of spaces: under the old 200 MB stream limit, it was inflated (twice) and the page
    // then called blank.
    let opened = input::from_bytes(pdf_with_content(40 * MB)).expect("a PDF");
    let (page, peak) = peak_of(|| input::decode_page(&opened, 0));
    let err = page.expect_err("refused");
    assert_eq!(err.code(), ballotscan::reason::Reason::DecodeError, "{err}");
    assert!(err.to_string().contains("limit"), "{err}");
    assert!(peak < 32 * MB, "refusing it took {} MB", peak / MB);
    // A page that cannot give an image reserves next to nothing.
    assert!(input::page_memory(&opened, 0) <= MB as u64);
}

#[test]
fn a_decisions_file_is_read_record_by_record() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("decisions.csv");
    // 30 MB of one decision repeated (an auditor's export appended to itself many times).
    let line = format!("in/b1.jpg,1,P-ANBIEN,1,q1,3,Lan,{}\n", "x".repeat(200));
    let mut text = String::from("source,page,unit,serial,question,decision,auditor,note\n");
    while text.len() < 30 * MB {
        text.push_str(&line);
    }
    let rows = (text.len() - 55) / line.len();
    std::fs::write(&path, &text).expect("write");
    drop(text);
    let (read, peak) = peak_of(|| {
        let mut n = 0usize;
        ballotscan::audit::read_decisions(&path, ballotscan::i18n::Lang::En, |d| {
            assert_eq!((d.unit.as_str(), d.decision.as_str()), ("P-ANBIEN", "3"));
            n += 1;
            Ok(())
        })
        .map(|()| n)
    });
    assert_eq!(read.expect("reads"), rows);
    assert!(peak < 2 * MB, "reading it held {} MB", peak / MB);
}
