"""The carnet de bord: read it (logged), complete it, and the person's own rights.

Every read and change goes to the access log in the same transaction. Changes that move the
journey (a diagnosis, a contract, the follow-up choice) run the journey's update too; if the
journey refuses, the whole change is refused and nothing is written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from parcours.access.models import User
from parcours.access.read_log import log_read
from parcours.access.repository import AccountRepository, log_access
from parcours.access.rules import (
    Principal,
    Role,
    can_write_carnet,
    ensure_read,
    ensure_write,
    reading_after_handoff,
)
from parcours.access.service import AccountService
from parcours.appointments.models import Appointment
from parcours.appointments.schemas import NOTED, status_label
from parcours.appointments.service import BOOKING_PATH, link_token
from parcours.carnet.models import (
    Beneficiary,
    Consent,
    Diagnosis,
    Document,
    EngagementContract,
    ErasureRequest,
    Note,
    PlanAction,
    ProfessionalProject,
    SituationFact,
)
from parcours.carnet.repository import CarnetRepository
from parcours.carnet.schemas import (
    CONSENT_METHOD_LABELS,
    CONSENT_STATE_LABELS,
    CONTRACT_KIND_LABELS,
    DOCUMENT_TYPES,
    PARTNER_LABELS,
    PARTNER_TITLES,
    PLAN_STATUS_LABELS,
    SOURCE_LABELS,
    THEME_LABELS,
    UNKNOWN_METHOD_LABEL,
    AppointmentCreate,
    AppointmentRead,
    AppointmentUpdate,
    CarnetRead,
    CarnetTimelineEntry,
    ConsentMethod,
    ConsentRead,
    ConsentRecord,
    ConsentState,
    ConsentUpdate,
    ContactUpdate,
    ContractCreate,
    ContractKind,
    ContractRead,
    DiagnosisCreate,
    DiagnosisRead,
    DocumentRead,
    DocumentUpload,
    FactCreate,
    FactRead,
    NoteCreate,
    NoteRead,
    Partner,
    PendingErasure,
    PlanActionCreate,
    PlanActionRead,
    PlanActionUpdate,
    PlanStatus,
    ProjectRead,
    ProjectUpdate,
    Source,
    Theme,
    change_label,
    consent_change,
)
from parcours.core.db import mark_erasure, new_id, utcnow
from parcours.core.errors import Conflict, Forbidden, InvalidReference, NotFound
from parcours.core.mail import Mail
from parcours.core.outbox import enqueue
from parcours.core.schemas import PersonRef, person_name
from parcours.core.settings import Settings
from parcours.inbox.service import InboxProducer
from parcours.journey.messages import (
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    ExitReason,
    SetFollowUpConsentInput,
    SignContractInput,
    Step,
)
from parcours.journey.models import JourneyHandover, JourneyRecord
from parcours.journey.rules import event_actor
from parcours.journey.schemas import STEP_LABELS, BeneficiaryRead, event_label
from parcours.journey.service import JourneyService, journey_read
from parcours.management.repository import InterventionRepository
from parcours.management.schemas import INTERVENTION_LABELS, InterventionKind
from parcours.orientations.repository import ServiceOrientationRepository
from parcours.partners.repository import PartnerRepository
from parcours.reorientation.repository import ReorientationRepository
from parcours.training_requests.repository import TrainingRequestRepository

ERASED_NAME = "Personne effacée"


class CarnetService:
    def __init__(
        self, session: AsyncSession, temporal: Client, settings: Settings, principal: Principal
    ) -> None:
        self.session = session
        self.settings = settings
        self.principal = principal
        self.repo = CarnetRepository(session)
        self.journeys = JourneyService(session, temporal, settings)

    def _booking_link(self, appointment: Appointment) -> str | None:
        """The person's own booking link, in her own space, while it books or changes."""
        if (
            self.principal.role is not Role.BENEFICIARY
            or appointment.mode != "invitation"
            or appointment.status not in ("invited", "booked")
        ):
            return None
        return BOOKING_PATH + link_token(self.settings.secret_key, appointment.id)

    # --- Access ---

    async def _judged(
        self, beneficiary_id: str
    ) -> tuple[JourneyRecord | None, Sequence[JourneyHandover], datetime]:
        """What the access rules judge by: the person's journey, its hand-offs (its former
        follow-up group reads it for a while), and now."""
        journey, handovers = await self.journeys.journeys.with_handovers(beneficiary_id)
        return journey, handovers, utcnow()

    async def _readable(self, beneficiary_id: str, what: str) -> JourneyRecord:
        journey = ensure_read(self.principal, *await self._judged(beneficiary_id))
        log_read(self.session, self.principal, beneficiary_id, what)
        return journey

    async def _writable(self, beneficiary_id: str, what: str) -> JourneyRecord:
        """Check the right to write, and log the change (written with it, at flush)."""
        journey = ensure_write(self.principal, *await self._judged(beneficiary_id))
        self._changed(beneficiary_id, what)
        return journey

    def _changed(self, beneficiary_id: str, what: str) -> None:
        log_access(self.session, self.principal, beneficiary_id, "update", what)

    async def _writable_then_journey(self, beneficiary_id: str) -> JourneyRecord:
        """For changes that also move the journey: check only, write nothing yet.

        The journey's update runs first and its activity writes the read model; on SQLite a
        write lock held by this request would block that activity, so this request writes
        its own rows only once the journey has accepted.
        """
        return ensure_write(self.principal, *await self._judged(beneficiary_id))

    async def _person(self, beneficiary_id: str) -> Beneficiary:
        person = await self.journeys.people.beneficiary(beneficiary_id)
        if person is None:
            raise NotFound("Personne introuvable.")
        return person

    def _own(self, beneficiary_id: str) -> None:
        """The person's own rights are theirs alone (their référent can act on request)."""
        if (
            self.principal.role is Role.BENEFICIARY
            and self.principal.beneficiary_id != beneficiary_id
        ):
            raise NotFound("Personne introuvable.")

    # --- Reading ---

    async def read(self, beneficiary_id: str, what: str = "carnet") -> CarnetRead:
        found, handovers, now = await self._judged(beneficiary_id)
        journey = ensure_read(self.principal, found, handovers, now)
        log_access(self.session, self.principal, beneficiary_id, "read", what)
        handed_off = reading_after_handoff(self.principal, journey, handovers, now)
        person = await self._person(beneficiary_id)
        repo = self.repo
        facts = await repo.current_facts(beneficiary_id)
        diagnosis = await repo.latest_diagnosis(beneficiary_id)
        project = await repo.project(beneficiary_id)
        contract = await repo.latest_contract(beneficiary_id)
        plan = await repo.plan(beneficiary_id)
        notes = await repo.notes(beneficiary_id) if self.principal.is_professional else []
        appointments = await repo.appointments(beneficiary_id)
        documents = await repo.documents(beneficiary_id)
        consents = await repo.consents(beneficiary_id)
        changes = await repo.changes(beneficiary_id)
        # What managers did (reminders, escalations, notes, retries): for professionals.
        interventions = (
            await InterventionRepository(self.session).of_journey(beneficiary_id)
            if self.principal.is_professional
            else []
        )
        events = await self.journeys.journeys.events(journey)
        # The person's earlier journeys stay readable in the history (a new journey starts
        # when RSA rights open again after a closure).
        earlier = await self.journeys.journeys.earlier_events(journey)
        people_ids = {
            i
            for i in (
                *(f.recorded_by for f in facts),
                *(n.author_id for n in notes),
                *(d.uploaded_by for d in documents),
                *(c.changed_by for c in consents.values()),
                *(c.user_id for c in changes),
                *(i.actor_id for i in interventions),
                *(e.actor_id for e in (*events, *earlier)),
                diagnosis.recorded_by if diagnosis else None,
                journey.referent_id,
            )
            if i
        }
        users = await self.journeys.people.users(people_ids)
        structure = (
            await self.journeys.people.structure(journey.structure_id)
            if journey.structure_id
            else None
        )

        def ref(user_id: str | None) -> PersonRef | None:
            user = users.get(user_id) if user_id else None
            return PersonRef(id=user.id, label=user.full_name) if user else None

        timeline = (
            [
                CarnetTimelineEntry(
                    at=e.occurred_at,
                    label=_label(e.kind, ref(event_actor(e.kind, e.actor_id))),
                    origin="journey",
                    by=ref(event_actor(e.kind, e.actor_id)),
                    detail=e.detail,
                )
                for e in events
            ]
            + [
                CarnetTimelineEntry(
                    at=e.occurred_at,
                    label=f"{_label(e.kind, ref(event_actor(e.kind, e.actor_id)))} "
                    "(parcours précédent)",
                    origin="earlier_journey",
                    by=ref(event_actor(e.kind, e.actor_id)),
                    detail=e.detail,
                )
                for e in earlier
            ]
            + [
                CarnetTimelineEntry(
                    at=c.at,
                    label=change_label(c.what),
                    origin="carnet",
                    by=ref(c.user_id),
                )
                for c in changes
            ]
        )
        timeline += [
            CarnetTimelineEntry(
                at=i.created_at,
                label=INTERVENTION_LABELS[InterventionKind(i.kind)],
                origin="management",
                by=ref(i.actor_id),
            )
            for i in interventions
        ]
        timeline.sort(key=lambda entry: entry.at, reverse=True)
        active_plan = [a for a in plan if a.status in (PlanStatus.PLANNED, PlanStatus.IN_PROGRESS)]
        return CarnetRead(
            beneficiary=BeneficiaryRead.model_validate(person),
            journey=journey_read(journey),
            referent=ref(journey.referent_id),
            structure=PersonRef(id=structure.id, label=structure.name) if structure else None,
            can_write=can_write_carnet(self.principal, journey),
            handed_off=await self.journeys.handover_read(handed_off) if handed_off else None,
            facts=[
                FactRead(
                    id=f.id,
                    theme=f.theme,
                    theme_label=THEME_LABELS[Theme(f.theme)],
                    label=f.label,
                    value=f.value,
                    source=f.source,
                    source_label=SOURCE_LABELS[Source(f.source)],
                    recorded_at=f.recorded_at,
                    recorded_by=ref(f.recorded_by),
                )
                for f in facts
            ],
            diagnosis=DiagnosisRead(
                summary=diagnosis.summary,
                strengths=diagnosis.strengths,
                obstacles=diagnosis.obstacles,
                obstacle_labels=[THEME_LABELS[Theme(t)] for t in diagnosis.obstacles],
                recorded_at=diagnosis.recorded_at,
                recorded_by=ref(diagnosis.recorded_by),
            )
            if diagnosis
            else None,
            project=ProjectRead(
                rome_code=project.rome_code, label=project.label, updated_at=project.updated_at
            )
            if project
            else None,
            contract=ContractRead(
                id=contract.id,
                kind=contract.kind,
                kind_label=CONTRACT_KIND_LABELS[ContractKind(contract.kind)],
                signed_on=contract.signed_on,
                ends_on=contract.ends_on,
                weekly_hours=contract.weekly_hours,
            )
            if contract
            else None,
            plan=[
                PlanActionRead(
                    id=a.id,
                    theme=a.theme,
                    theme_label=THEME_LABELS[Theme(a.theme)],
                    objective=a.objective,
                    action=a.action,
                    status=a.status,
                    status_label=PLAN_STATUS_LABELS[PlanStatus(a.status)],
                    weekly_hours=a.weekly_hours,
                    updated_at=a.updated_at,
                )
                for a in plan
            ],
            plan_weekly_hours=sum(a.weekly_hours or 0 for a in active_plan),
            notes=[
                NoteRead(id=n.id, body=n.body, author=ref(n.author_id), created_at=n.created_at)
                for n in notes
            ],
            appointments=[
                AppointmentRead(
                    id=a.id,
                    starts_at=a.starts_at,
                    place=a.place,
                    purpose=a.purpose,
                    status=a.status,
                    status_label=status_label(a.status),
                    mode=a.mode,
                    link=self._booking_link(a),
                )
                for a in appointments
            ],
            documents=[
                DocumentRead(
                    id=d.id,
                    filename=d.filename,
                    content_type=d.content_type,
                    size=d.size,
                    uploaded_at=d.uploaded_at,
                    uploaded_by=ref(d.uploaded_by),
                )
                for d in documents
            ],
            consents=consent_reads(consents, ref),
            follow_up_wish=person.follow_up_wish,
            timeline=timeline,
        )

    async def document(self, beneficiary_id: str, document_id: str) -> Document:
        await self._readable(beneficiary_id, "carnet.document")
        document = await self.repo.document(beneficiary_id, document_id)
        if document is None:
            raise NotFound("Document introuvable.")
        return document

    # --- Professionals complete the carnet ---

    async def add_fact(self, beneficiary_id: str, data: FactCreate) -> None:
        await self._writable(beneficiary_id, "carnet.fact")
        await self.repo.supersede_fact(beneficiary_id, data.theme, data.label)
        self.repo.add(
            SituationFact(
                beneficiary_id=beneficiary_id,
                theme=data.theme.value,
                label=data.label,
                value=data.value,
                source=Source.PROFESSIONAL.value,
                recorded_by=self.principal.id,
            )
        )

    async def record_diagnosis(self, beneficiary_id: str, data: DiagnosisCreate) -> None:
        """Save the diagnosis; a journey waiting for it moves on to orientation."""
        journey = await self._writable_then_journey(beneficiary_id)
        if journey.step == Step.INTAKE:
            await self.journeys.act(beneficiary_id, BeginDiagnosisInput(), self.principal)
        if journey.step in (Step.INTAKE, Step.DIAGNOSIS):
            await self.journeys.act(beneficiary_id, CompleteDiagnosisInput(), self.principal)
        self.repo.add(
            Diagnosis(
                beneficiary_id=beneficiary_id,
                summary=data.summary,
                strengths=data.strengths,
                obstacles=[t.value for t in data.obstacles],
                recorded_by=self.principal.id,
            )
        )
        self._changed(beneficiary_id, "carnet.diagnosis")

    async def set_project(self, beneficiary_id: str, data: ProjectUpdate) -> None:
        await self._writable(beneficiary_id, "carnet.project")
        project = await self.repo.project(beneficiary_id)
        if project is None:
            self.repo.add(
                ProfessionalProject(
                    beneficiary_id=beneficiary_id,
                    rome_code=data.rome_code,
                    label=data.label,
                    updated_by=self.principal.id,
                )
            )
        else:
            project.rome_code, project.label = data.rome_code, data.label
            project.updated_by, project.updated_at = self.principal.id, utcnow()

    async def sign_contract(self, beneficiary_id: str, data: ContractCreate) -> None:
        """The contract lands in the carnet and in the journey, or in neither."""
        await self._writable_then_journey(beneficiary_id)
        await self.journeys.act(
            beneficiary_id,
            SignContractInput(
                signed_on=data.signed_on, ends_on=data.ends_on, weekly_hours=data.weekly_hours
            ),
            self.principal,
        )
        self.repo.add(
            EngagementContract(
                beneficiary_id=beneficiary_id,
                kind=data.kind.value,
                signed_on=data.signed_on,
                ends_on=data.ends_on,
                weekly_hours=data.weekly_hours,
                recorded_by=self.principal.id,
            )
        )
        self._changed(beneficiary_id, "carnet.contract")

    async def add_plan_action(self, beneficiary_id: str, data: PlanActionCreate) -> str:
        await self._writable(beneficiary_id, "carnet.plan_action")
        action = PlanAction(
            beneficiary_id=beneficiary_id,
            theme=data.theme.value,
            objective=data.objective,
            action=data.action,
            weekly_hours=data.weekly_hours,
            updated_by=self.principal.id,
        )
        self.repo.add(action)
        await self.session.flush()
        return action.id

    async def set_plan_status(
        self, beneficiary_id: str, action_id: str, data: PlanActionUpdate
    ) -> None:
        await self._writable(beneficiary_id, "carnet.plan_status")
        action = await self.repo.plan_action(beneficiary_id, action_id)
        if action is None:
            raise NotFound("Action du plan introuvable.")
        action.status, action.updated_by, action.updated_at = (
            data.status.value,
            self.principal.id,
            utcnow(),
        )

    async def add_note(self, beneficiary_id: str, data: NoteCreate) -> None:
        await self._writable(beneficiary_id, "carnet.note")
        self.repo.add(
            Note(beneficiary_id=beneficiary_id, author_id=self.principal.id, body=data.body)
        )

    async def add_appointment(self, beneficiary_id: str, data: AppointmentCreate) -> None:
        await self._writable(beneficiary_id, "carnet.appointment")
        self.repo.add(
            Appointment(
                beneficiary_id=beneficiary_id,
                starts_at=data.starts_at,
                place=data.place,
                purpose=data.purpose,
                with_user_id=self.principal.id,
                created_by=self.principal.id,
            )
        )

    async def set_appointment_status(
        self, beneficiary_id: str, appointment_id: str, data: AppointmentUpdate
    ) -> None:
        await self._writable(beneficiary_id, "carnet.appointment_status")
        appointment = await self.repo.appointment(beneficiary_id, appointment_id)
        if appointment is None:
            raise NotFound("Rendez-vous introuvable.")
        if appointment.mode != NOTED:
            raise Conflict(
                "Ce rendez-vous suit son invitation ou sa convocation : sa présence "
                "s'enregistre depuis l'agenda des rendez-vous."
            )
        appointment.status = data.status.value

    async def add_document(
        self, beneficiary_id: str, filename: str, content_type: str, data: bytes
    ) -> str:
        """Attach a file to the carnet; returns its id."""
        await self._writable(beneficiary_id, "carnet.document")
        if len(data) == 0:
            raise InvalidReference("Le fichier est vide.")
        if len(data) > self.settings.max_document_bytes:
            limit = self.settings.max_document_bytes // (1024 * 1024)
            raise InvalidReference(f"Le fichier dépasse la taille maximale ({limit} Mo).")
        detected = next((t for t, magic in DOCUMENT_TYPES.items() if data.startswith(magic)), None)
        if detected is None:
            raise InvalidReference("Seuls les fichiers PDF, PNG et JPEG sont acceptés.")
        document = Document(
            id=new_id(),
            beneficiary_id=beneficiary_id,
            filename=safe_filename(filename),
            content_type=detected,
            size=len(data),
            data=data,
            uploaded_by=self.principal.id,
        )
        self.repo.add(document)
        return document.id

    # --- Consents: the person's in her space, the référent's collected in person or on paper ---

    async def consents(self, beneficiary_id: str) -> list[ConsentRead]:
        """Each partner's consent as the carnet's header shows it (the page logs its reading)."""
        ensure_read(self.principal, *await self._judged(beneficiary_id))
        consents = await self.repo.consents(beneficiary_id)
        users = await self.journeys.people.users(
            {c.changed_by for c in consents.values() if c.changed_by}
        )

        def ref(user_id: str | None) -> PersonRef | None:
            user = users.get(user_id) if user_id else None
            return PersonRef(id=user.id, label=user.full_name) if user else None

        return consent_reads(consents, ref)

    async def can_write(self, beneficiary_id: str) -> bool:
        """Whether the caller may complete this carnet (record a consent, among others)."""
        journey = await self.journeys.journeys.get(beneficiary_id)
        return journey is not None and can_write_carnet(self.principal, journey)

    async def record_consent(
        self, beneficiary_id: str, data: ConsentRecord, document: DocumentUpload | None = None
    ) -> None:
        """The référent records a consent the person gave (or withdrew) in an interview or on
        a signed form; on paper, the form is attached to the carnet's documents."""
        ensure_write(self.principal, *await self._judged(beneficiary_id))
        if data.method is ConsentMethod.SELF_SERVICE:
            raise InvalidReference(
                "Seule la personne donne ou retire son accord depuis son espace : indiquez s'il "
                "a été recueilli en entretien ou sur papier."
            )
        if data.method is ConsentMethod.PAPER and document is None:
            raise InvalidReference(
                "Joignez le formulaire signé par la personne (PDF, PNG ou JPEG) : c'est la "
                "preuve de son accord sur papier."
            )
        document_id = (
            await self.add_document(
                beneficiary_id, document.filename, document.content_type, document.data
            )
            if document
            else None
        )
        await self._write_consent(
            beneficiary_id, data.partner, data.granted, data.method, document_id
        )

    async def _write_consent(
        self,
        beneficiary_id: str,
        partner: Partner,
        granted: bool,
        method: ConsentMethod,
        document_id: str | None,
    ) -> None:
        """The partner's consent as it now stands; the change goes to the access log, which
        the carnet's history reads (``carnet.consent.<partner>.<state>.<method>``)."""
        self._changed(beneficiary_id, consent_change(partner, granted, method))
        current = (await self.repo.consents(beneficiary_id)).get(partner.value)
        if current is None:
            current = Consent(beneficiary_id=beneficiary_id, partner=partner.value)
            self.repo.add(current)
        current.granted, current.changed_at, current.changed_by = (
            granted,
            utcnow(),
            self.principal.id,
        )
        current.method, current.document_id = method.value, document_id

    # --- The person's own rights (also open to their référent) ---

    async def _self_or_writer(self, beneficiary_id: str) -> JourneyRecord:
        self._own(beneficiary_id)
        judged = await self._judged(beneficiary_id)
        if self.principal.role is Role.BENEFICIARY:
            return ensure_read(self.principal, *judged)
        return ensure_write(self.principal, *judged)

    async def update_contact(self, beneficiary_id: str, data: ContactUpdate) -> None:
        await self._self_or_writer(beneficiary_id)
        self._changed(beneficiary_id, "carnet.contact")
        person = await self._person(beneficiary_id)
        for field, value in data.model_dump(exclude_unset=True).items():
            setattr(person, field, value or None)

    async def set_consent(self, beneficiary_id: str, data: ConsentUpdate) -> None:
        """The person gives or withdraws her consent from her own space (her référent, through
        this call, records what she said in an interview)."""
        await self._self_or_writer(beneficiary_id)
        method = (
            ConsentMethod.SELF_SERVICE
            if self.principal.role is Role.BENEFICIARY
            else ConsentMethod.IN_PERSON
        )
        await self._write_consent(beneficiary_id, data.partner, data.granted, method, None)
        if self.principal.role is Role.BENEFICIARY:
            # The person changed it herself: her référent needs to know.
            journey = await self.journeys.journeys.get(beneficiary_id)
            if journey is not None:
                await InboxProducer(self.session, self.settings.public_app_url).on_consent_changed(
                    journey, data.partner.value, granted=data.granted, by=self.principal.id
                )

    async def consented(self, beneficiary_id: str, partner: Partner) -> bool:
        consents = await self.repo.consents(beneficiary_id)
        return bool(consents.get(partner.value) and consents[partner.value].granted)

    async def set_follow_up_wish(self, beneficiary_id: str, wish: bool) -> None:
        """Remembered for when the person finds work; told to the journey if they already have."""
        journey = await self._self_or_writer(beneficiary_id)
        in_follow_up = journey.step == Step.FOLLOW_UP
        if journey.step == Step.EMPLOYMENT or (in_follow_up and not wish):
            await self.journeys.act(
                beneficiary_id, SetFollowUpConsentInput(consent=wish), self.principal
            )
        person = await self._person(beneficiary_id)
        person.follow_up_wish = wish
        self._changed(beneficiary_id, "carnet.follow_up_wish")

    async def export(self, beneficiary_id: str) -> dict[str, Any]:
        """Everything Parcours holds about the person, as JSON (droit d'accès et portabilité)."""
        self._own(beneficiary_id)
        carnet = await self.read(beneficiary_id, "carnet.export")
        self._changed(beneficiary_id, "carnet.export")
        data = carnet.model_dump(mode="json", exclude={"can_write"})
        # The right of access covers what professionals wrote about the person too.
        data["notes"] = [
            {"body": n.body, "created_at": n.created_at.isoformat()}
            for n in await self.repo.notes(beneficiary_id)
        ]
        data["reorientations"] = [
            {
                "requested_at": r.requested_at.isoformat(),
                "reason_code": r.reason_code,
                "reason_text": r.reason_text,
                "status": r.status,
                "decision_text": r.decision_text,
            }
            for r in await ReorientationRepository(self.session).for_person(beneficiary_id)
        ]
        data["exported_at"] = utcnow().isoformat()
        return data

    async def pending_erasure(self, beneficiary_id: str) -> ErasureRequest | None:
        """The person's erasure request still waiting for an administrator, if any."""
        self._own(beneficiary_id)
        return await self.repo.pending_erasure(beneficiary_id)

    async def access_log(self, beneficiary_id: str) -> list[dict[str, Any]]:
        """Who read or changed this carnet, newest first (the reading is logged too, and
        shown: written with the request's transaction, before the log is read)."""
        ensure_read(self.principal, *await self._judged(beneficiary_id))
        log_access(self.session, self.principal, beneficiary_id, "read", "carnet.access_log")
        return [
            {"at": e.at.isoformat(), "user_id": e.user_id, "action": e.action, "what": e.what}
            for e in await self.repo.access_log(beneficiary_id)
        ]

    async def person_account(self, beneficiary_id: str) -> User | None:
        """The person's own sign-in account, if they have one (read with the carnet)."""
        return await AccountRepository(self.session).user_of_beneficiary(beneficiary_id)

    async def invite_person(self, beneficiary_id: str) -> tuple[User, str]:
        """The référent opens the person's own space: an account for their e-mail (created
        once) and a one-time link to choose a password. Returns the account and the link's
        token."""
        ensure_write(self.principal, *await self._judged(beneficiary_id))
        if self.principal.role is not Role.REFERENT:
            raise Forbidden("Seul·e le ou la référent·e crée l'accès de la personne à son espace.")
        person = await self._person(beneficiary_id)
        accounts = AccountService(self.session, self.settings)
        user = await accounts.accounts.user_of_beneficiary(beneficiary_id)
        if user is None:
            if not person.email:
                raise InvalidReference(
                    "Renseignez d'abord l'adresse électronique de la personne (coordonnées "
                    "ci-dessous) : elle s'en sert pour se connecter."
                )
            user = await accounts.create_user(
                email=person.email,
                full_name=person_name(person.first_name, person.last_name),
                role=Role.BENEFICIARY,
                territory=person.territory,
                beneficiary_id=beneficiary_id,
            )
        token = await accounts.invite(user)
        # Sent to the person: nobody needs to hand the link over.
        await enqueue(
            self.session, person_access_mail(user, self.access_link(token), self.settings)
        )
        log_access(self.session, self.principal, beneficiary_id, "invite", "account.invitation")
        return user, token

    def access_link(self, token: str) -> str:
        return f"{self.settings.public_app_url.rstrip('/')}/activation/{token}"

    async def request_erasure(self, beneficiary_id: str) -> None:
        await self._self_or_writer(beneficiary_id)
        self._changed(beneficiary_id, "carnet.erasure_request")
        if await self.repo.pending_erasure(beneficiary_id) is None:
            self.repo.add(ErasureRequest(beneficiary_id=beneficiary_id))


def _label(kind: str, by: PersonRef | None) -> str:
    return event_label(kind, by.label if by else None)


def consent_reads(
    consents: dict[str, Consent], ref: Callable[[str | None], PersonRef | None]
) -> list[ConsentRead]:
    """Every partner's consent, in the order the pages list them: given, withdrawn or not
    asked yet, with when, how and by whom."""
    found = []
    for partner in PARTNER_TITLES:
        consent = consents.get(partner.value)
        if consent is None:
            state = ConsentState.NOT_ASKED
        else:
            state = ConsentState.GIVEN if consent.granted else ConsentState.WITHDRAWN
        method = ConsentMethod(consent.method) if consent and consent.method else None
        found.append(
            ConsentRead(
                partner=partner,
                partner_label=PARTNER_LABELS[partner],
                partner_title=PARTNER_TITLES[partner],
                granted=state is ConsentState.GIVEN,
                state=state,
                state_label=CONSENT_STATE_LABELS[state],
                changed_at=consent.changed_at if consent else None,
                method=method,
                method_label=(CONSENT_METHOD_LABELS[method] if method else UNKNOWN_METHOD_LABEL)
                if consent
                else None,
                by=ref(consent.changed_by) if consent else None,
                document_id=consent.document_id if consent else None,
            )
        )
    return found


async def erase_person(
    session: AsyncSession, journeys: JourneyService, beneficiary_id: str, by: Principal | None
) -> None:
    """Anonymise a person: their identity is replaced, their carnet deleted, their account
    removed; the journey's read model keeps only ids and dates (no personal data there)."""
    person = await journeys.people.beneficiary(beneficiary_id)
    if person is None or person.anonymised_at is not None:
        return
    mark_erasure(session)
    journey = await journeys.journeys.get(beneficiary_id)
    if journey is not None and journey.step != Step.CLOSED:
        await journeys.act(beneficiary_id, CloseInput(exit_reason=ExitReason.OTHER), None)
    await CarnetRepository(session).erase_personal_rows(beneficiary_id)
    await PartnerRepository(session).erase_personal_rows(beneficiary_id)
    await TrainingRequestRepository(session).erase_personal_rows(beneficiary_id)
    await ServiceOrientationRepository(session).erase_personal_rows(beneficiary_id)
    await ReorientationRepository(session).erase_personal_rows(beneficiary_id)
    await InterventionRepository(session).erase_bodies(beneficiary_id)
    person.first_name, person.last_name = ERASED_NAME.split(" ", 1)
    person.birth_date = date(1900, 1, 1)
    for field in (
        "nir",
        "caf_number",
        "email",
        "phone",
        "address",
        "postal_code",
        "city",
        "france_travail_id",
        "household",
        "follow_up_wish",
    ):
        setattr(person, field, None)
    person.anonymised_at = utcnow()
    await journeys.people.delete_account_of(beneficiary_id)
    for request in await CarnetRepository(session).erasure_requests():
        if request.beneficiary_id == beneficiary_id:
            request.status, request.handled_at = "done", utcnow()
            request.handled_by = by.id if by else None
    log_access(session, by, beneficiary_id, "update", "carnet.erasure")


def person_access_mail(user: User, link: str, settings: Settings) -> Mail:
    """The person's own link to their space: their name and the link, nothing else."""
    return Mail(
        to=user.email,
        subject="Votre espace Parcours : choisissez votre mot de passe",
        body=(
            f"Bonjour {user.full_name},\n\n"
            "Votre référente ou votre référent vous a ouvert un espace sur Parcours : vous y "
            "lisez votre carnet, corrigez vos coordonnées et choisissez ce que vous partagez. "
            f"Pour choisir votre mot de passe, suivez ce lien (valable {settings.invitation_days} "
            f"jours, une seule fois) :\n\n{link}\n\n"
            "Si vous n'attendiez pas ce message, ignorez-le.\n"
        ),
    )


class ErasureService:
    """Administrators carry out the erasure requests of their département's people, one by
    one, after a confirmation."""

    def __init__(
        self, session: AsyncSession, temporal: Client, settings: Settings, principal: Principal
    ) -> None:
        if principal.role is not Role.ADMIN:
            raise Forbidden("Cette page est réservée aux administrateurs.")
        self.session = session
        self.principal = principal
        self.repo = CarnetRepository(session)
        self.journeys = JourneyService(session, temporal, settings)

    async def pending(self) -> list[PendingErasure]:
        """The pending requests of the administrator's département, oldest first."""
        found = []
        for request in await self.repo.erasure_requests():
            person = await self.journeys.people.beneficiary(request.beneficiary_id)
            if person is None or person.territory != self.principal.territory:
                continue
            journey = await self.journeys.journeys.get(request.beneficiary_id)
            found.append(
                PendingErasure(
                    request_id=request.id,
                    beneficiary_id=person.id,
                    full_name=person_name(person.first_name, person.last_name),
                    territory=person.territory,
                    step_label=STEP_LABELS[Step(journey.step)] if journey else "—",
                    requested_at=request.requested_at,
                )
            )
        return found

    async def one(self, request_id: str) -> PendingErasure:
        for pending in await self.pending():
            if pending.request_id == request_id:
                return pending
        raise NotFound("Demande d'effacement introuvable ou déjà traitée.")

    async def carry_out(self, request_id: str) -> None:
        pending = await self.one(request_id)
        await erase_person(self.session, self.journeys, pending.beneficiary_id, self.principal)


MAX_FILENAME = 200


def safe_filename(sent: str) -> str:
    """The name a document is kept under: the name the person typed, without the folders a
    browser or a forged request may send before it, without control characters (a newline
    or ``\\x01`` broke the download's headers), without leading dots, at most 200 characters
    with its extension kept; « document » when nothing is left."""
    name = sent.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = " ".join(name.split()).lstrip(". ")
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_FILENAME - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_FILENAME]
    return name or "document"
