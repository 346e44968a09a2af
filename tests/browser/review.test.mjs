// Drives the page `ballotscan review` writes in a real headless Chromium (Debian's, never a
// downloaded one), as an auditor would: name, one answer changed, one ballot rejected with a
// note, a reload (decisions must survive it), then Export — and checks the downloaded
// decisions.csv row by row.
//
// Usage: node tests/browser/review.test.mjs <index.html> <expected.json>
// expected.json (written by tests/review_browser.rs):
//   { "order": [row, ...],                      // data-row of the cards, top to bottom
//     "auditor": "...",
//     "answer": { "row": N, "question": "q2", "value": "4" },
//     "reject": { "row": N, "note": "..." },
//     "header": ["source", ...],
//     "rows": [[cell, ...], ...],               // the exported rows, cells as written
//     "save_to": "/path/decisions.csv",
//     "profile": "/path/profile" }             // optional: the browser profile, kept
// With "phase": "rescan" (the same profile, the folder scanned again with files renamed and
// one removed), it checks instead that the saved decisions came back on their ballots:
//   { "phase": "rescan", "profile", "auditor", "reject": { "row", "note" },
//     "orphan": "CSAT v1 P-ANBIEN 000002", "orphan_what": "q6 = 3",
//     "header", "rows", "save_to" }
// With "phase": "keyed", it keys a page whose QR code was not read (manual entry) instead:
//   { "phase": "keyed", "auditor", "keyed": { "row", "form", "unit", "serial",
//     "answers": [[question, value], ...] }, "header", "rows", "save_to" }
// Exits 0 when every check passes; otherwise prints what differed and exits 1.

import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const [indexPath, expectedPath] = process.argv.slice(2);
if (!indexPath || !expectedPath) {
  console.error('usage: node tests/browser/review.test.mjs <index.html> <expected.json>');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing: run \`bash .ci/install-browser\``);
  process.exit(2);
}
const expected = JSON.parse(readFileSync(expectedPath, 'utf8'));

const failures = [];
// Every image the page fetched (file URLs), for the bulk phase.
const images = new Set();
function check(ok, what) {
  if (!ok) failures.push(what);
}
function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// RFC 4180: quoted fields, doubled quotes, CRLF or LF line ends.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { /* the \n ends the row */ }
    else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

const profile = expected.profile ?? mkdtempSync(join(tmpdir(), 'ballotscan-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  const offline = [];
  page.on('request', (r) => {
    const u = r.url();
    if (u.endsWith('.jpg')) images.add(u);
    if (!u.startsWith('file:') && !u.startsWith('blob:') && !u.startsWith('data:')) offline.push(u);
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(indexPath).href);

  if (expected.phase === 'rescan') {
    await afterRescan(page);
  } else if (expected.phase === 'keyed') {
    await keyByHand(page);
  } else if (expected.phase === 'bulk') {
    await bulk(page, context);
  } else {
    await decide(page);
  }
  check(offline.length === 0, `the page made network requests: ${offline.join(', ')}`);
  check(errors.length === 0, `script errors: ${errors.join('; ')}`);
} catch (e) {
  failures.push(`browser run failed: ${e && e.stack ? e.stack : e}`);
} finally {
  if (context) await context.close().catch(() => {});
  if (!expected.profile) rmSync(profile, { recursive: true, force: true });
}

// Export, and the downloaded file checked row by row.
async function exported(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  check(download.suggestedFilename() === 'decisions.csv', `file name ${download.suggestedFilename()}`);
  await download.saveAs(expected.save_to);
  const bytes = readFileSync(expected.save_to);
  check(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf, 'no UTF-8 byte-order mark');
  const rows = parseCsv(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  check(same(rows[0], expected.header), `header ${JSON.stringify(rows[0])}`);
  check(same(rows.slice(1), expected.rows),
    `rows differ:\n got      ${JSON.stringify(rows.slice(1))}\n expected ${JSON.stringify(expected.rows)}`);
}

// The folder was scanned again: rows moved, a file was renamed, one ballot is gone.
async function afterRescan(page) {
  check((await page.inputValue('#auditor')) === expected.auditor, 'auditor name not restored after the rescan');
  const card = page.locator(`#b${expected.reject.row}`);
  check((await card.locator('select.verdict').inputValue()) === 'REJECT', 'verdict not restored on the rescanned ballot');
  check((await card.locator('input.note').inputValue()) === expected.reject.note, 'note not restored on the rescanned ballot');
  check(await card.evaluate((c) => c.classList.contains('decided')), 'the rescanned ballot is not marked decided');
  const status = await page.textContent('#status');
  check(status.startsWith('1 trên '), `status after the rescan says ${status}`);
  // The filter chosen before the rescan still applies.
  check((await page.inputValue('#f-reason')) === 'unknown_unit', 'the filter did not survive the rescan');
  check(same(await listed(page), [expected.reject.row]), `listed after the rescan: ${JSON.stringify(await listed(page))}`);
  // The decision whose ballot is gone is listed, not dropped and not exported.
  check(!(await page.locator('#orphans').isHidden()), 'no list of decisions that match no ballot');
  const items = await page.$$eval('#orphans li', (lis) => lis.map((l) => l.textContent));
  check(items.length === 1 && items[0].includes(expected.orphan) && items[0].includes(expected.orphan_what),
    `orphans listed: ${JSON.stringify(items)}`);
  await exported(page);
  // Forgotten on request, for good.
  await page.click('#forget');
  check(await page.locator('#orphans').isHidden(), 'the list stays after Forget');
  await reload(page);
  check(await page.locator('#orphans').isHidden(), 'forgotten decisions came back after a reload');
  check((await page.locator(`#b${expected.reject.row} select.verdict`).inputValue()) === 'REJECT',
    'Forget dropped a decision that matches a ballot');
}

async function decide(page) {
  // The documented order.
  const order = await page.$$eval('section.ballot', (els) => els.map((e) => Number(e.dataset.row)));
  check(same(order, expected.order), `card order ${JSON.stringify(order)} != ${JSON.stringify(expected.order)}`);

  // Every card is shown (fewer than a chunk) with its crops, their labels and its page image,
  // without any scrolling: the last card's too.
  const last = order[order.length - 1];
  await page.waitForFunction((row) => {
    const img = document.querySelector(`#b${row} img`);
    return img && img.complete && img.naturalWidth > 0;
  }, last, { timeout: 10000 });
  const lastCrops = await page.$$eval(`#b${last} .crop`, (cs) => cs.map((c) => [getComputedStyle(c).backgroundImage, c.querySelectorAll('.opt').length]));
  check(lastCrops.length > 0 && lastCrops.every(([bg, n]) => bg.includes('.jpg') && n > 0),
    `the last card's crops without scrolling: ${JSON.stringify(lastCrops)}`);
  check((await page.evaluate(() => window.scrollY)) === 0, 'the page scrolled');
  await printed(page);

  await labels(page);

  // Export without a name: refused, nothing downloaded.
  let early = false;
  page.once('download', () => { early = true; });
  await page.click('#export');
  await page.waitForTimeout(300);
  check(!early, 'export went ahead without an auditor name');
  // The page speaks Vietnamese by default (the scan's language).
  check((await page.textContent('#status')).includes('họ tên'), 'no hint to enter a name');
  check((await page.getAttribute('html', 'lang')) === 'vi', 'the page does not say it is Vietnamese');

  // Decide.
  await page.fill('#auditor', expected.auditor);
  const sel = `#b${expected.answer.row} select.ans[data-q="${expected.answer.question}"]`;
  await page.selectOption(sel, expected.answer.value);
  // An answer whose box the scan found empty is taken, with a warning on its row; the faint
  // box chosen above is not empty: no warning there.
  const row = `#b${expected.answer.row}`;
  const q1 = `${row} select.ans[data-q="q1"]`;
  const q1warn = `${row} .q:has(select[data-q="q1"]) .pick-warn`;
  await page.selectOption(q1, '2');
  const warning = (await page.locator(q1warn).count()) ? await page.textContent(q1warn) : '';
  check(/phương án 2 .*0,0[0-2]\d.*0,030/.test(warning), `the warning for an empty box: "${warning}"`);
  check(await page.isVisible(q1warn), 'the warning is not visible');
  check((await page.locator(`${row} .q:has(select[data-q="${expected.answer.question}"]) .pick-warn`).count()) === 0,
    'a warning for the faint (not empty) box');
  const card = page.locator(`#b${expected.reject.row}`);
  await card.scrollIntoViewIfNeeded();
  await card.locator('select.verdict').selectOption('REJECT');
  await card.locator('input.note').fill(expected.reject.note);

  // Decisions survive a reload (localStorage, keyed by the scan).
  await reload(page);
  check((await page.inputValue('#auditor')) === expected.auditor, 'auditor name not restored');
  check((await page.inputValue(sel)) === expected.answer.value, 'answer not restored after reload');
  check(await page.isVisible(q1warn), 'the warning did not come back with its answer after the reload');
  await page.selectOption(q1, '');
  check((await page.locator(q1warn).count()) === 0, 'the warning stays once the answer is taken back');
  check((await card.locator('select.verdict').inputValue()) === 'REJECT', 'verdict not restored');
  check((await card.locator('input.note').inputValue()) === expected.reject.note, 'note not restored');
  check((await page.textContent('#status')).startsWith('2 trên '), `status says ${await page.textContent('#status')}`);

  await filters(page);

  // Export: the answer on the ballot the filter hides goes out with the rest.
  await exported(page);
}

// Manual entry: the auditor opens the form on an unreadable page, keys it, and Export refuses
// until every question is keyed; the keyed answers survive a reload and export as KEYED rows.
async function keyByHand(page) {
  const k = expected.keyed;
  await page.fill('#auditor', expected.auditor);
  const card = page.locator(`#b${k.row}`);
  await card.scrollIntoViewIfNeeded();
  check(await card.locator('details.keyed').count() === 1, 'no manual-entry form on the unreadable page');
  check(await page.locator('details.keyed').count() === 1, 'a manual-entry form on a page that was read');
  await card.locator('details.keyed summary').click();
  await page.waitForFunction((row) => document.querySelectorAll(`#b${row} select.k-unit option`).length > 1,
    k.row, { timeout: 5000 });
  await card.locator('select.k-form').selectOption(k.form);
  await card.locator('select.k-unit').selectOption(k.unit);
  await card.locator('input.k-serial').fill(k.serial);
  const block = card.locator(`.k-qs[data-f="${k.form}"]`);
  check(await block.isVisible(), 'the chosen form\'s questions are not shown');
  for (const [q, v] of k.answers.slice(0, -1)) await block.locator(`select.k-ans[data-q="${q}"]`).selectOption(v);
  // One question left: Export refuses and names the page.
  let early = false;
  page.once('download', () => { early = true; });
  await page.click('#export');
  await page.waitForTimeout(300);
  check(!early, 'export went ahead with a page half keyed');
  const source = await card.getAttribute('data-source');
  check((await page.textContent('#status')).includes(`${source}#1`), `status: ${await page.textContent('#status')}`);
  const [lastQ, lastV] = k.answers[k.answers.length - 1];
  await block.locator(`select.k-ans[data-q="${lastQ}"]`).selectOption(lastV);
  // Kept across a reload, the form open with what was keyed.
  await reload(page);
  check(await card.locator('details.keyed').evaluate((d) => d.open), 'the keyed form is closed after a reload');
  check((await card.locator('select.k-unit').inputValue()) === k.unit, 'keyed unit not restored');
  check((await card.locator('input.k-serial').inputValue()) === k.serial, 'keyed serial not restored');
  check((await block.locator(`select.k-ans[data-q="${lastQ}"]`).inputValue()) === lastV, 'keyed answer not restored');
  check(await card.evaluate((c) => c.classList.contains('decided')), 'the keyed page is not marked decided');
  await exported(page);
}

// Under each box of a crop, its option's id and label, placed from the crop's data-b; the
// score and state only on demand ("show scores", kept across a reload).
async function labels(page) {
  const crop = page.locator(`#b${expected.answer.row} .q:has(select[data-q="${expected.answer.question}"]) .crop`);
  const read = () => crop.evaluate((c) => {
    const r = c.getBoundingClientRect();
    const boxes = c.getAttribute('data-b').split('|').map((s) => s.split(' '));
    const opts = [...c.querySelectorAll('.opt')].map((o) => {
      const b = o.getBoundingClientRect();
      const sc = o.querySelector('.sc');
      return {
        option: o.dataset.option,
        text: o.querySelector('.l').textContent,
        centre: (b.left + b.right) / 2 - r.left - c.clientLeft,
        top: b.top - r.top - c.clientTop,
        score: sc.textContent,
        scoreShown: sc.getClientRects().length > 0,
      };
    });
    return { boxes, opts, height: c.clientHeight };
  });
  let got = await read();
  check(same(got.opts.map((o) => o.option), ['1', '2', '3', '4', '5']), `labelled options ${JSON.stringify(got.opts)}`);
  check(got.opts.length === 5 && got.opts[2].text === '3 Bình thường' && got.opts[0].text === '1 Rất không hài lòng',
    `labels ${JSON.stringify(got.opts.map((o) => o.text))}`);
  got.opts.forEach((o, k) => {
    const b = got.boxes[k];
    const centre = Number(b[1]) + Number(b[3]) / 2;
    check(Math.abs(o.centre - centre) <= 1.5, `label ${o.option} centred at ${o.centre}, its box at ${centre}`);
    check(o.top >= got.height - 0.5, `label ${o.option} over the image (top ${o.top}, crop ${got.height})`);
  });
  check(got.opts.every((o) => !o.scoreShown), 'scores shown before they were asked for');
  await page.check('#f-scores');
  got = await read();
  check(got.opts.every((o) => o.scoreShown), 'scores not shown on demand');
  check(/^0,0[3-5]\d không rõ$/.test(got.opts[2].score), `the faint box's score ${got.opts[2].score}`);
  check(got.opts.filter((o, k) => k !== 2).every((o) => /^0,0[0-3]\d trống$/.test(o.score)),
    `the empty boxes' scores ${JSON.stringify(got.opts.map((o) => o.score))}`);
  await reload(page);
  check(await page.isChecked('#f-scores'), '"show scores" not kept across a reload');
  await page.uncheck('#f-scores');
}

// In print every card shown keeps its crops: their image is a background printed exactly, and
// the PDF Chromium prints holds images.
async function printed(page) {
  await page.emulateMedia({ media: 'print' });
  const crops = await page.$$eval('section.ballot .crop', (cs) => cs.map((c) => {
    const s = getComputedStyle(c);
    return [s.backgroundImage.includes('.jpg'), s.printColorAdjust || s.webkitPrintColorAdjust, c.getClientRects().length > 0];
  }));
  check(crops.length > 10 && crops.every(([img, adjust, laid]) => img && adjust === 'exact' && laid),
    `crops in print: ${JSON.stringify(crops.slice(0, 3))}…`);
  check(await page.$eval('#export', (b) => getComputedStyle(b).display === 'none'), 'buttons printed');
  await page.emulateMedia({ media: 'screen' });
  const pdf = await page.pdf({ format: 'A4', printBackground: false });
  const images = (pdf.toString('latin1').match(/\/Subtype\s*\/Image/g) || []).length;
  console.log(`printed: ${pdf.length} bytes of PDF, ${images} images`);
  check(images >= 6, `the printed page holds ${images} images`);
}

// A page of thousands of ballots (phase "bulk"): opened in chunks, filters and "show more"
// quick, decisions on late cards exported. Prints the figures; asserts only generous bounds.
async function bulk(page, context) {
  const { total, chunk } = expected;
  const figures = { ballots: total, html_mb: +(expected.html_bytes / 1e6).toFixed(1) };
  const timing = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    const ready = performance.getEntriesByName('ballotscan-ready')[0];
    const start = performance.getEntriesByName('ballotscan-start')[0];
    return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, ready: ready ? ready.startTime : -1,
      script: ready && start ? ready.startTime - start.startTime : -1 };
  });
  figures.dom_content_loaded_ms = Math.round(timing.dcl);
  figures.script_ms = Math.round(timing.script);
  figures.script_ready_ms = Math.round(timing.ready);
  figures.load_ms = Math.round(timing.load);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  async function memory() {
    await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    return { heap_mb: +(m.JSHeapUsedSize / 1048576).toFixed(1), nodes: m.Nodes };
  }
  const atLoad = await memory();
  figures.js_heap_mb = atLoad.heap_mb;
  figures.dom_nodes = atLoad.nodes;
  const listedCount = async () => (await listed(page)).length;
  check((await listedCount()) === chunk, `cards shown at first: ${await listedCount()} (a chunk is ${chunk})`);
  check(images.size === chunk, `images fetched at load: ${images.size}, not the first chunk's ${chunk}`);
  check((await page.textContent('#shown')).startsWith(`${total} trên ${total} `), `shown: ${await page.textContent('#shown')}`);
  // Timed inside the page: the handler and the layout it causes.
  const timed = (fn, arg) => page.evaluate(([f, a]) => {
    const t0 = performance.now();
    (new Function('a', f))(a);
    void document.body.offsetHeight;
    return Math.round(performance.now() - t0);
  }, [fn, arg]);
  figures.show_more_ms = await timed('document.getElementById("show-more").click();');
  check((await listedCount()) === 2 * chunk, `after "show more": ${await listedCount()}`);
  figures.filter_ms = await timed('const s = document.getElementById("f-status"); s.value = a; s.dispatchEvent(new Event("change"));', 'invalid');
  check((await listedCount()) === chunk, `filtered to invalid: ${await listedCount()}`);
  check((await page.textContent('#shown')).startsWith(`${expected.invalid} trên ${total} `), `shown: ${await page.textContent('#shown')}`);
  figures.unfilter_ms = await timed('const s = document.getElementById("f-status"); s.value = ""; s.dispatchEvent(new Event("change"));');
  // Decide on the first card and on one shown only by "show more", then hide both behind a
  // filter: both still export.
  await page.fill('#auditor', expected.auditor);
  await page.selectOption('#b1 select.ans[data-q="q1"]', '2');
  await page.click('#show-more');
  const late = 2 * chunk;
  await page.selectOption(`#b${late} select.verdict`, 'REJECT');
  await page.selectOption('#f-status', 'rejected');
  check(!(await listed(page)).includes(1) && !(await listed(page)).includes(late), 'the decided cards are still listed');
  const afterAll = await memory();
  figures.js_heap_after_use_mb = afterAll.heap_mb;
  figures.dom_nodes_after_use = afterAll.nodes;
  const t0 = Date.now();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  await download.saveAs(expected.save_to);
  figures.export_ms = Date.now() - t0;
  const rows = parseCsv(readFileSync(expected.save_to, 'utf8').replace(/^\uFEFF/, ''));
  check(rows.length === 3 && same(rows[0], expected.header), `exported ${JSON.stringify(rows)}`);
  await keyboard(page);
  console.log(`figures: ${JSON.stringify(figures)}`);
  // Sanity bounds only: ten times what a laptop takes, so a slow machine passes and a page
  // that fetches or lays out everything at once does not.
  check(figures.load_ms < 60000, `load took ${figures.load_ms} ms`);
  check(figures.js_heap_mb < 512, `JS heap ${figures.js_heap_mb} MB after load`);
  check(figures.dom_nodes < 400 * total, `${figures.dom_nodes} DOM nodes after load`);
  check(figures.show_more_ms < 10000 && figures.filter_ms < 10000, `filter or "show more" took ${figures.filter_ms} / ${figures.show_more_ms} ms`);
}

// The shortcuts (after the export: what they decide is not exported here).
async function keyboard(page) {
  const { chunk } = expected;
  await page.selectOption('#f-status', '');
  await page.evaluate(() => { document.activeElement.blur(); window.scrollTo(0, 0); });
  const at = () => page.evaluate(() => {
    const a = document.activeElement;
    const card = a && a.closest('section.ballot');
    return `${card ? card.id : ''} ${a.getAttribute('data-q') || a.className}`;
  });
  const value = (sel) => page.inputValue(sel);
  await page.keyboard.press('n');
  check((await at()) === 'b1 q1', `the first "n" takes the ballot in view: ${await at()}`);
  await page.keyboard.press('n');
  check((await at()) === 'b2 q1', `"n" goes to the next ballot: ${await at()}`);
  await page.keyboard.press('p');
  await page.keyboard.press('j');
  check((await at()) === 'b1 q2', `"p" then "j": ${await at()}`);
  await page.keyboard.press('4');
  check((await value('#b1 select.ans[data-q="q2"]')) === '4', '"4" does not choose option 4');
  await page.keyboard.press('b');
  check((await value('#b1 select.ans[data-q="q2"]')) === 'BLANK', '"b" does not choose BLANK');
  await page.keyboard.press('0');
  check((await value('#b1 select.ans[data-q="q2"]')) === '', '"0" does not go back to as read');
  await page.keyboard.press('k');
  check((await at()) === 'b1 q1', `"k": ${await at()}`);
  await page.keyboard.press('r');
  check((await value('#b1 select.verdict')) === 'REJECT', '"r" does not reject the ballot');
  await page.keyboard.press('a');
  check((await value('#b1 select.verdict')) === 'ACCEPT', '"a" does not accept the ballot');
  check(await page.$eval('#b1', (c) => c.classList.contains('decided')), 'a shortcut\'s choice is not recorded');
  await page.keyboard.press('x');
  check((await value('#b1 select.verdict')) === '', '"x" does not take the verdict back');
  // Typing a note is typing, not shortcuts.
  await page.click('#b1 input.note');
  await page.keyboard.type('an');
  check((await value('#b1 input.note')) === 'an' && (await value('#b1 select.verdict')) === '', 'keys typed in a note acted as shortcuts');
  // Past the last ballot shown, "n" shows more.
  await page.focus(`#b${chunk} select.verdict`);
  await page.keyboard.press('n');
  check((await at()).startsWith(`b${chunk + 1} `), `"n" after the last shown ballot: ${await at()}`);
  check((await listed(page)).length === 2 * chunk, '"n" at the end did not show more');
}

// The cards listed, top to bottom (those no filter hides).
function listed(page) {
  return page.$$eval('section.ballot', (els) => els.filter((e) => !e.hidden).map((e) => Number(e.dataset.row)));
}

// Filters by reason and by to-decide: cards hidden, counts following, the choice kept across a
// reload under its own key.
async function filters(page) {
  const total = expected.order.length;
  check((await page.textContent('#shown')).startsWith(`${total} trên ${total} `), `shown: ${await page.textContent('#shown')}`);
  await page.selectOption('#f-reason', 'unknown_unit');
  check(same(await listed(page), [expected.reject.row]), `listed with reason unknown_unit: ${JSON.stringify(await listed(page))}`);
  check((await page.textContent('#shown')).startsWith(`1 trên ${total} `), `shown: ${await page.textContent('#shown')}`);
  // The other filters count within this one: one ballot in review, none for information.
  const text = (sel) => page.$eval(sel, (o) => o.textContent);
  check((await text('#f-status option[value="review"]')).endsWith('(1)'), `review count ${await text('#f-status option[value="review"]')}`);
  check((await text('#f-todo option[value="0"]')).endsWith('(0)'), `information count ${await text('#f-todo option[value="0"]')}`);
  check((await text('#f-reason option[value="ambiguous_mark"]')).endsWith('(1)'), 'a filter\'s own counts ignore its choice');
  await page.selectOption('#f-todo', '0');
  check(same(await listed(page), []), 'for information + unknown_unit lists a card');
  await page.selectOption('#f-todo', '');
  await reload(page);
  check((await page.inputValue('#f-reason')) === 'unknown_unit', 'the reason filter is not restored after a reload');
  check(same(await listed(page), [expected.reject.row]), `listed after the reload: ${JSON.stringify(await listed(page))}`);
  const keys = await page.evaluate(() => Object.keys(localStorage));
  check(keys.some((k) => k.startsWith('ballotscan-review-view/')), `no separate view key: ${keys}`);
  const decisionsKey = keys.find((k) => k.startsWith('ballotscan-review/'));
  const saved = decisionsKey ? await page.evaluate((k) => localStorage.getItem(k), decisionsKey) : '';
  check(!saved.includes('unknown_unit'), 'the view is stored with the decisions');
}

if (failures.length) {
  for (const f of failures) console.error(`FAIL: ${f}`);
  process.exit(1);
}
console.log('review page: all browser checks passed');

// Chromium hands localStorage writes to the browser process asynchronously: a reload a few
// milliseconds after a click (never a person's) can read the storage as it was before it. The
// test waits as long as any person would before reloading; what it checks after is unchanged.
async function reload(page) {
  await page.waitForTimeout(500);
  await page.reload();
}
