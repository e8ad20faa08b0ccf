"""asv: ONNX Runtime GenAI cells, per model preset and precision."""

from enginebench import asv_cells


class OnnxRuntimeGenAI(asv_cells.EngineCells):
    params = asv_cells.params_for("onnxruntime-genai")

    def setup_cache(self) -> dict:
        return asv_cells.run_cells("onnxruntime-genai")
