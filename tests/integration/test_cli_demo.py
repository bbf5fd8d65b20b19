"""`mesobus demo` (embedded): results on stdout, progress on stderr, and no file written
to the current directory unless asked for: the journal goes to a temporary directory
named in the summary, or to --journal FILE."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.cluster_framework import ROOT


def demo(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path / "tmp"))
    env.pop("MESOBUS_BROKER", None)
    (tmp_path / "cwd").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "actors.cli.main", "demo", "--tasks", "4", *argv],
                          cwd=tmp_path / "cwd", env=env, capture_output=True, text=True, timeout=120)


def test_demo_writes_nothing_here_and_names_its_journal_in_the_summary_on_stdout(tmp_path) -> None:
    result = demo(tmp_path)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "cwd").iterdir()) == []
    assert "mesobus demo: 4 task(s) in" in result.stdout and "TASK_FINISHED    4" in result.stdout
    assert "task(s) in" not in result.stderr
    kept = list((tmp_path / "tmp").glob("mesobus-demo-journal-*/journal.msgpack"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    assert f"journal: file {kept[0]}" in result.stdout


def test_demo_journals_to_the_file_asked_for(tmp_path) -> None:
    result = demo(tmp_path, "--journal", str(tmp_path / "run.msgpack"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run.msgpack").stat().st_size > 0
    assert list((tmp_path / "tmp").glob("mesobus-demo-journal-*")) == []
