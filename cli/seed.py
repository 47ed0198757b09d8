"""The Savoie demo: structures, professionals and people whose journeys stand at every step.

Journeys are real workflows, moved by the same service calls as the pages; a second run
changes nothing.
"""

from __future__ import annotations

import logging
import random
import unicodedata
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from parcours.db import create_engine, create_sessionmaker, transaction
from parcours.journey.messages import (
    Action,
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    PauseInput,
    RecordEmploymentInput,
    SignContractInput,
)
from parcours.journey.steps import EmploymentContract, ExitReason, OrientationKind
from parcours.models import Beneficiary, Structure, User
from parcours.resources.demo import load_demo_resources
from parcours.schemas import BeneficiaryCreate
from parcours.security import hash_password
from parcours.services.journeys import JourneyService
from parcours.settings import Settings
from parcours.temporal_client import connect

log = logging.getLogger(__name__)

# Every demo account signs in with this password (demo data only, never in production).
DEMO_PASSWORD = "demo-parcours-73"

STRUCTURES = [
    ("Département de la Savoie — Pôle insertion Chambéry", "departement"),
    ("France Travail Chambéry", "france_travail"),
    ("CCAS d'Aix-les-Bains", "ccas"),
    ("Association Le Pélican — Albertville", "association"),
    ("Région Auvergne-Rhône-Alpes — Formation", "region"),
]
PROFESSIONALS = [
    ("Claire Dumas", "orientation", 0),
    ("Nadia Benali", "referent", 0),
    ("Julien Morel", "referent", 0),
    ("Sophie Girard", "referent", 1),
    ("Karim Haddad", "referent", 2),
    ("Élodie Perrin", "referent", 3),
    ("Marc Vial", "manager", 0),
    ("Anne Roche", "funder", 4),
    ("Paul Lenoir", "funder", 1),
    ("Inès Morel", "admin", 0),
]
FIRST_NAMES = [
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Inès",
    "Nathan",
    "Manon",
    "Yanis",
    "Camille",
    "Louis",
    "Sarah",
    "Mehdi",
    "Julie",
    "Théo",
    "Amina",
    "Maxime",
    "Laura",
    "Rayan",
    "Emma",
    "Kevin",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Roux",
    "Fontaine",
    "Blanc",
    "Garnier",
    "Chevalier",
    "Faure",
    "Rousseau",
    "Mercier",
    "Bonnet",
    "Dupuis",
    "Lambert",
    "Fabre",
    "Brun",
    "Gauthier",
    "Perrier",
    "Collet",
]
CITIES = [
    ("73000", "Chambéry"),
    ("73100", "Aix-les-Bains"),
    ("73200", "Albertville"),
    ("73300", "Saint-Jean-de-Maurienne"),
    ("73700", "Bourg-Saint-Maurice"),
]
# Where each demo journey stops: (target step, share of people).
TARGETS = [
    ("intake", 8),
    ("diagnosis", 8),
    ("orientation", 8),
    ("accompaniment", 8),
    ("contract", 6),
    ("employment", 3),
    ("follow_up", 4),
    ("paused", 2),
    ("closed", 3),
]


async def seed(settings: Settings, people: int = 50) -> None:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    temporal = await connect(settings)
    # The resource base first: it loads once, whether or not the people are there.
    async with transaction(sessions) as session:
        await load_demo_resources(session)
    async with sessions() as session:
        if await session.scalar(select(func.count()).select_from(Beneficiary)):
            log.info("demo already loaded: nothing to do")
            await engine.dispose()
            return
    rng = random.Random(73)
    password_hash = hash_password(DEMO_PASSWORD)
    async with transaction(sessions) as session:
        structures = [Structure(name=n, kind=k, territory="73") for n, k in STRUCTURES]
        session.add_all(structures)
        await session.flush()
        staff = [
            User(
                email=_email(name),
                full_name=name,
                role=role,
                structure_id=structures[index].id,
                territory="73",
                password_hash=password_hash,
            )
            for name, role, index in PROFESSIONALS
        ]
        session.add_all(staff)
    referents = [u for u in staff if u.role == "referent"]
    plan = [t for t, share in TARGETS for _ in range(share)]
    for index in range(people):
        target = plan[index % len(plan)]
        referent = rng.choice(referents)
        postal_code, city = rng.choice(CITIES)
        data = BeneficiaryCreate(
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            birth_date=date(1965, 1, 1) + timedelta(days=rng.randrange(0, 13000)),
            caf_number=str(rng.randrange(1_000_000, 9_999_999)),
            address=f"{rng.randrange(1, 120)} rue de la République",
            postal_code=postal_code,
            city=city,
            territory="73",
            # Some opened long ago: their orientation is overdue, as in real life.
            rsa_opened_on=date.today() - timedelta(days=rng.choice([5, 12, 20, 35, 60, 90])),
            referent_id=referent.id if target != "intake" else None,
        )
        async with transaction(sessions) as session:
            service = JourneyService(session, temporal, settings)
            enrolment = await service.enrol(data)
        for action in _actions_to(target, referent, structures, rng):
            async with transaction(sessions) as session:
                await JourneyService(session, temporal, settings).act(
                    enrolment.beneficiary.id, action
                )
        # The first person who has just found work can sign in to their own space.
        if target == "employment" and plan.index("employment") == index % len(plan):
            await _beneficiary_account(sessions, enrolment.beneficiary.id, data, password_hash)
    log.info(
        "demo loaded",
        extra={
            "people": people,
            "password": DEMO_PASSWORD,
            "accounts": [_email(n) for n, *_ in PROFESSIONALS],
        },
    )
    await engine.dispose()


async def _beneficiary_account(
    sessions: Any, beneficiary_id: str, data: BeneficiaryCreate, password_hash: str
) -> None:
    """One person of the demo can sign in to their own space."""
    async with transaction(sessions) as session:
        session.add(
            User(
                email="personne@demo.parcours.fr",
                full_name=f"{data.first_name} {data.last_name}",
                role="beneficiary",
                territory=data.territory,
                beneficiary_id=beneficiary_id,
                password_hash=password_hash,
            )
        )


def _email(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return f"{plain.lower().replace(' ', '.')}@demo.parcours.fr"


def _actions_to(
    target: str, referent: User, structures: list[Structure], rng: random.Random
) -> list[Action]:
    actor = referent.id
    today = date.today()
    order = ["intake", "diagnosis", "orientation", "accompaniment", "contract", "follow_up"]
    if target == "employment":
        employment = RecordEmploymentInput(
            actor_id=actor, started_on=today, contract=EmploymentContract.CDI
        )
        return [*_actions_to("contract", referent, structures, rng), employment]
    steps: list[Action] = [
        BeginDiagnosisInput(actor_id=actor),
        CompleteDiagnosisInput(actor_id=actor),
        DecideOrientationInput(
            actor_id=actor,
            kind=rng.choice(list(OrientationKind)),
            structure_id=referent.structure_id or structures[0].id,
            referent_id=referent.id,
        ),
        SignContractInput(
            actor_id=actor, signed_on=today, ends_on=today + timedelta(days=180), weekly_hours=15
        ),
        RecordEmploymentInput(
            actor_id=actor,
            started_on=today,
            contract=EmploymentContract.CDD,
            follow_up_consent=True,
        ),
    ]
    if target == "paused":
        return [*steps[:2], PauseInput(actor_id=actor)]
    if target == "closed":
        return [*steps[:1], CloseInput(actor_id=actor, exit_reason=ExitReason.DECLINED)]
    return steps[: order.index(target)]
