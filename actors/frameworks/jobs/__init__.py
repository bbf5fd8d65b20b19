"""`mesobus jobs`: a built-in framework for scheduled and dependent batch jobs, speaking
Chronos' REST API (docs/jobs.md). A `Scheduler` subclass (scheduler.py) holds the state
machine (core.py) over the job model (model.py), schedules (schedule.py) and the
dependency graph (graph.py); api.py is the HTTP side.

>>> from actors.frameworks.jobs import SPEC
>>> SPEC.name
'jobs'
"""

from actors.frameworks.hosting import Hosted
from actors.frameworks.jobs.api import build_app
from actors.frameworks.jobs.scheduler import JobsScheduler, call

SPEC = Hosted(name="jobs", scheduler=JobsScheduler, build_app=build_app)

__all__ = ["SPEC", "JobsScheduler", "build_app", "call"]
