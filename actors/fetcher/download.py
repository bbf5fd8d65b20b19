"""Copy one URI's bytes into a file: `file://` URIs and absolute paths, `http://` and
`https://`; bounded in size and time, whatever the other side does.

>>> import tempfile, pathlib
>>> box = pathlib.Path(tempfile.mkdtemp())
>>> _ = (box / "a.txt").write_text("hi")
>>> download(f"file://{box}/a.txt", box / "b.txt", max_size=10, timeout=5)
2
>>> download("ftp://example.com/x", box / "c", max_size=10, timeout=5)
Traceback (most recent call last):
...
actors.fetcher.config.FetchError: unsupported scheme 'ftp' (file://, http://, https:// or an absolute path)
"""

from __future__ import annotations

import http.client
import os
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable
from urllib.parse import unquote, urlsplit

from actors.fetcher.config import FetchError, Owner

CHUNK = 64 * 1024
_WEB = ("http", "https")


def uri_path(uri: str) -> str:
    """The path part of a URI (or the path itself), unquoted: its last segment names the file."""
    parts = urlsplit(uri)
    return unquote(parts.path) if parts.scheme else uri


def download(uri: str, dest: Path, *, max_size: int, timeout: float, owner: Owner | None = None) -> int:
    """Write `uri`'s contents to `dest` (created, never followed if a link); the number of
    bytes. A local file is read as `owner` when given. Raises FetchError (too large, too
    slow, not found, refused...)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    deadline = time.monotonic() + timeout
    if scheme in _WEB:
        with _open_web(uri, max_size, timeout) as response:
            return _copy(response.read1, dest, max_size, deadline, timeout)
    if scheme == "file" or (not scheme and uri.startswith("/")):
        if scheme == "file" and parts.netloc not in ("", "localhost"):
            raise FetchError(f"file URI names host {parts.netloc!r}: only local files can be fetched")
        if owner is not None:
            return _copy_as(owner, uri_path(uri), dest, max_size, deadline, timeout)
        with _open_local(uri_path(uri)) as source:
            return _copy(source.read, dest, max_size, deadline, timeout)
    raise FetchError(f"unsupported scheme {scheme or 'none'!r} (file://, http://, https:// or an absolute path)")


class _WebOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only: never to ftp:// or anything urllib might open."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme.lower() not in _WEB:
            raise FetchError(f"redirected to {newurl[:200]!r}, which is not http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_WebOnlyRedirects())


def _open_web(uri: str, max_size: int, timeout: float):  # type: ignore[no-untyped-def]
    request = urllib.request.Request(uri, headers={"User-Agent": "mesobus-fetcher"})
    try:
        response = _opener.open(request, timeout=timeout)  # each socket operation waits at most this
    except urllib.error.HTTPError as err:
        raise FetchError(f"HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise FetchError(f"timed out after {timeout:g} s") from None
        raise FetchError(f"cannot connect: {getattr(reason, 'strerror', None) or reason}") from None
    except (socket.timeout, TimeoutError):
        raise FetchError(f"timed out after {timeout:g} s") from None
    except (OSError, ValueError) as err:
        raise FetchError(f"cannot download: {err}") from None
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_size:
        response.close()
        raise FetchError(f"it is {int(length)} bytes, more than the fetcher's limit of {max_size}")
    return response


def _open_local(path: str) -> BinaryIO:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open
    except OSError as err:
        raise FetchError(f"cannot open {path}: {err.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FetchError(f"{path} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


# Run as the task's user: what it cannot read, its task does not get.
_READ_AS_USER = '[ -f "$1" ] || { echo "$1 is not a regular file" >&2; exit 3; }; exec cat -- "$1"'


def _copy_as(owner: Owner, path: str, dest: Path, max_size: int, deadline: float, timeout: float) -> int:
    try:
        reader = subprocess.Popen(
            ["sh", "-c", _READ_AS_USER, "mesobus-fetcher", path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
            user=owner.uid, group=owner.gid, extra_groups=list(owner.groups), env={"PATH": "/usr/bin:/bin"},
        )
    except OSError as err:
        raise FetchError(f"cannot read {path} as {owner.name}: {err}") from None
    assert reader.stdout is not None and reader.stderr is not None
    try:
        size = _copy(reader.stdout.read1, dest, max_size, deadline, timeout)
        reader.wait(max(deadline - time.monotonic(), 1.0))  # it ended its output: it ends
    except BaseException as err:
        reader.kill()
        reader.wait()
        if isinstance(err, subprocess.TimeoutExpired):
            raise FetchError(f"timed out after {timeout:g} s") from None
        raise
    finally:
        reader.stdout.close()
    why = reader.stderr.read(4096).decode(errors="replace").strip().splitlines()
    reader.stderr.close()
    if reader.returncode != 0:
        text = why[-1].removeprefix("cat: ") if why else f"exit status {reader.returncode}"
        raise FetchError(f"cannot read it as {owner.name}: {text}")
    return size


def _copy(read: Callable[[int], bytes], dest: Path, max_size: int, deadline: float, timeout: float) -> int:
    total = 0
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise FetchError(f"cannot create {dest.name}: {err.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        while True:
            if time.monotonic() > deadline:
                raise FetchError(f"timed out after {timeout:g} s ({total} bytes received)")
            try:
                chunk = read(CHUNK)
            except (socket.timeout, TimeoutError):
                raise FetchError(f"timed out after {timeout:g} s ({total} bytes received)") from None
            except OSError as err:
                raise FetchError(f"read failed after {total} bytes: {err}") from None
            except (ValueError, http.client.HTTPException) as err:  # IncompleteRead and kin
                raise FetchError(f"read failed after {total} bytes: {err}") from None
            if not chunk:
                return total
            total += len(chunk)
            if total > max_size:
                raise FetchError(f"more than the fetcher's limit of {max_size} bytes")
            out.write(chunk)
