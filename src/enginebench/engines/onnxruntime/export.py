"""ONNX graphs with a KV cache for the ONNX Runtime engines, from one exporter.

The checkpoint is exported by ONNX Runtime GenAI's model builder
(`onnxruntime_genai.models.builder`), which writes a decoder graph with past/present
key-value inputs and outputs, so decoding feeds one token per step. Plain ONNX Runtime
quantizes the fp32 graph itself with `onnxruntime.quantization`.
"""

import logging
import sys
import tempfile
from pathlib import Path

from enginebench.engines.tool import run_tool
from enginebench.leftovers import temp_prefix

MODEL = "model.onnx"


def build(checkpoint: Path, out_dir: Path, precision: str, provider: str = "cpu",
          extra: dict[str, str] | None = None) -> None:
    """Run the model builder: `precision` is one of its own (fp32, fp16, int8, int4)."""
    with tempfile.TemporaryDirectory(prefix=temp_prefix("ortbuild")) as cache:
        cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(checkpoint),
               "-o", str(out_dir), "-p", precision, "-e", provider, "-c", cache]
        if extra:
            cmd += ["--extra_options", *(f"{k}={v}" for k, v in extra.items())]
        run_tool(cmd, f"ONNX export ({' '.join(cmd[2:5])} -p {precision})", out_dir / MODEL)


def quantize_int8(src: Path, dst: Path, reduce_range: bool) -> None:
    """Dynamic int8 quantization of every MatMul weight (onnxruntime.quantization);
    `reduce_range`: 7-bit weights, for CPUs whose u8s8 kernels can saturate."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, reduce_range=reduce_range,
                     use_external_data_format=True)


def quantize_int4(src: Path, dst: Path, block_size: int = 32, accuracy_level: int = 4) -> None:
    """4-bit weights in MatMulNBits nodes (onnxruntime's MatMulNBitsQuantizer).

    accuracy_level 4 lets the CPU kernel compute with int8 activations, as the GenAI
    builder does for CPU int4; without it the weights are dequantized to fp32 per call.
    """
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization").setLevel(logging.WARNING)
    quantizer = MatMulNBitsQuantizer(onnx.load(src), block_size=block_size, is_symmetric=True,
                                     accuracy_level=accuracy_level)
    quantizer.process()
    quantizer.model.save_model_to_file(str(dst), use_external_data_format=True)
