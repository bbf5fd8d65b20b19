"""`mesobus log ...` and `mesobus replay` on a recorded embedded run."""

from __future__ import annotations

import pytest

from actors.cli.main import main
from actors.cluster import LocalCluster
from tests.support.recorded_framework import RecordedFramework


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("cli-journal") / "run.msgpack")
    with LocalCluster(agents=2, journal=path) as cluster:
        assert RecordedFramework.run(cluster, name="recorded", tasks=6).join(60)
    return path


def test_show_filters_by_task_and_prints_one_line_per_message(journal, capsys) -> None:
    assert main(["log", "show", "--file", journal, "--task", "task-2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all("task-2" in line for line in lines)
    assert any("RunTask" in line for line in lines) and any("TASK_FINISHED" in line for line in lines)


def test_show_by_type_and_offset_range(journal, capsys) -> None:
    assert main(["log", "show", "--file", journal, "--type", "RegisterAgent", "--to-offset", "100000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("RegisterAgent" in line for line in lines)


def test_trace_and_explain_print_their_answers(journal, capsys) -> None:
    assert main(["log", "trace", "--file", journal, "task-1"]) == 0
    assert "RunTask" in capsys.readouterr().out
    main(["log", "show", "--file", journal, "--type", "FrameworkRegistered"])
    framework = capsys.readouterr().out.split("framework_id=")[1].split()[0]
    assert main(["log", "explain", "--file", journal, "--framework", framework]) == 0
    assert "filter from Decline" in capsys.readouterr().out


def test_replay_of_every_actor_matches_and_exits_0(journal, capsys) -> None:
    assert main(["replay", "--file", journal, "--actor", "all"]) == 0
    out = capsys.readouterr().out
    assert out.count("matched") == 4  # master, allocator, two agents


def test_replay_show_state_prints_the_actors_state(journal, capsys) -> None:
    assert main(["replay", "--file", journal, "--actor", "master", "--show-state"]) == 0
    assert '"frameworks"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["log", "trace", "no-such-id"], "no message or task with id 'no-such-id'"),
        (["log", "explain", "--framework", "nobody"], "framework 'nobody' does not appear"),
    ],
)
def test_unknown_ids_are_one_clear_line_and_exit_1(journal, capsys, argv, message) -> None:
    head = argv[:2] if argv[0] == "log" else argv[:1]
    assert main(head + ["--file", journal] + argv[len(head):]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_a_bad_time_is_a_usage_error(journal, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["log", "show", "--file", journal, "--since", "yesterday-ish"])
    assert exit_.value.code == 2
    assert "neither an ISO 8601 time nor seconds" in capsys.readouterr().err


def test_a_missing_file_is_one_line(capsys) -> None:
    assert main(["log", "show", "--file", "/nonexistent/journal.msgpack"]) == 1
    assert "No such file" in capsys.readouterr().err


def test_no_source_is_one_line(capsys, monkeypatch) -> None:
    monkeypatch.delenv("MESOBUS_BROKER", raising=False)
    assert main(["log", "show"]) == 1
    assert "give --file PATH or --broker URL" in capsys.readouterr().err
