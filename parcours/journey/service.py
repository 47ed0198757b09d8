"""Enrol a person (which starts their journey), act on a journey, read it with its timeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from parcours.access.read_log import log_read
from parcours.access.repository import PeopleRepository, log_access, visible_journeys
from parcours.access.rules import (
    ACTION_ROLES,
    ENROLLING_ROLES,
    Principal,
    Role,
    ensure_action,
    ensure_read,
    reading_after_handoff,
)
from parcours.carnet.models import Beneficiary
from parcours.core.db import new_id, utcnow
from parcours.core.errors import Conflict, Forbidden, InvalidReference, NotFound, Unavailable
from parcours.core.schemas import PersonRef, person_name
from parcours.core.settings import Settings
from parcours.core.temporal import run_update, send_signal, send_update, start_workflow
from parcours.exits.service import ExitCodeService
from parcours.indicators.repository import IndicatorRepository
from parcours.indicators.rules import days_per_step
from parcours.journey import rules
from parcours.journey.messages import (
    DEADLINE_KEY,
    DECISION_REQUESTED,
    JOURNEY_WORKFLOW,
    RECORD_OUTCOME,
    REFERENT_KEY,
    STEP_KEY,
    TERRITORY_KEY,
    Action,
    CloseInput,
    DecideOrientationInput,
    DecideReorientationInput,
    ExitReason,
    HandOffInput,
    JourneyEvent,
    JourneyInput,
    JourneyOutcomeInput,
    JourneyState,
    OrientationKind,
    RecordJourneyEventsInput,
    RsaRightsChangedInput,
    RsaStatus,
    Sla,
    Step,
    journey_workflow_id,
)
from parcours.journey.models import JourneyEventRecord, JourneyHandover, JourneyRecord
from parcours.journey.next_steps import Around, Awaited, Reader, next_steps
from parcours.journey.repository import JourneyRepository
from parcours.journey.schemas import (
    ASK_ORIENTATION_DECISION,
    STEP_LABELS,
    BeneficiaryCreate,
    BeneficiaryRead,
    EnrolmentRead,
    HandoverRead,
    JourneyDetail,
    JourneyFilter,
    JourneyPage,
    JourneyRead,
    JourneySummary,
    LegalOrientationRead,
    NextSteps,
    StepDuration,
    TimelineEntry,
    event_label,
)
from parcours.orientations.messages import (
    FRANCE_TRAVAIL_NOTICE_WORKFLOW,
    FranceTravailNoticeStart,
    france_travail_notice_workflow_id,
)
from parcours.orientations.messages import WAITING_STATUSES as ORIENTATION_WAITING
from parcours.orientations.repository import ServiceOrientationRepository
from parcours.territories.models import Territory
from parcours.territories.repository import TerritoryRepository
from parcours.territories.service import TerritoryService
from parcours.training_requests.messages import TrainingStatus
from parcours.training_requests.repository import UNDECIDED_STATUSES, TrainingRequestRepository

log = logging.getLogger(__name__)

GONE = "Ce parcours n'accepte plus d'action (il est terminé)."
MORE_INFO = TrainingStatus.MORE_INFO_REQUESTED.value

# How long a request sent as a signal is waited for in the read model, so that the next page
# shows it (it is on its way all the same after that).
RECORDED_WAIT_S = 5.0
# Named when they are this few; beyond, « les chargé·es d'orientation du département ».
TEAM_NAMED_UP_TO = 3


def _name(users: dict[str, Any], user_id: str | None) -> str | None:
    return users[user_id].full_name if user_id in users else None


def last_decision_request(
    record: JourneyRecord, events: Sequence[JourneyEventRecord]
) -> JourneyEventRecord | None:
    """The last request for an orientation decision during the journey's stay in its step."""
    asked = [
        e
        for e in events
        if e.kind == DECISION_REQUESTED
        and e.step == Step.ORIENTATION
        and record.step == Step.ORIENTATION
        and e.occurred_at >= record.step_since
    ]
    return asked[-1] if asked else None


def _initial_search_attributes(state: JourneyState) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(STEP_KEY, state.step.value),
        SearchAttributePair(TERRITORY_KEY, state.territory),
    ]
    if state.referent_id:
        pairs.append(SearchAttributePair(REFERENT_KEY, state.referent_id))
    if state.deadline:
        pairs.append(SearchAttributePair(DEADLINE_KEY, state.deadline))
    return TypedSearchAttributes(pairs)


def _enrolled_by(principal: Principal, data: BeneficiaryCreate) -> BeneficiaryCreate:
    if principal.role not in ENROLLING_ROLES:
        raise Forbidden("Votre rôle ne permet pas d'inscrire une personne.")
    if data.territory != principal.territory:
        raise Forbidden("Vous ne pouvez inscrire que des personnes de votre département.")
    defaults: dict[str, str | None] = {}
    if data.referent_id is None and principal.role is Role.REFERENT:
        defaults["referent_id"] = principal.id
    if data.structure_id is None and principal.structure_id:
        defaults["structure_id"] = principal.structure_id
    return data.model_copy(update=defaults)


def sla_from(settings: Settings) -> Sla:
    return Sla(
        intake_days=settings.intake_days,
        diagnosis_days=settings.diagnosis_days,
        orientation_weeks_after_rsa=settings.orientation_weeks_after_rsa,
        contract_days_after_orientation=settings.contract_days_after_orientation,
        accompaniment_review_days=settings.accompaniment_review_days,
        follow_up_consent_days=settings.follow_up_consent_days,
        check_in_grace_days=settings.check_in_grace_days,
        follow_up_check_in_months=tuple(settings.follow_up_check_in_months),
        france_travail_orients_after_weeks=settings.france_travail_orients_after_weeks or None,
        social_review_months=settings.social_review_months,
        social_review_extended_months=settings.social_review_extended_months,
        social_review_notice_days=settings.social_review_notice_days,
        history_events_bound=settings.journey_history_events_bound,
    )


def state_of(record: JourneyRecord) -> JourneyState:
    """The journey as the read model knows it, enough to tell which actions to offer."""
    return JourneyState(
        beneficiary_id=record.beneficiary_id,
        journey_id=record.journey_id,
        territory=record.territory,
        step=Step(record.step),
        step_since=record.step_since,
        deadline=record.deadline,
        stalled=record.stalled,
        referent_id=record.referent_id,
        structure_id=record.structure_id,
        orientation=OrientationKind(record.orientation) if record.orientation else None,
        rsa_status=RsaStatus(record.rsa_status),
        paused_at=record.updated_at if record.paused else None,
        check_in_due=record.check_in_due,
        exit_reason=ExitReason(record.exit_reason) if record.exit_reason else None,
        exit_code=record.exit_code,
        seq=record.seq,
    )


def journey_read(record: JourneyRecord) -> JourneyRead:
    state = state_of(record)
    return JourneyRead.build(state, rules.available_actions(state))


class JourneyService:
    def __init__(self, session: AsyncSession, temporal: Client, settings: Settings) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.journeys = JourneyRepository(session)
        self.people = PeopleRepository(session)

    async def _check_references(self, referent_id: str | None, structure_id: str | None) -> None:
        if referent_id and await self.people.user(referent_id) is None:
            raise InvalidReference("Référent inconnu.")
        if structure_id and await self.people.structure(structure_id) is None:
            raise InvalidReference("Structure inconnue.")

    async def enrol(
        self,
        data: BeneficiaryCreate,
        principal: Principal | None = None,
        *,
        actor_id: str | None = None,
        now: datetime | None = None,
        beneficiary_id: str | None = None,
    ) -> EnrolmentRead:
        """Write the person and start their journey. The caller commits, or calls ``abandon``.

        A référent who enrols someone without naming a référent follows them; ``principal``
        None is the platform itself (CAF feed, demo).
        """
        if principal is not None:
            data = _enrolled_by(principal, data)
            actor_id = principal.id
        await self._check_references(data.referent_id, data.structure_id)
        # ``beneficiary_id`` chosen by the caller (a CAF import derives it from the CAF event)
        # makes a retry adopt the journey an interrupted attempt already started.
        person = Beneficiary(
            id=beneficiary_id or new_id(),
            **data.model_dump(exclude={"referent_id", "structure_id"}),
        )
        journey_input = JourneyInput(
            beneficiary_id=person.id,
            # A person's first journey has the person's id.
            journey_id=person.id,
            territory=data.territory,
            referent_id=data.referent_id,
            structure_id=data.structure_id,
            rsa_opened_on=data.rsa_opened_on,
            actor_id=actor_id,
            sla=sla_from(self.settings),
            # ``now``: when the journey starts (the engine's clock in time-skipping tests).
            started_at=now or datetime.now(UTC),
        )
        state, events = await self._begin(journey_input, adopt=beneficiary_id is not None)
        self.people.add(person)
        await self.session.flush()
        await self.journeys.project(
            RecordJourneyEventsInput(journey=state, first_seq=1, events=events),
            handoff_read_days=self.settings.handoff_read_days,
            app_url=self.settings.public_app_url,
        )
        log_access(self.session, principal, person.id, "update", "journey.enrol")
        return EnrolmentRead(
            beneficiary=BeneficiaryRead.model_validate(person),
            journey=JourneyRead.build(state, rules.available_actions(state)),
        )

    async def reopen(
        self,
        beneficiary_id: str,
        *,
        journey_id: str,
        rsa_opened_on: date | None,
        territory: str | None = None,
        now: datetime | None = None,
    ) -> JourneyRead:
        """A new journey for a person whose last one is closed (their RSA opens again): it
        starts at intake, in their département, without a référent yet; the earlier journeys
        stay readable. ``journey_id`` chosen by the caller (a CAF import derives it from the
        CAF event) makes a retry adopt the journey an interrupted attempt started. The caller
        commits, or calls ``abandon``."""
        record = await self._record(beneficiary_id)
        if record.journey_id == journey_id:
            return journey_read(record)  # a retry that found it written
        if record.step != Step.CLOSED:
            raise Conflict("La personne a un parcours en cours : il n'en commence pas un autre.")
        person = await self.people.beneficiary(beneficiary_id)
        assert person is not None
        if rsa_opened_on is not None:
            person.rsa_opened_on = rsa_opened_on
        journey_input = JourneyInput(
            beneficiary_id=beneficiary_id,
            journey_id=journey_id,
            territory=territory or person.territory,
            rsa_opened_on=rsa_opened_on,
            sla=sla_from(self.settings),
            started_at=now or datetime.now(UTC),
        )
        state, events = await self._begin(journey_input, adopt=True)
        await self.journeys.project(
            RecordJourneyEventsInput(journey=state, first_seq=1, events=events),
            handoff_read_days=self.settings.handoff_read_days,
            app_url=self.settings.public_app_url,
        )
        log_access(self.session, None, beneficiary_id, "update", "journey.reopen")
        return JourneyRead.build(state, rules.available_actions(state))

    async def _begin(
        self, journey_input: JourneyInput, *, adopt: bool
    ) -> tuple[JourneyState, list[JourneyEvent]]:
        """Start the journey's workflow; the platform writes its first events (the workflow
        starts from the same state). ``adopt``: a workflow already started under this id (by
        an attempt that never committed) is taken as it is."""
        assert journey_input.journey_id is not None and journey_input.started_at is not None
        state, events = rules.start(journey_input, journey_input.started_at)
        state = state.model_copy(update={"seq": len(events)})
        # Start first: no database lock is held during the call (SQLite has one writer). If the
        # commit then fails, the caller calls ``abandon``.
        try:
            await start_workflow(
                self.temporal,
                JOURNEY_WORKFLOW,
                journey_input,
                id=journey_workflow_id(journey_input.journey_id),
                task_queue=self.settings.task_queue,
                search_attributes=_initial_search_attributes(state),
            )
        except WorkflowAlreadyStartedError:
            if not adopt:
                raise
            # Started by an attempt that never committed: write what that journey holds.
            handle = self.temporal.get_workflow_handle(
                journey_workflow_id(journey_input.journey_id)
            )
            begun = await handle.query("current", result_type=JourneyState)
            journey_input = journey_input.model_copy(update={"started_at": begun.step_since})
            state, events = rules.start(journey_input, begun.step_since)
            state = state.model_copy(update={"seq": len(events)})
        return state, events

    async def abandon(self, journey_id: str) -> None:
        """Undo a start whose database commit failed: no journey without its person (a
        person's first journey has the person's id)."""
        handle = self.temporal.get_workflow_handle(journey_workflow_id(journey_id))
        try:
            await handle.terminate(reason="enrolment not committed")
        except RPCError:
            log.exception("could not terminate orphan journey", extra={"journey_id": journey_id})

    async def _record(self, beneficiary_id: str) -> JourneyRecord:
        record = await self.journeys.get(beneficiary_id)
        if record is None:
            raise NotFound("Parcours introuvable.")
        return record

    async def act(
        self,
        beneficiary_id: str,
        action: Action,
        principal: Principal | None = None,
        *,
        action_id: str | None = None,
    ) -> JourneyRead:
        """Run a human action as the workflow's update; a refusal becomes a 409 with its reason.

        The action is signed by ``principal`` (None: the platform itself) and logged.
        ``action_id`` identifies this action for the engine: sent again (a form submitted twice,
        a client retrying after a lost answer), it is applied once.
        """
        # Reads only until the journey has accepted: a write (even a pending access-log row
        # flushed by a query) would hold SQLite's lock that the journey's activity needs.
        with self.session.no_autoflush:
            name = rules.name_of(action)
            if principal is None:
                record = await self._record(beneficiary_id)
            else:
                found, handovers = await self.journeys.with_handovers(beneficiary_id)
                record = ensure_action(principal, found, name, handovers, utcnow())
                action = action.model_copy(update={"actor_id": principal.id})
                if getattr(action, "decided_by", "department") != "department":
                    raise Forbidden(
                        "Seul France Travail, par son rappel signé, décide au titre du délai "
                        "légal d'orientation dépassé."
                    )
            if record.step == Step.CLOSED:
                raise Conflict("Le parcours est clôturé : aucune action n'est plus possible.")
            if isinstance(action, HandOffInput):
                # Only to a département this platform hosts: someone there takes it over.
                hosted = await TerritoryService(self.session).ensure_hosted(action.territory)
                action = action.model_copy(update={"territory": hosted.code})
            if isinstance(action, CloseInput) and action.exit_code is not None:
                # The département's coded exit, active, decides the exit reason.
                coded = await ExitCodeService(self.session).for_closing(
                    record.territory, action.exit_code
                )
                action = action.model_copy(update={"exit_reason": coded.exit_reason})
            reason = getattr(action, "social_review_reason", None)
            if reason and reason not in self.settings.social_review_extension_reasons:
                raise InvalidReference(
                    "Une revue du parcours social à 12 mois se justifie par une raison de la "
                    "liste (art. D.262-65-2-1 CASF) : "
                    + ", ".join(self.settings.social_review_extension_reasons)
                    + "."
                )
            referent_id = getattr(action, "referent_id", None)
            structure_id = getattr(action, "structure_id", None)
            await self._check_references(referent_id, structure_id)
            handle = self.temporal.get_workflow_handle(journey_workflow_id(record.journey_id))
            state = await run_update(
                handle, name, action, result_type=JourneyState, gone=GONE, update_id=action_id
            )
        if (
            isinstance(action, DecideOrientationInput)
            and action.kind is OrientationKind.PROFESSIONAL
            and action.decided_by == "department"
        ):
            await self.notify_france_travail(beneficiary_id, action, state)
        if (
            isinstance(action, DecideReorientationInput)
            and action.accepted
            and action.kind is OrientationKind.PROFESSIONAL
            and action.structure_id
        ):
            # A reorientation to France Travail is told to it like a first orientation.
            decision = DecideOrientationInput(
                kind=action.kind, structure_id=action.structure_id, referent_id=action.referent_id
            )
            await self.notify_france_travail(beneficiary_id, decision, state)
        # Logged once the journey accepted: the log and the journey agree.
        log_access(self.session, principal, beneficiary_id, "update", f"journey.{name}")
        return JourneyRead.build(state, rules.available_actions(state))

    async def notify_france_travail(
        self, beneficiary_id: str, decision: DecideOrientationInput, state: JourneyState
    ) -> None:
        """A professional orientation is told to France Travail by its own workflow, once per
        decision (its id is the person and the decision's event number: a retried start is
        refused). The decision stands if the engine does not answer now: logged for operators."""
        notice = FranceTravailNoticeStart(
            beneficiary_id=beneficiary_id,
            journey_workflow_id=journey_workflow_id(state.id),
            orientation_seq=state.seq,
            decided_on=state.step_since.date(),
            structure_id=decision.structure_id,
            referent_id=decision.referent_id,
        )
        # Once per decision; an engine down is logged, and the decision stands.
        with contextlib.suppress(WorkflowAlreadyStartedError, Unavailable):
            await start_workflow(
                self.temporal,
                FRANCE_TRAVAIL_NOTICE_WORKFLOW,
                notice,
                id=france_travail_notice_workflow_id(beneficiary_id, state.seq),
                task_queue=self.settings.task_queue,
            )

    async def act_soon(self, beneficiary_id: str, action: Action) -> None:
        """A partner's action on the journey, as the platform: refused or accepted now, carried
        out by the workflow right after (the caller need not wait for the read model)."""
        name = rules.name_of(action)
        with self.session.no_autoflush:
            record = await self._record(beneficiary_id)
        if record.step == Step.CLOSED:
            raise Conflict("Le parcours est clôturé : aucune action n'est plus possible.")
        handle = self.temporal.get_workflow_handle(journey_workflow_id(record.journey_id))
        await send_update(handle, name, action, result_type=JourneyState, gone=GONE)

    async def change_rsa_rights(self, beneficiary_id: str, signal: RsaRightsChangedInput) -> None:
        record = await self._record(beneficiary_id)
        if record.step == Step.CLOSED:
            return  # The CAF may tell us after the journey ended: nothing left to change.
        # A journey that ended before the read model said so is the same as above.
        handle = self.temporal.get_workflow_handle(journey_workflow_id(record.journey_id))
        await send_signal(handle, "rsa_rights_changed", signal)

    async def detail(
        self, beneficiary_id: str, principal: Principal | None = None
    ) -> JourneyDetail:
        handed_off = None
        found, handovers, around = await self.journeys.with_around(beneficiary_id)
        if principal is None:
            if found is None:
                raise NotFound("Parcours introuvable.")
            record = found
        else:
            now = utcnow()
            record = ensure_read(principal, found, handovers, now)
            handed_off = reading_after_handoff(principal, record, handovers, now)
            log_read(self.session, principal, beneficiary_id, "journey")
        assert around is not None
        person, structure = around.person, around.structure
        events = await self.journeys.events(record)
        actors = {e.seq: rules.event_actor(e.kind, e.actor_id) for e in events}
        actor_ids = {a for a in actors.values() if a}
        if record.referent_id:
            actor_ids.add(record.referent_id)
        users = await self.people.users(actor_ids)
        referent = users.get(record.referent_id) if record.referent_id else None
        timeline = [
            TimelineEntry(
                seq=e.seq,
                kind=e.kind,
                label=event_label(e.kind, _name(users, actors[e.seq]), e.detail),
                step=Step(e.step),
                step_label=STEP_LABELS[Step(e.step)],
                occurred_at=e.occurred_at,
                actor=PersonRef(id=actor, label=users[actor].full_name)
                if (actor := actors[e.seq]) in users
                else None,
                detail=e.detail,
            )
            for e in events
        ]
        journey = journey_read(record)
        what_next = None
        if principal is not None:
            journey.available_actions = [
                a
                for a in journey.available_actions
                if principal.role in ACTION_ROLES[a.name] and handed_off is None
            ]
            asked = last_decision_request(record, events)
            what_next = await self._next_steps(
                record,
                around.territory,
                principal,
                read_only=handed_off is not None,
                referent=referent.full_name if referent else None,
                asked_at=asked.occurred_at if asked else None,
                asked_by=_name(users, asked.actor_id) if asked else None,
            )
        return JourneyDetail(
            journey=journey,
            beneficiary=BeneficiaryRead.model_validate(person),
            referent=PersonRef(id=referent.id, label=referent.full_name) if referent else None,
            structure=PersonRef(id=structure.id, label=structure.name) if structure else None,
            timeline=timeline,
            time_in_steps=await self._time_in_steps(record),
            handed_off=await self.handover_read(handed_off) if handed_off else None,
            next_steps=what_next,
            legal_orientation=self._legal_orientation(person.rsa_opened_on, events),
        )

    def _legal_orientation(
        self, rsa_opened_on: date | None, events: Sequence[JourneyEventRecord]
    ) -> LegalOrientationRead | None:
        clock = rules.legal_orientation(
            rsa_opened_on,
            [(e.kind, e.detail, e.occurred_at) for e in events],
            self.settings.france_travail_orients_after_weeks,
        )
        if clock is None:
            return None
        due_on, subject, asked, by_france_travail, oriented = clock
        return LegalOrientationRead(
            due_on=asked or due_on,
            subject_to_duties=subject,
            oriented=oriented,
            france_travail_asked=asked is not None,
            oriented_by_france_travail=by_france_travail,
        )

    async def what_next(self, beneficiary_id: str, principal: Principal) -> NextSteps:
        """« Et maintenant ? » for ``principal`` on a journey they may read (not logged: the
        page that shows it logs its own read)."""
        found, handovers, around = await self.journeys.with_around(beneficiary_id)
        now = utcnow()
        record = ensure_read(principal, found, handovers, now)
        handed_off = reading_after_handoff(principal, record, handovers, now)
        assert around is not None
        asked = last_decision_request(record, await self.journeys.events(record))
        users = await self.people.users(
            {i for i in (record.referent_id, asked.actor_id if asked else None) if i}
        )
        return await self._next_steps(
            record,
            around.territory,
            principal,
            read_only=handed_off is not None,
            referent=_name(users, record.referent_id),
            asked_at=asked.occurred_at if asked else None,
            asked_by=_name(users, asked.actor_id) if asked else None,
        )

    async def _next_steps(
        self,
        record: JourneyRecord,
        territory: Territory | None,
        principal: Principal,
        *,
        read_only: bool,
        referent: str | None,
        asked_at: datetime | None,
        asked_by: str | None,
    ) -> NextSteps:
        """« Et maintenant ? » for ``principal``: the rule, given the names around."""
        team = await self.people.orientation_agents(record.territory, TEAM_NAMED_UP_TO + 1)
        around = Around(
            referent=referent,
            territory=f"{record.territory} ({territory.name})" if territory else record.territory,
            orientation_team=tuple(u.full_name for u in team)
            if len(team) <= TEAM_NAMED_UP_TO
            else (),
            asked_at=asked_at,
            asked_by=asked_by,
        )
        if record.step != Step.CLOSED:
            around = replace(around, awaited=await self._awaited(record.beneficiary_id))
        reader = Reader(id=principal.id, role=principal.role, read_only=read_only)
        return next_steps(state_of(record), reader, around, utcnow())

    async def _awaited(self, beneficiary_id: str) -> tuple[Awaited, ...]:
        """The person's requests waiting on a partner: training requests their funder has not
        decided, orientations to a service their structure has not answered."""
        trainings = TrainingRequestRepository(self.session)
        waiting = [
            r for r in await trainings.for_person(beneficiary_id) if r.status in UNDECIDED_STATUSES
        ]
        titles = await trainings.trainings({r.training_id for r in waiting})
        awaited = [
            Awaited(
                kind="training_more_info" if r.status == MORE_INFO else "training",
                who=r.funder,
                what=titles[r.training_id].title if r.training_id in titles else "—",
                due=r.deadline,
            )
            for r in waiting
        ]
        awaited += [
            Awaited(
                kind="service",
                who=o.structure_name or "—",
                what=o.service_name or "—",
                due=o.record.expires_at,
            )
            for o in await ServiceOrientationRepository(self.session).of_person(beneficiary_id)
            if o.record.status in ORIENTATION_WAITING
        ]
        return tuple(awaited)

    async def ask_orientation_decision(
        self, beneficiary_id: str, principal: Principal
    ) -> JourneyDetail:
        """Ask the département's chargé·es d'orientation for their decision: the journey's
        ``record_outcome`` signal with a ``decision_requested`` event (their inbox turns it
        into an item for each of them). Refused (409, with the reason) outside the orientation
        step, while paused, or within a week of the last request; the journey itself leaves
        out a request that crossed the step's change or came twice."""
        with self.session.no_autoflush:
            found, handovers = await self.journeys.with_handovers(beneficiary_id)
            now = utcnow()
            record = ensure_action(principal, found, ASK_ORIENTATION_DECISION, handovers, now)
            asked = last_decision_request(record, await self.journeys.events(record))
            refusal = rules.decision_request_refusal(
                state_of(record), asked.occurred_at if asked else None, now
            )
            if refusal:
                raise Conflict(refusal)
            handle = self.temporal.get_workflow_handle(journey_workflow_id(record.journey_id))
            request = JourneyOutcomeInput(kind=DECISION_REQUESTED, actor_id=principal.id, detail={})
            if not await send_signal(handle, RECORD_OUTCOME, request):
                raise Conflict(GONE)
            if await self._recorded(record, DECISION_REQUESTED):
                await self.session.refresh(record)  # the row the activity wrote since
        log_access(self.session, principal, beneficiary_id, "update", "journey.ask_decision")
        return await self.detail(beneficiary_id, principal)

    async def _recorded(self, record: JourneyRecord, kind: str) -> bool:
        """Wait (a few seconds at most) until the read model holds an event ``kind`` after
        what ``record`` knew: the next page shows it. False if it has not come yet."""
        give_up = time.monotonic() + RECORDED_WAIT_S
        while True:
            written = await self.journeys.events_from(record.journey_id, record.seq + 1)
            if any(k == kind for _, k, _ in written):
                return True
            if time.monotonic() >= give_up:
                log.info("request not yet recorded", extra={"journey_id": record.journey_id})
                return False
            await asyncio.sleep(0.05)

    async def handover_read(self, handover: JourneyHandover) -> HandoverRead:
        """A hand-off as its former follow-up group reads it (the receiving département by
        name)."""
        territory = await TerritoryRepository(self.session).get(handover.to_territory)
        return HandoverRead(
            to_territory=handover.to_territory,
            to_territory_name=territory.name if territory else None,
            handed_off_at=handover.handed_off_at,
            readable_until=handover.readable_until,
        )

    async def _time_in_steps(self, record: JourneyRecord) -> list[StepDuration]:
        """Days spent in each step, from the journey's stays (the indicators' projection, as
        the story reads them): a step entered without an event of its own counts too."""
        spans = await IndicatorRepository(self.session).spans(record.journey_id)
        totals = days_per_step(
            ((Step(s.step), s.entered_at, s.left_at) for s in spans), datetime.now(UTC)
        )
        return [
            StepDuration(step=step, step_label=STEP_LABELS[step], days=round(days, 1))
            for step, days in totals.items()
        ]

    async def count_by_step(self, principal: Principal) -> dict[str, int]:
        """How many of the journeys ``principal`` may see stand at each step."""
        return await self.journeys.count_by_step(visible_journeys(principal))

    async def referent_choices(self) -> list[PersonRef]:
        """The référents a journey can be given to (the forms' choices)."""
        return [PersonRef(id=u.id, label=u.full_name) for u in await self.people.referents()]

    async def structure_choices(self) -> list[PersonRef]:
        return [PersonRef(id=s.id, label=s.name) for s in await self.people.all_structures()]

    async def list(
        self,
        f: JourneyFilter,
        limit: int = 50,
        offset: int = 0,
        principal: Principal | None = None,
    ) -> JourneyPage:
        if principal is not None:
            f = replace(f, viewer=principal)
        rows, total = await self.journeys.list_with_people(f, limit=limit, offset=offset)
        items = [
            JourneySummary(
                beneficiary_id=j.beneficiary_id,
                full_name=person_name(b.first_name, b.last_name),
                birth_date=b.birth_date,
                step=Step(j.step),
                step_label=STEP_LABELS[Step(j.step)],
                deadline=j.deadline,
                stalled=j.stalled,
                paused=j.paused,
                territory=j.territory,
                referent_id=j.referent_id,
            )
            for j, b in rows
        ]
        return JourneyPage(items=items, total=total, limit=limit, offset=offset)
