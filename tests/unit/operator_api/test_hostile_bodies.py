"""Bodies no client should send get a 400 naming what was wrong from every write
endpoint (found by sending them: each was a 500)."""

from __future__ import annotations

import json

import pytest

from actors.operator.maintenance import parse_schedule
from actors.operator.writes import CallError

DEEP = b"[" * 100_000  # within the 1 MiB limit; Python's parser gives up on the nesting


@pytest.mark.parametrize("path", ["/api/v1", "/master/weights", "/master/quota", "/master/maintenance/schedule",
                                  "/master/machine/down", "/master/machine/up"])
def test_json_nested_too_deeply_is_a_400(client, path):
    answer = client.post(path, content=DEEP)
    assert answer.status_code == 400 and "nested too deeply" in answer.text, (answer.status_code, answer.text)


@pytest.mark.parametrize("path", ["/master/reserve", "/master/unreserve"])
def test_reservation_form_with_deep_resources_is_a_400(client, path):
    answer = client.post(path, content=b"slaveId=a&resources=" + DEEP,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400 and "nested too deeply" in answer.text, (answer.status_code, answer.text)


def test_legacy_quota_guarantee_without_a_text_name_is_a_400(client):
    for name in (["cpus"], {"a": 1}, None):
        body = {"role": "dev", "guarantee": [{"name": name, "type": "SCALAR", "scalar": {"value": 1}}]}
        answer = client.post("/master/quota", content=json.dumps(body))
        assert answer.status_code == 400 and "guarantee" in answer.text, (name, answer.status_code, answer.text)


@pytest.mark.parametrize("nanos", ["\u00b2", "--5", "\u0663", "1_000", " 1"])
def test_schedule_nanoseconds_as_text_must_be_ascii_digits(client, nanos):
    window = {"machine_ids": [{"hostname": "h1"}], "unavailability": {"start": {"nanoseconds": nanos}}}
    with pytest.raises(CallError, match="nanoseconds"):
        parse_schedule({"windows": [window]})
    answer = client.post("/master/maintenance/schedule", content=json.dumps({"windows": [window]}))
    assert answer.status_code == 400 and "nanoseconds" in answer.text, (answer.status_code, answer.text)
