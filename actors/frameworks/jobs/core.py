"""The jobs state machine on plain values: definitions, schedule positions, runs (queued
and running), stats. The scheduler actor (scheduler.py) feeds it the time, offers and
status updates and sends the `actions` it leaves; the HTTP API calls its methods on the
actor's thread. Every change is written to the state store before it is acted on (a run
is persisted with its task id before the task is launched), so a restarted process
neither loses nor repeats a run.

    jobs = Jobs(MemoryStore(), now=clock.now, new_id=ids)
    jobs.put({"name": "etl", "command": "echo hi", "schedule": "R//PT1M"})
    jobs.wake(); jobs.on_offers(offers); jobs.actions  # [("launch", offer, [TaskInfo])]
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from actors.frameworks.hosting.store import stage_delete, stage_put, wait_durable
from actors.frameworks.jobs.graph import creates_cycle
from actors.frameworks.jobs.model import JobInvalid, container_info, fetch_uris, is_dependent, parse_job, to_json
from actors.frameworks.jobs.schedule import Schedule, ScheduleError, parse_period
from actors.frameworks.jobs.shapes import as_timedelta, duration_text, fits, schedule_text
from actors.frameworks.jobs.stats import Stats
from actors.scheduler.tasks import build_task
from messages import CommandInfo, Offer, Resources, TaskState, TaskStatus

log = logging.getLogger(__name__)

DEFAULT_CPUS, DEFAULT_MEM, DEFAULT_DISK = 0.1, 128.0, 0.0
RETRY_BACKOFF, RETRY_BACKOFF_MAX = 1.0, 60.0  # seconds: 1, 2, 4 ... 60
MAX_JOBS = 100_000
MAX_WAITING = 100  # queued runs of one concurrent job; more are skipped and counted
_FAILED = {TaskState.TASK_FAILED, TaskState.TASK_KILLED, TaskState.TASK_ERROR, TaskState.TASK_LOST,
           TaskState.TASK_DROPPED, TaskState.TASK_GONE, TaskState.TASK_GONE_BY_OPERATOR, TaskState.TASK_UNKNOWN}


class NotFound(KeyError):
    pass


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def iso(epoch: float) -> str:
    """As Joda prints a UTC DateTime: 2024-01-01T05:00:00.000Z."""
    moment = utc(epoch)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Jobs:
    def __init__(self, store: Any, *, now: Callable[[], float], new_id: Callable[[], str],
                 epsilon: float | None = None) -> None:
        self.store, self.now, self.new_id = store, now, new_id
        self.default_epsilon = epsilon  # --epsilon; None: a job's own period
        self.jobs: dict[str, dict] = {}  # name -> definition (model.parse_job)
        self.stats: dict[str, Stats] = {}
        self.positions: dict[str, Schedule] = {}  # scheduled jobs: their next run
        self.parents_done: dict[str, list[str]] = {}  # child -> parents succeeded since its last run
        self.runs: dict[str, dict] = {}  # run id -> {job, attempt, due, not_before, arguments, task, agent, started}
        # Indexes over `runs` (kept by _track/_drop_run), so that an offer or a status
        # update costs what concerns it, not a pass over every run:
        self._runs_of: dict[str, set[str]] = {}  # job -> its run ids
        self._waiting: set[str] = set()  # runs without a task (queued)
        self._launched: set[str] = set()  # runs with a task
        self._limited: set[str] = set()  # jobs with a maxCompletionTime
        self.actions: list[tuple] = []
        self._heap: list[tuple[float, str]] = []  # (due, name) of scheduled jobs; stale entries skipped
        self._children: dict[str, list[str]] | None = None  # parent -> children, rebuilt after a change
        self._dirty: set[str] = set()  # jobs changed since the last flush
        self.unsynced: int | None = None  # the last record staged in the store (group commit)

    # --- persistence ---------------------------------------------------------------------

    def restore(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            try:
                if key.startswith("job/") and isinstance(value, dict):
                    name = key[4:]
                    self.jobs[name] = parse_job(value["job"])
                    self.stats[name] = Stats.from_dict(value.get("stats") or {})
                    self.parents_done[name] = list(value.get("parentsDone") or [])
                    position = value.get("position")
                    if not is_dependent(self.jobs[name]):
                        schedule = self._parse_schedule(self.jobs[name])
                        if isinstance(position, dict):
                            schedule = replace(schedule, start=utc(position["start"]).astimezone(schedule.start.tzinfo),
                                               repeats=position.get("repeats"))
                        self.positions[name] = schedule
                    for run_id, run in (value.get("runs") or {}).items():
                        self.runs[run_id] = dict(run, job=name)
            except (JobInvalid, ScheduleError, KeyError, TypeError, ValueError) as err:
                log.warning("jobs: stored %s unusable, dropped: %s", key, err)
        self.runs = {rid: run for rid, run in self.runs.items() if run.get("job") in self.jobs}
        for run_id in self.runs:
            self._track(run_id)
        self._limited = {name for name, job in self.jobs.items() if job["maxCompletionTime"]}
        for name in self.positions:
            self._push(name)

    def _push(self, name: str) -> None:
        due = self.positions[name].due()
        if due is not None:
            heapq.heappush(self._heap, (due.timestamp(), name))

    def children(self, parent: str) -> list[str]:
        if self._children is None:
            index: dict[str, list[str]] = {}
            for child, job in sorted(self.jobs.items()):
                for p in job.get("parents", ()):
                    index.setdefault(p, []).append(child)
            self._children = index
        return self._children.get(parent, [])

    # One key per job holds its definition, counts, schedule position and runs; what a
    # call changed is written once, when the call ends (flush), and is durable (`durable`)
    # before any action is sent or the call is answered. Written and made durable apart,
    # the records of many calls share one fsync in a FileStore (group commit).

    def _save_job(self, name: str) -> None:
        self._dirty.add(name)

    def _save_run(self, run_id: str) -> None:
        self._dirty.add(self.runs[run_id]["job"])

    def _drop_run(self, run_id: str) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None:
            self._dirty.add(run["job"])
            self._waiting.discard(run_id)
            self._launched.discard(run_id)
            mine = self._runs_of.get(run["job"])
            if mine is not None:
                mine.discard(run_id)
                if not mine:
                    del self._runs_of[run["job"]]

    def _track(self, run_id: str) -> None:
        """Index a run that was added or whose task was set or cleared."""
        run = self.runs[run_id]
        self._runs_of.setdefault(run["job"], set()).add(run_id)
        if run.get("task"):
            self._launched.add(run_id)
            self._waiting.discard(run_id)
        else:
            self._waiting.add(run_id)
            self._launched.discard(run_id)

    def runs_of(self, name: str) -> list[str]:
        """The job's run ids, oldest first."""
        return sorted(self._runs_of.get(name, ()), key=lambda rid: (self.runs[rid]["due"], rid))

    def busy(self, name: str) -> bool:
        """Whether a run of the job has a task."""
        return any(rid in self._launched for rid in self._runs_of.get(name, ()))

    def durable(self) -> None:
        """Return once every record written so far is durable."""
        if self.unsynced is not None:
            wait_durable(self.store, self.unsynced)
            self.unsynced = None

    def _staged(self, number: int | None) -> None:
        if number is not None:
            self.unsynced = number

    def flush(self) -> None:
        """Write every job changed since the last flush (durable after `durable()`)."""
        if not self._dirty:
            return
        for name in sorted(self._dirty):
            if name not in self.jobs:
                continue
            runs = {run_id: self.runs[run_id] for run_id in self.runs_of(name)}
            position = self.positions.get(name)
            self._staged(stage_put(self.store, f"job/{name}", {
                "job": self.jobs[name], "stats": self.stats[name].to_dict(),
                "parentsDone": self.parents_done.get(name, []), "runs": runs,
                "position": None if position is None else {"start": position.start.timestamp(),
                                                           "repeats": position.repeats},
            }))
        self._dirty.clear()

    # --- definitions (the API) -------------------------------------------------------------

    def _parse_schedule(self, job: dict) -> Schedule:
        return Schedule.parse(job["schedule"], job.get("scheduleTimeZone", ""), now=utc(self.now()))

    def put(self, data: Any, *, dependent: bool | None = None) -> dict:
        """Create or replace a job (stats kept on replace, as Chronos). Raises JobInvalid."""
        job = parse_job(data, dependent=dependent)
        name = job["name"]
        if name not in self.jobs and len(self.jobs) >= MAX_JOBS:
            raise JobInvalid(f"too many jobs (at most {MAX_JOBS})")
        if is_dependent(job):
            missing = [p for p in job["parents"] if p not in self.jobs]
            if missing:
                raise JobInvalid(f"parents: no job named {', '.join(missing)}")
            if creates_cycle(self.jobs, name, job["parents"]):
                raise JobInvalid(f"parents: {name!r} would depend on itself (a cycle)")
            self.positions.pop(name, None)
        else:
            try:
                schedule = self._parse_schedule(job)
            except ScheduleError as err:
                raise JobInvalid(str(err)) from None
            self.positions[name] = schedule
        self._children = None
        if job.get("epsilon"):
            parse_period(job["epsilon"], "epsilon")
        self.jobs[name] = job
        (self._limited.add if job["maxCompletionTime"] else self._limited.discard)(name)
        self.stats.setdefault(name, Stats())
        self.parents_done[name] = [p for p in self.parents_done.get(name, []) if p in job.get("parents", ())]
        self._save_job(name)
        self.flush()
        if name in self.positions:
            self._push(name)
        return job

    def delete(self, name: str) -> None:
        if name not in self.jobs:
            raise NotFound(name)
        children = self.children(name)
        if children:
            raise JobInvalid(f"{name!r} is a parent of {', '.join(children)}: delete or change those first")
        self.kill_tasks(name)
        for run_id in self.runs_of(name):
            self._drop_run(run_id)
        self._limited.discard(name)
        for table in (self.jobs, self.stats, self.positions, self.parents_done):
            table.pop(name, None)
        self._children = None
        self._dirty.discard(name)
        self._staged(stage_delete(self.store, f"job/{name}"))
        self.flush()

    def get(self, name: str) -> dict:
        if name not in self.jobs:
            raise NotFound(name)
        return self.jobs[name]

    def start_now(self, name: str, arguments: list[str] | None = None) -> None:
        """PUT /job/NAME: one run now (arguments replace the job's when given)."""
        self.get(name)
        self._enqueue(name, self.now(), arguments)
        self.flush()

    def mark_success(self, name: str) -> None:
        """PUT /job/success/NAME: count the job as having succeeded now (no run) and start
        the children waiting for it, as Chronos' markJobSuccessAndFireOffDependencies."""
        stats = self.stats[self.get(name)["name"]]
        stats.lastSuccess, stats.errorsSinceLastSuccess = iso(self.now()), 0
        self._save_job(name)
        self._parent_done(name)
        self.flush()

    def kill_tasks(self, name: str) -> int:
        """Kill the job's running tasks and drop its queued runs."""
        self.get(name)
        count = 0
        for run_id in self.runs_of(name):
            run = self.runs[run_id]
            if run.get("task"):
                run["killed"] = True
                self._save_run(run_id)
                self.actions.append(("kill", run["task"], run.get("agent", ""), None))
                count += 1
            else:
                self._drop_run(run_id)
        self.flush()
        return count

    # --- time ------------------------------------------------------------------------------

    def epsilon_of(self, name: str) -> timedelta:
        job, schedule = self.jobs[name], self.positions.get(name)
        if job.get("epsilon"):
            return as_timedelta(parse_period(job["epsilon"], "epsilon"), schedule)
        if self.default_epsilon is not None:
            return timedelta(seconds=self.default_epsilon)
        if schedule is None:
            return timedelta(0)
        following = schedule.after_run().start
        return max(following - schedule.start, timedelta(seconds=1))

    def wake(self) -> float | None:
        """Queue the runs that are due, kill runs over maxCompletionTime; returns when to
        wake again (epoch seconds) or None."""
        now = self.now()
        moment = utc(now)
        upcoming: list[float] = []
        for run_id in sorted(self._waiting):
            run = self.runs[run_id]
            if run.get("epsilon") is not None and now - run["due"] > run["epsilon"]:
                # waited for an offer past its epsilon: skipped, as a run missed while down
                # (first, so that the job's next run may take its place in the queue)
                self.stats[run["job"]].skipped += 1
                log.info("jobs: %s: a run queued for more than epsilon skipped (no offer fitted)", run["job"])
                self._drop_run(run_id)
                self._save_job(run["job"])
        while self._heap and self._heap[0][0] <= now:
            when, name = heapq.heappop(self._heap)
            schedule = self.positions.get(name)
            due = schedule.due() if schedule is not None else None
            if due is None or due.timestamp() != when:
                continue  # stale: the job was changed or deleted
            if not self.jobs[name]["disabled"]:
                epsilon = self.epsilon_of(name)
                schedule, skipped = schedule.skip_missed(moment, epsilon)
                if skipped:
                    self.stats[name].skipped += skipped
                    log.info("jobs: %s: %d missed run(s) skipped (late by more than epsilon)", name, skipped)
                due = schedule.due()
                if due is not None and due <= moment:
                    schedule = schedule.after_run()
                    self._enqueue(name, due.timestamp(), None, epsilon=epsilon.total_seconds())
            else:  # disabled: its runs pass by without piling up
                schedule = schedule.skip_missed(moment, timedelta(0))[0]
                if (due := schedule.due()) is not None and due <= moment:
                    schedule = schedule.after_run()
            self.positions[name] = schedule
            self._save_job(name)  # the position moved on before the run is launched
            self._push(name)
        if self._heap:
            upcoming.append(self._heap[0][0])
        for run_id in [r for name in self._limited for r in self._runs_of.get(name, ()) if r in self._launched]:
            run = self.runs[run_id]
            limit = self.jobs[run["job"]]["maxCompletionTime"]
            if limit and not run.get("killed"):
                deadline = (run.get("started") or run.get("launched") or now) + limit
                if now >= deadline:
                    run["killed"] = True
                    run["overtime"] = True
                    self._save_run(run_id)
                    self.actions.append(("kill", run["task"], run.get("agent", ""), None))
                else:
                    upcoming.append(deadline)
        for run_id in sorted(self._waiting):
            run = self.runs[run_id]
            if run["not_before"] > now:
                upcoming.append(run["not_before"])
            elif run.pop("backoff", False):
                self._save_run(run_id)
                self.actions.append(("revive",))  # its backoff is over: an offer now, not when a filter ends
            elif run.setdefault("waiting_since", now) < now - 30:
                run["waiting_since"] = now  # no offer for a while: ask again
                self.actions.append(("revive",))
        self.flush()
        return min(upcoming) if upcoming else None

    def _enqueue(self, name: str, due: float, arguments: list[str] | None, *, attempt: int = 0,
                 epsilon: float | None = None) -> str | None:
        """Queue a run. One of the job's schedule has its `epsilon` (seconds), and is
        dropped if it waits longer than that for an offer; runs started by hand or by
        parents, and retries, wait as long as it takes."""
        job = self.jobs[name]
        waiting = sum(1 for r in self._runs_of.get(name, ()) if r in self._waiting)
        if waiting >= (MAX_WAITING if job["concurrent"] else 1):
            self.stats[name].skipped += 1  # enough runs wait already: no pile-up
            return None
        run_id = self.new_id()
        self.runs[run_id] = {"job": name, "attempt": attempt, "due": due, "not_before": due, "task": None,
                             "agent": "", "started": None,
                             "arguments": list(job["arguments"] if arguments is None else arguments)}
        if epsilon is not None:
            self.runs[run_id]["epsilon"] = epsilon
        self._track(run_id)
        self._save_run(run_id)
        self.actions.append(("revive",))
        return run_id

    # --- offers and updates ------------------------------------------------------------------

    def pending(self) -> list[str]:
        """Queued runs that may start now: high priority first, then the most overdue."""
        now = self.now()
        ready = [rid for rid in self._waiting if (r := self.runs[rid])["not_before"] <= now
                 and (self.jobs[r["job"]]["concurrent"] or not self.busy(r["job"]))]
        return sorted(ready, key=lambda rid: (not self.jobs[self.runs[rid]["job"]]["highPriority"],
                                              self.runs[rid]["due"], rid))

    def on_offers(self, offers: list[Offer]) -> None:
        queue = self.pending()
        needs: dict[str, Resources] = {}  # job -> what one run takes (parsed once per call)
        taken: set[str] = set()  # runs launched
        full: set[str] = set()  # jobs not concurrent that got a run
        for offer in offers:
            free, tasks = offer.resources, []
            for run_id in queue:
                run = self.runs[run_id]
                if run_id in taken or run["job"] in full:
                    continue
                job = self.jobs[run["job"]]
                need = needs.get(run["job"])
                if need is None:
                    need = needs[run["job"]] = Resources.parse(
                        f"cpus:{job['cpus'] or DEFAULT_CPUS};mem:{job['mem'] or DEFAULT_MEM}"
                        + (f";disk:{job['disk']}" if job["disk"] or DEFAULT_DISK else ""))
                if not free.contains(need) or not fits(job["constraints"], offer):
                    continue
                task = self._task(offer, run_id, run, job)
                run.update(task=task.task_id, agent=offer.agent_id, started=None, launched=self.now())
                self._track(run_id)
                self._save_run(run_id)  # persisted before it is launched
                tasks.append(task)
                free = free - need
                taken.add(run_id)
                if not job["concurrent"]:
                    full.add(run["job"])
            self.actions.append(("launch", offer, tasks))
        if not self._waiting:
            self.actions.append(("suppress",))
        self.flush()  # persisted before the launches are sent

    def _task(self, offer: Offer, run_id: str, run: dict, job: dict) -> Any:
        env = {v["name"]: v["value"] for v in job["environmentVariables"]}
        env.update(CHRONOS_JOB_NAME=job["name"], CHRONOS_JOB_OWNER=job["owner"],
                   CHRONOS_RESOURCE_MEM=str(job["mem"] or DEFAULT_MEM), CHRONOS_RESOURCE_CPU=str(job["cpus"] or DEFAULT_CPUS),
                   CHRONOS_RESOURCE_DISK=str(job["disk"] or DEFAULT_DISK),
                   MESOBUS_JOB_DUE=str(int(run["due"] * 1000)), MESOBUS_JOB_ATTEMPT=str(run["attempt"]))
        uris = fetch_uris(job)
        if job["shell"]:
            command = CommandInfo(value=job["command"], environment=env, user=job["runAsUser"], uris=uris)
        elif job["command"]:
            argv = (job["command"], *run["arguments"])
            command = CommandInfo(value=argv[0], arguments=argv, shell=False, environment=env, user=job["runAsUser"],
                                  uris=uris)
        else:  # a container's image runs its own entrypoint, with the arguments
            command = CommandInfo(arguments=tuple(run["arguments"]), shell=False, environment=env,
                                  user=job["runAsUser"], uris=uris)
        labels = {"chronos.job": job["name"], "chronos.attempt": str(run["attempt"])}
        # Chronos' task id: ct:<due ms>:<attempt>:<job name>:<arguments>
        task_id = f"ct:{int(run['due'] * 1000)}:{run['attempt']}:{job['name']}:{run_id}"
        return build_task(offer, command, task_id=task_id, name=f"ChronosTask:{job['name']}",
                          cpus=job["cpus"] or DEFAULT_CPUS, mem=job["mem"] or DEFAULT_MEM,
                          disk=job["disk"] or DEFAULT_DISK, labels=labels, container=container_info(job))

    def run_of(self, task_id: str) -> str | None:
        run_id = task_id.rsplit(":", 1)[-1] if task_id.startswith("ct:") else ""
        return run_id if run_id in self.runs and self.runs[run_id].get("task") == task_id else None

    def on_status(self, status: TaskStatus) -> None:
        run_id = self.run_of(status.task_id)
        if run_id is None:
            if not status.state.is_terminal and status.task_id.startswith("ct:"):
                self.actions.append(("kill", status.task_id, status.agent_id, None))  # not ours any more
            return
        run = self.runs[run_id]
        if status.state is TaskState.TASK_RUNNING and run.get("started") is None:
            run["started"] = self.now()  # not written: a restart measures from the launch
        elif status.state is TaskState.TASK_FINISHED:
            self._succeeded(run_id)
        elif status.state in _FAILED:
            self._failed(run_id, status)
        self.flush()

    def _succeeded(self, run_id: str) -> None:
        run = self.runs[run_id]
        name, now = run["job"], self.now()
        stats = self.stats[name]
        stats.success(iso(now), now - (run.get("started") or run.get("launched") or now))
        self._drop_run(run_id)
        self._save_job(name)
        self._parent_done(name)

    def _failed(self, run_id: str, status: TaskStatus) -> None:
        run = self.runs[run_id]
        name, job, now = run["job"], self.jobs[run["job"]], self.now()
        never_started = run.get("started") is None and status.state in (TaskState.TASK_LOST, TaskState.TASK_DROPPED)
        if not run.get("killed") and (never_started or run["attempt"] < job["retries"]):
            attempt = run["attempt"] + (0 if never_started else 1)
            run.update(attempt=attempt, task=None, agent="", started=None, epsilon=None, backoff=True,
                       not_before=now + min(RETRY_BACKOFF * 2 ** max(attempt - 1, 0), RETRY_BACKOFF_MAX))
            self._track(run_id)
            self._save_run(run_id)
            self.actions.append(("revive",))
            return
        self.stats[name].failure(iso(now), status.message)
        self._drop_run(run_id)
        self._save_job(name)
        if job["softError"]:
            self._parent_done(name)

    def _parent_done(self, parent: str) -> None:
        for child in self.children(parent):
            done = self.parents_done.setdefault(child, [])
            if parent not in done:
                done.append(parent)
            if set(self.jobs[child]["parents"]) <= set(done):
                self.parents_done[child] = []
                if not self.jobs[child]["disabled"]:
                    self._enqueue(child, self.now(), None)
            self._save_job(child)

    # --- what the API shows -------------------------------------------------------------------

    def view(self, name: str) -> dict:
        job = dict(self.get(name))
        if name in self.positions:
            job["schedule"] = schedule_text(self.positions[name], job["schedule"])
        if not job.get("epsilon") and not is_dependent(job):
            job["epsilon"] = duration_text(self.epsilon_of(name))
        return to_json(job, self.stats[name].chronos())

    def state_of(self, name: str) -> str:
        runs = [self.runs[r] for r in self._runs_of.get(name, ())]
        if any(r.get("started") is not None for r in runs):
            return "running"
        return "queued" if runs else "idle"

    def next_run(self, name: str) -> str:
        schedule = self.positions.get(name)
        due = schedule.due() if schedule else None
        return iso(due.timestamp()) if due and not self.jobs[name]["disabled"] else ""
