"""What the fetcher adds to a task's start: one small local file and one over HTTP, fetched
by the fetcher process (`start_fetcher`, what the command executor does), against the same
fetch done in-process (`fetch_uris`: the baseline, without the child process) in the same
run. Prints a line per case and, last, one JSON line.

    python tests/benchmarks/fetcher.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.fetcher import FetcherConfig, fetch_uris, start_fetcher  # noqa: E402
from messages import CommandURI  # noqa: E402
from tests.support.file_server import FileServer  # noqa: E402


def _in_process(uri: CommandURI) -> float:
    box = Path(tempfile.mkdtemp())
    began = time.perf_counter()
    fetch_uris([uri], box, FetcherConfig())
    return time.perf_counter() - began


def _process(uri: CommandURI) -> float:
    box = Path(tempfile.mkdtemp())
    done, reasons = threading.Event(), []
    began = time.perf_counter()
    start_fetcher([uri], box, FetcherConfig(), None, box / "stderr", lambda r: (reasons.append(r), done.set()))
    done.wait(60)
    elapsed = time.perf_counter() - began
    assert reasons == [""], reasons
    return elapsed


def _ms(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"p50_ms": round(statistics.median(samples) * 1000, 1),
            "p90_ms": round(samples[int(len(samples) * 0.9) - 1] * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    files = Path(tempfile.mkdtemp())
    (files / "app.bin").write_bytes(os.urandom(256 * 1024))
    cases = {}
    with FileServer(files) as server:
        for name, uri in (("file", CommandURI(str(files / "app.bin"))), ("http", CommandURI(server.url("app.bin")))):
            baseline = [_in_process(uri) for _ in range(args.runs)]
            fetcher = [_process(uri) for _ in range(args.runs)]
            cases[name] = {"in_process": _ms(baseline), "fetcher_process": _ms(fetcher)}
            print(f"{name}: 256 KiB in-process p50 {cases[name]['in_process']['p50_ms']} ms, "
                  f"through the fetcher process p50 {cases[name]['fetcher_process']['p50_ms']} ms", flush=True)
    print(json.dumps({"benchmark": "fetcher.start_overhead", "date": time.strftime("%Y-%m-%d"),
                      "python": platform.python_version(), "cpus": os.cpu_count(), "runs": args.runs,
                      "cases": cases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
