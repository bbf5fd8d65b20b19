"""A Chronos job as JSON: checked, defaulted and written back with Chronos' field names,
types and defaults (JobSerializer/JobDeserializer), as plain dicts.

>>> job = parse_job({"name": "etl", "command": "echo hi", "schedule": "R/2024-01-01T00:00:00Z/PT1H"})
>>> job["retries"], job["shell"], job["cpus"], job["parents"] if "parents" in job else None
(2, True, 0.0, None)
>>> try:
...     parse_job({"name": "bad name", "command": "x", "parents": ["a"]})
... except JobInvalid as err:
...     print(err)
name 'bad name': use letters, digits, '_', '.' and '-'
"""

from __future__ import annotations

import re
from typing import Any

from messages import CommandURI, ContainerInfo, ContainerType

NAME = re.compile(r"^[\w.-]+$")
MAX_NAME = 200
MAX_TEXT = 64 * 1024  # command, description and the like
MAX_LIST = 256  # uris, arguments, parents, env, constraints
MAX_ITEM = 4096
CONSTRAINT_OPS = ("EQUALS", "LIKE", "UNLIKE")

# Field -> (type, default), in Chronos' serialisation order.
_STRINGS = ("command", "executor", "executorFlags", "taskInfoData", "owner", "ownerName", "description",
            "runAsUser")
_BOOLS = {"shell": True, "disabled": False, "softError": False, "dataProcessingJobType": False,
          "highPriority": False, "concurrent": False}
_STATS = ("successCount", "errorCount", "lastSuccess", "lastError", "errorsSinceLastSuccess")
ORDER = ("name", "command", "shell", "epsilon", "executor", "executorFlags", "taskInfoData", "retries", "owner",
         "ownerName", "description", "successCount", "errorCount", "lastSuccess", "lastError", "cpus", "disk",
         "mem", "disabled", "softError", "dataProcessingJobType", "errorsSinceLastSuccess", "fetch", "uris",
         "environmentVariables", "arguments", "highPriority", "runAsUser", "concurrent", "maxCompletionTime",
         "container", "constraints", "parents", "schedule", "scheduleTimeZone")


class JobInvalid(ValueError):
    """A job definition that cannot be used; the message names the field."""


def _text(job: dict, key: str, value: Any, limit: int = MAX_TEXT) -> None:
    if not isinstance(value, str):
        raise JobInvalid(f"{key}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise JobInvalid(f"{key}: longer than {limit} characters")
    job[key] = value


def _number(key: str, value: Any, *, integer: bool = False, low: float = 0, high: float = 1e12) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        raise JobInvalid(f"{key}: expected {'an integer' if integer else 'a number'}, got {value!r}")
    if not low <= value <= high:
        raise JobInvalid(f"{key}: {value!r} is out of range [{low}, {high:g}]")
    return int(value) if integer else float(value)


def _strings(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise JobInvalid(f"{key}: expected a list of at most {MAX_LIST} strings")
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_ITEM:
            raise JobInvalid(f"{key}: every item must be a string of at most {MAX_ITEM} characters")
    return list(value)


def _env(value: Any) -> list[dict]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise JobInvalid(f"environmentVariables: expected a list of at most {MAX_LIST} {{name, value}}")
    out = []
    for item in value:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]
                and isinstance(item.get("value", ""), str)) or len(str(item.get("value", ""))) > MAX_ITEM:
            raise JobInvalid(f"environmentVariables: {str(item)[:80]!r} is not {{\"name\": ..., \"value\": ...}}")
        out.append({"name": item["name"][:MAX_ITEM], "value": item.get("value", "")})
    return out


def _fetch(value: Any) -> list[dict]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise JobInvalid(f"fetch: expected a list of at most {MAX_LIST} {{uri, ...}}")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str) or not item["uri"]:
            raise JobInvalid(f"fetch: {str(item)[:80]!r} has no uri")
        entry = {"uri": item["uri"][:MAX_ITEM]}
        for flag in ("executable", "cache", "extract"):
            entry[flag] = bool(item.get(flag, flag == "extract"))
        output = item.get("output_file")
        if isinstance(output, str) and output:
            if output.startswith("/") or ".." in output.split("/"):
                raise JobInvalid(f"fetch: output_file {output[:80]!r} must be a relative path inside the sandbox")
            entry["output_file"] = output[:MAX_ITEM]
        out.append(entry)
    return out


def _constraints(value: Any) -> list[list[str]]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise JobInvalid(f"constraints: expected a list of at most {MAX_LIST} [attribute, operator, value]")
    out = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) for x in item)):
            raise JobInvalid(f"constraints: {str(item)[:80]!r} is not [attribute, operator, value]")
        if item[1] not in CONSTRAINT_OPS:
            raise JobInvalid(f"constraints: unknown operator {item[1]!r} (one of {', '.join(CONSTRAINT_OPS)})")
        if item[1] != "EQUALS":
            try:
                re.compile(item[2])
            except re.error as err:
                raise JobInvalid(f"constraints: bad pattern {item[2]!r}: {err}") from None
        out.append([item[0][:MAX_ITEM], item[1], item[2][:MAX_ITEM]])
    return out


def parse_job(data: Any, *, dependent: bool | None = None) -> dict[str, Any]:
    """A complete job from a client's JSON (missing fields get Chronos' defaults).
    `dependent`: True for /dependency (parents required), False for /iso8601 (schedule
    required), None: whichever the job has. Raises JobInvalid."""
    if not isinstance(data, dict):
        raise JobInvalid("expected a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise JobInvalid("name: required")
    if len(name) > MAX_NAME or not NAME.match(name):
        raise JobInvalid(f"name {name[:MAX_NAME]!r}: use letters, digits, '_', '.' and '-'")
    job: dict[str, Any] = {"name": name}
    for key in _STRINGS:
        _text(job, key, data.get(key) if data.get(key) is not None else "")
    if not job["command"] and not (data.get("container") and data.get("shell", True) is False):
        raise JobInvalid("command: required")
    for key, default in _BOOLS.items():
        value = data.get(key, default)
        if value is None:
            value = default
        if not isinstance(value, bool):
            raise JobInvalid(f"{key}: expected true or false, got {value!r}")
        job[key] = value
    job["retries"] = _number("retries", data.get("retries", 2), integer=True, high=100)
    job["cpus"] = _number("cpus", data.get("cpus") or 0, high=1024)
    job["mem"] = _number("mem", data.get("mem") or 0, high=2**30)
    job["disk"] = _number("disk", data.get("disk") or 0, high=2**40)
    job["maxCompletionTime"] = _number("maxCompletionTime", data.get("maxCompletionTime") or 0, integer=True,
                                       high=10**10)
    for key in ("successCount", "errorCount", "errorsSinceLastSuccess"):
        job[key] = _number(key, data.get(key) or 0, integer=True, high=2**62)
    for key in ("lastSuccess", "lastError"):
        _text(job, key, data.get(key) or "", 64)
    job["uris"] = _strings("uris", data.get("uris") or [])
    job["arguments"] = _strings("arguments", data.get("arguments") or [])
    job["fetch"] = _fetch(data.get("fetch") or [])
    job["environmentVariables"] = _env(data.get("environmentVariables") or [])
    job["constraints"] = _constraints(data.get("constraints") or [])
    container = data.get("container")
    if container is not None:
        if not isinstance(container, dict) or not isinstance(container.get("image"), str):
            raise JobInvalid("container: expected an object with type and image")
        if len(repr(container)) > MAX_TEXT:
            raise JobInvalid(f"container: larger than {MAX_TEXT} characters")
        if str(container.get("type", "DOCKER")).upper() not in ("DOCKER", "MESOS"):
            raise JobInvalid("container: type must be DOCKER or MESOS")
        job["container"] = container
    epsilon = data.get("epsilon")
    if epsilon not in (None, ""):
        _text(job, "epsilon", epsilon, 64)
        from actors.frameworks.jobs.schedule import ScheduleError, parse_period

        try:
            parse_period(epsilon, "epsilon")
        except ScheduleError as err:
            raise JobInvalid(str(err)) from None
    has_parents, has_schedule = data.get("parents") is not None, bool(data.get("schedule"))
    if dependent is None:
        dependent = has_parents and not has_schedule
    if dependent:
        parents = _strings("parents", data.get("parents") or [])
        if not parents:
            raise JobInvalid("parents: a dependent job needs at least one parent")
        if name in parents:
            raise JobInvalid(f"parents: {name!r} cannot be its own parent")
        job["parents"] = list(dict.fromkeys(parents))
    else:
        if not has_schedule:
            raise JobInvalid("schedule: required (or parents, posted to /v1/scheduler/dependency)")
        _text(job, "schedule", data["schedule"], 256)
        _text(job, "scheduleTimeZone", data.get("scheduleTimeZone") or "", 64)
    return job


def is_dependent(job: dict) -> bool:
    return "parents" in job


def to_json(job: dict, stats: dict | None = None) -> dict[str, Any]:
    """The job as Chronos serialises it (stats folded in; `container` only when set)."""
    merged = {**job, **(stats or {})}
    return {key: merged[key] for key in ORDER if key in merged}


def fetch_uris(job: dict) -> tuple[CommandURI, ...]:
    """Chronos' `uris` (text) and `fetch` ({uri, executable, extract, cache, output_file})
    as the run's CommandInfo.uris.

    >>> [(u.value, u.executable) for u in fetch_uris({"uris": ["http://h/a"], "fetch": [
    ...     {"uri": "http://h/b", "executable": True, "cache": False, "extract": True}]})]
    [('http://h/a', False), ('http://h/b', True)]
    """
    uris = [CommandURI(u) for u in job.get("uris") or []]
    for item in job.get("fetch") or []:
        uris.append(CommandURI(item["uri"], executable=item["executable"], extract=item["extract"],
                               cache=item["cache"], output_file=item.get("output_file", "")))
    return tuple(uris)


def container_info(job: dict) -> ContainerInfo | None:
    """Chronos' `container` ({type: DOCKER (default) or MESOS, image, ...}) as Mesos'
    ContainerInfo; the agent decides whether it can run it.

    >>> container_info({"container": {"type": "MESOS", "image": ""}})
    ContainerInfo(type=<ContainerType.MESOS: 'MESOS'>, image='')
    """
    container = job.get("container")
    if not container:
        return None
    kind = ContainerType.MESOS if str(container.get("type", "DOCKER")).upper() == "MESOS" else ContainerType.DOCKER
    return ContainerInfo(kind, image=container.get("image") or "")
