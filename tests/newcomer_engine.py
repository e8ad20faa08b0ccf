"""An engine written the way the README's "Adding an engine" says: one module with its
model face and its op face. tests/test_new_engine.py registers it with one row and finds it
everywhere. Child processes import it from this folder (the tests put it on PYTHONPATH)."""

import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.engines.base import Engine, Generation, LoadedModel, PrecisionClass
from enginebench.engines.numpy.ops import NumpyOps
from enginebench.models.checkpoint import Checkpoint


class NewcomerEngine(Engine):
    """Greedy ids 0..N-1, 5 ms apart after a 20 ms prefill; flat logits."""

    name = "newcomer"
    modules = ("numpy",)
    packages = ("numpy",)
    install = "pip install newcomer"
    precisions: ClassVar[dict[str, PrecisionClass]] = {"f32": "fp32", "q8": "int8"}
    no_ops = None

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        return LoadedModel(handle=ckpt.vocab_size, notes=[f"newcomer at {precision}"])

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        start = time.perf_counter()
        return Generation(list(range(new_tokens)),
                          [start + 0.020 + 0.005 * k for k in range(new_tokens)])

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        return np.zeros((len(ids), model.handle), np.float32)


class NewcomerOps(NumpyOps):
    """The op face: NumPy's ops under the newcomer's name (from `model`)."""

    model = NewcomerEngine
