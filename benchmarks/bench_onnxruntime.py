"""asv: ONNX Runtime cells, per model preset and precision."""

from enginebench import asv_cells


class OnnxRuntime(asv_cells.EngineCells):
    params = asv_cells.params_for("onnxruntime")

    def setup_cache(self) -> dict:
        return asv_cells.run_cells("onnxruntime")
