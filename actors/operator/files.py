"""Sandbox files from anywhere: `/files/browse`, `/files/read`, `/files/download` and the
v1 `LIST_FILES`/`READ_FILE`, answered by asking the agent over the broker (no agent host
needs to be reachable from the browser).

A path names the agent, then the sandbox under its work dir:

    /agents/<agent_id>/frameworks/<framework_id>/executors/<executor_id>/runs/latest[/tasks/<task_id>]/stdout

(`sandbox_path()` builds a task's). The agent refuses anything outside its sandboxes
(actors/agent/files.py); pages are at most PAGE bytes, and a download streams page by page.

>>> split_path("/agents/a1/frameworks/f1/stdout")
('a1', 'frameworks/f1/stdout')
"""

from __future__ import annotations

import base64
import itertools
import os
import time
from typing import Any, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from actors.operator.authorize import sandbox_refusal
from actors.operator.respond import error, int_param, json_response, redirect_to_leader
from messages import Envelope
from messages.addresses import agent_address
from messages.ids import COMMAND_EXECUTOR_ID, address_id_problem
from messages.operator import ListSandbox, ReadSandboxFile, SandboxFileData, SandboxListing

PAGE = 1 << 20  # the most one read returns (Mesos' /files/read default length is the rest of the file)
ASK_SECONDS = 10.0


class FileError(ValueError):
    """A bad path, or one the agent refused (HTTP 400 / 404)."""


def sandbox_path(agent_id: str, framework_id: str, executor_id: str, task_id: str) -> str:
    base = f"/agents/{agent_id}/frameworks/{framework_id}/executors/{executor_id}/runs/latest"
    return f"{base}/tasks/{task_id}" if executor_id == COMMAND_EXECUTOR_ID else base


def split_path(path: str) -> tuple[str, str]:
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] != "agents" or parts[2] != "frameworks":
        raise FileError(f"path {path!r}: expected /agents/<agent_id>/frameworks/...")
    problem = address_id_problem("agent id", parts[1])
    if problem:
        raise FileError(problem)
    return parts[1], "/".join(parts[2:])


class SandboxReader:
    """Asks agents for listings and pages (through the transport's reply mailbox)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self._ids, self._prefix = itertools.count(1), os.urandom(4).hex()

    def _ask(self, agent_id: str, body: Any) -> Any:
        envelope = Envelope(id=f"files.{self._prefix}.{next(self._ids)}", sender="operator",
                            target=agent_address(agent_id), body=body, sent_at=time.time())
        try:
            return self.transport.ask(envelope, ASK_SECONDS).result(ASK_SECONDS + 1).body
        except (TimeoutError, OSError) as err:
            raise TimeoutError(f"agent {agent_id} did not answer: {err}") from None

    def list(self, path: str) -> list[dict]:
        agent_id, rel = split_path(path)
        answer = self._ask(agent_id, ListSandbox(rel))
        if not isinstance(answer, SandboxListing) or answer.error:
            raise FileError(getattr(answer, "error", "") or "the agent could not list it")
        return [{"path": f"/agents/{agent_id}/{e.path}", "size": e.size, "mtime": e.mtime, "mode": e.mode,
                 "nlink": e.nlink, "uid": e.uid, "gid": e.gid} for e in answer.entries]

    def read(self, path: str, offset: int, length: int) -> SandboxFileData:
        agent_id, rel = split_path(path)
        answer = self._ask(agent_id, ReadSandboxFile(rel, offset, min(length, PAGE)))
        if not isinstance(answer, SandboxFileData) or answer.error:
            raise FileError(getattr(answer, "error", "") or "the agent could not read it")
        return answer


async def _reader(request: Request, path: str) -> SandboxReader | Response:
    source = request.app.state.source
    if not source.leading:
        return redirect_to_leader(request, source)
    if source.files is None:
        return error(503, "sandbox files are not served by this master")
    refused = await run_in_threadpool(sandbox_refusal, request, path)  # ACL access_sandboxes
    return refused if refused is not None else source.files


def _failure(err: Exception) -> Response:
    if isinstance(err, TimeoutError):
        return error(504, str(err))
    return error(404 if "no such file" in str(err) else 400, str(err))


async def browse(request: Request) -> Response:
    reader = await _reader(request, request.query_params.get("path", ""))
    if isinstance(reader, Response):
        return reader
    try:
        entries = await run_in_threadpool(reader.list, request.query_params.get("path", ""))
    except (FileError, TimeoutError) as err:
        return _failure(err)
    return json_response(request, entries)


async def read(request: Request) -> Response:
    """Mesos' {"offset", "data"}: offset -1 (or none) answers the file's size as offset."""
    reader = await _reader(request, request.query_params.get("path", ""))
    if isinstance(reader, Response):
        return reader
    try:
        raw_offset = request.query_params.get("offset", "-1")
        offset = -1 if raw_offset == "-1" else int_param(request, "offset", -1)
        length = int_param(request, "length", PAGE, 0, 1 << 40)
        data = await run_in_threadpool(reader.read, request.query_params.get("path", ""), offset, length)
    except ValueError as err:
        return _failure(err)
    except TimeoutError as err:
        return _failure(err)
    return json_response(request, {"offset": data.offset, "data": data.data.decode("utf-8", "replace")})


async def download(request: Request) -> Response:
    path = request.query_params.get("path", "")
    reader = await _reader(request, path)
    if isinstance(reader, Response):
        return reader
    try:
        first = await run_in_threadpool(reader.read, path, 0, PAGE)
    except (FileError, TimeoutError) as err:
        return _failure(err)

    def pages() -> Iterator[bytes]:
        page = first
        while page.data:
            yield page.data
            offset = page.offset + len(page.data)
            if offset >= page.size:
                return
            page = reader.read(path, offset, PAGE)

    name = path.rstrip("/").rpartition("/")[2] or "file"
    return StreamingResponse(pages(), media_type="application/octet-stream",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def v1_call(request: Request, call: dict) -> Response:
    import json

    kind = call["type"]
    body = call.get(kind.lower())
    if not isinstance(body, dict) or not isinstance(body.get("path"), str):
        return error(400, f"{kind}: expected {{{kind.lower()!r}: {{\"path\": ...}}}}")
    reader = await _reader(request, body["path"])
    if isinstance(reader, Response):
        return reader
    try:
        if kind == "LIST_FILES":
            entries = await run_in_threadpool(reader.list, body["path"])
            answer = {"file_infos": [{"path": e["path"], "nlink": e["nlink"], "size": e["size"],
                                      "mtime": {"nanoseconds": int(e["mtime"] * 1e9)}, "mode": e["mode"],
                                      "uid": e["uid"], "gid": e["gid"]} for e in entries]}
        else:
            offset, length = body.get("offset", 0), body.get("length", PAGE)
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (offset, length)):
                return error(400, "READ_FILE: offset and length must be whole numbers >= 0")
            data = await run_in_threadpool(reader.read, body["path"], offset, length)
            answer = {"size": data.size, "data": base64.b64encode(data.data).decode()}
    except (FileError, TimeoutError) as err:
        return _failure(err)
    return Response(json.dumps({"type": kind, kind.lower(): answer}), media_type="application/json")


routes = [
    Route("/files/browse", browse),
    Route("/files/browse.json", browse),
    Route("/files/read", read),
    Route("/files/read.json", read),
    Route("/files/download", download),
    Route("/files/download.json", download),
]
