"""The ``parcours`` command: each part of the platform runs on its own, as in production."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from parcours.logging import configure_logging
from parcours.settings import ROOT, get_settings

app = typer.Typer(help="Parcours — orientation et accompagnement (SPIE).", no_args_is_help=True)


def _setup(component: str) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, component)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from alembic import command
    from alembic.config import Config

    _setup("migrate")
    (ROOT / "var").mkdir(exist_ok=True)
    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")


@app.command()
def worker() -> None:
    """Run a Temporal worker (journeys and their activities)."""
    from cli.worker import run_worker

    _setup("worker")
    asyncio.run(run_worker(get_settings()))


@app.command()
def api() -> None:
    """Serve the pages and the JSON API."""
    import uvicorn

    from api.app import create_app

    _setup("api")
    settings = get_settings()
    uvicorn.run(
        create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
    )


@app.command("seed-demo")
def seed_demo(people: int = typer.Option(50, help="Nombre de personnes à créer")) -> None:
    """Load the Savoie demo (structures, référents, people at every step); once only."""
    from cli.seed import seed

    _setup("seed")
    asyncio.run(seed(get_settings(), people))


@app.command()
def dev(
    no_seed: bool = typer.Option(False, "--no-seed", help="Sans données de démonstration"),
) -> None:
    """Run the whole platform locally: Temporal dev server, worker, API (what `make run` does)."""
    from cli.dev import run_dev

    raise typer.Exit(run_dev(get_settings(), seed=not no_seed))


@app.command("temporal-dev")
def temporal_dev(db_file: Path = ROOT / "var" / "temporal.db") -> None:
    """Run only the Temporal dev server with Parcours' search attributes."""
    import os

    from cli.temporal_server import dev_server_command

    command = dev_server_command(db_file)
    os.execv(command[0], command)


if __name__ == "__main__":
    app()
