"""The fp32 reference every cell's quality is measured against: PyTorch fp32 on the same
checkpoint, its teacher-forced logits over the quality sequence, its greedy ids for the
run's prompt, for every other prompt of its sweep (other lengths, a batch's other
sequences) and for each divergence prompt, and how far each greedy choice led the
runner-up. Computed once in an isolated cell process and kept in the cache, keyed
by checkpoint, sequences and PyTorch version."""

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enginebench.engines.base import Engine
from enginebench.engines.registry import adapter_ref, engine_class
from enginebench.measure import memory
from enginebench.measure.isolate import run_isolated
from enginebench.measure.job import ReferenceJob
from enginebench.measure.quality import first_difference
from enginebench.models.checkpoint import Checkpoint
from enginebench.paths import cache_root

ENGINE = "torch"
QUALITY_TOKENS = 1024
# greedy tokens generated for each divergence prompt (workload.divergence_prompts)
DIVERGE_TOKENS = 32


class ReferenceUnavailable(Exception):
    """The reference cannot be computed here; the message says why."""


@dataclass
class Reference:
    label: str
    path: Path
    greedy: list[int]
    # per generated token: the reference's top-1 lead over its top-2, relative
    margins: list[float]
    # the same for each divergence prompt
    diverge_greedy: list[list[int]]
    diverge_margins: list[list[float]]
    # the sweep's other prompts -> their greedy ids and margins
    by_prompt: dict[tuple[int, ...], tuple[list[int], list[float]]] = field(
        default_factory=dict)

    def departure(self, ids: list[int], prompt: list[int] | None = None
                  ) -> tuple[int | None, float | None]:
        """The first generated token where `ids` leave the greedy output (for `prompt`,
        the run's prompt unless given), and the reference's lead there (None, None when
        they never do)."""
        if prompt is None:
            return _departure(self.greedy, self.margins, ids)
        greedy, margins = self.by_prompt[tuple(prompt)]
        return _departure(greedy, margins, ids)

    def divergences(self, outputs: list[list[int]]) -> list[tuple[int | None, float | None]]:
        """`departure` for each divergence prompt's output."""
        return [_departure(g, m, ids) for g, m, ids in
                zip(self.diverge_greedy, self.diverge_margins, outputs, strict=True)]


def _departure(greedy: list[int], margins: list[float], ids: list[int]
               ) -> tuple[int | None, float | None]:
    k = first_difference(greedy, ids)
    return k, margins[k] if k is not None and k < len(margins) else None


# what a truncated, damaged or foreign reference file raises on reading
UNREADABLE = (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError)


def _load(path: Path, label: str, prompt: list[int], prompts: list[list[int]]
          ) -> Reference:
    """The reference in `path`; its logits are read too, so a damaged member (checked
    against its CRC on reading) is found here, before any cell."""
    with np.load(path) as data:
        if data["logits"].ndim != 2:
            raise ValueError(f"{path}: logits of shape {data['logits'].shape}")
        greedy, margins = data["prompts_greedy"].tolist(), data["prompts_margins"].tolist()
        if len(greedy) != len(prompts):
            raise ValueError(f"{path}: {len(greedy)} prompts' greedy ids for {len(prompts)}")
        main = data["greedy"].tolist(), data["margins"].tolist()
        by_prompt = {tuple(p): (g, m) for p, g, m in zip(prompts, greedy, margins,
                                                          strict=True)}
        return Reference(label, path, *main, data["diverge_greedy"].tolist(),
                         data["diverge_margins"].tolist(), {**by_prompt, tuple(prompt): main})


def reference(ckpt: Checkpoint, quality_ids: list[int], prompt: list[int], new_tokens: int,
              diverge_prompts: list[list[int]], threads: int, timeout_s: float,
              engine: type[Engine] | None = None, prompts: list[list[int]] | None = None
              ) -> Reference:
    """The cached reference for these sequences, computed now if missing or unreadable;
    `engine` (PyTorch unless given) runs at its fp32 precision. `prompts` are the sweep's
    other prompts, each given `new_tokens` greedy ids too."""
    prompts = [p for p in prompts or [] if p != prompt]
    cls = engine or engine_class(ENGINE)
    if not cls.available():
        raise ReferenceUnavailable(f"{cls.name} (the fp32 reference) is not installed: "
                                   f"{cls.install}")
    precision = next(p for p, c in cls.precisions.items() if c == "fp32")
    label = f"{cls.name} {precision} {cls.version()}"
    context = max(len(quality_ids), len(prompt) + new_tokens,
                  *(len(p) + new_tokens for p in prompts),
                  *(len(p) + DIVERGE_TOKENS for p in diverge_prompts))
    problem = cls.config_problem(ckpt.config, precision, context) \
        or memory.refusal(cls, ckpt, precision, context, needs_conversion=False)
    if problem:
        raise ReferenceUnavailable(f"the {label} reference cannot run: {problem}")
    key = json.dumps([ckpt.fingerprint, quality_ids, prompt, new_tokens, diverge_prompts,
                      DIVERGE_TOKENS, label] + ([prompts] if prompts else []))
    path = cache_root() / "reference" / \
        f"{ckpt.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        try:
            return _load(path, label, prompt, prompts)
        except UNREADABLE:
            path.unlink(missing_ok=True)  # a damaged cache file is recomputed
    path.parent.mkdir(parents=True, exist_ok=True)
    job = ReferenceJob(adapter=adapter_ref(cls), checkpoint=str(ckpt.path), model=ckpt.name,
                       precision=precision, threads=threads, artifact=str(ckpt.path),
                       quality_ids=quality_ids, prompt_ids=prompt, new_tokens=new_tokens,
                       diverge_prompts=diverge_prompts, diverge_tokens=DIVERGE_TOKENS,
                       prompts=prompts, out=str(path))
    done = run_isolated(job, timeout_s, threads)
    if done.status != "ok":
        raise ReferenceUnavailable(f"the {label} reference failed: {done.error}")
    try:
        return _load(path, label, prompt, prompts)
    except UNREADABLE as e:
        raise ReferenceUnavailable(f"the {label} reference wrote an unreadable {path}: "
                                   f"{type(e).__name__}: {e}") from e
