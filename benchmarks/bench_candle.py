"""asv: candle (the Rust runner) cells, per model preset and precision."""

from ._cells import EngineCells, params_for, run_cells


class Candle(EngineCells):
    params = params_for("candle")

    def setup_cache(self) -> dict:
        return run_cells("candle")
