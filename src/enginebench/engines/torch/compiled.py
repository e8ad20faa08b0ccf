"""PyTorch under torch.compile (Inductor): the `torch` engine's model and precisions, with the
decode step compiled over a static KV cache, as transformers' `generate` does it when it
compiles. A separate engine name (`torch-compile`) so eager stays the main `torch` row.

The cache is a `StaticCache` of the generation's length (prompt + new tokens), as transformers
sizes it, so every decode step has one shape and one graph; the prefill runs eagerly, as in
transformers (a graph per prompt length would buy little for one call). The teacher-forced
logits of the quality pass go through the compiled module too (one more graph, no cache), so
quality measures the compiled kernels.
The first decode step of the first `generate`, where its graph compiles, is `compile_s`,
reported apart from the rates (the harness's warm-up run absorbs it). It is a cold compile:
each loaded model points Inductor's on-disk caches (FX graphs, kernels) at an empty folder of
its own, so a graph an earlier process compiled is not a cache hit.
"""

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enginebench.engines.base import BatchGeneration, LoadedModel
from enginebench.engines.torch.model import TorchEngine
from enginebench.leftovers import temp_prefix
from enginebench.models.checkpoint import Checkpoint


@dataclass
class _Compiled:
    net: object  # the eager module (device, config)
    forward: object  # torch.compile of it
    cache_arg: str
    inductor_dir: str  # Inductor's on-disk caches, empty at load, removed at close
    # transformers StaticCache per (batch, sequence length (prompt + new tokens)), as
    # generate sizes it
    caches: dict[tuple[int, int], object] = field(default_factory=dict)
    compile_s: float | None = None


def _cache(m: _Compiled, batch: int, size: int) -> object:
    """An emptied StaticCache of `size` positions for `batch` sequences (one per shape: the
    graph is per shape; the cache takes its batch from its first use)."""
    from transformers import StaticCache

    key = (batch, size)
    if key not in m.caches:
        m.caches[key] = StaticCache(config=m.net.config, max_cache_len=size)
    m.caches[key].reset()
    return m.caches[key]


class TorchCompileEngine(TorchEngine):
    name = "torch-compile"
    no_ops = "a single op under torch.compile is torch's own op (`enginebench ops` torch)"

    def build_info(self) -> dict:
        import torch._inductor.config as inductor

        info = super().build_info()
        info["compile"] = {"backend": "inductor", "mode": "default", "dynamic": False,
                           "fullgraph": True, "cpp_wrapper": inductor.cpp_wrapper,
                           "freezing": inductor.freezing}
        return info

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        import torch

        loaded = super().load(ckpt, artifact, precision, device, threads, context)
        net, cache_arg = loaded.handle.net, loaded.handle.cache_arg
        # a fresh compile cache per model: graphs of an earlier model in this process (a
        # test's) would count against dynamo's recompile limit, fatal under fullgraph; and
        # an empty on-disk cache, so compile_s is a cold compile whatever ran before
        from torch._inductor.utils import clear_caches

        torch._dynamo.reset()
        inductor_dir = tempfile.mkdtemp(prefix=temp_prefix("inductor"))
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = inductor_dir
        clear_caches()
        forward = torch.compile(net, fullgraph=True, dynamic=False)
        loaded.notes.append(
            "torch.compile(model, backend='inductor', fullgraph=True, dynamic=False) for the "
            "decode step; prefill eager; transformers StaticCache of prompt + new tokens "
            "positions (attention over the whole cache, masked), as generate sizes it")
        loaded.notes.append("compile_s is cold: Inductor's on-disk caches start empty")
        return LoadedModel(_Compiled(net, forward, cache_arg, inductor_dir), loaded.notes)

    def close(self, model: LoadedModel) -> None:
        shutil.rmtree(model.handle.inductor_dir, ignore_errors=True)
        super().close(model)

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        import torch

        m: _Compiled = model.handle
        device = m.net.device
        first = m.compile_s is None
        ids: list[list[int]] = [[] for _ in prompts]
        times: list[float] = []
        cache = _cache(m, len(prompts), len(prompts[0]) + new_tokens)
        with torch.no_grad():  # not inference_mode: the compiled graph updates the cache in place
            # the prefill eager, as transformers' generate runs it (one shape, run once)
            out = m.net(input_ids=torch.tensor(prompts, device=device), use_cache=True,
                        logits_to_keep=1, **{m.cache_arg: cache})
            for step in range(new_tokens):
                tokens = out.logits[:, -1].argmax(-1)
                # tolist() waits for the device: the step's tokens exist now
                for seq, token in zip(ids, tokens.tolist(), strict=True):
                    seq.append(token)
                times.append(time.perf_counter())
                if first and step == 1:
                    m.compile_s = times[-1] - times[0]
                    model.notes.append(f"compile_s={m.compile_s:.2f}: the first decode "
                                       "step of the first generate, where its graph "
                                       "compiles")
                if step + 1 < new_tokens:
                    out = m.forward(input_ids=tokens.view(-1, 1), use_cache=True,
                                    logits_to_keep=1, **{m.cache_arg: cache})
        return BatchGeneration(ids, times)

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        import torch

        m: _Compiled = model.handle
        with torch.no_grad():  # not inference_mode: the compiled graph updates the cache in place
            out = m.forward(input_ids=torch.tensor([ids], device=m.net.device),
                            use_cache=False)
        return out.logits[0].float().cpu().numpy()

    def compile_s(self, model: LoadedModel) -> float | None:
        return model.handle.compile_s
