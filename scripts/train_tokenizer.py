"""Train the Llama-style tokenizer shipped with enginebench (run once, offline).

Role: produce ``src/enginebench/models/tokenizer/`` -- a real SentencePiece BPE
tokenizer with Llama's settings (32000 pieces, byte fallback, split digits,
``<unk>``/``<s>``/``</s>`` at ids 0/1/2) plus its HF fast-tokenizer form, so that
every engine's own loader or converter (HF transformers, llama.cpp's
``convert_hf_to_gguf.py``, CTranslate2, onnxruntime-genai) accepts a checkpoint
directory that contains it.

The corpus is built deterministically from text found on the machine with no
network access, English prose first: the licence texts in
``/usr/share/common-licenses``, Python's ``pydoc_data`` topics, the GNU info
manuals in ``/usr/share/info``, README/NEWS/markdown/text files and (the start
of) ``copyright`` files under ``/usr/share/doc``; then the ``.py`` files of the
Python standard library up to a fixed total size. Every file list is sorted.

Usage::

    python scripts/train_tokenizer.py [--out DIR] [--vocab-size N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sentencepiece as spm

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "src" / "enginebench" / "models" / "tokenizer"

CORPUS_CAP_BYTES = 28 * 1024 * 1024
MAX_LINE_BYTES = 8192
MODEL_MAX_LENGTH = 4096

LICENSES_DIR = Path("/usr/share/common-licenses")
DOC_DIR = Path("/usr/share/doc")
INFO_DIR = Path("/usr/share/info")
DOC_PATTERNS = ("README*", "NEWS*", "*.md", "*.md.gz", "*.txt", "*.txt.gz", "*.rst", "RelNotes/*")
DOC_FILE_CAP = 16 * 1024
COPYRIGHT_FILE_CAP = 8 * 1024
STDLIB_SKIP = {"site-packages", "dist-packages", "encodings"}


def _read_text(path: Path, limit: int | None = None) -> str:
    """Read a UTF-8 text file (gunzipped if ``*.gz``); "" if unreadable."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        text = data.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError):
        return ""
    return text[:limit] if limit is not None else text


def _doc_files() -> list[Path]:
    found: set[Path] = set()
    for pattern in DOC_PATTERNS:
        found.update(DOC_DIR.glob(f"*/{pattern}"))
        found.update(DOC_DIR.glob(f"*/*/{pattern}"))
    return sorted(
        p
        for p in found
        if p.is_file() and "changelog" not in str(p).lower() and "symbols" not in p.name
    )


def _corpus_documents() -> Iterator[str]:
    """Yield corpus documents in a fixed, sorted order: English prose first, then code."""
    if LICENSES_DIR.is_dir():
        for path in sorted(LICENSES_DIR.iterdir()):
            if path.is_file() and not path.is_symlink():
                yield _read_text(path)

    from pydoc_data import topics

    for key in sorted(topics.topics):
        yield topics.topics[key]

    if INFO_DIR.is_dir():
        for path in sorted(INFO_DIR.glob("*.info*.gz")):
            yield _read_text(path).replace("\x1f", "")
    if DOC_DIR.is_dir():
        for path in _doc_files():
            yield _read_text(path, DOC_FILE_CAP)
        for path in sorted(DOC_DIR.glob("*/copyright")):
            yield _read_text(path, COPYRIGHT_FILE_CAP)

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = [p for p in stdlib.rglob("*.py") if not STDLIB_SKIP.intersection(p.parts)]
    # Library code first, test suites after, so the cap trims tests.
    files.sort(key=lambda p: ("test" in p.parts or "tests" in p.parts, str(p)))
    for path in files:
        yield _read_text(path)


def build_corpus(dest: Path, cap_bytes: int = CORPUS_CAP_BYTES) -> tuple[int, int]:
    """Write the corpus, one non-empty line per line, to ``dest``.

    Returns ``(n_lines, n_bytes)``.
    """
    n_lines = 0
    n_bytes = 0
    with dest.open("w", encoding="utf-8", newline="\n") as fh:
        for doc in _corpus_documents():
            for raw in doc.splitlines():
                line = raw.rstrip()
                size = len(line.encode("utf-8")) + 1
                if not line.strip() or size > MAX_LINE_BYTES:
                    continue
                if n_bytes + size > cap_bytes:
                    return n_lines, n_bytes
                fh.write(line + "\n")
                n_lines += 1
                n_bytes += size
    return n_lines, n_bytes


def train_sentencepiece(corpus: Path, model_prefix: Path, vocab_size: int) -> None:
    """Train a BPE SentencePiece model with Llama's trainer settings."""
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(model_prefix),
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=0.99995,  # as in the Llama 2 tokenizer.model
        byte_fallback=True,
        split_digits=True,
        split_by_unicode_script=True,
        split_by_whitespace=True,
        split_by_number=True,
        treat_whitespace_as_suffix=False,
        add_dummy_prefix=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        unk_piece="<unk>",
        bos_piece="<s>",
        eos_piece="</s>",
        unk_surface=" \u2047 ",
        max_sentence_length=MAX_LINE_BYTES * 2,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        seed_sentencepiece_size=1000000,
        num_threads=2,
        minloglevel=1,
    )


def strip_temp_paths(model_file: Path) -> None:
    """Replace the temp-dir paths recorded in the model's trainer_spec, for byte-stable output."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model_file.read_bytes())
    del proto.trainer_spec.input[:]
    proto.trainer_spec.input.append("corpus.txt")
    proto.trainer_spec.model_prefix = "tokenizer"
    model_file.write_bytes(proto.SerializeToString())


def save_hf_tokenizer(model_dir: Path, out: Path) -> None:
    """Convert ``model_dir/tokenizer.model`` to an HF fast tokenizer saved in ``out``.

    ``tokenizer.json`` gets the canonical Llama-2 pipeline (normalizer
    ``Prepend("▁")`` + ``Replace(" ", "▁")``, no pre-tokenizer): unlike the
    ``Metaspace`` pre-tokenizer, it always adds the dummy prefix, as SentencePiece
    does, so ``tokenizer.json`` encodes exactly like ``tokenizer.model``.
    """
    from tokenizers import normalizers
    from transformers import LlamaTokenizer

    tok = LlamaTokenizer.from_pretrained(
        str(model_dir),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        add_bos_token=True,
        add_eos_token=False,
        legacy=False,
        model_max_length=MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces=False,
    )
    model_file = model_dir / "tokenizer.model"
    n_pieces = spm.SentencePieceProcessor(model_file=str(model_file)).vocab_size()
    if len(tok) != n_pieces:
        raise RuntimeError(f"conversion lost pieces: HF vocab has {len(tok)} entries")
    backend = tok.backend_tokenizer
    backend.normalizer = normalizers.Sequence(
        [normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")]
    )
    backend.pre_tokenizer = None
    tok.save_pretrained(str(out))

    # Pin the fields engines' loaders read, whatever this transformers version wrote.
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    for key in ("is_local", "local_files_only", "extra_special_tokens"):
        cfg.pop(key, None)  # load-time artefacts, or duplicates of bos/eos
    cfg.update(
        {
            "tokenizer_class": "LlamaTokenizer",
            "add_bos_token": True,
            "add_eos_token": False,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": None,
            "legacy": False,
            "add_prefix_space": None,
            "model_max_length": MODEL_MAX_LENGTH,
            "clean_up_tokenization_spaces": False,
            "sp_model_kwargs": {},
        }
    )
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


SAMPLE_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "    def forward(self, x: Tensor) -> Tensor:\n\treturn x @ self.weight.T  # 3.14159",
    "Released in 2023-07-18, version 1.23.456 costs $1,000,000.",
    "naïve café 東京 🙂",
    " leading space, trailing space ",
    "",
)


def check_consistency(out: Path, corpus: Path, every: int = 97) -> int:
    """Check that ``tokenizer.json`` encodes exactly like ``tokenizer.model``.

    Compares the sample texts and every ``every``-th corpus line; returns the
    number of texts compared and raises ``RuntimeError`` on the first mismatch.
    """
    from tokenizers import Tokenizer

    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    fast = Tokenizer.from_file(str(out / "tokenizer.json"))
    with corpus.open(encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for i, line in enumerate(fh) if i % every == 0]
    texts = [*SAMPLE_TEXTS, *lines]
    for text in texts:
        want = sp.encode(text)
        got = fast.encode(text, add_special_tokens=False).ids
        if got != want:
            raise RuntimeError(f"tokenizer.json != tokenizer.model on {text!r}: {got} vs {want}")
        if fast.encode(text).ids != [sp.bos_id(), *want]:
            raise RuntimeError(f"tokenizer.json does not prepend <s> on {text!r}")
    return len(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--vocab-size", type=int, default=32000, help="vocabulary size")
    args = parser.parse_args(argv)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="enginebench-tok-") as tmp:
        corpus = Path(tmp) / "corpus.txt"
        n_lines, n_bytes = build_corpus(corpus)
        print(f"corpus: {n_lines} lines, {n_bytes / 1e6:.1f} MB", flush=True)

        t0 = time.perf_counter()
        train_sentencepiece(corpus, Path(tmp) / "tokenizer", args.vocab_size)
        print(f"sentencepiece training: {time.perf_counter() - t0:.1f} s", flush=True)

        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        model_file = Path(tmp) / "tokenizer.model"
        model_file.rename(model_dir / "tokenizer.model")
        strip_temp_paths(model_dir / "tokenizer.model")
        save_hf_tokenizer(model_dir, out)
        (out / "tokenizer.model").write_bytes((model_dir / "tokenizer.model").read_bytes())
        n_checked = check_consistency(out, corpus)
        print(f"tokenizer.json == tokenizer.model on {n_checked} texts", flush=True)

    for path in sorted(out.iterdir()):
        print(f"{path.name}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
