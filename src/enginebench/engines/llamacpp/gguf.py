"""llama.cpp's own converter and quantizer, as the llama.cpp adapter uses them.

The converter (`convert_hf_to_gguf.py` with its `conversion` package and `gguf-py`) is not
in the llama-cpp-python wheel; it ships in the source distribution of the same version,
under vendor/llama.cpp. It is taken from there once and kept in the cache, so the GGUF
writer always matches the llama.cpp that reads it. Quantization calls llama.cpp's
`llama_model_quantize` through the installed bindings.
"""

import ctypes
import importlib.metadata
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from enginebench.engines.tool import run_tool
from enginebench.leftovers import staged, temp_prefix
from enginebench.paths import cache_root

CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
# llama.cpp's llama_ftype values for the quantized precisions
QUANT_FTYPES = {"q8_0": 7, "q4_0": 2, "q4_k_m": 15}


def converter_dir() -> Path:
    """The converter sources matching the installed llama-cpp-python, fetched on first use."""
    version = importlib.metadata.version("llama-cpp-python")
    dest = cache_root() / "tools" / f"llama.cpp-convert-{version}"
    if (dest / "convert_hf_to_gguf.py").is_file():
        return dest
    with tempfile.TemporaryDirectory(prefix=temp_prefix("llamacpp")) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--no-binary", ":all:", f"llama-cpp-python=={version}", "-d", tmp]
        run_tool(cmd, f"fetching llama.cpp's converter ({' '.join(cmd[2:])})")
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if not sdists:
            raise RuntimeError(f"pip download left no llama-cpp-python sdist in {tmp}")
        prefix = f"{sdists[0].name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
        with tarfile.open(sdists[0]) as tf:
            members = [m for m in tf.getmembers() if m.name.startswith(prefix)
                       and m.name[len(prefix):].startswith(CONVERTER_PARTS)]
            tf.extractall(tmp, members=members, filter="data")
        staging = staged(dest)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.move(Path(tmp) / prefix, staging)
        staging.rename(dest)
    return dest


def convert(checkpoint: Path, out_file: Path, outtype: str) -> None:
    """HF checkpoint -> GGUF at a float type (f32, f16, bf16) with llama.cpp's converter."""
    script = converter_dir() / "convert_hf_to_gguf.py"
    cmd = [sys.executable, str(script), str(checkpoint), "--outtype", outtype,
           "--outfile", str(out_file)]
    run_tool(cmd, f"convert_hf_to_gguf.py --outtype {outtype}", out_file)


def quantize(src: Path, dst: Path, precision: str) -> None:
    """GGUF -> quantized GGUF through llama.cpp's llama_model_quantize."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_FTYPES[precision]
    code = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(),
                                          ctypes.byref(params))
    if code != 0 or not dst.is_file():
        raise RuntimeError(f"llama_model_quantize to {precision} failed with code {code}")


if __name__ == "__main__":
    print(converter_dir())
