"""What `mesobus agent` tells its operator while it runs: each change of its registration
once, then a periodic summary.

>>> lines = []
>>> watch = AgentStatusLines(lines.append, master="master", summary_every=60.0)
>>> watch.update({"registered": False, "recovering": False, "id": "a1", "tasks": [], "executors": []}, now=0.0)
>>> watch.update({"registered": True, "recovering": False, "id": "a1", "tasks": [], "executors": []}, now=1.0)
>>> watch.update({"registered": True, "recovering": False, "id": "a1", "tasks": [], "executors": []}, now=2.0)
>>> lines
['registered as a1 with master']
"""

from __future__ import annotations

from typing import Any, Callable

SUMMARY_EVERY = 300.0  # seconds between summaries while nothing changes
UNREGISTERED_HINT_AFTER = 10.0  # seconds without registration before saying so


class AgentStatusLines:
    """Turns snapshots of the agent's state (`Agent.state()`) into lines worth printing."""

    def __init__(self, say: Callable[[str], None], master: str, summary_every: float = SUMMARY_EVERY) -> None:
        self.say = say
        self.master = master
        self.summary_every = summary_every
        self._registered: bool | None = None
        self._since = 0.0
        self._last_summary = 0.0
        self._hinted = False

    def update(self, state: dict[str, Any], now: float) -> None:
        registered = bool(state.get("registered"))
        if self._registered is None:
            self._registered, self._since, self._last_summary = registered, now, now
            if registered:
                self.say(f"registered as {state['id']} with {self.master}")
            return
        if registered != self._registered:
            self._registered, self._since, self._hinted = registered, now, False
            self._last_summary = now
            if registered:
                self.say(f"registered as {state['id']} with {self.master}")
            else:
                self.say(f"lost the master ({self.master}): registering again")
            return
        if not registered and not self._hinted and now - self._since >= UNREGISTERED_HINT_AFTER:
            self._hinted = True
            self._last_summary = now
            self.say(f"not registered yet after {now - self._since:.0f}s: is a master running on this broker?")
            return
        if now - self._last_summary >= self.summary_every:
            self._last_summary = now
            self.say(self.summary(state, now))

    def summary(self, state: dict[str, Any], now: float) -> str:
        how = "registered" if self._registered else "not registered"
        return (
            f"{how} for {now - self._since:.0f}s; {len(state.get('tasks', []))} task(s) in"
            f" {len(state.get('executors', []))} executor(s); using {state.get('used_resources') or 'nothing'}"
            f" of {state.get('resources', '?')}"
        )
