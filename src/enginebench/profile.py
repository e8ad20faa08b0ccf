"""Runner profiles (runners/<profile>/profile.yaml): the engines, precisions, models,
device and workload a kind of machine runs, and the sweeps it runs after them (prompt
lengths, batch sizes); `enginebench run --profile DIR` reads one, and options given on the
command line win over it."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from enginebench.errors import UserError
from enginebench.results.schema import MACHINE_LABEL
from enginebench.yamlfile import load_yaml

PROFILE_FILE = "profile.yaml"
# YAML reads a bare on/off as true/false
OnOff = Annotated[Literal["on", "off"],
                  BeforeValidator(lambda v: {True: "on", False: "off"}.get(v, v)
                                  if isinstance(v, bool) else v)]


class _Options(BaseModel):
    """The `run` options a profile or a sweep of it may set (None: not set)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
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
    budget_s: float | None = Field(None, alias="cell_budget", gt=0)
    timeout: float | None = None
    quality: OnOff | None = None
    roofline: OnOff | None = None

    def options(self) -> dict:
        """The `run` options set here, as argparse names and values."""
        out = self.model_dump(include=set(_Options.model_fields), exclude_none=True)
        for key in ("engines", "precisions"):
            if key in out:
                out[key] = ",".join(out[key])
        return out


class Sweep(_Options):
    """A run of its own after the profile's grid: its options over the profile's."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    description: str
    models: list[str] | None = Field(None, min_length=1)


class Profile(_Options):
    """Every field but `description`, `models` and `sweeps` is a `run` option of the same
    name (None: its default)."""

    description: str
    models: list[str] = Field(min_length=1)
    sweeps: list[Sweep] = []

    def sweep(self, name: str) -> Sweep:
        found = [s for s in self.sweeps if s.name == name]
        if not found:
            names = ", ".join(s.name for s in self.sweeps) or "none"
            raise UserError(f"--sweep {name!r}: the profile has no such sweep (its sweeps: "
                            f"{names})")
        return found[0]

    def parts(self, only: str | None = None) -> list[tuple[dict, list[str]]]:
        """(options, models) of each run the profile makes: its grid, then each sweep with
        its options over the profile's; `only` names one sweep to run alone."""
        grid = self.options()
        sweeps = [self.sweep(only)] if only else self.sweeps
        parts = [] if only else [(grid, self.models)]
        return parts + [({**grid, **s.options()}, s.models or self.models) for s in sweeps]


def load_profile(path: Path) -> Profile:
    """Read `path` (a profile folder, or its profile.yaml); one-line errors."""
    file = path / PROFILE_FILE if path.is_dir() else path
    return load_yaml(file, Profile, f"profiles are runners/<name>/{PROFILE_FILE}: "
                     "cpu, m1, cuda, rocm")
