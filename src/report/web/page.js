// The study report's script: reads the data island, draws the plots with Vega-Lite (vega-embed) and
// builds the tables. Every string from the data goes through textContent (never innerHTML).
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('rnnas-data').textContent);
  var root = document.documentElement;
  var trials = D.trials || [];
  var limits = D.limits || {};
  var big = trials.length > 1500;  // thousands of points: canvas draws them faster than SVG
  var pending = [];

  // ---- helpers ----
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || v === '') return '';
    if (typeof v !== 'number') return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
    return Number(v.toPrecision(digits || 4)).toString();
  }
  function bytes(v) { return v === null || v === undefined ? '' : Math.round(v).toLocaleString('en-US') + ' B'; }
  function empty(parent, text) { parent.appendChild(el('div', { 'class': 'empty' }, text)); }
  function embed(parent, spec) {
    var div = el('div', { 'class': 'chart' });
    parent.appendChild(div);
    spec.$schema = 'https://vega.github.io/schema/vega-lite/v5.json';
    spec.config = Object.assign({ view: { stroke: '#e4e7ec' }, axis: { labelFontSize: 11, titleFontSize: 12 },
      legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 } }, spec.config || {});
    pending.push(vegaEmbed(div, spec, { actions: { export: true, source: false, compiled: false, editor: false },
      renderer: big ? 'canvas' : 'svg', tooltip: true }));
  }
  var task = D.task;
  var metricTitle = task === 'regression' ? 'validation RMSE' : task === 'classification' ?
    'validation error (1 - accuracy)' : 'validation error';
  var testTitle = task === 'regression' ? 'test RMSE' : 'test error';
  var costs = [
    { key: 'flash', title: 'flash (bytes)', limit: limits.flash_bytes, cap: limits.target_flash_bytes, capName: "target's flash" },
    { key: 'ram', title: 'RAM (bytes)', limit: limits.ram_bytes, cap: limits.target_ram_bytes, capName: "target's RAM" },
    { key: 'latency', title: 'estimated latency per inference (ms)', limit: limits.latency_ms },
    { key: 'energy', title: 'estimated energy per inference (uJ)', limit: limits.energy_uj }
  ];
  var kindNames = { feasible: 'feasible', over: 'over a limit', pruned: 'pruned early (ASHA)',
    rejected: 'rejected before training', failed: 'failed', running: 'running', waiting: 'waiting' };
  var kindColors = { feasible: '#2f6fde', over: '#f79009', pruned: '#98a2b3', test: '#d92d20' };

  // ---- header ----
  var S = D.study.settings || {};
  document.title = D.title;
  document.getElementById('title').textContent = D.title;
  var t = D.target || {};
  var sub = 'dataset ' + (S.data || '?') + ' · target ' + (t.name || S.target || '?');
  if (t.core) sub += ' (' + t.core + ', ' + fmt(t.clock_mhz) + ' MHz, ' + bytes(t.flash_bytes) + ' flash, ' +
    bytes(t.ram_bytes) + ' RAM' + (t.calibrated ? ', calibrated' : '') + ')';
  if (t.note) sub += ' · ' + t.note;
  document.getElementById('subtitle').textContent = sub;
  var chips = document.getElementById('chips');
  function chip(label, value) {
    var c = el('span', { 'class': 'chip' });
    c.appendChild(document.createTextNode(label + ' '));
    c.appendChild(el('b', null, value));
    chips.appendChild(c);
  }
  chip('study', D.study.name);
  chip('trials', trials.length);
  Object.keys(kindNames).forEach(function (k) { if (D.counts && D.counts[k]) chip(kindNames[k], D.counts[k]); });
  chip('strategy', S.strategy || '?');
  if (limits.flash_bytes) chip('flash ≤', bytes(limits.flash_bytes));
  if (limits.ram_bytes) chip('RAM ≤', bytes(limits.ram_bytes));
  if (limits.latency_ms) chip('latency ≤', fmt(limits.latency_ms) + ' ms');
  if (limits.energy_uj) chip('energy ≤', fmt(limits.energy_uj) + ' uJ');
  chip('objectives', (D.objectives || []).join(', '));
  document.getElementById('footer').textContent = 'rnnas ' + D.version + ' · ' + D.storage + ' · generated ' + D.generated;

  // ---- Pareto fronts ----
  (function () {
    var parent = document.getElementById('pareto-charts');
    var trained = trials.filter(function (r) { return r.val !== null && (r.kind === 'feasible' || r.kind === 'over' || r.kind === 'pruned'); });
    var rejected = trials.filter(function (r) { return r.kind === 'rejected'; });
    var note = document.getElementById('pareto-note');
    if (!trained.length) {
      var failed = trials.filter(function (r) { return r.kind === 'failed'; });
      var reasons = {};
      failed.forEach(function (r) { reasons[r.reason || '(no reason recorded)'] = (reasons[r.reason] || 0) + 1; });
      var msg = trials.length === 0 ? 'This study has no trials yet.' :
        'No trial has a validation metric yet (' + trials.length + ' trials: ' +
        Object.keys(D.counts || {}).map(function (k) { return D.counts[k] + ' ' + (kindNames[k] || k); }).join(', ') + ').';
      empty(parent, msg);
      Object.keys(reasons).forEach(function (r) { empty(parent, reasons[r] + ' failed: ' + r); });
      return;
    }
    note.textContent = 'Every trained trial (hover for its figures, click to find it in the table). The line joins ' +
      'the feasible trials no other feasible trial beats on both axes; red diamonds are the test metric of the ' +
      'finalists; dashed lines are the study\'s limits, dotted ones the target\'s memory. Trials rejected by the ' +
      'cost model before training are the ticks below each plot.';
    var rows = trained.map(function (r) {
      return Object.assign({}, r, { status: kindNames[r.kind], link: '#trial-' + r.n });
    });
    var tip = [{ field: 'n', title: 'trial' }, { field: 'arch' }, { field: 'status' },
      { field: 'val', title: metricTitle, format: '.4g' }, { field: 'test', title: testTitle, format: '.4g' },
      { field: 'flash', format: ',.0f' }, { field: 'ram', title: 'RAM', format: ',.0f' },
      { field: 'latency', title: 'latency ms', format: '.4g' }, { field: 'energy', title: 'energy uJ', format: '.4g' },
      { field: 'strategy' }];
    costs.forEach(function (c) {
      var pts = rows.filter(function (r) { return r[c.key] !== null && r[c.key] !== undefined; });
      if (!pts.length) return;
      // The 2-D front of this projection: feasible trials sorted by cost, keeping each new best metric.
      var feas = pts.filter(function (r) { return r.kind === 'feasible'; }).sort(function (a, b) { return a[c.key] - b[c.key] || a.val - b.val; });
      var front = [], best = Infinity;
      feas.forEach(function (r) { if (r.val < best) { best = r.val; front.push({ x: r[c.key], y: r.val }); } });
      var xs = pts.map(function (r) { return r[c.key]; }).concat(rejected.map(function (r) { return r[c.key]; }))
        .filter(function (v) { return v !== null && v > 0; });
      var lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs);
      var log = (c.key === 'latency' || c.key === 'energy') && lo > 0 && hi / lo > 50;
      var x = { field: c.key, type: 'quantitative', title: c.title, scale: { zero: false, type: log ? 'log' : 'linear' } };
      var layers = [
        { data: { values: front }, mark: { type: 'line', interpolate: 'step-after', color: '#2f6fde', opacity: 0.6 },
          encoding: { x: { field: 'x', type: 'quantitative', title: c.title }, y: { field: 'y', type: 'quantitative' } } },
        { data: { values: pts }, mark: { type: 'point', filled: true, size: big ? 18 : 46, cursor: 'pointer' },
          encoding: { x: x, y: { field: 'val', type: 'quantitative', title: metricTitle, scale: { zero: false } },
            color: { field: 'status', type: 'nominal', title: 'trial',
              scale: { domain: [kindNames.feasible, kindNames.over, kindNames.pruned],
                range: [kindColors.feasible, kindColors.over, kindColors.pruned] } },
            opacity: { condition: { test: 'datum.front', value: 1 }, value: 0.55 },
            href: { field: 'link' }, tooltip: tip } },
        { data: { values: pts.filter(function (r) { return r.test !== null; }) },
          mark: { type: 'point', shape: 'diamond', filled: true, size: 70, color: kindColors.test },
          encoding: { x: x, y: { field: 'test', type: 'quantitative' }, href: { field: 'link' }, tooltip: tip } }
      ];
      if (c.limit > 0) layers.push({ data: { values: [{}] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#d92d20', strokeWidth: 1.5 },
        encoding: { x: { datum: c.limit }, tooltip: { value: 'limit ' + fmt(c.limit) } } });
      if (c.cap > 0 && c.cap <= hi * 1.05) layers.push({ data: { values: [{}] }, mark: { type: 'rule', strokeDash: [2, 3], color: '#475467' },
        encoding: { x: { datum: c.cap }, tooltip: { value: c.capName + ' ' + fmt(c.cap) } } });
      var spec = { width: 'container', height: 260, layer: layers,
        resolve: { scale: { x: 'shared', y: 'shared' } } };
      var rej = rejected.filter(function (r) { return r[c.key] !== null && r[c.key] !== undefined; })
        .map(function (r) { return Object.assign({}, r, { link: '#trial-' + r.n }); });
      if (rej.length) {
        spec = { vconcat: [spec, { width: 'container', height: 24, data: { values: rej },
          mark: { type: 'tick', color: '#98a2b3', thickness: 1 },
          encoding: { x: Object.assign({}, x, { title: null, axis: { labels: false, ticks: false } }),
            href: { field: 'link' },
            tooltip: [{ field: 'n', title: 'trial' }, { field: 'arch' }, { field: 'reason' }] } }],
          resolve: { scale: { x: 'shared' } }, title: { text: 'rejected before training (' + rej.length + ')',
            orient: 'bottom', fontSize: 11, fontWeight: 'normal', color: '#667085' } };
      }
      spec.autosize = { type: 'fit-x', contains: 'padding' };
      embed(parent, spec);
    });
  })();

  // ---- progress ----
  (function () {
    var parent = document.getElementById('progress-charts');
    var p = (D.progress || []).filter(function (r) { return r.best !== null; });
    if (!p.length) { empty(parent, 'No feasible trial has completed yet: there is no progress to draw.'); return; }
    var series = {};
    p.forEach(function (r) { series[r.series] = 1; });
    document.getElementById('progress-note').textContent = 'After each finished trial: the best feasible ' +
      metricTitle + ' so far, and the hypervolume of the feasible front (objectives ' + (D.objectives || []).join(', ') +
      ', each divided by ' + Object.keys(D.hypervolume_scale || {}).map(function (k) { return k + ' ' + fmt(D.hypervolume_scale[k]); }).join(', ') +
      '; larger is better). ' + (Object.keys(series).length > 1 ? 'One line per series.' : '');
    var color = { field: 'series', type: 'nominal', title: 'series' };
    var tip = [{ field: 'series' }, { field: 'index', title: 'trials finished' }, { field: 'trial' },
      { field: 'minutes', format: '.3g' }, { field: 'seconds', format: '.3g' }, { field: 'best', format: '.4g' }, { field: 'hypervolume', format: '.4g' }];
    // Wall time in seconds for short studies, minutes otherwise.
    var maxMin = Math.max.apply(null, p.map(function (r) { return r.minutes || 0; }));
    var short = maxMin < 3;
    p.forEach(function (r) { r.seconds = r.minutes === null ? null : r.minutes * 60; });
    var wall = short ? ['seconds', 'wall time (seconds)'] : ['minutes', 'wall time (minutes)'];
    [['index', 'trials finished'], wall].forEach(function (xa) {
      [['best', 'best feasible ' + metricTitle], ['hypervolume', 'hypervolume (normalised)']].forEach(function (ya) {
        embed(parent, { width: 'container', height: 220, data: { values: p },
          mark: { type: 'line', interpolate: 'step-after', point: !big },
          encoding: { x: { field: xa[0], type: 'quantitative', title: xa[1] },
            y: { field: ya[0], type: 'quantitative', title: ya[1], scale: { zero: false } }, color: color, tooltip: tip },
          autosize: { type: 'fit-x', contains: 'padding' } });
      });
    });
  })();

  // ---- the detailed trial ----
  (function () {
    var C = D.chosen;
    var body = document.getElementById('trial-body');
    if (!C) {
      document.getElementById('trial-title').textContent = 'Trial';
      empty(body, 'No feasible complete trial to detail yet (rnnas report --trial N picks one).');
      return;
    }
    document.getElementById('trial-title').textContent = 'Trial ' + C.n + (C.kind === 'feasible' ? '' : ' (' + (kindNames[C.kind] || C.kind) + ')');
    body.appendChild(el('pre', { id: 'chosen-arch' }, C.arch));
    var kv = el('table', { 'class': 'kv' });
    function row(k, v) { if (v === '' || v === null || v === undefined) return; var tr = el('tr'); tr.appendChild(el('th', null, k)); tr.appendChild(el('td', null, v)); kv.appendChild(tr); }
    var m = C.metrics || {}, cs = C.costs || {};
    row(metricTitle, fmt(m.val_error));
    if (m.val_error_float !== undefined) row('validation error, float model', fmt(m.val_error_float));
    row(testTitle, fmt(m.test_error));
    row('accuracy (val / test)', m.val_accuracy !== undefined ? fmt(m.val_accuracy) + ' / ' + fmt(m.test_accuracy) : '');
    row('flash (estimated)', bytes(cs.flash_bytes));
    row('RAM (estimated)', bytes(cs.ram_bytes));
    row('latency, energy (estimated)', cs.latency_ms !== undefined ? fmt(cs.latency_ms) + ' ms, ' + fmt(cs.energy_uj) + ' uJ' : '');
    row('MACs per inference', fmt(cs.macs));
    row('parameters', fmt(cs.params));
    row('epochs (best)', C.curve.length + (m.best_epoch !== undefined ? ' (' + m.best_epoch + ')' : ''));
    row('training time', fmt(C.wall, 3) + ' s');
    row('strategy, seed', C.strategy + ', ' + C.seed);
    row('state', C.state + (C.reason ? ': ' + C.reason : ''));
    body.appendChild(kv);

    body.appendChild(el('h3', null, 'Deploy it'));
    var pre = el('pre', { id: 'deploy-command' }, C.deploy_command);
    body.appendChild(pre);

    var r1 = el('div', { 'class': 'row' });
    body.appendChild(r1);
    var lc = el('div'); r1.appendChild(lc);
    lc.appendChild(el('h3', null, 'Learning curve'));
    if (C.curve.length) {
      embed(lc, { width: 'container', height: 220, data: { values: C.curve },
        mark: { type: 'line', point: true }, encoding: { x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
          y: { field: 'val_error', type: 'quantitative', title: metricTitle + ' (float, per epoch)', scale: { zero: false } },
          tooltip: [{ field: 'epoch' }, { field: 'val_error', format: '.4g' }] },
        autosize: { type: 'fit-x', contains: 'padding' } });
    } else empty(lc, 'No epoch recorded.');

    var evd = el('div'); r1.appendChild(evd);
    var E = C.evaluation;
    if (E && E.kind === 'confusion') {
      evd.appendChild(el('h3', null, 'Confusion matrix (' + E.model + ', ' + E.split + ', ' + E.count + ' sequences, accuracy ' + fmt(E.accuracy) + ')'));
      var cells = [];
      E.matrix.forEach(function (rowv, i) {
        var total = rowv.reduce(function (a, b) { return a + b; }, 0);
        rowv.forEach(function (v, j) {
          cells.push({ truth: E.labels[i] !== undefined ? E.labels[i] : String(i), pred: E.labels[j] !== undefined ? E.labels[j] : String(j),
            count: v, share: total ? v / total : 0, ti: i, pj: j });
        });
      });
      var order = E.labels.length ? E.labels : E.matrix.map(function (_, i) { return String(i); });
      embed(evd, { width: 'container', height: Math.max(200, Math.min(560, 36 * order.length)), data: { values: cells },
        encoding: { x: { field: 'pred', type: 'nominal', sort: order, title: 'predicted', axis: { labelAngle: -40, labelLimit: 140 } },
          y: { field: 'truth', type: 'nominal', sort: order, title: 'true', axis: { labelLimit: 140 } } },
        layer: [{ mark: 'rect', encoding: { color: { field: 'share', type: 'quantitative', title: 'share of row',
          scale: { scheme: 'blues', domain: [0, 1] } }, tooltip: [{ field: 'truth', title: 'true' }, { field: 'pred', title: 'predicted' },
          { field: 'count' }, { field: 'share', format: '.1%' }] } },
        { mark: { type: 'text', fontSize: 11 }, encoding: { text: { field: 'count' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#1f2430' } } }],
        autosize: { type: 'fit-x', contains: 'padding' } });
    } else if (E && E.kind === 'regression') {
      evd.appendChild(el('h3', null, 'Predicted against true ' + E.output + ' (' + E.model + ', ' + E.split + ', ' + E.count + ' sequences, RMSE ' + fmt(E.rmse) + ')'));
      var all = E.points.map(function (q) { return q.truth; }).concat(E.points.map(function (q) { return q.pred; }));
      var lo = Math.min.apply(null, all), hi = Math.max.apply(null, all);
      embed(evd, { width: 'container', height: 300, layer: [
        { data: { values: [{ a: lo, b: lo }, { a: hi, b: hi }] }, mark: { type: 'line', color: '#98a2b3', strokeDash: [4, 4] },
          encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } } },
        { data: { values: E.points }, mark: { type: 'point', filled: true, size: 16, opacity: 0.5 },
          encoding: { x: { field: 'truth', type: 'quantitative', title: 'true', scale: { zero: false } },
            y: { field: 'pred', type: 'quantitative', title: 'predicted', scale: { zero: false } },
            tooltip: [{ field: 'truth', format: '.4g' }, { field: 'pred', format: '.4g' }] } }],
        autosize: { type: 'fit-x', contains: 'padding' } });
    } else {
      evd.appendChild(el('h3', null, 'Predictions'));
      empty(evd, C.evaluation_note ? 'Not evaluated: ' + C.evaluation_note : 'Not evaluated in this report (the live report of a running search skips it; rnnas report evaluates).');
    }

    var r2 = el('div', { 'class': 'row' });
    body.appendChild(r2);
    if (C.flash_parts && C.flash_parts.length) {
      var fd = el('div'); r2.appendChild(fd);
      fd.appendChild(el('h3', null, 'Flash of the model, by part (cost model)'));
      embed(fd, { width: 'container', height: 28 * C.flash_parts.length + 20, data: { values: C.flash_parts },
        mark: 'bar', encoding: { y: { field: 'part', type: 'nominal', sort: '-x', title: null },
          x: { field: 'bytes', type: 'quantitative', title: 'bytes' }, tooltip: [{ field: 'part' }, { field: 'bytes', format: ',' }] },
        autosize: { type: 'fit-x', contains: 'padding' } });
    }
    if (C.buffers && C.buffers.length) {
      var bd = el('div'); r2.appendChild(bd);
      bd.appendChild(el('h3', null, 'RAM: the planned arena (' + bytes(C.arena_bytes) + ') by buffer and lifetime, plus ' + bytes(C.stack_bytes) + ' stack'));
      var bufs = C.buffers.map(function (b) { return Object.assign({}, b, { end: b.offset + b.bytes }); });
      embed(bd, { width: 'container', height: 220, data: { values: bufs }, mark: { type: 'rect', stroke: 'white' },
        encoding: { x: { field: 'first', type: 'quantitative', title: 'phase of one step (input, layers, head, output)', axis: { tickMinStep: 1 } },
          x2: { field: 'last' }, y: { field: 'offset', type: 'quantitative', title: 'arena offset (bytes)' }, y2: { field: 'end' },
          color: { field: 'name', type: 'nominal', title: 'buffer' },
          tooltip: [{ field: 'name' }, { field: 'bytes' }, { field: 'offset' }, { field: 'first' }, { field: 'last' }] },
        autosize: { type: 'fit-x', contains: 'padding' } });
    }
    if (C.layers && C.layers.length) {
      body.appendChild(el('h3', null, 'Layers (cost model, ' + C.steps + ' network steps per inference)'));
      var lt = el('table');
      var head = el('tr');
      ['layer', 'params', 'weights B', 'biases B', 'requant B', 'MACs/step', 'cycles/step (est.)'].forEach(function (h, i) { head.appendChild(el('th', i ? null : { 'class': 'text' }, h)); });
      lt.appendChild(head);
      C.layers.forEach(function (l) {
        var tr = el('tr');
        tr.appendChild(el('td', { 'class': 'text' }, l.name));
        [l.params, l.weight_bytes, l.bias_bytes, l.qparam_bytes, l.macs_per_step, fmt(l.cycles_per_step)].forEach(function (v) { tr.appendChild(el('td', null, v)); });
        lt.appendChild(tr);
      });
      body.appendChild(lt);
    }
    body.appendChild(el('h3', null, 'Estimate against measurement on the emulated board'));
    var ev = C.estimate_vs_measured || [];
    var anyMeasured = ev.some(function (x) { return x.measured !== null; });
    if (!anyMeasured) {
      body.appendChild(el('p', { 'class': 'muted' }, 'Not measured yet: run the deploy command above, or search with --measure pareto|feasible.'));
    }
    var mt = el('table', { id: 'estimate-table' });
    var mh = el('tr');
    ['figure', 'estimated', 'measured', 'error'].forEach(function (h, i) { mh.appendChild(el('th', i ? null : { 'class': 'text' }, h)); });
    mt.appendChild(mh);
    ev.forEach(function (x) {
      var tr = el('tr');
      tr.appendChild(el('td', { 'class': 'text' }, x.figure));
      tr.appendChild(el('td', null, fmt(x.estimate)));
      tr.appendChild(el('td', null, fmt(x.measured)));
      tr.appendChild(el('td', null, x.estimate && x.measured ? fmt(100 * (x.estimate - x.measured) / x.measured, 3) + '%' : ''));
      mt.appendChild(tr);
    });
    if (ev.length) body.appendChild(mt);
    if (m.device_error !== undefined) body.appendChild(el('p', null, 'On-device error ' + fmt(m.device_error) + ', bit-exact with the host: ' + (m.device_bit_exact > 0 ? 'yes' : 'NO')));
  })();

  // ---- the table of all trials ----
  (function () {
    var table = document.getElementById('trial-table');
    var cols = [
      { key: 'n', title: 'trial' }, { key: 'kind', title: 'state', text: true, get: function (r) { return kindNames[r.kind] || r.kind; } },
      { key: 'arch', title: 'arch', text: true, cls: 'arch' }, { key: 'strategy', title: 'strategy', text: true },
      { key: 'val', title: task === 'regression' ? 'val RMSE' : 'val error' }, { key: 'test', title: task === 'regression' ? 'test RMSE' : 'test error' },
      { key: 'flash', title: 'flash B' }, { key: 'ram', title: 'RAM B' }, { key: 'latency', title: 'latency ms*' },
      { key: 'energy', title: 'energy uJ*' }, { key: 'macs', title: 'MACs' }, { key: 'epochs', title: 'epochs' },
      { key: 'wall', title: 'train s' },
      { key: 'm_flash', title: 'flash B=', get: function (r) { return r.measured.measured_flash_bytes; } },
      { key: 'm_ram', title: 'RAM B=', get: function (r) { return r.measured.measured_ram_bytes; } },
      { key: 'm_insn', title: 'instructions=', get: function (r) { return r.measured.measured_instructions; } },
      { key: 'reason', title: 'reason', text: true, cls: 'reason' }
    ];
    cols.forEach(function (c) { if (!c.get) c.get = function (r) { return r[c.key]; }; });
    var anyMeasured = trials.some(function (r) { return Object.keys(r.measured).length > 0; });
    if (!anyMeasured) cols = cols.filter(function (c) { return c.key.indexOf('m_') !== 0; });
    var thead = el('thead'), hr = el('tr');
    cols.forEach(function (c, i) {
      var th = el('th', { 'class': c.text ? 'text' : null, 'data-col': i }, c.title);
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);
    var tbody = el('tbody');
    table.appendChild(tbody);
    var rows = trials.map(function (r) {
      var tr = el('tr', { id: 'trial-' + r.n, 'class': r.front ? 'front' : null });
      cols.forEach(function (c) {
        var v = c.get(r);
        var td = el('td', { 'class': (c.text ? 'text ' : '') + (c.cls || '') + (c.key === 'kind' ? ' state-' + r.kind : '') },
          c.text ? v : fmt(v));
        tr.appendChild(td);
      });
      return { r: r, tr: tr, hay: (r.n + ' ' + r.arch + ' ' + r.kind + ' ' + (kindNames[r.kind] || '') + ' ' + r.strategy + ' ' + r.reason).toLowerCase() };
    });
    var sortCol = -1, asc = true;
    function render() {
      var q = document.getElementById('filter').value.trim().toLowerCase();
      var shown = rows.filter(function (x) { return !q || x.hay.indexOf(q) >= 0; });
      if (sortCol >= 0) {
        var c = cols[sortCol];
        shown.sort(function (a, b) {
          var va = c.get(a.r), vb = c.get(b.r);
          var na = va === null || va === undefined || va === '', nb = vb === null || vb === undefined || vb === '';
          if (na || nb) return na === nb ? a.r.n - b.r.n : na ? 1 : -1;  // blanks last either way
          var d = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
          return (asc ? d : -d) || a.r.n - b.r.n;
        });
      }
      var frag = document.createDocumentFragment();
      shown.forEach(function (x) { frag.appendChild(x.tr); });
      tbody.textContent = '';
      tbody.appendChild(frag);
      document.getElementById('table-count').textContent = shown.length + ' of ' + rows.length + ' trials';
    }
    hr.addEventListener('click', function (e) {
      var th = e.target.closest('th');
      if (!th) return;
      var i = Number(th.getAttribute('data-col'));
      asc = sortCol === i ? !asc : true;
      sortCol = i;
      Array.prototype.forEach.call(hr.children, function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
      th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
      render();
    });
    document.getElementById('filter').addEventListener('input', render);
    if (!rows.length) {
      var tr = el('tr'), td = el('td', { colspan: cols.length, 'class': 'text' }, 'No trials.');
      tr.appendChild(td);
      tbody.appendChild(tr);
      document.getElementById('table-count').textContent = '0 trials';
    } else render();
  })();

  // ---- settings ----
  (function () {
    var table = document.getElementById('settings-table');
    function add(k, v) {
      var tr = el('tr');
      tr.appendChild(el('th', null, k));
      tr.appendChild(el('td', null, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)));
      table.appendChild(tr);
    }
    add('study', D.study.name);
    add('storage', D.storage);
    add('created', new Date(D.study.created * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC');
    Object.keys(S).sort().forEach(function (k) {
      if (k === 'constraints' && S[k] && typeof S[k] === 'object') {
        Object.keys(S[k]).forEach(function (c) { add('constraint ' + c, S[k][c] ? S[k][c] : 'none'); });
      } else add(k, S[k]);
    });
  })();

  Promise.all(pending).then(function () {
    root.setAttribute('data-charts', String(pending.length));
    root.setAttribute('data-rendered', 'yes');
  }, function (e) {
    window.rnnasFail(e && e.message ? e.message : e);
    root.setAttribute('data-rendered', 'failed');
  });
})();
