"""The allocator's output: one framework's offer of one agent for one role.

>>> from messages import Resources
>>> Allocation("f1", "s1", "web", Resources.parse("cpus:2;mem:1024"))
Allocation(framework_id='f1', agent_id='s1', role='web', resources=Resources.parse('cpus:2;mem:1024'))
"""

from __future__ import annotations

from dataclasses import dataclass

from messages import Resources


@dataclass(frozen=True, slots=True)
class Allocation:
    """`resources` of `agent_id` go to `framework_id` under `role`, until recovered."""

    framework_id: str
    agent_id: str
    role: str
    resources: Resources
