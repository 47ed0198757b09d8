"""The demo's requests to partners, made once the whole platform runs (``make run``).

Nadia Benali, the demo référente, asks the Région and France Travail to fund trainings and
orients people to services, through the same services as her pages. Then the partners play
their part through the simulators: France Travail's system decides on its own (a signed
callback, about 20 s later); the Région's requests wait in its funders' console for Anne
Roche; two structures answer (one accepts, one refuses with its reason); a third structure's
system is down for the next hour or so, which managers see as an incident. Finally the daily
digest runs once, so the managers' « Résumé du jour » is not empty.

Run once: when the database already holds training requests, nothing is asked again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from demo.seed import DEMO_REFERENT_EMAIL
from parcours.access.models import User
from parcours.access.rules import Principal
from parcours.carnet.models import Beneficiary, Consent
from parcours.carnet.schemas import ConsentMethod
from parcours.core.db import create_engine, create_sessionmaker, transaction, utcnow
from parcours.core.errors import ParcoursError
from parcours.core.settings import Settings
from parcours.core.temporal import connect
from parcours.inbox.messages import SCHEDULE_ID as INBOX_SCHEDULE_ID
from parcours.journey.messages import Step
from parcours.journey.models import JourneyRecord
from parcours.management.messages import SCHEDULE_ID as DIGEST_SCHEDULE_ID
from parcours.management.schemas import ReminderCreate
from parcours.management.service import ManagementService
from parcours.orientations.models import ServiceOrientationRecord
from parcours.orientations.schemas import ServiceOrientationCreate
from parcours.orientations.service import ServiceOrientationService
from parcours.resources.models import ResourceService, Training
from parcours.training_requests.models import TrainingRequestRecord
from parcours.training_requests.schemas import (
    MoreInfoCreate,
    TrainingRequestCreate,
    TrainingRequestRead,
)
from parcours.training_requests.service import FunderConsoleService, TrainingRequestService

log = logging.getLogger(__name__)

# The people the requests are for: in accompaniment, followed by the demo référente.
DEMO_PEOPLE = 4
DEMO_FUNDER_EMAIL = "anne.roche@demo.parcours.fr"
DEMO_MANAGER_EMAIL = "marc.vial@demo.parcours.fr"
# How many calls the unreachable structure's system fails (its retries, every 5 s doubling up
# to an hour, make that about 85 minutes of incident).
INCIDENT_FAILURES = 10


@dataclass
class DemoRequests:
    made: bool
    # Why nothing was asked (None: asked now, or already asked by an earlier run).
    skipped: str | None = None
    training_requests: int = 0
    orientations: int = 0
    answers: list[str] = field(default_factory=list)


def demo_requests_summary(result: DemoRequests) -> str:
    if result.skipped:
        return f"Demandes de démonstration non faites : {result.skipped}."
    if not result.made:
        return "Demandes de démonstration : déjà faites lors d'un lancement précédent."
    return (
        f"Demandes de démonstration : {result.training_requests} demandes de formation "
        f"(Région et France Travail), {result.orientations} orientations vers des services"
        + (f" ; réponses des structures : {', '.join(result.answers)}" if result.answers else "")
        + "."
    )


async def seed_demo_requests(settings: Settings) -> DemoRequests:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        temporal = await connect(settings)
        async with sessions() as session:
            if await session.scalar(select(func.count()).select_from(TrainingRequestRecord)):
                return DemoRequests(made=False)
        referent, people = await _referent_and_people(sessions)
        if referent is None or len(people) < DEMO_PEOPLE:
            return DemoRequests(
                made=False,
                skipped=f"la référente de démonstration suit moins de {DEMO_PEOPLE} personnes "
                "en accompagnement",
            )
        principal = Principal.of(referent)
        result = DemoRequests(made=True)
        trainings = await _trainings(sessions)
        # Two for the Région (they wait for Anne Roche's decision in her console), one for
        # France Travail (its own system answers).
        requests = []
        for person, training in zip(people, trainings, strict=False):
            async with transaction(sessions) as session:
                created = await TrainingRequestService(
                    session, temporal, settings, principal
                ).request(TrainingRequestCreate(beneficiary_id=person, training_id=training))
            requests.append(created)
            result.training_requests += 1
        services = await _services(sessions, 3)
        orientation_ids = []
        for person, service in zip(reversed(people), services[:2], strict=False):
            async with transaction(sessions) as session:
                read = await ServiceOrientationService(
                    session, temporal, settings, principal
                ).orient(ServiceOrientationCreate(beneficiary_id=person, service_id=service))
            orientation_ids.append(read.id)
            result.orientations += 1
        async with httpx.AsyncClient(base_url=settings.partners_base_url, timeout=10) as partners:
            result.answers = await _structures_answer(sessions, partners, orientation_ids)
            if len(services) > 2:
                # The next orientation meets a structure whose system is down.
                await partners.put("/_switches/structures", json={"fail_next": INCIDENT_FAILURES})
                await _orient_once_more(
                    sessions, temporal, settings, principal, people[0], services[2]
                )
                result.orientations += 1
        await _inbox_examples(sessions, temporal, settings, requests, people)
        await _run_digest(temporal)
        return result
    finally:
        await engine.dispose()


async def _referent_and_people(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[User | None, list[str]]:
    """The demo référente and people she follows in accompaniment, each with a NIR (the
    funders identify people by it) and the consents a request needs (given as the person
    would, from « Mon espace »)."""
    async with transaction(sessions) as session:
        referent = await session.scalar(select(User).where(User.email == DEMO_REFERENT_EMAIL))
        if referent is None:
            return None, []
        followed = list(
            await session.scalars(
                select(Beneficiary)
                .join(JourneyRecord, Beneficiary.id == JourneyRecord.beneficiary_id)
                .where(
                    JourneyRecord.step == Step.ACCOMPANIMENT.value,
                    JourneyRecord.referent_id == referent.id,
                    JourneyRecord.paused.is_(False),
                )
                .order_by(JourneyRecord.started_at, Beneficiary.id)
                .limit(DEMO_PEOPLE)
            )
        )
        for number, beneficiary in enumerate(followed, start=1):
            if not beneficiary.nir:
                beneficiary.nir = demo_nir(beneficiary.birth_date, number)
        people = [beneficiary.id for beneficiary in followed]
        for person in people:
            for partner in ("region", "france_travail", "structures"):
                consent = await session.get(Consent, (person, partner))
                if consent is None:
                    session.add(
                        Consent(
                            beneficiary_id=person,
                            partner=partner,
                            granted=True,
                            changed_at=utcnow(),
                            method=ConsentMethod.SELF_SERVICE.value,
                        )
                    )
                else:
                    consent.granted = True
                    consent.method = ConsentMethod.SELF_SERVICE.value
        return referent, people


def demo_nir(birth_date: date, number: int) -> str:
    """A well-formed NIR for a demo person born in Savoie (commune 065, Chambéry)."""
    body = f"2{birth_date:%y}{birth_date:%m}73065{900 + number:03d}"
    return f"{body}{97 - int(body) % 97:02d}"


async def _trainings(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """Two Région sessions and one France Travail session still open, with places."""
    chosen: list[str] = []
    async with sessions() as session:
        for funder, count in (("region", 2), ("france_travail", 1)):
            chosen += await session.scalars(
                select(Training.id)
                .where(
                    Training.funder == funder,
                    Training.active.is_(True),
                    Training.end_on >= date.today(),
                    (Training.places_left.is_(None)) | (Training.places_left > 0),
                )
                .order_by(Training.start_on, Training.id)
                .limit(count)
            )
    return chosen


async def _services(sessions: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    """Services of as many different structures."""
    async with sessions() as session:
        rows = await session.execute(
            select(
                ResourceService.id, ResourceService.source, ResourceService.structure_source_id
            ).order_by(ResourceService.id)
        )
        chosen: dict[tuple[str, str], int] = {}
        for service_id, source, structure_id in rows:
            chosen.setdefault((source, structure_id), service_id)
            if len(chosen) == count:
                break
    return list(chosen.values())


async def _structures_answer(
    sessions: async_sessionmaker[AsyncSession],
    partners: httpx.AsyncClient,
    orientation_ids: list[str],
) -> list[str]:
    """Once each orientation reached its structure, the structure answers on its side (the
    simulator then sends Parcours the signed callback): the first accepts, the second refuses."""
    answers = [
        ({"accepted": True}, "acceptée"),
        (
            {"accepted": False, "reason": "Plus de place avant le mois prochain : à redemander."},
            "refusée",
        ),
    ]
    given = []
    for orientation_id, (answer, label) in zip(orientation_ids, answers, strict=False):
        reference = await _reference_of(sessions, orientation_id)
        if reference is None:
            log.warning("demo orientation not received by its structure in time")
            continue
        response = await partners.post(f"/structures/_answer/{reference}", json=answer)
        if response.is_success:
            given.append(label)
    return given


async def _reference_of(
    sessions: async_sessionmaker[AsyncSession], orientation_id: str, wait_s: float = 30.0
) -> str | None:
    for _ in range(int(wait_s / 0.5)):
        async with sessions() as session:
            record = await session.get(ServiceOrientationRecord, orientation_id)
            if record is not None and record.reference:
                return record.reference
        await asyncio.sleep(0.5)
    return None


async def _orient_once_more(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    principal: Principal,
    person: str,
    service: int,
) -> None:
    """An orientation to a structure whose system is down: the incident of the demo."""
    async with transaction(sessions) as session:
        await ServiceOrientationService(session, temporal, settings, principal).orient(
            ServiceOrientationCreate(beneficiary_id=person, service_id=service)
        )


async def _inbox_examples(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    requests: list[TrainingRequestRead],
    people: list[str],
) -> None:
    """What fills Nadia Benali's « À traiter » besides the structures' answers and the late
    journeys: Anne Roche asks a question about a Région request, Marc Vial sends a relance.
    Both go through the platform's services, so the inbox's producer writes their items."""
    async with sessions() as session:
        funder = await session.scalar(select(User).where(User.email == DEMO_FUNDER_EMAIL))
        manager = await session.scalar(select(User).where(User.email == DEMO_MANAGER_EMAIL))
    region = next((r for r in requests if r.funder == "region"), None)
    if funder is not None and region is not None and await _sent(sessions, region.id):
        try:
            async with transaction(sessions) as session:
                await FunderConsoleService(
                    session, temporal, settings, Principal.of(funder)
                ).ask_more_info(
                    region.id,
                    MoreInfoCreate(
                        question="La personne a-t-elle déjà suivi une formation qualifiante ?"
                    ),
                )
        except ParcoursError as error:
            log.warning("demo funder question not asked", extra={"error": error.message})
    if manager is not None and len(people) > 1:
        async with transaction(sessions) as session:
            await ManagementService(session, temporal, settings, Principal.of(manager)).remind(
                ReminderCreate(
                    beneficiary_ids=[people[1]],
                    message="Pouvez-vous faire le point sur ce parcours avant vendredi ?",
                )
            )
    try:
        await temporal.get_schedule_handle(INBOX_SCHEDULE_ID).trigger()
    except Exception as error:  # the deadlines of the week come with the next morning's run
        log.warning("demo inbox day not triggered", extra={"error": str(error)})


async def _sent(
    sessions: async_sessionmaker[AsyncSession], request_id: str, wait_s: float = 30.0
) -> bool:
    """Whether the funder's system received the request (it can be asked about then)."""
    for _ in range(int(wait_s / 0.5)):
        async with sessions() as session:
            record = await session.get(TrainingRequestRecord, request_id)
            if record is not None and record.sent_at is not None:
                return True
        await asyncio.sleep(0.5)
    log.warning("demo training request not received by its funder in time")
    return False


async def _run_digest(temporal: Client) -> None:
    try:
        await temporal.get_schedule_handle(DIGEST_SCHEDULE_ID).trigger()
    except Exception as error:  # the demo goes on without its first digest
        log.warning("demo digest not triggered", extra={"error": str(error)})
