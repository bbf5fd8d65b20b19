import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from actors.http.body import BadRequest, json_body


async def echo(request):
    try:
        return JSONResponse({"got": await json_body(request, 16)})
    except BadRequest as err:
        return JSONResponse({"message": str(err)}, status_code=400)


@pytest.fixture
def client():
    return TestClient(Starlette(routes=[Route("/", echo, methods=["POST"])]))


def test_json_within_the_limit_is_parsed(client):
    assert client.post("/", content=b'{"a": 1}').json() == {"got": {"a": 1}}
    assert client.post("/", content=b"").json() == {"got": None}


def test_a_body_over_the_limit_is_refused_even_without_a_length(client):
    def chunks():
        for _ in range(10):
            yield b"[1,2,3,4,5]"

    answer = client.post("/", content=chunks())  # chunked: no Content-Length to trust
    assert answer.status_code == 400 and "larger than 16 bytes" in answer.json()["message"]
    assert "larger than" in client.post("/", content=b"x" * 17).json()["message"]


def test_a_body_that_is_not_json_says_so(client):
    assert "invalid JSON" in client.post("/", content=b"{nope").json()["message"]
