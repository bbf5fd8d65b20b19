"""The framework state store in a file: what is put survives a reopen, a torn last write
loses only itself, the log is compacted within bounds,
and puts made together share one fsync (group commit), each durable when acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from actors.frameworks.hosting import FileStore, MemoryStore, StoreError, open_store
from actors.frameworks.hosting.store import MAX_VALUE_BYTES

ROOT = Path(__file__).resolve().parents[3]


def test_puts_and_deletes_survive_a_reopen(tmp_path) -> None:
    store = FileStore(tmp_path / "s.state")
    store.put("a", {"x": 1})
    store.put("b", [1, "two"])
    store.put("a", {"x": 2})
    store.delete("b")
    store.close()
    assert FileStore(tmp_path / "s.state").load() == {"a": {"x": 2}}


def test_a_torn_last_record_loses_only_itself(tmp_path) -> None:
    path = tmp_path / "s.state"
    store = FileStore(path)
    store.put("kept", 1)
    store.put("torn", "x" * 100)
    store.close()
    path.write_bytes(path.read_bytes()[:-20])
    assert FileStore(path).load() == {"kept": 1}


def test_a_torn_tail_is_read_up_to_the_tear(tmp_path) -> None:
    path = tmp_path / "s.state"
    store = FileStore(path)
    for i in range(5):
        store.put(f"k{i}", {"n": i, "pad": "x" * 50})
    store.close()
    whole = path.read_bytes()
    store = FileStore(path)  # reopened: one snapshot; then records appended after it
    store.put("after", 1)
    store.put("torn", "y" * 200)
    store.close()
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) - 100, len(data) - 205):
        path.write_bytes(data[:cut])
        state = FileStore(path).load()
        assert state.get("after") == 1 and "torn" not in state
        assert {k: v["n"] for k, v in state.items() if k.startswith("k")} == {f"k{i}": i for i in range(5)}
    path.write_bytes(whole[:-3])  # torn inside the only records: the ones before stand
    assert sorted(FileStore(path).load()) == ["k0", "k1", "k2", "k3"]


def test_compaction_is_bounded_by_the_state_size(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(FileStore, "COMPACT_MIN_BYTES", 2000)
    path = tmp_path / "s.state"
    store = FileStore(path)
    sizes = []
    for i in range(500):
        store.put("counter", i)
        store.put(f"key{i % 20}", "v" * 40)
        sizes.append(path.stat().st_size)
    store.close()
    state_bytes = 20 * 50
    assert max(sizes) < 3 * max(state_bytes, 2000) + 200  # never more than ~3 snapshots' worth
    assert FileStore(path).load()["counter"] == 499


def test_puts_staged_together_share_one_fsync(tmp_path) -> None:
    store = FileStore(tmp_path / "s.state")
    before = store.fsyncs
    numbers = [store.stage(f"job/{i}", {"i": i}) for i in range(100)]
    store.wait(numbers[-1])
    assert store.fsyncs == before + 1
    store.wait(numbers[0])  # already durable: no more fsyncs
    assert store.fsyncs == before + 1
    store.close()
    assert len(FileStore(tmp_path / "s.state").load()) == 100


def test_concurrent_puts_are_grouped_and_each_durable_on_return(tmp_path) -> None:
    store = FileStore(tmp_path / "s.state")
    before = store.fsyncs
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: store.put(f"k{i}", i), range(400)))
    grouped = store.fsyncs - before
    store.close()
    assert FileStore(tmp_path / "s.state").load() == {f"k{i}": i for i in range(400)}
    assert grouped < 400  # some callers shared an fsync (how many depends on timing)


def test_a_failed_fsync_fails_every_later_write(tmp_path, monkeypatch) -> None:
    store = FileStore(tmp_path / "s.state")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    with pytest.raises(StoreError, match="Input/output error"):
        store.put("a", 1)
    monkeypatch.undo()
    with pytest.raises(StoreError, match="Input/output error"):
        store.put("b", 2)  # not retried: what the failed fsync left on disk is unknown


_WRITER = """
import sys
from actors.frameworks.hosting import FileStore
store = FileStore(sys.argv[1])
for i in range(100000):
    n = store.stage(f"k{i}", {"i": i, "pad": "p" * 100})
    if i % 7 == 0:
        store.wait(n)
        print(i, flush=True)  # acknowledged: everything up to i is durable
"""


def test_a_kill_9_after_an_acknowledged_put_keeps_it(tmp_path) -> None:
    path = tmp_path / "s.state"
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    acknowledged = -1
    try:
        for line in child.stdout:
            acknowledged = int(line)
            if acknowledged >= 3000:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    assert acknowledged >= 3000
    state = FileStore(path).load()
    assert all(state[f"k{i}"]["i"] == i for i in range(acknowledged + 1))
    assert len(state) >= acknowledged + 1 and set(state) == {f"k{i}" for i in range(len(state))}


def test_a_value_too_large_is_refused_with_its_key() -> None:
    with pytest.raises(StoreError, match="'big'"):
        MemoryStore().put("big", b"x" * (MAX_VALUE_BYTES + 1))


def test_an_unwritable_place_is_one_clear_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="state file"):
        FileStore(blocker / "sub" / "s.state")


def test_open_store_picks_a_file_when_embedded(tmp_path) -> None:
    store = open_store("memory://", "services", state_dir=tmp_path)
    store.put("k", "v")
    store.close()
    assert (tmp_path / "services.state").exists()
    assert isinstance(open_store("memory://", "services"), MemoryStore)
