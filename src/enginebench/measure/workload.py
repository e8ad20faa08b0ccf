"""The workload every engine runs: fixed prompt token ids, then N greedy new tokens."""

from dataclasses import asdict, dataclass
from importlib import resources

import psutil

from enginebench.errors import UserError
from enginebench.models.checkpoint import Checkpoint


def default_threads() -> int:
    """The same for every engine unless asked otherwise: the physical cores."""
    return psutil.cpu_count(logical=False) or 1


@dataclass(frozen=True)
class Workload:
    """Prompt length, generated length, repetitions and threads of every cell of a run."""

    prompt_tokens: int = 128
    new_tokens: int = 128
    warmups: int = 1
    reps: int = 5
    threads: int = 1
    rounds: int = 1

    def validate(self) -> None:
        checks = [
            (self.prompt_tokens >= 1, "--prompt-tokens must be at least 1"),
            (self.new_tokens >= 2, "--new-tokens must be at least 2 (decode rate needs two)"),
            (self.warmups >= 0, "--warmups must be 0 or more"),
            (self.reps >= 1, "--reps must be at least 1"),
            (self.threads >= 1, "--threads must be at least 1"),
            (self.rounds >= 1, "--rounds must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)

    def to_dict(self) -> dict:
        return asdict(self)


def shipped_text(name: str) -> str:
    return (resources.files("enginebench.models") / name).read_text()


def text_ids(ckpt: Checkpoint, text: str, length: int) -> list[int]:
    """BOS, then `text`'s ids (repeated if it is short) until there are `length` ids."""
    from tokenizers import Tokenizer

    tok_file = ckpt.path / "tokenizer.json"
    if not tok_file.is_file():
        raise UserError(f"{ckpt.path}: no tokenizer.json; the prompt is tokenized with it")
    tokenizer = Tokenizer.from_file(str(tok_file))
    body = tokenizer.encode(text, add_special_tokens=False).ids
    bos = ckpt.config.bos_token_id
    ids = [] if bos is None else [bos]
    while len(ids) < length:
        ids.extend(body[: length - len(ids)])
    if max(ids) >= ckpt.vocab_size:
        raise UserError(f"{ckpt.path}: tokenizer gives id {max(ids)} >= vocab_size "
                        f"{ckpt.vocab_size}; tokenizer and model do not match")
    return ids


def prompt_ids(ckpt: Checkpoint, length: int) -> list[int]:
    """The workload's prompt: the shipped prompt text's ids."""
    return text_ids(ckpt, shipped_text("prompt.txt"), length)


def eval_ids(ckpt: Checkpoint, length: int) -> list[int]:
    """The quality sequence: the shipped evaluation text's ids (a different text from the
    prompt, so a cell's output on the prompt does not feed its own quality check)."""
    return text_ids(ckpt, shipped_text("eval.txt"), length)
