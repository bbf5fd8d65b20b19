"""The master: frameworks, agents, offers and tasks, and its allocator.

>>> from actors.master import Master, MasterConfig, start_master
"""

import messages.master_timers  # noqa: F401  (registers the master's timer messages)
from actors.master.actor import Master
from actors.master.boot import start_master, stop_master
from actors.master.config import MasterConfig

__all__ = ["Master", "MasterConfig", "start_master", "stop_master"]
