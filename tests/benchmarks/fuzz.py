"""The fuzz run at scale: 200,000 malformed and forged messages into a master and an
agent (processes on a private vhost of the local broker).

    python tests/benchmarks/fuzz.py [--count 200000] [--seed 1]

Prints how long sending and dead-lettering took, each process' RSS before and after,
whether both survived, and whether `mesobus run -- true` still exits 0; the last line is
one JSON object with the figures. The same checks as tests/security/test_fuzz.py (20,000).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.fuzz import run_fuzz  # noqa: E402
from tests.support.vhost import private_vhost  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200_000, help="messages to send (default 200000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mesobus-fuzz-") as tmp, private_vhost("mesobus-fuzz-bench") as url:
        result = run_fuzz(url, Path(tmp), args.count, settle_timeout=max(120.0, args.count / 500), seed=args.seed)
    print(f"sent {result.sent} in {result.seconds_to_send:.1f}s; dead-lettered {result.dead_lettered} "
          f"({result.without_reason} without a reason) after {result.seconds_to_settle:.1f}s")
    for name, (before, after) in result.rss_mb.items():
        print(f"{name}: RSS {before:.1f} MB -> {after:.1f} MB ({after - before:+.1f}); alive: {result.alive[name]}")
    print(f"mesobus run -- true: exit {result.run_true_exit}")
    for note in result.notes:
        print(note, file=sys.stderr)
    print(json.dumps({k: v for k, v in dataclasses.asdict(result).items() if k != "notes"}))
    ok = (all(result.alive.values()) and result.dead_lettered >= result.sent and result.without_reason == 0
          and result.run_true_exit == 0 and all(a - b < 50 for b, a in result.rss_mb.values()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
