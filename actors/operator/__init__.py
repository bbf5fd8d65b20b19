"""The operator's window: the master's Mesos-compatible HTTP API, metrics and web UI.

>>> from actors.operator import MasterSource, operator_app
"""

from actors.operator.app import operator_app
from actors.operator.source import MasterSource

__all__ = ["MasterSource", "operator_app"]
