"""Run an engine's own command-line tool (converter, exporter) and report its failure."""

import subprocess
from pathlib import Path

OUTPUT_TAIL = 2000


def run_tool(cmd: list[str], what: str, output: Path | None = None) -> None:
    """Run `cmd`; a non-zero exit (or no `output` written) raises with the tool's last words."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode or (output is not None and not output.exists()):
        tail = (done.stderr or done.stdout).strip()[-OUTPUT_TAIL:]
        raise RuntimeError(f"{what} failed with exit code {done.returncode}: {tail}")
