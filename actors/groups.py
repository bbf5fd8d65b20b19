"""The broadcast groups of a cluster: how a master reaches agents and frameworks it does
not know yet. Every agent's mailbox is also in `agents_group(master)`, every scheduler's
in `frameworks_group(master)`; a master that starts (a new leader, or a restart) tells
both groups to register with it again instead of waiting for their timeouts.

>>> agents_group("master"), frameworks_group("master")
('group.master.agents', 'group.master.frameworks')
"""

from __future__ import annotations

from actors.runtime.transport import group_address


def agents_group(master: str) -> str:
    return group_address(f"{master}.agents")


def frameworks_group(master: str) -> str:
    return group_address(f"{master}.frameworks")
