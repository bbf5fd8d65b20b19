"""What `mesobus run` says while it waits: each change once, then a periodic line, and
when to give up.

>>> from types import SimpleNamespace as NS
>>> from messages import Resources
>>> sched = NS(connected=True, task_id="", largest_offer=None, latest=None, latest_at=0.0, hostname="")
>>> lines = []
>>> watch = RunWatch(sched, lines.append, needed=Resources.parse("cpus:64;mem:32"),
...                  agents=lambda: [("h1", Resources.parse("cpus:2;mem:2048"))], more_agents_may_come=False)
>>> watch.tick(now=1.0)
1
>>> lines
['no agent could ever fit cpus:64;mem:32: h1 has cpus:2;mem:2048 in all']
"""

from __future__ import annotations

from typing import Any, Callable

from messages import Resources, TaskState

NO_MASTER_AFTER = 5.0  # seconds unregistered before saying so
UNFIT_AFTER = 2.0  # seconds with offers that do not fit before saying so
STUCK_AFTER = 10.0  # seconds in STAGING/STARTING before saying so
REPEAT_EVERY = 30.0  # seconds between the periodic lines of a wait that goes on
_NOT_STARTED = (TaskState.TASK_STAGING, TaskState.TASK_STARTING)


class RunWatch:
    """`tick(now)` (seconds, monotonic) from the command's thread; returns an exit code
    when the command should give up, else None. `agents()` lists the (hostname, total
    resources) of the registered agents where they are known (embedded), else None."""

    def __init__(
        self,
        sched: Any,
        say: Callable[[str], None],
        *,
        needed: Resources,
        agents: Callable[[], list[tuple[str, Resources]]] | None = None,
        more_agents_may_come: bool = True,
        timeout: float | None = None,
        start: float = 0.0,
    ) -> None:
        self.sched, self.say, self.needed = sched, say, needed
        self.agents, self.more_agents_may_come, self.timeout = agents, more_agents_may_come, timeout
        self.start = start
        self._said: dict[str, float] = {}  # what was said (a key per kind of wait) -> when
        self._was_connected = False

    def tick(self, now: float) -> int | None:
        sched = self.sched
        if getattr(sched, "final", None) is not None:
            return None  # the task ended: the scheduler is leaving, nothing to wait for
        if sched.connected:
            if "no master" in self._said:
                self.say("registered with the master")
            self._forget("no master")
            self._was_connected = True
        elif self._was_connected:
            self._once_then_every("no master", now, "lost the master; registering again",
                                  lambda waited: f"still no master after {waited:.0f}s")
        elif now - self.start >= NO_MASTER_AFTER:
            self._once_then_every(
                "no master", now, "no master has answered yet (is `mesobus master` running on this broker?); "
                "still trying", lambda waited: f"still no master after {waited + NO_MASTER_AFTER:.0f}s")
        if not sched.task_id:
            code = self._waiting_for_offer(now)
            if code is not None:
                return code
        else:
            self._stuck(now)
        if self.timeout is not None and now - self.start >= self.timeout and not self._started():
            self.say(f"gave up: the task did not start within --timeout {self.timeout:g}s")
            return 1
        return None

    def _waiting_for_offer(self, now: float) -> int | None:
        if self.sched.connected and self.agents is not None:
            known = self.agents()
            if known and not any(total.contains(self.needed) for _, total in known):
                largest = max(known, key=lambda a: (a[1].scalar("cpus"), a[1].scalar("mem")))
                why = f"no agent could ever fit {self.needed}: {largest[0]} has {largest[1]} in all"
                if not self.more_agents_may_come:
                    self.say(why)
                    return 1
                self._once_then_every("never fits", now, f"{why}; waiting for more agents",
                                      lambda waited: f"still no agent that could fit {self.needed} after {waited:.0f}s")
                return None
        offer = self.sched.largest_offer
        if offer is not None and now - self.start >= UNFIT_AFTER:
            self._once_then_every(
                "unfit", now,
                f"no offer fits {self.needed} (the largest, from {offer.hostname}, has {offer.resources});"
                " waiting for more agents or resources",
                lambda waited: f"still waiting for an offer with {self.needed} after {waited:.0f}s")
        return None

    def _stuck(self, now: float) -> None:
        latest = self.sched.latest
        if latest is not None and latest.state not in _NOT_STARTED:
            self._forget("stuck")
            return
        since = self.sched.latest_at or self.start
        if now - since < STUCK_AFTER:
            return
        state = latest.state.value.removeprefix("TASK_") if latest is not None else "STAGING"
        host = self.sched.hostname or "its agent"
        self._once_then_every("stuck", now, f"still {state} on agent {host} (last heard {now - since:.0f}s ago)",
                              lambda _: f"still {state} on agent {host} (last heard {now - since:.0f}s ago)")

    def _started(self) -> bool:
        latest = self.sched.latest
        return latest is not None and latest.state not in _NOT_STARTED

    def _once_then_every(self, key: str, now: float, first: str, later: Callable[[float], str]) -> None:
        if key not in self._said:
            self._said[key] = now
            self._said[key + " since"] = now
            self.say(first)
        elif now - self._said[key] >= REPEAT_EVERY:
            self._said[key] = now
            self.say(later(now - self._said[key + " since"]))

    def _forget(self, key: str) -> None:
        self._said.pop(key, None)
        self._said.pop(key + " since", None)
