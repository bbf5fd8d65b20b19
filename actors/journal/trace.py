"""`mesobus log trace ID`: the causal chain of a message or a task, as a tree.

For a task the chain runs from its agent's registration through the allocation, the
offer, the accept and the launch to its last status update.
"""

from __future__ import annotations

from messages import Envelope, to_plain

from actors.journal.index import JournalIndex
from actors.journal.timeline import mentions, summary, when
from messages.addresses import MASTER, agent_address


def trace(index: JournalIndex, ident: str, max_children: int = 50) -> list[str]:
    """Lines of a tree for a message id or a task id; raises KeyError if neither."""
    if ident in index.by_id:
        return _message_tree(index, index.by_id[ident], max_children)
    return _task_tree(index, ident)


def _node(env: Envelope, depth: int, note: str = "") -> str:
    pad = "   " * (depth - 1) + ("└─ " if depth else "")
    extra = f"  [{note}]" if note else ""
    return (
        f"{pad}{env.type}  {env.sender} -> {env.target}  {summary(env.body)}"
        f"  ({env.id} at {when(env.sent_at)}){extra}"
    )


def _collapse(chain: list[Envelope]) -> list[tuple[Envelope, int]]:
    """Runs of the same self-sent timer (allocation ticks...) shown once, with a count."""
    out: list[tuple[Envelope, int]] = []
    for env in chain:
        if out and env.sender == env.target and out[-1][0].type == env.type and out[-1][0].sender == env.sender:
            out[-1] = (env, out[-1][1] + 1)
        else:
            out.append((env, 1))
    return out


def _chain_lines(chain: list[Envelope], start_depth: int = 0) -> list[str]:
    lines = []
    for depth, (env, count) in enumerate(_collapse(chain), start=start_depth):
        lines.append(_node(env, depth, f"x{count}" if count > 1 else ""))
    return lines


def _message_tree(index: JournalIndex, env: Envelope, max_children: int) -> list[str]:
    chain = index.ancestors(env.id) + [env]
    lines = _chain_lines(chain)
    depth = len(_collapse(chain))

    def descend(msg_id: str, level: int) -> None:
        kids = index.children.get(msg_id, [])
        for kid in kids[:max_children]:
            lines.append(_node(index.by_id[kid], level))
            if level < depth + 6:
                descend(kid, level + 1)
        if len(kids) > max_children:
            lines.append("   " * level + f"... {len(kids) - max_children} more")

    descend(env.id, depth)
    return lines


def _task_tree(index: JournalIndex, task_id: str) -> list[str]:
    about = [m for m in index.messages if mentions(to_plain(m.body), "task_id", task_id)]
    if not about:
        raise KeyError(f"no message or task with id {task_id!r} in the journal")
    launch = next((m for m in about if m.type == "RunTask" and m.sender == MASTER), about[0])
    chain = index.ancestors(launch.id) + [launch]
    # The allocation run is where a task's own story starts; what triggered that run (an
    # earlier task ending, a tick) is named, not walked back through every earlier task.
    runs = [i for i, m in enumerate(chain) if m.type == "ResourcesAllocated"]
    trigger = None
    if runs:
        trigger = index.by_id.get(chain[runs[-1]].causation_id)
        chain = chain[runs[-1]:]
    agent = agent_address(_agent_of(launch))
    registration = next(
        (m for m in index.messages if m.sender == agent and m.type in ("RegisterAgent", "ReregisterAgent")),
        None,
    )
    lines = [f"task {task_id}"]
    if registration is not None and registration not in chain:
        lines.append("agent registration:")
        welcome = [index.by_id[k] for k in index.children.get(registration.id, [])]
        lines.extend(_chain_lines([registration] + welcome[:1], 1))
        lines.append("launch:")
    if trigger is not None:
        lines.append(f"   (allocation run {chain[0].id} triggered by {trigger.type} {trigger.id})")
    lines.extend(_chain_lines(chain, 1))
    shown = {m.id for m in chain}
    later = [m for m in about if m.id not in shown and m.sent_at >= launch.sent_at]
    if later:
        lines.append("then:")
        depth = len(_collapse(chain))
        for env in later:
            cause = index.by_id.get(env.causation_id)
            note = f"caused by {cause.type} {cause.id}" if cause is not None else ""
            lines.append(_node(env, depth, note))
    return lines


def _agent_of(launch: Envelope) -> str:
    plain = to_plain(launch.body)
    task = plain.get("task") or {}
    return task.get("agent_id") or launch.target.split(".", 1)[-1]
