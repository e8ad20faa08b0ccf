"""Resolve `--model` (a preset name or a local checkpoint directory) to a checked checkpoint."""

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from enginebench.errors import UserError
from enginebench.models.generate import GENERATOR_VERSION, write_checkpoint
from enginebench.models.presets import PRESETS, Preset
from enginebench.models.safetensors_stream import read_header
from enginebench.paths import cache_root

SUPPORTED_MODEL_TYPES = ("llama", "mistral")
SAMPLE_BYTES = 1 << 20


@dataclass(frozen=True)
class Checkpoint:
    """A Hugging Face Llama-family checkpoint directory that every engine can load."""

    name: str
    path: Path
    config: dict
    params: int
    fingerprint: str

    @property
    def vocab_size(self) -> int:
        return int(self.config["vocab_size"])

    def describe(self) -> dict:
        c = self.config
        return {
            "name": self.name,
            "path": str(self.path),
            "params": self.params,
            "path_hash": self.fingerprint,
            "architecture": c.get("architectures", ["?"])[0],
            "hidden_size": c.get("hidden_size"),
            "num_layers": c.get("num_hidden_layers"),
            "num_heads": c.get("num_attention_heads"),
            "num_kv_heads": c.get("num_key_value_heads", c.get("num_attention_heads")),
            "intermediate_size": c.get("intermediate_size"),
            "vocab_size": c.get("vocab_size"),
            "tie_word_embeddings": bool(c.get("tie_word_embeddings", False)),
            "dtype": c.get("torch_dtype") or c.get("dtype"),
        }


def preset_dir(p: Preset) -> Path:
    """Cache directory of a generated preset; its name changes when its recipe does."""
    key = json.dumps({"preset": p.to_dict(), "generator": GENERATOR_VERSION}, sort_keys=True)
    return cache_root() / "models" / f"{p.name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def weight_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise UserError(f"{path}: no *.safetensors weights found; enginebench reads "
                        "Hugging Face checkpoints saved with safetensors")
    return files


def _fingerprint(path: Path, files: list[Path]) -> str:
    """Hash of config, tensor headers, sizes and the first/last MB of each weight file."""
    h = hashlib.sha256((path / "config.json").read_bytes())
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(SAMPLE_BYTES))
            fh.seek(max(0, size - SAMPLE_BYTES))
            h.update(fh.read(SAMPLE_BYTES))
    return h.hexdigest()[:16]


def open_checkpoint(path: Path, name: str | None = None) -> Checkpoint:
    """Check that `path` is a Llama-family HF checkpoint with a tokenizer, and describe it."""
    if not path.is_dir():
        raise UserError(f"--model {path}: not a preset name and not a directory; "
                        f"presets: {', '.join(PRESETS)}")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise UserError(f"{path}: no config.json; expected a Hugging Face checkpoint directory")
    try:
        config = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{cfg_file}: not valid JSON ({e})") from e
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise UserError(f"{cfg_file}: model_type {model_type!r} is not supported; "
                        f"enginebench runs {', '.join(SUPPORTED_MODEL_TYPES)} checkpoints")
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer.model").is_file():
        raise UserError(f"{path}: no tokenizer.json or tokenizer.model; engines need the "
                        "checkpoint's tokenizer")
    files = weight_files(path)
    params = 0
    for f in files:
        header = read_header(f)
        params += sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    return Checkpoint(name or path.name, path.resolve(), config, params,
                      _fingerprint(path, files))


def resolve_model(model: str, generate: bool = True) -> Checkpoint:
    """A preset name (generated on first use) or a path to a local checkpoint directory."""
    preset = PRESETS.get(model)
    if preset is None:
        path = Path(model).expanduser()
        if not path.exists():
            raise UserError(f"--model {model!r}: unknown preset and no such directory; "
                            f"presets: {', '.join(PRESETS)}")
        return open_checkpoint(path)
    dest = preset_dir(preset)
    if not (dest / "config.json").is_file():
        if not generate:
            raise UserError(f"preset {model!r} is not generated yet; run "
                            f"`enginebench models --generate {model}`")
        write_checkpoint(preset, dest)
    return open_checkpoint(dest, name=preset.name)
