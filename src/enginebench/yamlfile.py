"""YAML files the user edits (feature claims, runner profiles), read into pydantic models
with one-line errors that name the file and the field."""

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from enginebench.errors import UserError, field_error

ModelT = TypeVar("ModelT", bound=BaseModel)


def load_yaml(path: Path, model: type[ModelT], missing: str) -> ModelT:
    """Parse `path` and validate it as `model`; `missing` says what to do when it is absent."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as e:
        raise UserError(f"{path}: no such file ({missing})") from e
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid UTF-8 YAML ({e})") from e
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror or e})") from e
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise field_error(path, e) from e
