"""The record format of a framework's persisted state (actors/frameworks/hosting/store.py):
an append-only log of msgpack records, ["put", key, value] / ["del", key] / ["snap", {...}],
folded into a key/value map. Shared by the file store and the broker's stream store
(rabbitmq/state_store.py), so that neither imports the other.

>>> state = fold([["put", "a", 1], ["put", "b", 2], ["del", "a"], ["junk"]])
>>> state
{'b': 2}
>>> apply_record(state, ["snap", {"c": 3}]); state
{'c': 3}
"""

from __future__ import annotations

from typing import Any, Iterable

import msgpack

MAX_VALUE_BYTES = 16 * 2**20  # one value; bounded before it is written or read


class StoreError(Exception):
    """The state could not be read or written (one line, for the user)."""


def encode_change(key: str, value: Any, deleted: bool = False) -> bytes:
    """One record of the log: ["put", key, value] / ["del", key] / ["snap", {...}]."""
    record = ["del", key] if deleted else ["put", key, value]
    data = msgpack.packb(record, use_bin_type=True)
    if len(data) > MAX_VALUE_BYTES:
        raise StoreError(f"value for {key!r} is {len(data)} bytes, more than {MAX_VALUE_BYTES}")
    return data


def encode_snapshot(state: dict[str, Any]) -> bytes:
    return msgpack.packb(["snap", state], use_bin_type=True)


def apply_record(state: dict[str, Any], record: Any) -> None:
    """Fold one decoded record into `state`; records of another shape are ignored."""
    if not isinstance(record, list) or not record:
        return
    kind = record[0]
    if kind == "put" and len(record) == 3 and isinstance(record[1], str):
        state[record[1]] = record[2]
    elif kind == "del" and len(record) == 2:
        state.pop(record[1], None)
    elif kind == "snap" and len(record) == 2 and isinstance(record[1], dict):
        state.clear()
        state.update(record[1])


def fold(records: Iterable[Any]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for record in records:
        apply_record(state, record)
    return state
