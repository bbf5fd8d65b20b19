"""`mesobus auth`: create the broker users of mesobus' principals, with permissions that
limit each to its own queues and routing keys (docs/security.md).

    mesobus auth add-master mesos_master
    mesobus auth add-agent rack1 --password-file rack1.pw --acls /etc/mesobus/acls.json
    mesobus auth add-framework analytics --roles analytics,batch --acls /etc/mesobus/acls.json
    mesobus auth add-framework ops --http-credentials /etc/mesobus/http.json
    mesobus auth remove analytics

Through `rabbitmqctl` (the management plugin may not be enabled), on this host's broker
node or `--node`. A password is read from `--password-file`, or generated and printed once.
`--http-credentials FILE` also writes the principal and its password to the master's HTTP
credentials file (Mesos' JSON; `mesobus master --http-credentials FILE`), or takes it out
with `remove`: the HTTP API then knows the same principals as the broker.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
from pathlib import Path

from actors.cli.common import fail
from actors.security.permissions import EXCHANGE, GRANTS, Grant, check_principal

PROG = "mesobus auth"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("auth", help="create the broker users of principals (master, agents, frameworks)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    for kind in ("master", "agent", "framework"):
        a = actions.add_parser(f"add-{kind}", help=f"create or update the broker user of {kind} principal PRINCIPAL")
        a.add_argument("principal", type=_principal, metavar="PRINCIPAL")
        _common(a)
        a.add_argument("--password-file", metavar="FILE", help="its password (first line); default: a new one, printed")
        if kind == "framework":
            a.add_argument("--roles", default="", metavar="R1,R2",
                           help="roles it may register with: written to --acls FILE, else printed as an ACL rule")
            a.add_argument("--users", default="", metavar="U1,U2",
                           help="host users its tasks may run as (ACL run_tasks), as --roles")
        if kind in ("agent", "framework"):  # an agent's rule: register_agents (an ACL file denies what it omits)
            a.add_argument("--acls", metavar="FILE", help="the master's ACL file to add the rules to")
        a.set_defaults(handler=run, kind=kind, _parser=a)
    r = actions.add_parser("remove", help="delete a principal's broker user")
    r.add_argument("principal", type=_principal, metavar="PRINCIPAL")
    _common(r)
    r.set_defaults(handler=run, kind="remove", _parser=r)
    p.set_defaults(handler=lambda args: fail(PROG, "give an action: add-master, add-agent, add-framework or remove"
                                                   " (see mesobus auth --help)", 2))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vhost", default="/", help="the broker's virtual host (default /)")
    p.add_argument("--node", default=None, help="the broker node for rabbitmqctl -n (default: this host's)")
    p.add_argument("--http-credentials", metavar="FILE",
                   help="the master's HTTP credentials file to write the principal (and its password) to")


def _principal(text: str) -> str:
    try:
        return check_principal(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class CtlError(RuntimeError):
    pass


def rabbitmqctl(args: argparse.Namespace, *words: str, stdin: str | None = None) -> str:
    command = ["rabbitmqctl", "-q"] + (["-n", args.node] if args.node else []) + list(words)
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise CtlError("rabbitmqctl is not installed here (run this on a broker host)") from None
    except subprocess.TimeoutExpired:
        raise CtlError(f"rabbitmqctl {words[0]} did not answer within 60 s") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise CtlError(f"rabbitmqctl {words[0]}: {why[-1] if why else f'exit status {done.returncode}'}")
    return done.stdout


def run(args: argparse.Namespace) -> int:
    try:
        if args.kind == "remove":
            rabbitmqctl(args, "delete_user", args.principal)
            print(f"{PROG}: removed {args.principal}")
            if args.http_credentials:
                write_http_credentials(Path(args.http_credentials), args.principal, None)
            return 0
        password = _password(args)
        grant = GRANTS[args.kind](args.principal)
        created = _apply(args, grant, password)
    except (CtlError, OSError, ValueError) as err:
        return fail(PROG, str(err), 1)
    what = "created" if created else "updated"
    print(f"{PROG}: {what} {args.kind} principal {args.principal} on vhost {args.vhost}")
    if args.http_credentials:
        try:
            write_http_credentials(Path(args.http_credentials), args.principal, password)
        except (OSError, ValueError) as err:
            return fail(PROG, f"--http-credentials {args.http_credentials}: {err}", 1)
        print(f"{PROG}: {args.principal} written to {args.http_credentials}")
    if password is not None and not args.password_file:
        print(f"password: {password}")
    if args.kind in ("agent", "framework"):
        return _acl_rules(args)
    return 0


def write_http_credentials(path: Path, principal: str, secret: str | None) -> None:
    """Set (secret None: take out) `principal` in a Mesos-style credentials file, readable
    by its owner only; the file is replaced whole, never left half written."""
    import os
    import tempfile

    from actors.http.basic_auth import parse_credentials_json

    data = json.loads(path.read_text()) if path.exists() else {"credentials": []}
    parse_credentials_json(json.dumps(data))  # never add to a file the master would refuse
    entries = [e for e in data["credentials"] if e.get("principal") != principal]
    if secret is not None:
        entries.append({"principal": principal, "secret": secret})
    data["credentials"] = entries
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:  # mkstemp: mode 0600
            f.write(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file:
        try:
            text = Path(args.password_file).read_text().splitlines()
        except OSError as err:
            raise ValueError(f"--password-file {args.password_file}: {err.strerror or err}") from None
        if not text or not text[0]:
            raise ValueError(f"--password-file {args.password_file}: the first line is empty")
        return text[0]
    return secrets.token_urlsafe(18)


def _apply(args: argparse.Namespace, grant: Grant, password: str | None) -> bool:
    # the vhost first: a user made before set_permissions fails on a missing vhost would stay behind
    vhosts = {line.split("\t")[0] for line in rabbitmqctl(args, "list_vhosts", "name").splitlines()}
    if args.vhost not in vhosts:
        raise CtlError(f"--vhost {args.vhost}: no such virtual host on the broker (rabbitmqctl add_vhost {args.vhost})")
    users = {line.split("\t")[0] for line in rabbitmqctl(args, "list_users").splitlines()}
    created = args.principal not in users
    if created:
        rabbitmqctl(args, "add_user", args.principal, stdin=password)
    elif args.password_file:
        rabbitmqctl(args, "change_password", args.principal, stdin=password)
    rabbitmqctl(args, "set_permissions", "-p", args.vhost, args.principal, grant.configure, grant.write, grant.read)
    rabbitmqctl(args, "set_topic_permissions", "-p", args.vhost, args.principal, EXCHANGE,
                grant.topic_write, grant.topic_read)
    return created


def _acl_rules(args: argparse.Namespace) -> int:
    rules = {}
    if args.kind == "agent" and args.acls:  # written only where asked: most files are the frameworks'
        rules["register_agents"] = {"principals": {"values": [args.principal]}, "agents": {"type": "ANY"}}
    for action, values, obj in (("register_frameworks", getattr(args, "roles", ""), "roles"),
                                ("run_tasks", getattr(args, "users", ""), "users")):
        names = [v.strip() for v in values.split(",") if v.strip()]
        if names:
            rules[action] = {"principals": {"values": [args.principal]}, obj: {"values": names}}
    if not rules:
        return 0
    if not args.acls:
        print("ACL rules for the master's --acls file:")
        print(json.dumps({k: [v] for k, v in rules.items()}, indent=2))
        return 0
    path = Path(args.acls)
    try:
        data = json.loads(path.read_text()) if path.exists() else {"permissive": False}
        for action, rule in rules.items():
            kept = [r for r in data.get(action, []) if r.get("principals") != rule["principals"]]
            data[action] = [rule] + kept  # first: the first matching rule decides
        from actors.master.acls import parse_acls

        parse_acls(json.dumps(data))  # never write a file the master would refuse
        path.write_text(json.dumps(data, indent=2) + "\n")
    except (OSError, ValueError, AttributeError) as err:
        return fail(PROG, f"--acls {path}: {err}", 1)
    print(f"{PROG}: ACL rules for {args.principal} written to {path}")
    return 0
