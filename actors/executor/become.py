"""Run a command as another user, with that user's groups: `python -S become.py UID GID
GROUPS -- ARGV...` (GROUPS comma-separated). The command executor puts this after a
task's limits wrapper, so the task joins its cgroups as root and only then drops to its
user (a task user may not move itself into a cgroup). Standard library only: it runs
with `-S`, from any directory.

>>> become_argv(1000, 1000, (1000, 27))[-4:]
['1000', '1000', '1000,27', '--']
"""

from __future__ import annotations

import os
import sys
from typing import Sequence


def become_argv(uid: int, gid: int, groups: Sequence[int]) -> list[str]:
    """The argv prefix that runs what follows as `uid`/`gid` with `groups`."""
    return [sys.executable, "-S", os.path.abspath(__file__), str(uid), str(gid), ",".join(map(str, groups)), "--"]


def main(argv: list[str]) -> int:
    if len(argv) < 6 or argv[4] != "--":
        print("usage: become.py UID GID GROUPS -- COMMAND...", file=sys.stderr)
        return 2
    uid, gid = int(argv[1]), int(argv[2])
    groups = [int(g) for g in argv[3].split(",") if g]
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)  # last: after it, nothing can be changed back
    try:
        os.execvp(argv[5], argv[5:])
    except OSError as err:
        print(f"mesobus: cannot run {argv[5]!r}: {err.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv))
