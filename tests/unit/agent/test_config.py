"""Agent flags: resources, attributes and settings, with clear errors."""

from __future__ import annotations

import os

import pytest

from actors.agent import AgentConfig, start_agent
from actors.agent.config import ConfigError, detect_resources, parse_attributes, parse_resources
from actors.agent.checkpoint import Checkpoint


def test_given_resources_are_kept_and_the_rest_detected(tmp_path):
    r = parse_resources("cpus:2;mem:1024", tmp_path)
    assert (r.scalar("cpus"), r.scalar("mem")) == (2, 1024)
    assert r.scalar("disk") > 0
    assert r.ranges("ports") == ((31000, 32000),)


def test_detected_resources_come_from_the_host(tmp_path):
    r = detect_resources({"cpus", "mem", "disk", "ports"}, tmp_path)
    assert r.scalar("cpus") == os.cpu_count()
    with open("/proc/meminfo") as f:
        total_mb = int(f.readline().split()[1]) / 1024
    assert 0 < r.scalar("mem") < total_mb
    assert r.ranges("ports") == ((31000, 32000),)


def test_reserved_and_custom_resources_are_accepted(tmp_path):
    r = parse_resources("cpus(web):2;cpus:1;gpus:1;mem:512;disk:100;ports:[8000-8100]", tmp_path)
    assert str(r.reserved("web")) == "cpus(web):2" and r.scalar("gpus") == 1


@pytest.mark.parametrize(
    "text, words",
    [
        ("cpus:four", "bad scalar for cpus"),
        ("cpus", "expected name(role):value"),
        ("ports:[5-1]", "begin after end"),
        ("mem:0", "mem is zero or empty"),
        ("cpus:-1", "bad scalar for cpus"),
    ],
)
def test_bad_resources_flag_names_the_problem(tmp_path, text, words):
    with pytest.raises(ConfigError, match=r"^--resources: .*") as err:
        parse_resources(text, tmp_path)
    assert words in str(err.value)


def test_attributes_are_parsed():
    assert parse_attributes("rack:r1; zone:a ;os:linux-5.15") == {"rack": "r1", "zone": "a", "os": "linux-5.15"}
    assert parse_attributes("") == {}


@pytest.mark.parametrize(
    "text, words",
    [
        ("rack", "'rack' is not name:value"),
        ("rack:", "bad value '' for rack"),
        (":r1", "bad name ''"),
        ("1rack:r1", "bad name '1rack'"),
        ("rack:r 1", "bad value 'r 1'"),
        ("rack:r1;rack:r2", "rack given twice"),
    ],
)
def test_bad_attributes_flag_names_the_problem(text, words):
    with pytest.raises(ConfigError, match="^--attributes: ") as err:
        parse_attributes(text)
    assert words in str(err.value)


def test_work_dir_is_required():
    with pytest.raises(ConfigError, match="--work-dir: required"):
        AgentConfig.from_flags(resources="cpus:1;mem:1;disk:1;ports:[1-2]", work_dir="")


@pytest.mark.parametrize(
    "setting, words",
    [
        ({"executor_mode": "docker"}, "--executor-mode: 'docker' is not one of"),
        ({"limits": "magic"}, "--limits: 'magic'"),
        ({"ping_interval": 0}, "ping-interval: must be a positive number"),
        ({"max_missed_pings": 0}, "max-missed-pings"),
        ({"executor_recovery_timeout": -1}, "executor-recovery-timeout: must be a non-negative number"),
    ],
)
def test_bad_settings_are_refused(tmp_path, setting, words):
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_flags(resources="cpus:1", work_dir=tmp_path, **setting)
    assert words in str(err.value)


def test_process_executors_need_a_broker(transport, tmp_path):
    cfg = AgentConfig.from_flags(resources="cpus:1", work_dir=tmp_path, executor_mode="process")
    with pytest.raises(ConfigError, match="needs a broker"):
        start_agent(transport, cfg)


def test_work_dir_of_another_agent_is_refused(transport, tmp_path):
    Checkpoint(tmp_path / "meta").save_agent("agent-a", registered=True)
    cfg = AgentConfig.from_flags(resources="cpus:1", work_dir=tmp_path, agent_id="agent-b")
    with pytest.raises(ConfigError, match="belongs to agent agent-a"):
        start_agent(transport, cfg)


def test_agent_id_with_a_dot_is_refused(transport, tmp_path):
    cfg = AgentConfig.from_flags(resources="cpus:1", work_dir=tmp_path, agent_id="a.b")
    with pytest.raises(ConfigError, match="must not contain '.'"):
        start_agent(transport, cfg)
