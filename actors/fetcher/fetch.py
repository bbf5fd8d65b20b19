"""Put a task's URIs into its sandbox, one after the other (Mesos' fetcher, in-process:
`python -m actors.fetcher` runs this as the task's user).

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
from actors.fetcher.config import FetchError, FetcherConfig
from actors.fetcher.download import download, uri_path
from actors.fetcher.extract import archive_kind, extract
from messages import CommandURI

Say = Callable[[str], None]


def fetch_uris(uris: Iterable[CommandURI], sandbox: Path, config: FetcherConfig, say: Say = lambda _: None) -> None:
    """Fetch each URI into `sandbox`; the first failure raises FetchError naming its URI."""
    for uri in uris:
        try:
            fetch_uri(uri, sandbox, config, say)
        except FetchError as err:
            raise FetchError(f"cannot fetch {uri.value[:300]!r}: {err}") from None


def fetch_uri(uri: CommandURI, sandbox: Path, config: FetcherConfig, say: Say = lambda _: None) -> Path:
    """Fetch one URI (see CommandURI); the path it was written to."""
    problem = uri.problem()
    if problem:
        raise FetchError(problem)
    dest = destination(sandbox, uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink()  # Mesos overwrites; never write through a link
    cache = _cache(config) if uri.cache else None
    cached = cache.lookup(uri.value) if cache is not None else None
    if cached is not None:
        say(f"fetching {uri.value} from the cache into {dest.name}")
        try:
            shutil.copyfile(cached, dest, follow_symlinks=False)
        except OSError as err:
            raise FetchError(f"cannot copy it from the fetcher cache: {err}") from None
    else:
        say(f"fetching {uri.value} into {dest.name}")
        partial = dest.with_name(f".{dest.name}.fetching")
        if partial.is_symlink() or partial.exists():
            partial.unlink()
        try:
            size = download(uri.value, partial, max_size=config.max_size, timeout=config.timeout)
            kept = cache.keep(uri.value, partial) if cache is not None else None
            if kept is not None:
                shutil.copyfile(kept, dest, follow_symlinks=False)
            else:
                os.replace(partial, dest)
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


def _cache(config: FetcherConfig) -> FetcherCache | None:
    if not config.caches:
        return None
    assert config.cache_dir is not None
    user = pwd.getpwuid(os.geteuid()).pw_name  # the fetcher runs as the task's user
    return FetcherCache(config.cache_dir / user, config.cache_size)
