"""Training requests to their funder, from both sides.

- A référent requests a training for a person they follow (the training open, with places
  left, the person consenting to share with its funder): the journey's ``request_training``
  update starts the ``TrainingRequest`` workflow; this request then writes its row. The
  référent reads the person's requests, answers a funder's question, records the end of the
  training.
- A funder (a user whose structure is the Région or France Travail) sees only the requests
  addressed to their body — another body's answer "introuvable" (404) — with only what the
  person consented to share, and decides: more information, approval, refusal.
- The funder's own system decides by signed callback (``apply_funder_decision``).

Every decision is the workflow's update (its validator refuses what the request's status does
not allow: a 409 with the reason); texts (question, answer, reason) are written here, after
the workflow accepted, never sent to Temporal. Every read and change is in the access log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from parcours.access.repository import PeopleRepository, log_access, visible_journeys
from parcours.access.rules import (
    ACTION_ROLES,
    Principal,
    Role,
    can_read,
    can_write_carnet,
    ensure_action,
    ensure_read,
)
from parcours.carnet.models import Beneficiary
from parcours.carnet.schemas import SOURCE_LABELS, THEME_LABELS, Source, Theme
from parcours.core.db import new_id, utcnow
from parcours.core.errors import Conflict, Forbidden, InvalidReference, NotFound
from parcours.core.schemas import PersonRef, person_choice, person_name
from parcours.core.settings import Settings
from parcours.core.temporal import run_update, send_update
from parcours.journey.messages import RequestTrainingInput
from parcours.journey.repository import JourneyRepository
from parcours.journey.service import JourneyService
from parcours.partners.models import PartnerEvent
from parcours.partners.repository import PartnerRepository
from parcours.partners.service import PARTNER_NAMES, ConsentMissing, PersonIncomplete
from parcours.resources.models import Training
from parcours.resources.vocabulary import FUNDER_LABELS, Funder
from parcours.training_requests.messages import (
    Action,
    AnswerMoreInfoInput,
    ApproveTrainingInput,
    AskMoreInfoInput,
    EndTrainingInput,
    RefuseTrainingInput,
    TrainingRequestAction,
    TrainingRequestState,
    TrainingStatus,
    training_request_workflow_id,
)
from parcours.training_requests.models import TrainingRequestMessage, TrainingRequestRecord
from parcours.training_requests.repository import (
    FunderFilter,
    FunderRow,
    TrainingRequestRepository,
)
from parcours.training_requests.rules import FINAL, WITHDRAWN_REFUSAL, refusal
from parcours.training_requests.schemas import (
    AGE_FILTERS,
    MESSAGE_LABELS,
    STATUS_LABELS,
    AnswerCreate,
    ApprovalCreate,
    FunderRequestPage,
    FunderRequestRead,
    FunderRequestSummary,
    MoreInfoCreate,
    RefusalCreate,
    RequestMessageRead,
    SharedFact,
    SharedPerson,
    TrainingEndCreate,
    TrainingRequestCreate,
    TrainingRequestPage,
    TrainingRequestRead,
    TrainingSummary,
)

log = logging.getLogger(__name__)

REQUEST_CLOSED = "Cette demande est close : elle n'accepte plus d'action."

FUNDER_BODIES = frozenset({Funder.REGION.value, Funder.FRANCE_TRAVAIL.value})
# What a funder sees of the carnet, when the person consents: what a training needs.
SHARED_THEMES = (Theme.TRAINING.value, Theme.EMPLOYMENT.value, Theme.FRENCH_LANGUAGE.value)
STALLED = "en-retard"


# --- What the API accepts ---


# --- What it returns ---


def funder_label(funder: str) -> str:
    return FUNDER_LABELS.get(Funder(funder), funder) if funder in FUNDER_BODIES else funder


def _training_summary(training: Training | None) -> TrainingSummary | None:
    if training is None:
        return None
    return TrainingSummary(
        id=training.id,
        title=training.title,
        organisation=training.organisation,
        start_on=training.start_on,
        end_on=training.end_on,
        city=training.city,
        weekly_hours=training.weekly_hours,
    )


def _person(person: Beneficiary | None) -> PersonRef | None:
    if person is None:
        return None
    return PersonRef(id=person.id, label=person_name(person.first_name, person.last_name))


def statuses_of(value: str | None) -> tuple[tuple[str, ...], bool | None]:
    """A status filter as pages and the API give it: a status, or "en-retard"."""
    if value == STALLED:
        return (), True
    if value in {s.value for s in TrainingStatus}:
        return (value,), None
    return (), None


def age_bounds(value: str | None, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(requested after, requested before) for an age filter."""
    if value not in AGE_FILTERS:
        return None, None
    _, at_least, less_than = AGE_FILTERS[value]
    after = now - timedelta(days=less_than) if less_than is not None else None
    before = now - timedelta(days=at_least) if at_least is not None else None
    return after, before


class _Requests:
    """What both sides share: reading requests, running the workflow's updates."""

    def __init__(
        self,
        session: AsyncSession,
        temporal: Client,
        settings: Settings,
        principal: Principal | None,
    ) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.principal = principal
        self.repo = TrainingRequestRepository(session)
        self.journeys = JourneyRepository(session)
        self.people = PeopleRepository(session)
        self.partners = PartnerRepository(session)

    def _signed_in(self) -> Principal:
        if self.principal is None:
            raise Forbidden("Authentification requise.")
        return self.principal

    async def _reads(
        self, records: list[TrainingRequestRecord], *, named: set[str] | None = None
    ) -> list[TrainingRequestRead]:
        """``named``: the people whose name may be shown (None: all of them)."""
        trainings = await self.repo.trainings(r.training_id for r in records)
        messages = await self.repo.messages(r.id for r in records)
        people = await self.repo.people(r.beneficiary_id for r in records)
        user_ids = {r.requested_by for r in records if r.requested_by}
        user_ids |= {r.referent_id for r in records if r.referent_id}
        user_ids |= {m.author_id for ms in messages.values() for m in ms if m.author_id}
        users = await self.people.users(user_ids)

        def user(user_id: str | None) -> PersonRef | None:
            found = users.get(user_id) if user_id else None
            return PersonRef(id=found.id, label=found.full_name) if found else None

        reads = []
        for r in records:
            shown = named is None or r.beneficiary_id in named
            reads.append(
                TrainingRequestRead(
                    id=r.id,
                    beneficiary_id=r.beneficiary_id,
                    person=_person(people.get(r.beneficiary_id)) if shown else None,
                    training=_training_summary(trainings.get(r.training_id)),
                    funder=r.funder,
                    funder_label=funder_label(r.funder),
                    territory=r.territory,
                    status=TrainingStatus(r.status),
                    status_label=STATUS_LABELS[TrainingStatus(r.status)],
                    stalled=r.stalled_since is not None,
                    requested_amount=r.requested_amount,
                    requested_at=r.requested_at,
                    requested_by=user(r.requested_by),
                    referent=user(r.referent_id),
                    sent_at=r.sent_at,
                    funder_reference=r.funder_reference,
                    deadline=r.deadline,
                    reminded_at=r.reminded_at,
                    stalled_since=r.stalled_since,
                    decided_at=r.decided_at,
                    decision_source=r.decision_source,
                    start_date=r.start_date,
                    approved_amount=r.approved_amount,
                    started_at=r.started_at,
                    ended_on=r.ended_on,
                    completed=r.completed,
                    failure=r.failure,
                    plan_action_id=r.plan_action_id,
                    messages=[
                        RequestMessageRead(
                            kind=m.kind,
                            label=MESSAGE_LABELS.get(m.kind, m.kind),
                            body=m.body,
                            author=user(m.author_id)
                            or PersonRef(id="", label=f"Système de {PARTNER_NAMES[r.funder]}"),
                            at=m.at,
                        )
                        for m in messages.get(r.id, [])
                    ],
                )
            )
        return reads

    async def _update(
        self, record: TrainingRequestRecord, name: str, action: TrainingRequestAction
    ) -> TrainingRequestState:
        """Run one of the request's updates and wait for its read model; a refusal becomes a
        409 with the reason. No write may be pending here (SQLite: the workflow's activity
        writes the same database)."""
        status = TrainingStatus(record.status)
        if status in FINAL:
            # The workflow is over: say why, as its validator would have.
            state = TrainingRequestState(
                request_id=record.id,
                beneficiary_id=record.beneficiary_id,
                training_id=record.training_id,
                funder=record.funder,
                status=status,
            )
            assert isinstance(action, Action | EndTrainingInput)
            raise Conflict(refusal(state, action) or "Cette demande est close.")
        handle = self.temporal.get_workflow_handle(record.workflow_id)
        state = await run_update(
            handle, name, action, result_type=TrainingRequestState, gone=REQUEST_CLOSED
        )
        await self.repo.fresh(record.id)
        return state

    def _message(self, record: TrainingRequestRecord, kind: str, body: str) -> None:
        self.repo.add(
            TrainingRequestMessage(
                request_id=record.id,
                kind=kind,
                body=body,
                author_id=self.principal.id if self.principal else None,
                at=utcnow(),
            )
        )


class TrainingRequestService(_Requests):
    """The référents' side (and what the person's follow-up group reads)."""

    async def candidates(self) -> list[PersonRef]:
        """The people the caller may request a training for now (none unless référent)."""
        p = self._signed_in()
        if p.role not in ACTION_ROLES["request_training"]:
            return []
        people = await self.repo.candidates(visible_journeys(p))
        return [
            PersonRef(id=b.id, label=person_choice(b.first_name, b.last_name, b.birth_date))
            for b in people
        ]

    async def request(self, data: TrainingRequestCreate) -> TrainingRequestRead:
        """Check, have the journey start the request, then write it. The caller commits."""
        p = self._signed_in()
        # Reads only until the journey accepted (see ``JourneyService.act``).
        with self.session.no_autoflush:
            found, handovers = await self.journeys.with_handovers(data.beneficiary_id)
            journey = ensure_action(p, found, "request_training", handovers, utcnow())
            training = await self.repo.training(data.training_id)
            if training is None or not training.active:
                raise NotFound("Formation introuvable (ou retirée de la base de ressources).")
            if training.end_on < date.today():
                raise Conflict("Cette session de formation est terminée : choisissez-en une autre.")
            if training.places_left is not None and training.places_left <= 0:
                raise Conflict("Il ne reste plus de place dans cette session de formation.")
            person = await self.partners.person(data.beneficiary_id)
            if person is None:
                raise NotFound("Personne introuvable.")
            funder = training.funder
            if not await self.partners.consented(person.id, funder):
                raise ConsentMissing(
                    f"La personne n'a pas donné son accord pour partager ses informations avec "
                    f"{PARTNER_NAMES[funder]} : rien n'a été demandé. Enregistrez son accord, "
                    "recueilli en entretien ou sur papier, ou elle le donne depuis son espace "
                    "(« Partage de mes données »).",
                    beneficiary_id=person.id,
                    partner=funder,
                )
            if not person.nir:
                raise PersonIncomplete(
                    "Le numéro de sécurité sociale de la personne est inconnu : "
                    f"{PARTNER_NAMES[funder]} ne pourrait pas l'identifier. Il doit figurer "
                    "dans son dossier avant une demande de formation."
                )
            if await self.repo.active_request(person.id, training.id):
                raise Conflict(
                    "Une demande pour cette formation est déjà en cours pour cette personne."
                )
            territory, referent_id = journey.territory, journey.referent_id
            structure_id = journey.structure_id
        request_id = new_id()
        await JourneyService(self.session, self.temporal, self.settings).act(
            person.id,
            RequestTrainingInput(request_id=request_id, training_id=training.id, funder=funder),
            p,
        )
        record = TrainingRequestRecord(
            id=request_id,
            beneficiary_id=person.id,
            training_id=training.id,
            funder=funder,
            territory=territory,
            workflow_id=training_request_workflow_id(request_id),
            status=TrainingStatus.SUBMITTED.value,
            seq=0,
            requested_by=p.id,
            referent_id=referent_id,
            structure_id=structure_id,
            requested_amount=data.requested_amount,
            requested_at=utcnow(),
            updated_at=utcnow(),
        )
        self.repo.add(record)
        await self.session.flush()
        if data.message:
            self._message(record, "request", data.message)
        log_access(self.session, p, person.id, "update", "training_request.create")
        await self.session.flush()
        return (await self._reads([record]))[0]

    async def _readable(self, request_id: str) -> TrainingRequestRecord:
        p = self._signed_in()
        record = await self.repo.get(request_id)
        journey = await self.journeys.get(record.beneficiary_id) if record else None
        if record is None or journey is None or not can_read(p, journey):
            raise NotFound("Demande de formation introuvable.")
        return record

    async def _writable(
        self, request_id: str, beneficiary_id: str | None = None
    ) -> TrainingRequestRecord:
        """The request, for a référent of the person (``beneficiary_id``: the carnet the
        caller is on, which must be the request's)."""
        record = await self._readable(request_id)
        if beneficiary_id is not None and record.beneficiary_id != beneficiary_id:
            raise NotFound("Demande de formation introuvable.")
        journey = await self.journeys.get(record.beneficiary_id)
        assert journey is not None
        if not can_write_carnet(self._signed_in(), journey):
            raise Forbidden("Seul·e un·e référent·e de la personne peut agir sur cette demande.")
        return record

    async def for_person(
        self, beneficiary_id: str, *, log: bool = True
    ) -> list[TrainingRequestRead]:
        p = self._signed_in()
        found, handovers = await self.journeys.with_handovers(beneficiary_id)
        ensure_read(p, found, handovers, utcnow())
        records = list(await self.repo.for_person(beneficiary_id))
        if log:
            log_access(self.session, p, beneficiary_id, "read", "training_requests")
        return await self._reads(records)

    async def read(self, request_id: str) -> TrainingRequestRead:
        record = await self._readable(request_id)
        log_access(self.session, self.principal, record.beneficiary_id, "read", "training_request")
        return (await self._reads([record]))[0]

    async def list(
        self,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> TrainingRequestPage:
        """Requests about the people the caller follows (managers: their territory's), the
        stalled first; ``status`` may be "en-retard"."""
        p = self._signed_in()
        statuses, stalled = statuses_of(status)
        records, total = await self.repo.visible(
            visible_journeys(p),
            statuses=statuses,
            stalled=stalled,
            limit=limit,
            offset=offset,
        )
        for beneficiary_id in {r.beneficiary_id for r in records}:
            log_access(self.session, p, beneficiary_id, "read", "training_requests")
        return TrainingRequestPage(
            items=await self._reads(list(records)), total=total, limit=limit, offset=offset
        )

    async def answer(
        self, request_id: str, data: AnswerCreate, *, beneficiary_id: str | None = None
    ) -> TrainingRequestRead:
        """Answer the funder's question: the request waits for its decision again."""
        with self.session.no_autoflush:
            record = await self._writable(request_id, beneficiary_id)
        await self._update(record, "answer_more_info", AnswerMoreInfoInput(actor_id=self._me))
        self._message(record, "answer", data.answer)
        log_access(
            self.session, self.principal, record.beneficiary_id, "update", "training_request.answer"
        )
        await self.session.flush()
        return (await self._reads([record]))[0]

    async def end(
        self, request_id: str, data: TrainingEndCreate, *, beneficiary_id: str | None = None
    ) -> TrainingRequestRead:
        """Record the end of the training (completed or left): its plan action follows."""
        with self.session.no_autoflush:
            record = await self._writable(request_id, beneficiary_id)
        if data.ended_on and record.start_date and data.ended_on < record.start_date:
            raise Conflict("La fin de la formation ne peut pas précéder son début.")
        await self._update(
            record,
            "end_training",
            EndTrainingInput(actor_id=self._me, ended_on=data.ended_on, completed=data.completed),
        )
        log_access(
            self.session, self.principal, record.beneficiary_id, "update", "training_request.end"
        )
        return (await self._reads([record]))[0]

    @property
    def _me(self) -> str:
        return self._signed_in().id


@dataclass(frozen=True)
class FunderQuery:
    status: str | None = None
    age: str | None = None
    territory: str | None = None


class FunderConsoleService(_Requests):
    """The funders' console: their body's requests only, the person's data only if shared."""

    async def body(self) -> str:
        """The funder the caller works for: "region" or "france_travail"."""
        p = self._signed_in()
        if p.role is not Role.FUNDER:
            raise Forbidden("La console des financeurs est réservée aux financeurs.")
        structure = await self.people.structure(p.structure_id) if p.structure_id else None
        if structure is None or structure.kind not in FUNDER_BODIES:
            raise Forbidden(
                "Votre compte de financeur n'est rattaché ni à la Région ni à France Travail : "
                "demandez à un administrateur de le rattacher à votre organisme."
            )
        return structure.kind

    async def territories(self) -> list[str]:
        return await self.repo.territories(await self.body())

    async def list(self, query: FunderQuery, limit: int = 25, offset: int = 0) -> FunderRequestPage:
        funder = await self.body()
        now = utcnow()
        statuses, stalled = statuses_of(query.status)
        after, before = age_bounds(query.age, now)
        rows, total = await self.repo.for_funder(
            FunderFilter(
                funder=funder,
                statuses=statuses,
                stalled=stalled,
                requested_after=after,
                requested_before=before,
                territory=query.territory or None,
            ),
            limit=limit,
            offset=offset,
        )
        for row in rows:
            if row.consented:
                log_access(
                    self.session, self.principal, row.request.beneficiary_id, "read", "funder.list"
                )
        return FunderRequestPage(
            funder=funder,
            funder_label=funder_label(funder),
            items=[self._summary(row, now) for row in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    @staticmethod
    def _summary(row: FunderRow, now: datetime) -> FunderRequestSummary:
        r = row.request
        status = TrainingStatus(r.status)
        return FunderRequestSummary(
            id=r.id,
            person=_person(row.person) if row.consented else None,
            birth_date=row.person.birth_date if row.consented and row.person else None,
            consented=row.consented,
            training_title=row.training.title if row.training else None,
            territory=r.territory,
            status=status,
            status_label=STATUS_LABELS[status],
            stalled=r.stalled_since is not None,
            requested_at=r.requested_at,
            age_days=max(0, (now - r.requested_at).days),
            deadline=r.deadline,
            requested_amount=r.requested_amount,
        )

    async def _addressed(self, request_id: str) -> TrainingRequestRecord:
        """The request, if it is addressed to the caller's body; else "introuvable"."""
        funder = await self.body()
        record = await self.repo.get(request_id)
        if record is None or record.funder != funder:
            raise NotFound("Demande de formation introuvable.")
        return record

    async def read(self, request_id: str) -> FunderRequestRead:
        record = await self._addressed(request_id)
        log_access(
            self.session, self.principal, record.beneficiary_id, "read", "funder.training_request"
        )
        return await self._funder_read(record)

    async def _funder_read(self, record: TrainingRequestRecord) -> FunderRequestRead:
        consented = await self.partners.consented(record.beneficiary_id, record.funder)
        named = {record.beneficiary_id} if consented else set()
        base = (await self._reads([record], named=named))[0]
        shared = await self._shared(record) if consented else None
        structure = (
            await self.people.structure(record.structure_id) if record.structure_id else None
        )
        return FunderRequestRead(
            **base.model_dump(),
            consented=consented,
            shared=shared,
            structure=PersonRef(id=structure.id, label=structure.name) if structure else None,
        )

    async def _shared(self, record: TrainingRequestRecord) -> SharedPerson | None:
        person = await self.partners.person(record.beneficiary_id)
        if person is None:
            return None
        project = await self.repo.project_of(person.id)
        facts = await self.repo.current_facts(person.id, SHARED_THEMES)
        return SharedPerson(
            first_name=person.first_name,
            last_name=person.last_name,
            birth_date=person.birth_date,
            email=person.email,
            phone=person.phone,
            postal_code=person.postal_code,
            city=person.city,
            france_travail_id=person.france_travail_id
            if record.funder == Funder.FRANCE_TRAVAIL.value
            else None,
            project=f"{project.label} (code ROME {project.rome_code})" if project else None,
            facts=[
                SharedFact(
                    theme_label=THEME_LABELS.get(Theme(f.theme), f.theme),
                    label=f.label,
                    value=f.value,
                    source_label=SOURCE_LABELS.get(Source(f.source), f.source),
                )
                for f in facts
            ],
        )

    async def _decide(
        self, request_id: str, name: str, action: TrainingRequestAction, what: str
    ) -> TrainingRequestRecord:
        with self.session.no_autoflush:
            record = await self._addressed(request_id)
        await self._update(record, name, action)
        log_access(self.session, self.principal, record.beneficiary_id, "update", what)
        return record

    async def ask_more_info(self, request_id: str, data: MoreInfoCreate) -> FunderRequestRead:
        me = self._signed_in().id
        record = await self._decide(
            request_id, "ask_more_info", AskMoreInfoInput(actor_id=me), "funder.more_info"
        )
        self._message(record, "question", data.question)
        await self.session.flush()
        return await self._funder_read(record)

    async def approve(self, request_id: str, data: ApprovalCreate) -> FunderRequestRead:
        reference = data.reference
        if reference is None:
            # The funder's system gave its reference when it received the request.
            with self.session.no_autoflush:
                reference = (await self._addressed(request_id)).funder_reference
        if not reference:
            raise InvalidReference(
                "Votre référence : indiquez le numéro de dossier de votre système (il ne l'a "
                "pas encore transmis à Parcours)."
            )
        action = ApproveTrainingInput(
            actor_id=self._signed_in().id,
            start_date=data.start_date,
            amount=data.amount,
            funder_reference=reference,
        )
        record = await self._decide(request_id, "approve", action, "funder.approval")
        return await self._funder_read(record)

    async def refuse(self, request_id: str, data: RefusalCreate) -> FunderRequestRead:
        me = self._signed_in().id
        record = await self._decide(
            request_id, "refuse", RefuseTrainingInput(actor_id=me), "funder.refusal"
        )
        self._message(record, "refusal", data.reason)
        await self.session.flush()
        return await self._funder_read(record)


# --- The funder's own system: a signed callback (``parcours.partners.callbacks``) ---


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01")) if value not in (None, "") else None
    except InvalidOperation:
        return None


async def apply_funder_decision(
    session: AsyncSession, temporal: Client, settings: Settings, event: PartnerEvent
) -> str | None:
    """Apply a funder's decision received by callback (``subject_id``: the request). None when
    the request took it; otherwise why it did not, in French, for the funder's receipt (unknown
    request, another funder's, unreadable, already decided, withdrawn because the person's
    journey closed — logged). The workflow is only asked to accept it: this request holds the
    callback's row until it commits, and the workflow's activity writes to the same database."""
    requests = _Requests(session, temporal, settings, None)
    record = await requests.repo.get(event.subject_id or "")
    context = {"callback_id": event.callback_id, "request_id": event.subject_id}
    if record is None:
        log.info("training decision for an unknown request", extra=context)
        return "Demande de formation inconnue : décision non appliquée."
    if record.funder != event.partner:
        log.warning("training decision from another funder: ignored", extra=context)
        return "Cette demande n'est pas adressée à ce financeur : décision non appliquée."
    # About this person from now on: erased with them.
    event.beneficiary_id = record.beneficiary_id
    if record.status == TrainingStatus.WITHDRAWN.value:
        log.info("training decision after the request was withdrawn: ignored", extra=context)
        return f"Décision non appliquée. {WITHDRAWN_REFUSAL}"
    body = event.body
    name: Literal["approve", "refuse"]
    reason = str(body.get("reason") or "").strip()
    action: TrainingRequestAction
    if body.get("decision") == "approved":
        training = await requests.repo.training(record.training_id)
        start = _day(body.get("start_date")) or (training.start_on if training else None)
        amount = _amount(body.get("amount"))
        if amount is None:
            amount = record.requested_amount or Decimal("0.00")
        reference = event.reference or record.funder_reference
        if start is None or not reference:
            log.warning("training approval without a start date or a reference", extra=context)
            return "Accord sans date de début ou sans référence : décision non appliquée."
        name, action = (
            "approve",
            ApproveTrainingInput(
                source="partner", start_date=start, amount=amount, funder_reference=reference
            ),
        )
    elif body.get("decision") == "refused" and reason:
        name, action = "refuse", RefuseTrainingInput(source="partner")
    else:
        log.warning("unreadable training decision (or a refusal without reason)", extra=context)
        return "Décision illisible (ou refus sans motif) : décision non appliquée."
    handle = temporal.get_workflow_handle(record.workflow_id)
    try:
        # An engine down is a 503: the partner sends it again, nothing of it is committed.
        await send_update(
            handle, name, action, result_type=TrainingRequestState, gone=REQUEST_CLOSED
        )
    except Conflict as refused:
        # Its validator's reason: already decided, or withdrawn meanwhile.
        log.info("training decision not applied", extra={**context, "reason": refused.message})
        return f"Décision non appliquée. {refused.message}"
    if name == "refuse":
        requests._message(record, "refusal", reason)
    log_access(session, None, record.beneficiary_id, "update", "partner.training_decision")
    return None
