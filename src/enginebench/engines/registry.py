"""The one registry: a row per engine naming its model face and its op face, from which the
CLI (`list`, `run`, `ops`), the asv suite and the tests read; and the lookup of the engine
and precision names users give.

Adding an engine: write its folder under engines/ (model.py, ops.py or both), add its row
here. Everything else (the CLI, run and ops documents, asv, the site) follows from the row.
"""

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from enginebench.engines.base import PRECISION_CLASSES, Engine, OpsEngine
from enginebench.errors import UserError


@dataclass(frozen=True)
class Row:
    """Where an engine's faces live, as "module:Class" (None: the engine has no such face;
    a model face says why it has no op face in its `no_ops`)."""

    model: str | None = None
    ops: str | None = None


_E = "enginebench.engines"
# CLI name -> its faces, in the order engines are listed and run
ENGINES: dict[str, Row] = {
    "numpy": Row(ops=f"{_E}.numpy.ops:NumpyOps"),  # the op baseline, listed first
    "torch": Row(f"{_E}.torch.model:TorchEngine", f"{_E}.torch.ops:TorchOps"),
    "torch-compile": Row(f"{_E}.torch.compiled:TorchCompileEngine"),
    "llamacpp": Row(f"{_E}.llamacpp.model:LlamaCppEngine", f"{_E}.llamacpp.ops:LlamaCppOps"),
    "ctranslate2": Row(f"{_E}.ctranslate2.model:CTranslate2Engine"),
    "onnxruntime": Row(f"{_E}.onnxruntime.model:OnnxRuntimeEngine",
                       f"{_E}.onnxruntime.ops:OnnxRuntimeOps"),
    "onnxruntime-genai": Row(f"{_E}.onnxruntime_genai.model:OnnxRuntimeGenAIEngine"),
    "tinygrad": Row(f"{_E}.tinygrad.model:TinygradEngine", f"{_E}.tinygrad.ops:TinygradOps"),
    "candle": Row(f"{_E}.candle.model:CandleEngine", f"{_E}.candle.ops:CandleOps"),
    "burn": Row(f"{_E}.burn.model:BurnEngine", f"{_E}.burn.ops:BurnOps"),
    "mlx": Row(f"{_E}.mlx.model:MlxEngine", f"{_E}.mlx.ops:MlxOps"),
    "openvino": Row(f"{_E}.openvino.model:OpenVinoEngine", f"{_E}.openvino.ops:OpenVinoOps"),
}


def model_engines() -> list[str]:
    """The engines with a model face, in registry order."""
    return [n for n, row in ENGINES.items() if row.model]


def ops_engines() -> list[str]:
    """The engines with an op face, in registry order."""
    return [n for n, row in ENGINES.items() if row.ops]


def load_class(ref: str) -> type:
    """Import an adapter class from its "module:Class" reference."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def adapter_ref(cls: type) -> str:
    """The "module:Class" reference a child process imports `cls` by."""
    return f"{cls.__module__}:{cls.__qualname__}"


def engine_class(name: str) -> type[Engine]:
    row = ENGINES.get(name)
    if row is None or row.model is None:
        why = " (it has an op face only: `enginebench ops`)" if row else ""
        raise UserError(f"unknown engine {name!r}{why}; engines: "
                        f"{', '.join(model_engines())}")
    return load_class(row.model)


def ops_class(name: str) -> type[OpsEngine]:
    row = ENGINES.get(name)
    if row is None or row.ops is None:
        why = no_op_api().get(name)
        extra = f" ({why})" if why else ""
        raise UserError(f"no ops adapter for engine {name!r}{extra}; ops engines: "
                        f"{', '.join(ops_engines())}")
    return load_class(row.ops)


def no_op_api() -> dict[str, str]:
    """Engines with a model face and no op face, each with its adapter's reason."""
    out = {}
    for name, row in ENGINES.items():
        if row.model and not row.ops:
            out[name] = engine_class(name).no_ops or "no op-level adapter yet"
    return out


def devices() -> list[str]:
    """Every device some engine's model face declares, first seen first."""
    return list(dict.fromkeys(d for n in model_engines() for d in engine_class(n).devices))


def split_list(text: str, option: str, choices: Iterable[str]) -> list[str]:
    """A comma list given on the command line or in a profile; empty is an error (leave
    the option out for its default)."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise UserError(f"{option} is empty; name at least one of {', '.join(choices)}, "
                        "or leave the option out for its default")
    return items


def classes_from(text: str | None, lookup: Callable[[str], type], names: Iterable[str]
                 ) -> list:
    """`--engines a,b` as classes through `lookup`, each of which must be installed;
    without it (None), every installed one of `names`; an empty list is an error."""
    if text is None:
        return [c for c in map(lookup, names) if c.available()]
    classes = [lookup(n) for n in split_list(text, "--engines", names)]
    for cls in classes:
        if not cls.available():
            raise UserError(f"engine {cls.name!r} is not installed; install it with: "
                            f"{cls.install}")
    return classes


def parse_engines(text: str | None) -> list[type[Engine]]:
    """`--engines a,b` as model faces; without it, every installed engine."""
    classes = classes_from(text, engine_class, model_engines())
    if not classes:
        raise UserError("no engine is installed; run `make setup` or "
                        "`pip install 'enginebench[all]'`")
    return classes


def parse_ops_engines(text: str | None) -> list[type[OpsEngine]]:
    """`--engines a,b` as op faces; without it, every installed one."""
    return classes_from(text, ops_class, ops_engines())


# the `--precisions` word for every precision each engine has, and the words besides
# engine-native names that the option takes
ALL_PRECISIONS = "all"
PRECISION_WORDS = (*PRECISION_CLASSES, ALL_PRECISIONS)


def select_precisions(cls: type[Engine], text: str | None) -> list[str]:
    """Native names or classes from `--precisions`, kept to those `cls` has.

    A class (fp32, int8, ...) expands to every native precision of that class, `all` (or
    None) to every precision `cls` has; a name that is none of these nor any engine's
    precision is an error listing the choices.
    """
    if text is None:
        return list(cls.precisions)
    wanted = split_list(text, "--precisions", PRECISION_WORDS)
    out: list[str] = []
    for p in wanted:
        if p == ALL_PRECISIONS:
            out.extend(cls.precisions)
        elif p in cls.precisions:
            out.append(p)
        elif p in PRECISION_CLASSES:
            out.extend(n for n, c in cls.precisions.items() if c == p)
    return list(dict.fromkeys(out))


def check_precisions(classes: list[type[Engine]], text: str | None) -> None:
    """Fail on a precision name no selected engine knows (typo), naming the valid ones."""
    if text is None:
        return
    known = {*PRECISION_WORDS} | {p for c in classes for p in c.precisions}
    bad = [p for p in split_list(text, "--precisions", PRECISION_WORDS) if p not in known]
    if bad:
        raise UserError(f"unknown precision {bad[0]!r}; choose from: "
                        f"{', '.join(sorted(known))}")
