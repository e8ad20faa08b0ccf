"""asv: PyTorch (transformers, torchao) cells, per model preset and precision."""

from ._cells import EngineCells, params_for, run_cells


class Torch(EngineCells):
    params = params_for("torch")

    def setup_cache(self) -> dict:
        return run_cells("torch")
