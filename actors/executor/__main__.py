"""`python -m actors.executor [module:Class]`: what an agent starts for an executor.

Without an argument it runs the built-in command executor; with `module:Class` it runs
that Executor subclass (a custom executor's `ExecutorInfo.command` can be
`python -m actors.executor mypackage.executors:MyExecutor`).
"""

from __future__ import annotations

import sys

from actors.executor.command import CommandExecutor
from actors.executor.run import load_executor_class, run_executor


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: python -m actors.executor [module:ExecutorClass]", file=sys.stderr)
        return 2
    try:
        cls = load_executor_class(argv[0]) if argv else CommandExecutor
    except ValueError as err:
        print(f"mesobus executor: {err}", file=sys.stderr)
        return 2
    return run_executor(cls)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
