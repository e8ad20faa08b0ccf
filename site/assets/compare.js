// The compare view: two sides (a run and, optionally, one engine of it), their cells side
// by side with the ratio B/A of each metric's median, its 95% bootstrap interval and
// compare's verdict rule (the interval excludes 1 and the ratio is past the larger of the
// two machines' noise floors). Two engines: the same run on both sides, cells paired
// within a precision class; two machines or two dates: two runs, cells matched on engine,
// precision, device and workload point. It runs where the catalogue element is.
(function () {
  const METRICS = [ // name, label, larger is better
    ["decode", "decode tok/s", true], ["prefill", "prefill tok/s", true],
    ["ttft", "TTFT ms", false]];
  const cache = new Map();

  function mulberry32(seed) {
    return function () {
      seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  function percentile(sorted, p) { // numpy's default (linear) interpolation
    const i = (sorted.length - 1) * p / 100;
    const lo = Math.floor(i), hi = Math.ceil(i);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
  }

  function resampledMedian(xs, rng) {
    const pick = xs.map(() => xs[Math.floor(rng() * xs.length)]);
    return median(pick);
  }

  // compare's rule: [ratio, interval or null, verdict]
  function verdict(base, neu, higherBetter, floorPct, rule) {
    const ratio = median(neu) / median(base);
    if (Math.min(base.length, neu.length) < rule.min_samples) return [ratio, null, "too few samples"];
    const rng = mulberry32(rule.seed);
    const ratios = [];
    for (let r = 0; r < rule.resamples; r++) {
      ratios.push(resampledMedian(neu, rng) / resampledMedian(base, rng));
    }
    ratios.sort((a, b) => a - b);
    const ci = [percentile(ratios, 2.5), percentile(ratios, 97.5)];
    const beyond = Math.abs(ratio - 1) * 100 > floorPct;
    if (ci[0] > 1 && beyond) return [ratio, ci, higherBetter ? "faster" : "slower"];
    if (ci[1] < 1 && beyond) return [ratio, ci, higherBetter ? "slower" : "faster"];
    return [ratio, ci, "no change"];
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c); // strings become text nodes: never parsed as HTML
    return e;
  }

  const fmt = (x, d = 1) => (x === null || x === undefined ? "" :
    x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));

  async function cellsOf(slug) {
    if (!cache.has(slug)) {
      cache.set(slug, fetch(`../runs/${encodeURIComponent(slug)}.cells.json`).then((r) => {
        if (!r.ok) throw new Error(`runs/${slug}.cells.json: HTTP ${r.status}`);
        return r.json();
      }));
    }
    return cache.get(slug);
  }

  const keyOf = (c) => [c.engine, c.precision, c.device, c.point].join(" | ");
  const nameOf = (c) => `${c.engine} ${c.precision}`;

  function pairs(a, b, ea, eb) {
    const A = a.cells.filter((c) => !ea || c.engine === ea);
    if (ea && eb && ea !== eb) { // two engines: within a precision class and point
      const B = b.cells.filter((c) => c.engine === eb);
      const out = [];
      for (const x of A) for (const y of B) {
        if (x.pclass === y.pclass && x.point === y.point) out.push([x, y]);
      }
      return { out, onlyA: A.filter((x) => !out.some((p) => p[0] === x)),
        onlyB: B.filter((y) => !out.some((p) => p[1] === y)) };
    }
    const e = eb || ea;
    const B = b.cells.filter((c) => !e || c.engine === e);
    const byKey = new Map(B.map((c) => [keyOf(c), c]));
    const out = A.filter((x) => byKey.has(keyOf(x))).map((x) => [x, byKey.get(keyOf(x))]);
    const inA = new Set(A.map(keyOf));
    return { out, onlyA: A.filter((x) => !byKey.has(keyOf(x))),
      onlyB: B.filter((y) => !inA.has(keyOf(y))) };
  }

  function gateText(c) {
    return { reference: "reference", pass: "past the gate", fail: "below the gate",
      unmeasured: "not measured" }[c.gate] || c.gate;
  }

  function row(x, y, floor, rule) {
    const tds = [el("td", {}, nameOf(x)), el("td", {}, nameOf(y)), el("td", {}, x.point)];
    if (x.status !== "ok" || y.status !== "ok") {
      tds.push(el("td", { colspan: "6", class: "eb-verdict-cell" },
        `not comparable: A ${x.status}, B ${y.status}`));
      return el("tr", { class: "eb-row eb-notcomparable", "data-pclass": x.pclass }, ...tds);
    }
    for (const [name, , higher] of METRICS) {
      if (!x[name].length || !y[name].length) { tds.push(el("td", {}, "")); continue; }
      const [ratio, ci, word] = verdict(x[name], y[name], higher, floor, rule);
      const interval = ci ? ` [${fmt(ci[0], 2)}, ${fmt(ci[1], 2)}]` : "";
      tds.push(el("td", { class: "eb-num eb-verdict-" + word.replace(/ /g, "-") },
        `${fmt(median(x[name]))} → ${fmt(median(y[name]))}`, el("br"),
        `x${fmt(ratio, 2)}${interval}`, el("br"), el("strong", {}, word)));
    }
    tds.push(el("td", { class: "eb-num" }, `${fmt(x.rss, 0)} → ${fmt(y.rss, 0)}`, el("br"),
      x.rss && y.rss ? `x${fmt(y.rss / x.rss, 2)}` : ""));
    tds.push(el("td", {}, `${gateText(x)}; ${gateText(y)}`));
    return el("tr", { class: "eb-row", "data-pclass": x.pclass }, ...tds);
  }

  function table(rows) {
    const head = ["A", "B", "point", "decode tok/s A → B, B/A [95%]", "prefill tok/s A → B, B/A [95%]",
      "TTFT ms A → B, B/A [95%]", "peak RSS MB A → B", "quality gate A; B"];
    return el("table", { class: "eb-cells eb-compare-view" },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows));
  }

  function init(root) {
    const cat = JSON.parse(document.getElementById("eb-compare-catalogue").textContent);
    const runs = new Map(cat.runs.map((r) => [r.slug, r]));
    const params = new URLSearchParams(location.search);
    const first = cat.presets[0] || {};
    const state = {
      a: params.get("a") || first.a || (cat.runs[0] || {}).slug,
      b: params.get("b") || first.b || (cat.runs[0] || {}).slug,
      ea: params.get("ea") ?? (params.get("a") ? "" : first.ea || ""),
      eb: params.get("eb") ?? (params.get("a") ? "" : first.eb || ""),
    };
    root.textContent = "";
    const form = el("form", { class: "eb-compare-form" });
    const out = el("div", { class: "eb-compare-out" });
    const selects = {};
    for (const side of ["a", "b"]) {
      const run = el("select", { "aria-label": `run ${side.toUpperCase()}`, name: side });
      const groups = new Map();
      for (const r of cat.runs) {
        const g = `${r.machine} · ${r.model}`;
        if (!groups.has(g)) groups.set(g, el("optgroup", { label: g }));
        groups.get(g).append(new Option(`${r.date} ${r.id}`, r.slug));
      }
      run.append(...groups.values());
      const engine = el("select", { "aria-label": `engine ${side.toUpperCase()}`, name: "e" + side });
      selects[side] = run;
      selects["e" + side] = engine;
      form.append(el("label", {}, `${side.toUpperCase()}: `, run, " ", engine), el("br"));
    }
    const fillEngines = (side) => {
      const sel = selects["e" + side];
      const r = runs.get(selects[side].value);
      sel.textContent = "";
      sel.append(new Option("every engine", ""), ...(r ? r.engines : []).map((e) => new Option(e, e)));
      sel.value = state["e" + side];
      if (sel.value !== state["e" + side]) sel.value = "";
    };
    const render = async () => {
      for (const k of ["a", "b", "ea", "eb"]) state[k] = selects[k].value;
      history.replaceState(null, "", "?" + new URLSearchParams(state).toString());
      out.textContent = "comparing ...";
      const ra = runs.get(state.a), rb = runs.get(state.b);
      root.dataset.state = "message";
      if (!ra || !rb) { out.textContent = "pick a run on each side"; return; }
      if (ra.model !== rb.model || ra.fingerprint !== rb.fingerprint) {
        out.textContent = `A measures ${ra.model} and B ${rb.model}` +
          (ra.model === rb.model ? " with other weights" : "") +
          ": their cells measure different models, so no ratio is shown. Pick runs of one model.";
        return;
      }
      let a, b;
      try { [a, b] = await Promise.all([cellsOf(state.a), cellsOf(state.b)]); } catch (err) {
        out.textContent = `could not read the runs' cells (${err.message}); the view needs the site served over HTTP, e.g. enginebench site --serve`;
        return;
      }
      const floor = Math.max(ra.floor, rb.floor);
      const found = pairs(a, b, state.ea, state.eb);
      const mode = state.a === state.b ? "two engines of one run" :
        ra.machine !== rb.machine ? "two machines" : "two dates";
      out.textContent = "";
      out.append(el("p", { class: "eb-runinfo" },
        `${mode}: A ${ra.machine}, ${ra.date}, ${state.ea || "every engine"}; B ${rb.machine}, ${rb.date}, ${state.eb || state.ea || "every engine"}. `,
        `The verdicts say what B is against A. faster/slower: the 95% bootstrap interval of B/A (${cat.rule.resamples} resamples) excludes 1 and the ratio is more than ${fmt(floor, 1)}% from 1 (the larger machine noise floor); fewer than ${cat.rule.min_samples} samples a side: too few samples.`));
      if (found.out.length) {
        out.append(table(found.out.map(([x, y]) => row(x, y, floor, cat.rule))));
      } else {
        out.append(el("p", {}, "no cells match between A and B"));
      }
      for (const [label, list] of [["only in A", found.onlyA], ["only in B", found.onlyB]]) {
        if (list.length) out.append(el("p", { class: "eb-runinfo" }, `${label}: ` +
          list.map((c) => `${nameOf(c)} ${c.point}`).join(", ")));
      }
      const cli = state.a !== state.b && ra.file && rb.file ? [
        "The same comparison from the command line, with its Mann-Whitney p: ",
        el("code", {}, `enginebench compare ${ra.file} ${rb.file} --noise-floor ${fmt(floor, 1)}`), "; "] : [];
      out.append(el("p", { class: "eb-runinfo" }, ...cli, "the runs: ",
        el("a", { href: `../runs/${state.a}.html` }, ra.id), ", ",
        el("a", { href: `../runs/${state.b}.html` }, rb.id), "."));
      if (window.enginebenchTables) window.enginebenchTables();
      root.dataset.state = "rendered";
    };
    for (const side of ["a", "b"]) {
      selects[side].value = state[side];
      fillEngines(side);
      selects[side].addEventListener("change", () => { fillEngines(side); render(); });
      selects["e" + side].addEventListener("change", render);
    }
    root.append(form, out);
    render();
  }

  function start() {
    const root = document.getElementById("eb-compare");
    if (root && root.dataset.state === "pending") { root.dataset.state = "drawing"; init(root); }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
