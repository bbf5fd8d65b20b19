"""Run the fetcher for one task in a child process (`python -m actors.fetcher`, as the
executor's own user: the task's user may not even be able to run this Python), and report
the outcome from a watcher thread: the executor's actor thread never waits for a download.
The task's user is the fetcher's `owner`: it reads local files as that user, and hands
what it fetched over to it.

>>> import tempfile, pathlib, threading
>>> from messages import CommandURI
>>> box = pathlib.Path(tempfile.mkdtemp()); done = threading.Event(); errors = []
>>> run = start_fetcher([CommandURI("/no/such/file")], box, FetcherConfig(timeout=5), None,
...                     box / "stderr", lambda e: (errors.append(e), done.set()))
>>> done.wait(30), errors
(True, ["cannot fetch '/no/such/file': cannot open /no/such/file: No such file or directory"])
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

import actors
from actors.fetcher.config import FetcherConfig, Owner
from messages import CommandURI, to_plain

log = logging.getLogger(__name__)

OnDone = Callable[[str], None]  # "" when every URI is in place, else why not
PROJECT_ROOT = str(Path(actors.__file__).resolve().parent.parent)
MAX_REASON = 4096
SLACK = 10.0  # seconds beyond the URIs' own timeouts before the process is killed


class FetcherRun:
    """A running fetcher; `kill()` ends it (the task was killed while fetching)."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.killed = False

    def kill(self) -> None:
        self.killed = True
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def start_fetcher(
    uris: Sequence[CommandURI],
    sandbox: Path,
    config: FetcherConfig,
    owner: Owner | None,
    stderr: Path,
    on_done: OnDone,
) -> FetcherRun:
    """Start fetching, the files to be given to `owner` (None: kept as this process'
    user); `on_done(reason)` is called once, from another thread. Raises OSError when
    the process cannot be started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESOBUS_")}
    paths = [PROJECT_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    with open(stderr, "ab") as err:
        popen = subprocess.Popen(
            [sys.executable, "-m", "actors.fetcher"],
            cwd=sandbox,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )
    run = FetcherRun(popen)
    request = json.dumps({"sandbox": str(sandbox), "uris": [to_plain(u) for u in uris], "config": config.to_plain(),
                          "owner": owner.__dict__ if owner is not None else None})
    limit = len(uris) * config.timeout + SLACK
    threading.Thread(target=_watch, args=(run, request, limit, on_done), name=f"fetcher-{popen.pid}", daemon=True).start()
    return run


def _watch(run: FetcherRun, request: str, limit: float, on_done: OnDone) -> None:
    try:
        out, _ = run.popen.communicate(request.encode(), timeout=limit)
        reason = out.decode(errors="replace").strip()[:MAX_REASON]
        code = run.popen.returncode
        if run.killed:
            reason = "the fetcher was stopped"
        elif code != 0 and not reason:
            reason = f"the fetcher exited with status {code}"
        elif code == 0:
            reason = ""
    except subprocess.TimeoutExpired:
        run.kill()
        run.popen.communicate()
        reason = f"the fetcher took longer than {limit:g} s"
    except Exception as err:  # the report must not die silently with the thread
        log.exception("fetcher process %d", run.popen.pid)
        reason = f"the fetcher failed: {err}"
    try:
        on_done(reason)
    except Exception:
        log.exception("could not report the fetcher's outcome")
