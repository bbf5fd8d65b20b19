"""Operator reservations, deactivation and maintenance survive a leader SIGKILL (processes
on a private vhost): set on the first leader, they rule the standby's decisions once it
leads: the reserved slice is offered to its role, the deactivated agent is not offered, the
DRAINING machine's offers carry its window, the DOWN machine's agent is refused."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from actors import Scheduler
from actors.operator.writes import master_sender
from messages import (
    AgentInfo,
    Envelope,
    MachineId,
    MaintenanceWindow,
    RegisterAgent,
    Resources,
    ShutdownAgent,
    Unavailability,
    decode,
)
from messages.operator import AgentMaintenance, OperatorAnswer, ReserveResources, StartMaintenance, UpdateMaintenanceSchedule
from rabbitmq import AmqpTransport
from tests.support.cluster_framework import ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker

HOUR = 3600 * 10**9
DRAINING = MaintenanceWindow((MachineId("h3"),), Unavailability(2 * 10**18, HOUR))
DOWN = MaintenanceWindow((MachineId("h4"),), Unavailability(10**18))


class Watcher(Scheduler):
    """Declines everything at once; records every offer."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.offers: list[tuple[float, object]] = []

    def resource_offers(self, offers):
        for offer in offers:
            with self.lock:
                self.offers.append((time.monotonic(), offer))
            self.decline(offer, refuse_seconds=0.2)

    def since(self, t: float) -> list:
        with self.lock:
            return [o for at, o in self.offers if at >= t]


def wait_for(predicate, timeout: float, what: str, describe=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{describe()}")
        time.sleep(0.1)


def test_reservations_deactivation_and_maintenance_survive_a_leader_sigkill(broker_url: str, tmp_path: Path) -> None:
    with private_vhost("mesobus-registry-ops") as url:
        cluster = ProcessCluster(url, tmp_path / "cluster", ping_interval=15.0, max_missed_pings=5)
        operator = AmqpTransport(url)
        ask = master_sender(operator)

        def operator_says(body) -> None:
            answer = ask(body, 20).result(25).body
            assert isinstance(answer, OperatorAnswer) and answer.ok, answer

        framework = None
        try:
            leader = cluster.start_master(name="master")
            for host in ("h1", "h2", "h3"):
                cluster.start_agent(host, "cpus:2;mem:512")
            h4 = cluster.start_agent("h4", "cpus:2;mem:512")
            cluster.wait_ready()
            standby = cluster.start_master(name="master-2")
            cluster.wait_log(standby, "standing by: another master leads")

            framework = Watcher.run(url, name="web", roles=("web",), failover_timeout=300.0)
            fw = framework.scheduler
            wait_for(lambda: {o.hostname for o in fw.since(0)} == {"h1", "h2", "h3", "h4"}, 60,
                     "offers from the four agents", cluster.logs)
            ids = {o.hostname: o.agent_id for o in fw.since(0)}
            operator_says(ReserveResources(ids["h1"], Resources.parse("cpus(web):1.5")))
            operator_says(AgentMaintenance(ids["h2"], active=False))
            operator_says(UpdateMaintenanceSchedule((DRAINING, DOWN)))
            operator_says(StartMaintenance((MachineId("h4"),)))
            cluster.wait_log(h4, "DOWN for maintenance", timeout=30)
            set_at = time.monotonic()
            wait_for(lambda: any(o.hostname == "h1" and o.resources.reserved("web") for o in fw.since(set_at)), 30,
                     "the reservation offered by the first leader", cluster.logs)

            cluster.kill(leader)
            cluster.wait_log(standby, "mesobus master: leading", timeout=30)
            led = time.monotonic()
            wait_for(lambda: {"h1", "h3"} <= {o.hostname for o in fw.since(led)}, 60,
                     "offers from the new leader", cluster.logs)
            time.sleep(2.0)  # a few more allocation runs: h2 must stay out of them
            after = fw.since(led)
            assert {o.hostname for o in after} == {"h1", "h3"}, after  # h2 deactivated, h4 DOWN
            assert all(str(o.resources.reserved("web")) == "cpus(web):1.5" for o in after if o.hostname == "h1")
            assert all(o.unavailability == DRAINING.unavailability for o in after if o.hostname == "h3")
            assert all(o.unavailability is None for o in after if o.hostname == "h1")

            # The DOWN machine's agent is refused if it comes back under its id.
            answers: list = []
            operator.subscribe(f"agent.{ids['h4']}", lambda d: (answers.append(decode(d.body).body), operator.ack(d)))
            info = AgentInfo(agent_id=ids["h4"], hostname="h4", resources=Resources.parse("cpus:2;mem:512"))
            operator.publish(Envelope(id=uuid.uuid4().hex, sender=f"agent.{ids['h4']}", target="master",
                                      body=RegisterAgent(info), sent_at=time.time()))
            wait_for(lambda: any(isinstance(a, ShutdownAgent) for a in answers), 30, "the refusal", cluster.logs)
            refusal = next(a for a in answers if isinstance(a, ShutdownAgent))
            assert "DOWN for maintenance" in refusal.message
        finally:
            if framework is not None:
                framework.stop()
            operator.close()
            cluster.stop()
