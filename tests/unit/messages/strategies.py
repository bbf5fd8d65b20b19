"""Hypothesis strategies for every catalogue type, derived from the type hints."""

from __future__ import annotations

from hypothesis import strategies as st

from messages import ActorStarted, CommandInfo, Envelope, ExecutorInfo, Filters, Resources, TaskInfo
from messages.resources import SCALE

names = st.sampled_from(["cpus", "mem", "disk", "gpus", "custom_x"])
roles = st.sampled_from(["*", "web", "batch", "a.b-c"])
scalar = st.integers(min_value=1, max_value=10**9)
ranges = st.lists(
    st.tuples(st.integers(0, 65535), st.integers(0, 200)), min_size=1, max_size=4
).map(lambda pairs: tuple(sorted((b, b + n) for b, n in pairs)))


@st.composite
def resources(draw) -> Resources:
    items: dict = {}
    for name in draw(st.lists(names, max_size=4, unique=True)):
        for role in draw(st.lists(roles, min_size=1, max_size=2, unique=True)):
            items[(name, role)] = draw(scalar)
    if draw(st.booleans()):
        r = draw(ranges)
        text = ",".join(f"{b}-{e}" for b, e in r)
        return Resources(items) + Resources.parse(f"ports:[{text}]")
    return Resources(items)


commands = st.one_of(
    st.builds(CommandInfo, value=st.text(min_size=1), shell=st.just(True)),
    st.builds(
        CommandInfo,
        value=st.text(),
        arguments=st.lists(st.text(), min_size=1).map(tuple),
        shell=st.just(False),
    ),
)
executors = st.builds(ExecutorInfo, command=commands, resources=resources())


@st.composite
def tasks(draw) -> TaskInfo:
    use_command = draw(st.booleans())
    return draw(
        st.builds(
            TaskInfo,
            resources=resources(),
            command=commands if use_command else st.none(),
            executor=st.none() if use_command else executors,
            kill_grace_period=st.none() | st.floats(0, 100),
        )
    )


def register() -> None:
    # Plain numbers first: the builds() below resolve their fields through these.
    st.register_type_strategy(int, st.integers(-(2**63), 2**63 - 1))
    st.register_type_strategy(float, st.floats(allow_nan=False, allow_infinity=False))
    # Any text within the id bound (messages/limits.py: 120 bytes; 30 characters are at
    # most 120 bytes of UTF-8), so every field, ids included, can take any of it.
    st.register_type_strategy(str, st.text(max_size=30))
    st.register_type_strategy(Resources, resources())
    st.register_type_strategy(CommandInfo, commands)
    st.register_type_strategy(ExecutorInfo, executors)
    st.register_type_strategy(TaskInfo, tasks())
    st.register_type_strategy(Filters, st.builds(Filters, st.floats(0, 365 * 24 * 3600 - 1)))
    plain = st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    )
    st.register_type_strategy(
        ActorStarted, st.builds(ActorStarted, config=st.dictionaries(st.text(), plain, max_size=4))
    )


def envelopes(body_type: type):
    return st.builds(
        Envelope,
        id=st.text(min_size=1, max_size=60),
        sender=st.text(min_size=1, max_size=60),
        target=st.text(min_size=1, max_size=60),
        body=st.from_type(body_type),
        correlation_id=st.text(max_size=60),
        causation_id=st.text(max_size=60),
        epoch=st.integers(0, 2**31),
        sent_at=st.floats(0, 4e9),
        version=st.just(1),
    )


assert SCALE == 1000
