"""The agent's configuration: resources, attributes, work dir and timing, from flags.

>>> cfg = AgentConfig.from_flags(resources="cpus:4;mem:8192;disk:1000;ports:[31000-32000]",
...                              attributes="rack:r1;zone:a", work_dir="/tmp/mesobus-doc")
>>> cfg.resources.scalar("cpus"), cfg.attributes
(4.0, {'rack': 'r1', 'zone': 'a'})
>>> parse_attributes("rack")
Traceback (most recent call last):
...
actors.agent.config.ConfigError: --attributes: 'rack' is not name:value (e.g. rack:r1;zone:a)

Resources not named in `--resources` are detected from the host, as Mesos does: cpus from
`os.cpu_count()`, mem from /proc/meminfo (total minus 1 GB kept for the system, or half
when under 2 GB), disk from the free space of the work dir (minus 5 GB, or half when under
10 GB), ports [31000-32000].
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from actors.executor.environment import LIMIT_MODES
from actors.fetcher.config import DEFAULT_CACHE_SIZE, DEFAULT_MAX_SIZE, DEFAULT_TIMEOUT, FetcherConfig
from messages import Resources
from messages.addresses import MASTER
from messages.errors import ResourceError

MB = 1024 * 1024
DEFAULT_PORTS = "[31000-32000]"
EXECUTOR_MODES = ("auto", "process", "in-process", "noop")

_ATTR_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_ATTR_VALUE = re.compile(r"^[^\s;]+$")


class ConfigError(ValueError):
    """A flag or setting that makes no sense; the text names the flag and the problem."""


@dataclass(frozen=True)
class AgentConfig:
    """Everything an agent needs to start; build it with `from_flags` from CLI flags."""

    resources: Resources
    work_dir: Path
    attributes: dict[str, str] = field(default_factory=dict)
    hostname: str = field(default_factory=socket.gethostname)
    port: int = 0
    master: str = MASTER  # the master's address
    # The broker user the master publishes as: only it may speak as `master` (RunTask,
    # KillTask, pings, epochs). "": the same user as this agent's own connection.
    master_principal: str = ""
    broker_url: str = "memory://"  # given to executor processes as MESOBUS_BROKER
    executor_mode: str = "auto"  # auto: in-process on memory://, processes otherwise
    limits: str = "auto"  # task cpus/mem enforcement: auto (cgroups v2, else rlimits), cgroups, rlimits, none
    agent_id: str = ""  # force an id (otherwise checkpointed, or a new one)
    checkpoint: bool = True  # keep agent id, tasks and updates under work_dir/meta
    # Registration retries: min doubling to max (Mesos: 1 s factor, 1 min cap).
    registration_backoff: float = 1.0
    registration_backoff_max: float = 60.0
    # Until the master says otherwise (AgentRegistered carries its values).
    ping_interval: float = 15.0
    max_missed_pings: int = 5
    # Status update retries: 10 s doubling up to 10 min, as Mesos.
    status_update_backoff: float = 10.0
    status_update_backoff_max: float = 600.0
    executor_registration_timeout: float = 60.0
    executor_reconnect_timeout: float = 5.0
    executor_shutdown_grace: float = 10.0  # longer than a task's kill grace period
    command_executor_idle: float = 5.0  # shut an idle command executor down after this
    # Executors whose agent is silent this long end their tasks and exit (0: never).
    # Mesos waits 15 min; a task whose agent is gone for good should not run on that long.
    executor_recovery_timeout: float = 120.0
    # Whether tasks may run as root (a framework or command whose user is root).
    root_tasks: bool = True
    kill_grace_period: float = 3.0  # default for tasks that do not set their own
    completed_tasks_kept: int = 1000  # for state(); terminal, acknowledged tasks
    # The fetcher (actors/fetcher): bytes per URI and per unpacked archive, seconds per
    # URI, bytes kept in the cache under work_dir/fetch-cache (0: no cache).
    fetcher_max_size: int = DEFAULT_MAX_SIZE
    fetcher_timeout: float = DEFAULT_TIMEOUT
    fetcher_cache_size: int = DEFAULT_CACHE_SIZE

    def __post_init__(self) -> None:
        if self.executor_mode not in EXECUTOR_MODES:
            raise ConfigError(
                f"--executor-mode: {self.executor_mode!r} is not one of {', '.join(EXECUTOR_MODES)}"
            )
        if self.limits not in LIMIT_MODES:
            raise ConfigError(f"--limits: {self.limits!r} is not one of {', '.join(LIMIT_MODES)}")
        for name in (
            "registration_backoff",
            "registration_backoff_max",
            "ping_interval",
            "status_update_backoff",
            "status_update_backoff_max",
            "executor_registration_timeout",
            "executor_reconnect_timeout",
            "executor_shutdown_grace",
            "command_executor_idle",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name.replace('_', '-')}: must be a positive number, not {value!r}")
        if self.max_missed_pings < 1:
            raise ConfigError(f"max-missed-pings: must be at least 1, not {self.max_missed_pings}")
        if self.kill_grace_period < 0:
            raise ConfigError(f"kill-grace-period: must not be negative, not {self.kill_grace_period}")
        try:
            self.fetcher
        except ValueError as err:
            raise ConfigError(f"--fetcher-*: {err}") from None
        timeout = self.executor_recovery_timeout
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 <= timeout < float("inf"):
            raise ConfigError(f"executor-recovery-timeout: must be a non-negative number, not {timeout!r}")

    @classmethod
    def from_flags(
        cls,
        *,
        resources: str = "",
        attributes: str = "",
        work_dir: str | os.PathLike = "",
        **settings: object,
    ) -> "AgentConfig":
        """Parse `--resources`, `--attributes` and `--work-dir`; detect what is missing."""
        if not str(work_dir):
            raise ConfigError("--work-dir: required (where sandboxes and checkpoints live)")
        path = Path(work_dir).expanduser().resolve()
        return cls(
            resources=parse_resources(resources, path),
            attributes=parse_attributes(attributes),
            work_dir=path,
            **settings,  # type: ignore[arg-type]
        )

    @property
    def meta_dir(self) -> Path:
        return self.work_dir / "meta"

    @property
    def fetcher(self) -> FetcherConfig:
        return FetcherConfig(
            max_size=self.fetcher_max_size,
            timeout=self.fetcher_timeout,
            cache_dir=self.work_dir / "fetch-cache",
            cache_size=self.fetcher_cache_size,
        )

    def to_plain(self) -> dict[str, Any]:
        """Plain data (the journal keeps it to rebuild the agent for replay).

        >>> cfg = AgentConfig(Resources.parse("cpus:2"), Path("/w"), hostname="h")
        >>> AgentConfig.from_plain(cfg.to_plain()) == cfg
        True
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (Resources, Path)):
                value = str(value)
            elif isinstance(value, dict):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> "AgentConfig":
        """The inverse of `to_plain`; unknown names are ignored (an older reader)."""
        known = {f.name for f in fields(cls)}
        settings = {k: v for k, v in data.items() if k in known}
        try:
            settings["resources"] = Resources.parse(str(settings.get("resources", "")))
        except ResourceError as err:
            raise ConfigError(f"resources: {err}") from None
        settings["work_dir"] = Path(str(settings.get("work_dir", "")))
        try:
            return cls(**settings)
        except TypeError as err:
            raise ConfigError(f"agent config: {err}") from None


def parse_resources(text: str, work_dir: Path | None = None) -> Resources:
    """`--resources` text, with cpus, mem, disk and ports detected where not given.

    >>> str(parse_resources("cpus:2;mem:1024;disk:10;ports:[1-2]"))
    'cpus:2;mem:1024;disk:10;ports:[1-2]'
    """
    given = Resources()
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        try:
            item = Resources.parse(part)
        except ResourceError as err:
            raise ConfigError(f"--resources: {err}") from None
        if item.is_empty():  # a zero amount or an empty range/set would silently vanish
            name = part.split(":")[0].split("(")[0].strip()
            raise ConfigError(f"--resources: {name} is zero or empty (leave it out to have it detected)")
        try:
            given = given + item
        except ResourceError as err:
            raise ConfigError(f"--resources: {err}") from None
    missing = {"cpus", "mem", "disk", "ports"} - given.names()
    return given + detect_resources(missing, work_dir)


def detect_resources(names: set[str], work_dir: Path | None = None) -> Resources:
    """What this host has of `names` (a subset of cpus, mem, disk, ports)."""
    detected = Resources()
    if "cpus" in names:
        detected = detected + Resources.scalars(cpus=os.cpu_count() or 1)
    if "mem" in names:
        detected = detected + Resources.scalars(mem=_usable(_total_memory_mb(), 2048, 1024))
    if "disk" in names:
        detected = detected + Resources.scalars(disk=_usable(_free_disk_mb(work_dir), 10240, 5120))
    if "ports" in names:
        detected = detected + Resources.parse(f"ports:{DEFAULT_PORTS}")
    return detected


def parse_attributes(text: str) -> dict[str, str]:
    """`--attributes "rack:r1;zone:a"` -> {"rack": "r1", "zone": "a"}; clear errors otherwise."""
    out: dict[str, str] = {}
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition(":")
        name, value = name.strip(), value.strip()
        if not sep:
            raise ConfigError(f"--attributes: {part!r} is not name:value (e.g. rack:r1;zone:a)")
        if not _ATTR_NAME.match(name):
            raise ConfigError(
                f"--attributes: bad name {name!r} (letters, digits, '_', '.', '-'; not starting with a digit)"
            )
        if not value or not _ATTR_VALUE.match(value):
            raise ConfigError(f"--attributes: bad value {value!r} for {name} (non-empty, no spaces)")
        if name in out:
            raise ConfigError(f"--attributes: {name} given twice")
        out[name] = value
    return out


def _usable(total_mb: float, small: float, keep: float) -> float:
    """Leave `keep` MB for the system, or half when the total is under `small` MB."""
    usable = total_mb - keep if total_mb >= small else total_mb / 2
    return max(int(usable), 1)


def _total_memory_mb() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / MB
    except (OSError, ValueError):
        return 1024.0


def _free_disk_mb(work_dir: Path | None) -> float:
    path = Path(work_dir or ".")
    while not path.exists() and path != path.parent:
        path = path.parent  # the work dir may not exist yet
    return shutil.disk_usage(path).free / MB
