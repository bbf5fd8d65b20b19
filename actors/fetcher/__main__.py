"""`python -m actors.fetcher`: the fetcher process the command executor starts for a task.

Reads `{"sandbox": path, "uris": [CommandURI...], "config": FetcherConfig, "owner":
{name, uid, gid, groups} or null}` as JSON on stdin; logs what it does on stderr (the task's stderr file, as in Mesos); exits 0 when
every URI is in place, else 1 with the reason as the one line on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from actors.fetcher.config import FetchError, FetcherConfig, Owner
from actors.fetcher.fetch import fetch_uris
from messages import CommandURI, MessageError, from_plain

MAX_REQUEST = 4 * 1024 * 1024


def main() -> int:
    try:
        request = json.loads(sys.stdin.read(MAX_REQUEST))
        sandbox = Path(request["sandbox"])
        uris = [from_plain(CommandURI, u) for u in request["uris"]]
        config = FetcherConfig.from_plain(request.get("config") or {})
        who = request.get("owner")
        owner = Owner(str(who["name"]), int(who["uid"]), int(who["gid"]), tuple(int(g) for g in who["groups"])) if who else None
    except (ValueError, KeyError, TypeError, MessageError) as err:
        print(f"bad fetcher request: {err}", flush=True)
        return 2
    say = lambda text: print(f"mesobus-fetcher: {text}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        fetch_uris(uris, sandbox, config, say, owner)
    except FetchError as err:
        say(str(err))
        print(err, flush=True)
        return 1
    except OSError as err:  # the sandbox itself: full disk, permissions
        print(f"cannot fetch: {err}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
