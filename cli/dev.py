"""``parcours dev``: the whole platform on one machine, as docker-compose wires it in
production — Temporal dev server (SQLite under var/), the partner simulators with the local
mailbox, worker and API as separate processes. Unless an SMTP server is configured, every
mail goes to that mailbox (var/mail/, listed at the simulators' /mailbox). Ctrl-C stops them
all; data stays under var/ for the next run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cli.temporal_server import dev_server_command
from demo.requests import demo_requests_summary, seed_demo_requests
from demo.seed import demo_feed_summary, seed_caf_feed
from parcours.core.settings import ROOT, Settings


def _wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"le processus {process.args!r} s'est arrêté (code {process.returncode})"
            )
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{host}:{port} ne répond pas après {timeout:.0f} s")


def _parcours(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def _import_demo_caf_feed(settings: Settings) -> None:
    """The demo's CAF feed, through the real import workflow (once; a later run imports
    nothing new). The demo goes on without it if it fails."""
    try:
        print(demo_feed_summary(asyncio.run(seed_caf_feed(settings))), flush=True)
    except Exception as error:  # the platform is usable without the demo feed
        print(f"Le flux CAF de démonstration n'a pas été importé : {error}", file=sys.stderr)


def _make_demo_requests(settings: Settings) -> None:
    """The demo's requests to funders and structures, once the API takes the partners'
    callbacks. The demo goes on without them if they fail."""
    try:
        print(demo_requests_summary(asyncio.run(seed_demo_requests(settings))), flush=True)
    except Exception as error:  # the platform is usable without them
        print(f"Les demandes de démonstration n'ont pas été faites : {error}", file=sys.stderr)


def mail_environment(settings: Settings) -> dict[str, str]:
    """Unless an SMTP server is configured, every part sends its mails to the simulators'
    local mailbox."""
    if settings.smtp_host:
        return {}
    return {
        "PARCOURS_SMTP_HOST": settings.simulators_host,
        "PARCOURS_SMTP_PORT": str(settings.mailbox_smtp_port),
        "PARCOURS_SMTP_STARTTLS": "false",
    }


def where_mails_go(settings: Settings) -> str:
    if settings.smtp_host:
        return f"envoyés par le serveur SMTP {settings.smtp_host}:{settings.smtp_port}"
    return (
        f"http://{settings.simulators_host}:{settings.simulators_port}/mailbox  (boîte locale :"
        f" SMTP {settings.simulators_host}:{settings.mailbox_smtp_port}, fichiers .eml dans"
        f" {_shown(settings.mailbox_dir)})"
    )


def _shown(path: Path) -> str:
    try:
        return f"{path.relative_to(ROOT)}/"
    except ValueError:
        return str(path)


def run_dev(settings: Settings, seed: bool = True) -> int:
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    env = {**os.environ, "PARCOURS_LOG_FORMAT": os.environ.get("PARCOURS_LOG_FORMAT", "console")}
    env.update(mail_environment(settings))
    host, _, port = settings.temporal_address.partition(":")
    processes: list[subprocess.Popen[bytes]] = []

    def start(command: list[str], log_name: str | None = None) -> subprocess.Popen[bytes]:
        stdout = open(var / log_name, "ab") if log_name else None  # noqa: SIM115
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stdout)
        processes.append(process)
        return process

    def stop_all() -> None:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in reversed(processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def on_term(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # A supervisor's SIGTERM stops everything, like Ctrl-C.

    signal.signal(signal.SIGTERM, on_term)
    try:
        subprocess.run(_parcours("migrate"), cwd=ROOT, env=env, check=True)
        temporal = start(dev_server_command(Path(var / "temporal.db"), int(port)), "temporal.log")
        print(f"Temporal (dev server) démarre sur {settings.temporal_address}…", flush=True)
        _wait_for_port(host, int(port), 60, temporal)
        simulators = start(_parcours("simulators"), "simulators.log")
        _wait_for_port(settings.simulators_host, settings.simulators_port, 60, simulators)
        _wait_for_port(settings.simulators_host, settings.mailbox_smtp_port, 10, simulators)
        start(_parcours("worker"))
        if seed:
            subprocess.run(_parcours("seed-demo"), cwd=ROOT, env=env, check=True)
            _import_demo_caf_feed(settings)
        api = start(_parcours("api"))
        _wait_for_port(settings.api_host, settings.api_port, 60, api)
        if seed:
            _make_demo_requests(settings)
        print(
            "\nParcours est prêt :\n"
            f"  pages et API   http://{settings.api_host}:{settings.api_port}  "
            f"(OpenAPI : /docs)\n"
            f"  Temporal UI    {settings.temporal_ui_url}\n"
            f"  partenaires    http://{settings.simulators_host}:{settings.simulators_port}"
            "  (simulateurs CAF, France Travail, Région, structures)\n"
            f"  courriels      {where_mails_go(settings)}\n"
            "  comptes de démonstration : nadia.benali@demo.parcours.fr (référente), "
            "claire.dumas@… (orientation), marc.vial@… (responsable), anne.roche@… "
            "(financeur Région), personne@demo.parcours.fr "
            "— mot de passe demo-parcours-73\n"
            "Ctrl-C pour tout arrêter (les données restent dans var/).\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = next(p for p in processes if p.poll() is not None)
        print(
            f"Un composant s'est arrêté : {failed.args!r} (code {failed.returncode})",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("\nArrêt de Parcours…", flush=True)
        return 0
    finally:
        stop_all()
