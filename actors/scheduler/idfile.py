"""Where a framework keeps its id between runs, so a restarted scheduler fails over.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "framework.id")
>>> f = IdFile(path); f.load() is None
True
>>> f.save("fw-1"); IdFile(path).load()
'fw-1'
>>> f.clear(); f.load() is None
True
"""

from __future__ import annotations

import os
import tempfile


class IdFile:
    """A one-line text file holding a framework id, written atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def load(self) -> str | None:
        """The saved id, or None when there is none yet."""
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return text or None

    def save(self, framework_id: str) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".framework-id.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(framework_id + "\n")
        os.replace(tmp, self.path)  # readers see the old id or the new one, never half

    def clear(self) -> None:
        """Forget the id (after a teardown the master would refuse it)."""
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def __repr__(self) -> str:
        return f"IdFile({self.path!r})"
