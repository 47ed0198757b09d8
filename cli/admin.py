"""``parcours admin``: what an operator does on the command line before any administrator can
sign in — the very first administrator of a département."""

from __future__ import annotations

import asyncio

import typer

from parcours.access.service import create_first_admin
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.errors import ParcoursError
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
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            user, link = await create_first_admin(
                session, settings, email=email, full_name=name, territory=territory
            )
    except ParcoursError as error:
        typer.echo(error.message, err=True)
        return 1
    finally:
        await engine.dispose()
    typer.echo(f"Administrateur créé : {user.full_name} <{user.email}>, département {territory}.")
    typer.echo(f"Lien pour choisir son mot de passe (72 h, une seule fois) : {link}")
    return 0
