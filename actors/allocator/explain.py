"""Why the allocator skipped a (framework, agent) pair: the optional decision record.

>>> e = Explanation(now=3.0)
>>> e.skip("filtered", "web", framework_id="f1", agent_id="s1", until=5.0)
>>> e.skip("suppressed", "web", framework_id="f2")          # every agent
>>> e.skip("quota", "db", agent_id="s1")                    # every framework of db
>>> [s.reason for s in e.why("f1", "s1")]                  # any role
['filtered', 'quota']
>>> [s.reason for s in e.why("f1", "s1", role="web")], [s.reason for s in e.why("f2", "s9")]
(['filtered'], ['suppressed'])
>>> e.counts()
{'filtered': 1, 'suppressed': 1, 'quota': 1}

Records are compact: `framework_id=None` means every framework of the role, `agent_id=None`
means every agent. Building one costs a run extra work, so it happens only on request:
`allocator.allocate(now, explain=True)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from actors.allocator.state import FrameworkState

FILTERED = "filtered"
SUPPRESSED = "suppressed"
QUOTA = "quota"
NOTHING_ALLOCATABLE = "nothing allocatable"
INACTIVE = "inactive"
REASONS = (FILTERED, SUPPRESSED, QUOTA, NOTHING_ALLOCATABLE, INACTIVE)


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str
    role: str | None
    framework_id: str | None = None  # None: every framework (of the role)
    agent_id: str | None = None  # None: every agent
    until: float | None = None  # when the filter expires, for "filtered"

    def matches(self, framework_id: str, agent_id: str, role: str | None = None) -> bool:
        return (
            (self.framework_id is None or self.framework_id == framework_id)
            and (self.agent_id is None or self.agent_id == agent_id)
            and (role is None or self.role is None or self.role == role)
        )


@dataclass
class Explanation:
    """The skips of one allocation run at time `now`."""

    now: float
    skips: list[Skip] = field(default_factory=list)

    def skip(
        self,
        reason: str,
        role: str | None,
        framework_id: str | None = None,
        agent_id: str | None = None,
        until: float | None = None,
    ) -> None:
        self.skips.append(Skip(reason, role, framework_id, agent_id, until))

    def why(self, framework_id: str, agent_id: str, role: str | None = None) -> list[Skip]:
        """Every skip that applied to this framework on this agent (for `role`, or any)."""
        return [s for s in self.skips if s.matches(framework_id, agent_id, role)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.skips:
            out[s.reason] = out.get(s.reason, 0) + 1
        return out


def start_explanation(now: float, frameworks: Iterable["FrameworkState"]) -> Explanation:
    """A new record holding the skips that apply on every agent: inactive, suppressed."""
    explanation = Explanation(now)
    for fw in frameworks:
        for role in fw.roles:
            if role not in fw.subscribed:
                continue
            if not fw.active:
                explanation.skip(INACTIVE, role, framework_id=fw.id)
            elif role in fw.suppressed:
                explanation.skip(SUPPRESSED, role, framework_id=fw.id)
    return explanation
