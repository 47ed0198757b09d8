"""The sanction cases' activities: the notice (letter PDF kept in the carnet, e-mail and SMS
to the person) and the partner calls (the decision to the CAF, the proposal of a removal to
France Travail), each idempotent under its key."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.partners import partner_http_call
from parcours.appointments.letters import PARIS
from parcours.core.db import transaction, utcnow
from parcours.core.errors import InvalidReference
from parcours.core.settings import Settings
from parcours.management.incidents import PartnerIncidentLog
from parcours.partners.adapters.caf import CafSanction
from parcours.partners.adapters.clients import PartnerAdapters
from parcours.partners.adapters.france_travail import PersonRef, RemovalProposal
from parcours.partners.messages import PROPOSE_FRANCE_TRAVAIL_REMOVAL, SEND_SANCTION_TO_CAF
from parcours.sanctions.letters import render_notice_pdf
from parcours.sanctions.messages import (
    SEND_SANCTION_NOTICE,
    CafSanctionInput,
    FranceTravailRemovalInput,
    Measure,
    PartnerAck,
    SanctionNoticeInput,
)
from parcours.sanctions.service import SanctionNotices, SanctionPartnerData


class SanctionActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=SEND_SANCTION_NOTICE)
    async def send_sanction_notice(self, data: SanctionNoticeInput) -> None:
        """The notice read from SQL, printed (WeasyPrint, in a thread), kept in the carnet with
        the e-mail and SMS that tell the person, once: a retry finds the letter kept."""
        today = utcnow().astimezone(PARIS).date()
        async with transaction(self.sessions) as session:
            letter = await SanctionNotices(session, self.settings).to_print(data, today)
        if letter is None:
            return
        pdf = await asyncio.to_thread(render_notice_pdf, letter)
        async with transaction(self.sessions) as session:
            await SanctionNotices(session, self.settings).keep(data, pdf)


class SanctionPartnerActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        adapters: PartnerAdapters,
        incidents: PartnerIncidentLog | None = None,
    ) -> None:
        self.sessions = sessions
        self.adapters = adapters
        self.incidents = incidents

    @activity.defn(name=SEND_SANCTION_TO_CAF.activity)
    async def send_sanction_to_caf(self, data: CafSanctionInput) -> PartnerAck:
        """The decision, or its lifting, to the CAF that pays the RSA (once per key)."""
        if data.measure is Measure.NONE:
            return PartnerAck(sent=False, reason="no_sanction")
        try:
            async with transaction(self.sessions) as session:
                person = await SanctionPartnerData(session).person(data.beneficiary_id)
        except InvalidReference as error:
            return PartnerAck(sent=False, reason=str(error))
        if not person.caf_number:
            raise ApplicationError(
                "Numéro d'allocataire CAF inconnu : la décision ne peut être transmise.",
                type="PartnerRefused",
                non_retryable=True,
            )
        sanction = CafSanction(
            caf_number=person.caf_number,
            case_id=data.case_id,
            event=data.event,
            measure="removal" if data.measure is Measure.REMOVAL else "suspension",
            rate_percent=data.rate_percent,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
        )
        receipt, replayed = await partner_http_call(
            lambda: self.adapters.caf.send_sanction(sanction, key=data.idempotency_key),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        return PartnerAck(sent=True, reference=receipt.reference, replayed=replayed)

    @activity.defn(name=PROPOSE_FRANCE_TRAVAIL_REMOVAL.activity)
    async def propose_france_travail_removal(self, data: FranceTravailRemovalInput) -> PartnerAck:
        """After a total removal for 4 months: the proposal to strike the person off France
        Travail's list (once per key). Without a NIR nothing can be sent: said, not retried."""
        try:
            async with transaction(self.sessions) as session:
                person = await SanctionPartnerData(session).person(data.beneficiary_id)
        except InvalidReference as error:
            return PartnerAck(sent=False, reason=str(error))
        if not person.nir:
            return PartnerAck(sent=False, reason="NIR inconnu")
        proposal = RemovalProposal(
            person=PersonRef(nir=person.nir, birth_date=person.birth_date),
            case_id=data.case_id,
            removal_started_on=data.removal_started_on,
            removal_ended_on=data.removal_ended_on,
        )
        receipt, replayed = await partner_http_call(
            lambda: self.adapters.france_travail.propose_removal(
                proposal, key=data.idempotency_key
            ),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        return PartnerAck(sent=True, reference=receipt.reference, replayed=replayed)
