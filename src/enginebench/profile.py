"""Runner profiles (runners/<profile>/profile.yaml): the engines, precisions, models,
device and workload a kind of machine runs; `enginebench run --profile DIR` reads one, and
options given on the command line win over it."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from enginebench.results.schema import MACHINE_LABEL
from enginebench.yamlfile import load_yaml

PROFILE_FILE = "profile.yaml"
# YAML reads a bare on/off as true/false
OnOff = Annotated[Literal["on", "off"],
                  BeforeValidator(lambda v: {True: "on", False: "off"}.get(v, v)
                                  if isinstance(v, bool) else v)]


class Profile(BaseModel):
    """Every field but `models` is a `run` option of the same name (None: its default)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    description: str
    models: list[str] = Field(min_length=1)
    engines: list[str] | None = None
    precisions: list[str] | None = None
    device: str | None = None
    threads: int | None = None
    machine: str | None = Field(None, pattern=MACHINE_LABEL)
    # one value, or a list to sweep (crossed with each other and with the batch sizes)
    prompt_tokens: int | list[int] | None = None
    new_tokens: int | list[int] | None = None
    batch: int | list[int] | None = None
    warmups: int | None = None
    reps: int | None = None
    rounds: int | None = None
    timeout: float | None = None
    quality: OnOff | None = None
    roofline: OnOff | None = None

    def options(self) -> dict:
        """The `run` options this profile sets, as argparse names and values."""
        out = self.model_dump(exclude={"description", "models"}, exclude_none=True)
        for key in ("engines", "precisions"):
            if key in out:
                out[key] = ",".join(out[key])
        return out


def load_profile(path: Path) -> Profile:
    """Read `path` (a profile folder, or its profile.yaml); one-line errors."""
    file = path / PROFILE_FILE if path.is_dir() else path
    return load_yaml(file, Profile, f"profiles are runners/<name>/{PROFILE_FILE}: "
                     "cpu, m1, cuda, rocm")
