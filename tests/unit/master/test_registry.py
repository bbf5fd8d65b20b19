"""The registry: what operators set survives a change of leader (in-process, memory log).
A new leader starts from it, checked on its decisions: offers (reservations, quota,
weights), refusals (an agent marked gone, a torn-down framework)."""

from __future__ import annotations

import pytest

from actors.registry import FileRegistryLog, MemoryRegistryLog, Registry
from messages import (
    Accept,
    AgentRegistered,
    FrameworkError,
    MarkAgentGone,
    Operation,
    OperationType,
    QuotaUpdated,
    RegisterAgent,
    RegisterFramework,
    ReregisterFramework,
    Resources,
    ShutdownAgent,
    UnregisterFramework,
    WeightsUpdated,
)
from messages.registry import AgentAdmission, AgentMarkedGone, Elected, FrameworkTornDown, QuotaSet, WeightsSet
from tests.unit.master.fakes import Cluster


def offered(fw) -> list[tuple[str, str]]:
    return [(o.agent_id, str(o.resources)) for o in fw.offers()]


@pytest.fixture
def log():
    return MemoryRegistryLog()


def leader(transport, clock, log, name="m1") -> Cluster:
    from actors.master import MasterConfig

    registry = Registry.elect(log, name, f"nonce-{name}")
    cluster = Cluster(transport, clock, MasterConfig(master_id=name, epoch=registry.epoch),
                      real_allocator=True, registry=registry)
    answers: list = []  # the master answers each operator call (OperatorAnswer)
    try:
        transport.subscribe("operator", lambda d: (answers.append(d), transport.ack(d)))
    except ValueError:
        pass  # a second leader in the same test: the sink is there already
    return cluster


def test_operators_settings_reach_the_allocator_and_the_registry_first(transport, clock, log):
    cluster = leader(transport, clock, log)
    try:
        cluster.send("operator", WeightsUpdated({"web": 3.0}))
        cluster.send("operator", QuotaUpdated("web", Resources.parse("cpus:1")))
        cluster.send("operator", WeightsUpdated({"web": -1.0}))  # refused, not written
        cluster.send("operator", QuotaUpdated("*", Resources.parse("cpus:1")))  # likewise
        cluster.settle()
        kinds = [type(r) for _, r in log.read()]
        assert kinds == [Elected, WeightsSet, QuotaSet]
        metrics = cluster.state()["metrics"]
        assert metrics["master/invalid_weights"] == 1 and metrics["master/invalid_quotas"] == 1
        # The quota caps what the role is offered: one cpu of the agent's four.
        web = cluster.framework("w1", roles=("web",))
        cluster.agent("a1", "cpus:4;mem:1024")
        cluster.advance(2, step=1)
        assert offered(web) == [("a1", "cpus:1;mem:1024")]
    finally:
        cluster.stop()


def test_a_new_leader_starts_from_the_registry(transport, clock, log):
    cluster = leader(transport, clock, log)
    try:
        cluster.send("operator", QuotaUpdated("web", Resources.parse("cpus:3")))
        cluster.send("operator", WeightsUpdated({"web": 2.0}))
        web = cluster.framework("w1", roles=("web",))
        a1 = cluster.agent("a1", "cpus:4;mem:1024")
        a2 = cluster.agent("a2", "cpus:4;mem:1024")
        cluster.advance(2, step=1)
        offer = next(o for o in web.offers() if o.agent_id == "a1")
        reserve = Operation(OperationType.RESERVE, resources=Resources.parse("cpus(web):2"))
        web.send(Accept("w1", (offer.offer_id,), (reserve,)))
        cluster.send("operator", MarkAgentGone("a2"))
        cluster.settle()
        assert a2.last(ShutdownAgent).message == "marked gone by an operator"
        gone = cluster.framework("g1")
        gone.send(UnregisterFramework("g1"))

        second = Registry.elect(log, "m2", "nonce-m2")
        assert second.epoch > cluster.config.epoch
        cluster.fail_over(second)
        # Everyone registers again with the new leader.
        a1.send(RegisterAgent(a1.info))
        a2.send(RegisterAgent(a2.info))
        web.send(ReregisterFramework(web.info))
        gone.send(RegisterFramework(gone.info))
        cluster.advance(2, step=1)

        assert a1.last(AgentRegistered).agent_id == "a1"
        assert "marked gone" in a2.last(ShutdownAgent).message
        assert gone.last(FrameworkError).message == "framework removed"
        # The reservation is back on a1, and the quota (3 cpus) still caps the role.
        latest = [o for o in web.offers() if o.agent_id == "a1"][-1]
        assert str(latest.resources) == "cpus:1;mem:1024;cpus(web):2", offered(web)
        # Its dominant share (all the memory: 1.0) counts half: the weight 2 is back too.
        assert cluster.allocator_ref.proxy().shares().get()["roles"] == {"web": 0.5}
        assert cluster.state()["agents"][0]["reserved_resources"] == "cpus(web):2"
    finally:
        cluster.stop()


def test_a_deposed_leaders_late_writes_are_ignored(log):
    first = Registry.elect(log, "m1", "n1")
    second = Registry.elect(log, "m2", "n2")
    first.write(AgentMarkedGone("a1"))  # after m2 was elected: fenced off by its epoch
    second.write(AgentAdmission("a2", "h2"))
    third = Registry.elect(log, "m3", "n3")
    assert third.epoch > second.epoch > first.epoch
    assert list(third.state.gone) == [] and third.state.admitted == {"a2": "h2"}


def test_snapshots_keep_the_state_and_later_records_apply_on_top(log, monkeypatch):
    monkeypatch.setattr("actors.registry.registry.SNAPSHOT_EVERY", 3)
    registry = Registry.elect(log, "m1", "n1")
    for n in range(7):
        registry.write(FrameworkTornDown(f"f{n}"))
    registry.write(WeightsSet({"web": 2.0}))
    again = Registry.elect(log, "m2", "n2")
    assert list(again.state.torn_down) == [f"f{n}" for n in range(7)] and again.state.weights == {"web": 2.0}
    assert sum(type(r).__name__ == "RegistrySnapshot" for _, r in log.read()) == 2


def test_the_file_log_survives_a_reopen_and_cuts_a_torn_last_record(tmp_path):
    path = tmp_path / "registry"
    log = FileRegistryLog(path)
    registry = Registry.elect(log, "m1", "n1")
    registry.write(QuotaSet("web", Resources.parse("cpus:2")))
    log.close()
    with open(path, "ab") as f:
        f.write(b"\x00\x00\x01\x00partial")  # a crash in the middle of an append
    reopened = FileRegistryLog(path)
    second = Registry.elect(reopened, "m2", "n2")
    assert second.epoch == 3 and second.state.quota == {"web": Resources.parse("cpus:2")}
    reopened.close()


class CountingLog(MemoryRegistryLog):
    """Counts the records each read hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.handed: list[int] = []

    def read(self, until=None, start=0):
        for offset, record in super().read(until, start):
            self.handed.append(offset)
            yield offset, record


def test_a_standby_that_followed_the_registry_is_elected_on_the_same_state_reading_only_the_tail():
    import time

    from actors.registry import RegistryFollower

    log = CountingLog()
    first = Registry.elect(log, "m1", "n1")
    for n in range(50):
        first.write(AgentAdmission(f"a{n}", f"h{n}"))
    follower = RegistryFollower(lambda: log, interval=0.01).start()
    second = Registry.elect(log, "m2", "n2")  # the standby's leader changes while it waits
    first.write(AgentMarkedGone("a1"))  # deposed: fenced off, by the follower as by a full read
    second.write(WeightsSet({"web": 2.0}))
    deadline = time.monotonic() + 10
    while (follower.folded() is None or follower.folded().next_offset < len(log.records)) and time.monotonic() < deadline:
        time.sleep(0.01)
    known = follower.stop()
    assert known is not None and known.next_offset == len(log.records)
    log.handed.clear()
    third = Registry.elect(log, "m3", "n3", known)
    assert log.handed == [len(log.records) - 1]  # its own Elected record only
    assert third.state == Registry.recover(log).state  # as if it had read the log whole
    assert third.state.weights == {"web": 2.0} and "a1" not in third.state.gone
    assert third.epoch == len(log.records) > second.epoch


def test_reading_from_an_offset(tmp_path):
    for log in (MemoryRegistryLog(), FileRegistryLog(tmp_path / "registry")):
        for n in range(5):
            log.append(FrameworkTornDown(f"f{n}"))
        assert [(o, r.framework_id) for o, r in log.read(start=3)] == [(3, "f3"), (4, "f4")]
