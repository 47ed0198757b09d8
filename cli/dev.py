"""``parcours dev``: the whole platform on one machine, as docker-compose wires it in
production — Temporal dev server (SQLite under the var directory), the partner simulators with
the local mailbox and the SMS provider, worker and API as separate processes, kept running by
``cli.supervisor`` (a component that stops is restarted). Unless an SMTP server is configured,
every mail goes to that mailbox (``mail/`` in the var directory, listed at the simulators'
/mailbox), and unless an SMS provider is, every SMS to the simulated one. Ctrl-C stops them
all; data stays in the var directory for the next run."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from api.metrics import MULTIPROCESS_DIR_ENV
from cli.supervisor import Component, StartFailed, Supervisor, interrupt_on
from cli.temporal_server import dev_server_command
from demo.requests import demo_requests_summary, seed_demo_requests
from demo.seed import demo_feed_summary, seed_caf_feed
from parcours.core.settings import ROOT, Settings
from parcours.core.tracing import tracing_endpoint

DEFAULT_UI_PORT = 8233


def _parcours(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def _import_demo_caf_feed(settings: Settings) -> None:
    """The demo's CAF feed, through the real import workflow (once; a later run imports
    nothing new). The demo goes on without it if it fails."""
    try:
        print(demo_feed_summary(asyncio.run(seed_caf_feed(settings, settings.var_dir))), flush=True)
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


# What ``parcours dev`` gives the platform and the simulators when no SMS provider is set.
DEV_SMS_API_KEY = "dev-sms-api-key"
DEV_SMS_REPORT_SECRET = "dev-sms-report-secret"


def sms_environment(settings: Settings) -> dict[str, str]:
    """Unless an SMS provider is configured, every part sends its SMS to the simulators'
    provider, which reports them delivered to the API."""
    if settings.sms_url:
        return {}
    return {
        "PARCOURS_SMS_URL": f"http://{settings.simulators_host}:{settings.simulators_port}/sms",
        "PARCOURS_SMS_API_KEY": settings.sms_api_key or DEV_SMS_API_KEY,
        "PARCOURS_SMS_REPORT_SECRET": settings.sms_report_secret or DEV_SMS_REPORT_SECRET,
    }


def where_sms_go(settings: Settings) -> str:
    if settings.sms_url:
        return f"envoyés par {settings.sms_url}"
    return (
        f"http://{settings.simulators_host}:{settings.simulators_port}/sms/_messages  "
        "(fournisseur simulé)"
    )


def where_mails_go(settings: Settings) -> str:
    if settings.smtp_host:
        return f"envoyés par le serveur SMTP {settings.smtp_host}:{settings.smtp_port}"
    return (
        f"http://{settings.simulators_host}:{settings.simulators_port}/mailbox  (boîte locale :"
        f" SMTP {settings.simulators_host}:{settings.mailbox_smtp_port}, fichiers .eml dans"
        f" {_shown(settings.mailbox_folder)})"
    )


def where_traces_go() -> str:
    """The API and the worker trace themselves (``configure_tracing``) from the environment
    they inherit."""
    endpoint = tracing_endpoint()
    if endpoint is None:
        return "désactivées (définir OTEL_EXPORTER_OTLP_ENDPOINT pour les envoyer)"
    return f"OTLP vers {endpoint} (parcours-api, parcours-worker)"


def _processes(count: int, what: str) -> str:
    return f" ; {count} {what} sur ce port" if count > 1 else ""


def _shown(path: Path) -> str:
    try:
        return f"{path.relative_to(ROOT)}/"
    except ValueError:
        return str(path)


def _address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def worker_components(settings: Settings, count: int) -> list[Component]:
    """``count`` worker processes on the same task queue (Temporal spreads the tasks); each
    serves its metrics on a port of its own: the configured one, then the next ones."""
    host, port = _address(settings.worker_metrics_address)
    if count == 1:
        # Its metrics are served once it runs; it connects to Temporal right after.
        return [Component("worker", "Le worker s'est arrêté", _parcours("worker"), (host, port))]
    return [
        Component(
            f"worker {n}",
            f"Le worker {n} s'est arrêté",
            _parcours("worker"),
            port=(host, port + n - 1),
            env={"PARCOURS_WORKER_METRICS_ADDRESS": f"{host}:{port + n - 1}"},
        )
        for n in range(1, count + 1)
    ]


def api_metrics_dir(settings: Settings) -> Path:
    return settings.var_dir / "api-metrics"


def api_components(settings: Settings, count: int, counters: Path | None = None) -> list[Component]:
    """``count`` API processes on the one API port (``parcours api --shared-port``: the kernel
    spreads the connections, ``cli.api``); each is up once it listens there itself. Their
    ``/metrics`` add up all of them (counters in files under ``counters``, by default under the
    var directory, emptied at each run)."""
    address = (settings.api_host, settings.api_port)
    if count == 1:
        return [Component("API", "L'API s'est arrêtée", _parcours("api"), port=address)]
    counters = counters or api_metrics_dir(settings)
    return [
        Component(
            f"API {n}",
            f"L'API {n} s'est arrêtée",
            _parcours("api", "--shared-port"),
            port=address,
            env={MULTIPROCESS_DIR_ENV: str(counters)},
            shares_port=True,
        )
        for n in range(1, count + 1)
    ]


def refuse_taken_api_port(settings: Settings) -> None:
    """``StartFailed`` when something already listens on the API port. A single API would
    fail to bind it; API processes sharing the port would join whatever listens there — an
    API left over from an earlier run, on other code or another database — and serve half the
    requests with it."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((settings.api_host, settings.api_port)) != 0:
            return
    raise StartFailed(
        f"Démarrage impossible (API) : le port {settings.api_port} est déjà pris (un processus "
        "API d'un lancement précédent ?) ; les processus API qui partagent le port s'y "
        "joindraient."
    )


SQLITE_SCALED = (
    "Attention : plusieurs workers ou API sur SQLite écrivent chacun à leur tour (un seul "
    "écrivain) ; définir DATABASE_URL=postgresql+asyncpg://… (make run-scaled)."
)


def run_dev(settings: Settings, seed: bool = True, workers: int = 1, apis: int = 1) -> int:
    """Start the platform in order, each part once the one it needs answers; keep it running
    until Ctrl-C or SIGTERM. 1 when a part could not start (why, in French), else 0.
    ``workers`` and ``apis``: how many processes of each (``make run-scaled``: 2 and 2)."""
    var = settings.var_dir
    if settings.is_sqlite and (workers > 1 or apis > 1):
        print(SQLITE_SCALED, file=sys.stderr, flush=True)
    var.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PARCOURS_LOG_FORMAT": os.environ.get("PARCOURS_LOG_FORMAT", "console"),
        # Every part on the same files as this run, whatever set them.
        "PARCOURS_VAR_DIR": str(var),
        "DATABASE_URL": settings.database_url,
    }
    env.update(mail_environment(settings))
    env.update(sms_environment(settings))
    ui_port = urlsplit(settings.temporal_ui_url).port or DEFAULT_UI_PORT
    supervisor = Supervisor(ROOT, env)

    # A supervisor's SIGTERM stops everything, like Ctrl-C; SIGHUP too: the terminal closed,
    # and the children are in no group of it.
    interrupt_on(signal.SIGTERM, signal.SIGHUP)
    try:
        if apis > 1:
            refuse_taken_api_port(settings)
        subprocess.run(_parcours("migrate"), cwd=ROOT, env=env, check=True)
        print(f"Temporal (dev server) démarre sur {settings.temporal_address}…", flush=True)
        temporal = _address(settings.temporal_address)
        supervisor.start(
            Component(
                "serveur Temporal",
                "Le serveur Temporal s'est arrêté",
                dev_server_command(var / "temporal.db", temporal[1], ui_port),
                port=temporal,
                log=var / "temporal.log",
            )
        )
        supervisor.start(
            Component(
                "simulateurs des partenaires",
                "Les simulateurs des partenaires se sont arrêtés",
                _parcours("simulators"),
                port=(settings.simulators_host, settings.simulators_port),
                log=var / "simulators.log",
            )
        )
        for component in worker_components(settings, workers):
            supervisor.start(component)
        if seed:
            subprocess.run(_parcours("seed-demo"), cwd=ROOT, env=env, check=True)
            _import_demo_caf_feed(settings)
        # The API processes' counters of an earlier run are not this one's.
        shutil.rmtree(api_metrics_dir(settings), ignore_errors=True)
        api_metrics_dir(settings).mkdir()
        for component in api_components(settings, apis):
            supervisor.start(component)
        if seed:
            _make_demo_requests(settings)
        print(
            "\nParcours est prêt :\n"
            f"  pages et API   http://{settings.api_host}:{settings.api_port}  "
            f"(OpenAPI : /docs{_processes(apis, 'processus API')})\n"
            f"  workers        {workers} processus sur la file {settings.task_queue}\n"
            f"  Temporal UI    {settings.temporal_ui_url}\n"
            f"  partenaires    http://{settings.simulators_host}:{settings.simulators_port}"
            "  (simulateurs CAF, France Travail, Région, structures)\n"
            f"  courriels      {where_mails_go(settings)}\n"
            f"  SMS            {where_sms_go(settings)}\n"
            f"  traces         {where_traces_go()}\n"
            "  comptes de démonstration : nadia.benali@demo.parcours.fr (référente), "
            "claire.dumas@… (orientation), marc.vial@… (responsable), anne.roche@… "
            "(financeur Région), personne@demo.parcours.fr "
            "— mot de passe demo-parcours-73\n"
            f"Ctrl-C pour tout arrêter (les données restent dans {var}).\n",
            flush=True,
        )
        supervisor.wait()
    except StartFailed as failed:
        print(str(failed), file=sys.stderr, flush=True)
        return 1
    except subprocess.CalledProcessError as failed:
        print(
            f"Démarrage impossible : « parcours {failed.cmd[-1]} » a échoué (code "
            f"{failed.returncode}).",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except KeyboardInterrupt:
        print("\nArrêt de Parcours…", flush=True)
        return 0
    finally:
        supervisor.stop()
