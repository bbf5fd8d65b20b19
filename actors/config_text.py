"""Reading an operator's small configuration file (credentials, ACLs) as text: bounded in
size before it is read whole, UTF-8, every failure one line naming the file.

>>> read_config_text("/no/such/file", ValueError)
Traceback (most recent call last):
...
ValueError: /no/such/file: No such file or directory
"""

from __future__ import annotations

from pathlib import Path

MAX_FILE_BYTES = 1 << 20


def read_config_text(path: str | Path, error: type[Exception], limit: int = MAX_FILE_BYTES) -> str:
    """The file's text; `error(...)` names the file and what is wrong with it."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as err:
        raise error(f"{path}: {err.strerror or err}") from None
    if len(raw) > limit:
        raise error(f"{path}: larger than {limit} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
