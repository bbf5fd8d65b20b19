"""The operator's JSON for reservations and maintenance, read strictly: Mesos' shapes are
taken, anything else is a CallError (HTTP 400) naming the field, and nothing given can
smuggle another resource into Mesos' text form."""

from __future__ import annotations

import pytest

from actors.operator.maintenance import parse_machines, parse_schedule, schedule_json, status_json
from actors.operator.writes import CallError, parse_resources
from messages import MachineId, Resources


def test_mesos_resource_json_in_its_forms():
    items = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5},
         "reservations": [{"type": "DYNAMIC", "role": "web", "principal": "ops"}]},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 256}, "role": "web"},  # before Mesos 1.4
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31009}]},
         "reservations": [{"role": "eng"}, {"role": "eng/web"}]},  # refined: the last one counts
    ]
    assert parse_resources(items) == Resources.parse("cpus(web):1.5;mem(web):256;ports(eng/web):[31000-31009]")


@pytest.mark.parametrize("items, says", [
    ([{"name": "cpus:1;mem", "scalar": {"value": 1}}], "name"),
    ([{"name": "zones", "set": {"item": ["a},mem(web):{b"]}}], "set.item"),
    ([{"name": "cpus", "scalar": {"value": -1}}], "scalar.value"),
    ([{"name": "cpus", "scalar": {"value": True}}], "scalar.value"),
    ([{"name": "cpus", "scalar": {"value": 1}, "role": "web;x"}], "role"),
    ([{"name": "cpus", "scalar": {"value": 1}, "reservations": [{"type": "STATIC", "role": "web"}]}], "DYNAMIC"),
    ([{"name": "cpus", "type": "TEXT", "text": {"value": "1"}}], "type"),
    ([{"name": "ports", "ranges": {"range": [{"begin": "1", "end": 2}]}}], "range"),
    ([], "non-empty"),
    ({"name": "cpus"}, "non-empty"),
])
def test_bad_resource_json_is_refused_naming_the_field(items, says):
    with pytest.raises(CallError, match=says) as err:
        parse_resources(items)
    assert err.value.status == 400


def test_machine_ids_and_schedules():
    assert parse_machines([{"hostname": "Web-1.Example"}, {"ip": "10.0.0.7"}]) == (
        MachineId("web-1.example"), MachineId("", "10.0.0.7"))
    for bad, says in (([{}], "hostname or an ip"), ([{"hostname": "a b"}], "not a hostname"),
                      ([{"ip": "10.0.0.256"}], "not an IP"), ([{"hostname": "a"}, {"hostname": "A"}], "twice"),
                      ([], "non-empty"), ("h1", "non-empty")):
        with pytest.raises(CallError, match=says):
            parse_machines(bad)
    window = {"machine_ids": [{"hostname": "h1", "ip": "10.0.0.1"}],
              "unavailability": {"start": {"nanoseconds": "1700000000000000000"}}}  # int64 as text, as protobuf JSON
    windows = parse_schedule({"windows": [window]})
    assert schedule_json(windows) == {"windows": [{"machine_ids": [{"hostname": "h1", "ip": "10.0.0.1"}],
                                                   "unavailability": {"start": {"nanoseconds": 1700000000000000000}}}]}
    assert status_json(windows, ()) == {"draining_machines": [{"id": {"hostname": "h1", "ip": "10.0.0.1"}}]}
    assert status_json(windows, (MachineId("h1", "10.0.0.1"),)) == {"down_machines": [{"hostname": "h1", "ip": "10.0.0.1"}]}
    assert parse_schedule({}) == () and schedule_json(()) == {}
    for bad, says in (({"windows": [{"machine_ids": [{"hostname": "h"}]}]}, "unavailability"),
                      ({"windows": [{"machine_ids": [], "unavailability": {"start": {"nanoseconds": 1}}}]}, "machine_ids"),
                      ({"windows": [dict(window, unavailability={"start": {"nanoseconds": 2**64}})]}, "nanoseconds"),
                      ({"windows": [dict(window, unavailability={"start": {"nanoseconds": 1},
                                                                  "duration": {"nanoseconds": -5}})]}, "negative"),
                      ([], "windows")):
        with pytest.raises(CallError, match=says):
            parse_schedule(bad)
