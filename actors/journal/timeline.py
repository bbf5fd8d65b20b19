"""One readable line per message, and the filters of `mesobus log show`.

>>> from messages import Envelope, KillTask
>>> env = Envelope(id="m7", sender="framework.f1", target="master",
...                body=KillTask("f1", "t1"), sent_at=0.25)
>>> line(env)
'00:00:00.250  m7  framework.f1 -> master  KillTask  task_id=t1 framework_id=f1'
>>> Filter(task="t1").matches(env), Filter(actor="agent").matches(env)
(True, False)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from messages import JOURNAL, Envelope, to_plain
from messages.addresses import framework_address

_KEY_FIELDS = (
    "task_id", "state", "framework_id", "agent_id", "executor_id", "offer_id", "offer_ids",
    "hostname", "reason", "message", "roles", "run", "address", "kind",
)


def when(t: float) -> str:
    """Local wall-clock time with milliseconds (or time since start for small values)."""
    if t < 10**8:  # virtual clocks start near zero
        h, rest = divmod(t, 3600)
        m, s = divmod(rest, 60)
        return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def line(env: Envelope) -> str:
    return f"{when(env.sent_at)}  {env.id}  {env.sender} -> {env.target}  {env.type}  {summary(env.body)}"


def summary(body: Any) -> str:
    """The key fields of a message, compact."""
    plain = to_plain(body)
    if "offers" in plain:
        offers = plain["offers"]
        return f"{len(offers)} offer(s): " + ", ".join(
            f"{o['offer_id']}@{o['agent_id']} {o['resources']}" for o in offers[:4]
        ) + (" ..." if len(offers) > 4 else "")
    if "allocations" in plain:
        allocs = plain["allocations"]
        return f"{len(allocs)} allocation(s): " + ", ".join(
            f"{a['framework_id']}@{a['agent_id']}" for a in allocs[:4]
        ) + (" ..." if len(allocs) > 4 else "")
    fields = {}
    for holder in (plain, plain.get("status"), plain.get("task"), plain.get("framework"), plain.get("agent")):
        if isinstance(holder, dict):
            for key in _KEY_FIELDS:
                value = holder.get(key)
                if value not in (None, "", [], ()) and key not in fields:
                    fields[key] = value
    if "ids" in plain:
        fields["handled"] = len(plain["ids"])
    if plain.get("operations"):
        launched = [t["task_id"] for op in plain["operations"] for t in op.get("tasks", ())]
        fields["ops"] = ",".join(op["type"] for op in plain["operations"])
        if launched:
            fields["tasks"] = launched
    parts = []
    for key, value in fields.items():
        if isinstance(value, list):
            value = ",".join(map(str, value))
        text = str(value)
        parts.append(f"{key}={text if len(text) <= 60 else text[:57] + '...'}")
    return " ".join(parts)


def mentions(plain: Any, key: str, value: str) -> bool:
    """Whether `key` == `value` anywhere inside a message's plain form."""
    if isinstance(plain, dict):
        return any(
            (k == key and v == value) or mentions(v, key, value) for k, v in plain.items()
        )
    if isinstance(plain, list):
        return any(mentions(v, key, value) for v in plain)
    return False


def _is(address: str, actor: str) -> bool:
    return address == actor or address.startswith(actor + ".")


@dataclass
class Filter:
    actor: str | None = None
    type: str | None = None
    task: str | None = None
    framework: str | None = None
    since: float | None = None
    until: float | None = None
    include_journal: bool = False

    def matches(self, env: Envelope) -> bool:
        if env.target == JOURNAL and not self.include_journal:
            return False
        if self.since is not None and env.sent_at < self.since:
            return False
        if self.until is not None and env.sent_at > self.until:
            return False
        if self.actor and not (_is(env.sender, self.actor) or _is(env.target, self.actor)):
            return False
        if self.type and env.type != self.type:
            return False
        if self.task and not mentions(to_plain(env.body), "task_id", self.task):
            return False
        if self.framework:
            address = framework_address(self.framework)
            if not (
                env.sender == address
                or env.target == address
                or mentions(to_plain(env.body), "framework_id", self.framework)
            ):
                return False
        return True


def select(
    records: Iterable[Envelope], flt: Filter, first: int = 0, last: int | None = None
) -> Iterator[tuple[int, Envelope]]:
    """(offset, envelope) of the records that match, within an offset range."""
    for offset, env in enumerate(records):
        if offset < first:
            continue
        if last is not None and offset > last:
            return
        if flt.matches(env):
            yield offset, env
