"""The engines enginebench knows, by CLI name, and the lookup of names given by users."""

import importlib
from collections.abc import Callable, Iterable

from enginebench.engines.base import PRECISION_CLASSES, Engine
from enginebench.errors import UserError

# CLI name -> "module:Class". Adding an engine: write its adapter, add one line here.
ENGINES: dict[str, str] = {
    "torch": "enginebench.engines.torch_engine:TorchEngine",
    "llamacpp": "enginebench.engines.llamacpp_engine:LlamaCppEngine",
    "ctranslate2": "enginebench.engines.ctranslate2_engine:CTranslate2Engine",
    "onnxruntime": "enginebench.engines.onnxruntime_engine:OnnxRuntimeEngine",
    "onnxruntime-genai": "enginebench.engines.onnxruntime_genai_engine:OnnxRuntimeGenAIEngine",
    "tinygrad": "enginebench.engines.tinygrad_engine:TinygradEngine",
    "candle": "enginebench.engines.candle_engine:CandleEngine",
    "burn": "enginebench.engines.burn_engine:BurnEngine",
}


def load_class(ref: str) -> type[Engine]:
    """Import an adapter class from its "module:Class" reference."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def engine_class(name: str) -> type[Engine]:
    if name not in ENGINES:
        raise UserError(f"unknown engine {name!r}; engines: {', '.join(ENGINES)}")
    return load_class(ENGINES[name])


def classes_from(text: str | None, lookup: Callable[[str], type], names: Iterable[str]
                 ) -> list:
    """`--engines a,b` as classes through `lookup`, each of which must be installed;
    without it, every installed one of `names`."""
    if not text:
        return [c for c in map(lookup, names) if c.available()]
    classes = [lookup(n.strip()) for n in text.split(",") if n.strip()]
    for cls in classes:
        if not cls.available():
            raise UserError(f"engine {cls.name!r} is not installed; install it with: "
                            f"{cls.install}")
    return classes


def parse_engines(text: str | None) -> list[type[Engine]]:
    """`--engines a,b` as adapter classes; without it, every installed engine."""
    classes = classes_from(text, engine_class, ENGINES)
    if not classes:
        raise UserError("no engine is installed; run `make setup` or "
                        "`pip install 'enginebench[all]'`")
    return classes


def select_precisions(cls: type[Engine], text: str | None) -> list[str]:
    """Native names or classes from `--precisions`, kept to those `cls` has.

    A class (fp32, int8, ...) expands to every native precision of that class; a name
    that is neither a class nor any engine's precision is an error listing the choices.
    """
    if not text:
        return list(cls.precisions)
    wanted = [p.strip() for p in text.split(",") if p.strip()]
    out: list[str] = []
    for p in wanted:
        if p in cls.precisions:
            out.append(p)
        elif p in PRECISION_CLASSES:
            out.extend(n for n, c in cls.precisions.items() if c == p)
    return list(dict.fromkeys(out))


def check_precisions(classes: list[type[Engine]], text: str | None) -> None:
    """Fail on a precision name no selected engine knows (typo), naming the valid ones."""
    if not text:
        return
    known = set(PRECISION_CLASSES) | {p for c in classes for p in c.precisions}
    bad = [p.strip() for p in text.split(",") if p.strip() and p.strip() not in known]
    if bad:
        raise UserError(f"unknown precision {bad[0]!r}; choose from: "
                        f"{', '.join(sorted(known))}")
