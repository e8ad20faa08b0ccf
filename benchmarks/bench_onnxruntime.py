"""asv: ONNX Runtime cells, per model preset and precision."""

from ._cells import EngineCells, params_for, run_cells


class OnnxRuntime(EngineCells):
    params = params_for("onnxruntime")

    def setup_cache(self) -> dict:
        return run_cells("onnxruntime")
