"""The scheduler's connection to the master: registration with backoff, heartbeats, and
noticing that the master is gone (protocol.md, "Framework <-> master" 1-3).

A mixin of `Scheduler`: it owns the connection state, the user's class owns the rest.

    REGISTERING --FrameworkRegistered/Reregistered--> REGISTERED
    REGISTERED --no MasterHeartbeat for 3 intervals, known=False, new master--> REGISTERING
    any --stop() / FrameworkError--> STOPPED
"""

from __future__ import annotations

import enum
import logging

from actors.runtime import on
from actors.scheduler.config import BACKOFF_FIRST, BACKOFF_MAX, MISSED_HEARTBEATS, DriverConfig

NO_MASTER_REPEAT = 300.0  # seconds between warnings while no master answers
from messages import (
    FrameworkHeartbeat,
    FrameworkRegistered,
    FrameworkReregistered,
    MasterHeartbeat,
    MasterInfo,
    RegisterFramework,
    ReregisterFramework,
)
from messages.framework import SchedulerHeartbeatTimer, SchedulerRegistrationTimer

log = logging.getLogger(__name__)


class State(str, enum.Enum):
    REGISTERING = "registering"
    REGISTERED = "registered"
    STOPPED = "stopped"


class Session:
    """Connection state of a scheduler; mixed into `Scheduler`."""

    _driver: DriverConfig
    _session_state: State = State.REGISTERING
    master_info: MasterInfo | None = None
    _ever_registered = False  # registered() was called in this process
    _registration_attempt = 0
    _master_heard_at = 0.0  # when the master last answered a heartbeat
    _registration_timer = ""
    _heartbeat_timer = ""
    leader_epoch: int  # the runtime Actor's: messages of a deposed master are ignored

    @property
    def framework_id(self) -> str:
        return self._driver.framework.framework_id

    @property
    def connected(self) -> bool:
        return self._session_state is State.REGISTERED

    # --- registration -------------------------------------------------------------------

    def _start_registering(self) -> None:
        self._session_state = State.REGISTERING
        self._registering_since = self.now()
        self._no_master_said_at = None
        self._drop_warned = False  # see Scheduler._tell
        self._cancel_timers()
        self._registration_attempt = 0
        self._send_registration()

    def _send_registration(self) -> None:
        info = self._driver.framework
        if self._ever_registered:  # reconnecting from this same process
            request = ReregisterFramework(info, failover=False)
        elif self._driver.failover:  # a new process for an id used before
            request = ReregisterFramework(info, failover=True)
        else:
            request = RegisterFramework(info)
        self.send(self._driver.master, request)
        backoff = min(BACKOFF_FIRST * 2**self._registration_attempt, BACKOFF_MAX)
        self._registration_attempt += 1
        self._registration_timer = self.delay(backoff, SchedulerRegistrationTimer(self._registration_attempt))

    @on(SchedulerRegistrationTimer)
    def _on_registration_timer(self, msg: SchedulerRegistrationTimer) -> None:
        if self._session_state is State.REGISTERING and msg.attempt == self._registration_attempt:
            # Said once, then every NO_MASTER_REPEAT seconds: a framework may wait for a
            # master a long time, and its log must not fill with the same line.
            waited = self.now() - getattr(self, "_registering_since", self.now())
            said = getattr(self, "_no_master_said_at", None)
            if said is None or self.now() - said >= NO_MASTER_REPEAT:
                self._no_master_said_at = self.now()
                log.warning("%s: no answer from the master (%s) after %.0fs; still registering",
                            self.address, self._driver.master, waited)
            else:
                log.info("%s: no answer from the master yet; registering again", self.address)
            self._send_registration()

    @on(FrameworkRegistered, FrameworkReregistered)
    def _on_registered(self, msg: FrameworkRegistered | FrameworkReregistered) -> None:
        if self._session_state is not State.REGISTERING:
            return  # a late answer to a retried request
        if msg.framework_id != self.framework_id:
            log.warning("%s: ignoring a registration for framework %r", self.address, msg.framework_id)
            return
        self._session_state = State.REGISTERED
        self.master_info = msg.master
        self._master_heard_at = self.now()
        self._cancel_timers()
        self._heartbeat_timer = self.delay(self._driver.heartbeat_interval, SchedulerHeartbeatTimer())
        if self._driver.id_file is not None:
            self._driver.id_file.save(self.framework_id)
        first = not self._ever_registered
        self._ever_registered = True
        # Like Mesos: the first registration of this process (a failover included) is
        # `registered`; a reconnection of the same process is `reregistered`.
        if first:
            self.registered(self.framework_id, msg.master)
        else:
            self.reregistered(msg.master)

    # --- heartbeats ---------------------------------------------------------------------

    @on(SchedulerHeartbeatTimer)
    def _on_heartbeat_timer(self, msg: SchedulerHeartbeatTimer) -> None:
        if self._session_state is not State.REGISTERED:
            return
        silent = self.now() - self._master_heard_at
        if silent >= self._driver.heartbeat_interval * MISSED_HEARTBEATS:
            self.leader_epoch = 0  # no master at all: whichever answers next leads, whatever its epoch
            self._lose_master(f"no heartbeat from the master for {silent:.0f}s")
            return
        self.send(self._driver.master, FrameworkHeartbeat(self.framework_id))
        self._heartbeat_timer = self.delay(self._driver.heartbeat_interval, SchedulerHeartbeatTimer())

    @on(MasterHeartbeat)
    def _on_master_heartbeat(self, msg: MasterHeartbeat) -> None:
        if self._session_state is not State.REGISTERED:
            return
        if not msg.known:
            self._lose_master("the master does not know this framework")
        elif self.master_info is not None and msg.master_id != self.master_info.master_id:
            self._lose_master(f"a new master {msg.master_id!r} answered")
        else:
            self._master_heard_at = self.now()

    def _lose_master(self, why: str) -> None:
        log.warning("%s: disconnected: %s; registering again", self.address, why)
        self._start_registering()
        self.disconnected()

    def _cancel_timers(self) -> None:
        for timer in (self._registration_timer, self._heartbeat_timer):
            if timer:
                self.cancel(timer)
        self._registration_timer = self._heartbeat_timer = ""

    # --- the user's callbacks (defined by Scheduler) ------------------------------------

    def registered(self, framework_id: str, master_info: MasterInfo) -> None: ...

    def reregistered(self, master_info: MasterInfo) -> None: ...

    def disconnected(self) -> None: ...
