"""What `mesobus run` does once its flags are parsed: run one command, show its output.

>>> decode_output(b"\\x82\\xa6stdout\\xc4\\x03hi\\n\\xa6stderr\\xc4\\x00")
(b'hi\\n', b'')
>>> decode_output(b"not msgpack") is None
True
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from actors.cli.common import exit_code_for, signal_name, stop_in_order
from actors.cli.run_watch import RunWatch
from messages import Resources, TaskStatus

POLL = 0.1  # seconds between looks at the sandbox's files


def execute(
    line: str,
    *,
    broker: str | None,
    cpus: float,
    mem: float,
    name: str,
    env: dict[str, str] | None = None,
    quiet: bool = False,
    timeout: float | None = None,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
    cluster: Any = None,
) -> int:
    """Run `line` as one task; returns the exit code for the process (128+N for signal N)."""
    from actors.cluster import LocalCluster
    from actors.frameworks.execute import ExecuteScheduler

    own_cluster = cluster is None and broker is None
    if own_cluster:
        cluster = LocalCluster(agents=1).start()
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            print(f"mesobus run: {text}", file=err, flush=True)

    transport = None  # on a broker: opened here, so that --timeout covers a broker that is down
    if broker is not None and cluster is None:
        from actors.connect import connect_transport

        transport = connect_transport(broker)
        try:
            reached = _broker_reached(transport, timeout, say)
        except BaseException:  # refused, Ctrl-C, SIGTERM: nothing else was started yet
            transport.close()
            raise
        if not reached:
            transport.close()
            return 1

    def on_status(status: TaskStatus) -> None:
        if not quiet:
            detail = f": {status.message}" if status.message else ""
            code = f" (exit code {status.exit_code})" if status.exit_code is not None else ""
            say(f"task {status.task_id} is {status.state.value}{code}{detail}")

    try:
        handle = ExecuteScheduler.run(
            cluster if cluster is not None else transport,
            name=name,
            command=line,
            cpus=cpus,
            mem=mem,
            task_name=name,
            env=env,
            on_status=on_status,
            on_note=say,
            # On a broker the agent may be on another host: its executor streams the output here.
            on_output=(lambda name, data: _write(out if name == "stdout" else err, data)) if cluster is None else None,
        )
        sched = handle.scheduler
        tail = _SandboxTail(cluster, handle.framework_id, out, err) if cluster is not None else None
        watch = RunWatch(
            sched, say, needed=Resources.scalars(cpus=cpus, mem=mem),
            agents=(lambda: _agent_totals(cluster)) if cluster is not None else None,
            more_agents_may_come=not own_cluster, timeout=timeout, start=time.monotonic(),
        )
        try:
            while not handle.join(POLL):
                if tail is not None and sched.task_id:
                    tail.poll(sched.task_id)
                give_up = watch.tick(time.monotonic())
                if give_up is not None:
                    stop_in_order(handle, cluster if own_cluster else None)
                    return give_up
        except KeyboardInterrupt as interrupt:
            say(f"{signal_name(interrupt)}: killing the task and tearing the framework down")
            stop_in_order(handle, cluster if own_cluster else None)
            return exit_code_for(interrupt)
        if handle.error:
            return 1
        shown = tail.poll(sched.task_id) if tail is not None and sched.task_id else False
        if sched.output_cut:
            say(f"the output is cut: the rest did not come in time; it is in the task's sandbox on {sched.hostname}")
        elif not shown and not sched.output_seen and sched.final is not None:
            _show_from_status(sched.final, sched.hostname, out, err, say)
        code = sched.exit_code()
        return 128 - code if code < 0 else code
    finally:
        if own_cluster:
            cluster.stop()
        if transport is not None:
            transport.close()


def _broker_reached(transport: Any, timeout: float | None, say: Any) -> bool:
    """Wait for the broker's first connection: False (said why) once `timeout` passed;
    a refused login raises as the scheduler's start would. Says what it waits for once,
    then every 30 s, as RunWatch does for the master and offers."""
    start = said = time.monotonic()
    first = True
    while not transport.connected:
        refused = transport.refused
        if refused is not None:
            raise type(refused)(str(refused))
        now = time.monotonic()
        if timeout is not None and now - start >= timeout:
            say(f"gave up after {timeout:g}s: cannot reach the broker ({transport.last_error})")
            return False
        if (first and now - start >= 1.0) or now - said >= 30.0:
            say(f"waiting for the broker ({transport.last_error})")
            first, said = False, now
        time.sleep(0.1)
    return True


def _agent_totals(cluster: Any) -> list[tuple[str, Resources]]:
    return [(a["hostname"], Resources.parse(a["resources"])) for a in cluster.state()["agents"]]


def decode_output(data: bytes) -> tuple[bytes, bytes] | None:
    """(stdout, stderr) from a terminal status' data, when the executor put them there."""
    if not data:
        return None
    try:
        import msgpack

        value = msgpack.unpackb(data, raw=False)
    except Exception:  # noqa: BLE001  data is the executor's to define: anything else is not output
        return None
    if not isinstance(value, dict) or not ({"stdout", "stderr"} & set(value)):
        return None
    parts = []
    for key in ("stdout", "stderr"):
        part = value.get(key, b"")
        parts.append(part.encode() if isinstance(part, str) else part if isinstance(part, bytes) else b"")
    return parts[0], parts[1]


def _show_from_status(status: TaskStatus, hostname: str, out: IO[str], err: IO[str], say: Any) -> None:
    output = decode_output(status.data)
    if output is None:
        say(f"the output is in the task's sandbox on {hostname or 'its agent'}")
        return
    _write(out, output[0])
    _write(err, output[1])
    from actors.executor.command import OUTPUT_TAIL

    cut = [name for name, part in zip(("stdout", "stderr"), output) if len(part) >= OUTPUT_TAIL]
    if cut:
        say(f"showing the last {OUTPUT_TAIL // 1024} KiB of {' and '.join(cut)}: the whole is in the task's"
            f" sandbox on {hostname or 'its agent'}")


def _write(stream: IO[str], data: bytes) -> None:
    if not data:
        return
    buffer = getattr(stream, "buffer", None)
    stream.flush()
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode(errors="replace"))
        stream.flush()


class _SandboxTail:
    """Copies what a task writes to its sandbox's stdout/stderr as it grows."""

    def __init__(self, cluster: Any, framework_id: str, out: IO[str], err: IO[str]) -> None:
        self.cluster = cluster
        self.framework_id = framework_id
        self.targets = {"stdout": out, "stderr": err}
        self.offsets = {"stdout": 0, "stderr": 0}
        self.sandbox: Path | None = None

    def poll(self, task_id: str) -> bool:
        """Copy what is new; True once the sandbox was found."""
        if self.sandbox is None:
            found = self.cluster.sandboxes(self.framework_id, task_id)
            if not found:
                return False
            self.sandbox = found[0]
        for name, stream in self.targets.items():
            try:
                with open(self.sandbox / name, "rb") as f:
                    f.seek(self.offsets[name])
                    data = f.read()
            except FileNotFoundError:
                continue
            self.offsets[name] += len(data)
            _write(stream, data)
        return True
