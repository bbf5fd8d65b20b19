"""Which host user a command task runs as, with which groups.

The task's `CommandInfo.user`, else its framework's `user` (as Mesos with
`--switch_user`). An executor running as root switches to that user, with the user's
primary group and supplementary groups (initgroups: never root's group 0 by accident);
root itself only when allowed (`MESOBUS_ROOT_TASKS`, the agent's `--root-tasks`). An
executor that is not root can run tasks only as its own user: a task that names another
user is refused. A user this host does not know is always refused.

>>> import os, pwd
>>> me = pwd.getpwuid(os.geteuid()).pw_name
>>> task_user("", me, allow_root=True).name == me
True
>>> task_user("", "no-such-user-here", allow_root=True)
Traceback (most recent call last):
...
actors.executor.task_user.TaskUserError: user 'no-such-user-here' does not exist on this host
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass


class TaskUserError(ValueError):
    """The task cannot run as the user it asks for; the text says why."""


@dataclass(frozen=True)
class TaskUser:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    @property
    def switches(self) -> bool:
        """Whether starting the task changes user (the executor is another user)."""
        return self.uid != os.geteuid()

    def popen_args(self) -> dict:
        """Popen's user/group/extra_groups for this user (nothing when no switch is needed)."""
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


def task_user(command_user: str, framework_user: str, *, allow_root: bool) -> TaskUser:
    """The user a task runs as (see the module's text); raises TaskUserError."""
    name = command_user or framework_user
    me = pwd.getpwuid(os.geteuid())
    if not name:
        name = me.pw_name
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise TaskUserError(f"user {name[:64]!r} does not exist on this host") from None
    if os.geteuid() != 0 and entry.pw_uid != os.geteuid():
        raise TaskUserError(
            f"cannot run as {name!r}: the agent runs as {me.pw_name!r}, not root, and cannot switch user"
        )
    if entry.pw_uid == 0 and not allow_root:
        raise TaskUserError(f"tasks may not run as root ({name!r}) on this agent (it was started with --no-root-tasks)")
    try:
        groups = tuple(g for g in os.getgrouplist(entry.pw_name, entry.pw_gid))
    except OSError:
        groups = (entry.pw_gid,)
    return TaskUser(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)
