"""Renders the generated pages (Markdown with escaped HTML blocks) from the runs, the
feature claims and the templates, into the MkDocs source folder."""

import gzip
import json
import re
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from enginebench.report.numbers import number
from enginebench.report.table import points_text, render, run_points
from enginebench.results.changes import SERIES_METRICS, change_points
from enginebench.results.compare import METRICS, compare, previous_run
from enginebench.results.noise import NoiseFloor, noise_floor
from enginebench.results.quality_gate import GATE_TEXT, gate
from enginebench.results.schema import Cell, Point, Run
from enginebench.results.verdicts import Lead, class_verdicts
from enginebench.site import charts, compare_view, scaling, split
from enginebench.site.features import FeatureClaims, build_matrix
from enginebench.site.glossary import GLOSSARY, tip
from enginebench.site.mkdocs_hook import FRAGMENTS, sidecar
from enginebench.site.operators import ops_section
from enginebench.site.records import (
    Results,
    cell_key,
    cell_label,
    is_sweep,
    model_name,
    slug,
)
from enginebench.site.seed import seed_tables
from enginebench.site.tables import cell_table

# generated, never hand-written: cleared before each render and ignored by git
GENERATED = ("index.md", "methodology.md", "features.md", "trends", "pareto", "ops", "runs",
             "scaling", "changes", "compare", FRAGMENTS)


def mdtext(text: str) -> Markup:
    """Escaped for HTML, and Markdown's inline markers made literal (for headings)."""
    return Markup(re.sub(r"([\\`*_\[\]|])", r"\\\1", str(escape(text))))


def yaml_title(text: str) -> Markup:
    """A page title for the front matter: HTML-escaped, then quoted for YAML. MkDocs puts
    a page's title into <title> and the header unescaped, so the escaping happens here."""
    return Markup(json.dumps(str(escape(text))))


def pretty(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)


def environment(templates: Path) -> Environment:
    env = Environment(loader=FileSystemLoader(templates), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(slug=slug, mdtext=mdtext, pretty=pretty, yaml_title=yaml_title)
    env.globals.update(quality_gate=GATE_TEXT, tip=tip, glossary=GLOSSARY)
    return env


def machine_summary(run: Run) -> str:
    m = run.machine
    flags = run.environment.get("cpu_flags_all") or []
    vm = ["a virtual machine (the CPU reports a hypervisor)"] if "hypervisor" in flags else []
    parts = [f"{m.cpu} ({m.arch})", f"{m.physical_cores} cores / {m.logical_cores} threads",
             f"{m.ram_gb:g} GB RAM", "GPU: " + (", ".join(m.gpu) if m.gpu else "none"), *vm]
    bw = bandwidth_text(run)
    if bw:
        parts.append(bw)
    return " · ".join(parts)


def model_card(run: Run) -> str:
    """What the model is, beside its table: architecture, size, shape, and whether its
    weights are trained (and so what the quality columns can mean)."""
    m = run.model
    params = int(m.get("params") or 0)
    size = (f"{params / 1e9:.2f}B parameters" if params >= 1e9 else
            f"{params / 1e6:,.1f}M parameters" if params else "")
    config = m.get("config") or {}
    shape = ", ".join(f"{v} {k}" for k, v in (
        ("layers", m.get("num_layers")), ("hidden", m.get("hidden_size")),
        ("heads", m.get("num_heads")), ("KV heads", m.get("num_kv_heads")),
        ("FFN", m.get("intermediate_size")), ("vocab", m.get("vocab_size")),
        ("context", config.get("max_position_embeddings"))) if v)
    weights = {True: "trained weights: the quality columns measure how far each precision "
                     "moves a real model from its fp32 self",
               False: "random weights, generated locally: the speed is that of the real "
                      "shape, and the quality columns measure agreement with fp32 on "
                      "near-tied logits, not language quality (4-bit formats fall below the "
                      "quality gate here)"}.get(m.get("trained"),
                                                 "weights: not recorded in this run's file")
    head = " · ".join(x for x in (f"{model_name(run)}: {m.get('architecture') or 'model'}",
                                  size, shape) if x)
    return f"{head} · {weights}"


def bandwidth_text(run: Run) -> str:
    """The run's measured memory bandwidth as two figures: DRAM (the largest working set,
    what decode's weights stream from) and cache (the smallest), each the best of copy,
    triad and read; never the cache figure alone under the name of memory bandwidth."""
    points = sorted((run.environment.get("memory_bandwidth") or {}).get("points") or [],
                    key=lambda p: p.get("bytes", 0))
    if not points:
        return ""

    def gbs(p: dict) -> str:
        best = max(p.get("read_gbs", 0), p.get("copy_gbs", 0), p.get("triad_gbs", 0))
        return f"{best:.0f} GB/s ({_size(p.get('bytes', 0))} working set)"

    text = f"DRAM bandwidth {gbs(points[-1])}"
    if len(points) > 1:
        text += f", cache {gbs(points[0])}"
    return text + "; STREAM-style, measured with the run"


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:g} GB" if nbytes >= 2**30 else f"{nbytes / 2**20:g} MB"


def _repetitions(run: Run) -> str:
    w = run.workload
    return (f"{w.threads} threads, {w.warmups} warm-up, {w.reps} reps x {w.rounds} "
            f"round{'s' if w.rounds != 1 else ''}"
            + (f" (each in its own order, seed {w.order_seed})" if w.order_seed is not None
               else ""))


def workload_summary(run: Run) -> str:
    """The run's points (each axis's values for a sweep), threads and repetitions."""
    return f"{points_text(run)}{'; ' if is_sweep(run) else ', '}{_repetitions(run)}"


def headline_summary(run: Run) -> str:
    """The workload of a table that shows the run's headline point only."""
    if not is_sweep(run):
        return workload_summary(run)
    return (f"{run.headline_point().label} (one point of the sweep {points_text(run)}), "
            f"{_repetitions(run)}")


# what the run page says of a fact the run's file does not hold (asv's results keep the
# figures only)
NOT_RECORDED = "not recorded in this run's file"


def grouped_notes(named: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(cells, note) once per distinct note, in first-seen order: a note every cell carries
    (asv's "median only") is one line naming them all, not one line per cell."""
    cells: dict[str, list[str]] = {}
    for name, note in named:
        cells.setdefault(note, []).append(name)
    return [(", ".join(names) if len(names) < 4 else f"{len(names)} cells", note)
            for note, names in cells.items()]


def _env_rows(run: Run) -> list[tuple[str, str]]:
    m, env = run.machine, run.environment
    cores = [f"{n} {kind}" for n, kind in ((m.physical_cores, "physical"),
                                            (m.logical_cores, "logical")) if n is not None]
    ids = run.workload.prompt_ids
    rows = [("machine", m.label), ("CPU", f"{m.cpu} ({m.arch})"),
            ("cores", ", ".join(cores) or NOT_RECORDED),
            ("RAM", f"{m.ram_gb:g} GB" if m.ram_gb else NOT_RECORDED),
            ("GPU", ", ".join(m.gpu) or "none"),
            ("model", pretty(run.model)), ("workload", workload_summary(run)),
            ("prompt ids", f"{len(ids)} ids" if ids else NOT_RECORDED)]
    for key, value in env.items():
        if key == "engines":
            continue
        text = " ".join(map(str, value)) if isinstance(value, list) else (
            pretty(value) if isinstance(value, dict) else str(value))
        rows.append((key, text))
    return rows


def data_scope(runs: list[Run]) -> str:
    """What kind of hardware all of the site's data comes from, when it is all of one kind
    (so far: CPUs only, on small VMs), for Home to say up front; empty otherwise."""
    if not runs or any(r.machine.gpu for r in runs):
        return ""
    cores = sorted({r.machine.logical_cores for r in runs if r.machine.logical_cores})
    vms = all("hypervisor" in (r.environment.get("cpu_flags_all") or []) for r in runs)
    return ("Every figure here so far is from CPUs only, no GPU"
            + (f", on machines of {' or '.join(map(str, cores))} logical cores" if cores else "")
            + (", all of them virtual machines" if vms else "")
            + ": read them as such, not as what a GPU or a large server does.")


def _lead_text(lead: Lead) -> str:
    ci = f" [{lead.ci95[0]:.2f}, {lead.ci95[1]:.2f}]" if lead.ci95 else ""
    return f"{cell_key(lead.other)} x{lead.ratio:.2f}{ci}"


def verdict_rows(run: Run, floor: NoiseFloor) -> list[dict]:
    """Home's verdict rows for a run's headline cells: per precision class, the fastest
    decode past the quality gate, its figures, and its lead over the next (clear or tie)."""
    rows = []
    for v in class_verdicts(run.headline_cells(), floor.pct):
        m = v.fastest.metrics
        tied = [lead for lead in v.leads if lead.outcome == "tie"]
        if not v.leads:
            against, outcome = "the only cell of its class past the gate", "only"
        elif tied:
            against, outcome = "tie with " + "; ".join(map(_lead_text, tied)), "tie"
        else:
            against, outcome = "ahead of " + _lead_text(v.leads[0]), "clear"
        uncrowned = [f"{cell_key(c)} ({number(c.metrics.decode_tps.median)}, "  # type: ignore[union-attr]
                     f"{'below the gate' if gate(c) == 'fail' else 'quality not measured'})"
                     for c in v.uncrowned]
        rows.append({"model": model_name(run), "slug": slug(run.run_id),
                     "pclass": v.precision_class, "fastest": cell_key(v.fastest),
                     "decode": number(m.decode_tps.median) if m.decode_tps else "",
                     "prefill": number(m.prefill_tps.median) if m.prefill_tps else "",
                     "ttft": number(m.ttft_ms.median) if m.ttft_ms else "",
                     "rss": number(m.peak_rss_mb, 0), "against": against,
                     "outcome": outcome, "uncrowned": ", ".join(uncrowned)})
    return rows


def _latest_comparison(runs: list[Run], floor: NoiseFloor) -> dict | None:
    """A model's latest run against the run before it of the same workload (`compare`'s
    verdicts against the machine's noise floor): counts, and the rows that changed."""
    latest = runs[-1]
    base = previous_run(latest, runs)
    if base is None:
        return None
    result = compare(base, latest, floor.pct, noise_source=floor.text)
    counts = Counter(r.verdict for r in result.rows)
    return {"model": model_name(latest), "base": base.run_id, "new": latest.run_id,
            "counts": sorted(counts.items()), "rule": result.rule,
            "rows": [r for r in result.rows if r.verdict not in ("no change",)],
            "labels": {m: label for m, (label, _) in METRICS.items()}}


class Renderer:
    """Writes every generated page of one site into `docs` (the MkDocs source folder)."""

    def __init__(self, templates: Path, docs: Path, results: Results, claims: FeatureClaims):
        self.env = environment(templates)
        self.env.globals["fragment"] = self._fragment
        self.fragments: list[str] = []
        self.docs, self.results, self.claims = docs, results, claims
        self.built = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        # (machine, model) -> its latest sweep run, the one its Scaling page draws
        self.sweeps = scaling.latest_sweeps(results)
        # each machine's noise floor, measured once for Home's verdicts and its Changes page
        self.floors = {label: noise_floor(label, results.of(label))
                       for label in results.machines()}

    def _fragment(self, caller: Any) -> Markup:
        """Keep the HTML of a `{% call fragment() %}` block for the MkDocs hook; the page
        gets a placeholder, as a block of its own."""
        self.fragments.append(str(caller()))
        return Markup(f"\n\n<!-- enginebench-fragment {len(self.fragments) - 1} -->\n\n")

    def _write(self, rel: str, template: str, **context: Any) -> None:
        path = self.docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fragments = []
        path.write_text(self.env.get_template(template).render(**context))
        if self.fragments:
            store = sidecar(self.docs, rel)
            store.parent.mkdir(parents=True, exist_ok=True)
            store.write_text(json.dumps(self.fragments))

    def render_all(self) -> int:
        """Clear the previous generated pages, write the new ones; returns the page count."""
        for name in GENERATED:
            target = self.docs / name
            if target.is_dir():
                shutil.rmtree(target)
            target.unlink(missing_ok=True)
        machines = self.results.machines()
        runs = self.results.runs

        def the_rest(share: list[Run]) -> None:
            self._home(machines)
            self._features()
            self._per_machine(machines)
            for run in share:
                self._run_page(run)

        if split.can_split(len(runs)):
            # a forked process renders three run pages in four; this one the other pages
            # (the per-machine pages' change detection is about a quarter of the work)
            forked_share = [r for i, r in enumerate(runs) if i % 4]
            split.run_split(lambda: [self._run_page(r) for r in forked_share],
                            lambda: the_rest(runs[::4]))
        else:
            the_rest(runs)
        self._write("runs/index.md", "runs.md.j2", runs=self.results.runs[::-1],
                    ops_runs=self.results.ops_runs[::-1])
        self._write("methodology.md", "methodology.md.j2",
                    seed_tables=seed_tables(self.results, headline_summary))
        ops_machines = self._ops()
        self._scaling()
        self._write("compare/index.md", "compare.md.j2",
                    catalogue=compare_view.catalogue(self.results, self.floors))
        return 10 + 3 * len(machines) + len(self.results.runs) + ops_machines + len(self.sweeps)

    def _scaling(self) -> None:
        """A Scaling page per machine and model with a sweep run, and their index (which
        says so where there is none)."""
        index: dict[str, list[tuple[str, str]]] = {}
        for label in self.results.machines():
            for model in self.results.models(label):
                run = self.sweeps.get((label, model))
                if run is None:
                    continue
                rel = scaling.page(label, model)
                self._write(rel, "scaling.md.j2", page=scaling.build(label, model, run),
                            summary=machine_summary(run), workload=workload_summary(run),
                            date=run.created_at.strftime("%Y-%m-%d"))
                index.setdefault(label, []).append(
                    (model, scaling.href(label, model).removeprefix("scaling/")))
        self._write("scaling/index.md", "scaling_index.md.j2", machines=index)

    def _ops(self) -> int:
        """One operators page per machine (each model's latest ops run), and their index;
        returns the number of machine pages."""
        index = []
        machines = self.results.ops_machines()
        for label in machines:
            runs = [r for r in self.results.ops_runs if r.machine.label == label]
            latest = {model_name(r): r for r in runs}  # oldest first: the last one stays
            models = [ops_section(r) for _, r in sorted(latest.items())]
            summary = machine_summary(runs[-1])
            index.append({"label": label, "slug": slug(label), "summary": summary,
                          "models": [(m, sum(model_name(r) == m for r in runs))
                                     for m in sorted(latest)]})
            self._write(f"ops/{slug(label)}.md", "ops.md.j2", machine=label, summary=summary,
                        models=models)
        self._write("ops/index.md", "machines.md.j2", title="Operators",
                    intro="Single operators at a model's shapes (matmul, matvec, RMSNorm, "
                    "softmax, RoPE, SwiGLU, attention) per engine, against the machine's "
                    "roofline: `enginebench ops`.", machines=index)
        return len(machines)

    def _home(self, machines: list[str]) -> None:
        out = []
        for label in machines:
            tables = []
            for model in self.results.models(label):
                run = self.results.latest(label, model)
                scales = (label, model) in self.sweeps
                tables.append({"model": model, "run_id": run.run_id, "slug": slug(run.run_id),
                               "card": model_card(run),
                               "date": run.created_at.strftime("%Y-%m-%d"),
                               "workload": headline_summary(run),
                               "table": cell_table(run.headline_cells()),
                               "scaling": scaling.href(label, model) if scales else None})
            latest = self.results.of(label)[-1]
            floor = self.floors[label]
            verdicts = [row for model in self.results.models(label)
                        for row in verdict_rows(self.results.latest(label, model), floor)]
            out.append({"label": label, "summary": machine_summary(latest), "tables": tables,
                        "verdicts": verdicts, "floor": floor.text})
        self._write("index.md", "index.md.j2", machines=out, results=self.results,
                    built=self.built, scope=data_scope(self.results.runs))

    def _features(self) -> None:
        matrix = build_matrix(self.claims, self.results.runs)
        failed = [(f"{e} · {f.label}", ev) for (e, fid), c in matrix.cells.items()
                  for f in matrix.features if f.id == fid
                  if (ev := c.shown) and not ev.ok]
        self._write("features.md", "features.md.j2", matrix=matrix, failed_cells=failed)

    def _per_machine(self, machines: list[str]) -> None:
        index = []
        for label in machines:
            runs = self.results.of(label)
            summary = machine_summary(runs[-1])
            models = self.results.models(label)
            index.append({"label": label, "slug": slug(label), "summary": summary,
                          "models": [(m, len(self.results.of(label, m))) for m in models]})
            floor = self.floors[label]
            found = change_points(label, runs, floor.pct)
            self._write(f"changes/{slug(label)}.md", "changes.md.j2", machine=label,
                        summary=summary, floor=floor, changes=found,
                        metrics=SERIES_METRICS, runs=len(runs),
                        latest=[_latest_comparison(self.results.of(label, m), floor)
                                for m in models])
            trends, paretos = [], []
            for model in models:
                of_model = self.results.of(label, model)
                # one run is no trend: a sentence, not a chart of single points
                spec = charts.trends_chart(of_model, "../runs/{run_id}.html",
                                           [p for p in found if p.model == model]) \
                    if len(of_model) > 1 else None
                if spec or len(of_model) == 1:
                    trends.append({"model": model, "spec": spec, "runs": len(of_model),
                                   "run_slug": slug(of_model[-1].run_id),
                                   "first": of_model[0].created_at.strftime("%Y-%m-%d"),
                                   "last": of_model[-1].created_at.strftime("%Y-%m-%d")})
                latest = of_model[-1]
                drawn, sentences = charts.pareto_charts(
                    latest, f"../runs/{slug(latest.run_id)}.html")
                paretos.append({"model": model, "run_id": latest.run_id,
                                "date": latest.created_at.strftime("%Y-%m-%d"),
                                "charts": drawn, "sentences": sentences})
            self._write(f"trends/{slug(label)}.md", "trends.md.j2", machine=label,
                        summary=summary, models=trends, floor=floor, changes=len(found))
            self._write(f"pareto/{slug(label)}.md", "pareto.md.j2", machine=label,
                        summary=summary, models=paretos)
        for kind, title, intro in (
                ("trends", "Trends", "Decode and prefill tok/s over time and over engine "
                 "versions, per machine and model."),
                ("pareto", "Pareto fronts", "Decode tok/s against peak memory and against "
                 "quality loss, per machine, from each model's latest run."),
                ("changes", "Changes", "Steps in each cell's decode and prefill tok/s over "
                 "time, found with asv's step detection and kept where they exceed the "
                 "machine's measured noise floor, with what changed at each.")):
            self._write(f"{kind}/index.md", "machines.md.j2", title=title, intro=intro,
                        machines=index)

    def _run_page(self, run: Run) -> None:
        sweep = is_sweep(run)
        by_point: dict[Point, list[Cell]] = {p: [] for p in run_points(run)}
        for c in run.cells:
            by_point[run.point(c)].append(c)
        head = run.headline_point()
        tables = [{"point": p.label, "headline": p == head, "table": cell_table(cells)}
                  for p, cells in by_point.items() if cells]
        failures = [(cell_label(run, c, sweep), c) for c in run.cells if c.status != "ok"]
        notes = grouped_notes([(cell_label(run, c, sweep), n) for c in run.cells
                               for n in c.notes])
        reruns = [(cell_label(run, c, sweep), c.rerun) for c in run.cells if c.rerun]
        engines = sorted((run.environment.get("engines") or {}).items())
        latest = self.sweeps.get((run.machine.label, model_name(run)))
        scales = scaling.href(run.machine.label, model_name(run), "../") if sweep else None
        name = slug(run.run_id)
        self._write(f"runs/{name}.md", "run.md.j2", run=run, downloads=name,
                    model=model_name(run), tables=tables, sweep=sweep,
                    model_card=model_card(run), machine_card=machine_summary(run),
                    scaling=scales, scaling_is_this=latest is run,
                    workload=workload_summary(run),
                    samples=charts.samples_chart(run), failures=failures, notes=notes,
                    reruns=reruns,
                    environment=_env_rows(run), engines=engines,
                    quality={k: v for k, v in (run.quality or {}).items() if k != "ids"})
        # the run's document as committed (gzip: a year of nightly documents would otherwise
        # be most of the site) and its cells as CSV, published beside its page
        source = self.results.sources.get(run.run_id)
        document = source.read_bytes() if source else (render(run, "json") or "").encode()
        (self.docs / "runs" / f"{name}.json.gz").write_bytes(
            gzip.compress(document, compresslevel=1, mtime=0))
        (self.docs / "runs" / f"{name}.csv").write_text(render(run, "csv") or "")
        # its cells, compact, for the compare view (and as its table's JSON)
        (self.docs / "runs" / f"{name}.cells.json").write_text(
            json.dumps(compare_view.cells_document(run), separators=(",", ":")))
