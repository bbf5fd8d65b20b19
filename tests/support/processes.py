"""Start `tests/support/peer.py` in a child process and talk to it line by line.

    with Peer("echo", url=url, address="p.b") as echo:
        echo.wait_ready()
        ...
        result = echo.finish()      # closes stdin, returns the `result` JSON
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Peer:
    """One child process running a peer role; stderr goes to a log file for failures."""

    def __init__(self, role: str, **options: Any) -> None:
        args = [sys.executable, "-m", "tests.support.peer", role]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.role = role
        self.log = tempfile.NamedTemporaryFile(prefix=f"mesobus-peer-{role}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _next_line(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"peer {self.role}: no output after {timeout}s\n{self.stderr()}") from None
        if line is None:
            raise AssertionError(f"peer {self.role} exited ({self.process.poll()})\n{self.stderr()}")
        return line

    def wait_ready(self, timeout: float = 30.0) -> None:
        line = self._next_line(timeout)
        assert line == "ready", f"peer {self.role} said {line!r}\n{self.stderr()}"

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def result(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for the `result {json}` line."""
        while True:
            line = self._next_line(timeout)
            if line.startswith("result "):
                return json.loads(line[len("result "):])

    def finish(self, timeout: float = 60.0) -> dict[str, Any]:
        """Close stdin (the peer then stops) and return its result."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        result = self.result(timeout)
        self.process.wait(timeout)
        return result

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye to the broker."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stderr(self) -> str:
        try:
            return Path(self.log.name).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def __enter__(self) -> "Peer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()
        self.log.close()
        if exc[0] is None:
            Path(self.log.name).unlink(missing_ok=True)
