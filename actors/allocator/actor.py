"""The allocator actor at "allocator": the master's messages in, `ResourcesAllocated` out.

>>> from actors.runtime import MemoryTransport, VirtualClock
>>> transport = MemoryTransport(VirtualClock())
>>> ref = AllocatorActor.start("allocator", transport, allocation_interval=1.0)
>>> ref.proxy().metrics().get()["allocator/mesos/allocation_runs"]
0.0
>>> _ = ref.stop()

It wraps the pure `Allocator` (core.py) and decides *when* to run it: every
`allocation_interval` (a repeating `AllocationTick`), and soon after an event that can
change the outcome (agent added/updated, framework added/activated/removed, revive,
resources recovered). Such events set a flag and send one `AllocationTick` to its own
mailbox, so everything already queued is handled first and a burst of events costs one
run (pending runs coalesce). Every run reschedules the periodic tick, so runs are never
closer than the queue allows nor further apart than the interval.

Inputs are checked against what the allocator knows: an event for an unknown agent or
framework is ignored and counted (`allocator/mesos/ignored_messages`), never a crash.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from typing import Iterable

from actors.allocator.allocation import Allocation
from actors.allocator.core import Allocator
from actors.runtime import Actor, ActorContext, Transport, on
from actors.security import SenderChecks, own_principal
from actors.security.senders import claims
from messages import (
    AllocationExplained,
    AgentAdded,
    AgentRemoved,
    AgentUpdated,
    AllocationEntry,
    AllocationTick,
    AllocationUpdated,
    FrameworkActivated,
    FrameworkAdded,
    FrameworkDeactivated,
    FrameworkRemoved,
    OffersRevived,
    OffersSuppressed,
    QuotaUpdated,
    Resources,
    ResourcesAllocated,
    ResourcesRecovered,
    Skip,
    WeightsUpdated,
)
from messages.addresses import ALLOCATOR, MASTER

log = logging.getLogger(__name__)

Held = dict[str, dict[str, Resources]]


class AllocatorActor(SenderChecks, Actor):
    """Runs batch allocations and sends their results to the master."""

    journal_kind = "allocator"

    def __init__(
        self,
        address: str,
        transport: Transport,
        context: ActorContext | None = None,
        *,
        master: str = MASTER,
        allocation_interval: float = 1.0,
        seed: int | None = 0,
        batch_delay: float = 0.0,
        explain: bool = False,
        core: Allocator | None = None,
        epoch: int = 0,
    ) -> None:
        super().__init__(address, transport, context)
        # The leader's: only it consumes this mailbox; a deposed master's messages (an
        # older epoch) are ignored, and the master ignores results of another epoch.
        self.exclusive_mailbox = True
        self.epoch = epoch
        self.leader_address, self.leader_epoch = master, epoch
        if not (math.isfinite(allocation_interval) and allocation_interval > 0):
            raise ValueError(f"allocation_interval must be a positive number, not {allocation_interval!r}")
        if not (math.isfinite(batch_delay) and batch_delay >= 0):
            raise ValueError(f"batch_delay must be >= 0, not {batch_delay!r}")
        self.master = master
        self.allocation_interval = float(allocation_interval)
        self.batch_delay = batch_delay  # 0: run as soon as the queued messages are handled
        self.explain = explain  # journal an AllocationExplained per run (costs extra work)
        if seed is None:
            seed = self.context.seed or 0
        self.seed = seed
        self.core = core or Allocator(allocation_interval=allocation_interval, seed=seed)
        self.stats: Counter[str] = Counter()
        self._run_ms_total = 0.0
        self._run_ms_last = 0.0
        self._run_ms_max = 0.0
        self._kick_pending = False
        self._periodic = ""

    def on_start(self) -> None:
        super().on_start()
        self._periodic = self.delay(self.allocation_interval, AllocationTick())

    def sender_problem(self, envelope, user: str) -> str | None:
        """The allocator hears only the master (and its own timer): both publish as the
        master's principal, which is this process' own."""
        return claims(envelope, envelope.sender[:80], own_principal(self.transport), user)

    # --- the journal (design.md §6): rebuilt for replay from its ActorStarted record -----

    def journal_config(self) -> dict:
        return {
            "address": self.address,
            "master": self.master,
            "allocation_interval": self.allocation_interval,
            "seed": self.seed,
            "batch_delay": self.batch_delay,
            "explain": self.explain,
            "epoch": self.epoch,
        }

    @classmethod
    def from_journal(cls, config: dict, transport: Transport, context: ActorContext) -> "AllocatorActor":
        options = dict(config)
        address = options.pop("address", ALLOCATOR)
        return cls(address, transport, context, **options)

    # --- the run ----------------------------------------------------------------------

    @on(AllocationTick)
    def _tick(self, msg: AllocationTick) -> None:
        self._kick_pending = False
        if self._periodic:
            self.cancel(self._periodic)
        self._periodic = self.delay(self.allocation_interval, AllocationTick())
        self.run()

    def run(self) -> list[AllocationEntry]:
        """One allocation run now; sends the result to the master (unless empty)."""
        started = time.perf_counter()  # metrics only: never part of a decision
        allocations = self.core.allocate(now=self.now(), explain=self.explain)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self.stats["runs"] += 1
        # The explanation stays for the operator API; its journal record only with a journal.
        if self.explain and self.transport.journaling and self.core.last_explanation is not None:
            self.record(explained(self.stats["runs"], self.now(), allocations, self.core))
        self._run_ms_last = elapsed_ms
        self._run_ms_total += elapsed_ms
        self._run_ms_max = max(self._run_ms_max, elapsed_ms)
        entries = tuple(AllocationEntry(a.framework_id, a.agent_id, a.role, a.resources) for a in allocations)
        if entries:
            self.stats["allocations"] += len(entries)
            self.send(self.master, ResourcesAllocated(entries, run=self.stats["runs"]))
        return list(entries)

    def _kick(self) -> None:
        """Ask for a run soon; any number of kicks before it happens make one run."""
        if self._kick_pending:
            return
        self._kick_pending = True
        if self.batch_delay > 0:
            self.delay(self.batch_delay, AllocationTick())
        else:
            self.send(self.address, AllocationTick())

    # --- agents -----------------------------------------------------------------------

    @on(AgentAdded)
    def _agent_added(self, msg: AgentAdded) -> None:
        if self._has_agent(msg.agent_id):
            log.warning("allocator: agent %s added twice; replacing it", msg.agent_id)
            self.core.remove_agent(msg.agent_id)
        held: Held = {}
        for entry in self._entries(msg.used, agent_id=msg.agent_id):
            by_role = held.setdefault(entry.framework_id, {})
            by_role[entry.role] = by_role.get(entry.role, Resources()) + entry.resources
        self.core.add_agent(msg.agent_id, msg.total, msg.hostname, msg.attributes, held)
        self._kick()

    @on(AgentUpdated)
    def _agent_updated(self, msg: AgentUpdated) -> None:
        if self._known_agent(msg.agent_id):
            # The rescinded offers come back in the same step as the new total, so no
            # run can offer the old shape of the agent in between.
            for entry in self._entries(msg.recovered, agent_id=msg.agent_id):
                self.core.recover(entry.framework_id, entry.agent_id, entry.role, entry.resources)
            self.core.update_agent(msg.agent_id, msg.total)
            self._kick()

    @on(AgentRemoved)
    def _agent_removed(self, msg: AgentRemoved) -> None:
        if self._known_agent(msg.agent_id):
            self.core.remove_agent(msg.agent_id)

    # --- frameworks -------------------------------------------------------------------

    @on(FrameworkAdded)
    def _framework_added(self, msg: FrameworkAdded) -> None:
        if self._has_framework(msg.framework_id):
            # Added twice (a retried message): take the newest activity state.
            (self.core.activate_framework if msg.active else self.core.deactivate_framework)(msg.framework_id)
        else:
            held: Held = {}
            for entry in self._entries(msg.used, framework_id=msg.framework_id):
                if self._known_agent(entry.agent_id):
                    by_role = held.setdefault(entry.agent_id, {})
                    by_role[entry.role] = by_role.get(entry.role, Resources()) + entry.resources
            self.core.add_framework(msg.framework_id, msg.roles, active=msg.active, allocated=held)
        if msg.active:
            self._kick()

    @on(FrameworkRemoved)
    def _framework_removed(self, msg: FrameworkRemoved) -> None:
        if self._known_framework(msg.framework_id):
            self.core.remove_framework(msg.framework_id)
            self._kick()

    @on(FrameworkActivated)
    def _framework_activated(self, msg: FrameworkActivated) -> None:
        if self._known_framework(msg.framework_id):
            self.core.activate_framework(msg.framework_id)
            self._kick()

    @on(FrameworkDeactivated)
    def _framework_deactivated(self, msg: FrameworkDeactivated) -> None:
        if self._known_framework(msg.framework_id):
            self.core.deactivate_framework(msg.framework_id)

    @on(OffersSuppressed)
    def _suppressed(self, msg: OffersSuppressed) -> None:
        if self._known_framework(msg.framework_id):
            self.core.suppress(msg.framework_id, msg.roles or None)

    @on(OffersRevived)
    def _revived(self, msg: OffersRevived) -> None:
        if self._known_framework(msg.framework_id):
            self.core.revive(msg.framework_id, msg.roles or None)
            self._kick()

    # --- resources --------------------------------------------------------------------

    @on(ResourcesRecovered)
    def _recovered(self, msg: ResourcesRecovered) -> None:
        refuse = msg.refuse_seconds
        if refuse is not None and not (math.isfinite(refuse) and refuse >= 0):
            log.warning("allocator: bad refuse_seconds %r from %s; using none", refuse, msg.framework_id)
            refuse = None
        self.core.recover(msg.framework_id, msg.agent_id, msg.role, msg.resources, refuse, now=self.now())
        self._kick()

    @on(AllocationUpdated)
    def _allocation_updated(self, msg: AllocationUpdated) -> None:
        held = None
        if self._has_framework(msg.framework_id, registered=False):
            held = self.core.allocation(msg.framework_id).get(msg.agent_id, {}).get(msg.role)
        if held is None or not msg.old <= held or msg.old.flatten() != msg.new.flatten():
            self._ignore(f"AllocationUpdated {msg.old} -> {msg.new} for {msg.framework_id} on {msg.agent_id}")
            return
        self.core.update_allocation(msg.framework_id, msg.agent_id, msg.role, msg.old, msg.new)

    @on(WeightsUpdated)
    def _weights(self, msg: WeightsUpdated) -> None:
        bad = {r: w for r, w in msg.weights.items() if not (math.isfinite(w) and w > 0)}
        if bad:
            self._ignore(f"weights must be positive numbers: {bad}")
            return
        self.core.update_weights(msg.weights)

    @on(QuotaUpdated)
    def _quota(self, msg: QuotaUpdated) -> None:
        self.core.update_quota(msg.role, msg.limit if not msg.limit.is_empty() else None)

    # --- views ------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        """Mesos-named allocator metrics (read through `ref.proxy().metrics().get()`)."""
        runs = self.stats["runs"]
        out = {
            "allocator/mesos/allocation_runs": float(runs),
            "allocator/mesos/allocation_run_ms": self._run_ms_last,
            "allocator/mesos/allocation_run_ms/mean": self._run_ms_total / runs if runs else 0.0,
            "allocator/mesos/allocation_run_ms/max": self._run_ms_max,
            "allocator/mesos/allocations": float(self.stats["allocations"]),
            "allocator/mesos/ignored_messages": float(self.stats["ignored"]),
        }
        for role, count in sorted(self.core.filters_per_role(self.now()).items()):
            out[f"allocator/mesos/offer_filters/roles/{role}/active"] = float(count)
        for role, share in sorted(self.core.shares()["roles"].items()):
            out[f"allocator/mesos/roles/{role}/shares/dominant"] = float(share)
        return out

    def shares(self) -> dict[str, dict[str, float]]:
        return self.core.shares()

    # --- helpers ----------------------------------------------------------------------

    def _has_agent(self, agent_id: str) -> bool:
        return self.core.has_agent(agent_id)

    def _has_framework(self, framework_id: str, registered: bool = True) -> bool:
        return self.core.has_framework(framework_id, include_unregistered=not registered)

    def _known_agent(self, agent_id: str) -> bool:
        if self._has_agent(agent_id):
            return True
        self._ignore(f"unknown agent {agent_id!r}")
        return False

    def _known_framework(self, framework_id: str) -> bool:
        if self._has_framework(framework_id):
            return True
        self._ignore(f"unknown framework {framework_id!r}")
        return False

    def _ignore(self, why: str) -> None:
        kind = self.envelope.type if self.envelope is not None else "?"
        log.info("allocator: ignoring %s: %s", kind, why)
        self.stats["ignored"] += 1

    def _entries(
        self, entries: Iterable[AllocationEntry], *, agent_id: str = "", framework_id: str = ""
    ) -> list[AllocationEntry]:
        """The entries that are about this agent/framework (others are ignored)."""
        good = []
        for entry in entries:
            if (agent_id and entry.agent_id != agent_id) or (framework_id and entry.framework_id != framework_id):
                self._ignore(f"an allocation entry for {entry.framework_id} on {entry.agent_id}")
            elif not entry.resources.is_empty():
                good.append(entry)
        return good


def explained(run: int, now: float, allocations: list[Allocation], core: Allocator) -> AllocationExplained:
    """The journal record of one run's decisions (`mesobus log explain` reads it): the
    core's skips, grouped by (framework, role, reason, filter expiry) with their agents.
    A skip of every framework (of a role) is listed per framework; "*" stands for every
    agent."""
    framework_roles: dict[str, tuple[str, ...]] | None = None  # asked for once, if needed
    groups: dict[tuple[str, str, str, float | None], dict[str, None]] = {}
    for skip in core.last_explanation.skips:
        if skip.framework_id is not None:
            pairs = [(skip.framework_id, skip.role or "*")]
        else:
            if framework_roles is None:
                framework_roles = core.framework_roles()
            pairs = [
                (framework_id, role)
                for framework_id, roles in framework_roles.items()
                for role in roles
                if skip.role is None or role == skip.role
            ]
        for framework_id, role in pairs:
            key = (framework_id, role, skip.reason, skip.until)
            groups.setdefault(key, {})[skip.agent_id or "*"] = None
    return AllocationExplained(
        run=run,
        at=now,
        allocated=tuple(f"{a.framework_id}@{a.agent_id}/{a.role}" for a in allocations),
        skipped=tuple(Skip(f, r, reason, tuple(agents), until) for (f, r, reason, until), agents in groups.items()),
    )
