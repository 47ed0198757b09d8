"""The processes of ``parcours dev`` and their lives: each component (the Temporal dev server,
the partner simulators, the worker, the API) is started and waited for, then watched; one that
stops on its own is started again after a back-off that doubles (1 s, 2 s, 4 s … 30 s at most)
and starts over at 1 s once it has run fine for a minute; the terminal says so in one line.
``stop`` stops them all, the last started first, and nothing is restarted from then on.

The components run in sessions of their own: a Ctrl-C in the terminal reaches the supervisor
only, which stops them in order instead of all at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
# A component that ran this long before stopping was healthy: its next delay is the first one.
HEALTHY_AFTER_S = 60.0
WATCH_EVERY_S = 0.2
STOP_WAIT_S = 15.0


def interrupt_on(*signals: signal.Signals) -> None:
    """These signals stop the supervising process as Ctrl-C does (``KeyboardInterrupt``), so
    that it stops its components in order."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for signum in signals:
        signal.signal(signum, interrupt)


def next_delay(previous_s: float, ran_for_s: float) -> float:
    """How long to wait before restarting a component that stopped after ``ran_for_s``,
    ``previous_s`` being the wait before its last restart (0 if none)."""
    if not previous_s or ran_for_s >= HEALTHY_AFTER_S:
        return FIRST_DELAY_S
    return min(previous_s * 2, MAX_DELAY_S)


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself listens on TCP ``port`` (Linux: its sockets among the
    listening ones of ``/proc/net/tcp``), whoever else does."""
    listening: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address "0100007F:1F40", state 0A (LISTEN), the socket's inode
            if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                listening.add(f"socket:[{fields[9]}]")
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) in listening:
                return True
        except OSError:
            continue
    return False


class StartFailed(Exception):
    """A component did not come up when the platform started (its French reason)."""


@dataclass
class Component:
    """One process of the platform: ``name`` as users call it (« serveur Temporal »),
    ``stopped`` the French words that begin the terminal's line when it stops (« Le serveur
    Temporal s'est arrêté »), ``port`` the address that answers once it is up, ``log`` the
    file its output goes to (else the terminal), ``env`` what its environment says beyond the
    platform's (the second worker's metrics address)."""

    name: str
    stopped: str
    command: list[str]
    port: tuple[str, int] | None = None
    log: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # Other processes listen on the same port (``parcours api --shared-port``): it is up once
    # this process itself listens there, not when the port answers.
    shares_port: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # Watched (restarted when it stops) once it came up.
    watched: bool = False
    started_at: float = 0.0
    delay_s: float = 0.0
    restart_at: float | None = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts components, restarts those that stop, stops them all. Restarts happen in a
    thread of their own, so that a component also comes back while the platform is still
    starting (the demo's import needs the worker)."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.components: list[Component] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self, component: Component, timeout_s: float = 60.0) -> Component:
        """Start ``component`` and wait until its port answers; then it is watched.
        ``StartFailed`` if it stops or does not answer in time."""
        with self._lock:
            self._spawn(component)
            self.components.append(component)
        assert component.process is not None
        if component.port is not None:
            self._wait_for_port(component, timeout_s)
        component.watched = True
        if not self._watcher.is_alive():
            self._watcher.start()
        return component

    def wait(self) -> NoReturn:
        """Keep the components running until Ctrl-C (``KeyboardInterrupt``)."""
        while True:
            time.sleep(1)

    def stop(self) -> None:
        """Stop every component, the last started first, each gone before the next is asked
        (the worker finishes its tasks while Temporal still answers): SIGTERM, then SIGKILL
        after ``STOP_WAIT_S``. None is restarted from the first call on. A second Ctrl-C
        kills what is left at once."""
        with self._lock:
            self._stopping.set()
        try:
            for component in reversed(self.components):
                process = component.process
                if process is None or process.poll() is not None:
                    continue
                # SIGTERM, not SIGINT: a child of a background job inherits SIGINT ignored.
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        except KeyboardInterrupt:
            for component in self.components:
                if component.process is not None:
                    component.process.kill()
                    component.process.wait()

    def _spawn(self, component: Component) -> None:
        out = open(component.log, "ab") if component.log else None  # noqa: SIM115
        try:
            component.process = subprocess.Popen(
                component.command,
                cwd=self.cwd,
                env={**self.env, **component.env},
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
            )
        finally:
            if out is not None:
                out.close()  # the child has its own copy
        component.started_at = time.monotonic()
        component.restart_at = None

    def _wait_for_port(self, component: Component, timeout_s: float) -> None:
        assert component.port is not None and component.process is not None
        host, port = component.port
        deadline = time.monotonic() + timeout_s
        where = f" (voir {component.log})" if component.log else ""
        while time.monotonic() < deadline:
            code = component.process.poll()
            if code is not None:
                raise StartFailed(
                    f"Démarrage impossible ({component.name}) : le processus s'est arrêté "
                    f"(code {code}){where}."
                )
            if component.shares_port:
                if listens(component.process.pid, port):
                    return
            else:
                with socket.socket() as s:
                    s.settimeout(0.5)
                    if s.connect_ex((host, port)) == 0:
                        return
            time.sleep(0.2)
        raise StartFailed(
            f"Démarrage impossible ({component.name}) : {host}:{port} ne répond pas "
            f"après {timeout_s:.0f} s{where}."
        )

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_EVERY_S):
            with self._lock:
                if self._stopping.is_set():
                    return
                now = time.monotonic()
                for component in self.components:
                    self._tend(component, now)

    def _tend(self, component: Component, now: float) -> None:
        process = component.process
        if not component.watched or process is None or process.poll() is None:
            return
        if component.restart_at is None:
            component.delay_s = next_delay(component.delay_s, now - component.started_at)
            component.restart_at = now + component.delay_s
            print(
                f"{component.stopped} (code {process.returncode}) : "
                f"redémarrage dans {component.delay_s:.0f} s.",
                file=sys.stderr,
                flush=True,
            )
        elif now >= component.restart_at:
            try:
                self._spawn(component)
            except OSError as error:  # its program is gone: counted as one more stop
                component.started_at, component.restart_at = now, None
                print(f"{component.name} : relance impossible ({error}).", file=sys.stderr)
