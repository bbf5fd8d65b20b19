import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from actors.http import HttpServer, listen_address


def _app() -> Starlette:
    return Starlette(routes=[Route("/ping", lambda request: JSONResponse({"pong": True}))])


def test_serves_on_an_ephemeral_port_and_stops():
    server = HttpServer(_app(), "127.0.0.1", 0).start()
    try:
        assert httpx.get(f"{server.url}/ping").json() == {"pong": True}
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/ping", timeout=1)


def test_a_taken_port_is_an_oserror_naming_the_address():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            HttpServer(_app(), "127.0.0.1", port).start()


@pytest.mark.parametrize("text", ["5050", "host:", ":80", "h:99999", "h:x"])
def test_listen_address_names_what_is_wrong(text):
    with pytest.raises(ValueError, match="HOST:PORT"):
        listen_address(text)
