"""The operator's writes, as the master carries them out: weights and quota (kept here for
the HTTP API's snapshot and forwarded to the allocator) and framework teardown. Each is
answered with an `OperatorAnswer`; only the master's own principal (its HTTP API runs in
its process) may send them.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from actors.master.common import framework_address
from messages import FrameworkError, QuotaUpdated, Resources, WeightsUpdated
from messages.operator import OperatorAnswer, TeardownFramework

if TYPE_CHECKING:
    from actors.master.actor import Master

log = logging.getLogger(__name__)


class OperatorCalls:
    def __init__(self, master: "Master") -> None:
        self.m = master
        self.weights: dict[str, float] = {}
        self.quotas: dict[str, Resources] = {}

    def handle(self, msg: Any) -> None:
        m = self.m
        if m.sender_user != m.transport.user:
            log.warning("master: operator call %s from %r refused", type(msg).__name__, m.sender_user)
            m.metrics["master/operator_calls_refused"] += 1
            m.reply(OperatorAnswer(False, f"{m.sender_user!r} may not make operator calls"))
            return
        problem = self._apply(msg)
        m.metrics["master/operator_calls"] += 1
        m.reply(OperatorAnswer(problem is None, problem or ""))

    def _apply(self, msg: Any) -> str | None:
        m = self.m
        if isinstance(msg, WeightsUpdated):
            bad = {r: w for r, w in msg.weights.items() if not (isinstance(w, (int, float)) and math.isfinite(w) and w > 0)}
            if bad:
                return f"weights must be positive numbers: {bad}"
            self.weights.update(msg.weights)
            m.send(m.config.allocator_address, msg)
        elif isinstance(msg, QuotaUpdated):
            if msg.limit.is_empty():
                self.quotas.pop(msg.role, None)
            else:
                self.quotas[msg.role] = msg.limit
            m.send(m.config.allocator_address, msg)
        elif isinstance(msg, TeardownFramework):
            if m.frameworks.get(msg.framework_id) is None:
                return f"no framework {msg.framework_id!r}"
            m.send(framework_address(msg.framework_id), FrameworkError("framework removed by the operator"))
            m.frameworks.remove(msg.framework_id, "torn down by the operator")
        return None
