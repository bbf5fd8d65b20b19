"""Responses shared by the operator API's modules: JSON (with Mesos' `?jsonp=`), errors,
and the standby's redirect to the leader."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from actors.master.snapshot import Snapshot
from actors.operator.authorize import visible
from actors.operator.source import MasterSource

_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,99}$")


def json_response(request: Request, data: Any, status: int = 200) -> Response:
    """JSON, or `cb(JSON);` as text/javascript when `?jsonp=cb` is given (as Mesos)."""
    body = json.dumps(data, separators=(",", ":"))
    callback = request.query_params.get("jsonp")
    if callback:
        if not _CALLBACK.match(callback):
            return error(400, "jsonp: expected a JavaScript identifier")
        return Response(f"{callback}({body});", status, media_type="text/javascript")
    return Response(body, status, media_type="application/json")


def error(status: int, message: str) -> Response:
    """Mesos answers a bad request with its reason as plain text."""
    return Response(message + "\n", status, media_type="text/plain")


def redirect_to_leader(request: Request, source: MasterSource, path: str | None = None) -> Response:
    """307 to the leader's //host:port (+ the path asked for), 503 when none leads."""
    leader = source.leader_address()
    if leader is None:
        return error(503, "no master is leading")
    location = f"//{leader}{path if path is not None else request.url.path}"
    if path is None and request.url.query:
        location += "?" + request.url.query
    return Response(status_code=307, headers={"Location": location})


def snapshot_or_redirect(request: Request) -> Snapshot | Response:
    source: MasterSource = request.app.state.source
    if not source.leading:
        return redirect_to_leader(request, source)
    try:
        return visible(request, source.snapshot())  # type: ignore[return-value]
    except TimeoutError as err:
        return error(503, str(err))


def int_param(request: Request, name: str, default: int, low: int = 0, high: int = 10**9) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name}: expected a whole number from {low} to {high}, not {raw!r}")
    return int(raw)
