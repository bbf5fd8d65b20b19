"""The project's one HTTP stack: Starlette apps served by uvicorn on a thread of their own.

The master's Mesos-compatible API, `mesobus services` (Marathon's API) and `mesobus jobs`
(Chronos' API) each build a Starlette app and serve it with `HttpServer`.
"""

from actors.http.server import HttpServer, listen_address

__all__ = ["HttpServer", "listen_address"]
