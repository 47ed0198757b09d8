"""CAF feeds for tests: generated files with what importing them must do, and what the
database says afterwards."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from parcours.carnet.models import Beneficiary
from parcours.journey.messages import RsaStatus
from parcours.journey.models import JourneyRecord
from parcours.partners.models import CafFeedLine
from simulators.caf_feed import (
    Defect,
    EventKind,
    RightsState,
    generate_events,
    generate_feed_lines,
    write_feed_file,
)
from tests.support.workflows import settled

TODAY = date.today()
DEFECT_REASONS = {
    Defect.MISSING_FIELDS: "ligne incomplète : 21 colonnes au lieu de 24",
    Defect.BAD_BIRTH_DATE: "date de naissance invalide (« ",
    Defect.BAD_NIR_KEY: "NIR invalide (clé de contrôle incorrecte)",
    Defect.UNKNOWN_RIGHTS_STATE: "état du droit RSA inconnu (« 9 »)",
    Defect.EMPTY_CAF_NUMBER: "matricule CAF manquant",
    Defect.UNKNOWN_KIND: "type d'événement inconnu (« reprise_activite »)",
}
STATUS_OF_STATE = {
    RightsState.OPEN: RsaStatus.OPEN,
    RightsState.OPEN_SUSPENDED: RsaStatus.SUSPENDED,
    RightsState.OPEN_PAYMENT_SUSPENDED: RsaStatus.SUSPENDED,
    RightsState.CLOSED: RsaStatus.CLOSED,
    RightsState.CLOSED_EARLIER_MONTH: RsaStatus.CLOSED,
}


def fresh_seed() -> int:
    return random.SystemRandom().randrange(2**31)


@dataclass
class Expected:
    """What importing a generated feed must do, worked out from the events themselves."""

    outcomes: dict[int, str]  # line → created | signalled | rejected
    reasons: dict[int, str]  # rejected line → the start of its reason
    final_status: dict[str, RsaStatus]  # CAF number enrolled → the last status sent

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


def expected_import(n: int, seed: int, malformed: int) -> Expected:
    outcomes: dict[int, str] = {}
    reasons: dict[int, str] = {}
    status: dict[str, RsaStatus] = {}
    lines = generate_feed_lines(n, seed=seed, malformed=malformed, today=TODAY)
    for line, event in zip(lines, generate_events(n, seed=seed, today=TODAY), strict=True):
        if line.defect is not None:
            outcomes[line.number], reasons[line.number] = "rejected", DEFECT_REASONS[line.defect]
        elif event.kind == EventKind.NEW_RIGHTS:
            outcomes[line.number] = "created"
            status[event.caf_number] = STATUS_OF_STATE[event.rights_state]
        elif event.caf_number in status:
            outcomes[line.number] = "signalled"
            status[event.caf_number] = STATUS_OF_STATE[event.rights_state]
        else:  # its opening was on a malformed line: nobody to apply it to
            outcomes[line.number], reasons[line.number] = "rejected", "personne inconnue"
    return Expected(outcomes, reasons, status)


async def feed_file(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, n: int, malformed: int = 0
) -> tuple[Path, Expected]:
    """A feed of people the database does not know yet: CAF numbers are 7 digits drawn at
    random, and the test database holds other tests' imports (a number already there would
    make its new rights a change of someone known, and the expected counts wrong)."""
    while True:
        seed = fresh_seed()
        numbers = [e.caf_number for e in generate_events(n, seed=seed, today=TODAY)]
        if not any((await people_with(sessions, numbers)).values()):
            break
    path = tmp_path / f"flux-rsa-{seed}.csv"
    write_feed_file(path, n, seed=seed, malformed=malformed, today=TODAY)
    return path, expected_import(n, seed, malformed)


async def people_with(
    sessions: async_sessionmaker[AsyncSession], caf_numbers: list[str]
) -> dict[str, list[Beneficiary]]:
    numbers = caf_numbers
    async with sessions() as session:
        rows = await session.scalars(select(Beneficiary).where(Beneficiary.caf_number.in_(numbers)))
        found: dict[str, list[Beneficiary]] = {n: [] for n in numbers}
        for person in rows:
            found[person.caf_number or ""].append(person)
        return found


async def lines_apart(
    sessions: async_sessionmaker[AsyncSession], file_id: str, expected: Expected
) -> dict[int, str]:
    """The file's lines whose outcome is not the expected one: line → what was expected, what
    was recorded and why (empty when every line did what it had to)."""
    async with sessions() as session:
        rows = await session.execute(
            select(CafFeedLine.number, CafFeedLine.outcome, CafFeedLine.reason).where(
                CafFeedLine.file_id == file_id
            )
        )
        recorded = {number: (outcome, reason) for number, outcome, reason in rows}
    return {
        line: f"{outcome} attendu, {recorded.get(line, (None, None))}"
        for line, outcome in expected.outcomes.items()
        if recorded.get(line, (None, None))[0] != outcome
    }


async def journeys_reach(
    sessions: async_sessionmaker[AsyncSession], expected: dict[str, RsaStatus]
) -> dict[str, str]:
    """Each enrolled person's journey RSA status, once the journeys have all caught up."""
    seen: dict[str, str] = {}
    for _ in range(150):
        async with sessions() as session:
            rows = await session.execute(
                select(Beneficiary.caf_number, JourneyRecord.rsa_status)
                .join(JourneyRecord, JourneyRecord.beneficiary_id == Beneficiary.id)
                .where(Beneficiary.caf_number.in_(list(expected)))
            )
            seen = {caf or "": status for caf, status in rows}
        if seen == {caf: status.value for caf, status in expected.items()}:
            break
        await asyncio.sleep(0.2)
    return seen


async def journeys_settled(
    client: Client, sessions: async_sessionmaker[AsyncSession], caf_numbers: list[str]
) -> None:
    """The journeys of these people have written everything they recorded: a status
    reached may still have its last events on their way to SQL."""
    async with sessions() as session:
        workflow_ids = await session.scalars(
            select(JourneyRecord.workflow_id)
            .join(Beneficiary, JourneyRecord.beneficiary_id == Beneficiary.id)
            .where(Beneficiary.caf_number.in_(caf_numbers))
        )
        handles = [client.get_workflow_handle(w) for w in workflow_ids]
    for handle in handles:
        await settled(handle)
