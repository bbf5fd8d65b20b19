"""`mesobus ps`, `state`, `agents`, `frameworks`: the cluster as the master's HTTP API
shows it (like mesos-ps).

    mesobus ps --master http://m1:5050       running tasks: framework, task, state, host, cpus, mem
    mesobus state                            /master/state as JSON
"""

from __future__ import annotations

import argparse
import json
import sys

from actors.cli.common import fail
from actors.cli.master_client import MasterClient, MasterError, add_master, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ps", help="list the cluster's tasks (like mesos-ps)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_master(p)
    p.add_argument("-a", "--all", action="store_true", help="finished tasks too")
    p.set_defaults(handler=run, what="ps")
    for name, text in (("state", "print the master's /master/state as JSON"),
                       ("agents", "list the agents and their resources"),
                       ("frameworks", "list the frameworks")):
        q = sub.add_parser(name, help=text, description=text)
        add_master(q)
        q.set_defaults(handler=run, what=name)


def run(args: argparse.Namespace) -> int:
    client = MasterClient.of(args)
    try:
        state = client.get("/master/state")
        print(render(args.what, state, getattr(args, "all", False)))
    except MasterError as err:
        return fail(f"mesobus {args.what}", str(err), 1)
    except BrokenPipeError:
        sys.stderr.close()
    finally:
        client.close()
    return 0


def render(what: str, state: dict, everything: bool = False) -> str:
    if what == "state":
        return json.dumps(state, indent=2)
    hosts = {a["id"]: a["hostname"] for a in state.get("slaves", [])}
    if what == "agents":
        rows = [[a["id"], a["hostname"], _agent_state(a),
                 f'{a["used_resources"]["cpus"]:g}/{a["resources"]["cpus"]:g}',
                 f'{a["used_resources"]["mem"]:g}/{a["resources"]["mem"]:g}'] for a in state.get("slaves", [])]
        return table(rows, ["ID", "HOST", "STATE", "CPUS", "MEM"])
    if what == "frameworks":
        rows = [[f["id"], f["name"], ",".join(f.get("roles", [])), "active" if f["active"] else "inactive",
                 len(f.get("tasks", [])), f'{f["used_resources"]["cpus"]:g}', f'{f["used_resources"]["mem"]:g}']
                for f in state.get("frameworks", [])]
        return table(rows, ["ID", "NAME", "ROLES", "STATE", "TASKS", "CPUS", "MEM"])
    rows = []
    frameworks = state.get("frameworks", []) + (state.get("completed_frameworks", []) if everything else [])
    for f in frameworks:
        tasks = f.get("tasks", []) + (f.get("completed_tasks", []) if everything else [])
        for t in tasks:
            rows.append([f["name"], t["id"], t["state"], hosts.get(t["slave_id"], t["slave_id"]),
                         f'{t["resources"]["cpus"]:g}', f'{t["resources"]["mem"]:g}'])
    return table(rows, ["FRAMEWORK", "TASK", "STATE", "HOST", "CPUS", "MEM"])


def _agent_state(agent: dict) -> str:
    if not agent.get("active"):
        return "unreachable"
    return "deactivated" if agent.get("deactivated") else "active"  # drained or deactivated: no offers
