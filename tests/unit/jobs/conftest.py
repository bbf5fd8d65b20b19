"""A fake master for the jobs scheduler's tests: records what it is sent and answers
registrations and heartbeats (`got` is the list of messages)."""

from __future__ import annotations

import pytest

from actors.runtime import Actor, on
from messages import (
    Accept, Decline, FrameworkHeartbeat, FrameworkRegistered, FrameworkReregistered, KillTask, MasterHeartbeat,
    MasterInfo, ReconcileTasks, RegisterFramework, ReregisterFramework, Revive, StatusUpdateAcknowledgement, Suppress,
)


class FakeMaster(Actor):
    def __init__(self, transport, got: list) -> None:
        super().__init__("master", transport)
        self.got = got

    @on(Accept, Decline, FrameworkHeartbeat, KillTask, ReconcileTasks, RegisterFramework, ReregisterFramework,
        Revive, StatusUpdateAcknowledgement, Suppress)
    def record(self, msg) -> None:
        self.got.append(msg)
        info = MasterInfo("m1", "localhost")
        if isinstance(msg, RegisterFramework):
            self.reply(FrameworkRegistered(msg.framework.framework_id, info))
        elif isinstance(msg, ReregisterFramework):
            self.reply(FrameworkReregistered(msg.framework.framework_id, info))
        elif isinstance(msg, FrameworkHeartbeat):
            self.reply(MasterHeartbeat("m1", True))


@pytest.fixture
def got(transport):
    got: list = []
    ref = FakeMaster.start(transport, got)
    yield got
    ref.stop()
