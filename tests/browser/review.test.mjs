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
    if (!u.startsWith('file:') && !u.startsWith('blob:') && !u.startsWith('data:')) offline.push(u);
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(indexPath).href);

  if (expected.phase === 'rescan') {
    await afterRescan(page);
  } else if (expected.phase === 'keyed') {
    await keyByHand(page);
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
  // The decision whose ballot is gone is listed, not dropped and not exported.
  check(!(await page.locator('#orphans').isHidden()), 'no list of decisions that match no ballot');
  const items = await page.$$eval('#orphans li', (lis) => lis.map((l) => l.textContent));
  check(items.length === 1 && items[0].includes(expected.orphan) && items[0].includes(expected.orphan_what),
    `orphans listed: ${JSON.stringify(items)}`);
  await exported(page);
  // Forgotten on request, for good.
  await page.click('#forget');
  check(await page.locator('#orphans').isHidden(), 'the list stays after Forget');
  await page.reload();
  check(await page.locator('#orphans').isHidden(), 'forgotten decisions came back after a reload');
  check((await page.locator(`#b${expected.reject.row} select.verdict`).inputValue()) === 'REJECT',
    'Forget dropped a decision that matches a ballot');
}

async function decide(page) {
  // The documented order.
  const order = await page.$$eval('section.ballot', (els) => els.map((e) => Number(e.dataset.row)));
  check(same(order, expected.order), `card order ${JSON.stringify(order)} != ${JSON.stringify(expected.order)}`);

  // Crops get their image only once their ballot is in view; the lazy <img> then loads.
  const target = page.locator(`#b${expected.answer.row}`);
  await target.scrollIntoViewIfNeeded();
  await page.waitForFunction((row) => {
    const crops = document.querySelectorAll(`#b${row} .crop`);
    return crops.length > 0 && [...crops].every((c) => c.style.backgroundImage.includes('.jpg'));
  }, expected.answer.row, { timeout: 10000 });
  await page.waitForFunction((row) => {
    const img = document.querySelector(`#b${row} img`);
    return img && img.complete && img.naturalWidth > 0;
  }, expected.answer.row, { timeout: 10000 });
  const last = order[order.length - 1];
  const farCrops = await page.$$eval(`#b${last} .crop`, (cs) => cs.filter((c) => c.style.backgroundImage).length);
  check(order.length < 4 || farCrops === 0, 'crops far below the view were filled on load (not lazy)');

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
  const card = page.locator(`#b${expected.reject.row}`);
  await card.scrollIntoViewIfNeeded();
  await card.locator('select.verdict').selectOption('REJECT');
  await card.locator('input.note').fill(expected.reject.note);

  // Decisions survive a reload (localStorage, keyed by the scan).
  await page.reload();
  check((await page.inputValue('#auditor')) === expected.auditor, 'auditor name not restored');
  check((await page.inputValue(sel)) === expected.answer.value, 'answer not restored after reload');
  check((await card.locator('select.verdict').inputValue()) === 'REJECT', 'verdict not restored');
  check((await card.locator('input.note').inputValue()) === expected.reject.note, 'note not restored');
  check((await page.textContent('#status')).startsWith('2 trên '), `status says ${await page.textContent('#status')}`);

  // Export.
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
  await page.reload();
  check(await card.locator('details.keyed').evaluate((d) => d.open), 'the keyed form is closed after a reload');
  check((await card.locator('select.k-unit').inputValue()) === k.unit, 'keyed unit not restored');
  check((await card.locator('input.k-serial').inputValue()) === k.serial, 'keyed serial not restored');
  check((await block.locator(`select.k-ans[data-q="${lastQ}"]`).inputValue()) === lastV, 'keyed answer not restored');
  check(await card.evaluate((c) => c.classList.contains('decided')), 'the keyed page is not marked decided');
  await exported(page);
}

if (failures.length) {
  for (const f of failures) console.error(`FAIL: ${f}`);
  process.exit(1);
}
console.log('review page: all browser checks passed');
