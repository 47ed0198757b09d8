"""What lets ``parcours dev --workers 2 --apis 2`` run without a proxy: API processes bind one
port together (``parcours api --shared-port``) and the kernel spreads the connections over
them; a process that did not ask to share cannot take the port; each worker serves its metrics
on a port of its own."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from cli.api import shared_socket
from cli.dev import api_components, worker_components
from cli.supervisor import listens
from parcours.core.settings import Settings
from tests.conftest import free_port
from tests.dev_runner.conftest import PATIENCE_S, dev_run


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
