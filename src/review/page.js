// The review page's behaviour (inlined into index.html by src/review/page.rs).
// Work on load is proportional to the decisions already saved, not to the ballots listed:
// option lists and crop images are filled in only when a ballot scrolls into view.
// Saved decisions are kept per scan folder (its name) and per ballot (keyOf: form, version,
// unit and serial), never per row: a rescan that adds or renames files finds them on the
// same ballots; those whose ballot is gone are listed.
(function () {
  'use strict';
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
  // A question's option list is copied from its form's <template> on first use.
  function fill(sel) {
    if (sel.getAttribute('data-filled')) return;
    sel.setAttribute('data-filled', '1');
    var t = document.getElementById('t-' + sel.getAttribute('data-t'));
    if (t && t.content) sel.appendChild(document.importNode(t.content, true));
  }
  function show(card) {
    var img = card.getAttribute('data-img');
    if (img) {
      var crops = card.querySelectorAll('.crop');
      for (var i = 0; i < crops.length; i++) crops[i].style.backgroundImage = 'url(' + JSON.stringify(img) + ')';
    }
    var sels = card.querySelectorAll('select.ans');
    for (var j = 0; j < sels.length; j++) fill(sels[j]);
  }
  function answerSelect(card, q) {
    var sels = card.querySelectorAll('select.ans');
    for (var i = 0; i < sels.length; i++) if (sels[i].getAttribute('data-q') === q) return sels[i];
    return null;
  }

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
    });
    var v = card.querySelector('select.verdict');
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
      if (t && t.matches && t.matches('select.ans')) fill(t);
    }, true);
  });

  var cards = allCards;
  if ('IntersectionObserver' in window) {
    var seen = new IntersectionObserver(function (items) {
      items.forEach(function (it) {
        if (it.isIntersecting) { show(it.target); seen.unobserve(it.target); }
      });
    }, { rootMargin: '800px 0px' });
    for (var i = 0; i < cards.length; i++) seen.observe(cards[i]);
  } else {
    for (var k = 0; k < cards.length; k++) show(cards[k]);
  }

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
})();
