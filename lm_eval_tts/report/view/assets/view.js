// lm-eval-tts view: the problem list (virtual: only visible rows exist), problem pages built on demand from
// gzip chunks, and the report's tables and plots. Every text from the data goes into the DOM as a text node.
"use strict";
(function () {
  const INDEX = JSON.parse(document.getElementById("lmv-index").textContent);
  const RUNS = INDEX.runs;
  // A list entry is one (task, filter); its problems, runs and detail chunks are its task's (group's).
  for (const t of INDEX.tasks) {
    const g = INDEX.groups[t.group];
    Object.assign(t, { ids: g.ids, titles: g.titles, search: g.search, chunks: g.chunks, runs: g.runs });
  }
  const NO_ANSWER = 1, TIMEOUT = 2;
  const OVERSCAN = 8;
  const KNOWN = new Set(["answer", "correct", "grade", "logprob", "orm", "first_token", "program", "tests_passed",
                         "detail", "hot_token_id", "hot_token", "hot_token_text"]);
  const FILTERS = [
    ["allwrong", "all wrong", (s, i) => s.n[i] > 0 && s.c[i] === 0],
    ["lucky", "lucky (1 of n correct)", (s, i) => s.n[i] > 1 && s.c[i] === 1],
    ["noanswer", "no answer extracted", (s, i) => (s.f[i] & NO_ANSWER) !== 0],
    ["timeout", "timeouts", (s, i) => (s.f[i] & TIMEOUT) !== 0],
  ];
  const SORTS = [
    ["id", "doc id"], ["pass-asc", "pass rate, lowest first"], ["pass-desc", "pass rate, highest first"],
    ["ea-desc", "#EA, most first"], ["ea-asc", "#EA, fewest first"], ["dis-desc", "disagreement between runs"],
  ];

  const state = { view: "list", task: 0, focus: 0, sort: "id", filters: new Set(), query: "", order: [],
                  selected: 0, problem: null, compare: [0, 1] };
  const app = document.getElementById("app");
  const search = document.getElementById("search");
  let listScroller = null, renderRows = null, pageToken = 0;

  // ------------------------------------------------------------ small helpers
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const fmt = (x, d = 3) => (typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(d)) : String(x));
  const task = () => INDEX.tasks[state.task];
  const runLabel = (r) => RUNS[r].label || "run " + (r + 1);
  const visible = (text) => String(text).replace(/ /g, "\u2423").replace(/\n/g, "\u23ce").replace(/\t/g, "\u21e5");
  const passRate = (s, i) => (s.n[i] ? s.c[i] / s.n[i] : null);

  function disagreement(t, i) {
    const rates = t.stats.map((s) => passRate(s, i)).filter((x) => x !== null);
    return rates.length > 1 ? Math.max(...rates) - Math.min(...rates) : null;
  }

  // ------------------------------------------------------------ list order: filters, search, sort
  function computeOrder() {
    const t = task(), s = t.stats[state.focus], q = state.query.trim().toLowerCase();
    const active = FILTERS.filter(([key]) => state.filters.has(key));
    const order = [];
    for (let i = 0; i < t.ids.length; i++) {
      if (s.c[i] === null) continue;
      if (active.some(([, , test]) => !test(s, i))) continue;
      if (q && !t.search[i].includes(q)) continue;
      order.push(i);
    }
    const key = {
      "pass-asc": (i) => passRate(s, i), "pass-desc": (i) => -passRate(s, i),
      "ea-desc": (i) => (s.ea[i] === null ? null : -s.ea[i]), "ea-asc": (i) => s.ea[i],
      "dis-desc": (i) => { const d = disagreement(t, i); return d === null ? null : -d; },
    }[state.sort];
    if (key) {
      const values = new Map(order.map((i) => [i, key(i)]));
      order.sort((a, b) => {
        const x = values.get(a), y = values.get(b);
        if (x === y || (x === null && y === null)) return a - b;
        if (x === null) return 1;
        if (y === null) return -1;
        return x - y;
      });
    }
    state.order = order;
    state.selected = Math.min(state.selected, Math.max(0, order.length - 1));
  }

  // ------------------------------------------------------------ routing
  function go(hash) { if (location.hash !== hash) location.hash = hash; else route(); }
  function listHash() { return "#list/" + state.task; }
  function problemHash(pos) { return "#problem/" + state.task + "/" + encodeURIComponent(String(task().ids[pos])); }

  function route() {
    const [view, t, id] = location.hash.slice(1).split("/");
    const taskIndex = Number.parseInt(t, 10);
    if (Number.isInteger(taskIndex) && taskIndex >= 0 && taskIndex < INDEX.tasks.length && taskIndex !== state.task) {
      state.task = taskIndex; state.focus = 0; state.selected = 0; state.compare = [0, 1];
      computeOrder();
    }
    if (view === "results") return showResults();
    if (view === "problem" && id !== undefined) {
      const wanted = decodeURIComponent(id);
      const pos = task().ids.findIndex((x) => String(x) === wanted);
      if (pos >= 0) return showProblem(pos);
    }
    return showList();
  }

  function tabs() {
    const nav = document.getElementById("tabs");
    nav.replaceChildren(
      el("button", { class: state.view !== "results" ? "on" : "", onclick: () => go(listHash()) }, "Problems"),
      el("button", { class: state.view === "results" ? "on" : "", onclick: () => go("#results") }, "Results"));
  }

  // ------------------------------------------------------------ the problem list
  // Up to MAX_RUN_COLUMNS runs get their own columns; more (a sweep) show the focus run and one bar per run.
  const MAX_RUN_COLUMNS = 3;
  const compact = (t) => t.runs.length > MAX_RUN_COLUMNS;
  function columns(t) {
    const runs = compact(t) ? `130px 46px 44px ${t.runs.length * 7 + 12}px` : t.runs.map(() => "130px 46px 44px").join(" ");
    return "70px minmax(200px, 1fr) " + runs + (t.runs.length > 1 ? " 80px" : "");
  }
  const columnStats = (t) => (compact(t) ? [t.stats[state.focus]] : t.stats);

  function showList() {
    state.view = "list"; state.problem = null; tabs();
    const t = task();
    const toolbar = el("div", { class: "toolbar" });
    if (INDEX.tasks.length > 1) {
      const select = el("select", { id: "task", onchange: (e) => go("#list/" + e.target.value) });
      INDEX.tasks.forEach((x, i) => select.append(el("option", { value: String(i) }, `${x.name} (${x.ids.length})`)));
      select.value = String(state.task);
      toolbar.append(el("label", null, "task ", select));
    } else {
      toolbar.append(el("b", null, t.name));
    }
    if (t.runs.length > 1) {
      const focus = el("select", { id: "focus", onchange: (e) => { state.focus = +e.target.value; refreshList(); } });
      t.runs.forEach((r, i) => focus.append(el("option", { value: String(i) }, runLabel(r))));
      focus.value = String(state.focus);
      toolbar.append(el("label", { title: "the run whose pass rate, #EA and flags the filters and sorting use" }, "run ", focus));
    }
    const sort = el("select", { id: "sort", onchange: (e) => { state.sort = e.target.value; refreshList(); } });
    for (const [key, text] of SORTS) if (key !== "dis-desc" || t.runs.length > 1) sort.append(el("option", { value: key }, text));
    sort.value = state.sort;
    toolbar.append(el("label", null, "sort ", sort));
    const s = t.stats[state.focus];
    for (const [key, text, test] of FILTERS) {
      let n = 0;
      for (let i = 0; i < t.ids.length; i++) if (s.c[i] !== null && test(s, i)) n++;
      const box = el("input", { type: "checkbox", "data-filter": key, onchange: (e) => {
        if (e.target.checked) state.filters.add(key); else state.filters.delete(key);
        refreshList();
      } });
      box.checked = state.filters.has(key);
      toolbar.append(el("label", null, box, `${text} (${n})`));
    }
    const count = el("span", { class: "count", id: "count" });
    toolbar.append(count);

    const head = el("div", { class: "grid-row list-head" }, el("span", null, "doc"), el("span", null, "problem"));
    head.style.gridTemplateColumns = columns(t);
    const headRuns = compact(t) ? [t.runs[state.focus]] : t.runs;
    for (const r of headRuns) head.append(el("span", { class: "cell-title", title: runLabel(r) }, "pass · " + runLabel(r)), el("span", { class: "num" }, "#EA"), el("span"));
    if (compact(t)) head.append(el("span", { title: "pass rate of each run, in run order" }, "runs"));
    if (t.runs.length > 1) head.append(el("span", { class: "num" }, "disagree"));

    const scroller = el("div", { class: "scroller", id: "list", tabindex: "0" });
    const spacer = el("div", { class: "spacer" });
    scroller.append(spacer);
    app.replaceChildren(toolbar, head, scroller);
    listScroller = scroller;

    let drawn = "";
    renderRows = function (force) {
      const order = state.order, height = scroller.clientHeight || 600;
      const rowH = rowHeight();
      spacer.style.height = order.length * rowH + "px";
      const first = Math.max(0, Math.floor(scroller.scrollTop / rowH) - OVERSCAN);
      const last = Math.min(order.length, Math.ceil((scroller.scrollTop + height) / rowH) + OVERSCAN);
      const key = `${first}:${last}:${state.selected}`;
      if (!force && key === drawn) return;
      drawn = key;
      const rows = [];
      for (let k = first; k < last; k++) rows.push(listRow(t, order[k], k, rowH));
      spacer.replaceChildren(...rows);
      count.textContent = `${order.length} of ${t.ids.length} problems`;
    };
    let pending = false;
    scroller.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; renderRows(false); });
    });
    renderRows(true);
    scrollToSelected();
    if (document.activeElement !== search) scroller.focus({ preventScroll: true });
  }

  function rowHeight() {
    return Number.parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--row")) || 30;
  }

  function listRow(t, i, k, rowH) {
    const row = el("div", { class: "grid-row row" + (k === state.selected ? " sel" : ""), "data-pos": String(i),
                           onclick: () => { state.selected = k; go(problemHash(i)); } },
      el("span", { class: "mono" }, String(t.ids[i])),
      el("span", { class: "cell-title", title: t.titles[i] }, t.titles[i]));
    row.style.gridTemplateColumns = columns(t);
    row.style.top = k * rowH + "px";
    for (const s of columnStats(t)) {
      if (s.c[i] === null) { row.append(el("span", { class: "pass" }, "—"), el("span"), el("span")); continue; }
      const bar = el("span", { class: "bar" }, el("i"));
      bar.firstChild.style.width = (s.n[i] ? (100 * s.c[i]) / s.n[i] : 0) + "%";
      const flags = (s.f[i] & NO_ANSWER ? "∅" : "") + (s.f[i] & TIMEOUT ? "⏱" : "");
      row.append(el("span", { class: "pass" }, bar, `${s.c[i]}/${s.n[i]}`),
                 el("span", { class: "num" }, s.ea[i] === null ? "" : String(s.ea[i])),
                 el("span", { class: "flag", title: "∅ a sample without an extracted answer · ⏱ a timeout" }, flags));
    }
    if (compact(t)) {
      const strip = el("span", { class: "strip" });
      t.stats.forEach((s, j) => {
        const rate = passRate(s, i), bar = el("i", { title: `${runLabel(t.runs[j])}: ${s.c[i] === null ? "no samples" : s.c[i] + "/" + s.n[i]}` });
        bar.style.height = (rate === null ? 0 : Math.max(4, 100 * rate)) + "%";
        strip.append(bar);
      });
      row.append(strip);
    }
    if (t.runs.length > 1) { const d = disagreement(t, i); row.append(el("span", { class: "num" }, d === null ? "" : d.toFixed(2))); }
    return row;
  }

  function refreshList() { computeOrder(); showList(); }

  function scrollToSelected() {
    if (!listScroller) return;
    const rowH = rowHeight(), top = state.selected * rowH, h = listScroller.clientHeight;
    if (top < listScroller.scrollTop) listScroller.scrollTop = top;
    else if (top + rowH > listScroller.scrollTop + h) listScroller.scrollTop = top + rowH - h;
    renderRows(true);
  }

  function moveSelection(delta) {
    if (!state.order.length) return;
    state.selected = Math.max(0, Math.min(state.order.length - 1, state.selected + delta));
    scrollToSelected();
  }

  // ------------------------------------------------------------ detail chunks (gzip + base64), decoded on demand
  const chunks = new Map();
  function decodeChunk(id) {
    if (!chunks.has(id)) {
      chunks.set(id, (async () => {
        if (typeof DecompressionStream === "undefined") throw new Error("this browser has no DecompressionStream (Chrome 80+, Firefox 113+, Safari 16.4+ have it)");
        const binary = atob(document.getElementById(id).textContent);
        const bytes = new Uint8Array(binary.length);
        for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
        const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
        return JSON.parse(await new Response(stream).text());
      })());
    }
    return chunks.get(id);
  }
  async function detail(t, pos) {
    let lo = 0, hi = t.chunks.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (t.chunks[mid][0] <= pos) lo = mid; else hi = mid - 1; }
    const [first, id] = t.chunks[lo];
    return (await decodeChunk(id))[pos - first];
  }

  // ------------------------------------------------------------ a problem page
  async function showProblem(pos) {
    state.view = "problem"; state.problem = pos; tabs();
    const k = state.order.indexOf(pos);
    if (k >= 0) state.selected = k;
    const token = ++pageToken, t = task();
    let d;
    try { d = await detail(t, pos); } catch (err) {
      app.replaceChildren(el("div", { class: "empty" }, "cannot read this problem's samples: " + err.message));
      return;
    }
    if (token !== pageToken) return;
    const page = el("div", { class: "page", id: "problem", tabindex: "-1" });
    const where = k >= 0 ? `${k + 1} of ${state.order.length}` : "not in the filtered list";
    page.append(el("div", { class: "nav" },
      el("button", { onclick: () => go(listHash()) }, "← list (Esc)"),
      el("button", { onclick: () => step(-1) }, "‹ previous (p)"),
      el("button", { onclick: () => step(1) }, "next (n) ›"),
      el("span", { class: "caption" }, `${t.name} · doc ${t.ids[pos]} · ${where}`)));
    page.append(el("h2", null, t.titles[pos]));
    page.append(el("h3", null, "prompt"), el("pre", { class: "box", id: "prompt" }, d.prompt));
    page.append(el("h3", null, "reference"), el("pre", { class: "box", id: "reference" }, d.target));
    const fields = el("details", null, el("summary", null, `document fields (${Object.keys(d.doc).length})`));
    const table = el("table", { class: "data" });
    for (const [key, value] of Object.entries(d.doc)) table.append(el("tr", null, el("th", null, key), el("td", null, el("pre", null, value))));
    fields.append(table);
    page.append(fields);

    const shown = chosenRuns(t, d);
    page.append(metricsTable(t, d, shown));
    if (t.runs.length > 1) page.append(compareControls(t));
    page.append(samplesGrid(t, d, shown));
    app.replaceChildren(page);
    page.focus({ preventScroll: true });
  }

  function chosenRuns(t, d) {
    const [a, b] = state.compare;
    const valid = (x) => x !== null && x >= 0 && x < t.runs.length;
    const out = [valid(a) ? a : 0];
    if (valid(b) && b !== out[0]) out.push(b);
    return out.filter((x) => d.runs[x] !== undefined);
  }

  function compareControls(t) {
    const box = el("div", { class: "toolbar" });
    ["left", "right"].forEach((side, j) => {
      const select = el("select", { id: "compare-" + side, onchange: (e) => {
        state.compare[j] = e.target.value === "" ? null : +e.target.value; showProblem(state.problem);
      } });
      if (j === 1) select.append(el("option", { value: "" }, "(none)"));
      t.runs.forEach((r, i) => select.append(el("option", { value: String(i) }, runLabel(r))));
      select.value = state.compare[j] === null || state.compare[j] === undefined ? "" : String(state.compare[j]);
      box.append(el("label", null, side === "left" ? "runs: " : "next to ", select));
    });
    return box;
  }

  function metricsTable(t, d, shown) {
    const names = [];
    const metrics = (i) => (filtered(d, i) || {}).metrics || {};
    for (const i of shown) for (const key of Object.keys(metrics(i))) if (!names.includes(key)) names.push(key);
    const wrap = el("details", null, el("summary", null, `this problem's metrics (${names.length})`));
    if (!names.length) return wrap;
    const table = el("table", { class: "data", id: "metrics" }, el("tr", null, el("th", null, "metric"), ...shown.map((i) => el("th", null, runLabel(t.runs[i])))));
    for (const name of names) table.append(el("tr", null, el("td", null, name), ...shown.map((i) => {
      const v = metrics(i)[name];
      return el("td", { class: "num" }, v === undefined ? "" : fmt(v));
    })));
    wrap.append(table);
    return wrap;
  }

  function samplesGrid(t, d, shown) {
    const grid = el("div", { class: "samples" + (shown.length > 1 ? " pair" : ""), id: "samples" });
    if (shown.length > 1) {
      for (const i of shown) grid.append(el("div", { class: "run-head" }, runLabel(t.runs[i])));
      const n = Math.max(...shown.map((i) => (d.runs[i] ? d.runs[i].samples.length : 0)));
      for (let j = 0; j < n; j++) for (const i of shown) grid.append(sampleCard(d, i, j));
    } else {
      const i = shown[0];
      grid.append(el("div", { class: "run-head" }, runLabel(t.runs[i])));
      grid.lastChild.style.gridColumn = "1 / -1";
      const run = d.runs[i];
      if (!run) grid.append(el("div", { class: "card missing" }, "this run has no samples for this problem"));
      else run.samples.forEach((_, j) => grid.append(sampleCard(d, i, j)));
    }
    return grid;
  }

  // This list's filter's records of run i, if that run has them.
  function filtered(d, i) { const run = d.runs[i]; return run && run.filters[task().filter]; }

  function sampleCard(d, i, j) {
    const run = d.runs[i], s = run && run.samples[j];
    if (!s) return el("div", { class: "card missing" }, run ? `no sample #${j + 1}` : "this run has no samples for this problem");
    const own = filtered(d, i), fire = RUNS[task().runs[i]].fire;
    const rec = (own && own.records[j]) || {};
    const ok = rec.correct === true, bad = rec.correct === false;
    const card = el("div", { class: "card sample" + (ok ? " ok" : bad ? " bad" : ""), "data-run": String(i), "data-sample": String(j) });
    const head = el("div", { class: "card-head" }, el("b", null, `#${j + 1}`),
      el("span", { class: "verdict" }, ok ? "✓ correct" : bad ? "✗ " + (rec.grade || "wrong") : rec.grade || ""));
    if (ok && rec.grade && rec.grade !== "passed") head.append(el("span", { class: "caption" }, rec.grade));
    if ("answer" in rec) head.append(el("span", null, "answer ", rec.answer === null ? el("i", null, "none extracted") : el("code", { class: "answer" }, String(rec.answer))));
    card.append(head);
    const others = Object.entries(run.filters).filter(([name]) => name !== task().filter);
    if (others.length) {
      card.append(el("div", { class: "meta" }, ...others.map(([name, f]) => {
        const r = f.records[j] || {};
        return el("span", null, `${name}: `, r.correct === true ? "✓ " : r.correct === false ? "✗ " : "", "answer" in r ? (r.answer === null ? "none" : String(r.answer)) : (r.grade || ""));
      })));
    }

    const meta = el("div", { class: "meta" });
    for (const key of ["logprob", "orm"]) if (key in rec) meta.append(el("span", null, `${key === "logprob" ? "mean logprob" : key} ${fmt(rec[key])}`));
    for (const [key, value] of Object.entries(rec)) if (!KNOWN.has(key) && (typeof value === "number" || typeof value === "boolean")) meta.append(el("span", null, `${key.replace(/_/g, " ")} ${fmt(value)}`));
    if (fire) {
      const where = fire.line > 1 ? `, line ${fire.line}` : "";
      if (s.hot_text) meta.append(el("span", null, "hot token ", el("span", { class: "tok mono" }, visible(s.hot_text)), ` (id ${s.hot_id}${where})`));
      else if (s.hot_id !== null && s.hot_id !== undefined) meta.append(el("span", null, `hot token id ${s.hot_id}${where}`));
      else if (s.hot === null) meta.append(el("span", null, `no hot token: the response ends before line ${fire.line}`));
      else meta.append(el("span", null, `hot token: first token of line ${fire.line} (id not recorded)`));
    } else if (typeof s.first_text === "string") {
      meta.append(el("span", null, "first token ", el("span", { class: "tok first mono" }, visible(s.first_text)), ` (id ${rec.first_token})`));
    } else if ("first_token" in rec) {
      meta.append(el("span", null, `first token id ${rec.first_token}`));
    }
    card.append(meta);

    const response = el("pre", { class: "resp" }, ...highlighted(s.text, s.hot));
    if ("program" in rec || "tests_passed" in rec) {
      const program = String(rec.program || "");
      const same = program.trim() === s.text.trim();
      card.append(el("div", { class: "caption" }, same ? "program (the whole response)" : "program"),
                  same ? response : el("pre", { class: "resp program" }, program));
      card.append(testsTable(d.tests, rec));
      if (rec.detail) card.append(el("pre", { class: "detail" }, String(rec.detail)));
      if (!same) card.append(el("details", null, el("summary", null, "raw response"), response));
    } else {
      card.append(response);
      if (rec.detail) card.append(el("pre", { class: "detail" }, String(rec.detail)));
    }
    const extra = Object.entries(rec).filter(([key, value]) => !KNOWN.has(key) && typeof value !== "number" && typeof value !== "boolean"
      && !(Array.isArray(value) && Array.isArray(rec.tests_passed) && value.length === rec.tests_passed.length));
    if (extra.length) {
      const box = el("div", { class: "extra" });
      for (const [key, value] of extra) box.append(el("div", null, el("b", null, key + ": "), typeof value === "string" ? value : JSON.stringify(value)));
      card.append(box);
    }
    return card;
  }

  function highlighted(text, hot) {
    if (!hot) return [text];
    const [a, b] = hot;
    const mark = el("mark", { class: "hot" + (a === b ? " pos" : ""), title: "FIRE hot token" }, text.slice(a, b));
    return [text.slice(0, a), mark, text.slice(b)];
  }

  const MAX_TEST_ROWS = 40;  // HumanEval+ problems have hundreds of tests: failures first, then passes, up to this
  function testsTable(labels, rec) {
    const passed = Array.isArray(rec.tests_passed) ? rec.tests_passed : [];
    const perTest = Object.entries(rec).filter(([key, v]) => !KNOWN.has(key) && Array.isArray(v) && v.length === passed.length && passed.length);
    const table = el("table", { class: "data tests" }, el("tr", null, el("th"), el("th", null, `test (${passed.filter(Boolean).length}/${passed.length} passed)`),
      ...perTest.map(([key]) => el("th", null, key))));
    const order = passed.map((_, n) => n);
    if (order.length > MAX_TEST_ROWS) order.sort((a, b) => passed[a] - passed[b] || a - b).splice(MAX_TEST_ROWS);
    order.forEach((n) => { const p = passed[n]; table.append(el("tr", null,
      el("td", { class: "v " + (p ? "ok" : "bad") }, p ? "✓" : "✗"),
      el("td", null, el("code", null, labels && labels[n] !== undefined ? labels[n] : `test ${n + 1}`)),
      ...perTest.map(([, values]) => el("td", null, el("code", null, typeof values[n] === "string" ? values[n] : JSON.stringify(values[n])))))); });
    if (order.length < passed.length) table.append(el("tr", null, el("td"), el("td", { class: "caption" }, `${passed.length - order.length} more tests not shown`)));
    return table;
  }

  function step(delta) {
    if (!state.order.length) return;
    let k = state.order.indexOf(state.problem);
    k = k < 0 ? 0 : Math.max(0, Math.min(state.order.length - 1, k + delta));
    state.selected = k;
    go(problemHash(state.order[k]));
  }

  // ------------------------------------------------------------ results: the report's tables and plots
  function showResults() {
    state.view = "results"; tabs();
    const page = el("div", { class: "page", id: "results" });
    page.append(el("h3", null, "runs"));
    const runs = el("table", { class: "data" }, el("tr", null, el("th", null, "run"), el("th", null, "model_args"), el("th", null, "FIRE"), el("th", null, "results file")));
    for (const r of RUNS) runs.append(el("tr", null, el("td", null, r.label), el("td", null, el("code", null, Object.entries(r.model_args).map(([k, v]) => `${k}=${v}`).join(","))),
      el("td", null, r.fire ? `line ${r.fire.line}, T=${r.fire.temperature}, top-k ${r.fire.top_k}` : "off"), el("td", null, el("code", null, r.path))));
    page.append(runs);
    for (const section of INDEX.tables) {
      page.append(el("h3", null, section.title));
      const table = el("table", { class: "data" }, el("tr", null, ...section.header.map((h) => el("th", null, h))));
      for (const row of section.rows) table.append(el("tr", null, ...row.map((c) => el("td", null, c))));
      page.append(table);
    }
    if (INDEX.plots.length) {
      page.append(el("h3", null, "plots"));
      const plots = el("div", { class: "plots" });
      for (const p of INDEX.plots) plots.append(el("div", { class: "caption" }, p.name), el("img", { src: p.src, alt: p.name }));
      page.append(plots);
    }
    app.replaceChildren(page);
  }

  // ------------------------------------------------------------ keyboard and search
  let searchTimer = 0;
  function applySearch() {
    clearTimeout(searchTimer);
    if (search.value === state.query) return;
    state.query = search.value; state.selected = 0; computeOrder();
    if (state.view !== "list") go(listHash()); else { if (listScroller) listScroller.scrollTop = 0; renderRows(true); }
  }
  search.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(applySearch, 80); });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
    if (typing) {
      // Escape clears the search box first (ourselves: the browser's own clearing sends no input event), then leaves it.
      if (e.key === "Escape" && e.target === search && search.value) { e.preventDefault(); search.value = ""; applySearch(); return; }
      if (e.key === "Escape" || (e.key === "Enter" && e.target === search)) { applySearch(); e.target.blur(); if (listScroller) listScroller.focus(); }
      return;
    }
    const key = e.key;
    if (key === "/") { e.preventDefault(); search.focus(); search.select(); return; }
    if (key === "r") return go("#results");
    if (state.view === "list") {
      const page = Math.max(1, Math.floor((listScroller ? listScroller.clientHeight : 600) / rowHeight()) - 1);
      const moves = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1, PageDown: page, PageUp: -page, End: 1e9, G: 1e9, Home: -1e9, g: -1e9 };
      if (key in moves) { e.preventDefault(); moveSelection(moves[key]); }
      else if ((key === "Enter" || key === "o") && state.order.length) { e.preventDefault(); go(problemHash(state.order[state.selected])); }
    } else if (state.view === "problem") {
      if (key === "Escape" || key === "Backspace" || key === "u") { e.preventDefault(); go(listHash()); }
      else if (key === "n" || key === "ArrowRight" || key === "j") { e.preventDefault(); step(1); }
      else if (key === "p" || key === "ArrowLeft" || key === "k") { e.preventDefault(); step(-1); }
    } else if (key === "Escape") { go(listHash()); }
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => { if (state.view === "list" && renderRows) renderRows(true); });

  // ------------------------------------------------------------ start
  document.getElementById("title").textContent = INDEX.title;
  document.getElementById("title").title = INDEX.title + " (" + INDEX.created + ")";
  if (!INDEX.tasks.length) {
    app.replaceChildren(el("div", { class: "empty" }, "no samples in these runs"));
  } else {
    computeOrder();
    route();
  }
  window.lmEvalTtsView = { firstRenderMs: performance.now(), state };
})();
