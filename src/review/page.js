// The review page's behaviour (inlined into index.html by src/review/page.rs).
// Work on load is proportional to the decisions already saved and the cards shown (a chunk of
// a hundred at a time), not to the ballots listed: option lists and labels are filled in only
// when a card is shown, and hidden cards fetch no image.
// Saved decisions are kept per scan folder (its name) and per ballot (keyOf: form, version,
// unit and serial), never per row: a rescan that adds or renames files finds them on the
// same ballots; those whose ballot is gone are listed.
(function () {
  'use strict';
  // Sections, in order: storage and identity · showing a card · crops · warnings · decisions
  // (restore, orphans, recording) · view (filters, chunks, scores) · keyboard · export. A new
  // section (manual entry, say) goes before "keyboard" and uses cardOf, keyOf, entry, save.

  // ---- Storage and identity ------------------------------------------------------------------
  // For the browser test's timing: the page is parsed, the script starts.
  if (window.performance && performance.mark) performance.mark('ballotscan-start');
  var body = document.body;
  var KEY = 'ballotscan-review/' + body.getAttribute('data-scan');
  var HEADER = body.getAttribute('data-header').split(',');
  var WHOLE = body.getAttribute('data-whole');
  var TOTAL = Number(body.getAttribute('data-total'));
  var statusEl = document.getElementById('status');
  // The page's sentences in the auditor's language (from the catalogue, see page.rs).
  var TEXT = {};
  try { TEXT = JSON.parse(document.getElementById('text').textContent); } catch (e) { TEXT = {}; }
  function t(key, args) {
    var s = TEXT[key] || key;
    Object.keys(args || {}).forEach(function (k) { s = s.split('%{' + k + '}').join(String(args[k])); });
    return s;
  }
  var auditorEl = document.getElementById('auditor');
  var state = { auditor: '', ballots: {} };
  var storage = null;
  try {
    storage = window.localStorage;
    var raw = storage.getItem(KEY);
    if (raw) {
      var saved = JSON.parse(raw);
      if (saved && typeof saved === 'object') {
        if (typeof saved.auditor === 'string') state.auditor = saved.auditor;
        if (saved.ballots && typeof saved.ballots === 'object') state.ballots = saved.ballots;
      }
    }
  } catch (e) {
    storage = null;
  }

  function cardOf(el) {
    return el && el.closest ? el.closest('section.ballot') : null;
  }
  // A ballot's key: form, version, unit and serial when its QR code was read (the same in any
  // rescan, whatever the file is called), else its file's content and page, else its name and
  // page. Two cards of one ballot (a photocopy, a rescan) add their content and page.
  function identity(card) {
    var a = function (n) { return card.getAttribute('data-' + n) || ''; };
    if (a('form')) return a('form') + ' v' + a('version') + ' ' + a('unit') + ' ' + a('serial');
    if (a('sha')) return a('sha') + ':' + a('page');
    return a('source') + '#' + a('page');
  }
  var byKey = {};
  var allCards = document.querySelectorAll('section.ballot');
  var times = {};
  for (var c = 0; c < allCards.length; c++) {
    var id = identity(allCards[c]);
    times[id] = (times[id] || 0) + 1;
  }
  for (var d = 0; d < allCards.length; d++) {
    var card0 = allCards[d];
    var key0 = identity(card0);
    if (times[key0] > 1) key0 += '@' + card0.getAttribute('data-sha') + ':' + card0.getAttribute('data-page');
    card0.key = key0;
    byKey[key0] = card0;
  }
  function keyOf(card) {
    return card.key;
  }
  function entry(key) {
    var e = state.ballots[key];
    if (!e) e = state.ballots[key] = { answers: {}, verdict: '', note: '' };
    return e;
  }
  function decided(e) {
    return !!(e && (e.verdict || Object.keys(e.answers).length || keyedStarted(e)));
  }
  function tidy(key) {
    var e = state.ballots[key];
    if (e && !decided(e) && !e.note) delete state.ballots[key];
  }
  function mark(card) {
    var e = state.ballots[keyOf(card)];
    card.classList.toggle('decided', decided(e));
  }
  function report(message) {
    var n = 0;
    Object.keys(state.ballots).forEach(function (k) { if (byKey[k] && decided(state.ballots[k])) n++; });
    statusEl.textContent = (message ? message + ' · ' : '') + t('js_decided', { n: n, total: TOTAL }) +
      t(storage ? 'js_kept' : 'js_not_kept');
  }
  function save() {
    if (storage) {
      try { storage.setItem(KEY, JSON.stringify(state)); } catch (e) { storage = null; }
    }
    report();
  }
  // ---- Showing a card -------------------------------------------------------------------------
  // A question's option list (and a ballot's verdicts) is copied from its <template> on first
  // use.
  function fill(sel) {
    if (sel.getAttribute('data-filled')) return;
    sel.setAttribute('data-filled', '1');
    var t = document.getElementById('t-' + sel.getAttribute('data-t'));
    if (t && t.content) sel.appendChild(document.importNode(t.content, true));
  }
  // A card being shown: its labels drawn, its lists filled, its page image fetched now (the
  // crops take their image from the card's style as soon as it is laid out).
  function show(card) {
    if (card.shown) return;
    card.shown = true;
    var crops = card.querySelectorAll('.crop');
    for (var i = 0; i < crops.length; i++) labelCrop(crops[i]);
    var sels = card.querySelectorAll('select.ans, select.verdict');
    for (var j = 0; j < sels.length; j++) fill(sels[j]);
    var imgs = card.querySelectorAll('img[loading="lazy"]');
    for (var k = 0; k < imgs.length; k++) imgs[k].loading = 'eager';
  }

  // ---- Crops: option labels and scores ------------------------------------------------------
  // Under each box of a question's crop: the option's id and label (from its form's
  // <template>), and with "show scores" its fill score and state — placed from the crop's
  // data-b (page.rs crop_boxes: per box "option x y w h fill state"), drawn when the ballot is
  // shown.
  var DECIMAL = document.documentElement.lang === 'vi' ? ',' : '.';
  var STATE_WORD = { m: t('legend_marked'), a: t('legend_ambiguous'), e: t('legend_empty') };
  var labelCache = {};
  function labelsOf(tid) {
    if (labelCache[tid]) return labelCache[tid];
    var out = {};
    var tpl = document.getElementById('t-' + tid);
    var os = tpl && tpl.content ? tpl.content.querySelectorAll('option[data-l]') : [];
    for (var i = 0; i < os.length; i++) out[os[i].value] = os[i].getAttribute('data-l');
    labelCache[tid] = out;
    return out;
  }
  function boxesOf(crop) {
    if (!crop.boxes) {
      crop.boxes = (crop.getAttribute('data-b') || '').split('|').filter(Boolean).map(function (s) {
        var p = s.split(' ');
        return { option: p[0], x: Number(p[1]), y: Number(p[2]), w: Number(p[3]), h: Number(p[4]),
          fill: p[5] || '', state: p[6] || '' };
      });
    }
    return crop.boxes;
  }
  function labelCrop(crop) {
    if (crop.labelled) return;
    crop.labelled = true;
    var row = crop.parentNode;
    var sel = row && row.querySelector('select.ans');
    var labels = sel ? labelsOf(sel.getAttribute('data-t')) : {};
    var width = parseFloat(crop.style.width) || crop.offsetWidth;
    var boxes = boxesOf(crop);
    var centres = boxes.map(function (b) { return b.x + b.w / 2; }).sort(function (a, b) { return a - b; });
    boxes.forEach(function (b) {
      // The box's column: halfway to the next box on either side (the crop spans the columns).
      var c = b.x + b.w / 2;
      var half = Infinity;
      centres.forEach(function (o) { if (o !== c) half = Math.min(half, Math.abs(o - c) / 2); });
      if (!isFinite(half)) half = Math.max(b.w, 40);
      var left = Math.max(0, c - half);
      var right = Math.min(width, c + half);
      var el = document.createElement('span');
      el.className = 'opt s-' + b.state;
      el.style.left = left + 'px';
      el.style.width = Math.max(right - left, b.w) + 'px';
      el.setAttribute('data-option', b.option);
      var name = document.createElement('span');
      name.className = 'l';
      var id = document.createElement('b');
      id.textContent = b.option;
      name.appendChild(id);
      if (labels[b.option]) name.appendChild(document.createTextNode(' ' + labels[b.option]));
      var score = document.createElement('span');
      score.className = 'sc';
      score.textContent = b.fill.replace('.', DECIMAL) + ' ' + (STATE_WORD[b.state] || '');
      el.title = b.option + (labels[b.option] ? ' · ' + labels[b.option] : '') + ' — ' + score.textContent;
      el.appendChild(name);
      el.appendChild(score);
      crop.appendChild(el);
    });
  }
  // ---- Warnings: a chosen answer whose box looks empty ---------------------------------------
  // The auditor chose an option whose box the scan found empty (at or below the empty
  // threshold): said on the question's row, never blocked — the auditor may see a mark the
  // box missed.
  var EMPTY_AT = body.getAttribute('data-empty') || '';
  function checkChoice(sel) {
    var row = sel.parentNode;
    var crop = row.querySelector('.crop');
    var warn = row.querySelector('.pick-warn');
    var said = [];
    if (crop && sel.value) {
      var boxes = boxesOf(crop);
      sel.value.split(';').forEach(function (id) {
        boxes.forEach(function (b) {
          if (b.option === id && b.state === 'e') {
            said.push(t('js_empty_box', { option: id, fill: b.fill.replace('.', DECIMAL), empty: EMPTY_AT }));
          }
        });
      });
    }
    if (!said.length) {
      if (warn) row.removeChild(warn);
      return;
    }
    if (!warn) {
      warn = document.createElement('span');
      warn.className = 'pick-warn warn';
      row.appendChild(warn);
    }
    warn.textContent = said.join(' ');
  }

  function answerSelect(card, q) {
    var sels = card.querySelectorAll('select.ans');
    for (var i = 0; i < sels.length; i++) if (sels[i].getAttribute('data-q') === q) return sels[i];
    return null;
  }

  // ---- Decisions: restored, listed apart when orphaned, recorded ---------------------------
  // Restore saved decisions; a ballot no longer listed keeps its decisions, listed apart.
  var orphans = [];
  Object.keys(state.ballots).forEach(function (key) {
    var card = byKey[key];
    var e = state.ballots[key];
    if (!e || typeof e !== 'object') { delete state.ballots[key]; return; }
    if (!card) { orphans.push(key); return; }
    if (!e.answers || typeof e.answers !== 'object') e.answers = {};
    if (typeof e.verdict !== 'string') e.verdict = '';
    if (typeof e.note !== 'string') e.note = '';
    Object.keys(e.answers).forEach(function (q) {
      var sel = answerSelect(card, q);
      if (!sel) { delete e.answers[q]; return; }
      fill(sel);
      sel.value = e.answers[q];
      if (sel.value !== e.answers[q]) { delete e.answers[q]; sel.value = ''; }
      checkChoice(sel);
    });
    var v = card.querySelector('select.verdict');
    fill(v);
    v.value = e.verdict;
    if (v.value !== e.verdict) { e.verdict = ''; v.value = ''; }
    card.querySelector('input.note').value = e.note;
    keyedRestore(card, e);
    tidy(key);
    mark(card);
  });
  auditorEl.value = state.auditor;
  function showOrphans() {
    var box = document.getElementById('orphans');
    if (!box) return;
    var list = box.querySelector('ul');
    list.textContent = '';
    orphans.sort().forEach(function (key) {
      var e = state.ballots[key] || { answers: {} };
      var what = Object.keys(e.answers || {}).sort().map(function (q) { return q + ' = ' + e.answers[q]; });
      if (e.verdict) what.push(WHOLE + ' = ' + e.verdict);
      if (keyedStarted(e)) what.push(keyedSummary(e.keyed));
      if (e.note) what.push('"' + e.note + '"');
      var li = document.createElement('li');
      li.className = 'orphan';
      li.textContent = key + ': ' + what.join(', ');
      list.appendChild(li);
    });
    box.hidden = orphans.length === 0;
  }
  showOrphans();
  document.getElementById('forget').addEventListener('click', function () {
    orphans.forEach(function (key) { delete state.ballots[key]; });
    orphans = [];
    showOrphans();
    save();
  });
  report();

  document.addEventListener('change', function (ev) {
    var t = ev.target;
    var card = cardOf(t);
    if (!card) return;
    var key = keyOf(card);
    if (t.matches('select.ans')) {
      var e = entry(key);
      if (t.value) e.answers[t.getAttribute('data-q')] = t.value;
      else delete e.answers[t.getAttribute('data-q')];
      checkChoice(t);
    } else if (t.matches('select.verdict')) {
      entry(key).verdict = t.value;
    } else if (t.matches(KEYED_FIELDS)) {
      keyedTake(card, entry(key));
    } else {
      return;
    }
    tidy(key);
    mark(card);
    save();
  });
  document.addEventListener('input', function (ev) {
    var t = ev.target;
    if (t === auditorEl) { state.auditor = t.value; save(); return; }
    if (t.matches && t.matches('input.note')) {
      var card = cardOf(t);
      var key = keyOf(card);
      entry(key).note = t.value;
      tidy(key);
      save();
    }
  });
  // A select reached by keyboard or clicked before its ballot was seen still gets its options.
  ['focusin', 'mousedown', 'touchstart'].forEach(function (type) {
    document.addEventListener(type, function (ev) {
      var t = ev.target;
      if (t && t.matches && t.matches('select.ans, select.verdict')) fill(t);
    }, true);
  });

  // ---- View: filters ----------------------------------------------------------------------
  // Which cards are listed: by to-decide/for-information, status, unit and reason. The choice
  // is kept in this browser under its own key (VIEW_KEY), never with the decisions; a card a
  // filter hides keeps its decisions and is exported like any other.
  var VIEW_KEY = 'ballotscan-review-view/' + body.getAttribute('data-scan');
  var shownEl = document.getElementById('shown');
  var FILTERS = [
    { name: 'todo', el: document.getElementById('f-todo'),
      of: function (card) { return [card.getAttribute('data-todo') || '']; } },
    { name: 'status', el: document.getElementById('f-status'),
      of: function (card) { var m = /\bst-(\w+)/.exec(card.className); return [m ? m[1] : '']; } },
    { name: 'unit', el: document.getElementById('f-unit'),
      of: function (card) { return [card.getAttribute('data-unit') || body.getAttribute('data-no-unit')]; } },
    { name: 'reason', el: document.getElementById('f-reason'),
      of: function (card) { return (card.getAttribute('data-reasons') || '').split(' ').filter(Boolean); } },
  ].filter(function (f) { return f.el; });
  var view = {};
  for (var fc = 0; fc < allCards.length; fc++) {
    var facets = {};
    FILTERS.forEach(function (f) { facets[f.name] = f.of(allCards[fc]); });
    allCards[fc].facets = facets;
  }
  function matches(card, skip) {
    for (var i = 0; i < FILTERS.length; i++) {
      var f = FILTERS[i];
      if (f.name !== skip && view[f.name] && card.facets[f.name].indexOf(view[f.name]) < 0) return false;
    }
    return true;
  }
  // Each choice's count is the cards it would list with the other filters as they are.
  function recount() {
    FILTERS.forEach(function (f) {
      var n = { '': 0 };
      for (var i = 0; i < allCards.length; i++) {
        var card = allCards[i];
        if (!matches(card, f.name)) continue;
        n['']++;
        card.facets[f.name].forEach(function (v) { n[v] = (n[v] || 0) + 1; });
      }
      for (var j = 0; j < f.el.options.length; j++) {
        var o = f.el.options[j];
        o.textContent = o.getAttribute('data-label') + ' (' + (n[o.value] || 0) + ')';
      }
    });
  }
  // Of the matching cards, the first `limit` are shown (CHUNK at first and after each change
  // of filter, CHUNK more for each "show more"); the rest stay hidden: not laid out, their
  // images not fetched.
  var CHUNK = Number(body.getAttribute('data-chunk')) || 100;
  var limit = CHUNK;
  var moreEl = document.getElementById('more');
  var showMoreEl = document.getElementById('show-more');
  function applyView() {
    var matching = 0;
    for (var i = 0; i < allCards.length; i++) {
      var card = allCards[i];
      var m = matches(card, null);
      if (m) matching++;
      var hide = !(m && matching <= limit);
      if (card.hidden !== hide) card.hidden = hide;
      if (!hide) show(card);
    }
    recount();
    if (shownEl) shownEl.textContent = t('js_shown', { shown: matching, total: TOTAL });
    var left = Math.max(0, matching - limit);
    if (moreEl) {
      moreEl.hidden = left === 0;
      showMoreEl.textContent = t('js_more', { n: Math.min(CHUNK, left), left: left });
    }
  }
  if (moreEl) {
    showMoreEl.addEventListener('click', function () { limit += CHUNK; applyView(); });
  }
  function saveView() {
    if (!storage) return;
    try { storage.setItem(VIEW_KEY, JSON.stringify(view)); } catch (e) { /* the view is a convenience */ }
  }
  (function restoreView() {
    var saved = null;
    try { saved = storage && JSON.parse(storage.getItem(VIEW_KEY) || 'null'); } catch (e) { saved = null; }
    FILTERS.forEach(function (f) {
      var v = saved && typeof saved[f.name] === 'string' ? saved[f.name] : '';
      f.el.value = v;
      // A choice this page no longer offers (a unit without flagged ballots now) is dropped.
      view[f.name] = f.el.value === v ? v : '';
      f.el.value = view[f.name];
    });
    view.scores = !!(saved && saved.scores === true);
  })();
  // Scores on demand: each box's fill score and state under its label.
  var scoresEl = document.getElementById('f-scores');
  function applyScores() {
    body.classList.toggle('scores', !!view.scores);
  }
  if (scoresEl) {
    scoresEl.checked = !!view.scores;
    scoresEl.addEventListener('change', function () {
      view.scores = scoresEl.checked;
      saveView();
      applyScores();
    });
  }
  applyScores();
  FILTERS.forEach(function (f) {
    f.el.addEventListener('change', function () {
      view[f.name] = f.el.value;
      limit = CHUNK;
      saveView();
      applyView();
    });
  });
  applyView();

  // ---- Manual entry (KEYED) ---------------------------------------------------------------
  // A page the scanner could not read as a ballot (no QR code, no alignment) has a form
  // (review/keyed.rs) where the auditor keys its form, unit, serial and answers from the image.
  // They are kept with the page's decisions as `keyed` ({ form: 'id|version', unit, serial,
  // answers }) and exported as a KEYED row and one row per question (audit::Decision::Keyed);
  // Export refuses while a keyed page is unfinished, so the tally never gets half a ballot.
  // The lists are filled only when the form is opened (or restored).
  var KEYED_FIELDS = 'select.k-form, select.k-unit, input.k-serial, select.k-ans';
  // The decision's word and the script's sentence, from the units' template (saved decisions
  // are restored before this section runs, hence a function).
  function keyedText(name) {
    var t = document.getElementById('t-k-units');
    return (t && t.getAttribute('data-' + name)) || '';
  }
  function keyedStarted(e) {
    var k = e && e.keyed;
    return !!(k && (k.unit || k.serial || Object.keys(k.answers || {}).length));
  }
  function keyedBlock(card, form) {
    var blocks = card.querySelectorAll('.k-qs');
    for (var i = 0; i < blocks.length; i++) if (blocks[i].getAttribute('data-f') === form) return blocks[i];
    return null;
  }
  // Copies the form into a card from its template on first use, presets what the page says
  // (its form, the unit and serial its QR code named), fills the lists, shows the chosen
  // form's questions.
  function keyedPrepare(card) {
    var form = card && card.querySelector('details.keyed');
    if (!form) return null;
    if (!form.querySelector('.k-id')) {
      var t = document.getElementById('t-k-form');
      if (!t || !t.content) return null;
      form.appendChild(document.importNode(t.content, true));
      var unit = form.querySelector('select.k-unit');
      fill(unit);
      unit.value = form.getAttribute('data-unit') || '';
      form.querySelector('select.k-form').value = form.getAttribute('data-form') || '';
      form.querySelector('input.k-serial').value = form.getAttribute('data-serial') || '';
    }
    var sels = form.querySelectorAll('select.k-ans');
    for (var i = 0; i < sels.length; i++) fill(sels[i]);
    keyedShowForm(card);
    return form;
  }
  function keyedShowForm(card) {
    var chosen = card.querySelector('select.k-form').value;
    var blocks = card.querySelectorAll('.k-qs');
    for (var i = 0; i < blocks.length; i++) blocks[i].hidden = blocks[i].getAttribute('data-f') !== chosen;
  }
  // What the card's form says now, kept in the page's entry (dropped when nothing is keyed).
  function keyedTake(card, e) {
    keyedPrepare(card);
    var form = card.querySelector('select.k-form').value;
    var k = {
      form: form,
      unit: card.querySelector('select.k-unit').value,
      serial: card.querySelector('input.k-serial').value.trim(),
      answers: {},
    };
    var block = keyedBlock(card, form);
    var sels = block ? block.querySelectorAll('select.k-ans') : [];
    for (var i = 0; i < sels.length; i++) if (sels[i].value) k.answers[sels[i].getAttribute('data-q')] = sels[i].value;
    e.keyed = k;
    if (!keyedStarted(e)) delete e.keyed;
    card.querySelector('details.keyed').classList.toggle('k-started', keyedStarted(e));
  }
  function keyedRestore(card, e) {
    if (!e.keyed || typeof e.keyed !== 'object') { delete e.keyed; return; }
    var form = keyedPrepare(card);
    if (!form) { delete e.keyed; return; }
    var k = e.keyed;
    var set = function (el, v) { el.value = typeof v === 'string' ? v : ''; };
    set(form.querySelector('select.k-form'), k.form);
    set(form.querySelector('select.k-unit'), k.unit);
    set(form.querySelector('input.k-serial'), k.serial);
    keyedShowForm(card);
    var block = keyedBlock(card, form.querySelector('select.k-form').value);
    Object.keys(k.answers || {}).forEach(function (q) {
      var sel = block && block.querySelector('select.k-ans[data-q="' + CSS.escape(q) + '"]');
      if (sel) set(sel, k.answers[q]);
    });
    form.open = true;
    // What no longer fits the page (a form or unit it does not list) is dropped.
    keyedTake(card, e);
  }
  function keyedSummary(k) {
    return keyedText('keyed') + ' ' + [k.form.replace('|', ' v'), k.unit, k.serial].join(' ').trim();
  }
  // The pages keyed but not finished: named as the card's heading names them.
  function keyedUnfinished() {
    var out = [];
    Object.keys(state.ballots).forEach(function (key) {
      var card = byKey[key];
      var e = state.ballots[key];
      if (!card || !keyedStarted(e)) return;
      keyedPrepare(card);
      var k = e.keyed;
      var block = keyedBlock(card, k.form);
      var sels = block ? block.querySelectorAll('select.k-ans') : [];
      var whole = !!block && !!k.unit && /^[0-9]{1,9}$/.test(k.serial) && !e.verdict;
      for (var i = 0; i < sels.length; i++) if (!k.answers[sels[i].getAttribute('data-q')]) whole = false;
      if (!whole) out.push(card.getAttribute('data-source') + '#' + card.getAttribute('data-page'));
    });
    return out.sort();
  }
  // decisions.csv's rows for a keyed page: the KEYED row (with the note), then each answer in
  // the form's order; the page is named by its file's content and page, as its code was not read.
  function keyedRows(card, e, auditor) {
    if (!keyedStarted(e)) return [];
    keyedPrepare(card);
    var k = e.keyed;
    var bar = k.form.lastIndexOf('|');
    var who = [card.getAttribute('data-source'), card.getAttribute('data-page'),
      card.getAttribute('data-sha'), k.form.slice(0, bar), k.form.slice(bar + 1), k.unit, k.serial];
    var rows = [who.concat([WHOLE, keyedText('keyed'), auditor, e.note])];
    var block = keyedBlock(card, k.form);
    var sels = block ? block.querySelectorAll('select.k-ans') : [];
    for (var i = 0; i < sels.length; i++) {
      var q = sels[i].getAttribute('data-q');
      if (k.answers[q]) rows.push(who.concat([q, k.answers[q], auditor, '']));
    }
    return rows;
  }
  document.addEventListener('toggle', function (ev) {
    var t = ev.target;
    if (t && t.matches && t.matches('details.keyed') && t.open) keyedPrepare(cardOf(t));
  }, true);
  document.addEventListener('click', function (ev) {
    var t = ev.target;
    if (!t || !t.matches || !t.matches('button.k-clear')) return;
    var card = cardOf(t);
    var key = keyOf(card);
    var form = card.querySelector('details.keyed');
    var fields = form.querySelectorAll('select.k-unit, input.k-serial, select.k-ans');
    for (var i = 0; i < fields.length; i++) fields[i].value = '';
    if (state.ballots[key]) delete state.ballots[key].keyed;
    form.classList.remove('k-started');
    tidy(key);
    mark(card);
    save();
  });

  // ---- Keyboard: the common choices -------------------------------------------------------
  // n / p: next / previous ballot (the first press takes the ballot in view; "show more" when
  // the shown ones run out); j / k: next / previous question; 1–9: that option of the question
  // in focus; 0: back to "as read"; b: BLANK; m: MULTI; a: accept the ballot as read; r: reject
  // it; x: no verdict. Never while typing in a text field, nor with Ctrl, Alt or Meta.
  // The values are those of decisions.csv (page.rs writes the same ones into the lists).
  var VERDICT_KEYS = { a: 'ACCEPT', r: 'REJECT', x: '' };
  var ANSWER_KEYS = { b: 'BLANK', m: 'MULTI', 0: '' };
  function shownCards() {
    return Array.prototype.filter.call(allCards, function (c) { return !c.hidden; });
  }
  function headerBottom() {
    var top = document.querySelector('header.top');
    return top ? top.getBoundingClientRect().bottom : 0;
  }
  function currentCard() {
    var c = cardOf(document.activeElement);
    if (c && !c.hidden) return c;
    var list = shownCards();
    var below = headerBottom();
    for (var i = 0; i < list.length; i++) if (list[i].getBoundingClientRect().bottom > below) return list[i];
    return list[0] || null;
  }
  function focusCard(card) {
    var first = card.querySelector('select.ans, select.verdict');
    card.scrollIntoView({ block: 'start' });
    if (first) first.focus({ preventScroll: true });
  }
  function stepCard(dir) {
    var list = shownCards();
    var cur = currentCard();
    if (!cur) return;
    if (cardOf(document.activeElement) !== cur) { focusCard(cur); return; }
    var i = list.indexOf(cur);
    var target = list[i + dir];
    if (!target && dir > 0 && moreEl && !moreEl.hidden) {
      limit += CHUNK;
      applyView();
      target = shownCards()[i + 1];
    }
    if (target) focusCard(target);
  }
  function stepQuestion(dir) {
    var card = currentCard();
    if (!card) return;
    var qs = Array.prototype.slice.call(card.querySelectorAll('select.ans'));
    var i = qs.indexOf(document.activeElement);
    var next = i < 0 ? qs[dir > 0 ? 0 : qs.length - 1] : qs[i + dir];
    if (next) next.focus();
  }
  // Sets a list as if the auditor had chosen in it (the change handler records it).
  function choose(sel, value) {
    if (!sel) return;
    fill(sel);
    var was = sel.value;
    sel.value = value;
    if (sel.value !== value) { sel.value = was; return; }
    if (value !== was) sel.dispatchEvent(new Event('change', { bubbles: true }));
  }
  document.addEventListener('keydown', function (ev) {
    if (ev.ctrlKey || ev.altKey || ev.metaKey || ev.defaultPrevented) return;
    var target = ev.target;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.isContentEditable)) return;
    // Nor in a manual-entry form, where letters find a unit in its list.
    if (target && target.closest && target.closest('details.keyed')) return;
    var key = ev.key;
    var question = target && target.matches && target.matches('select.ans') ? target : null;
    if (key === 'n' || key === 'p') stepCard(key === 'n' ? 1 : -1);
    else if (key === 'j' || key === 'k') stepQuestion(key === 'j' ? 1 : -1);
    else if (question && /^[1-9]$/.test(key)) {
      // The form's options come first in the list, after "as read"; BLANK and MULTI after.
      var o = question.options[Number(key)];
      if (!o || !o.hasAttribute('data-l')) return;
      choose(question, o.value);
    } else if (question && Object.prototype.hasOwnProperty.call(ANSWER_KEYS, key)) choose(question, ANSWER_KEYS[key]);
    else if (Object.prototype.hasOwnProperty.call(VERDICT_KEYS, key)) {
      var card = currentCard();
      if (!card) return;
      choose(card.querySelector('select.verdict'), VERDICT_KEYS[key]);
    } else return;
    ev.preventDefault();
  });

  // ---- Export: decisions.csv ---------------------------------------------------------------
  // decisions.csv: what `ballotscan` reads back (audit::load_decisions). Cells are quoted as
  // RFC 4180 says and, like every CSV the tool writes, a cell that a spreadsheet would run as
  // a formula gets a leading apostrophe (the reader takes it off again).
  function cell(v) {
    var s = String(v == null ? '' : v);
    // A name that already starts with ' and a formula character gets one more ', as in
    // output::neutralise, so the reader gives the name back whole.
    if (/^'*[=+\-@\t\r]/.test(s)) s = "'" + s;
    if (/[",\r\n]/.test(s)) s = '"' + s.replace(/"/g, '""') + '"';
    return s;
  }
  function decisionsCsv(auditor) {
    var lines = [HEADER.map(cell).join(',')];
    // In ballots.csv order (the cards' rows), whatever order they were decided in.
    var decidedCards = Object.keys(state.ballots).map(function (k) { return byKey[k]; })
      .filter(function (card) { return card && decided(state.ballots[keyOf(card)]); })
      .sort(function (a, b) { return Number(a.getAttribute('data-row')) - Number(b.getAttribute('data-row')); });
    var n = 0;
    decidedCards.forEach(function (card) {
      var e = state.ballots[keyOf(card)];
      // The ballot by what it is (form, version, unit, serial; its file's content for a page
      // whose code was not read), so the decision survives a rescan or renamed files.
      var who = [card.getAttribute('data-source'), card.getAttribute('data-page'),
        card.getAttribute('data-sha'), card.getAttribute('data-form'),
        card.getAttribute('data-version'), card.getAttribute('data-unit'),
        card.getAttribute('data-serial')];
      var sels = card.querySelectorAll('select.ans');
      for (var i = 0; i < sels.length; i++) {
        var q = sels[i].getAttribute('data-q');
        if (e.answers[q]) {
          lines.push(who.concat([q, e.answers[q], auditor, e.note]).map(cell).join(','));
          n++;
        }
      }
      if (e.verdict) {
        lines.push(who.concat([WHOLE, e.verdict, auditor, e.note]).map(cell).join(','));
        n++;
      }
      keyedRows(card, e, auditor).forEach(function (r) { lines.push(r.map(cell).join(',')); n++; });
    });
    return { text: '\ufeff' + lines.join('\r\n') + '\r\n', rows: n };
  }
  document.getElementById('export').addEventListener('click', function () {
    var auditor = state.auditor.trim();
    if (!auditor) {
      report(t('js_need_name'));
      auditorEl.focus();
      return;
    }
    var unfinished = keyedUnfinished();
    if (unfinished.length) {
      report(keyedText('unfinished').split('%{list}').join(unfinished.join(', ')));
      return;
    }
    var csv = decisionsCsv(auditor);
    var url = URL.createObjectURL(new Blob([csv.text], { type: 'text/csv;charset=utf-8' }));
    var a = document.createElement('a');
    a.href = url;
    a.download = 'decisions.csv';
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
    report(t('js_exported', { n: csv.rows }));
  });
  // For the browser test's timing: the page is ready for the auditor.
  if (window.performance && performance.mark) performance.mark('ballotscan-ready');
})();
