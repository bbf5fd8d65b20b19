"""`mesobus log export` of a window, replayed: actors whose whole history is in the
window replay and match; actors already at work before it are named as not replayable
from it, never reported as diverged."""

from __future__ import annotations

import time

import pytest

from actors.cli.main import main
from actors.cluster import LocalCluster
from actors.journal import JournalIndex, read_journal_file
from tests.support.recorded_framework import RecordedFramework


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[str, float, float]:
    """One journal file holding two clusters' runs one after the other; returns it, the
    time between the runs and a time in the middle of the second one."""
    path = str(tmp_path_factory.mktemp("journal-export") / "two-runs.msgpack")
    with LocalCluster(agents=2, journal=path) as cluster:
        assert RecordedFramework.run(cluster, name="first", tasks=4).join(60)
    between = time.time()
    time.sleep(0.05)
    with LocalCluster(agents=2, journal=path) as cluster:
        assert RecordedFramework.run(cluster, name="second", tasks=8).join(60)
    second = [e for e in read_journal_file(path) if e.sent_at > between and e.target != "journal"]
    return path, between, second[len(second) // 2].sent_at


def test_a_window_from_a_clusters_start_replays_that_cluster(two_runs, tmp_path, capsys) -> None:
    path, between, _ = two_runs
    out = str(tmp_path / "second.msgpack")
    assert main(["log", "export", "--file", path, "--since", str(between), "--out", out]) == 0
    err = capsys.readouterr().err
    assert "note: 4 actor(s) were at work before the window" in err  # the first cluster's
    assert main(["replay", "--file", out, "--actor", "all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(": matched: " in line for line in lines), lines


def test_a_window_from_the_middle_of_a_run_never_reports_a_divergence(two_runs, tmp_path, capsys) -> None:
    path, _, middle = two_runs
    out = str(tmp_path / "middle.msgpack")
    assert main(["log", "export", "--file", path, "--since", str(middle), "--out", out]) == 0
    assert "cannot be replayed from this export" in capsys.readouterr().err
    assert main(["replay", "--file", out, "--actor", "all"]) == 1
    captured = capsys.readouterr()
    assert "DIVERGED" not in captured.out
    assert "it begins after they started" in captured.err
    assert main(["replay", "--file", out, "--actor", "master"]) == 2
    assert "a journal or an export that begins after an actor started" in capsys.readouterr().err
    assert main(["log", "show", "--file", out, "--type", "StatusUpdate"]) == 0
    assert "TASK_FINISHED" in capsys.readouterr().out  # the window itself is all there
