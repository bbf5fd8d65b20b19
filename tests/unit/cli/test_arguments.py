"""The command line rejects bad input with one clear line and a non-zero exit."""

from __future__ import annotations

import pytest

from actors.cli.main import main


@pytest.fixture(autouse=True)
def no_broker_in_env(monkeypatch) -> None:
    monkeypatch.delenv("MESOBUS_BROKER", raising=False)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_every_command(capsys) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for command in ("master", "agent", "local", "run", "demo"):
        assert command in out


@pytest.mark.parametrize("command", ["master", "agent", "local", "run", "demo"])
def test_each_command_has_help(capsys, command) -> None:
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0 and f"mesobus {command}" in out


def test_no_command_prints_usage_and_fails(capsys) -> None:
    code, _, err = run_cli(capsys)
    assert code == 2 and "usage: mesobus" in err


def test_bad_resources_name_the_problem_in_one_line(capsys) -> None:
    code, _, err = run_cli(capsys, "agent", "--broker", "amqp://h", "--work-dir", "/tmp/x", "--resources", "cpus:lots")
    assert code == 2
    assert err.strip().splitlines() == [
        "mesobus agent: error: argument --resources: bad scalar for cpus: 'lots' (expected a non-negative number)"
        " (see mesobus agent --help)"
    ]


def test_bad_broker_scheme_is_refused(capsys) -> None:
    code, _, err = run_cli(capsys, "master", "--broker", "http://localhost:5672")
    assert code == 2 and "must start with amqp:// or amqps://" in err and len(err.strip().splitlines()) == 1


def test_broker_url_without_host_is_refused(capsys) -> None:
    code, _, err = run_cli(capsys, "master", "--broker", "amqp://")
    assert code == 2 and "needs a host" in err


def test_master_without_broker_says_how_to_give_one(capsys) -> None:
    code, _, err = run_cli(capsys, "master")
    assert code == 2 and "--broker is required (or set $MESOBUS_BROKER)" in err


def test_broker_comes_from_the_environment(capsys, monkeypatch) -> None:
    monkeypatch.setenv("MESOBUS_BROKER", "nonsense://x")
    code, _, err = run_cli(capsys, "master")  # the env value is checked like the flag
    assert code == 2 and "'nonsense://x'" in err


def test_run_without_a_command_fails(capsys) -> None:
    code, _, err = run_cli(capsys, "run", "--cpus", "0.5")
    assert code == 2 and "a command to run is required" in err


@pytest.mark.parametrize("flag,value", [("--cpus", "0"), ("--cpus", "x"), ("--mem", "-5")])
def test_run_refuses_non_positive_amounts(capsys, flag, value) -> None:
    code, _, err = run_cli(capsys, "run", flag, value, "--", "true")
    assert code == 2 and f"argument {flag}" in err


def test_agent_needs_a_work_dir(capsys) -> None:
    code, _, err = run_cli(capsys, "agent", "--broker", "amqp://h")
    assert code == 2 and "--work-dir" in err


def test_local_refuses_zero_agents(capsys) -> None:
    code, _, err = run_cli(capsys, "local", "--agents", "0")
    assert code == 2 and "must be at least 1" in err


def test_agent_refuses_an_unknown_executor_mode(capsys) -> None:
    code, _, err = run_cli(capsys, "agent", "--broker", "amqp://h", "--work-dir", "/tmp/x", "--executor-mode", "docker")
    assert code == 2 and "invalid choice: 'docker'" in err


@pytest.mark.parametrize("flag, value, says", [
    ("--fetcher-max-size", "lots", "'lots' is not a size (bytes, or a number with KB, MB, GB or TB)"),
    ("--fetcher-cache-size", "-1", "'-1' is not a size"),
    ("--fetcher-timeout", "0", "'0' is not a positive number of seconds"),
])
def test_agent_refuses_bad_fetcher_settings_in_one_line(capsys, flag, value, says) -> None:
    code, _, err = run_cli(capsys, "agent", "--broker", "amqp://h", "--work-dir", "/tmp/x", flag, value)
    assert code == 2 and f"argument {flag}: {says}" in err and len(err.strip().splitlines()) == 1


def test_agent_refuses_bad_attributes(capsys) -> None:
    code, _, err = run_cli(capsys, "agent", "--broker", "amqp://h", "--work-dir", "/tmp/x", "--attributes", "rack")
    assert code == 2 and "argument --attributes: 'rack' is not name:value" in err


@pytest.mark.parametrize("command", [["run", "--", "true"], ["agent", "--work-dir", "/tmp/x"], ["demo"], ["local"],
                                     ["master"]])
def test_a_bad_option_in_the_broker_url_is_a_usage_error_in_one_line(capsys, command) -> None:
    name, *rest = command
    code, _, err = run_cli(capsys, name, "--broker", "amqp://guest:secret@127.0.0.1:5672/X?prefetch=abc", *rest)
    assert code == 2, err
    assert err.count("\n") == 1 and "prefetch must be an integer, got 'abc'" in err and "secret" not in err


def test_demo_with_a_journal_it_cannot_write_is_one_line(capsys, tmp_path) -> None:
    code, _, err = run_cli(capsys, "demo", "--journal", "/proc/nope.msgpack")
    assert code == 1
    assert err == "mesobus demo: error: --journal /proc/nope.msgpack: No such file or directory\n"


@pytest.mark.parametrize("command", [["local"], ["master", "--broker", "amqp://h"]])
def test_local_and_master_with_a_journal_they_cannot_write_are_one_line(capsys, command) -> None:
    code, _, err = run_cli(capsys, *command, "--journal", "/proc/nope.msgpack")
    assert code == 1
    assert err == f"mesobus {command[0]}: error: --journal /proc/nope.msgpack: No such file or directory\n"


def test_local_with_a_work_dir_that_is_a_file_is_a_usage_error(capsys, tmp_path) -> None:
    (tmp_path / "f").write_text("x")
    code, _, err = run_cli(capsys, "local", "--work-dir", str(tmp_path / "f"))
    assert (code, err) == (2, f"mesobus local: error: --work-dir {tmp_path / 'f'}: not a directory\n")


def test_a_bad_master_in_the_environment_is_a_usage_error_not_a_traceback(capsys, monkeypatch) -> None:
    monkeypatch.setenv("MESOBUS_MASTER", "ftp://m1")
    code, _, err = run_cli(capsys, "ps")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "argument --master: 'ftp://m1': expected the master's HTTP address" in err


def test_tail_refuses_a_negative_line_count(capsys) -> None:
    code, _, err = run_cli(capsys, "tail", "some-task", "-n", "-3")
    assert code == 2 and "argument -n/--lines: '-3' is not a line count" in err


def test_a_negative_weight_is_named_as_such(capsys) -> None:
    code, _, err = run_cli(capsys, "weights", "dev=-1")
    assert code == 2 and "'dev=-1': expected NAME=NUMBER, the number >= 0" in err


@pytest.mark.parametrize("command, example", [("ps", "    mesobus state "), ("weights", "    mesobus weights dev=2 web=0.5 ")])
def test_operator_commands_keep_their_examples_one_per_line(capsys, command, example) -> None:
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0 and any(line.startswith(example) for line in out.splitlines())
