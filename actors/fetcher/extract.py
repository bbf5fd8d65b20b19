"""Unpack an archive into the sandbox, safely: nothing lands outside it, no link points
out of it, no device file or FIFO is made, and no more than `max_size` bytes come out.

Tar archives (`.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`, `.tar.xz`/`.txz`) go through
tarfile's `data` filter (leading `/` stripped, `..` and outward links refused, modes
tamed); `.zip` members with an absolute or `..` path, and zip symlinks, are refused; a
lone `.gz` is decompressed next to itself (as Mesos' fetcher does).

>>> archive_kind("site.tar.gz"), archive_kind("app.zip"), archive_kind("notes.txt")
('tar', 'zip', None)
"""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from actors.fetcher.config import MAX_ARCHIVE_MEMBERS, FetchError

_TAR = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_BAD_ARCHIVE = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError)


def archive_kind(name: str) -> str | None:
    """'tar', 'zip', 'gz' or None, from the file name (as Mesos decides)."""
    lower = name.lower()
    if lower.endswith(_TAR):
        return "tar"
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith(".gz"):
        return "gz"
    return None


def extract(archive: Path, into: Path, *, max_size: int) -> None:
    """Unpack `archive` into the directory `into`; raises FetchError saying what was wrong."""
    kind = archive_kind(archive.name)
    try:
        if kind == "tar":
            _tar(archive, into, max_size)
        elif kind == "zip":
            _zip(archive, into, max_size)
        elif kind == "gz":
            _gunzip(archive, into / archive.name[: -len(".gz")], max_size)
    except FetchError:
        raise
    except tarfile.FilterError as err:  # the data filter refused a member
        raise FetchError(f"unsafe archive: {err}") from None
    except _BAD_ARCHIVE as err:
        raise FetchError(f"cannot extract {archive.name}: {err}") from None


def _tar(archive: Path, into: Path, max_size: int) -> None:
    with tarfile.open(archive, "r:*") as tar:
        members = []
        total = 0
        for member in tar:  # headers first: refuse a bomb before writing anything
            members.append(member)
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise FetchError(f"{archive.name} has more than {MAX_ARCHIVE_MEMBERS} members")
            total += max(member.size, 0)
            if total > max_size:
                raise FetchError(f"{archive.name} unpacks to more than the fetcher's limit of {max_size} bytes")
        tar.extractall(into, members=members, filter="data")


def _zip(archive: Path, into: Path, max_size: int) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ARCHIVE_MEMBERS:
            raise FetchError(f"{archive.name} has more than {MAX_ARCHIVE_MEMBERS} members")
        if sum(i.file_size for i in infos) > max_size:
            raise FetchError(f"{archive.name} unpacks to more than the fetcher's limit of {max_size} bytes")
        root = into.resolve()
        for info in infos:
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or ":" in info.filename:
                raise FetchError(f"unsafe archive: member {info.filename[:200]!r} would land outside the sandbox")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise FetchError(f"unsafe archive: member {info.filename[:200]!r} is a symlink")
            target = root / name
            if not target.resolve().is_relative_to(root):  # through a directory link made earlier
                raise FetchError(f"unsafe archive: member {info.filename[:200]!r} would land outside the sandbox")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with zf.open(info) as source, os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out)  # zipfile stops at the declared size
            if mode & 0o111:
                os.chmod(target, 0o755)


def _gunzip(archive: Path, dest: Path, max_size: int) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    total = 0
    with gzip.open(archive, "rb") as source, os.fdopen(fd, "wb") as out:
        while chunk := source.read(64 * 1024):
            total += len(chunk)
            if total > max_size:
                raise FetchError(f"{archive.name} unpacks to more than the fetcher's limit of {max_size} bytes")
            out.write(chunk)
