"""The one exception type whose message is shown to the user as a single line, and how
any text becomes one line safe to print."""

import re
from pathlib import Path

from pydantic import ValidationError


class UserError(Exception):
    """Bad input from the user: the message says what was wrong and what to do."""


# C0 and C1 control characters and DEL: a terminal acts on them (ESC starts a sequence)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """`text` safe to print as one terminal line: control characters (newlines and ESC
    among them) become spaces."""
    return CONTROL.sub(" ", text)


def field_error(path: Path, err: ValidationError) -> UserError:
    """The first problem pydantic found in a file, as one line naming the file and field."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(document)"
    return UserError(f"{path}: field {where}: {first['msg']}")
