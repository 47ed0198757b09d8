"""Look-ups a référent asks of the CAF (household, RSA rights) and France Travail (registration,
identifier) from a person's carnet, so nobody re-types what a partner already knows.

A look-up runs as the ``PartnerLookup`` workflow, whose activity asks the partner and writes
the answer into the carnet (source CAF / France Travail). The request waits a few seconds
(``partner_lookup_wait_s``) for it, then says what was filled in, that the partner does not
know the person, or that the partner is not answering yet: the workflow keeps trying under the
partner's retry policy and the answer lands in the carnet when it comes. The same request id
(a double click, a resent API call) joins the same look-up instead of asking twice.

Only the follow-up group with write rights may ask (``ensure_write``); each look-up
that reached the partner goes to the access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from parcours.access.repository import log_access
from parcours.access.rules import Principal, ensure_write
from parcours.carnet.schemas import SOURCE_LABELS, THEME_LABELS, Source, Theme
from parcours.core.db import utcnow
from parcours.core.errors import NotFound, ParcoursError, Unavailable
from parcours.core.settings import Settings
from parcours.core.temporal import engine_down, start_workflow
from parcours.journey.repository import JourneyRepository
from parcours.partners.messages import (
    CONSENT_MISSING,
    PARTNER_LOOKUP_WORKFLOW,
    PARTNER_REFUSED,
    PERSON_INCOMPLETE,
    PERSON_UNKNOWN,
    LookupPartner,
    PartnerLookupOutcome,
    PartnerLookupStart,
    partner_lookup_workflow_id,
)
from parcours.partners.repository import PartnerRepository
from parcours.partners.service import (
    CAF_FACTS,
    FRANCE_TRAVAIL_REGISTRATION,
    ConsentMissing,
    PersonIncomplete,
    PersonUnknown,
)


class LookupStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    PENDING = "pending"


class PartnerFailed(ParcoursError):
    """The partner refused the look-up itself (its answer says why)."""

    status_code = 502


# Each partner as a sentence names it (subject, then after a preposition) and its source.
SUBJECTS: dict[str, str] = {"caf": "La CAF", "france_travail": "France Travail"}
NAMES: dict[str, str] = {"caf": "la CAF", "france_travail": "France Travail"}
SOURCES: dict[str, Source] = {"caf": Source.CAF, "france_travail": Source.FRANCE_TRAVAIL}
FACT_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "caf": CAF_FACTS,
    "france_travail": (FRANCE_TRAVAIL_REGISTRATION,),
}
# A missing consent is told apart: it says whose and which partner's (``_failure``).
_REFUSALS: dict[str, type[ParcoursError]] = {
    PERSON_INCOMPLETE: PersonIncomplete,
    PERSON_UNKNOWN: PersonUnknown,
    PARTNER_REFUSED: PartnerFailed,
}


class LookupFact(BaseModel):
    theme_label: str
    label: str
    value: str
    source_label: str


class LookupRead(BaseModel):
    """What a look-up did, in French (``message``), with the carnet's facts it filled."""

    partner: LookupPartner
    status: LookupStatus
    title: str
    message: str
    facts: list[LookupFact] = []
    france_travail_id: str | None = None
    request_id: str
    workflow_id: str


class LookupPanel(BaseModel):
    """What the carnet's situation tab needs to offer the look-ups."""

    request_id: str
    caf_number: str | None
    france_travail_id: str | None
    france_travail_consent: bool


def new_request_id() -> str:
    return uuid.uuid4().hex


async def lookup_panel(session: AsyncSession, beneficiary_id: str) -> LookupPanel | None:
    """A fresh request id for the page's look-up buttons (one per page shown: a double click
    sends the same one), and what the référent should know before asking."""
    partners = PartnerRepository(session)
    person = await partners.person(beneficiary_id)
    if person is None:
        return None
    return LookupPanel(
        request_id=new_request_id(),
        caf_number=person.caf_number,
        france_travail_id=person.france_travail_id,
        france_travail_consent=await partners.consented(beneficiary_id, "france_travail"),
    )


class LookupService:
    def __init__(
        self, session: AsyncSession, temporal: Client, settings: Settings, principal: Principal
    ) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.principal = principal
        self.partners = PartnerRepository(session)

    async def request(
        self, beneficiary_id: str, partner: LookupPartner, request_id: str | None = None
    ) -> LookupRead:
        """Ask ``partner``, wait a little for its answer, and say what it changed."""
        request_id = request_id or new_request_id()
        # Reads only until the look-up is over: its activity writes the carnet, and a write
        # held by this request (even a pending row) would hold SQLite's lock it needs.
        with self.session.no_autoflush:
            found, handovers = await JourneyRepository(self.session).with_handovers(beneficiary_id)
            ensure_write(self.principal, found, handovers, utcnow())
            person = await self.partners.person(beneficiary_id)
            if person is None:
                raise NotFound("Personne introuvable.")
            caf_number = person.caf_number
            if partner == "caf" and not caf_number:
                raise PersonIncomplete(
                    "Le numéro d'allocataire CAF de la personne n'est pas renseigné : la CAF ne "
                    "peut pas la retrouver. Rien n'a été demandé."
                )
            workflow_id = partner_lookup_workflow_id(partner, beneficiary_id, request_id)
            handle = await self._start(
                workflow_id,
                PartnerLookupStart(
                    beneficiary_id=beneficiary_id, partner=partner, request_id=request_id
                ),
            )
            outcome = await self._wait(handle)
        if outcome is not None and outcome.outcome in ("refused", "unavailable"):
            raise self._failure(outcome, beneficiary_id)
        # The partner was asked (or is being asked): that goes to the access log.
        log_access(self.session, self.principal, beneficiary_id, "lookup", f"partners.{partner}")
        subject = SUBJECTS[partner]
        if outcome is None:
            return LookupRead(
                partner=partner,
                status=LookupStatus.PENDING,
                title=f"{subject} ne répond pas pour l'instant",
                message=(
                    f"La demande reste en cours : Parcours réessaie tout seul, et la réponse de "
                    f"{NAMES[partner]} apparaîtra dans la situation de la personne dès qu'elle "
                    "arrivera. Inutile de redemander."
                ),
                request_id=request_id,
                workflow_id=workflow_id,
            )
        # The activity wrote the person and their facts in its own transactions.
        await self.session.refresh(person)
        if outcome.outcome == "not_found":
            if partner == "caf":
                message = (
                    f"La CAF ne connaît aucun allocataire du RSA sous le numéro {caf_number} : "
                    "rien n'a été ajouté au carnet. Vérifiez le numéro d'allocataire."
                )
            else:
                message = (
                    "France Travail ne connaît pas cette personne (NIR et date de naissance) : "
                    "le carnet l'indique désormais."
                )
            return LookupRead(
                partner=partner,
                status=LookupStatus.NOT_FOUND,
                title=f"{subject} ne connaît pas la personne",
                message=message,
                facts=await self._facts(beneficiary_id, partner),
                request_id=request_id,
                workflow_id=workflow_id,
            )
        if partner == "caf":
            message = (
                "Le foyer et le droit au RSA que la CAF connaît sont dans la situation de la "
                "personne (source : CAF)."
            )
        else:
            message = (
                "L'inscription de la personne et son identifiant France Travail "
                f"({person.france_travail_id}) sont dans son carnet (source : France Travail)."
            )
        return LookupRead(
            partner=partner,
            status=LookupStatus.FOUND,
            title=f"{subject} a répondu",
            message=message,
            facts=await self._facts(beneficiary_id, partner),
            france_travail_id=person.france_travail_id if partner == "france_travail" else None,
            request_id=request_id,
            workflow_id=workflow_id,
        )

    async def _start(
        self, workflow_id: str, start: PartnerLookupStart
    ) -> WorkflowHandle[object, PartnerLookupOutcome]:
        # The same request joins the look-up running, or reads the one finished.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await start_workflow(
                self.temporal,
                PARTNER_LOOKUP_WORKFLOW,
                start,
                id=workflow_id,
                task_queue=self.settings.task_queue,
                join=True,
            )
        return self.temporal.get_workflow_handle(workflow_id, result_type=PartnerLookupOutcome)

    async def _wait(
        self, handle: WorkflowHandle[object, PartnerLookupOutcome]
    ) -> PartnerLookupOutcome | None:
        """The outcome, or None if the partner has not answered within the wait."""
        try:
            async with asyncio.timeout(self.settings.partner_lookup_wait_s):
                return await handle.result()
        except TimeoutError:
            return None
        except WorkflowFailureError as error:
            raise Unavailable(
                "La demande au partenaire a échoué de façon inattendue : réessayez."
            ) from error
        except RPCError as error:
            raise engine_down(error, "look-up result unavailable", workflow_id=handle.id) from error

    @staticmethod
    def _failure(outcome: PartnerLookupOutcome, beneficiary_id: str) -> ParcoursError:
        if outcome.outcome == "unavailable":
            return Unavailable(
                f"{SUBJECTS[outcome.partner]} n'a pas répondu malgré plusieurs essais : rien "
                "n'a été ajouté au carnet. Réessayez plus tard."
            )
        reason = outcome.reason or f"{SUBJECTS[outcome.partner]} a refusé la demande."
        if outcome.refusal == CONSENT_MISSING:
            return ConsentMissing(reason, beneficiary_id=beneficiary_id, partner=outcome.partner)
        kind = _REFUSALS.get(outcome.refusal or "", PartnerFailed)
        return kind(reason)

    async def _facts(self, beneficiary_id: str, partner: str) -> list[LookupFact]:
        """The carnet's current facts that came from ``partner``, in the order it fills them."""
        source = SOURCES[partner]
        current = await self.partners.current_facts(beneficiary_id, FACT_KEYS[partner])
        facts = []
        for key in FACT_KEYS[partner]:
            fact = current.get(key)
            if fact is None or fact.source != source.value:
                continue
            facts.append(
                LookupFact(
                    theme_label=THEME_LABELS[Theme(fact.theme)],
                    label=fact.label,
                    value=fact.value,
                    source_label=SOURCE_LABELS[source],
                )
            )
        return facts
