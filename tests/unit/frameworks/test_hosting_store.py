"""The framework state store in a file: what is put survives a reopen, a torn last write
loses only itself, and the log is compacted."""

from __future__ import annotations

import pytest

from actors.frameworks.hosting import FileStore, MemoryStore, StoreError, open_store
from actors.frameworks.hosting.store import MAX_VALUE_BYTES


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


def test_the_log_is_compacted_to_one_snapshot(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(FileStore, "COMPACT_EVERY", 10)
    path = tmp_path / "s.state"
    store = FileStore(path)
    for i in range(25):
        store.put("counter", i)
    size = path.stat().st_size
    store.close()
    assert size < 200  # a snapshot and at most 9 small records, not 25
    assert FileStore(path).load() == {"counter": 24}


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
