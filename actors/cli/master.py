"""`mesobus master --broker URL`: run the master and its allocator until Ctrl-C / SIGTERM.

Any number of masters may run on one broker: one leads, the others stand by until its
leader lock is free (rabbitmq/leader.py). A leader that loses the lock exits with status
1 at once (another may lead already); its supervisor restarts it as a standby.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import sys
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

from actors.cli.common import (
    add_broker, broker_error_line, fail, journal_problem, need_broker, positive_float, positive_int, redact,
    actor_death_line, refused_access, signal_exit_code, signals_set, stop_on_actor_death,
)
from actors.cli.http_option import OperatorHttp, add_http_auth_flags, add_http_flag, http_auth_from
from actors.journal.setup import add_journal_flags, setting_from, start_journal
from actors.runtime import TransportError

if TYPE_CHECKING:
    from actors.master import MasterConfig
    from actors.operator.authenticate import HttpAuth
    from actors.registry import Folded, RegistryFollower
    from rabbitmq.leader import LeaderLock


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("master", help="run the master (and its allocator)", description=__doc__)
    add_broker(p, required=True)
    p.add_argument("--ping-interval", type=positive_float, default=15.0, metavar="SECONDS",
                   help="how often agents are pinged (default: 15)")
    p.add_argument("--max-missed-pings", type=positive_int, default=5, metavar="N",
                   help="unanswered pings before an agent is unreachable (default: 5)")
    p.add_argument("--allocation-interval", type=positive_float, default=1.0, metavar="SECONDS",
                   help="time between batch allocations (default: 1)")
    p.add_argument("--offer-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="rescind offers outstanding this long (default: never)")
    p.add_argument("--hostname", default="", help="the hostname the master reports")
    p.add_argument("--acls", default=None, metavar="FILE",
                   help="a JSON file of ACLs as Mesos' --acls (docs/security.md); without it every"
                        " principal may do everything, and the master says so at start")
    add_journal_flags(p, stream=True)
    add_http_flag(p)
    add_http_auth_flags(p)
    p.set_defaults(handler=run, _parser=p)


def run(args: argparse.Namespace) -> int:
    need_broker(args._parser, args)
    problem = journal_problem(args)
    if problem:
        return fail("mesobus master", problem, 1)
    from actors.connect import leader_lock
    from actors.master import MasterConfig

    try:
        config = MasterConfig(
            hostname=args.hostname,
            ping_interval=args.ping_interval,
            max_missed_pings=args.max_missed_pings,
            allocation_interval=args.allocation_interval,
            offer_timeout=args.offer_timeout,
            explain_allocations=not args.no_journal,
        )
    except ValueError as err:
        return fail("mesobus master", str(err), 2)
    from actors.master.acls import ACLError, ACLs, load_acls

    try:
        acls = load_acls(args.acls) if args.acls else ACLs.permissive_default()
    except ACLError as err:
        return fail("mesobus master", f"--acls: {err}", 2)
    args.loaded_acls = acls
    try:
        http_auth = http_auth_from(args)
    except ValueError as err:
        return fail("mesobus master", str(err), 2)
    args.http_auth = http_auth
    stop = threading.Event()
    try:  # serves as a standby too (redirecting to the leader) until this master leads
        http = OperatorHttp(args.http, args.broker, args.hostname, auth=http_auth, acls=acls).start()
    except OSError as err:
        return fail("mesobus master", str(err), 1)
    with signals_set(stop) as signals, _stopping(http):
        holder = f"master on {args.hostname or socket.gethostname()} (pid {os.getpid()})"
        try:
            lock = leader_lock(args.broker, holder)
        except ValueError as err:  # a bad option in the URL
            return fail("mesobus master", str(err), 2)
        refused: list[str] = []

        followers: list["RegistryFollower"] = []

        def standing_by(why: str) -> None:
            if refused_access(why):  # not an outage: waiting would never end
                refused.append(why)
                stop.set()
            else:
                _standing_by(why)
                if not followers:  # it waits: keep a copy of the registry, read the tail once elected
                    followers.append(_follow_registry(args.broker))

        try:
            leads = lock is None or lock.acquire(stop, on_standby=standing_by)
        except TransportError as err:  # the broker refused this user: one line, exit 1
            lock.close()
            return fail("mesobus master", broker_error_line(err), 1)
        finally:
            known = followers[0].stop() if followers else None
        if not leads:
            lock.close()
            if refused:
                return fail("mesobus master", broker_error_line(Exception(refused[0])), 1)
            print("mesobus master: stopped while standing by", file=sys.stderr)
            return signal_exit_code(signals[0]) if signals else 0
        try:
            return _lead(args, config, stop, signals, lock, holder, http, known)
        finally:
            if lock is not None:
                lock.close()


def _standing_by(why: str) -> None:
    print(f"mesobus master: standing by: {why}; will lead once the leader lock is free", file=sys.stderr)


def _follow_registry(url: str) -> "RegistryFollower":
    from actors.connect import registry_log
    from actors.registry import RegistryFollower

    return RegistryFollower(lambda: registry_log(url, None)).start()  # reads only: no transport


def _lead(args: argparse.Namespace, config: "MasterConfig", stop: threading.Event,
          signals: list[str], lock: "LeaderLock | None", holder: str, http: OperatorHttp,
          known: "Folded | None" = None) -> int:
    import uuid

    from actors.connect import connect_transport, registry_log
    from actors.master import start_master
    from actors.master.snapshot import SnapshotPublisher
    from actors.registry import Registry, RegistryError

    # The leader's actors consume on the connection that holds the lock (rabbitmq/leader.py).
    transport = lock.transport if lock is not None else connect_transport(args.broker)
    journal = None
    try:
        try:  # the registry first: the epoch and what operators set, before any message
            registry = Registry.elect(registry_log(args.broker, transport), holder, uuid.uuid4().hex, known)
        except RegistryError as err:
            return fail("mesobus master", f"cannot read the registry: {err}", 1)
        config = dataclasses.replace(config, epoch=registry.epoch)
        if lock is not None:
            lock.epoch = registry.epoch
        journal = start_journal(setting_from(args), transport)
        deposed = lock.lost.is_set if lock is not None else None
        # The HTTP API gets the publisher now: asked from the actor, the question would
        # wait behind every agent's re-registration.
        snapshots = SnapshotPublisher()
        master_ref, allocator_ref = start_master(transport, config, registry=registry, deposed=deposed,
                                                 acls=args.loaded_acls, snapshots=snapshots)
        print(f"mesobus master: ACLs: {args.loaded_acls.describe()}", file=sys.stderr)
        if args.http is not None:  # said once the broker took this master (a refusal is the only line)
            print(f"mesobus master: {_http_auth_line(args.http_auth)}", file=sys.stderr)
        http.lead(master_ref, transport, config.address, allocator_ref, snapshots)
        where = journal.description if journal is not None else "off"
        print(f"mesobus master: leading on {redact(args.broker)} (epoch {config.epoch}); journal: {where}; "
              "Ctrl-C to stop", file=sys.stderr)
        with stop_on_actor_death(stop):
            while not stop.wait(0.5) and not actor_death_line():  # a timeout: signal handlers run promptly
                if lock is not None and lock.lost.is_set():
                    break
        died = actor_death_line()
        lost = lock is not None and lock.lost.is_set() and not signals
        if died:  # its supervisor (systemd, compose) restarts it
            print(f"mesobus master: error: {died}: stopping", file=sys.stderr)
        elif lost:
            print("mesobus master: lost the leader lock (its broker connection closed): "
                  "stopping, another master may lead now", file=sys.stderr)
        else:
            print(f"mesobus master: {signals[0] if signals else 'stop'}: stopping", file=sys.stderr)
        master_ref.stop()
        allocator_ref.stop()
    finally:
        transport.close()
        if journal is not None:
            journal.close()
    if died or lost:
        return 1
    return signal_exit_code(signals[0]) if signals else 0


@contextmanager
def _stopping(http: OperatorHttp):
    try:
        yield
    finally:
        http.stop()


def _http_auth_line(http_auth: "HttpAuth | None") -> str:
    from actors.operator.authenticate import no_http_auth_line

    return http_auth.describe() if http_auth else no_http_auth_line()
