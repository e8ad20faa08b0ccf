"""Resolve `--model` (a preset name or a local checkpoint directory) to a checked checkpoint."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from enginebench.errors import UserError
from enginebench.models.config import ModelConfig, load_config
from enginebench.models.digest import file_digests
from enginebench.models.generate import GENERATOR_VERSION, PRESET_MARKER, write_checkpoint
from enginebench.models.presets import PRESETS, Preset
from enginebench.models.trained import BUILDER_VERSION, build_trained
from enginebench.models.validate import INDEX, validate
from enginebench.paths import cache_root

# files besides the weights that engines read, so they count in the fingerprint
READ_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json",
              "special_tokens_map.json", "added_tokens.json", "generation_config.json",
              INDEX)


@dataclass(frozen=True)
class Checkpoint:
    """A Hugging Face Llama-family checkpoint directory that every engine can load."""

    name: str
    path: Path
    config: ModelConfig  # config.json as models/config.py normalizes it
    params: int
    fingerprint: str
    # trained weights (perplexity means something); False for a generated random preset
    trained: bool = True

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def describe(self) -> dict:
        c = self.config
        return {
            "name": self.name,
            "path": str(self.path),
            "params": self.params,
            "path_hash": self.fingerprint,
            "architecture": c.architecture,
            "hidden_size": c.hidden_size,
            "num_layers": c.num_layers,
            "num_heads": c.num_heads,
            "num_kv_heads": c.num_kv_heads,
            "intermediate_size": c.intermediate_size,
            "vocab_size": c.vocab_size,
            "tie_word_embeddings": c.tie_word_embeddings,
            "dtype": c.dtype,
            "trained": self.trained,
            "config": c.to_dict(),
        }


def preset_dir(p: Preset) -> Path:
    """Cache directory of a preset's checkpoint; its name changes when its recipe does."""
    recipe = BUILDER_VERSION if p.trained else GENERATOR_VERSION
    key = json.dumps({"preset": p.to_dict(), "generator": recipe}, sort_keys=True)
    return cache_root() / "models" / f"{p.name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def weight_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise UserError(f"{path}: no *.safetensors weights found; enginebench reads "
                        "Hugging Face checkpoints saved with safetensors")
    return files


def _fingerprint(path: Path, files: list[Path]) -> str:
    """SHA-256 over the full bytes of config.json, the tokenizer files present and every
    weight file (models/digest.py hashes each file once per size and mtime)."""
    named = [path / "config.json", *(path / n for n in READ_FILES if (path / n).is_file()),
             *files]
    digests = file_digests(named)
    listing = json.dumps([[f.name, digests[f]] for f in named])
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def _trained(path: Path) -> bool:
    """False for a random-weight preset enginebench generated (its marker says so); any
    other checkpoint is taken as trained."""
    try:
        marker = json.loads((path / PRESET_MARKER).read_text())
        return marker["preset"].get("weights") is not None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return True


def open_checkpoint(path: Path, name: str | None = None) -> Checkpoint:
    """Check that `path` is a Llama-family HF checkpoint with a tokenizer and weights that
    match its config (models/validate.py), and describe it."""
    if not path.is_dir():
        raise UserError(f"--model {path}: not a preset name and not a directory; "
                        f"presets: {', '.join(PRESETS)}")
    config = load_config(path)
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer.model").is_file():
        raise UserError(f"{path}: no tokenizer.json or tokenizer.model; engines need the "
                        "checkpoint's tokenizer")
    files = weight_files(path)
    params = validate(path, files, config)
    return Checkpoint(name or path.name, path.resolve(), config, params,
                      _fingerprint(path, files), _trained(path))


def _local(model: str) -> Path:
    """`model`, not a preset, as the path of a checkpoint that exists."""
    path = Path(model).expanduser()
    if not path.exists():
        raise UserError(f"--model {model!r} is neither a preset nor a directory: unknown "
                        f"preset and no such directory; presets: {', '.join(PRESETS)}")
    return path


def resolve_model(model: str, generate: bool = True) -> Checkpoint:
    """A preset name (generated on first use) or a path to a local checkpoint directory."""
    preset = PRESETS.get(model)
    if preset is None:
        return open_checkpoint(_local(model))
    dest = preset_dir(preset)
    if not (dest / "config.json").is_file():
        if not generate:
            raise UserError(f"preset {model!r} is not generated yet; run "
                            f"`enginebench models --generate {model}`")
        build_trained(preset, dest) if preset.trained else write_checkpoint(preset, dest)
    return open_checkpoint(dest, name=preset.name)


def model_config(model: str) -> ModelConfig:
    """The normalized config of a preset, or of the checkpoint directory `model`, without
    generating or reading any weights."""
    if model in PRESETS:
        return PRESETS[model].config()
    return load_config(_local(model))
