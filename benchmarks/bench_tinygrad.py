"""asv: tinygrad cells, per model preset and precision."""

from ._cells import EngineCells, params_for, run_cells


class Tinygrad(EngineCells):
    params = params_for("tinygrad")

    def setup_cache(self) -> dict:
        return run_cells("tinygrad")
