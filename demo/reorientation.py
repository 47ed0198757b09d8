"""The demo's reorientations and social track review: two journeys of the Savoie in
accompaniment asked for a reorientation by their référente, one accepted by the orientation
team to the social track after the équipe pluridisciplinaire, one refused — each with its
reasons on the journey's page — and a journey on the social track whose review is in its
référente's « À traiter » now.

A real review falls due 6 months after the orientation: the demo's journey is enrolled with
a notice window wider than that (``REVIEW_NOTICE_DAYS``), so its review shows as due at once,
by the same durable timer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from parcours.access.models import Structure, User
from parcours.access.rules import Principal
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import OrientationKind
from parcours.journey.models import JourneyRecord
from parcours.reorientation.schemas import ReorientationCreate, ReorientationDecisionCreate
from parcours.reorientation.service import ReorientationService

# Wider than the 6 months before a review: the demo's social journey is due at once.
REVIEW_NOTICE_DAYS = 200


def review_due_now(settings: Settings) -> Settings:
    """The settings the demo's social journey starts with."""
    return settings.model_copy(update={"social_review_notice_days": REVIEW_NOTICE_DAYS})


async def _principal(session: AsyncSession, user_id: str) -> Principal:
    user = await session.get(User, user_id)
    assert user is not None
    return Principal.of(user)


async def seed_demo_reorientations(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    accepted_id: str,
    refused_id: str,
    territory: str,
) -> None:
    async with sessions() as session:
        team = await session.scalar(
            select(User).where(User.role == "orientation", User.territory == territory)
        )
        ccas = await session.scalar(
            select(Structure).where(Structure.territory == territory, Structure.kind == "ccas")
        )
        assert team is not None and ccas is not None
        ccas_referent = await session.scalar(
            select(User).where(User.role == "referent", User.structure_id == ccas.id)
        )
    asks = {
        accepted_id: ReorientationCreate(
            reason_code="social_difficulties",
            reason_text="Plus de logement depuis un mois : l'emploi attendra que ce soit réglé.",
        ),
        refused_id: ReorientationCreate(
            reason_code="project_changed",
            reason_text="Souhaite se former au métier d'aide-soignante.",
        ),
    }
    for beneficiary_id, ask in asks.items():
        async with transaction(sessions) as session:
            record = await session.get(JourneyRecord, beneficiary_id)
            assert record is not None and record.referent_id is not None
            referent = await _principal(session, record.referent_id)
            request = await ReorientationService(session, temporal, settings, referent).request(
                beneficiary_id, ask
            )
        accepted = beneficiary_id == accepted_id
        decision = (
            ReorientationDecisionCreate(
                accepted=True,
                kind=OrientationKind.SOCIAL
                if record.orientation != OrientationKind.SOCIAL
                else OrientationKind.SOCIO_PROFESSIONAL,
                structure_id=ccas.id,
                referent_id=ccas_referent.id if ccas_referent else None,
                after_team_meeting=True,
                decision_text="L'équipe pluridisciplinaire propose un accompagnement social "
                "par le CCAS le temps de retrouver un logement.",
            )
            if accepted
            else ReorientationDecisionCreate(
                accepted=False,
                refusal_code="current_suits",
                decision_text="Le projet se prépare avec la référente actuelle : une formation "
                "peut être demandée dans le cadre du contrat d'engagement.",
            )
        )
        async with transaction(sessions) as session:
            orientation = await _principal(session, team.id)
            await ReorientationService(session, temporal, settings, orientation).decide(
                beneficiary_id, request.id, decision
            )
