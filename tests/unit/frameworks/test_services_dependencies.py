"""`dependencies` between apps: a group deploys level by level (an app starts only once
the apps it depends on run and are healthy), is removed dependents first, and a cycle is
refused with Marathon's 422 before anything changes."""

from __future__ import annotations

import pytest

from actors.frameworks.services import groups
from actors.frameworks.services.appdef import AppInvalid
from tests.unit.frameworks.services_world import World

SMALL = {"cmd": "x", "cpus": 0.1, "mem": 8}
CHECKED = {**SMALL, "healthChecks": [{"protocol": "TCP"}]}


def stack(w: World):
    return groups.put_group(w.s, {"id": "/shop", "apps": [
        {"id": "web", **SMALL, "dependencies": ["api"]},
        {"id": "api", **CHECKED, "dependencies": ["db"]},
        {"id": "db", **CHECKED},
    ]}, group_id=None, force=False)


def healthy(w: World, task_id: str) -> None:
    w.s.on_health({"taskId": task_id, "alive": True, "consecutiveFailures": 0})
    if w.s.dirty:
        w.s.wake()


def apps_of(tasks) -> list[str]:
    return sorted(t.task_id.rsplit(".", 1)[0] for t in tasks)


def test_a_group_deploys_in_dependency_order_waiting_for_health() -> None:
    w = World()
    d = stack(w)
    assert [[a["action"] + " " + a["app"] for a in step] for step in d.steps] == [
        ["StartApplication /shop/api", "StartApplication /shop/db", "StartApplication /shop/web"],
        ["ScaleApplication /shop/db"], ["ScaleApplication /shop/api"], ["ScaleApplication /shop/web"]]
    [db] = w.launch(w.offer())
    assert apps_of([db]) == ["shop_db"]
    w.status(db.task_id, "TASK_RUNNING")
    assert w.launch(w.offer()) == []  # running is not enough: db checks its health
    healthy(w, db.task_id)
    [api] = w.launch(w.offer())
    assert apps_of([api]) == ["shop_api"]
    w.status(api.task_id, "TASK_RUNNING")
    healthy(w, api.task_id)
    [web] = w.launch(w.offer())
    assert apps_of([web]) == ["shop_web"]
    w.status(web.task_id, "TASK_RUNNING")
    assert d.id not in w.s.deployments


def test_a_group_is_removed_dependents_first() -> None:
    w = World()
    stack(w)
    ids = {}
    for _ in range(3):
        for task in w.launch(w.offer()):
            ids[task.task_id.rsplit(".", 1)[0]] = task.task_id
            w.status(task.task_id, "TASK_RUNNING")
            healthy(w, task.task_id)
    d = groups.delete_group(w.s, "/shop", force=False)
    assert [[a["app"] for a in step] for step in d.steps] == [["/shop/web"], ["/shop/api"], ["/shop/db"]]
    for app in ("shop_web", "shop_api", "shop_db"):
        assert w.kills() == [ids[app]]  # one at a time: the next once this one is gone
        w.status(ids[app], "TASK_KILLED")
    assert not w.s.stopping and d.id not in w.s.deployments


def test_a_cycle_is_refused_with_422_and_changes_nothing() -> None:
    w = World()
    with pytest.raises(AppInvalid) as err:
        groups.put_group(w.s, {"id": "/c", "apps": [{"id": "a", **SMALL, "dependencies": ["b"]},
                                                    {"id": "b", **SMALL, "dependencies": ["/c/a"]}]},
                         group_id=None, force=False)
    assert err.value.body()["details"][0]["errors"][0].startswith("Dependency graph has cyclic dependencies.")
    assert not w.s.apps and not w.s.deployments
    w.s.put_app({"id": "/x", **SMALL, "dependencies": ["/y"]})
    with pytest.raises(AppInvalid):
        w.s.put_app({"id": "/y", **SMALL, "dependencies": ["/x"]})
    assert "/y" not in w.s.apps


def test_dependencies_are_relative_to_the_apps_group() -> None:
    w = World()
    _, _, _ = w.s.put_app({"id": "/prod/web", **SMALL, "dependencies": ["db", "../shared/cache", "/prod/api"]})
    assert w.s.apps["/prod/web"].definition["dependencies"] == ["/prod/db", "/shared/cache", "/prod/api"]
    with pytest.raises(AppInvalid) as err:
        w.s.put_app({"id": "/prod/x", **SMALL, "dependencies": ["Not Valid"]})
    assert err.value.details[0]["path"] == "/dependencies(0)"


def test_a_dependency_on_an_app_that_does_not_exist_is_ignored() -> None:
    w = World()
    w.s.put_app({"id": "/lonely", **SMALL, "dependencies": ["/nowhere"]})
    assert len(w.launch(w.offer())) == 1
