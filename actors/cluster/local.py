"""`LocalCluster`: a master, its allocator and N agents in this process (`mesos-local`).

>>> from actors.cluster import LocalCluster
>>> with LocalCluster(agents=2) as cluster:            # doctest: +SKIP
...     handle = MyScheduler.run(cluster)
...     handle.join(timeout=60)

By default everything runs on an in-memory transport (`memory://`); executors are then
actors in this process, and each task's command is still a real child process in its own
sandbox (protocol.md, "Differs: in embedded mode"). Give `transport=` an amqp(s):// URL
to run the same cluster on a broker instead (executors are then processes).

`journal=` turns the message journal on: a path (a file), or a `JournalSetting`; on a
broker, `JournalSetting(path=None)` uses the stream `mesobus.journal`. Off by default.

`agent_attributes=` gives the agents attributes, as `mesobus agent --attributes` does:
one text for every agent (`"rack:r1;zone:a"`), or a list with one text per agent
(`["rack:r1", "rack:r2"]`); frameworks see them in each offer's `attributes`.

Sandboxes live under `work_dir` (a temporary directory, removed on `stop()`, unless one
is given): `<work_dir>/agent-<i>/frameworks/<framework>/executors/<executor>/runs/latest/`.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from actors.journal.setup import JournalHandle, JournalSetting, start_journal
from actors.runtime import Clock, MemoryTransport, Transport
from messages.addresses import MASTER

DEFAULT_AGENT_RESOURCES = "cpus:2;mem:2048;disk:4096;ports:[31000-32000]"


class LocalCluster:
    """Master + allocator + `agents` agents, started by `start()` or `with`."""

    def __init__(
        self,
        agents: int = 1,
        transport: Transport | str | None = None,
        agent_resources: str = DEFAULT_AGENT_RESOURCES,
        work_dir: str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
        master_config: Any = None,
        agent_settings: dict[str, Any] | None = None,
        hostname: str | None = None,
        ready_timeout: float = 30.0,
        journal: "JournalSetting | str | None" = None,
        agent_attributes: str | Sequence[str] = "",
    ) -> None:
        if not isinstance(agents, int) or isinstance(agents, bool) or agents < 0:
            raise ValueError(f"agents must be a whole number >= 0, not {agents!r}")
        from messages import Resources  # checked now: a bad text fails here, not in start()

        self.agent_resources = Resources.parse(agent_resources)
        self.agent_attributes = _attributes_per_agent(agent_attributes, agents)
        self.agents = agents
        self._transport_arg = transport
        self._clock = clock
        self._work_dir_arg = work_dir
        self._master_config = master_config
        self._agent_settings = dict(agent_settings or {})
        self.hostname = hostname or socket.gethostname()
        self.ready_timeout = ready_timeout
        self.transport: Transport | None = None
        self.work_dir: Path | None = None
        self.master_ref: Any = None
        self.allocator_ref: Any = None
        self.agent_refs: list[Any] = []
        self._owns_transport = False
        self._owns_work_dir = False
        self.broker_url = "memory://"
        self.master_address = MASTER  # schedulers run on this cluster talk to it
        if isinstance(journal, str):
            journal = JournalSetting(path=journal)
        self._journal_setting = journal or JournalSetting(path=None, enabled=False)
        self.journal: JournalHandle | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> "LocalCluster":
        if self.transport is not None:
            return self
        from actors.agent import AgentConfig, start_agent
        from actors.master import MasterConfig, start_master

        self.transport, self._owns_transport = self._make_transport()
        if self._work_dir_arg is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="mesobus-local-"))
            self._owns_work_dir = True
        else:
            self.work_dir = Path(self._work_dir_arg).expanduser().resolve()
            self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.journal = start_journal(self._journal_setting, self.transport)
            config = self._master_config or MasterConfig(hostname=self.hostname)
            if self.journal is not None:
                config = replace(config, explain_allocations=True)
            self.master_address = config.address
            self.master_ref, self.allocator_ref = start_master(self.transport, config)
            for i in range(1, self.agents + 1):
                settings = {
                    "attributes": self.agent_attributes[i - 1],
                    "hostname": f"{self.hostname}-{i}",
                    "broker_url": self.broker_url,
                    "master": config.address,
                }
                settings.update(self._agent_settings)
                agent_config = AgentConfig(
                    resources=self.agent_resources, work_dir=self.work_dir / f"agent-{i}", **settings
                )
                self.agent_refs.append(start_agent(self.transport, agent_config))
            self._wait_for_agents(self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_agents(self, timeout: float) -> None:
        """Return once the master has admitted every agent (so offers can come at once)."""
        deadline = time.monotonic() + timeout
        while True:
            admitted = len(self.state()["agents"])
            if admitted >= self.agents:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {admitted} of {self.agents} agents registered within {timeout}s")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the agents, then the master; close the transport and remove the temporary
        work dir (if this cluster made them)."""
        for ref in reversed(self.agent_refs):
            _stop(ref)
        self.agent_refs.clear()
        for ref in (self.master_ref, self.allocator_ref):
            _stop(ref)
        self.master_ref = self.allocator_ref = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.transport is not None and self._owns_transport:
            self.transport.close()
        self.transport = None
        if self._owns_work_dir and self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- looking inside ---------------------------------------------------------------------

    def state(self, timeout: float = 10.0) -> dict:
        """The master's view of the cluster (agents, frameworks, tasks), as the
        master's `state()` returns it."""
        if self.master_ref is None:
            raise RuntimeError("the cluster is not running: call start() first")
        return self.master_ref.proxy().state().get(timeout=timeout)

    def sandboxes(self, framework_id: str, task_id: str) -> list[Path]:
        """The sandbox directories of a command task on this cluster's agents."""
        if self.work_dir is None:
            return []
        pattern = f"agent-*/frameworks/{framework_id}/executors/*/runs/latest/tasks/{task_id}"
        return sorted(self.work_dir.glob(pattern))

    # --- helpers ----------------------------------------------------------------------------

    def _make_transport(self) -> tuple[Transport, bool]:
        arg = self._transport_arg
        if arg is None:
            return MemoryTransport(self._clock), True
        if isinstance(arg, Transport):
            return arg, False
        from actors.connect import connect_transport

        if arg.startswith("memory://"):
            return MemoryTransport(self._clock), True
        self.broker_url = arg
        return connect_transport(arg), True


def _attributes_per_agent(given: str | Sequence[str], agents: int) -> list[dict[str, str]]:
    """One attributes map per agent, from one text for all or a list of one text each;
    ValueError (the agent's ConfigError) names what is wrong."""
    from actors.agent.config import parse_attributes

    if isinstance(given, str):
        return [parse_attributes(given) for _ in range(agents)]
    texts = list(given)
    if len(texts) != agents or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"agent_attributes: give one text for every agent, or a list of {agents} texts "
                         f"(one per agent), not {given!r}")
    return [parse_attributes(text) for text in texts]


def _stop(ref: Any) -> None:
    if ref is None:
        return
    try:
        ref.stop(timeout=10)
    except Exception:  # noqa: BLE001  stopping what already died is fine
        pass
