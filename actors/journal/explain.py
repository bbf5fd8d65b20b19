"""`mesobus log explain --framework ID`: why a framework did or did not get offers.

Reads the allocator's decision records (AllocationExplained) and the framework's own
declines, suppressions and revivals, and says per agent what last kept the framework
from it, naming the filter (and the decline that made it) where there was one.
"""

from __future__ import annotations

from collections import Counter

from messages import AllocationExplained, Envelope

from actors.journal.index import JournalIndex
from actors.journal.timeline import when
from messages.addresses import framework_address


def explain(index: JournalIndex, framework_id: str) -> list[str]:
    address = framework_address(framework_id)
    mine = [m for m in index.messages if m.sender == address or m.target == address]
    if not mine:
        raise KeyError(f"framework {framework_id!r} does not appear in the journal")
    offer_agent: dict[str, str] = {}
    offers_per_agent: Counter[str] = Counter()
    for m in mine:
        if m.type == "ResourceOffers":
            for offer in m.body.offers:
                offer_agent[offer.offer_id] = offer.agent_id
                offers_per_agent[offer.agent_id] += 1

    lines = [f"framework {framework_id}"]
    registered = next((m for m in mine if m.type in ("FrameworkRegistered", "FrameworkReregistered")), None)
    if registered is not None:
        lines.append(f"  registered at {when(registered.sent_at)} ({registered.id})")
    if offers_per_agent:
        spread = ", ".join(f"{a} ({n})" for a, n in sorted(offers_per_agent.items()))
        lines.append(f"  offers received: {sum(offers_per_agent.values())} on {spread}")
    else:
        lines.append("  offers received: none")

    runs = [r.body for r in index.journal_records(AllocationExplained)]
    got = sum(1 for run in runs if any(a.startswith(f"{framework_id}@") for a in run.allocated))
    lines.append(f"  allocation runs recorded: {len(runs)}; it was allocated resources in {got}")
    if not runs:
        lines.append("  (no allocator decision records: was the journal on for the master?)")
        return lines

    latest: dict[str, tuple[AllocationExplained, str, float | None, str]] = {}
    for run in runs:
        for skip in run.skipped:
            if skip.framework_id == framework_id:
                for agent in skip.agents:
                    latest[agent] = (run, skip.reason, skip.until, skip.role)
    if not latest:
        lines.append("  it was never passed over")
        return lines
    lines.append("  passed over, per agent (the latest run that passed it over):")
    for agent, (run, reason, until, role) in sorted(latest.items()):
        detail = f"{reason}"
        if reason == "filtered":
            detail += f" until {when(until)}" if until is not None else ""
            cause = _filter_cause(mine, offer_agent, agent, run.at)
            if cause is not None:
                detail += f" — {cause}"
        elif reason == "suppressed":
            sup = _last(mine, "Suppress", run.at)
            if sup is not None:
                detail += f" since {when(sup.sent_at)} (Suppress {sup.id})"
        where = "every agent" if agent == "*" else f"agent {agent}"
        lines.append(f"    {where} (role {role}): {detail}, in run {run.run} at {when(run.at)}")
    return lines


def _last(messages: list[Envelope], kind: str, before: float) -> Envelope | None:
    found = None
    for m in messages:
        if m.type == kind and m.sent_at <= before:
            found = m
    return found


def _filter_cause(
    messages: list[Envelope], offer_agent: dict[str, str], agent: str, before: float
) -> str | None:
    """The decline (or accept leaving resources unused) that filtered this agent."""
    found = None
    for m in messages:
        if m.type in ("Decline", "Accept") and m.sent_at <= before:
            if any(offer_agent.get(o) == agent for o in m.body.offer_ids):
                found = m
    if found is None:
        return None
    offers = ",".join(o for o in found.body.offer_ids if offer_agent.get(o) == agent)
    verb = "declined" if found.type == "Decline" else "left unused by an accept of"
    return (
        f"filter from {found.type} {found.id}: {verb} offer {offers} at {when(found.sent_at)} "
        f"with refuse_seconds={found.body.filters.refuse_seconds:g}"
    )
