"""`mesobus tail TASK [FILE] [-f]` and `mesobus cat TASK [FILE]`: a task's sandbox file
(stdout by default), read through the master from whichever agent runs it (like
mesos-tail and mesos-cat). TASK is a task id or the start of one.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time

from actors.cli.common import fail
from actors.cli.master_client import MasterClient, MasterError, add_master, find_task
from messages.ids import COMMAND_EXECUTOR_ID

PAGE = 1 << 20
FOLLOW_SECONDS = 0.5


def register(sub: argparse._SubParsersAction) -> None:
    for name, text in (("tail", "print the end of a task's stdout (or FILE); -f follows it"),
                       ("cat", "print a task's whole stdout (or FILE)")):
        p = sub.add_parser(name, help=text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        add_master(p)
        p.add_argument("task", metavar="TASK", help="the task id (or its start)")
        p.add_argument("file", metavar="FILE", nargs="?", default="stdout", help="the sandbox file (default: stdout)")
        if name == "tail":
            p.add_argument("-f", "--follow", action="store_true", help="keep printing what is appended")
            p.add_argument("-n", "--lines", type=_line_count, default=10, metavar="N", help="lines to show (default: 10)")
        p.set_defaults(handler=run, what=name)


def _line_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a line count (a whole number >= 0)")
    return value


def file_path(task: dict, name: str) -> str:
    executor = task.get("executor_id") or COMMAND_EXECUTOR_ID
    base = f"/agents/{task['slave_id']}/frameworks/{task['framework_id']}/executors/{executor}/runs/latest"
    if executor == COMMAND_EXECUTOR_ID:
        base += f"/tasks/{task['id']}"
    return f"{base}/{name.lstrip('/')}"


def run(args: argparse.Namespace) -> int:
    client = MasterClient.of(args)
    out = sys.stdout.buffer
    try:
        path = file_path(find_task(client, args.task), args.file)
        size = client.get("/files/read", path=path, offset=-1)["offset"]
        if args.what == "cat":
            offset = _copy(client, path, 0, size, out)
        else:
            start = _tail_start(client, path, size, args.lines)
            offset = _copy(client, path, start, size, out)
            while args.follow:
                time.sleep(FOLLOW_SECONDS)
                size = client.get("/files/read", path=path, offset=-1)["offset"]
                offset = _copy(client, path, offset, size, out)
    except MasterError as err:
        return fail(f"mesobus {args.what}", str(err), 1)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        client.close()
    return 0


def _read(client: MasterClient, path: str, offset: int, length: int) -> bytes:
    # v1 READ_FILE: base64, so offsets stay byte-exact whatever the file holds
    answer = client.call({"type": "READ_FILE", "read_file": {"path": path, "offset": offset, "length": length}})
    return base64.b64decode(answer["read_file"]["data"])


def _copy(client: MasterClient, path: str, offset: int, end: int, out) -> int:
    while offset < end:
        data = _read(client, path, offset, min(PAGE, end - offset))
        if not data:
            break
        out.write(data)
        out.flush()
        offset += len(data)
    return offset


def _tail_start(client: MasterClient, path: str, size: int, lines: int) -> int:
    """Where the last `lines` lines begin (reading back at most a few pages)."""
    start, want = size, max(lines, 0) + 1
    while start > 0 and want > 0:
        step = min(64 * 1024, start)
        start -= step
        data = _read(client, path, start, step)
        count = data.count(b"\n")
        if count >= want:
            cut = len(data)
            for _ in range(want):
                cut = data.rindex(b"\n", 0, cut)
            return start + cut + 1
        want -= count
    return 0
