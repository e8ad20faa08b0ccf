"""llama.cpp through llama-cpp-python's low-level API, on GGUF files made by llama.cpp itself.

The decode loop feeds one token per `llama_decode` and picks the next with llama.cpp's own
greedy sampler, so no logits are copied to Python per token: the harness does not eat the
engine's speed.
"""

import ctypes
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.engines.base import (
    PRECISION_CLASSES,
    BatchGeneration,
    Engine,
    Generation,
    LoadedModel,
    MemoryModel,
    PrecisionClass,
)
from enginebench.engines.llamacpp import gguf
from enginebench.engines.llamacpp.ggml import ggml_api, new_threadpool
from enginebench.models.checkpoint import Checkpoint

GGUF = "model.gguf"
# checkpoint storage dtype -> the lossless GGUF float type to quantize from
_BASE_TYPE = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}
_UBATCH = 512


def _attach_threadpool(ctx: object, threads: int) -> int:
    """Give the context a persistent ggml threadpool, as llama.cpp's own tools do; the
    caller frees it after the context.

    Without one, ggml starts and joins its worker threads for every graph, that is for
    every token (measured on `small` q4_0, 2 threads, 4 interleaved rounds: 554 tok/s
    without, 592 with, 599 for llama-bench's tg128 at depth 128).
    """
    import llama_cpp.llama_cpp as bindings

    pool = new_threadpool(threads)
    attach = bindings._lib.llama_attach_threadpool
    attach.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    attach(ctx, pool, pool)
    return pool


@dataclass
class _Model:
    model: object
    ctx: object
    sampler: object
    n_vocab: int
    pool: int
    threads: int
    # (batch, tokens per sequence) -> a context of its own for that batch, and its pool
    batch_ctx: dict[tuple[int, int], tuple[object, int]] = field(default_factory=dict)


def _context(model: object, n_ctx: int, threads: int, seqs: int = 1) -> tuple[object, int]:
    """A context of `n_ctx` KV cells for `seqs` sequences that takes all of them in one
    `llama_decode`, with its threadpool."""
    import llama_cpp as L

    cparams = L.llama_context_default_params()
    cparams.n_ctx = n_ctx
    cparams.n_batch = n_ctx
    cparams.n_ubatch = min(n_ctx, _UBATCH)
    cparams.n_seq_max = seqs
    cparams.n_threads = cparams.n_threads_batch = threads
    cparams.no_perf = True
    ctx = L.llama_init_from_model(model, cparams)
    if not ctx:
        raise RuntimeError("llama.cpp could not create a context")
    return ctx, _attach_threadpool(ctx, threads)


def _fill(batch: object, k: int, token: int, pos: int, seq: int, logits: bool) -> None:
    batch.token[k], batch.pos[k], batch.n_seq_id[k] = token, pos, 1
    batch.seq_id[k][0] = seq
    batch.logits[k] = int(logits)


class LlamaCppEngine(Engine):
    name = "llamacpp"
    modules = ("llama_cpp",)
    packages = ("llama-cpp-python",)
    install = ("pip install 'enginebench[llamacpp]' (compiles llama.cpp, about 7 minutes on "
               "2 cores; GPU build flags: runners/README.md)")
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "f32": "fp32", "f16": "fp16", "bf16": "bf16",
        "q8_0": "int8", "q4_0": "int4", "q4_k_m": "int4",
    }
    devices = ("cpu", "cuda")
    # one llama_batch with B sequence ids, as llama.cpp's batched-bench does
    no_batch = None
    honours = frozenset({"rope_type:llama3", "head_dim", "tie_word_embeddings",
                         "attention_bias", "mlp_bias"})
    converts = True
    # weights: the mapped GGUF, plus the copy llama.cpp's CPU backend repacks quantized
    # weights into (llama2-7b q4_0: 7.3 GB RSS for a 3.8 GB file); f16 KV cache. The
    # converter is lazy and the quantizer goes tensor by tensor through mapped files: a few
    # tensors' buffers
    memory = MemoryModel(weights={"int8": 2.2, "int4": 1.2}, overhead_bytes=0.3e9,
                         convert=dict.fromkeys(PRECISION_CLASSES, (0.2, 0.0)))

    def build_info(self) -> dict:
        import llama_cpp

        return {
            "packages": self.package_versions(),
            "system_info": llama_cpp.llama_print_system_info().decode().strip(),
            "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        }

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        """The GGUF at `precision`: llamacpp's own cached file for it when there is one
        (candle runs the same file), else converted; a quantized one is quantized from the
        cached GGUF at the checkpoint's dtype when there is one (the bytes the conversion
        would give: same converter, same checkpoint), else from a fresh conversion."""
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / GGUF
        if same := _cached_gguf(ckpt, precision):
            _link_or_copy(same, target)
            return
        if precision not in gguf.QUANT_FTYPES:
            gguf.convert(ckpt.path, target, precision)
            return
        base_type = _BASE_TYPE.get(ckpt.config.dtype or "float32", "f32")
        if cached_base := _cached_gguf(ckpt, base_type):
            gguf.quantize(cached_base, target, precision)
            return
        base = out_dir / "base.gguf"
        gguf.convert(ckpt.path, base, base_type)
        gguf.quantize(base, target, precision)
        base.unlink()

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        import llama_cpp as L

        # llama-cpp-python prints llama.cpp's log at every level unless its logger says not
        logging.getLogger("llama-cpp-python").setLevel(logging.WARNING)
        L.llama_backend_init()
        mparams = L.llama_model_default_params()
        mparams.n_gpu_layers = 999 if device == "cuda" else 0
        model = L.llama_model_load_from_file(str(artifact / GGUF).encode(), mparams)
        if not model:
            raise RuntimeError(f"llama.cpp could not load {artifact / GGUF}")
        ctx, pool = _context(model, context, threads)
        n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
        handle = _Model(model, ctx, L.llama_sampler_init_greedy(), n_vocab, pool, threads)
        return LoadedModel(handle)

    def close(self, model: LoadedModel) -> None:
        """Free the sampler, the context, then its threadpool, then the model."""
        import llama_cpp as L

        m: _Model = model.handle
        L.llama_sampler_free(m.sampler)
        for ctx, pool in [(m.ctx, m.pool), *m.batch_ctx.values()]:
            L.llama_free(ctx)
            ggml_api().threadpool_free(pool)
        L.llama_model_free(m.model)

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        import llama_cpp as L

        m: _Model = model.handle
        L.llama_memory_clear(L.llama_get_memory(m.ctx), True)
        prompt = (L.llama_token * len(prompt_ids))(*prompt_ids)
        one = (L.llama_token * 1)()
        ids: list[int] = []
        times: list[float] = []
        _check(L.llama_decode(m.ctx, L.llama_batch_get_one(prompt, len(prompt_ids))))
        for step in range(new_tokens):
            token = L.llama_sampler_sample(m.sampler, m.ctx, -1)
            times.append(time.perf_counter())
            ids.append(token)
            if step + 1 < new_tokens:
                one[0] = token
                _check(L.llama_decode(m.ctx, L.llama_batch_get_one(one, 1)))
        return Generation(ids, times)

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        """One `llama_batch` carrying every sequence's prompt (sequence ids 0..B-1), then
        one `llama_decode` per step carrying each sequence's last token; a context of its
        own, B x (P + N) KV cells for B sequences, made on the first call."""
        import llama_cpp as L

        m: _Model = model.handle
        n, p = len(prompts), len(prompts[0])
        key = (n, p + new_tokens)
        if key not in m.batch_ctx:
            m.batch_ctx[key] = _context(m.model, n * key[1], m.threads, n)
        ctx = m.batch_ctx[key][0]
        L.llama_memory_clear(L.llama_get_memory(ctx), True)
        ids: list[list[int]] = [[] for _ in prompts]
        times: list[float] = []
        batch = L.llama_batch_init(n * p, 0, 1)
        try:
            for s, prompt in enumerate(prompts):
                for i, tok in enumerate(prompt):
                    _fill(batch, s * p + i, tok, i, s, i == p - 1)
            batch.n_tokens = n * p
            _check(L.llama_decode(ctx, batch))
            last = [s * p + p - 1 for s in range(n)]  # where each sequence's logits are
            for step in range(new_tokens):
                for seq, k in zip(ids, last, strict=True):
                    seq.append(L.llama_sampler_sample(m.sampler, ctx, k))
                times.append(time.perf_counter())
                if step + 1 < new_tokens:
                    for s, seq in enumerate(ids):
                        _fill(batch, s, seq[-1], p + step, s, True)
                    batch.n_tokens = n
                    _check(L.llama_decode(ctx, batch))
                    last = list(range(n))
        finally:
            L.llama_batch_free(batch)
        return BatchGeneration(ids, times)

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        import llama_cpp as L

        m: _Model = model.handle
        L.llama_memory_clear(L.llama_get_memory(m.ctx), True)
        batch = L.llama_batch_init(len(ids), 0, 1)
        try:
            for i, tok in enumerate(ids):
                _fill(batch, i, tok, i, 0, True)
            batch.n_tokens = len(ids)
            _check(L.llama_decode(m.ctx, batch))
            rows = [np.ctypeslib.as_array(L.llama_get_logits_ith(m.ctx, i), (m.n_vocab,))
                    for i in range(len(ids))]
            return np.array(rows, dtype=np.float32)
        finally:
            L.llama_batch_free(batch)


def _cached_gguf(ckpt: Checkpoint, precision: str) -> Path | None:
    """The llamacpp engine's cached GGUF of `ckpt` at `precision`, checksums verified;
    None when there is none or it fails its check."""
    from enginebench.measure import artifacts

    found = artifacts.artifact_dir(ckpt, LlamaCppEngine, precision)
    convert_s, _ = artifacts.verify(found)
    return None if convert_s is None else found / GGUF


def _link_or_copy(src: Path, dst: Path) -> None:
    """`dst` as a hard link to `src` (no second copy of a 13 GB file), else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _check(code: int) -> None:
    if code != 0:
        raise RuntimeError(f"llama_decode returned {code}")

