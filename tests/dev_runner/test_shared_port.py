"""What lets ``parcours dev --workers 2 --apis 2`` run without a proxy: API processes bind one
port together (``parcours api --shared-port``) and the kernel spreads the connections over
them; a process that did not ask to share cannot take the port; each worker serves its metrics
on a port of its own. ``parcours api --processes 2`` (the production container's API) keeps
two such processes on its port by itself."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from cli.api import shared_socket
from cli.dev import api_components, worker_components
from cli.supervisor import listens
from parcours.core.settings import Settings
from tests.conftest import free_port
from tests.dev_runner.conftest import PATIENCE_S, children_of, dev_run
from tests.support.workers import spawn_parcours


def test_two_shared_sockets_on_one_port_both_take_connections() -> None:
    port = free_port()
    first, second = shared_socket("127.0.0.1", port), shared_socket("127.0.0.1", port)
    with first, second:
        for listening in (first, second):
            listening.listen()
            listening.setblocking(False)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        try:
            taken = [_accepted(first), _accepted(second)]
        finally:
            for client in clients:
                client.close()

    assert sum(taken) == 40
    assert all(taken)  # 40 connections all on one socket: one chance in 2**39


def test_a_process_is_up_once_it_listens_itself_on_the_shared_port() -> None:
    port = free_port()
    with shared_socket("127.0.0.1", port) as starting:
        assert not listens(os.getpid(), port)  # bound, its application still starting

        starting.listen()

        assert listens(os.getpid(), port)
        assert not listens(os.getpid(), free_port())


def test_a_process_that_does_not_share_cannot_take_the_port() -> None:
    port = free_port()
    with shared_socket("127.0.0.1", port) as shared:
        shared.listen()
        with socket.socket() as plain, pytest.raises(OSError):
            plain.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            plain.bind(("127.0.0.1", port))


def test_each_worker_has_its_metrics_port_and_the_apis_share_theirs() -> None:
    settings = Settings(worker_metrics_address="127.0.0.1:9464", api_port=8000)

    workers = worker_components(settings, 2)
    apis = api_components(settings, 2)

    assert [w.port for w in workers] == [("127.0.0.1", 9464), ("127.0.0.1", 9465)]
    assert [w.env["PARCOURS_WORKER_METRICS_ADDRESS"] for w in workers] == [
        "127.0.0.1:9464",
        "127.0.0.1:9465",
    ]
    assert [w.stopped for w in workers] == ["Le worker 1 s'est arrêté", "Le worker 2 s'est arrêté"]
    assert {a.port for a in apis} == {("127.0.0.1", 8000)}
    assert all(a.command[-2:] == ["api", "--shared-port"] and a.shares_port for a in apis)
    # One of each: as ``make run`` always ran them.
    (worker,) = worker_components(settings, 1)
    (api,) = api_components(settings, 1)
    assert (worker.name, worker.env, api.command[-1]) == ("worker", {}, "api")


def _accepted(listening: socket.socket) -> int:
    count = 0
    while True:
        try:
            connection, _ = listening.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


@pytest.mark.resilience
async def test_shared_api_processes_refuse_a_port_something_already_listens_on(
    tmp_path: Path,
) -> None:
    with socket.socket() as left_over:  # an API of an earlier run, say
        left_over.bind(("127.0.0.1", 0))
        left_over.listen()
        port = str(left_over.getsockname()[1])
        async with dev_run(
            tmp_path, "--apis", "2", wait_ready=False, PARCOURS_API_PORT=port
        ) as run:
            status = await asyncio.to_thread(run.process.wait, PATIENCE_S)

    assert status == 1
    assert f"Démarrage impossible (API) : le port {port} est déjà pris" in run.text()


@pytest.mark.resilience
async def test_api_processes_keep_their_port_answering_when_one_is_killed(
    tmp_path: Path, settings: Settings, dev_env: WorkflowEnvironment, sessions: object
) -> None:
    # ``sessions``: the database's schema is made (``/healthz`` reads the database).
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "PARCOURS_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "PARCOURS_API_HOST": "127.0.0.1",
        "PARCOURS_API_PORT": str(port),
        "PARCOURS_VAR_DIR": str(tmp_path),
        # As the production compose file sets it; its processes are plain ``api --shared-port``.
        "PARCOURS_API_PROCESSES": "2",
    }
    output = tmp_path / "api.log"
    api = spawn_parcours("api", env, output)

    def listening() -> set[int]:
        return {pid for pid in children_of(api.pid) if listens(pid, port)}

    async def two_listening(other_than: frozenset[int] = frozenset()) -> set[int]:
        async with asyncio.timeout(PATIENCE_S):
            while True:
                assert api.poll() is None, output.read_text(errors="replace")[-3000:]
                pids = listening()
                if len(pids) == 2 and not pids & other_than:
                    return pids
                await asyncio.sleep(0.2)

    async def answered(times: int) -> list[int]:
        statuses = []
        for _ in range(times):  # a new connection each: the kernel spreads them
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                statuses.append((await http.get("/healthz")).status_code)
        return statuses

    try:
        first = await two_listening()
        assert await answered(20) == [200] * 20

        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        second = await two_listening(other_than=frozenset({killed}))

        assert max(first) in second  # the other one served on, untouched
        assert await answered(20) == [200] * 20
        assert re.search(r"L'API [12] s'est arrêtée \(code -9\) : redémarrage", output.read_text())

        api.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(api.wait, PATIENCE_S) == 0
        assert _gone(second)
        with pytest.raises(httpx.ConnectError):
            await answered(1)
    finally:
        if api.poll() is None:  # its processes are in sessions of their own
            for pid in listening():
                os.kill(pid, signal.SIGKILL)
            api.kill()
            api.wait()


def _gone(pids: set[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)
