"""Checkpoint input, hardened (issue 21): a fingerprint of every byte that matters, so a
changed checkpoint gets new artifacts and a new reference; a bad checkpoint refused in one
line before any cell; damaged cache files rebuilt rather than fatal."""

import json
import os
import re
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from fake_engines import FakeEngine

from enginebench.cli import main
from enginebench.errors import UserError
from enginebench.measure import artifacts
from enginebench.measure import reference as reference_mod
from enginebench.measure.job import ChildResult, ReferenceJob
from enginebench.models import digest, generate
from enginebench.models.checkpoint import Checkpoint, open_checkpoint
from enginebench.models.generate import write_checkpoint
from enginebench.models.presets import PRESETS, preset_params
from enginebench.paths import cache_root

MB = 1 << 20
HOUR_NS = 3600 * 10**9
WEIGHTS = "model.safetensors"


def _age(path: Path, ago_ns: int = HOUR_NS) -> None:
    """Date every file of `path` back, as a checkpoint on disk for a while is."""
    when = time.time_ns() - ago_ns
    for f in path.iterdir():
        os.utime(f, ns=(when, when))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("ENGINEBENCH_CACHE", str(path))
    return path


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated `tiny` checkpoint that tests copy and never change."""
    return write_checkpoint(PRESETS["tiny"], tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture
def ckpt_dir(tiny_dir: Path, tmp_path: Path, cache: Path) -> Path:
    dest = tmp_path / "tiny"
    shutil.copytree(tiny_dir, dest)
    _age(dest)
    return dest


def _flip_middle(f: Path, n: int = 64) -> None:
    """Change `n` bytes in the middle of `f`, more than a MB from either end."""
    size = f.stat().st_size
    assert size > 3 * MB
    with open(f, "r+b") as fh:
        fh.seek(size // 2)
        old = fh.read(n)
        fh.seek(size // 2)
        fh.write(bytes(b ^ 0xFF for b in old))


def _fake_reference(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Stand in for the reference cell: writes a small .npz, records each computation."""
    made: list[Path] = []

    def run(job: ReferenceJob, timeout_s: float, threads: int) -> ChildResult:
        np.savez(job.out, logits=np.zeros((3, 8), np.float32), greedy=np.arange(2),
                 margins=np.ones(2), diverge_greedy=np.zeros((1, 2), np.int64),
                 diverge_margins=np.ones((1, 2)), prompts_greedy=np.zeros((0, 2), np.int64),
                 prompts_margins=np.ones((0, 2)))
        made.append(Path(job.out))
        return ChildResult()

    monkeypatch.setattr(reference_mod, "run_isolated", run)
    return made


def _reference(ckpt: Checkpoint) -> reference_mod.Reference:
    return reference_mod.reference(ckpt, [1, 2, 3], [1, 2], 2, [[1, 3]], 1, 10.0,
                                   engine=FakeEngine)


# --- item 1: the fingerprint covers every byte -------------------------------------------


def test_changed_middle_bytes_give_new_artifacts_and_reference(
        ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _fake_reference(monkeypatch)
    before = open_checkpoint(ckpt_dir)
    ref = _reference(before)
    assert _reference(before).path == ref.path and len(made) == 1  # cached
    _flip_middle(ckpt_dir / WEIGHTS)
    after = open_checkpoint(ckpt_dir)
    assert re.fullmatch(r"[0-9a-f]{16}", after.fingerprint)
    assert after.fingerprint != before.fingerprint
    assert artifacts.artifact_dir(after, FakeEngine, "fp32") != \
        artifacts.artifact_dir(before, FakeEngine, "fp32")
    assert _reference(after).path != ref.path and len(made) == 2  # computed again


def test_a_copy_that_keeps_size_and_mtime_is_still_seen(ckpt_dir: Path) -> None:
    before = open_checkpoint(ckpt_dir).fingerprint
    weights = ckpt_dir / WEIGHTS
    st = weights.stat()
    _flip_middle(weights)
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # as `cp -p` or rsync leave it
    assert open_checkpoint(ckpt_dir).fingerprint != before


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "tokenizer_config.json",
                                  "generation_config.json"])
def test_files_the_engines_read_count(ckpt_dir: Path, name: str) -> None:
    before = open_checkpoint(ckpt_dir).fingerprint
    f = ckpt_dir / name
    f.write_text(f.read_text() + "\n")
    assert open_checkpoint(ckpt_dir).fingerprint != before


def test_each_file_is_hashed_once(ckpt_dir: Path, cache: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = digest.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(digest, "sha256_file", counting)
    first = open_checkpoint(ckpt_dir).fingerprint
    assert {WEIGHTS, "config.json", "tokenizer.json"} <= set(hashed)
    assert len(hashed) == len(set(hashed))
    n = len(hashed)
    assert open_checkpoint(ckpt_dir).fingerprint == first and len(hashed) == n
    assert (cache / digest.CACHE_FILE).is_file()
    _age(ckpt_dir, 2 * HOUR_NS)  # new mtimes, same bytes: hashed again, same fingerprint
    assert open_checkpoint(ckpt_dir).fingerprint == first and len(hashed) == 2 * n
    (cache / digest.CACHE_FILE).write_text("[not a cache")  # damaged: only costs a rehash
    assert open_checkpoint(ckpt_dir).fingerprint == first and len(hashed) == 3 * n


def test_a_file_written_just_now_is_not_trusted_by_mtime(
        ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = digest.sha256_file
    monkeypatch.setattr(digest, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    weights = ckpt_dir / WEIGHTS
    weights.write_bytes(weights.read_bytes())  # mtime now: a second write could share it
    open_checkpoint(ckpt_dir)
    open_checkpoint(ckpt_dir)
    assert hashed.count(WEIGHTS) == 2 and hashed.count("config.json") == 1


def test_fingerprint_is_a_full_hash(ckpt_dir: Path) -> None:
    import hashlib

    weights = ckpt_dir / WEIGHTS
    assert digest.file_digests([weights])[weights] == \
        hashlib.sha256(weights.read_bytes()).hexdigest()


# --- item 6: bad checkpoints are refused in one line -------------------------------------


def _checkpoint_with(dest: Path, src: Path, weights: bytes) -> Path:
    """Config and tokenizer of `src`, with `weights` as its model.safetensors."""
    dest.mkdir()
    for f in src.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, dest / f.name)
    (dest / WEIGHTS).write_bytes(weights)
    return dest


def _file(header: object, data: bytes = b"", raw: bytes | None = None) -> bytes:
    body = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(body)) + body + data


def _refused(path: Path, *words: str) -> str:
    with pytest.raises(UserError) as err:
        open_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg
    return msg


F32 = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
HEADERS = {
    "empty file": (b"", "0 bytes"),
    "under 8 bytes": (b"\x01\x02\x03", "3 bytes"),
    "length 2^64-1": (struct.pack("<Q", 2**64 - 1) + b"{}", "claims"),
    "length 1 TiB": (struct.pack("<Q", 1 << 40) + b"{}" * 10, "claims"),
    "garbage": (_file(None, raw=b"\x93garbage\x00\xff!!"), "not JSON"),
    "not UTF-8": (_file(None, raw=b'{"\xff\xfe": 1}'), "not JSON"),
    "200k deep": (_file(None, raw=b"[" * 200_000), "not JSON"),
    "empty header": (_file(None, raw=b""), "not JSON"),
    "list header": (_file([1, 2, 3]), "not an object"),
    "entry a number": (_file({"a": 5}), "dtype, shape and data_offsets"),
    "shape-less": (_file({"a": {"dtype": "F32", "data_offsets": [0, 4]}}, b"\0" * 4),
                   "dtype, shape and data_offsets"),
    "unknown dtype": (_file({"a": {**F32, "dtype": "F33"}}, b"\0" * 4), "unknown dtype"),
    "negative shape": (_file({"a": {**F32, "shape": [-1]}}, b"\0" * 4), "non-negative"),
    "float shape": (_file({"a": {**F32, "shape": [1.0]}}, b"\0" * 4), "non-negative"),
    "shape a string": (_file({"a": {**F32, "shape": "1"}}, b"\0" * 4), "non-negative"),
    "offsets a dict": (_file({"a": {**F32, "data_offsets": {"0": 4}}}, b"\0" * 4),
                       "[begin, end]"),
    "three offsets": (_file({"a": {**F32, "data_offsets": [0, 4, 8]}}, b"\0" * 4),
                      "[begin, end]"),
    "offsets reversed": (_file({"a": {**F32, "data_offsets": [4, 0]}}, b"\0" * 4),
                         "[begin, end]"),
    "offsets past the end": (_file({"a": {**F32, "data_offsets": [0, 1 << 50]}}, b"\0" * 4),
                             "go past"),
    "size of the shape": (_file({"a": {**F32, "shape": [2]}}, b"\0" * 4), "needs 8"),
    "overlap": (_file({"a": F32, "b": F32}, b"\0" * 4), "overlaps"),
    "gap": (_file({"a": {**F32, "data_offsets": [4, 8]}}, b"\0" * 8), "belong to no tensor"),
    "trailing bytes": (_file({"a": F32}, b"\0" * 8), "trailing bytes"),
    "metadata not strings": (_file({"__metadata__": {"format": 1}, "a": F32}, b"\0" * 4),
                             "__metadata__"),
}


@pytest.mark.parametrize("case", list(HEADERS))
def test_malformed_header_is_one_user_error(case: str, tiny_dir: Path, tmp_path: Path,
                                            cache: Path) -> None:
    weights, words = HEADERS[case]
    path = _checkpoint_with(tmp_path / "bad", tiny_dir, weights)
    _refused(path, str(path / WEIGHTS), words)


def test_half_size_weights_are_refused(ckpt_dir: Path) -> None:
    weights = ckpt_dir / WEIGHTS
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    _refused(ckpt_dir, str(weights), "go past", "truncated")


def _rewrite(path: Path, change) -> Path:
    """Rewrite the tensors of `path`/model.safetensors through `change(dict)`."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(path / WEIGHTS)
    change(tensors)
    save_file(tensors, path / WEIGHTS, metadata={"format": "pt"})
    return path


LAYER = "model.layers.1."


def test_missing_tensor(ckpt_dir: Path) -> None:
    _rewrite(ckpt_dir, lambda t: t.pop(LAYER + "mlp.up_proj.weight"))
    _refused(ckpt_dir, LAYER + "mlp.up_proj.weight", "missing", "2 layers")


def test_missing_lm_head_when_not_tied(ckpt_dir: Path) -> None:
    _rewrite(ckpt_dir, lambda t: t.pop("lm_head.weight"))
    _refused(ckpt_dir, "lm_head.weight", "missing")


@pytest.mark.parametrize("name, shape", [
    ("model.embed_tokens.weight", (1000, 64)),
    (LAYER + "self_attn.q_proj.weight", (32, 64)),
    (LAYER + "self_attn.k_proj.weight", (64, 64)),  # GQA: kv heads x head_dim is 32
    (LAYER + "mlp.down_proj.weight", (192, 64)),
    ("model.norm.weight", (65,)),
])
def test_shape_against_config(ckpt_dir: Path, name: str, shape: tuple[int, ...]) -> None:
    _rewrite(ckpt_dir, lambda t: t.update({name: np.zeros(shape, np.float32)}))
    _refused(ckpt_dir, str(ckpt_dir / WEIGHTS), name, f"has shape {list(shape)}", "implies")


def test_config_that_lies_about_the_weights(ckpt_dir: Path) -> None:
    cfg = json.loads((ckpt_dir / "config.json").read_text())
    cfg["intermediate_size"] = 256
    (ckpt_dir / "config.json").write_text(json.dumps(cfg))
    _refused(ckpt_dir, "mlp.gate_proj.weight", "[256, 64]")


def test_integer_weights(ckpt_dir: Path) -> None:
    name = LAYER + "self_attn.o_proj.weight"
    _rewrite(ckpt_dir, lambda t: t.update({name: np.zeros((64, 64), np.int32)}))
    _refused(ckpt_dir, name, "I32")


# --- multi-file checkpoints ----------------------------------------------------------------


@pytest.fixture
def sharded(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(generate, "SHARD_BYTES", 4 * MB)
    path = write_checkpoint(PRESETS["tiny"], tmp_path / "sharded")
    assert len(list(path.glob("*.safetensors"))) > 2
    return path


def test_sharded_checkpoint_opens(sharded: Path, tiny_dir: Path) -> None:
    ckpt = open_checkpoint(sharded)
    assert ckpt.params == preset_params(PRESETS["tiny"])
    assert ckpt.fingerprint != open_checkpoint(tiny_dir).fingerprint


def test_sharded_checkpoint_with_a_shard_missing(sharded: Path) -> None:
    last = sorted(sharded.glob("*.safetensors"))[-1]
    last.unlink()
    _refused(sharded, "model.safetensors.index.json", last.name, "incomplete")


def test_tensor_in_two_shards(sharded: Path) -> None:
    from safetensors.numpy import load_file, save_file

    first, second = sorted(sharded.glob("*.safetensors"))[:2]
    extra = load_file(second)
    name = next(iter(extra))
    save_file({**load_file(first), name: extra[name]}, first)
    _refused(sharded, name, "also in", second.name)


def test_bad_checkpoint_on_the_command_line(tiny_dir: Path, tmp_path: Path, cache: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    path = _checkpoint_with(tmp_path / "bad", tiny_dir, _file([1, 2]))
    assert main(["run", "--engines", "torch", "--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(path / WEIGHTS) in err


# --- item 10: damaged cache files and a cache that is not a directory ----------------------


def test_truncated_reference_is_recomputed(ckpt_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    made = _fake_reference(monkeypatch)
    ckpt = open_checkpoint(ckpt_dir)
    path = _reference(ckpt).path
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], b"", b"PK\x03\x04" + b"\0" * 40):
        path.write_bytes(damaged)
        ref = _reference(ckpt)
        assert ref.path == path and ref.greedy == [0, 1]
    assert len(made) == 4


def test_unreadable_fresh_reference_is_a_reason(ckpt_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def run(job: ReferenceJob, timeout_s: float, threads: int) -> ChildResult:
        Path(job.out).write_bytes(b"not a zip")
        return ChildResult()

    monkeypatch.setattr(reference_mod, "run_isolated", run)
    with pytest.raises(reference_mod.ReferenceUnavailable, match="unreadable"):
        _reference(open_checkpoint(ckpt_dir))


MARKERS = {
    "a list": [1, 2],
    "a string": "files",
    "files a list": {"convert_s": 1.0, "files": [["a", 1, "x"]]},
    "entry a number": {"convert_s": 1.0, "files": {"model.gguf": 5}},
    "entry too short": {"convert_s": 1.0, "files": {"model.gguf": [5]}},
    "size a string": {"convert_s": 1.0, "files": {"model.gguf": ["5", "ab"]}},
    "digest a number": {"convert_s": 1.0, "files": {"model.gguf": [5, 7]}},
    "convert_s a list": {"convert_s": [1], "files": {}},
    "convert_s missing": {"files": {}},
    "convert_s NaN": {"convert_s": float("nan"), "files": {}},
}


@pytest.mark.parametrize("case", list(MARKERS))
def test_malformed_artifact_marker_is_rebuilt(case: str, tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"12345")
    (tmp_path / artifacts.MARKER).write_text(json.dumps(MARKERS[case]))
    convert_s, why = artifacts.verify(tmp_path)
    assert convert_s is None and why and artifacts.MARKER in why


def test_deep_or_binary_marker_is_rebuilt(tmp_path: Path) -> None:
    for raw in (b"[" * 200_000, b"\xff\xfe\x00garbage"):
        (tmp_path / artifacts.MARKER).write_bytes(raw)
        assert artifacts.verify(tmp_path)[0] is None


def test_good_marker_still_verifies(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "model.gguf").write_bytes(b"12345")
    artifacts.commit(stage, tmp_path / "final", 2.5)
    assert artifacts.verify(tmp_path / "final") == (2.5, None)


def test_cache_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "cache-file"
    f.write_text("")
    monkeypatch.setenv("ENGINEBENCH_CACHE", str(f))
    with pytest.raises(UserError, match=r"ENGINEBENCH_CACHE=.*cache-file is not a directory"):
        cache_root()
    monkeypatch.setenv("ENGINEBENCH_CACHE", str(f / "below"))
    with pytest.raises(UserError, match=r"is not a directory.*ENGINEBENCH_CACHE at a directory"):
        cache_root()
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ENGINEBENCH_CACHE=") and err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_cache_that_is_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("ENGINEBENCH_CACHE", str(locked))
    with pytest.raises(UserError, match="not a writable directory"):
        cache_root()


def test_cache_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINEBENCH_CACHE", str(tmp_path / "a" / "b"))
    assert cache_root().is_dir()
