"""`enginebench site`: render the pages, ship Vega locally, run `mkdocs build --strict`,
and optionally serve the result on 127.0.0.1."""

import contextlib
import functools
import gc
import http.server
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from enginebench.errors import UserError
from enginebench.site.features import load_claims
from enginebench.site.pages import GENERATED, Renderer
from enginebench.site.records import Results, load_results

VENDOR = Path("assets/vendor")


@dataclass
class BuildReport:
    results: Results
    pages: int
    render_s: float
    mkdocs_s: float
    out: Path


def check_root(root: Path) -> None:
    for need in ("mkdocs.yml", "templates", "site"):
        if not (root / need).exists():
            raise UserError(f"{root / need}: not found; run `enginebench site` from the "
                            "enginebench repository (where mkdocs.yml is)")


def write_vega_bundle(docs: Path) -> Path:
    """Vega, Vega-Lite and vega-embed as one local script (vl-convert's bundle), so the
    charts need no network; rewritten only when vl-convert's versions change."""
    import vl_convert as vlc

    versions = f"vega {vlc.get_vega_version()}, vega-embed {vlc.get_vega_embed_version()}"
    path = docs / VENDOR / "vega-bundle.js"
    stamp = path.with_suffix(".version")
    if path.is_file() and stamp.is_file() and stamp.read_text() == versions:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"/* {versions}, bundled by vl-convert-python */\n"
                    + vlc.javascript_bundle())
    stamp.write_text(versions)
    return path


def _staging(root: Path, docs: Path) -> Path:
    """Copy the hand-written pages into `docs` and write a config that inherits mkdocs.yml."""
    shutil.copytree(root / "site", docs, dirs_exist_ok=True,
                    ignore=lambda d, names: [n for n in names if Path(d) == root / "site"
                                             and n in GENERATED])
    config = docs.parent / "mkdocs.yml"
    hook = Path(__file__).with_name("mkdocs_hook.py")
    config.write_text(f"INHERIT: {(root / 'mkdocs.yml').resolve()}\ndocs_dir: {docs}\n"
                      f"hooks:\n  - {hook}\n")
    return config


def mkdocs_build(config: Path, out: Path) -> None:
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(config),
           "-d", str(out.resolve())]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise UserError(f"mkdocs build --strict failed (exit {proc.returncode}):\n{tail}")


@contextlib.contextmanager
def _no_gc():
    """Rendering makes millions of small objects and no cycles worth collecting; the
    collector's passes over a growing heap tripled the time of a year of runs."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def build_site(root: Path, data: Path, out: Path, docs: Path | None = None,
               claims: Path | None = None) -> BuildReport:
    """Render every results file under `data` and build the site into `out`. The generated
    pages go beside the hand-written ones in `root/site`, or into `docs` (a scratch folder,
    for tests and benchmarks), leaving the repository untouched."""
    check_root(root)
    t0 = time.perf_counter()
    if docs is None:
        docs, config = root / "site", root / "mkdocs.yml"
    else:
        config = _staging(root, docs)
    with _no_gc():
        results = load_results(data)
        feature_claims = load_claims(claims or data / "features.yaml")
        pages = Renderer(root / "templates", docs, results, feature_claims).render_all()
    write_vega_bundle(docs)
    t1 = time.perf_counter()
    mkdocs_build(config, out)
    return BuildReport(results, pages, t1 - t0, time.perf_counter() - t1, out)


def local_server(directory: Path, port: int) -> http.server.ThreadingHTTPServer:
    """An HTTP server for `directory` bound to 127.0.0.1 only (port 0: any free port)."""
    if not (directory / "index.html").is_file():
        raise UserError(f"{directory}: no built site here; run `enginebench site` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(directory))
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as e:
        raise UserError(f"cannot serve on 127.0.0.1:{port} ({e.strerror}); "
                        "pass --port with a free port") from e


def serve(directory: Path, port: int) -> None:
    """Serve `directory` on 127.0.0.1 until interrupted."""
    server = local_server(directory, port)
    with server:
        print(f"serving {directory} on http://127.0.0.1:{server.server_port}/ "
              "(Ctrl-C stops)", flush=True)
        server.serve_forever()
