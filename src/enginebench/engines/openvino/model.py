"""OpenVINO GenAI: optimum-intel's stateful IR (export.py) driven by GenAI's `LLMPipeline`
on the CPU plugin, greedily for exactly N tokens (`ignore_eos`, min = max new tokens).

Per-token times are GenAI's own: `perf_metrics.raw_metrics.m_new_token_times`, the moment
each token was sampled, on the steady clock that `time.perf_counter()` reads on Linux (each
is checked to lie inside the call). A streamer's callback would not do: GenAI calls it from
its own thread, up to tens of milliseconds after the token exists.

Teacher-forced logits come from the same IR compiled by OpenVINO's Core with the same
properties and run through its stateful infer request (the pipeline returns ids, not
logits); it is compiled on first use, after the timed part of the cell.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.engines.base import (
    Engine,
    Generation,
    LoadedModel,
    MemoryModel,
    PrecisionClass,
    Unsupported,
)
from enginebench.engines.openvino import export, plugin
from enginebench.models.checkpoint import Checkpoint

# NNCF's modes for the export's --weight-format int8 / int4 (optimum-intel's defaults)
_MODES = {"int8": "INT8_ASYM", "int4": "INT4_ASYM"}
INT4_GROUP = 128
_EOS_NOTE = ("exactly N tokens through ignore_eos with min_new_tokens = max_new_tokens "
             "(GenAI stops at EOS otherwise)")
_NOTES = {
    "fp32": "fp32 IR (optimum-intel --weight-format fp32)",
    "fp16": "fp16 IR (optimum-intel --weight-format fp16)",
    "bf16": "fp32 IR run at the plugin's bf16 inference precision",
    "int8": "weights int8_asym per output channel, every layer (NNCF through optimum-intel "
            "--weight-format int8)",
    "int4": f"weights int4_asym in groups of {INT4_GROUP} (smaller where {INT4_GROUP} does not "
            "divide a layer's input), ratio 1.0; embeddings and lm_head int8_asym, NNCF's "
            "backup precision (optimum-intel --weight-format int4 defaults)",
}


def compression_mode(precision_class: str) -> object:
    """NNCF's weight-compression mode for int8 / int4 (as the export applies it)."""
    import nncf

    return getattr(nncf.CompressWeightsMode, _MODES[precision_class])


@dataclass
class _Model:
    pipe: object
    artifact: Path
    props: dict
    precision_class: str
    logits_request: object | None = None


class OpenVinoEngine(Engine):
    name = "openvino"
    modules = ("openvino", "openvino_genai")
    packages = ("openvino-genai", "openvino", "openvino-tokenizers", "optimum-intel", "nncf")
    install = "pip install 'enginebench[openvino]' && bash scripts/install_openvino_export.sh"
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "fp32": "fp32", "fp16": "fp16", "bf16": "bf16", "int8": "int8", "int4": "int4"}
    devices = ("cpu",)
    no_batch = ("is driven through openvino-genai's LLMPipeline for one sequence, whose "
                "per-token times are one sequence's; its batched path (continuous "
                "batching) is not wired here")
    # optimum-intel exports the checkpoint through transformers' own Llama
    honours = frozenset({"rope_type:llama3", "rope_type:linear", "head_dim",
                         "tie_word_embeddings", "attention_bias", "mlp_bias"})
    converts = True
    # what the plugin reports for the IR compiled with the cell's properties (set when the
    # logits are first compiled, after the timed part; None without a quality pass)
    compiled: dict[str, str] | None = None
    # the plugin repacks weights at f32 (an fp16 IR is decompressed at compile, bf16 keeps
    # 2 bytes); fp32 KV cache at fp32, u8 (the plugin's default) for int8/int4
    memory = MemoryModel(weights={"fp16": 4.0, "int8": 1.2, "int4": 0.8},
                         kv={"fp32": 4.0, "int8": 1.0, "int4": 1.0},
                         overhead_bytes=0.5e9, convert_overhead_bytes=1.5e9,
                         convert={"fp32": (2.0, 0.0), "fp16": (2.0, 0.0), "bf16": (2.0, 0.0),
                                  "int8": (2.0, 1.0), "int4": (2.0, 1.0)})

    @classmethod
    def available(cls) -> bool:
        """The runtime and the exporter's own venv (scripts/install_openvino_export.sh)."""
        return super().available() and export.exporter().exists()

    @classmethod
    def device_problem(cls, precision: str, device: str) -> str | None:
        return plugin.capability_problem(cls.precisions[precision])

    def build_info(self) -> dict:
        import openvino as ov

        core = ov.Core()
        return {"packages": self.package_versions(), "openvino": ov.get_version(),
                "device": core.get_property("CPU", "FULL_DEVICE_NAME"),
                "capabilities": list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
                "compiled": self.compiled}

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        export.export(ckpt.path, out_dir, self.precisions[precision])

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        import openvino_genai as og

        cls_ = self.precisions[precision]
        problem = plugin.capability_problem(cls_) or plugin.model_problem(cls_, threads)
        if problem:
            raise Unsupported(problem)
        props = plugin.properties(cls_, threads, kv_cache=True)
        # the stateful model as exported (GenAI would pick paged attention otherwise)
        pipe = og.LLMPipeline(str(artifact), "CPU", ATTENTION_BACKEND="SDPA", **props)
        handle = _Model(pipe, artifact, props, cls_)
        asked = ", ".join(f"{k}={v}" for k, v in props.items())
        kv = "" if plugin.KV_CACHE[cls_] else (
            "; KV cache at the plugin's default precision (u8 on x86)")
        notes = [_NOTES[cls_], *filter(None, [export.weights_note(artifact)]), _EOS_NOTE,
                 f"GenAI LLMPipeline, SDPA backend, CPU plugin: {asked}{kv}"]
        return LoadedModel(handle, notes)

    def _config(self, new_tokens: int) -> object:
        import openvino_genai as og

        cfg = og.GenerationConfig()
        cfg.max_new_tokens = cfg.min_new_tokens = new_tokens
        cfg.ignore_eos = True
        cfg.do_sample = False
        return cfg

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        import openvino as ov

        m: _Model = model.handle
        tensor = ov.Tensor(np.asarray([prompt_ids], dtype=np.int64))
        start = time.perf_counter()
        out = m.pipe.generate(tensor, self._config(new_tokens))
        end = time.perf_counter()
        times = [t / 1000 for t in out.perf_metrics.raw_metrics.m_new_token_times]
        ids = [int(t) for t in out.tokens[0]]
        if times and not (start <= times[0] and times[-1] <= end):
            raise RuntimeError(f"GenAI's token times ({times[0]:.3f}..{times[-1]:.3f} s) lie "
                               f"outside the call ({start:.3f}..{end:.3f} s): its clock is "
                               "not perf_counter's here")
        return Generation(ids, times)

    def _request(self, m: _Model) -> object:
        if m.logits_request is None:
            import openvino as ov

            compiled = ov.Core().compile_model(str(m.artifact / export.MODEL), "CPU", m.props)
            plugin.check_precision(compiled, m.precision_class)
            self.compiled = plugin.reported(compiled)
            m.logits_request = compiled.create_infer_request()
        return m.logits_request

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        m: _Model = model.handle
        request = self._request(m)
        request.reset_state()
        n = len(ids)
        request.infer({"input_ids": np.asarray([ids], np.int64),
                       "attention_mask": np.ones((1, n), np.int64),
                       "position_ids": np.arange(n, dtype=np.int64)[None],
                       "beam_idx": np.zeros(1, np.int32)})
        return np.array(request.get_tensor("logits").data[0], dtype=np.float32)
