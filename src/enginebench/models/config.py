"""The one reader of Hugging Face Llama-family `config.json` files: every spelling
transformers has used, normalized into one typed `ModelConfig` that every adapter reads.

transformers 4 wrote the rotary base as a top-level `rope_theta` and its scaling as
`rope_scaling`; transformers 5 writes both into `rope_parameters`. `head_dim` and
`num_key_value_heads` may be absent (hidden/heads and heads), the storage type is `dtype`
or `torch_dtype`. Whatever the spelling, the normalized values are the same.

The fields that change the math beyond a plain Llama (a rope scaling, biases, a head_dim
other than hidden/heads, a sliding window shorter than the context, tied embeddings, an
activation other than SiLU) are listed by `ModelConfig.features`, and so is every field
this reader has never seen: an engine runs a checkpoint only if it honours all of them
(`Engine.honours`); otherwise the cell is `unsupported` with the field named.
"""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from enginebench.errors import UserError

SUPPORTED_MODEL_TYPES = ("llama", "mistral")
DEFAULT_ROPE_THETA = 10000.0
DEFAULT_RMS_NORM_EPS = 1e-6  # transformers' LlamaConfig default

# Fields read into ModelConfig (with their aliases), per model type.
_READ = {
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
    "rms_norm_eps", "rope_theta", "rope_scaling", "rope_parameters",
    "partial_rotary_factor", "attention_bias", "mlp_bias", "tie_word_embeddings",
    "hidden_act", "dtype", "torch_dtype", "model_type", "bos_token_id",
}
_READ_BY_TYPE = {"llama": set(), "mistral": {"sliding_window"}}
# Fields that do not change a greedy forward pass: identity, token ids, training-only
# settings, output switches, and the sampling defaults older configs carried.
HARMLESS = {
    "architectures", "transformers_version", "_name_or_path", "name_or_path",
    "eos_token_id", "pad_token_id", "sep_token_id",
    "decoder_start_token_id", "initializer_range", "use_cache", "attention_dropout",
    "pretraining_tp", "output_attentions", "output_hidden_states", "return_dict",
    "torchscript", "use_bfloat16", "tf_legacy_loss", "pruned_heads", "chunk_size_feed_forward",
    "is_encoder_decoder", "is_decoder", "add_cross_attention", "cross_attention_hidden_size",
    "tokenizer_class", "prefix", "task_specific_params", "problem_type", "finetuning_task",
    "id2label", "label2id", "num_labels", "_attn_implementation_autoset",
    "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
    "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
    "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size",
    "bad_words_ids", "num_return_sequences", "output_scores", "return_dict_in_generate",
    "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
    "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens",
    "is_llama_config", "transformers.js_config",  # SmolLM2's exporters' metadata
}
# Fields that are harmless at one value only: the standard Llama's (rotate-half rotary).
HARMLESS_AT = {"rope_interleaved": False}
# Keys of a rope_parameters / rope_scaling object that this reader knows, per rope type.
_ROPE_KEYS = {
    "default": set(),
    "llama3": {"factor", "low_freq_factor", "high_freq_factor",
               "original_max_position_embeddings"},
}


@dataclass(frozen=True)
class ModelConfig:
    """A Llama-family config in one spelling; `features` lists what goes beyond a plain
    Llama. Serializable as a dict (`to_dict`) for the jobs of child processes and runners."""

    model_type: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int
    rms_norm_eps: float
    rope_theta: float
    rope_type: str = "default"
    # the rope type's parameters (llama3: factor, low/high_freq_factor, original_max_...)
    rope_scaling: dict = field(default_factory=dict)
    partial_rotary_factor: float = 1.0
    attention_bias: bool = False
    mlp_bias: bool = False
    sliding_window: int | None = None
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    dtype: str | None = None
    architecture: str = "?"
    bos_token_id: int | None = None  # the prompt starts with it
    # fields of config.json this reader has never seen
    unknown: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["unknown"] = list(self.unknown)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{**d, "unknown": tuple(d.get("unknown", ()))})

    def features(self, context: int | None = None) -> dict[str, str]:
        """What an engine must honour beyond a plain Llama: key -> the field, as a person
        reads it. A sliding window counts only when a sequence of `context` tokens (None:
        any length) can be longer than it."""
        out: dict[str, str] = {}
        if self.rope_type != "default":
            params = ", ".join(f"{k} {v}" for k, v in sorted(self.rope_scaling.items()))
            out[f"rope_type:{self.rope_type}"] = f"rope_type {self.rope_type!r} ({params})"
        if self.partial_rotary_factor != 1.0:
            out["partial_rotary_factor"] = f"partial_rotary_factor {self.partial_rotary_factor}"
        if self.head_dim * self.num_heads != self.hidden_size:
            out["head_dim"] = (f"head_dim {self.head_dim} (not hidden_size / "
                               f"num_attention_heads = {self.hidden_size // self.num_heads})")
        for name in ("attention_bias", "mlp_bias"):
            if getattr(self, name):
                out[name] = f"{name} true"
        if self.sliding_window is not None and (context is None
                                                or context > self.sliding_window):
            out["sliding_window"] = (f"sliding_window {self.sliding_window} (shorter than "
                                     f"the {context}-token context)")
        if self.tie_word_embeddings:
            out["tie_word_embeddings"] = "tie_word_embeddings true"
        if self.hidden_act != "silu":
            out[f"hidden_act:{self.hidden_act}"] = f"hidden_act {self.hidden_act!r}"
        for name in self.unknown:
            out[f"unknown:{name}"] = (f"config field {name!r}, unknown to enginebench's "
                                      "config reader (models/config.py), which cannot tell "
                                      "whether it changes the math")
        return out


def _number(raw: dict, key: str, where: str, kind: type = int, default=None):
    value = raw.get(key, default)
    if value is None:
        if default is None:
            raise UserError(f"{where}: field {key!r} is missing")
        return default
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer() and value > 0
    elif ok:
        ok = math.isfinite(value) and value > 0
    if not ok:
        raise UserError(f"{where}: field {key!r} is {value!r}; expected a positive "
                        f"{'integer' if kind is int else 'number'}")
    return kind(value)


def _rope(raw: dict, where: str) -> tuple[float, str, dict, float | None]:
    """(theta, rope type, its parameters, partial_rotary_factor inside rope_parameters),
    from `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling` (earlier)."""
    params = raw.get("rope_parameters")
    scaling = raw.get("rope_scaling")
    for key, value in (("rope_parameters", params), ("rope_scaling", scaling)):
        if value is not None and not isinstance(value, dict):
            raise UserError(f"{where}: field {key!r} is {value!r}; expected an object")
    if params and scaling and params != scaling:
        # transformers 5 keeps rope_scaling as a read alias of rope_parameters
        extra = {k: v for k, v in scaling.items() if params.get(k, v) != v}
        if extra:
            raise UserError(f"{where}: rope_parameters and rope_scaling disagree on "
                            f"{sorted(extra)}; enginebench cannot tell which one applies")
    rope = dict(params or scaling or {})
    top, inner = raw.get("rope_theta"), rope.pop("rope_theta", None)
    if top is not None and inner is not None and float(top) != float(inner):
        raise UserError(f"{where}: rope_theta {top} and rope_parameters.rope_theta {inner} "
                        "disagree; enginebench cannot tell which one applies")
    theta = _number({"rope_theta": inner if inner is not None else top}, "rope_theta", where,
                    float, DEFAULT_ROPE_THETA)
    kind = rope.pop("rope_type", None) or rope.pop("type", None) or "default"
    rope.pop("type", None)
    partial = rope.pop("partial_rotary_factor", None)
    if kind in _ROPE_KEYS:
        for key in sorted(_ROPE_KEYS[kind]):
            _number(rope, key, f"{where}: rope {kind!r}", float)
        unknown = sorted(set(rope) - _ROPE_KEYS[kind])
        if kind == "default" and unknown:
            raise UserError(f"{where}: rope_type 'default' with parameters {unknown}; "
                            "enginebench cannot tell how they apply")
    return theta, kind, rope, partial


def read_config(raw: dict, where: str = "config.json") -> ModelConfig:
    """Normalize a parsed config.json; a missing or malformed field is a UserError naming
    `where` and the field."""
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a JSON object")
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise UserError(f"{where}: model_type {model_type!r} is not supported; "
                        f"enginebench runs {', '.join(SUPPORTED_MODEL_TYPES)} checkpoints")
    hidden = _number(raw, "hidden_size", where)
    heads = _number(raw, "num_attention_heads", where)
    kv = _number(raw, "num_key_value_heads", where, default=heads)
    if heads % kv:
        raise UserError(f"{where}: num_attention_heads {heads} is not a multiple of "
                        f"num_key_value_heads {kv}")
    if raw.get("head_dim") is None and hidden % heads:
        raise UserError(f"{where}: hidden_size {hidden} is not a multiple of "
                        f"num_attention_heads {heads} and there is no head_dim")
    theta, rope_type, rope_scaling, partial = _rope(raw, where)
    partial = _number({"partial_rotary_factor": raw.get("partial_rotary_factor", partial)},
                      "partial_rotary_factor", where, float, 1.0)
    window = raw.get("sliding_window")
    dtype = raw.get("dtype") or raw.get("torch_dtype")
    known = _READ | _READ_BY_TYPE[model_type] | HARMLESS
    unknown = tuple(sorted(k for k, v in raw.items() if k not in known and v is not None
                           and not (k in HARMLESS_AT and v == HARMLESS_AT[k])))
    flags = {}
    for key in ("attention_bias", "mlp_bias", "tie_word_embeddings"):
        value = raw.get(key, False)
        if not isinstance(value, bool):
            raise UserError(f"{where}: field {key!r} is {value!r}; expected true or false")
        flags[key] = value
    return ModelConfig(
        model_type=model_type,
        hidden_size=hidden,
        intermediate_size=_number(raw, "intermediate_size", where),
        num_layers=_number(raw, "num_hidden_layers", where),
        num_heads=heads,
        num_kv_heads=kv,
        head_dim=_number(raw, "head_dim", where, default=hidden // heads),
        vocab_size=_number(raw, "vocab_size", where),
        max_position_embeddings=_number(raw, "max_position_embeddings", where),
        rms_norm_eps=_number(raw, "rms_norm_eps", where, float, DEFAULT_RMS_NORM_EPS),
        rope_theta=theta,
        rope_type=rope_type,
        rope_scaling=rope_scaling,
        partial_rotary_factor=partial,
        sliding_window=None if window is None else _number(raw, "sliding_window", where),
        hidden_act=str(raw.get("hidden_act") or "silu"),
        dtype=str(dtype) if dtype else None,
        architecture=str((raw.get("architectures") or ["?"])[0]),
        bos_token_id=raw["bos_token_id"] if isinstance(raw.get("bos_token_id"), int) else None,
        unknown=unknown,
        **flags,
    )


def load_config(path: Path) -> ModelConfig:
    """`path`/config.json, read and normalized."""
    file = path / "config.json"
    if not file.is_file():
        raise UserError(f"{path}: no config.json; expected a Hugging Face checkpoint directory")
    try:
        raw = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{file}: not valid JSON ({e})") from e
    return read_config(raw, str(file))


def rope_inv_freq(cfg: ModelConfig) -> list[float]:
    """The rotary inverse frequencies `theta^(-2i/d)` of the rotated dimensions, with the
    config's rope scaling applied (llama3), in float64; the engines that compute their own
    rotary tables (tinygrad, the ops cases) take them from here."""
    d = int(cfg.head_dim * cfg.partial_rotary_factor)
    base = [cfg.rope_theta ** (-(2 * i) / d) for i in range(d // 2)]
    if cfg.rope_type == "default":
        return base
    if cfg.rope_type != "llama3":
        raise ValueError(f"rope_type {cfg.rope_type!r} has no inverse frequencies here")
    p = cfg.rope_scaling
    factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
    old = p["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    out = []
    for f in base:
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            out.append(f)
        elif wavelen > low_wavelen:
            out.append(f / factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append((1 - smooth) * f / factor + smooth * f)
    return out
