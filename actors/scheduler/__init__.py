"""The framework API: subclass `Scheduler`, override its callbacks, `run` it.

>>> from actors.scheduler import Scheduler, SchedulerHandle
"""

from actors.scheduler.base import Scheduler
from actors.scheduler.run import SchedulerHandle

__all__ = ["Scheduler", "SchedulerHandle"]
