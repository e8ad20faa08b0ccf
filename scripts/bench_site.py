"""Benchmark (not a test): build the site from a year of synthetic nightly runs for four
machines, generated in a temporary folder, and print how long each stage took."""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from enginebench.site.build import build_site

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the synthetic runs are test fixtures
from synthetic_runs import nightly_year  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--machines", type=int, default=4)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="enginebench-site-bench-"))
    try:
        t0 = time.perf_counter()
        runs = nightly_year(tmp / "data" / "results", args.machines, args.days)
        print(f"generated {runs} synthetic runs in {time.perf_counter() - t0:.1f} s")
        t1 = time.perf_counter()
        report = build_site(ROOT, tmp / "data", tmp / "out", docs=tmp / "docs",
                            claims=ROOT / "data" / "features.yaml")
        total = time.perf_counter() - t1
        size = sum(f.stat().st_size for f in (tmp / "out").rglob("*") if f.is_file())
        print(f"site build: {total:.1f} s in all ({report.pages} pages; loading and rendering "
              f"{report.render_s:.1f} s, mkdocs build --strict {report.mkdocs_s:.1f} s); "
              f"output {size / 1e6:.0f} MB")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
