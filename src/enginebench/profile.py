"""Runner profiles (runners/<profile>/profile.yaml): the engines, precisions, models,
device and workload a kind of machine runs; `enginebench run --profile DIR` reads one, and
options given on the command line win over it."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from enginebench.yamlfile import load_yaml

PROFILE_FILE = "profile.yaml"


class Profile(BaseModel):
    """Every field but `models` is a `run` option of the same name (None: its default)."""

    model_config = ConfigDict(extra="forbid")
    description: str
    models: list[str]
    engines: list[str] | None = None
    precisions: list[str] | None = None
    device: str | None = None
    threads: int | None = None
    machine: str | None = None
    prompt_tokens: int | None = None
    new_tokens: int | None = None
    warmups: int | None = None
    reps: int | None = None
    rounds: int | None = None
    timeout: float | None = None
    quality: str | None = None
    roofline: str | None = None

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
