"""The ``parcours`` command: each part of the platform runs on its own, as in production."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from cli.admin import app as admin_commands
from parcours.core.logging import configure_logging
from parcours.core.settings import ROOT, get_settings
from parcours.core.tracing import configure_tracing

app = typer.Typer(help="Parcours — orientation et accompagnement (SPIE).", no_args_is_help=True)


app.add_typer(admin_commands, name="admin")


def _setup(component: str) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, component)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from alembic import command
    from alembic.config import Config

    _setup("migrate")
    get_settings().var_dir.mkdir(parents=True, exist_ok=True)  # the default SQLite file's
    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")


@app.command()
def worker() -> None:
    """Run a Temporal worker (journeys and their activities)."""
    from cli.worker import run_worker

    _setup("worker")
    configure_tracing("parcours-worker")
    asyncio.run(run_worker(get_settings()))


@app.command()
def api(
    shared_port: bool = typer.Option(
        False,
        "--shared-port",
        help="Partager le port avec d'autres processus API (SO_REUSEPORT : le noyau répartit "
        "les connexions)",
    ),
    processes: int = typer.Option(
        1,
        "--processes",
        envvar="PARCOURS_API_PROCESSES",
        min=1,
        help="Processus API sur le port (un cœur chacun) ; au-delà de 1, ils partagent le port "
        "et chacun est relancé s'il s'arrête",
    ),
) -> None:
    """Serve the pages and the JSON API."""
    import uvicorn

    from api.app import create_app
    from cli.api import serve_processes, shared_socket

    if processes > 1 and not shared_port:
        raise typer.Exit(serve_processes(get_settings(), processes))
    _setup("api")
    configure_tracing("parcours-api")
    settings = get_settings()
    application = create_app(settings, whole_process=True)
    if not shared_port:
        uvicorn.run(application, host=settings.api_host, port=settings.api_port, log_config=None)
        return
    server = uvicorn.Server(uvicorn.Config(application, log_config=None))
    server.run(sockets=[shared_socket(settings.api_host, settings.api_port)])


@app.command("import-caf")
def import_caf(
    file: Path = typer.Argument(..., help="Fichier du flux RSA de la CAF (CSV « ; »)"),
) -> None:
    """Import a CAF feed file: enrol new rights, signal changes, report rejected lines."""
    from cli.caf_import import run_import

    _setup("import-caf")
    raise typer.Exit(asyncio.run(run_import(get_settings(), file)))


@app.command("partner-secret")
def partner_secret_command(
    partner: str = typer.Argument(..., help="caf, france_travail, region ou structures"),
) -> None:
    """Le secret propre d'un partenaire pour signer ses rappels (à lui remettre ; il nomme
    sa clé dans l'en-tête X-Parcours-Key-Id)."""
    from parcours.partners.callbacks import PARTNERS
    from parcours.partners.signing import partner_secret

    if partner not in PARTNERS:
        typer.echo(f"Partenaire inconnu : {partner} (attendu : {', '.join(sorted(PARTNERS))}).")
        raise typer.Exit(2)
    settings = get_settings()
    typer.echo(
        settings.partner_callback_secrets.get(partner)
        or partner_secret(settings.partner_callback_secret, partner)
    )


@app.command("import-resources")
def import_resources(
    paths: list[Path] = typer.Argument(
        ..., help="Fichiers (ou dossiers) data·inclusion JSON/CSV et formations CSV"
    ),
) -> None:
    """Import resource files: data·inclusion structures and services, trainings (report in
    French; rejected rows are listed, the others imported or updated in place)."""
    from cli.resources import run_import

    _setup("import-resources")
    raise typer.Exit(asyncio.run(run_import(get_settings(), paths)))


@app.command()
def reconcile(
    all_journeys: bool = typer.Option(False, "--all", help="Tous les parcours"),
    journey: list[str] = typer.Option(
        [], "--journey", help="Un parcours (identifiant de la personne), répétable"
    ),
    minutes: int = typer.Option(
        60, help="Sans --all ni --journey : les parcours écrits ces N dernières minutes"
    ),
) -> None:
    """Compare journeys' read model with their workflow and repair it; print what was fixed
    (exit status 0 when nothing was left unchecked)."""
    from cli.reconcile import run_reconcile

    _setup("reconcile")
    raise typer.Exit(
        asyncio.run(run_reconcile(get_settings(), all_journeys, list(journey), minutes))
    )


@app.command("keep-closed-months")
def keep_closed_months_command(
    months: int = typer.Option(
        24, min=1, max=36, help="Les N derniers mois de chaque département (36 au plus)"
    ),
) -> None:
    """Read each département's indicators once, so that their closed months are kept before a
    manager asks (PostgreSQL): after the upgrade that keeps a figure; the worker does it every
    night."""
    from parcours.core.db import create_engine, create_sessionmaker
    from parcours.indicators.service import keep_closed_months

    _setup("keep-closed-months")

    async def run() -> int:
        settings = get_settings()
        engine = create_engine(settings.database_url)
        try:
            kept = await keep_closed_months(create_sessionmaker(engine), settings, months)
        finally:
            await engine.dispose()
        typer.echo(f"Mois clos gardés pour {len(kept)} département(s).")
        return 0

    raise typer.Exit(asyncio.run(run()))


territory = typer.Typer(help="Les départements accueillis sur la plateforme.", no_args_is_help=True)
app.add_typer(territory, name="territory")


@territory.command("activate")
def territory_activate(
    code: str = typer.Argument(..., help="Code du département (ex. 38, 2A, 974)"),
) -> None:
    """Host a département: its people can be enrolled, its CAF lines are applied."""
    from cli.territories import run_activate

    _setup("territory")
    raise typer.Exit(asyncio.run(run_activate(get_settings(), code)))


@territory.command("list")
def territory_list() -> None:
    """List the hosted départements."""
    from cli.territories import run_list

    _setup("territory")
    raise typer.Exit(asyncio.run(run_list(get_settings())))


@app.command("seed-demo")
def seed_demo(people: int = typer.Option(50, help="Nombre de personnes à créer")) -> None:
    """Load the Savoie demo (structures, référents, people at every step); once only."""
    from demo.seed import seed

    _setup("seed")
    asyncio.run(seed(get_settings(), people))


@app.command()
def simulators() -> None:
    """Serve the partner simulators (CAF, France Travail, Région, structures, SMS provider) and
    the local mailbox (SMTP on PARCOURS_MAILBOX_SMTP_PORT, mails kept in PARCOURS_MAILBOX_DIR)."""
    from simulators.server import run

    _setup("simulators")
    settings = get_settings()
    run(
        settings.simulators_host,
        settings.simulators_port,
        callback_url=f"{settings.public_api_url}/api/v1/partners/callbacks",
        callback_secret=settings.partner_callback_secret,
        decision_delay_s=settings.simulators_decision_delay_s,
        demo_events=settings.simulators_demo_events,
        region_decides_alone=settings.simulators_region_decides_alone,
        mailbox_dir=str(settings.mailbox_folder),
        smtp_port=settings.mailbox_smtp_port,
        # The SMS provider: the key and report secret the platform holds; "delivered" 2 s on.
        sms_api_key=settings.sms_api_key or None,
        sms_report_url=f"{settings.public_api_url}/api/v1/sms/delivery-reports",
        sms_report_secret=settings.sms_report_secret,
        sms_report_delay_s=2.0,
    )


@app.command()
def dev(
    no_seed: bool = typer.Option(False, "--no-seed", help="Sans données de démonstration"),
    workers: int = typer.Option(1, min=1, max=16, help="Nombre de processus worker"),
    apis: int = typer.Option(
        1, min=1, max=16, help="Nombre de processus API, tous sur le même port"
    ),
) -> None:
    """Run the whole platform locally: Temporal dev server, worker, API (what `make run` does;
    `make run-scaled`: two workers and two API processes on PostgreSQL)."""
    from cli.dev import run_dev

    raise typer.Exit(run_dev(get_settings(), seed=not no_seed, workers=workers, apis=apis))


@app.command("temporal-dev")
def temporal_dev(
    db_file: Path | None = typer.Option(None, help="Défaut : temporal.db du dossier var"),
) -> None:
    """Run only the Temporal dev server with Parcours' search attributes."""
    import os

    from cli.temporal_server import dev_server_command

    command = dev_server_command(db_file or get_settings().var_dir / "temporal.db")
    os.execv(command[0], command)


if __name__ == "__main__":
    app()
