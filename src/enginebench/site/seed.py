"""The seed's 2023 Llama-2-7B table beside each machine's latest measured `llama2-7b` run,
for the methodology page: the seed's figures are constants quoted as the seed gave them;
ours come only from a committed run file, with its status where a cell did not run."""

from collections.abc import Callable
from dataclasses import dataclass

from enginebench.engines.registry import engine_class
from enginebench.report.numbers import number
from enginebench.results.schema import Cell, Run
from enginebench.site.records import Results, slug

MODEL = "llama2-7b"
# what the seed's hand-copied table gave (Apple M1 laptop CPU, 2023, "8 and 4 bits", no
# workload, warm-up or sample count recorded): decode tok/s by engine; None: listed, no figure
SEED_M1_2023: dict[str, float | None] = {
    "llamacpp": 13.2, "candle": 9.2, "ctranslate2": 12.3, "tinygrad": 0.75,
    "torch": None, "burn": None,
}
CLASSES = ("int8", "int4")  # the seed's 8 and 4 bits


@dataclass(frozen=True)
class SeedRow:
    engine: str
    seed: str  # the seed's figure, or "" where it lists the engine with none
    # "q8_0 4.1 tok/s" or "q8 timeout", one per cell; else why there is none
    by_class: dict[str, list[str]]


@dataclass(frozen=True)
class SeedTable:
    machine: str
    run_id: str
    run_slug: str
    date: str
    workload: str
    rows: list[SeedRow]


def _cell_text(c: Cell) -> str:
    if c.status == "ok" and c.metrics.decode_tps:
        return f"{c.precision} {number(c.metrics.decode_tps.median)} tok/s"
    return f"{c.precision} {c.status}"


def _table(run: Run, workload: str) -> SeedTable:
    rows = []
    for engine, seed in SEED_M1_2023.items():
        cells = [c for c in run.headline_cells() if c.engine == engine]
        has = set(engine_class(engine).precisions.values())
        rows.append(SeedRow(engine, "" if seed is None else f"{seed:g}",
                            {k: [_cell_text(c) for c in cells if c.precision_class == k]
                             or ["not in this run" if k in has else f"{engine} has no {k}"]
                             for k in CLASSES}))
    return SeedTable(run.machine.label, run.run_id, slug(run.run_id),
                     run.created_at.strftime("%Y-%m-%d"), workload, rows)


def seed_tables(results: Results, workload_of: Callable[[Run], str]) -> list[SeedTable]:
    """One table per machine that has a `llama2-7b` run, from its latest one."""
    latest = [results.latest(label, MODEL) for label in results.machines()
              if MODEL in results.models(label)]
    return [_table(run, workload_of(run)) for run in latest]
