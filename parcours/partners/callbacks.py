"""Callbacks from partners: checked (signature and age), recorded once, applied.

A partner signs ``timestamp + "." + body`` with the secret it shares with Parcours
(``simulators.signing``, which both sides use); a forged, unsigned or stale callback is
refused (401) before anything is read. ``callback_id`` is unique in ``partner_events``: the
copy of a callback already received answers "duplicate" and changes nothing. Recording and
applying happen in one transaction, so a failure to apply leaves nothing and the partner's
retry applies it.

``apply`` is where each kind of callback takes effect; extend the ``_on_*`` methods. One that
cannot take effect says why (its receipt is ``ignored``, with the reason).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from parcours.access.repository import AdminRepository
from parcours.core.db import utcnow
from parcours.core.errors import Conflict, Forbidden, NotFound, ParcoursError, Unauthenticated
from parcours.core.settings import Settings
from parcours.core.temporal import send_signal
from parcours.journey.messages import (
    DecideOrientationInput,
    EmploymentContract,
    OrientationKind,
    RecordEmploymentInput,
)
from parcours.journey.repository import JourneyRepository
from parcours.journey.service import JourneyService
from parcours.orientations.messages import (
    ANSWER_SIGNAL,
    OrientationAnswerInput,
    OrientationStatus,
    service_orientation_workflow_id,
)
from parcours.orientations.repository import ServiceOrientationRepository
from parcours.orientations.schemas import WITHDRAWN_REASON
from parcours.partners.models import PartnerEvent
from parcours.partners.repository import PartnerRepository
from parcours.partners.schemas import CallbackReceipt
from parcours.partners.signing import partner_secret, verify
from parcours.training_requests.service import apply_funder_decision

log = logging.getLogger(__name__)

CallbackKind = Literal[
    "training_decision", "employment_entry", "orientation_answer", "orientation_decision"
]


class InvalidCallback(ParcoursError):
    status_code = 422


Partner = Literal["caf", "france_travail", "region", "structures"]
PARTNERS: frozenset[str] = frozenset(get_args(Partner))


class CallbackEnvelope(BaseModel):
    """What every callback carries; the rest depends on its kind and is kept as received."""

    model_config = ConfigDict(extra="allow")

    callback_id: str = Field(min_length=1, max_length=64)
    partner: Partner
    kind: CallbackKind
    reference: str | None = Field(default=None, max_length=100)
    # training_decision
    request_id: str | None = Field(default=None, max_length=100)
    # orientation_answer
    orientation_id: str | None = Field(default=None, max_length=100)
    # orientation_decision (France Travail orients after the legal delay)
    journey_id: str | None = Field(default=None, max_length=100)
    # employment_entry
    identifier: str | None = None
    nir: str | None = None
    birth_date: date | None = None


class PartnerCallbackService:
    def __init__(self, session: AsyncSession, temporal: Client, settings: Settings) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.partners = PartnerRepository(session)

    def check_signature(
        self,
        body: bytes,
        timestamp: str | None,
        signature: str | None,
        key_id: str | None,
        now: float | None = None,
    ) -> str:
        """The partner whose own key signed ``body`` (``Unauthenticated`` otherwise)."""
        partner = (key_id or "").strip()
        secret = None
        if partner in PARTNERS:
            secret = self.settings.partner_callback_secrets.get(partner) or partner_secret(
                self.settings.partner_callback_secret, partner
            )
        if secret is None or not verify(
            secret,
            timestamp,
            body,
            signature,
            now=now,
            window_s=self.settings.partner_callback_window_s,
        ):
            raise Unauthenticated(
                "Rappel refusé : signature absente ou invalide sous la clé du partenaire "
                "nommée (X-Parcours-Key-Id), ou horodatage hors de la fenêtre de "
                f"{self.settings.partner_callback_window_s} secondes."
            )
        return partner

    async def receive(
        self,
        body: bytes,
        timestamp: str | None,
        signature: str | None,
        key_id: str | None,
        now: float | None = None,
        *,
        partner: str | None = None,
    ) -> CallbackReceipt:
        """Check, record once, apply. The caller commits. ``partner``: the partner the caller
        is (its API token's), whose callbacks only it may send."""
        signer = self.check_signature(body, timestamp, signature, key_id, now)
        try:
            payload: Any = json.loads(body)
            envelope = CallbackEnvelope.model_validate(payload)
        except (ValueError, ValidationError) as error:
            raise InvalidCallback(f"Rappel illisible : {error}"[:500]) from error
        if envelope.partner != signer:
            raise Forbidden(
                "Ce rappel se dit d'un autre partenaire que celui dont la clé l'a signé : refusé."
            )
        if partner is not None and envelope.partner != partner:
            raise Forbidden(
                "Ce rappel se dit d'un autre partenaire que celui de ce jeton : refusé."
            )
        beneficiary_id = None
        if envelope.kind == "employment_entry":
            beneficiary_id = await self.partners.person_by_france_travail(
                envelope.identifier, envelope.nir, envelope.birth_date
            )
        recorded = await self.partners.record_callback(
            {
                "callback_id": envelope.callback_id,
                "partner": envelope.partner,
                "kind": envelope.kind,
                "reference": envelope.reference,
                "subject_id": envelope.request_id or envelope.orientation_id or envelope.journey_id,
                "beneficiary_id": beneficiary_id,
                "body": payload,
            }
        )
        if not recorded:
            log.info(
                "duplicate partner callback",
                extra={"callback_id": envelope.callback_id, "kind": envelope.kind},
            )
            return CallbackReceipt(status="duplicate", callback_id=envelope.callback_id)
        event = await self.partners.callback(envelope.callback_id)
        assert event is not None
        ignored = await self.apply(event)
        if ignored:
            return CallbackReceipt(
                status="ignored", callback_id=envelope.callback_id, reason=ignored
            )
        return CallbackReceipt(status="applied", callback_id=envelope.callback_id)

    async def apply(self, event: PartnerEvent) -> str | None:
        """Make a recorded callback take effect (once: only new callbacks get here); why it
        could not, or None."""
        handlers: dict[str, Callable[[PartnerEvent], Awaitable[str | None]]] = {
            "employment_entry": self._on_employment_entry,
            "training_decision": self._on_training_decision,
            "orientation_answer": self._on_orientation_answer,
            "orientation_decision": self._on_orientation_decision,
        }
        return await handlers[event.kind](event)

    async def _on_employment_entry(self, event: PartnerEvent) -> str | None:
        """France Travail learnt the person started work: a journey in accompaniment moves to
        employment (with the person's wish about follow-up, if known); otherwise the entry is
        only recorded, for the référent to see, and the receipt says why."""
        log.info(
            "employment entry received",
            extra={"callback_id": event.callback_id, "beneficiary_id": event.beneficiary_id},
        )
        if event.beneficiary_id is None:
            return "Personne inconnue de Parcours : entrée en emploi gardée, non appliquée."
        journeys = JourneyService(self.session, self.temporal, self.settings)
        person = await journeys.people.beneficiary(event.beneficiary_id)
        started = event.body.get("start_date") or event.body.get("started_on")
        action = RecordEmploymentInput(
            started_on=date.fromisoformat(started) if started else date.today(),
            contract=_contract(event.body.get("contract")),
            follow_up_consent=person.follow_up_wish if person else None,
        )
        try:
            # Accepted, not completed: this request holds the callback's row lock until it
            # commits, and the journey's activity writes to the same database.
            await journeys.act_soon(event.beneficiary_id, action)
        except (Conflict, NotFound) as refused:
            log.info(
                "employment entry not applied to the journey",
                extra={"beneficiary_id": event.beneficiary_id, "reason": refused.message},
            )
            return f"Entrée en emploi gardée, non appliquée au parcours : {refused.message}"
        event.handled_at = utcnow()
        return None

    async def _on_training_decision(self, event: PartnerEvent) -> str | None:
        """A funder's decision on a training request (``subject_id`` is its request id): the
        request's workflow takes it as it takes a decision from the funders' console. One it
        cannot take (already decided, withdrawn, unknown, another funder's) stays recorded,
        unhandled, and its receipt says why."""
        ignored = await apply_funder_decision(self.session, self.temporal, self.settings, event)
        if ignored is None:
            event.handled_at = utcnow()
        return ignored

    async def _on_orientation_answer(self, event: PartnerEvent) -> str | None:
        """A structure's answer to an orientation (``subject_id`` is the orientation id): the
        orientation's workflow gets the decision as the signal ``answer`` (it reads the
        reason from this callback once committed, and counts only the first answer). An
        answer to an unknown orientation, or one that has ended (expired, withdrawn because
        the journey closed), is only kept, and its receipt says why."""
        orientation = (
            await ServiceOrientationRepository(self.session).get(event.subject_id)
            if event.subject_id
            else None
        )
        accepted = event.body.get("accepted")
        context = {"callback_id": event.callback_id, "orientation_id": event.subject_id}
        if orientation is None or not isinstance(accepted, bool):
            log.info("orientation answer not applied", extra=context)
            return "Orientation inconnue (ou réponse illisible) : réponse non appliquée."
        # About this person from now on: erased with them.
        event.beneficiary_id = orientation.beneficiary_id
        if orientation.status == OrientationStatus.WITHDRAWN.value:
            log.info("orientation answer after the orientation was withdrawn", extra=context)
            return f"Réponse non appliquée. {WITHDRAWN_REASON}"
        handle = self.temporal.get_workflow_handle(service_orientation_workflow_id(orientation.id))
        answer = OrientationAnswerInput(callback_id=event.callback_id, accepted=accepted)
        if not await send_signal(handle, ANSWER_SIGNAL, answer):
            log.info("orientation answer after the orientation ended", extra=context)
            return "L'orientation est close : réponse non appliquée."
        event.handled_at = utcnow()
        return None

    async def _on_orientation_decision(self, event: PartnerEvent) -> str | None:
        """France Travail's orientation of a person whose legal delay passed (``subject_id``
        is the journey's id): the journey takes it as its ``decide_orientation``, decided by
        France Travail, with the track and the structure it names (its agency, found by name
        among the journey's département's structures, else the département's France Travail
        agency for a professional track, or the département's own service). The journey
        refuses it when nobody asked France Travail, or when the département decided first:
        kept, and the receipt says why."""
        if event.partner != "france_travail":
            return "Seul France Travail oriente au titre du délai légal : décision non appliquée."
        journey = (
            await JourneyRepository(self.session).by_journey_id(event.subject_id)
            if event.subject_id
            else None
        )
        try:
            track = OrientationKind(str(event.body.get("track")))
        except ValueError:
            track = None
        if journey is None or track is None:
            log.info("orientation decision not applied", extra={"callback_id": event.callback_id})
            return "Parcours inconnu (ou décision illisible) : décision non appliquée."
        event.beneficiary_id = journey.beneficiary_id
        structure_id = await self._structure_named(
            journey.territory, event.body.get("agency"), track
        )
        if structure_id is None:
            return (
                "Aucune structure du département pour recevoir cette orientation : décision "
                "gardée, non appliquée."
            )
        action = DecideOrientationInput(
            kind=track, structure_id=structure_id, decided_by="france_travail"
        )
        journeys = JourneyService(self.session, self.temporal, self.settings)
        try:
            await journeys.act_soon(journey.beneficiary_id, action)
        except (Conflict, NotFound) as refused:
            log.info(
                "orientation decision not applied to the journey",
                extra={"journey_id": journey.journey_id, "reason": refused.message},
            )
            return f"Décision gardée, non appliquée au parcours : {refused.message}"
        event.handled_at = utcnow()
        return None

    async def _structure_named(
        self, territory: str, agency: Any, track: OrientationKind
    ) -> str | None:
        structures = [s for s in await AdminRepository(self.session).structures(territory)]
        if isinstance(agency, str):
            for structure in structures:
                if structure.active and structure.name == agency:
                    return structure.id
        kind = "france_travail" if track is OrientationKind.PROFESSIONAL else "departement"
        for structure in structures:
            if structure.active and structure.kind == kind:
                return structure.id
        return None


def _contract(value: Any) -> EmploymentContract:
    """France Travail's contract type when it is one Parcours knows, else "autre"."""
    try:
        return EmploymentContract(str(value).lower())
    except ValueError:
        return EmploymentContract.OTHER
