"""Put a task's URIs into its sandbox, one after the other (Mesos' fetcher; `python -m
actors.fetcher` runs this in a child process of the executor, as the executor's user).

Everything is fetched and unpacked first into a staging directory beside the sandbox,
private to the fetcher, so the task's user (who owns the sandbox) cannot slip a link in
while the fetcher works; then it is handed to that user (`owner`) and moved into the
sandbox. Local files are read as the owner.

>>> import tempfile, pathlib
>>> from messages import CommandURI
>>> src, box = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
>>> _ = (src / "run.sh").write_text("echo hi")
>>> fetch_uris([CommandURI(f"file://{src}/run.sh", executable=True)], box, FetcherConfig())
>>> oct((box / "run.sh").stat().st_mode & 0o777)
'0o755'
>>> fetch_uris([CommandURI("/nowhere/x.tgz")], box, FetcherConfig())
Traceback (most recent call last):
...
actors.fetcher.config.FetchError: cannot fetch '/nowhere/x.tgz': cannot open /nowhere/x.tgz: No such file or directory
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

from actors.fetcher.cache import FetcherCache
from actors.fetcher.config import FetchError, FetcherConfig, Owner
from actors.fetcher.download import download, uri_path
from actors.fetcher.extract import archive_kind, extract
from messages import CommandURI

Say = Callable[[str], None]


def fetch_uris(
    uris: Iterable[CommandURI],
    sandbox: Path,
    config: FetcherConfig,
    say: Say = lambda _: None,
    owner: Owner | None = None,
) -> None:
    """Fetch each URI into `sandbox`; the first failure raises FetchError naming its URI
    (and nothing is moved into the sandbox)."""
    staging = sandbox.parent / f".fetch-{sandbox.name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    try:
        for uri in uris:
            try:
                fetch_uri(uri, staging, config, say, owner)
            except FetchError as err:
                raise FetchError(f"cannot fetch {uri.value[:300]!r}: {err}") from None
        _hand_over(staging, sandbox, owner)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _hand_over(staging: Path, sandbox: Path, owner: Owner | None) -> None:
    for entry in list(staging.iterdir()):
        if owner is not None:
            _chown_tree(entry, owner)
        target = sandbox / entry.name
        if target.is_dir() and not target.is_symlink():
            raise FetchError(f"cannot put {entry.name} into the sandbox: a directory of that name is there")
        try:
            os.replace(entry, target)
        except OSError as err:
            raise FetchError(f"cannot put {entry.name} into the sandbox: {err.strerror}") from None


def _chown_tree(path: Path, owner: Owner) -> None:
    os.chown(path, owner.uid, owner.gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), owner.uid, owner.gid, follow_symlinks=False)


def fetch_uri(
    uri: CommandURI,
    sandbox: Path,
    config: FetcherConfig,
    say: Say = lambda _: None,
    owner: Owner | None = None,
) -> Path:
    """Fetch one URI (see CommandURI) into the directory `sandbox`; the path it was written
    to. Local files are read as `owner` when given."""
    problem = uri.problem()
    if problem:
        raise FetchError(problem)
    dest = destination(sandbox, uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink()  # Mesos overwrites; never write through a link
    cache = _cache(config, owner) if uri.cache else None
    cached = cache.lookup(uri.value) if cache is not None else None
    copied = False
    if cached is not None:
        say(f"fetching {uri.value} from the cache into {dest.name}")
        try:
            shutil.copyfile(cached, dest, follow_symlinks=False)
            copied = True
        except OSError:  # evicted by another fetcher meanwhile
            say("the cached copy is gone; downloading it")
    if not copied:
        say(f"fetching {uri.value} into {dest.name}")
        partial = dest.with_name(f".{dest.name}.fetching")
        if partial.is_symlink() or partial.exists():
            partial.unlink()
        try:
            size = download(uri.value, partial, max_size=config.max_size, timeout=config.timeout, owner=owner)
            kept = cache.keep(uri.value, partial) if cache is not None else None
            if kept is not None:
                shutil.copyfile(kept, dest, follow_symlinks=False)
            else:
                os.replace(partial, dest)
        except OSError as err:
            raise FetchError(f"cannot write {dest.name}: {err.strerror or err}") from None
        finally:
            if partial.exists():
                partial.unlink()
        say(f"fetched {size} bytes")
    if uri.executable:
        os.chmod(dest, 0o755)
    elif uri.extract and archive_kind(dest.name):
        say(f"extracting {dest.name}")
        extract(dest, sandbox, max_size=config.max_size)
    return dest


def destination(sandbox: Path, uri: CommandURI) -> Path:
    """Where the URI goes: `output_file`, else the URI's last path segment, in the sandbox
    (and nowhere else: no `..`, no absolute path, no way out through a link)."""
    name = uri.output_file or PurePosixPath(uri_path(uri.value)).name
    relative = PurePosixPath(name)
    if not name or name in (".", "..") or relative.is_absolute() or ".." in relative.parts:
        raise FetchError(f"no file name to fetch it to (give output_file): {name[:200]!r}")
    root = sandbox.resolve()
    dest = root / relative
    if not dest.parent.resolve().is_relative_to(root):
        raise FetchError(f"{name[:200]!r} is outside the sandbox")
    return dest


def _cache(config: FetcherConfig, owner: Owner | None) -> FetcherCache | None:
    """One cache per task user: what one user could read is never served to another."""
    if not config.caches:
        return None
    assert config.cache_dir is not None
    user = owner.name if owner is not None else pwd.getpwuid(os.geteuid()).pw_name
    return FetcherCache(config.cache_dir / user, config.cache_size)
