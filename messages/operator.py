"""Messages of the operator's HTTP API (actors/operator/) to the master it runs beside.

Weights and quota travel as the allocation catalogue's `WeightsUpdated`/`QuotaUpdated`,
sent to the master (which keeps them and forwards them to its allocator); the master
answers each operator write with an `OperatorAnswer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from messages.catalogue import message


# operator -> master: remove this framework and kill its tasks (TEARDOWN, /master/teardown).
@message
@dataclass(frozen=True)
class TeardownFramework:
    framework_id: str


# master -> operator: the answer to an operator's write: done, or why not (an HTTP 400).
@message
@dataclass(frozen=True)
class OperatorAnswer:
    ok: bool
    message: str = ""
