"""`GET /mesobus/allocation?framework_id=`: why the allocator's latest run offered a
framework nothing (a mesobus extension; the same records `mesobus log explain` reads).

Answers `{"run_at", "reasons": {reason: count}, "skips": [{reason, role, agent_id, until}]}`
for the skips that applied to the framework (`agent_id` null: every agent), or 404 when the
allocator keeps no explanation (a master run with `--no-journal` does not explain).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.operator.respond import error, json_response, redirect_to_leader

MAX_SKIPS = 200


def latest_explanation(allocator_ref) -> object | None:
    """The allocator's last run's record, fetched on its thread (it is complete once set
    and never changed after, so reading it here is safe)."""
    import pykka

    try:
        core = allocator_ref.proxy().core.get(timeout=2)
    except (pykka.ActorDeadError, pykka.Timeout):
        return None
    return getattr(core, "last_explanation", None)


async def allocation(request: Request) -> Response:
    source = request.app.state.source
    if not source.leading:
        return redirect_to_leader(request, source)
    framework_id = request.query_params.get("framework_id", "")
    if not framework_id:
        return error(400, "framework_id: required")
    if source.explain is None:
        return error(404, "this master's allocator keeps no explanations")
    explanation = await run_in_threadpool(source.explain)
    if explanation is None:
        return error(404, "no allocation run explained yet (the master explains when its journal is on)")
    skips = [s for s in explanation.skips if s.framework_id in (None, framework_id)]
    reasons: dict[str, int] = {}
    for s in skips:
        reasons[s.reason] = reasons.get(s.reason, 0) + 1
    return json_response(request, {
        "run_at": explanation.now,
        "reasons": reasons,
        "skips": [{"reason": s.reason, "role": s.role, "agent_id": s.agent_id, "until": s.until}
                  for s in skips[:MAX_SKIPS]],
    })


routes = [Route("/mesobus/allocation", allocation)]
