"""asv: tinygrad cells, per model preset and precision."""

from enginebench import asv_cells


class Tinygrad(asv_cells.EngineCells):
    params = asv_cells.params_for("tinygrad")

    def setup_cache(self) -> dict:
        return asv_cells.run_cells("tinygrad")
