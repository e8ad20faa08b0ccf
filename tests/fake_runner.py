"""A stand-in for a Rust runner binary, speaking the runner protocol or breaking it.

`python fake_runner.py MODE`: ok (answers correctly), crash (dies at the first request),
garbage (writes a line that is not JSON), error (reports a failure), unsupported.
"""

import json
import sys
import time


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def main(mode: str, version: bool) -> int:
    if version:
        emit({"engine": "fake", "version": "0", "build": {"fake": True}})
        return 0
    job = json.loads(sys.stdin.readline())
    if mode == "garbage":
        print("this is not JSON", flush=True)
        return 0
    if mode in ("error", "unsupported"):
        kind = "unsupported" if mode == "unsupported" else "failed"
        emit({"event": "error", "kind": kind, "message": f"cannot run {job['precision']}"})
        return 3 if kind == "unsupported" else 1
    emit({"event": "ready", "engine": "fake", "version": "0", "build": {}, "load_s": 0.001,
          "now": time.perf_counter(), "threads": job["threads"], "notes": ["fake runner"]})
    for line in sys.stdin:
        request = json.loads(line)
        if mode == "crash":
            print("runner panicked: index out of bounds", file=sys.stderr, flush=True)
            return 7
        start = time.perf_counter()
        if request["op"] == "generate":
            n = request["new_tokens"]
            emit({"event": "generation", "start": start, "ids": list(range(n)),
                  "times": [time.perf_counter() for _ in range(n)]})
        else:
            rows, vocab = len(request["ids"]), 8
            with open(request["out"], "wb") as f:
                f.write(b"\0" * 4 * rows * vocab)
            emit({"event": "logits", "rows": rows, "vocab": vocab, "path": request["out"]})
    emit({"event": "done", "peak_rss_mb": 12.5})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--version" in sys.argv))
