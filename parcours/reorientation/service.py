"""Ask for a reorientation, decide it, conclude the social track's review; read them for the
journey's page and the person's space.

Each runs the journey's update first (its validator refuses what the journey does not allow:
a 409 with the reason, nothing written), then writes the request's row with its free texts in
the caller's transaction. The inboxes follow from the journey's events
(``parcours.inbox.rules``); the person is told of the decision by mail, when she has an
address.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from parcours.access.read_log import log_read
from parcours.access.repository import PeopleRepository
from parcours.access.rules import Principal, Role, ensure_action, ensure_read
from parcours.core.db import new_id, utcnow
from parcours.core.errors import Conflict, InvalidReference, NotFound
from parcours.core.mail import Mail
from parcours.core.outbox import enqueue
from parcours.core.settings import Settings
from parcours.journey.messages import (
    ConcludeSocialReviewInput,
    DecideReorientationInput,
    OrientationKind,
    RequestReorientationInput,
)
from parcours.journey.models import JourneyRecord
from parcours.journey.schemas import ORIENTATION_LABELS, JourneyRead
from parcours.journey.service import JourneyService
from parcours.reorientation.models import ReorientationRequest
from parcours.reorientation.repository import ReorientationRepository
from parcours.reorientation.rules import open_requests, social_review_from
from parcours.reorientation.schemas import (
    EXTENSION_LABELS,
    REASON_LABELS,
    REFUSAL_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    ReorientationCreate,
    ReorientationDecisionCreate,
    ReorientationPanel,
    ReorientationRead,
    SocialReviewConclusion,
)


class ReorientationService:
    def __init__(
        self, session: AsyncSession, temporal: Client, settings: Settings, principal: Principal
    ) -> None:
        self.session = session
        self.settings = settings
        self.principal = principal
        self.journeys = JourneyService(session, temporal, settings)
        self.repo = ReorientationRepository(session)
        self.people = PeopleRepository(session)

    async def _journey(self, beneficiary_id: str) -> JourneyRecord:
        record = await self.journeys.journeys.get(beneficiary_id)
        if record is None:
            raise NotFound("Parcours introuvable.")
        return record

    def _extension(self, reason: str | None) -> str | None:
        if reason and reason not in self.settings.social_review_extension_reasons:
            known = ", ".join(
                EXTENSION_LABELS.get(r, r) for r in self.settings.social_review_extension_reasons
            )
            raise InvalidReference(
                "Une revue à 12 mois se justifie par l'une de ces raisons "
                f"(art. D.262-65-2-1 CASF) : {known}."
            )
        return reason or None

    # --- Asking ---

    async def request(self, beneficiary_id: str, data: ReorientationCreate) -> ReorientationRead:
        """The référent asks, or the person from her space (her own journey only)."""
        person = self.principal.role is Role.BENEFICIARY
        if person and self.principal.beneficiary_id != beneficiary_id:
            raise NotFound("Personne introuvable.")
        record = await self._journey(beneficiary_id)
        before = (record.orientation, record.structure_id, record.referent_id)
        request_id = new_id()
        await self.journeys.act(
            beneficiary_id,
            RequestReorientationInput(
                request_id=request_id,
                requested_by_role="person" if person else "referent",
                reason_code=data.reason_code,
            ),
            self.principal,
        )
        row = self._row(record, request_id, before, "person" if person else "referent")
        row.reason_code, row.reason_text = data.reason_code, data.reason_text or None
        self.repo.add(row)
        return await self._read(row)

    def _row(
        self,
        record: JourneyRecord,
        request_id: str,
        before: tuple[str | None, str | None, str | None],
        role: str,
    ) -> ReorientationRequest:
        return ReorientationRequest(
            id=request_id,
            beneficiary_id=record.beneficiary_id,
            journey_id=record.journey_id,
            requested_by_role=role,
            requested_by=self.principal.id,
            requested_at=utcnow(),
            from_orientation=before[0],
            from_structure_id=before[1],
            from_referent_id=before[2],
            status="pending",
            after_team_meeting=False,
        )

    # --- Deciding ---

    async def decide(
        self, beneficiary_id: str, request_id: str, data: ReorientationDecisionCreate
    ) -> ReorientationRead:
        """The orientation team's decision; the journey refuses a reorientation to the same
        track and structure, a refusal without its reason, a request that is not pending."""
        found, handovers = await self.journeys.journeys.with_handovers(beneficiary_id)
        record = ensure_action(self.principal, found, "decide_reorientation", handovers, utcnow())
        row = await self.repo.get(request_id)
        if row is None or row.journey_id != record.journey_id:
            raise NotFound("Demande de réorientation introuvable.")
        if row.status != "pending":
            raise Conflict("Cette demande de réorientation est déjà décidée.")
        await self.journeys.act(
            beneficiary_id,
            DecideReorientationInput(
                request_id=request_id,
                accepted=data.accepted,
                kind=data.kind if data.accepted else None,
                structure_id=data.structure_id if data.accepted else None,
                referent_id=data.referent_id if data.accepted else None,
                after_team_meeting=data.after_team_meeting,
                refusal_code=None if data.accepted else data.refusal_code,
                social_review_reason=self._extension(data.social_review_reason),
            ),
            self.principal,
        )
        row.status = "accepted" if data.accepted else "refused"
        row.decided_by, row.decided_at = self.principal.id, utcnow()
        row.after_team_meeting = data.after_team_meeting
        row.decision_text = data.decision_text or None
        if data.accepted:
            assert data.kind is not None
            row.orientation = data.kind.value
            row.structure_id, row.referent_id = data.structure_id, data.referent_id
        else:
            row.refusal_code = data.refusal_code
        await self._tell_person(beneficiary_id, data.accepted)
        return await self._read(row)

    async def _tell_person(self, beneficiary_id: str, accepted: bool) -> None:
        person = await self.people.beneficiary(beneficiary_id)
        if person is None or not person.email:
            return
        outcome = "acceptée" if accepted else "refusée"
        body = (
            f"Bonjour,\n\nVotre demande de réorientation a été {outcome} par l'équipe "
            "d'orientation du département.\n\nLa décision et ses motifs sont dans votre "
            "espace personnel, rubrique « Mon parcours ».\n\nL'équipe Parcours"
        )
        await enqueue(
            self.session,
            Mail(to=person.email, subject=f"Votre demande de réorientation : {outcome}", body=body),
        )

    # --- The social track's review ---

    async def conclude_review(
        self, beneficiary_id: str, data: SocialReviewConclusion
    ) -> JourneyRead:
        """Kept (the next review runs, at 12 months with a listed reason), or a reorientation
        asked for, which goes to the orientation team like any other."""
        record = await self._journey(beneficiary_id)
        before = (record.orientation, record.structure_id, record.referent_id)
        request_id = new_id() if data.decision == "reorient" else None
        journey = await self.journeys.act(
            beneficiary_id,
            ConcludeSocialReviewInput(
                decision=data.decision,
                social_review_reason=self._extension(data.social_review_reason),
                request_id=request_id,
            ),
            self.principal,
        )
        if request_id is not None:
            row = self._row(record, request_id, before, "referent")
            row.reason_code, row.reason_text = "social_review", data.reason_text or None
            self.repo.add(row)
        return journey

    # --- Reading ---

    async def panel(self, beneficiary_id: str) -> ReorientationPanel:
        """The journey's requests (the pending one, the decided with their reasons) and its
        social track's next review. The caller has checked the reader may read the journey."""
        record = await self._journey(beneficiary_id)
        events = await self.journeys.journeys.events(record)
        waiting = open_requests(events)
        rows = [
            await self._read(r, lapsed=r.status == "pending" and r.id not in waiting)
            for r in await self.repo.for_journey(record.journey_id)
        ]
        pending = next((r for r in rows if r.status == "pending"), None)
        return ReorientationPanel(
            pending=pending,
            decided=[r for r in rows if r.status != "pending"],
            social_review=social_review_from(events),
        )

    async def read_panel(self, beneficiary_id: str) -> ReorientationPanel:
        """The panel for a reader who may read the journey (else 404), logged."""
        found, handovers = await self.journeys.journeys.with_handovers(beneficiary_id)
        ensure_read(self.principal, found, handovers, utcnow())
        log_read(self.session, self.principal, beneficiary_id, "journey.reorientations")
        return await self.panel(beneficiary_id)

    async def _read(self, row: ReorientationRequest, lapsed: bool = False) -> ReorientationRead:
        users = await self.people.users({i for i in (row.referent_id,) if i})
        structure = await self.people.structure(row.structure_id) if row.structure_id else None
        referent = users.get(row.referent_id) if row.referent_id else None
        status = "lapsed" if lapsed else row.status
        return ReorientationRead(
            id=row.id,
            status=status,
            status_label=STATUS_LABELS[status],
            requested_by_role=row.requested_by_role,
            requested_by_label=ROLE_LABELS.get(row.requested_by_role, row.requested_by_role),
            requested_by=row.requested_by,
            reason_code=row.reason_code,
            reason_label=REASON_LABELS.get(row.reason_code, row.reason_code),
            reason_text=row.reason_text,
            requested_at=row.requested_at,
            from_orientation=row.from_orientation,
            decided_at=row.decided_at,
            decided_by=row.decided_by,
            orientation=row.orientation,
            orientation_label=(
                ORIENTATION_LABELS[OrientationKind(row.orientation)] if row.orientation else None
            ),
            structure_id=row.structure_id,
            structure_label=structure.name if structure else None,
            referent_id=row.referent_id,
            referent_label=referent.full_name if referent else None,
            after_team_meeting=row.after_team_meeting,
            refusal_code=row.refusal_code,
            refusal_label=REFUSAL_LABELS.get(row.refusal_code) if row.refusal_code else None,
            decision_text=row.decision_text,
        )
