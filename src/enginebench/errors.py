"""The one exception type whose message is shown to the user as a single line."""

from pathlib import Path

from pydantic import ValidationError


class UserError(Exception):
    """Bad input from the user: the message says what was wrong and what to do."""


def field_error(path: Path, err: ValidationError) -> UserError:
    """The first problem pydantic found in a file, as one line naming the file and field."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(document)"
    return UserError(f"{path}: field {where}: {first['msg']}")
