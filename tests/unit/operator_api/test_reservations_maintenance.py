"""Operator reservations and maintenance through the HTTP API (v1 calls and Mesos' legacy
endpoints) against an embedded cluster: answered with Mesos' codes and shapes, and seen
in what a framework is offered."""

from __future__ import annotations

import json
import threading

from actors import Scheduler
from tests.unit.operator_api.conftest import wait_for

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _call(client, body: dict):
    return client.post("/api/v1", content=json.dumps(body), headers=JSON)


class Offers(Scheduler):
    """Declines everything briefly; remembers every offer."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.seen: list = []

    def resource_offers(self, offers):
        for offer in offers:
            with self.lock:
                self.seen.append(offer)
            self.decline(offer, refuse_seconds=0.1)

    def since(self, n: int) -> list:
        with self.lock:
            return self.seen[n:]

    def count(self) -> int:
        with self.lock:
            return len(self.seen)


def _cpus(role: str | None, amount: float) -> dict:
    item = {"name": "cpus", "type": "SCALAR", "scalar": {"value": amount}}
    if role:
        item["reservations"] = [{"type": "DYNAMIC", "role": role, "principal": "ops"}]
    return item


def _fresh_offers(log: Offers, agent_id: str, n: int = 3) -> list:
    start = log.count()
    wait_for(lambda: len([o for o in log.since(start) if o.agent_id == agent_id]) >= n, message="offers")
    return [o for o in log.since(start) if o.agent_id == agent_id]


def test_reserved_resources_are_offered_only_to_their_role_until_unreserved(client, cluster):
    handle = Offers.run(cluster, name="dev", roles=("dev",))
    log = handle.scheduler
    try:
        wait_for(lambda: log.count() >= 2, message="offers")
        agent = log.since(0)[0].agent_id
        reserve = {"type": "RESERVE_RESOURCES", "reserve_resources": {
            "agent_id": {"value": agent}, "resources": [_cpus("web", 1.5)]}}
        answer = _call(client, reserve)
        assert answer.status_code == 202, answer.text
        # dev (not in role web) now sees half a cpu there, never the reserved 1.5.
        offers = _fresh_offers(log, agent)[-2:]
        assert all(o.resources.scalar("cpus") == 0.5 and not o.resources.reserved("web") for o in offers), offers
        slave = next(s for s in client.get("/master/slaves").json()["slaves"] if s["id"] == agent)
        assert slave["reserved_resources"]["web"]["cpus"] == 1.5
        assert slave["unreserved_resources"]["cpus"] == 0.5

        too_much = _call(client, {"type": "RESERVE_RESOURCES", "reserve_resources": {
            "agent_id": {"value": agent}, "resources": [_cpus("web", 5)]}})
        assert too_much.status_code == 409 and "not available" in too_much.text
        unreserved = _call(client, {"type": "RESERVE_RESOURCES", "reserve_resources": {
            "agent_id": {"value": agent}, "resources": [_cpus(None, 1)]}})
        assert unreserved.status_code == 400 and "not reserved for a role" in unreserved.text
        bad = _call(client, {"type": "RESERVE_RESOURCES", "reserve_resources": {
            "agent_id": {"value": agent}, "resources": [{"name": "cpus", "scalar": {"value": "x"}}]}})
        assert bad.status_code == 400 and "scalar.value" in bad.text

        # The legacy endpoint: a form with slaveId and the resources as JSON.
        missing = client.post("/master/unreserve", content="resources=[]", headers=FORM)
        assert missing.status_code == 400 and "slaveId" in missing.text
        form = {"slaveId": agent, "resources": json.dumps([_cpus("web", 1.5)])}
        assert client.post("/master/unreserve", data=form).status_code == 202
        offers = _fresh_offers(log, agent)[-2:]
        assert all(o.resources.scalar("cpus") == 2 for o in offers), offers
        form = {"slaveId": agent, "resources": json.dumps([{"name": "cpus", "type": "SCALAR",
                                                             "scalar": {"value": 1}, "role": "dev"}])}
        assert client.post("/reserve", data=form).status_code == 202  # Mesos' pre-1.4 "role" too
        offers = _fresh_offers(log, agent)[-2:]
        assert all(str(o.resources.reserved("dev")) == "cpus(dev):1" for o in offers), offers
    finally:
        handle.stop()


def test_maintenance_schedule_drains_then_down_removes_the_agent_and_up_ends_it(client, cluster):
    handle = Offers.run(cluster, name="watcher")
    log = handle.scheduler
    try:
        wait_for(lambda: log.count() >= 2, message="offers")
        agent = log.since(0)[0].agent_id
        host = log.since(0)[0].hostname
        assert client.get("/master/maintenance/schedule").json() == {}
        schedule = {"windows": [{"machine_ids": [{"hostname": host.upper()}],
                                 "unavailability": {"start": {"nanoseconds": 2 * 10**18},
                                                    "duration": {"nanoseconds": 3600 * 10**9}}}]}
        assert client.post("/master/maintenance/schedule", content=json.dumps(schedule)).status_code == 200
        schedule["windows"][0]["machine_ids"] = [{"hostname": host.lower()}]
        assert client.get("/master/maintenance/schedule").json() == schedule
        got = _call(client, {"type": "GET_MAINTENANCE_SCHEDULE"}).json()
        assert got == {"type": "GET_MAINTENANCE_SCHEDULE", "get_maintenance_schedule": {"schedule": schedule}}
        status = {"draining_machines": [{"id": {"hostname": host.lower()}}]}
        assert client.get("/master/maintenance/status").json() == status
        # Offers of the DRAINING machine carry the window; the other agent's do not.
        offers = _fresh_offers(log, agent, 2)
        assert offers[-1].unavailability.start_ns == 2 * 10**18
        assert offers[-1].unavailability.duration_ns == 3600 * 10**9
        assert all(o.unavailability is None for o in log.since(0) if o.agent_id != agent)

        other = next(s["hostname"] for s in client.get("/master/slaves").json()["slaves"] if s["id"] != agent)
        not_draining = client.post("/master/machine/down", content=json.dumps([{"hostname": other}]))
        assert not_draining.status_code == 400 and "not part of a maintenance schedule" in not_draining.text
        assert client.post("/master/machine/down", content=b"{").status_code == 400
        assert client.post("/master/machine/down", content=json.dumps([{"ip": "1.2.3"}])).status_code == 400
        assert client.post("/master/machine/up", content=json.dumps([{"hostname": host}])).status_code == 400

        assert client.post("/master/machine/down", content=json.dumps([{"hostname": host}])).status_code == 200
        wait_for(lambda: agent not in [s["id"] for s in client.get("/master/slaves").json()["slaves"]],
                 message="the agent of the DOWN machine removed")
        status = _call(client, {"type": "GET_MAINTENANCE_STATUS"}).json()["get_maintenance_status"]["status"]
        assert status == {"down_machines": [{"hostname": host.lower()}]}
        clear = client.post("/master/maintenance/schedule", content=b"{}")
        assert clear.status_code == 400 and "DOWN" in clear.text

        up = _call(client, {"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [{"hostname": host}]}})
        assert up.status_code == 200, up.text
        assert client.get("/master/maintenance/status").json() == {}
        assert client.get("/master/maintenance/schedule").json() == {}
    finally:
        handle.stop()
