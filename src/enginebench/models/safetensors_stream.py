"""A streaming safetensors writer: the header first, then each tensor as it is produced.

The `safetensors` library wants every tensor of a file in memory at once; a 7B-shaped
checkpoint does not fit in this machine's memory in fp32, so the generator writes the
format (8-byte little-endian header length, JSON header, raw bytes) tensor by tensor.
`read_header` reads that framing back, bounds-checked, for models/validate.py.
"""

import json
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from enginebench.errors import UserError

# numpy dtype name -> (safetensors dtype, bytes per element). bf16 travels as uint16 bits.
DTYPES = {"float32": ("F32", 4), "float16": ("F16", 2), "bfloat16": ("BF16", 2)}


def to_storage(values: np.ndarray, dtype: str) -> np.ndarray:
    """Convert float32 values to the storage dtype (bf16 by round-to-nearest-even)."""
    if dtype == "bfloat16":
        bits = values.astype(np.float32, copy=False).view(np.uint32)
        rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
        return ((bits + rounding) >> 16).astype(np.uint16)
    return values.astype(dtype, copy=False)


def write_file(
    path: Path,
    tensors: list[tuple[str, tuple[int, ...]]],
    dtype: str,
    chunks: Iterable[tuple[str, np.ndarray]],
) -> int:
    """Write `tensors` (name, shape) to `path`, filled by `chunks` in the same order.

    `chunks` yields (name, array) pieces, each a run of rows of its tensor already in
    the storage dtype; they must cover every tensor exactly. Returns the bytes written.
    """
    st_dtype, size = DTYPES[dtype]
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    expected: dict[str, int] = {}
    for name, shape in tensors:
        nbytes = int(np.prod(shape)) * size
        header[name] = {"dtype": st_dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + nbytes]}
        expected[name] = nbytes
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    written = {name: 0 for name in expected}
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, arr in chunks:
            f.write(np.ascontiguousarray(arr).tobytes())
            written[name] += arr.nbytes
    if written != expected:
        bad = [n for n in expected if written[n] != expected[n]]
        raise RuntimeError(f"safetensors writer: wrong byte count for {bad[:3]} in {path}")
    return 8 + len(raw) + offset


# safetensors' own limit on the JSON header
MAX_HEADER_BYTES = 100_000_000


def read_header(path: Path) -> tuple[dict, int]:
    """The parsed JSON header of a safetensors file and the length of its data section.

    Only the framing is checked here (models/validate.py checks the entries): a file too
    short for the 8-byte length, a length beyond the file, or a header that is not JSON
    is a UserError naming the file; a claimed length is never allocated before that.
    """
    size = path.stat().st_size
    if size < 8:
        raise UserError(f"{path}: {size} bytes; a safetensors file starts with an 8-byte "
                        "header length, so it is truncated or not safetensors")
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        if length > size - 8:
            raise UserError(f"{path}: the header claims {length} bytes but only {size - 8} "
                            "follow; the file is truncated or not safetensors")
        if length > MAX_HEADER_BYTES:
            raise UserError(f"{path}: a {length}-byte header is more than safetensors "
                            f"allows ({MAX_HEADER_BYTES}); the file is not safetensors")
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise UserError(f"{path}: the header is not JSON ({str(e)[:100]}); the file is "
                        "damaged or not safetensors") from None
    return header, size - 8 - length
