"""`mesobus weights`, `quota`, `drain`, `teardown`: change the cluster through the
master's operator API (v1 calls).

    mesobus weights                      show the roles' weights
    mesobus weights dev=2 web=0.5        set them
    mesobus quota                        show the roles' quota limits
    mesobus quota dev cpus=4 mem=4096    limit a role (no amounts: remove its limit)
    mesobus teardown FRAMEWORK_ID        remove a framework and kill its tasks
    mesobus drain AGENT_ID               drain an agent (DRAIN_AGENT)
"""

from __future__ import annotations

import argparse

from actors.cli.common import fail
from actors.cli.master_client import MasterClient, MasterError, add_master, table


def _pair(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not sep or not name or not number >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=NUMBER, the number >= 0 (e.g. dev=2, cpus=4)")
    return name, number


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="show or set role weights", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_master(p)
    p.add_argument("set", nargs="*", type=_pair, metavar="ROLE=WEIGHT")
    p.set_defaults(handler=run, what="weights")
    p = sub.add_parser("quota", help="show or set a role's quota limit", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_master(p)
    p.add_argument("role", nargs="?", metavar="ROLE")
    p.add_argument("set", nargs="*", type=_pair, metavar="RESOURCE=AMOUNT")
    p.set_defaults(handler=run, what="quota")
    for name, text, field in (("teardown", "remove a framework and kill its tasks", "framework_id"),
                              ("drain", "drain an agent (its tasks are killed, no new offers)", "agent_id")):
        p = sub.add_parser(name, help=text, description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_master(p)
        p.add_argument("id", metavar=field.upper())
        p.set_defaults(handler=run, what=name, field=field)


def run(args: argparse.Namespace) -> int:
    client = MasterClient.of(args)
    try:
        print(_do(client, args), end="")
    except MasterError as err:
        return fail(f"mesobus {args.what}", str(err), 1)
    finally:
        client.close()
    return 0


def _do(client: MasterClient, args: argparse.Namespace) -> str:
    if args.what == "weights":
        if args.set:
            infos = [{"role": role, "weight": weight} for role, weight in args.set]
            client.call({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": infos}})
        infos = client.call({"type": "GET_WEIGHTS"})["get_weights"]["weight_infos"]
        return table([[i["role"], f'{i["weight"]:g}'] for i in infos], ["ROLE", "WEIGHT"]) + "\n"
    if args.what == "quota":
        if args.role:
            limits = {name: {"value": amount} for name, amount in args.set}
            client.call({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"role": args.role, "limits": limits}]}})
        configs = client.call({"type": "GET_QUOTA"})["get_quota"]["status"].get("configs", [])
        rows = [[c["role"], ";".join(f'{n}:{v["value"]:g}' for n, v in sorted(c.get("limits", {}).items()))]
                for c in configs]
        return table(rows, ["ROLE", "LIMIT"]) + "\n"
    if args.what == "teardown":
        client.call({"type": "TEARDOWN", "teardown": {"framework_id": {"value": args.id}}})
        return f"framework {args.id} torn down\n"
    client.call({"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": args.id}}})
    return f"agent {args.id} draining\n"
