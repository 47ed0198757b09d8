"""``parcours admin``: what an operator does on the command line before any administrator can
sign in — the very first administrator of a département."""

from __future__ import annotations

import asyncio

import typer

from parcours.access.service import create_first_admin
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.errors import ParcoursError
from parcours.core.outbox import enqueued, send_outbox
from parcours.core.settings import get_settings

app = typer.Typer(help="Administration en ligne de commande.", no_args_is_help=True)


@app.command("create-admin")
def create_admin(
    email: str = typer.Argument(..., help="Adresse électronique de l'administrateur"),
    name: str = typer.Option(..., "--name", help="Nom et prénom"),
    territory: str = typer.Option(..., "--territory", help="Code du département (ex. 73)"),
) -> None:
    """Create the first administrator of a département and print their one-time link (72 h)
    to choose a password; refused once the département has an administrator."""
    raise typer.Exit(asyncio.run(_create_admin(email, name, territory)))


async def _create_admin(email: str, name: str, territory: str) -> int:
    settings = get_settings()
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        async with transaction(sessions) as session:
            user, link = await create_first_admin(
                session, settings, email=email, full_name=name, territory=territory
            )
        # The mail with the link leaves now if the SMTP server takes it, else with the outbox.
        run = await send_outbox(sessions, settings, enqueued(session))
    except ParcoursError as error:
        typer.echo(error.message, err=True)
        return 1
    finally:
        await engine.dispose()
    typer.echo(
        f"Administrateur créé : {user.full_name} <{user.email}>, département {user.territory}"
        " (accueilli sur la plateforme)."
    )
    if run.sent:
        typer.echo(
            f"Un courriel avec le lien pour choisir son mot de passe est parti vers {user.email}."
        )
    else:
        typer.echo(
            "Le courriel n'est pas encore parti (serveur de courrier injoignable ou non configuré)."
        )
    typer.echo(f"Lien pour choisir son mot de passe (72 h, une seule fois) : {link}")
    return 0
