"""`/metrics/snapshot` (Mesos' key names) and `/metrics` (the same figures in Prometheus'
text format, under `mesobus_` names, through prometheus-client).

>>> prometheus_name("master/tasks_running"), prometheus_name("allocator/mesos/allocation_run_ms")
('mesobus_master_tasks_running', 'mesobus_allocator_mesos_allocation_run_ms')
"""

from __future__ import annotations

import re
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.operator.respond import json_response
from actors.operator.source import MasterSource

_BAD = re.compile(r"[^a-zA-Z0-9_]")


def prometheus_name(key: str) -> str:
    return "mesobus_" + _BAD.sub("_", key)


def figures(source: MasterSource) -> dict[str, float]:
    """Every metric this master serves now (a standby: elected 0 and its uptime)."""
    snap = source.snapshot() if source.leading else None
    if snap is None:
        return {"master/elected": 0.0, "master/uptime_secs": time.time() - source.started}
    out = dict(snap.metrics)
    out["master/uptime_secs"] = max(time.time() - source.started, out.get("master/uptime_secs", 0.0))
    out["master/snapshot_build_ms"] = snap.built_in * 1000
    out.update(_allocator_figures(snap))
    return out


def _allocator_figures(snap) -> dict[str, float]:
    # Mesos' allocator/mesos/* names where the master's snapshot knows the figure.
    out: dict[str, float] = {}
    for name in ("cpus", "mem", "disk", "gpus"):
        out[f"allocator/mesos/resources/{name}/total"] = snap.metrics.get(f"master/{name}_total", 0.0)
        offered_or_used = snap.metrics.get(f"master/{name}_used", 0.0) + sum(
            o.resources.scalar(name) for o in snap.offers)
        out[f"allocator/mesos/resources/{name}/offered_or_allocated"] = offered_or_used
    for role, weight in snap.weights.items():
        out[f"allocator/mesos/roles/{role}/weight"] = weight
    return out


def snapshot(request: Request) -> Response:
    return json_response(request, figures(request.app.state.source))


class _Figures:
    def __init__(self, values: dict[str, float]) -> None:
        self.values = values

    def collect(self):
        for key, value in sorted(self.values.items()):
            yield GaugeMetricFamily(prometheus_name(key), f"Mesos metric {key}", value=value)


def prometheus(request: Request) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(figures(request.app.state.source)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/metrics/snapshot", snapshot),
    Route("/metrics", prometheus),
]
