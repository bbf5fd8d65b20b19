"""`mesobus services`: a built-in framework for long-running apps, speaking Marathon's v2
REST API (docs/services.md). A `Scheduler` subclass (scheduler.py) holds the state
machine (core.py, placement.py, rollout.py); api.py and shapes.py are the HTTP side.

>>> from actors.frameworks.services import SPEC
>>> SPEC.name
'services'
"""

from actors.frameworks.hosting import Hosted
from actors.frameworks.services.api import build_app
from actors.frameworks.services.scheduler import ServicesScheduler, call

SPEC = Hosted(name="services", scheduler=ServicesScheduler, build_app=build_app, proxy_standby=True)

__all__ = ["SPEC", "ServicesScheduler", "build_app", "call"]
