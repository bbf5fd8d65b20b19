"""The master's HTTP API as one Starlette app: Mesos' v0 endpoints, metrics, the v1
operator API, sandbox files and the web UI, each a table of routes in its own module.

>>> from starlette.testclient import TestClient
>>> app = operator_app(MasterSource("127.0.0.1:5050"))
>>> TestClient(app).get("/master/redirect", follow_redirects=False).status_code  # a standby, no leader known
503
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from typing import Any

from actors.master.acls import ACLs
from actors.operator import master_v0, metrics
from actors.operator.authenticate import HttpAuth
from actors.operator.authorize import EndpointGuard
from actors.operator.source import MasterSource

WEBUI = Path(__file__).resolve().parent / "webui"


def operator_app(source: MasterSource, flags: dict[str, str] | None = None, *,
                 auth: HttpAuth | None = None, acls: ACLs | None = None) -> Any:
    """The app serving `source` (see actors/http/server.py to run it): behind HTTP Basic
    auth when `auth` is given (authenticate.py), with `acls` applied to the principal
    (authorize.py; default: everything allowed)."""
    from actors.operator import api_v1, explain, files, legacy

    api = [*master_v0.routes, *metrics.routes, *api_v1.routes, *legacy.routes, *files.routes, *explain.routes]
    routes = list(api)
    if WEBUI.is_dir():
        routes.append(Mount("/", StaticFiles(directory=WEBUI, html=True), name="webui"))
    app = Starlette(routes=routes)
    app.state.source = source
    app.state.flags = flags or {}
    app.state.acls = acls or ACLs.permissive_default()
    served: Any = EndpointGuard(app, app.state.acls)
    return auth.wrap(served, api) if auth is not None else served
