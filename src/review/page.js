// The review page's behaviour (inlined into index.html by src/review/page.rs).
// Work on load is proportional to the decisions already saved, not to the ballots listed:
// option lists and crop images are filled in only when a ballot scrolls into view.
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
  function entry(row) {
    var e = state.ballots[row];
    if (!e) e = state.ballots[row] = { answers: {}, verdict: '', note: '' };
    return e;
  }
  function decided(e) {
    return !!(e && (e.verdict || Object.keys(e.answers).length));
  }
  function tidy(row) {
    var e = state.ballots[row];
    if (e && !decided(e) && !e.note) delete state.ballots[row];
  }
  function mark(card) {
    var e = state.ballots[card.getAttribute('data-row')];
    card.classList.toggle('decided', decided(e));
  }
  function report(message) {
    var n = 0;
    Object.keys(state.ballots).forEach(function (r) { if (decided(state.ballots[r])) n++; });
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

  // Restore saved decisions; anything that no longer fits this page is dropped.
  Object.keys(state.ballots).forEach(function (row) {
    var card = document.getElementById('b' + row);
    var e = state.ballots[row];
    if (!card || !e || typeof e !== 'object') { delete state.ballots[row]; return; }
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
    tidy(row);
    mark(card);
  });
  auditorEl.value = state.auditor;
  report();

  document.addEventListener('change', function (ev) {
    var t = ev.target;
    var card = cardOf(t);
    if (!card) return;
    var row = card.getAttribute('data-row');
    if (t.matches('select.ans')) {
      var e = entry(row);
      if (t.value) e.answers[t.getAttribute('data-q')] = t.value;
      else delete e.answers[t.getAttribute('data-q')];
    } else if (t.matches('select.verdict')) {
      entry(row).verdict = t.value;
    } else {
      return;
    }
    tidy(row);
    mark(card);
    save();
  });
  document.addEventListener('input', function (ev) {
    var t = ev.target;
    if (t === auditorEl) { state.auditor = t.value; save(); return; }
    if (t.matches && t.matches('input.note')) {
      var card = cardOf(t);
      var row = card.getAttribute('data-row');
      entry(row).note = t.value;
      tidy(row);
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

  var cards = document.querySelectorAll('section.ballot');
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
    var rows = Object.keys(state.ballots).map(Number).sort(function (a, b) { return a - b; });
    var n = 0;
    rows.forEach(function (row) {
      var e = state.ballots[row];
      var card = document.getElementById('b' + row);
      if (!card || !decided(e)) return;
      // The ballot by what it is (form, unit, serial; its file's content for a page whose
      // code was not read), so the decision survives a rescan or renamed files.
      var who = [card.getAttribute('data-source'), card.getAttribute('data-page'),
        card.getAttribute('data-sha'), card.getAttribute('data-form'),
        card.getAttribute('data-unit'), card.getAttribute('data-serial')];
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
