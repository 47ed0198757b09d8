"""The demo: the Savoie (73) — structures, professionals and people whose journeys stand at
every step — and a second hosted département, the Haute-Savoie (74), with its own structure,
référente, manager and a few people: each manager sees their own département only.

Journeys are real workflows, moved by the same service calls as the pages; a second run
changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from demo.appointments import seed_demo_appointments
from demo.reorientation import review_due_now, seed_demo_reorientations
from demo.resources import load_demo_resources
from demo.sanctions import seed_demo_sanction
from parcours.access.models import Structure, User
from parcours.carnet.models import Beneficiary, Consent
from parcours.carnet.schemas import ConsentMethod
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.errors import Conflict
from parcours.core.schemas import person_name
from parcours.core.security import hash_password
from parcours.core.settings import ROOT, Settings
from parcours.core.temporal import connect
from parcours.journey.messages import (
    Action,
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    EmploymentContract,
    ExitReason,
    OrientationKind,
    PauseInput,
    ReassignReferentInput,
    RecordEmploymentInput,
    SignContractInput,
    Step,
)
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from parcours.partners.caf_import import CafImportService
from parcours.partners.messages import CafImportProgress, caf_import_workflow_id
from parcours.partners.models import CafFeedLine
from parcours.partners.schemas import CafImportRead
from simulators.caf_feed import EventKind, RsaEvent, generate_events, write_feed_file
from simulators.synthetic import (
    HAUTE_SAVOIE_COMMUNES,
    ISERE_COMMUNES,
    SAVOIE_COMMUNES,
    Place,
    nir_key,
)

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
    # The DPO: the access log of the département (who read whose carnet), nothing else.
    ("Agathe Leroy", "dpo", 0),
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
# The second département of the demo: its structure, its professionals, its people's cities.
SECOND_TERRITORY = "74"
SECOND_STRUCTURES = [("Département de la Haute-Savoie — Pôle insertion Annecy", "departement")]
SECOND_PROFESSIONALS = [
    ("Lucie Fournier", "referent", 0),
    ("Hugo Marchand", "manager", 0),
]
SECOND_CITIES = [
    ("74000", "Annecy"),
    ("74200", "Thonon-les-Bains"),
    ("74100", "Annemasse"),
]
SECOND_PEOPLE = 8
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
    password_hash = hash_password(DEMO_PASSWORD)
    savoie = _Territory("73", STRUCTURES, PROFESSIONALS, CITIES, random.Random(73))
    second = _Territory(
        SECOND_TERRITORY, SECOND_STRUCTURES, SECOND_PROFESSIONALS, SECOND_CITIES, random.Random(74)
    )
    for territory in (savoie, second):
        await territory.staff_up(sessions, password_hash)
    # The Chambéry hub's place and weekly slots: its référentes can invite from day one.
    await seed_demo_appointments(
        sessions,
        savoie.structures[0].id,
        savoie.referents[0].id if savoie.referents else None,
    )
    plan = [t for t, share in TARGETS for _ in range(share)]
    in_accompaniment: list[str] = []
    for index in range(people):
        target = plan[index % len(plan)]
        # The first in diagnosis is past the legal orientation delay: France Travail orients
        # her (its decision comes back by signed callback; her journey's page shows the passed
        # due date), as it does every journey the demo leaves unoriented after 6 weeks.
        late = target == "diagnosis" and plan.index("diagnosis") == index % len(plan)
        # The third journey in accompaniment is on the social track, its review due now.
        review = target == "accompaniment" and len(in_accompaniment) == 2
        person = await savoie.enrol(
            sessions,
            temporal,
            review_due_now(settings) if review else settings,
            target,
            social=review,
            late=late,
        )
        if target == "accompaniment":
            in_accompaniment.append(person.id)
        # The first person who has just found work can sign in to their own space.
        if target == "employment" and plan.index("employment") == index % len(plan):
            await _beneficiary_account(sessions, person.id, person, password_hash)
    # A reorientation accepted and one refused, with their reasons (issue 15).
    if len(in_accompaniment) >= 2:
        await seed_demo_reorientations(
            sessions, temporal, settings, in_accompaniment[0], in_accompaniment[1], "73"
        )
    # A suspension-remobilisation case opened after an absence, lifted when she signed.
    if len(in_accompaniment) >= 4:
        await seed_demo_sanction(
            sessions, temporal, settings, in_accompaniment[3], savoie.structures[0].id
        )
    # The second département's people, at a few steps.
    for index in range(SECOND_PEOPLE):
        await second.enrol(sessions, temporal, settings, plan[(index * 7) % len(plan)])
    log.info(
        "demo loaded",
        extra={
            "people": people + SECOND_PEOPLE,
            "password": DEMO_PASSWORD,
            "accounts": [_email(n) for n, *_ in (*PROFESSIONALS, *SECOND_PROFESSIONALS)],
        },
    )
    await engine.dispose()


@dataclass
class _Enrolled:
    id: str
    first_name: str
    last_name: str
    territory: str


class _Territory:
    """One département of the demo: its structures and professionals, then its people."""

    def __init__(
        self,
        code: str,
        structures: list[tuple[str, str]],
        professionals: list[tuple[str, str, int]],
        cities: list[tuple[str, str]],
        rng: random.Random,
    ) -> None:
        self.code, self.cities, self.rng = code, cities, rng
        self.structure_names, self.professionals = structures, professionals
        self.structures: list[Structure] = []
        self.referents: list[User] = []

    async def staff_up(self, sessions: async_sessionmaker[AsyncSession], password: str) -> None:
        async with transaction(sessions) as session:
            self.structures = [
                Structure(name=n, kind=k, territory=self.code) for n, k in self.structure_names
            ]
            session.add_all(self.structures)
            await session.flush()
            staff = [
                User(
                    email=_email(name),
                    full_name=name,
                    role=role,
                    structure_id=self.structures[index].id,
                    territory=self.code,
                    password_hash=password,
                )
                for name, role, index in self.professionals
            ]
            session.add_all(staff)
        self.referents = [u for u in staff if u.role == "referent"]

    async def enrol(
        self,
        sessions: async_sessionmaker[AsyncSession],
        temporal: Client,
        settings: Settings,
        target: str,
        *,
        late: bool = False,
        social: bool = False,
    ) -> _Enrolled:
        rng = self.rng
        referent = rng.choice(self.referents)
        postal_code, city = rng.choice(self.cities)
        birth_date = date(1965, 1, 1) + timedelta(days=rng.randrange(0, 13000))
        # A NIR, so that France Travail can identify those it orients past the legal delay.
        first_13 = f"{rng.choice((1, 2))}{birth_date:%y%m}{self.code}{rng.randrange(1, 990):03d}"
        first_13 += f"{rng.randrange(1, 1000):03d}"
        data = BeneficiaryCreate(
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            birth_date=birth_date,
            nir=first_13 + nir_key(first_13),
            caf_number=str(rng.randrange(1_000_000, 9_999_999)),
            address=f"{rng.randrange(1, 120)} rue de la République",
            postal_code=postal_code,
            city=city,
            territory=self.code,
            # Some opened long ago: their orientation is overdue, as in real life. Those past
            # the legal 6 weeks and not oriented here are oriented by France Travail (asked at
            # once; it answers after ``simulators_decision_delay_s``).
            rsa_opened_on=date.today()
            - timedelta(days=rng.choice([5, 12, 20, 35, 60, 90]) if not late else 50),
            referent_id=referent.id if target != "intake" else None,
        )
        async with transaction(sessions) as session:
            enrolment = await JourneyService(session, temporal, settings).enrol(data)
        for action in _actions_to(target, referent, self.structures, rng, social=social):
            async with transaction(sessions) as session:
                await JourneyService(session, temporal, settings).act(
                    enrolment.beneficiary.id, action
                )
        return _Enrolled(enrolment.beneficiary.id, data.first_name, data.last_name, self.code)


async def _beneficiary_account(
    sessions: Any, beneficiary_id: str, data: _Enrolled, password_hash: str
) -> None:
    """One person of the demo can sign in to their own space."""
    async with transaction(sessions) as session:
        session.add(
            User(
                email="personne@demo.parcours.fr",
                full_name=person_name(data.first_name, data.last_name),
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
    target: str,
    referent: User,
    structures: list[Structure],
    rng: random.Random,
    *,
    social: bool = False,
) -> list[Action]:
    actor = referent.id
    today = date.today()
    order = ["intake", "diagnosis", "orientation", "accompaniment", "contract", "follow_up"]
    if target == "employment":
        employment = RecordEmploymentInput(
            actor_id=actor, started_on=today, contract=EmploymentContract.CDI
        )
        return [*_actions_to("contract", referent, structures, rng), employment]
    # Drawn all the same for the social journey: the other people stay as they were.
    drawn = rng.choice(list(OrientationKind))
    steps: list[Action] = [
        BeginDiagnosisInput(actor_id=actor),
        CompleteDiagnosisInput(actor_id=actor),
        DecideOrientationInput(
            actor_id=actor,
            kind=OrientationKind.SOCIAL if social else drawn,
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


# --- The CAF feed of the demo ---------------------------------------------------------------
#
# ``make run`` imports a generated CAF feed file (a few lines malformed on purpose) through the
# real ``CafImport`` workflow: its people arrive as the CAF sends them. The file is written
# once under var/ and kept: running the demo again imports the same file, which changes
# nothing. The partner simulators forget everything when they stop, so each run tells them
# again who the CAF and France Travail know, for the look-ups from the carnet.

DEMO_FEED_LINES = 40
DEMO_FEED_MALFORMED = 3
DEMO_FEED_SEED = 73
# Where the feed's people live: mostly the Savoie, some in the Haute-Savoie (enrolled there),
# one commune of the Isère, a département the demo does not host (its lines are rejected).
DEMO_FEED_COMMUNES: tuple[Place, ...] = (
    *SAVOIE_COMMUNES,
    *SAVOIE_COMMUNES,
    *HAUTE_SAVOIE_COMMUNES,
    ISERE_COMMUNES[0],
)
# The file's name carries the day its events were generated for (their dates follow it).
DEMO_FEED_PREFIX = "flux-caf-demo-"
DEMO_REFERENT_EMAIL = "nadia.benali@demo.parcours.fr"
# People of the feed handed to the demo référente, so that she can try the look-ups; the
# first ones consented to sharing with France Travail.
DEMO_LOOKUP_PEOPLE = 4
DEMO_LOOKUP_CONSENTS = 2


@dataclass(frozen=True)
class DemoFeedImport:
    path: Path
    imported: CafImportRead
    # False when this file had been imported by an earlier run: nothing was redone.
    ran_now: bool
    handed_to_referent: int = 0


def demo_feed_path(var_dir: Path) -> tuple[Path, date]:
    """The demo's feed file, as an earlier run wrote it, else a new one for today; and the day
    its events are generated for."""
    for existing in sorted(var_dir.glob(f"{DEMO_FEED_PREFIX}*.csv")):
        try:
            return existing, date.fromisoformat(existing.stem.removeprefix(DEMO_FEED_PREFIX))
        except ValueError:
            continue
    today = date.today()
    return var_dir / f"{DEMO_FEED_PREFIX}{today.isoformat()}.csv", today


def _demo_feed_file(
    var_dir: Path, *, seed: int, lines: int, malformed: int, communes: tuple[Place, ...]
) -> tuple[Path, date]:
    var_dir.mkdir(parents=True, exist_ok=True)
    path, generated_on = demo_feed_path(var_dir)
    if not path.exists():
        write_feed_file(
            path, lines, seed=seed, malformed=malformed, today=generated_on, communes=communes
        )
    return path, generated_on


async def seed_caf_feed(
    settings: Settings,
    var_dir: Path = ROOT / "var",
    *,
    seed: int = DEMO_FEED_SEED,
    lines: int = DEMO_FEED_LINES,
    malformed: int = DEMO_FEED_MALFORMED,
    referent_email: str | None = DEMO_REFERENT_EMAIL,
    communes: tuple[Place, ...] = DEMO_FEED_COMMUNES,
) -> DemoFeedImport:
    """Import the demo's CAF feed file (once), and tell the simulators who the CAF and France
    Travail know (every run)."""
    path, generated_on = await asyncio.to_thread(
        _demo_feed_file,
        var_dir,
        seed=seed,
        lines=lines,
        malformed=malformed,
        communes=communes,
    )
    events = generate_events(lines, seed=seed, today=generated_on, communes=communes)
    await _tell_partner_simulators(settings, events)
    content = await asyncio.to_thread(path.read_bytes)
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        temporal = await connect(settings)
        async with transaction(sessions) as session:
            file_id, _ = await CafImportService(session, temporal, settings).store(
                path.name, content
            )
        async with sessions() as session:
            current = await CafImportService(session, temporal, settings).read(file_id, 0)
        ran_now = current.status != "completed"
        if ran_now:
            async with sessions() as session:
                await CafImportService(session, temporal, settings).start(file_id)
            await temporal.get_workflow_handle(
                caf_import_workflow_id(file_id), result_type=CafImportProgress
            ).result()
        handed = (
            await _hand_to_referent(sessions, temporal, settings, file_id, referent_email)
            if referent_email
            else 0
        )
        async with sessions() as session:
            imported = await CafImportService(session, temporal, settings).read(file_id)
        return DemoFeedImport(path, imported, ran_now, handed)
    finally:
        await engine.dispose()


def demo_feed_summary(result: DemoFeedImport) -> str:
    read = result.imported
    path = result.path
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    if not result.ran_now:
        return f"Flux CAF de démonstration ({where}) déjà importé : rien de nouveau."
    return (
        f"Flux CAF de démonstration importé ({where}, {read.lines} lignes) : "
        f"{read.created} personnes inscrites, {read.signalled} changements de droits, "
        f"{read.rejected} lignes rejetées (page « Imports CAF »)."
    )


def _france_travail_identifier(event: RsaEvent) -> str | None:
    """Two people in three of the feed are registered at France Travail, always the same ones
    with the same identifier (the simulators start empty at every run)."""
    digest = hashlib.sha256(event.nir[:13].encode()).hexdigest()
    return digest[:8].upper() if int(digest, 16) % 3 else None


async def _tell_partner_simulators(settings: Settings, events: list[RsaEvent]) -> None:
    base = settings.partners_base_url.rstrip("/")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.post(
                "/caf/_feed", json={"events": [e.model_dump(mode="json") for e in events]}
            )
            response.raise_for_status()
            for event in events:
                identifier = _france_travail_identifier(event)
                if event.kind != EventKind.NEW_RIGHTS or identifier is None:
                    continue
                response = await client.post(
                    "/france-travail/_individus",
                    json={
                        "nir": event.nir,
                        "birth_date": event.birth_date.isoformat(),
                        "first_name": event.first_name,
                        "last_name": event.last_name,
                        "identifier": identifier,
                        "registered_on": (event.rights_opened_on or event.occurred_on).isoformat(),
                    },
                )
                response.raise_for_status()
    except httpx.HTTPError as error:
        # The import does not need them: only the look-ups will not find these people.
        log.warning("partner simulators not told", extra={"url": base, "error": str(error)})


async def _hand_to_referent(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    file_id: str,
    referent_email: str,
) -> int:
    """Give the demo référente the first people of her département the feed enrolled whose
    journey is open (once: a journey that has a référent is left alone), the first ones with
    their consent to share with France Travail. Returns how many were handed to her now."""
    async with sessions() as session:
        referent = await session.scalar(select(User).where(User.email == referent_email))
        enrolled = list(
            await session.scalars(
                select(CafFeedLine.beneficiary_id)
                .where(CafFeedLine.file_id == file_id, CafFeedLine.outcome == "created")
                .order_by(CafFeedLine.number)
            )
        )
    if referent is None:
        return 0
    followed = handed = 0
    for beneficiary_id in enrolled:
        if beneficiary_id is None or followed == DEMO_LOOKUP_PEOPLE:
            continue
        async with transaction(sessions) as session:
            journeys = JourneyService(session, temporal, settings)
            record = await journeys.journeys.get(beneficiary_id)
            # Her own département's people only (the feed also enrols the Haute-Savoie's).
            if (
                record is None
                or record.step == Step.CLOSED
                or record.territory != referent.territory
            ):
                continue
            if record.referent_id is None:
                try:
                    await journeys.act(
                        beneficiary_id,
                        ReassignReferentInput(
                            referent_id=referent.id, structure_id=referent.structure_id
                        ),
                    )
                except Conflict:  # closed by the CAF meanwhile
                    continue
                handed += 1
            elif record.referent_id != referent.id:
                continue
        followed += 1
        if followed <= DEMO_LOOKUP_CONSENTS:
            async with transaction(sessions) as session:
                if await session.get(Consent, (beneficiary_id, "france_travail")) is None:
                    session.add(
                        Consent(
                            beneficiary_id=beneficiary_id,
                            partner="france_travail",
                            granted=True,
                            method=ConsentMethod.SELF_SERVICE.value,
                        )
                    )
    return handed
