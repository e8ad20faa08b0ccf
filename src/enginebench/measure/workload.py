"""The workload every engine runs: fixed prompt token ids, then N greedy new tokens, for
one sequence or a batch of B sequences with prompts of their own; a run sweeps the
cartesian product of its prompt lengths, new-token counts and batch sizes (its points)."""

import itertools
import math
import random
from dataclasses import asdict, dataclass
from importlib import resources

import psutil

from enginebench.errors import UserError
from enginebench.models.checkpoint import Checkpoint


def default_threads() -> int:
    """The same for every engine unless asked otherwise: the physical cores."""
    return psutil.cpu_count(logical=False) or 1


@dataclass(frozen=True, order=True)
class Point:
    """One workload point of a sweep: P prompt ids, N new tokens, B sequences together.
    `pp2048 tg128` is llama-bench's `tg128 @ d2048`: decode after a 2048-token prompt."""

    prompt_tokens: int = 128
    new_tokens: int = 128
    batch: int = 1

    @property
    def label(self) -> str:
        return f"pp{self.prompt_tokens} tg{self.new_tokens} b{self.batch}"

    @property
    def context(self) -> int:
        """The most tokens one sequence holds."""
        return self.prompt_tokens + self.new_tokens


def _ints(value: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else tuple(value)


@dataclass(frozen=True)
class Workload:
    """The points (prompt lengths x new-token counts x batch sizes), repetitions and
    threads of every cell of a run. A single int is a sweep of one."""

    prompt_tokens: tuple[int, ...] | int = (128,)
    new_tokens: tuple[int, ...] | int = (128,)
    warmups: int = 1
    reps: int = 5
    threads: int = 1
    rounds: int = 1
    batch: tuple[int, ...] | int = (1,)
    # round r runs the cells in random.Random(f"{order_seed}/{r}")'s shuffle of the grid;
    # None: every round in the grid's order
    order_seed: int | None = None
    # seconds of measured reps after which a cell stops (once it has MIN_REPS); None: all
    budget_s: float | None = None

    def round_order(self, cells: list, round_no: int) -> list:
        """`cells` in the order round `round_no` runs them."""
        if self.order_seed is None:
            return list(cells)
        order = list(cells)
        random.Random(f"{self.order_seed}/{round_no}").shuffle(order)
        return order

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "new_tokens", "batch"):
            object.__setattr__(self, name, _ints(getattr(self, name)))

    def validate(self) -> None:
        checks = [
            (bool(self.prompt_tokens) and min(self.prompt_tokens) >= 1,
             "--prompt-tokens must be at least 1"),
            (bool(self.new_tokens) and min(self.new_tokens) >= 2,
             "--new-tokens must be at least 2 (decode rate needs two)"),
            (bool(self.batch) and min(self.batch) >= 1, "--batch must be at least 1"),
            (self.warmups >= 0, "--warmups must be 0 or more"),
            (self.reps >= 1, "--reps must be at least 1"),
            (self.threads >= 1, "--threads must be at least 1"),
            (self.rounds >= 1, "--rounds must be at least 1"),
            (self.budget_s is None or (math.isfinite(self.budget_s) and self.budget_s > 0),
             "--cell-budget must be a number of seconds above 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)
        for name in ("prompt_tokens", "new_tokens", "batch"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise UserError(f"--{name.replace('_', '-')} "
                                f"{','.join(map(str, values))} repeats a value")

    def points(self) -> list[Point]:
        """The cartesian product, in the order given (prompt length outermost)."""
        return [Point(p, n, b) for p, n, b in
                itertools.product(self.prompt_tokens, self.new_tokens, self.batch)]

    @property
    def longest(self) -> int:
        """The most tokens one sequence of any point holds."""
        return max(self.prompt_tokens) + max(self.new_tokens)

    def to_dict(self) -> dict:
        """The run document's workload: the first point's P and N (what a one-point reader
        takes), every point, and the run's repetitions and threads."""
        first = self.points()[0]
        out = asdict(self)
        out.update(prompt_tokens=first.prompt_tokens, new_tokens=first.new_tokens,
                   batch=first.batch, points=[asdict(p) for p in self.points()])
        return out


def shipped_text(name: str) -> str:
    return (resources.files("enginebench.models") / name).read_text()


def _tokenizer(ckpt: Checkpoint):
    from tokenizers import Tokenizer

    tok_file = ckpt.path / "tokenizer.json"
    if not tok_file.is_file():
        raise UserError(f"{ckpt.path}: no tokenizer.json; the prompt is tokenized with it")
    return Tokenizer.from_file(str(tok_file))


def _encode(ckpt: Checkpoint, text: str) -> tuple[list[int], list[int]]:
    """The special ids the checkpoint's tokenizer puts before a text (its BOS, when its
    post-processor adds one: Llama's `<s>`; none for SmolLM2's), and the text's ids."""
    enc = _tokenizer(ckpt).encode(text, add_special_tokens=True)
    lead = 0
    while lead < len(enc.ids) and enc.special_tokens_mask[lead]:
        lead += 1
    prefix, body = enc.ids[:lead], enc.ids[lead:]
    tail = len(body)
    while tail and enc.special_tokens_mask[lead + tail - 1]:
        tail -= 1  # an EOS the post-processor appends is not part of the text
    ids = prefix + body[:tail]
    if ids and max(ids) >= ckpt.vocab_size:
        raise UserError(f"{ckpt.path}: tokenizer gives id {max(ids)} >= vocab_size "
                        f"{ckpt.vocab_size}; tokenizer and model do not match")
    return prefix, body[:tail]


def text_ids(ckpt: Checkpoint, text: str, length: int) -> list[int]:
    """The tokenizer's leading special ids, then `text`'s ids (repeated if it is short)
    until there are `length` ids."""
    prefix, body = _encode(ckpt, text)
    ids = list(prefix)
    while len(ids) < length:
        ids.extend(body[: length - len(ids)])
    return ids


def prompt_ids(ckpt: Checkpoint, length: int) -> list[int]:
    """The workload's prompt: the shipped prompt text's ids."""
    return text_ids(ckpt, shipped_text("prompt.txt"), length)


# where sequence b of a batch starts reading the prompt text: b * this many of its ids on
BATCH_STRIDE = 41


def batch_prompts(ckpt: Checkpoint, length: int, batch: int) -> list[list[int]]:
    """The prompts of a batch of `batch` sequences, `length` ids each: sequence 0's is
    `prompt_ids`; sequence b's reads the same text from about its (b * BATCH_STRIDE)-th id
    on (moved on until its first id is one no earlier sequence starts with), wrapping
    round, so that no two share more than the tokenizer's leading ids and no engine can
    reuse one sequence's prefill for another."""
    prefix, body = _encode(ckpt, shipped_text("prompt.txt"))
    if batch > len(set(body)):
        raise UserError(f"{ckpt.path}: the prompt text has {len(set(body))} distinct ids, too "
                        f"few to start {batch} batch prompts differently")
    out, firsts = [], set()
    for b in range(batch):
        start = (b * BATCH_STRIDE) % len(body)
        while body[start] in firsts:
            start = (start + 1) % len(body)
        firsts.add(body[start])
        rotated = body[start:] + body[:start]
        ids = list(prefix)
        while len(ids) < length:
            ids.extend(rotated[: length - len(ids)])
        out.append(ids)
    return out


def eval_ids(ckpt: Checkpoint, length: int) -> list[int]:
    """The quality sequence: `length` ids of the shipped evaluation passages (eval.txt and
    quality.txt: texts other than the prompt, so a cell's output on the prompt does not
    feed its own quality check), never repeated: a tokenizer that gives fewer is an error."""
    text = shipped_text("eval.txt").rstrip() + "\n\n" + shipped_text("quality.txt")
    prefix, body = _encode(ckpt, text)
    ids = prefix + body[: length - len(prefix)]
    if len(ids) < length:
        raise UserError(f"{ckpt.path}: the evaluation passages are {len(ids)} tokens with "
                        f"this tokenizer; the quality comparison needs {length}")
    return ids


# ids of each divergence prompt's text (after the tokenizer's leading ids): one length for
# all, so an engine that compiles per shape (tinygrad) compiles their prefill once
DIVERGE_PROMPT_TOKENS = 16


def divergence_prompts(ckpt: Checkpoint) -> list[list[int]]:
    """The prompts of the greedy-divergence check: the first DIVERGE_PROMPT_TOKENS ids of
    each line of the shipped prompts.txt (plain English openings), each led by the
    tokenizer's leading ids."""
    out = []
    for line in shipped_text("prompts.txt").splitlines():
        if line.strip():
            prefix, body = _encode(ckpt, line.strip())
            if len(body) < DIVERGE_PROMPT_TOKENS:
                raise UserError(f"{ckpt.path}: the tokenizer gives {len(body)} ids for the "
                                f"divergence prompt {line.strip()!r}; it needs "
                                f"{DIVERGE_PROMPT_TOKENS}")
            out.append(prefix + body[:DIVERGE_PROMPT_TOKENS])
    return out
