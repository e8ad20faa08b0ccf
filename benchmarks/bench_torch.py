"""asv: PyTorch (transformers, torchao) cells, per model preset and precision."""

from enginebench import asv_cells


class Torch(asv_cells.EngineCells):
    params = asv_cells.params_for("torch")

    def setup_cache(self) -> dict:
        return asv_cells.run_cells("torch")
