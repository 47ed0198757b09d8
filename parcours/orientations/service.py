"""Orienting a person to a service of the resource base, and what follows.

``ServiceOrientationService`` is the professionals' side: a référent (or a chargé·e
d'orientation) orients a person to a service — the journey first (its ``orient_to_service``
update starts the ``ServiceOrientation`` workflow that sends the orientation to the structure),
then the line of the person's plan it becomes — and reads the orientations with the
structures' answers, and the plan's weekly hours against the contract (the 15-hours rule).

``ServiceOrientationProjection`` is the workflow's side: its activities write each
transition to the read model and move the plan's line (accepted → in progress; refused,
expired, never sent or withdrawn because the journey closed → abandoned). Services never
commit: the request, or the activity attempt, owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from parcours.access.repository import log_access, visible_journeys
from parcours.access.rules import ACTION_ROLES, Principal, ensure_action, ensure_read
from parcours.carnet.models import PlanAction
from parcours.carnet.schemas import PlanStatus, Theme
from parcours.core.db import new_id, utcnow
from parcours.core.errors import Forbidden, InvalidReference
from parcours.core.schemas import person_choice
from parcours.core.settings import Settings
from parcours.journey.messages import OrientToServiceInput
from parcours.journey.service import JourneyService
from parcours.orientations.messages import (
    BeginServiceOrientationInput,
    OrientationStatus,
    OrientationTarget,
    ServiceOrientationTransition,
    Transition,
)
from parcours.orientations.models import ServiceOrientationRecord
from parcours.orientations.repository import (
    OrientationRow,
    ServiceOrientationRepository,
)
from parcours.orientations.schemas import (
    FAILURE_LABELS,
    STATUS_LABELS,
    WITHDRAWN_REASON,
    PlanOrientations,
    ServiceOrientationCreate,
    ServiceOrientationRead,
    WeeklyHoursRead,
)
from parcours.partners.repository import PartnerRepository
from parcours.partners.service import ConsentMissing
from parcours.resources.models import ResourceService
from parcours.resources.repository import ResourceRepository
from parcours.resources.rules import PlannedActivity, hours_of, weekly_hours
from parcours.resources.vocabulary import categorie_of, thematique_label

# The carnet's theme a data·inclusion catégorie belongs to (the plan is by theme).
THEME_OF_CATEGORIE = {
    "mobilite": Theme.MOBILITY,
    "logement-hebergement": Theme.HOUSING,
    "sante": Theme.HEALTH,
    "famille": Theme.CHILDCARE,
    "se-former": Theme.TRAINING,
    "choisir-un-metier": Theme.TRAINING,
    "lecture-ecriture-calcul": Theme.FRENCH_LANGUAGE,
    "numerique": Theme.DIGITAL,
    "difficultes-administratives-ou-juridiques": Theme.ADMIN_FINANCE,
    "difficultes-financieres": Theme.ADMIN_FINANCE,
    "equipement-et-alimentation": Theme.ADMIN_FINANCE,
}


def theme_of(thematiques: Sequence[str]) -> Theme:
    """The plan's theme for a service: its first thématique's (employment by default)."""
    for thematique in thematiques:
        theme = THEME_OF_CATEGORIE.get(categorie_of(thematique))
        if theme is not None:
            return theme
    return Theme.EMPLOYMENT


def whole_hours(volume: float | None) -> int | None:
    """The plan line's own hours: the service's weekly volume when it is whole (a column of
    integers); otherwise none, and the 15-hours rule reads the service's exact volume."""
    if volume is None or volume != int(volume) or not 0 <= volume <= 60:
        return None
    return int(volume)


def orientation_read(
    record: ServiceOrientationRecord, service_name: str | None, structure_name: str | None
) -> ServiceOrientationRead:
    status = OrientationStatus(record.status)
    reason = record.reason
    if status is OrientationStatus.FAILED and record.failure:
        reason = FAILURE_LABELS.get(record.failure, record.failure)
    elif status is OrientationStatus.WITHDRAWN:
        reason = WITHDRAWN_REASON
    return ServiceOrientationRead(
        id=record.id,
        beneficiary_id=record.beneficiary_id,
        plan_action_id=record.plan_action_id,
        service_id=record.service_id,
        service_name=service_name,
        structure_name=structure_name,
        status=status,
        status_label=STATUS_LABELS[status],
        reference=record.reference,
        reason=reason,
        failure=record.failure if status is OrientationStatus.FAILED else None,
        requested_at=record.requested_at,
        sent_at=record.sent_at,
        reminded_at=record.reminded_at,
        answered_at=record.answered_at,
        expires_at=record.expires_at,
    )


def _row_read(row: OrientationRow) -> ServiceOrientationRead:
    return orientation_read(row.record, row.service_name, row.structure_name)


class ServiceOrientationService:
    def __init__(
        self, session: AsyncSession, temporal: Client, settings: Settings, principal: Principal
    ) -> None:
        self.session = session
        self.principal = principal
        self.journeys = JourneyService(session, temporal, settings)
        self.repo = ServiceOrientationRepository(session)
        self.partners = PartnerRepository(session)

    async def _readable(self, beneficiary_id: str) -> None:
        """The person's journey is readable by the caller (its former follow-up group too,
        for a while after a hand-off), else "introuvable"."""
        found, handovers = await self.journeys.journeys.with_handovers(beneficiary_id)
        ensure_read(self.principal, found, handovers, utcnow())

    async def orient(self, data: ServiceOrientationCreate) -> ServiceOrientationRead:
        """Orient the person to the service. The journey accepts it first (or refuses it, and
        nothing is written); then the plan's line is written (a write held while the journey's
        activity writes would block it on SQLite)."""
        beneficiary_id = data.beneficiary_id
        with self.session.no_autoflush:
            if not self.can_orient:
                raise Forbidden("Votre rôle ne permet pas d'orienter une personne vers un service.")
            found, handovers = await self.journeys.journeys.with_handovers(beneficiary_id)
            ensure_action(self.principal, found, "orient_to_service", handovers, utcnow())
            service = await self.repo.service(data.service_id)
            if service is None or not service.active:
                raise InvalidReference("Ce service n'est pas (ou plus) dans la base de ressources.")
            structure = await self.repo.structure_of(service)
            if structure is None:
                raise InvalidReference(
                    "La structure qui porte ce service n'est pas dans la base de ressources : "
                    "l'orientation ne peut pas lui être envoyée."
                )
            if not await self.partners.consented(beneficiary_id, "structures"):
                raise ConsentMissing(
                    "La personne n'a pas donné son accord pour que ses coordonnées soient "
                    "transmises aux structures : rien n'a été envoyé. Enregistrez son accord, "
                    "recueilli en entretien ou sur papier, ou elle le donne depuis son espace.",
                    beneficiary_id=beneficiary_id,
                    partner="structures",
                )
        orientation_id, plan_action_id = new_id(), new_id()
        await self.journeys.act(
            beneficiary_id,
            OrientToServiceInput(
                orientation_id=orientation_id,
                service_id=str(service.id),
                resource_structure_id=str(structure.id),
                plan_action_id=plan_action_id,
            ),
            self.principal,
        )
        self.repo.add(self._plan_action(plan_action_id, beneficiary_id, service, structure.nom))
        log_access(self.session, self.principal, beneficiary_id, "update", "carnet.plan_action")
        return ServiceOrientationRead(
            id=orientation_id,
            beneficiary_id=beneficiary_id,
            plan_action_id=plan_action_id,
            service_id=service.id,
            service_name=service.nom,
            structure_name=structure.nom,
            status=OrientationStatus.REQUESTED,
            status_label=STATUS_LABELS[OrientationStatus.REQUESTED],
            requested_at=utcnow(),
        )

    def _plan_action(
        self, action_id: str, beneficiary_id: str, service: ResourceService, structure: str
    ) -> PlanAction:
        first = service.thematiques[0] if service.thematiques else None
        objective = thematique_label(first) if first else service.nom
        return PlanAction(
            id=action_id,
            beneficiary_id=beneficiary_id,
            theme=theme_of(service.thematiques).value,
            objective=objective[:300],
            action=f"{service.nom} ({structure})"[:300],
            weekly_hours=whole_hours(service.volume_horaire_hebdomadaire),
            service_id=service.id,
            updated_by=self.principal.id,
        )

    async def of_person(self, beneficiary_id: str) -> list[ServiceOrientationRead]:
        """The person's orientations to services, the latest first (logged)."""
        await self._readable(beneficiary_id)
        log_access(self.session, self.principal, beneficiary_id, "read", "service_orientations")
        return [_row_read(row) for row in await self.repo.of_person(beneficiary_id)]

    async def plan(self, beneficiary_id: str, *, logged: bool = True) -> PlanOrientations:
        """What the plan shows of orientations: each line's orientation and the weekly hours
        (``logged`` off: the caller read the carnet, and logged that)."""
        await self._readable(beneficiary_id)
        if logged:
            log_access(self.session, self.principal, beneficiary_id, "read", "plan")
        rows = await self.repo.of_person(beneficiary_id)
        orientations: dict[str, ServiceOrientationRead] = {}
        for row in reversed(rows):  # the latest orientation of a line wins
            if row.record.plan_action_id:
                orientations[row.record.plan_action_id] = _row_read(row)
        return PlanOrientations(
            orientations=orientations, hours=await self.weekly_hours(beneficiary_id)
        )

    async def weekly_hours(self, beneficiary_id: str) -> WeeklyHoursRead:
        """The 15-hours rule: the active plan's weekly hours, from each line's own hours, else
        its service's ``volume_horaire_hebdomadaire``, else its training's weekly hours."""
        actions = await self.repo.active_plan(beneficiary_id)
        planned = {
            a.id: PlannedActivity(
                weekly_hours=a.weekly_hours, service_id=a.service_id, training_id=a.training_id
            )
            for a in actions
        }
        resources = ResourceRepository(self.session)
        services = await resources.weekly_hours_of_services(
            p.service_id for p in planned.values() if p.service_id is not None
        )
        trainings = await resources.weekly_hours_of_trainings(
            p.training_id for p in planned.values() if p.training_id is not None
        )
        target = await self.repo.contract_hours(beneficiary_id)
        total = weekly_hours(planned.values(), services, trainings, target)
        return WeeklyHoursRead(
            total=total.total,
            target=total.target,
            target_from_contract=target is not None,
            counted=total.counted,
            unknown=total.unknown,
            reached=total.reached,
            missing=total.missing,
            label=total.label,
            by_action={i: hours_of(p, services, trainings) for i, p in planned.items()},
        )

    @property
    def can_orient(self) -> bool:
        return self.principal.role in ACTION_ROLES["orient_to_service"]

    async def orientable_people(self) -> list[tuple[str, str]]:
        """(id, name and birth date) of the people the caller may orient now, by last name."""
        if not self.can_orient:
            return []
        people = await self.repo.orientable_people(visible_journeys(self.principal))
        return [(i, person_choice(first, last, born)) for i, first, last, born in people]


class ServiceOrientationProjection:
    """The read model of orientations, written by the workflow's activities (idempotent:
    a transition already written, or overtaken, changes nothing)."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ServiceOrientationRepository(session)

    async def begin(self, data: BeginServiceOrientationInput) -> OrientationTarget:
        """Write the orientation as requested; what the workflow needs to carry on."""
        service = await self.repo.service(int(data.service_id))
        structure = await self.repo.structure(int(data.resource_structure_id))
        record = await self.repo.get(data.orientation_id)
        if record is None:
            record = ServiceOrientationRecord(
                id=data.orientation_id,
                beneficiary_id=data.beneficiary_id,
                service_id=service.id if service else None,
                resource_structure_id=structure.id if structure else None,
                plan_action_id=data.plan_action_id,
                status=OrientationStatus.REQUESTED.value,
                seq=Transition.REQUESTED.seq,
                requested_by=data.requested_by,
                requested_at=data.requested_at,
                updated_at=utcnow(),
            )
            self.repo.add(record)
        if service is None or structure is None:
            return OrientationTarget(found=False)
        return OrientationTarget(
            found=True,
            # What the structure's system knows them by: their data·inclusion ids.
            structure_id=structure.source_id,
            service_id=service.source_id,
            reminder_days=self.settings.service_orientation_reminder_days,
            expiry_days=self.settings.service_orientation_expiry_days,
        )

    async def record(
        self, data: ServiceOrientationTransition, *, wait_for_answer: bool = True
    ) -> bool:
        """Write one transition; False when it was already written (or overtaken).

        A refusal's reason is read from the structure's callback, which the callbacks' service
        records in the same transaction as it signals: ``AnswerNotYetCommitted`` until that
        commits (unless ``wait_for_answer`` is off: then the answer is written without it)."""
        record = await self.repo.get(data.orientation_id)
        if record is None:
            raise LookupError(f"orientation {data.orientation_id} not begun")
        transition = data.transition
        if record.seq >= transition.seq:
            return False
        record.status, record.seq = transition.status.value, transition.seq
        record.updated_at = utcnow()
        match transition:
            case Transition.SENT:
                record.sent_at, record.reference = data.at, data.reference
                record.expires_at = data.expires_at
            case Transition.REMINDED:
                record.reminded_at, record.reminder_delivered = data.at, data.delivered
            case Transition.ACCEPTED | Transition.REFUSED:
                answer = await self.repo.answer(data.callback_id or "")
                if answer is None and wait_for_answer:
                    raise AnswerNotYetCommitted(data.callback_id or "")
                record.answered_at, record.callback_id = data.at, data.callback_id
                if transition is Transition.REFUSED and answer is not None:
                    reason = answer.body.get("reason")
                    record.reason = str(reason) if reason else None
            case Transition.FAILED:
                record.failure = data.failure
            case Transition.WITHDRAWN:
                # Withdrawn while it was being sent: what the structure knows it by.
                record.reference = record.reference or data.reference
        await self._move_plan(record, transition, data.at)
        return True

    async def _move_plan(
        self, record: ServiceOrientationRecord, transition: Transition, at: datetime
    ) -> None:
        """The plan's line follows the structure's answer, unless a référent moved it on."""
        if record.plan_action_id is None:
            return
        action = await self.repo.plan_action(record.plan_action_id)
        if action is None:
            return
        status = PlanStatus(action.status)
        if transition is Transition.ACCEPTED and status is PlanStatus.PLANNED:
            action.status = PlanStatus.IN_PROGRESS.value
        elif transition in (
            Transition.REFUSED,
            Transition.EXPIRED,
            Transition.FAILED,
            Transition.WITHDRAWN,
        ) and (status in (PlanStatus.PLANNED, PlanStatus.IN_PROGRESS)):
            action.status = PlanStatus.ABANDONED.value
        else:
            return
        action.updated_at, action.updated_by = at, None


class AnswerNotYetCommitted(Exception):
    """The structure's callback that carried the answer is not visible yet (its request has
    not committed): try again."""
