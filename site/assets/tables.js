// Every table of the generated pages: sortable by a click on its header, filterable (by
// machine, engine, precision, precision class and status where it has them, and by any
// text), and downloadable as CSV or JSON, as the reader sees it (filters applied).
// No request leaves the page: the files are made here from the table.
(function () {
  const FILTERABLE = ["machine", "model", "engine", "precision", "class", "status", "op"];

  function cellText(td) {
    // a cell's own text, without footnote markers
    const copy = td.cloneNode(true);
    for (const sup of copy.querySelectorAll("sup")) sup.remove();
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  function sortKey(text) {
    // the first number in the text ("1,234.5 ± 3.2", "x1.17 [1.03, 1.38]", "12 µs"),
    // else the text itself
    const m = text.replace(/,/g, "").match(/-?\d+(\.\d+)?(e[-+]?\d+)?/i);
    return m ? parseFloat(m[0]) : null;
  }

  function headers(table) {
    const row = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    return row ? Array.from(row.cells) : [];
  }

  function bodyRows(table) {
    return Array.from(table.tBodies).flatMap((b) => Array.from(b.rows));
  }

  function makeSortable(table) {
    headers(table).forEach((th, col) => {
      th.classList.add("eb-sortable");
      th.setAttribute("role", "button");
      th.tabIndex = 0;
      const sort = () => {
        const asc = th.getAttribute("aria-sort") !== "ascending";
        for (const other of headers(table)) other.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        const tbody = table.tBodies[0];
        const rows = bodyRows(table);
        const keyed = rows.map((tr, i) => {
          const text = tr.cells[col] ? cellText(tr.cells[col]) : "";
          return { tr, i, text, num: sortKey(text) };
        });
        const numeric = keyed.filter((k) => k.text !== "").every((k) => k.num !== null);
        keyed.sort((a, b) => {
          // empty cells last, either way
          if (a.text === "" || b.text === "") return (a.text === "") - (b.text === "") || a.i - b.i;
          const d = numeric ? a.num - b.num : a.text.localeCompare(b.text, undefined, { numeric: true });
          return (asc ? d : -d) || a.i - b.i;
        });
        for (const k of keyed) tbody.appendChild(k.tr);
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter") sort(); });
    });
  }

  function visibleRecords(table) {
    const names = headers(table).map(cellText);
    return {
      names,
      rows: bodyRows(table).filter((tr) => !tr.hidden)
        .map((tr) => Array.from(tr.cells).map(cellText)),
    };
  }

  function csv(records) {
    const q = (s) => (/[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);
    return [records.names, ...records.rows].map((r) => r.map(q).join(",")).join("\n") + "\n";
  }

  function json(records) {
    return JSON.stringify(records.rows.map((r) => Object.fromEntries(
      records.names.map((n, i) => [n, r[i] === undefined ? "" : r[i]]))), null, 1) + "\n";
  }

  function download(name, type, text) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }

  function toolbar(table, index) {
    const bar = document.createElement("div");
    bar.className = "eb-toolbar";
    const names = headers(table).map((th) => cellText(th).toLowerCase());
    const rows = bodyRows(table);
    const selects = [];
    if (rows.length > 4) {
      names.forEach((name, col) => {
        if (!FILTERABLE.some((f) => name === f || name === "precision " + f)) return;
        const values = [...new Set(rows.map((tr) => tr.cells[col] ? cellText(tr.cells[col]) : ""))]
          .filter((v) => v !== "").sort();
        if (values.length < 2) return;
        const sel = document.createElement("select");
        sel.dataset.col = col;
        sel.setAttribute("aria-label", "filter by " + name);
        sel.append(new Option("every " + name, ""), ...values.map((v) => new Option(v, v)));
        selects.push(sel);
      });
      const classes = [...new Set(rows.map((tr) => tr.dataset.pclass).filter(Boolean))];
      if (classes.length > 1 && !names.includes("precision class")) {
        const sel = document.createElement("select");
        sel.dataset.pclass = "1";
        sel.setAttribute("aria-label", "filter by precision class");
        sel.append(new Option("every precision class", ""), ...classes.map((v) => new Option(v, v)));
        selects.push(sel);
      }
    }
    const text = document.createElement("input");
    text.type = "search";
    text.placeholder = "filter rows";
    text.setAttribute("aria-label", "filter rows by text");
    const count = document.createElement("span");
    count.className = "eb-count";
    const apply = () => {
      const words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const tr of rows) {
        const cells = Array.from(tr.cells).map(cellText);
        const line = cells.join(" ").toLowerCase();
        const ok = selects.every((s) => s.value === "" || (s.dataset.pclass
          ? tr.dataset.pclass === s.value : cells[+s.dataset.col] === s.value))
          && words.every((w) => line.includes(w));
        tr.hidden = !ok;
        shown += ok;
      }
      count.textContent = shown === rows.length ? "" : `${shown} of ${rows.length} rows`;
    };
    for (const s of selects) s.addEventListener("change", apply);
    text.addEventListener("input", apply);
    const base = (document.location.pathname.split("/").pop() || "index.html")
      .replace(/\.html$/, "") + "-table-" + index;
    const links = document.createElement("span");
    links.className = "eb-downloads";
    for (const [label, type, make] of [["CSV", "text/csv", csv], ["JSON", "application/json", json]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.title = `download this table (rows as filtered) as ${label}`;
      b.addEventListener("click", () => download(`${base}.${label.toLowerCase()}`, type,
        make(visibleRecords(table))));
      links.append(b);
    }
    if (rows.length > 4) bar.append(...selects, text, count);
    bar.append(links);
    table.before(bar);
  }

  function enginebenchTables() {
    document.querySelectorAll(".md-typeset table").forEach((table, i) => {
      if (table.dataset.ebTable || !table.tHead || !table.tBodies.length) return;
      table.dataset.ebTable = "1";
      makeSortable(table);
      toolbar(table, i + 1);
    });
  }
  window.enginebenchTables = enginebenchTables;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enginebenchTables);
  } else {
    enginebenchTables();
  }
})();
