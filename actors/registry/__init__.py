"""The master's registry: what operators set and which agents were admitted, kept in a
replicated log that a new leader reads before it takes its first message (as Mesos'
registrar). See docs/master.md "The registry".

    registry = Registry.elect(log, holder="master on h1", nonce=new_id())   # on a broker
    registry.epoch                      # this leader's epoch: its Elected record's position + 1
    registry.write(WeightsSet({"web": 2.0}))   # in the log before it returns
    registry.state.weights              # {"web": 2.0}
"""

from actors.registry.follower import RegistryFollower
from actors.registry.log import FileRegistryLog, MemoryRegistryLog, RegistryError, RegistryLog
from actors.registry.registry import Folded, Registry
from actors.registry.state import RegistryState

__all__ = [
    "FileRegistryLog", "Folded", "MemoryRegistryLog", "Registry", "RegistryError", "RegistryFollower", "RegistryLog",
    "RegistryState",
]
