"""Check a checkpoint's safetensors files once, before any cell runs.

Every file's framing and header (models/safetensors_stream.read_header), every tensor
entry (a known dtype, a shape of non-negative integers, data_offsets inside the data
section whose length is the shape's), the data section covered exactly once, a shard
index that names only files that exist, and the Llama tensors that config.json implies,
with their shapes and a float dtype. Anything wrong is one UserError naming the file and
the fault, so a damaged or lying checkpoint never reaches an engine, and the parameter
count comes from headers that were checked.
"""

import json
import math
from pathlib import Path

from enginebench.errors import UserError
from enginebench.models.config import ModelConfig
from enginebench.models.safetensors_stream import read_header

# safetensors dtype -> bytes per element (the whole-byte ones)
ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
            "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4,
            "I64": 8, "U64": 8, "F64": 8}
WEIGHT_DTYPES = ("F32", "F16", "BF16")
INDEX = "model.safetensors.index.json"

Tensor = tuple[Path, str, list[int]]  # file, dtype, shape


def _show(x: object) -> str:
    """A header value as one short line (repr escapes control characters)."""
    return repr(x)[:80]


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _entry(f: Path, name: str, entry: object, data_len: int) -> tuple[str, list[int], int, int]:
    """(dtype, shape, begin, end) of one header entry, or a UserError saying what is wrong."""
    where = f"{f}: tensor {name!r}"
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise UserError(f"{where}: expected an object with dtype, shape and data_offsets, "
                        f"got {_show(entry)}; the header is damaged")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in ITEMSIZE:
        raise UserError(f"{where}: unknown dtype {_show(dtype)}")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise UserError(f"{where}: shape {_show(shape)} is not a list of non-negative "
                        "integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_int, offsets))
            and 0 <= offsets[0] <= offsets[1]):
        raise UserError(f"{where}: data_offsets {_show(offsets)} is not [begin, end] "
                        "with 0 <= begin <= end")
    begin, end = offsets
    if end > data_len:
        raise UserError(f"{where}: data_offsets [{begin}, {end}] go past the {data_len}-byte "
                        "data section; the file is truncated or its header lies")
    nbytes = math.prod(shape) * ITEMSIZE[dtype]
    if end - begin != nbytes:
        raise UserError(f"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes, "
                        f"but shape {shape} of {dtype} needs {nbytes}")
    return dtype, shape, begin, end


def check_file(f: Path) -> dict[str, tuple[str, list[int]]]:
    """The tensors of one safetensors file, name -> (dtype, shape), once all are checked."""
    header, data_len = read_header(f)
    if not isinstance(header, dict):
        raise UserError(f"{f}: the header is a JSON {type(header).__name__}, not an object "
                        "of tensors; the file is damaged or not safetensors")
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise UserError(f"{f}: __metadata__ is not an object of strings")
    tensors: dict[str, tuple[str, list[int]]] = {}
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, begin, end = _entry(f, name, entry, data_len)
        tensors[name] = (dtype, shape)
        spans.append((begin, end, name))
    pos, last = 0, None
    for begin, end, name in sorted(spans):
        if begin < pos:
            raise UserError(f"{f}: tensor {name!r} at [{begin}, {end}] overlaps {last!r}; "
                            "the header lies")
        if begin > pos:
            raise UserError(f"{f}: bytes {pos}..{begin} of the data section belong to no "
                            "tensor; the header lies")
        pos, last = end, name
    if pos != data_len:
        raise UserError(f"{f}: the tensors end at byte {pos} of a {data_len}-byte data "
                        "section; the file has trailing bytes or its header lies")
    return tensors


def _check_index(path: Path, files: list[Path]) -> None:
    """The shard index, when there is one, names only files that are there."""
    index = path / INDEX
    if not index.is_file():
        return
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        named = set(weight_map.values())
        if not all(isinstance(n, str) for n in named):
            raise TypeError
    except (OSError, ValueError, RecursionError, KeyError, TypeError, AttributeError):
        raise UserError(f"{index}: not a JSON object with a weight_map of tensor -> "
                        "file") from None
    missing = sorted(named - {f.name for f in files})
    if missing:
        raise UserError(f"{index}: names {', '.join(map(repr, missing[:3]))}, which "
                        f"{'is' if len(missing) == 1 else 'are'} not in {path}; the "
                        "checkpoint is incomplete")


def llama_shapes(c: ModelConfig) -> dict[str, tuple[list[int], bool]]:
    """Tensor name -> (shape config.json implies, required) for a Llama-family model."""
    h, i, v = c.hidden_size, c.intermediate_size, c.vocab_size
    q, kv = c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim
    out = {"model.embed_tokens.weight": ([v, h], True), "model.norm.weight": ([h], True),
           "lm_head.weight": ([v, h], not c.tie_word_embeddings)}
    for n in range(c.num_layers):
        pre = f"model.layers.{n}."
        for name, shape, required in [
            ("input_layernorm.weight", [h], True),
            ("post_attention_layernorm.weight", [h], True),
            ("self_attn.q_proj.weight", [q, h], True),
            ("self_attn.k_proj.weight", [kv, h], True),
            ("self_attn.v_proj.weight", [kv, h], True),
            ("self_attn.o_proj.weight", [h, q], True),
            ("self_attn.q_proj.bias", [q], c.attention_bias),
            ("self_attn.k_proj.bias", [kv], c.attention_bias),
            ("self_attn.v_proj.bias", [kv], c.attention_bias),
            ("self_attn.o_proj.bias", [h], c.attention_bias),
            ("mlp.gate_proj.weight", [i, h], True),
            ("mlp.up_proj.weight", [i, h], True),
            ("mlp.down_proj.weight", [h, i], True),
            ("mlp.gate_proj.bias", [i], c.mlp_bias),
            ("mlp.up_proj.bias", [i], c.mlp_bias),
            ("mlp.down_proj.bias", [h], c.mlp_bias),
        ]:
            out[pre + name] = (shape, required)
    return out


def validate(path: Path, files: list[Path], config: ModelConfig) -> int:
    """Check the weight `files` of checkpoint `path` against each other and `config`;
    returns the parameter count (every tensor's elements)."""
    _check_index(path, files)
    tensors: dict[str, Tensor] = {}
    for f in files:
        for name, (dtype, shape) in check_file(f).items():
            if name in tensors:
                raise UserError(f"{f}: tensor {name!r} is also in {tensors[name][0].name}")
            tensors[name] = (f, dtype, shape)
    expected = llama_shapes(config)
    missing = [n for n, (_, required) in expected.items() if required and n not in tensors]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise UserError(f"{path}: tensor{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing[:3])}{more} missing; config.json describes "
                        f"{config.num_layers} layers, so the checkpoint is incomplete or "
                        "not a Llama-family checkpoint")
    for name, (shape, _) in expected.items():
        if name not in tensors:
            continue
        f, dtype, actual = tensors[name]
        if actual != shape:
            c = config
            raise UserError(f"{f}: tensor {name!r} has shape {actual}, but config.json "
                            f"(hidden_size {c.hidden_size}, intermediate_size "
                            f"{c.intermediate_size}, vocab_size {c.vocab_size}, "
                            f"{c.num_heads} heads and {c.num_kv_heads} kv heads of head_dim "
                            f"{c.head_dim}) implies {shape}")
        if dtype not in WEIGHT_DTYPES:
            raise UserError(f"{f}: tensor {name!r} is {dtype}; enginebench's engines read "
                            f"{', '.join(WEIGHT_DTYPES)} weights")
    return sum(math.prod(shape) for _, _, shape in tensors.values())
