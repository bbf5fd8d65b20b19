"""Building a TaskInfo from an offer: what `Scheduler.task(...)` does.

>>> from messages import Offer, Resources
>>> offer = Offer("o1", "fw", "a1", "host", Resources.parse("cpus:2;mem:1024"))
>>> t = build_task(offer, "echo hi", task_id="t1", cpus=0.5, mem=64)
>>> t.agent_id, str(t.resources), t.command.value
('a1', 'cpus:0.5;mem:64', 'echo hi')
>>> build_task(offer, ["ls", "-l"], task_id="t2").command.arguments
('ls', '-l')
>>> build_task(offer, "./run.sh", task_id="t3", uris=["http://h/run.sh"]).command.uris[0].value
'http://h/run.sh'
"""

from __future__ import annotations

from typing import Mapping, Sequence

from messages import CommandInfo, CommandURI, ContainerInfo, ExecutorInfo, Offer, Resources, TaskInfo
from messages.resources import SCALE, UNRESERVED

Command = str | Sequence[str] | CommandInfo | ExecutorInfo


def build_task(
    offer: Offer,
    command: Command,
    *,
    task_id: str,
    name: str = "",
    cpus: float = 0.1,
    mem: float = 32,
    disk: float = 0,
    resources: Resources | str | None = None,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    data: bytes = b"",
    kill_grace_period: float | None = None,
    uris: Sequence[str | CommandURI] = (),
    container: ContainerInfo | None = None,
) -> TaskInfo:
    """A task for `offer`'s agent. `command` is a shell line, an argv list (run without a
    shell), a CommandInfo, or an ExecutorInfo (a custom executor). Resources are `cpus`,
    `mem` (MB) and `disk` (MB), or `resources` given whole; they are taken from the
    offer's unreserved resources first, then from those reserved for the offer's role.
    `uris` (text, or CommandURI for its options) are fetched into the sandbox first;
    `container` is the task's ContainerInfo."""
    if isinstance(resources, str):
        resources = Resources.parse(resources)
    if resources is None:
        wanted = {"cpus": cpus, "mem": mem, "disk": disk}
        resources = _take(offer, {k: v for k, v in wanted.items() if v})
    executor = command if isinstance(command, ExecutorInfo) else None
    return TaskInfo(
        task_id=task_id,
        name=name or task_id,
        agent_id=offer.agent_id,
        resources=resources,
        command=None if executor else _command(command, env, uris),
        executor=executor,
        data=data,
        labels=dict(labels or {}),
        kill_grace_period=kill_grace_period,
        container=container,
    )


def _command(command: Command, env: Mapping[str, str] | None, uris: Sequence[str | CommandURI] = ()) -> CommandInfo:
    environment = dict(env or {})
    fetched = tuple(u if isinstance(u, CommandURI) else CommandURI(str(u)) for u in uris)
    if isinstance(command, CommandInfo):
        if environment or fetched:
            from dataclasses import replace

            return replace(command, environment={**command.environment, **environment},
                           uris=command.uris + fetched)
        return command
    if isinstance(command, str):
        return CommandInfo(value=command, environment=environment, uris=fetched)
    argv = tuple(str(a) for a in command)
    if not argv:
        raise ValueError("a task needs a command: got an empty argv")
    # Mesos' convention for shell=false: `value` is the program, `arguments` the argv.
    return CommandInfo(value=argv[0], arguments=argv, shell=False, environment=environment, uris=fetched)


def _take(offer: Offer, amounts: Mapping[str, float]) -> Resources:
    """Scalars from the offer: unreserved first, then reserved for the offer's role;
    what the offer lacks is asked for unreserved (the master will then refuse it)."""
    roles = [UNRESERVED] if offer.role == UNRESERVED else [UNRESERVED, offer.role]
    out = Resources()
    for name, amount in amounts.items():
        need = round(amount * SCALE)
        for role in roles:
            have = offer.resources.unreserved() if role == UNRESERVED else offer.resources.reserved(role)
            part = min(need, have.scalar_fixed(name))
            if part > 0:
                out = out + Resources.scalars(role, **{name: part / SCALE})
                need -= part
        if need > 0:
            out = out + Resources.scalars(UNRESERVED, **{name: need / SCALE})
    return out
