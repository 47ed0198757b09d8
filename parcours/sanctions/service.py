"""Sanction cases (suspension-remobilisation, décret 2025-478): opened from the journey (the
``open_sanction`` update starts the ``SanctionCase`` child), each step a update of the case
with its validator (a refusal is a 409 with the rule in French); the notice printed into the
carnet and sent to the person; the person's and partners' data read from SQL for the
activities. Services never commit."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from parcours.access.rules import Principal, Role, ensure_read
from parcours.carnet.models import Beneficiary, Document
from parcours.core.db import new_id, utcnow
from parcours.core.errors import Forbidden, InvalidReference, NotFound, Unavailable
from parcours.core.mail import Mail
from parcours.core.outbox import enqueue
from parcours.core.settings import Settings
from parcours.core.temporal import engine_down, run_update
from parcours.journey.messages import OpenSanctionInput, journey_workflow_id
from parcours.journey.models import JourneyEventRecord
from parcours.journey.repository import JourneyRepository
from parcours.journey.service import JourneyService
from parcours.sanctions import rules
from parcours.sanctions.letters import SanctionNotice
from parcours.sanctions.messages import (
    CaseAction,
    DecideSanctionInput,
    RecordHearingInput,
    RecordReceiptInput,
    RecordTeamOpinionInput,
    RequestHearingInput,
    SanctionBounds,
    SanctionCaseState,
    SanctionNoticeInput,
    SendObservationsInput,
    sanction_case_workflow_id,
)
from parcours.sanctions.schemas import (
    DecisionCreate,
    HearingCreate,
    HearingRequestCreate,
    ObservationsCreate,
    ReceiptCreate,
    SanctionCaseRead,
    SanctionOpen,
    TeamOpinionCreate,
)
from parcours.sms.rules import mobile_or_none
from parcours.sms.service import enqueue_sms

GONE = "Ce dossier de sanction n'existe plus dans le moteur de workflows."

# Who may do what on a case (the journey's ``open_sanction`` is in ``ACTION_ROLES``).
CASE_ROLES: dict[str, frozenset[Role]] = {
    "record_receipt": frozenset({Role.REFERENT, Role.BENEFICIARY}),
    "send_observations": frozenset({Role.BENEFICIARY}),
    "request_hearing": frozenset({Role.BENEFICIARY}),
    "record_hearing": frozenset({Role.REFERENT}),
    "record_team_opinion": frozenset({Role.ORIENTATION, Role.MANAGER}),
    "decide": frozenset({Role.MANAGER, Role.ORIENTATION}),
}


def bounds_from(settings: Settings) -> SanctionBounds:
    return SanctionBounds(
        answer_days=settings.sanction_answer_days,
        first_min_percent=settings.sanction_first_min_percent,
        first_min_months=settings.sanction_first_min_months,
        first_max_months=settings.sanction_first_max_months,
        repeated_min_percent=settings.sanction_repeated_min_percent,
        repeated_max_percent=settings.sanction_repeated_max_percent,
        repeated_min_months=settings.sanction_repeated_min_months,
        repeated_max_months=settings.sanction_repeated_max_months,
        household_cap_percent=settings.sanction_household_cap_percent,
        repeat_window_months=settings.sanction_repeat_window_months,
    )


def case_read(state: SanctionCaseState, bounds: SanctionBounds, cap: int) -> SanctionCaseRead:
    ends = state.window_ends_on
    return SanctionCaseRead(
        case=state,
        breach_label=rules.BREACH_LABELS[state.breach.value],
        measure_label=rules.MEASURE_LABELS[state.measure.value] if state.measure else None,
        cap_percent=cap,
        bounds=rules.allowed(state, bounds, cap),
        window_ends_on=ends,
        decision_possible_from=ends + timedelta(days=1) if ends else None,
    )


class SanctionService:
    def __init__(
        self,
        session: AsyncSession,
        temporal: Client,
        settings: Settings,
        principal: Principal,
    ) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.principal = principal
        self.bounds = bounds_from(settings)

    async def open(self, beneficiary_id: str, data: SanctionOpen) -> SanctionCaseRead:
        """Open a case for a breach: the journey refuses (409) one already open, or an absence
        it has not recorded as unexcused. The caller commits."""
        case_id = new_id()
        await JourneyService(self.session, self.temporal, self.settings).act(
            beneficiary_id,
            OpenSanctionInput(
                case_id=case_id,
                breach=data.breach,
                appointment_id=data.appointment_id,
                bounds=self.bounds,
            ),
            self.principal,
        )
        # The case's workflow runs (the journey started it before answering); the journey's
        # timeline, which lists cases, hears of it a moment later.
        found = await self._read(beneficiary_id, case_id)
        if found is None:
            raise NotFound(GONE)
        return found

    async def cases(self, beneficiary_id: str) -> list[SanctionCaseRead]:
        """The person's cases, the latest first (each read from its workflow)."""
        await self._journey(beneficiary_id)
        ids = await self.session.scalars(
            select(JourneyEventRecord.detail)
            .where(
                JourneyEventRecord.beneficiary_id == beneficiary_id,
                JourneyEventRecord.kind == "sanction_opened",
            )
            .order_by(JourneyEventRecord.occurred_at.desc())
        )
        found = []
        for detail in ids.all():
            case_id = detail.get("case_id")
            if isinstance(case_id, str) and (read := await self._read(beneficiary_id, case_id)):
                found.append(read)
        return found

    async def cases_or_none(self, beneficiary_id: str) -> list[SanctionCaseRead] | None:
        """The cases for a page that shows more than them: None when the engine does not
        answer (the page says so), rather than no page at all."""
        try:
            return await self.cases(beneficiary_id)
        except Unavailable:
            return None

    async def read(self, beneficiary_id: str, case_id: str) -> SanctionCaseRead:
        await self._journey(beneficiary_id)
        if not await self.belongs(beneficiary_id, case_id):
            raise NotFound("Dossier de sanction introuvable.")
        found = await self._read(beneficiary_id, case_id)
        if found is None:
            raise NotFound(GONE)
        return found

    async def _read(self, beneficiary_id: str, case_id: str) -> SanctionCaseRead | None:
        """The case as its workflow holds it; None once the engine no longer keeps it."""
        handle = self.temporal.get_workflow_handle(sanction_case_workflow_id(case_id))
        try:
            state = await handle.query("current", result_type=SanctionCaseState)
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return None
            raise engine_down(error, "sanction case not read", case_id=case_id) from error
        return case_read(state, self.bounds, await self.cap(beneficiary_id))

    async def cap(self, beneficiary_id: str) -> int:
        person = await self.session.get(Beneficiary, beneficiary_id)
        return rules.household_cap(self.bounds, person.household if person else None)

    async def _journey(self, beneficiary_id: str) -> None:
        repo = JourneyRepository(self.session)
        journey, handovers = await repo.with_handovers(beneficiary_id)
        ensure_read(self.principal, journey, handovers, utcnow())

    async def _act(
        self, beneficiary_id: str, case_id: str, name: str, action: CaseAction
    ) -> SanctionCaseRead:
        with self.session.no_autoflush:
            repo = JourneyRepository(self.session)
            journey, handovers = await repo.with_handovers(beneficiary_id)
            ensure_read(self.principal, journey, handovers, utcnow())
            if self.principal.role not in CASE_ROLES[name]:
                raise Forbidden("Votre rôle ne permet pas cette étape de la procédure.")
            if not await self.belongs(beneficiary_id, case_id):
                raise NotFound("Dossier de sanction introuvable.")
            handle = self.temporal.get_workflow_handle(sanction_case_workflow_id(case_id))
            action = action.model_copy(update={"actor_id": self.principal.id})
            state = await run_update(handle, name, action, result_type=SanctionCaseState, gone=GONE)
        return case_read(state, self.bounds, await self.cap(beneficiary_id))

    async def belongs(self, beneficiary_id: str, case_id: str) -> bool:
        """Whether the person's timeline has heard of this case (a moment after it opens)."""
        rows = await self.session.scalars(
            select(JourneyEventRecord.detail).where(
                JourneyEventRecord.beneficiary_id == beneficiary_id,
                JourneyEventRecord.kind == "sanction_opened",
            )
        )
        return any(d.get("case_id") == case_id for d in rows.all())

    async def record_receipt(
        self, beneficiary_id: str, case_id: str, data: ReceiptCreate
    ) -> SanctionCaseRead:
        by_person = self.principal.role is Role.BENEFICIARY
        action = RecordReceiptInput(received_on=data.received_on, by_person=by_person)
        return await self._act(beneficiary_id, case_id, "record_receipt", action)

    async def send_observations(
        self, beneficiary_id: str, case_id: str, data: ObservationsCreate
    ) -> SanctionCaseRead:
        """Her words stay in her carnet (a document); the case records that she answered."""
        read = await self._act(
            beneficiary_id, case_id, "send_observations", SendObservationsInput()
        )
        text = data.text.encode("utf-8")
        self.session.add(
            Document(
                id=new_id(),
                beneficiary_id=beneficiary_id,
                filename=f"observations-sanction-{utcnow().date().isoformat()}.txt",
                content_type="text/plain",
                size=len(text),
                data=text,
                uploaded_by=self.principal.id,
            )
        )
        await self.session.flush()
        return read

    async def request_hearing(
        self, beneficiary_id: str, case_id: str, data: HearingRequestCreate
    ) -> SanctionCaseRead:
        action = RequestHearingInput(with_companion=data.with_companion)
        return await self._act(beneficiary_id, case_id, "request_hearing", action)

    async def record_hearing(
        self, beneficiary_id: str, case_id: str, data: HearingCreate
    ) -> SanctionCaseRead:
        action = RecordHearingInput(held_on=data.held_on, with_companion=data.with_companion)
        return await self._act(beneficiary_id, case_id, "record_hearing", action)

    async def record_team_opinion(
        self, beneficiary_id: str, case_id: str, data: TeamOpinionCreate
    ) -> SanctionCaseRead:
        action = RecordTeamOpinionInput(
            session_on=data.session_on, member_ids=data.member_ids, opinion=data.opinion
        )
        return await self._act(beneficiary_id, case_id, "record_team_opinion", action)

    async def decide(
        self, beneficiary_id: str, case_id: str, data: DecisionCreate
    ) -> SanctionCaseRead:
        """The cap comes from the household the CAF declared, computed here, never typed."""
        action = DecideSanctionInput(
            measure=data.measure,
            rate_percent=data.rate_percent,
            months=data.months,
            cap_percent=await self.cap(beneficiary_id),
        )
        return await self._act(beneficiary_id, case_id, "decide", action)


# --- For the activities ---


class SanctionNotices:
    """The notice: its facts read from SQL, printed by the activity (outside any transaction),
    then kept in the carnet with the e-mail and SMS that tell the person — once."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    @staticmethod
    def filename(case_id: str) -> str:
        return f"avis-sanction-{case_id[:8]}.pdf"

    async def to_print(self, data: SanctionNoticeInput, today: date) -> SanctionNotice | None:
        """None: the person is erased, or the notice is kept already."""
        person = await self.session.get(Beneficiary, data.beneficiary_id)
        if person is None or person.anonymised_at is not None:
            return None
        if await self._kept(data):
            return None
        bounds = bounds_from(self.settings)
        facts = rules.BREACH_LABELS[data.breach.value]
        if data.repeated:
            facts += " — manquement répété (une sanction a été décidée dans les 12 derniers mois)"
            planned = (
                f"Une suspension ou une suppression de {bounds.repeated_min_percent} % à "
                f"{bounds.repeated_max_percent} % de votre RSA pendant "
                f"{bounds.repeated_min_months} à {bounds.repeated_max_months} mois."
            )
        else:
            planned = (
                f"Une suspension d'au moins {bounds.first_min_percent} % de votre RSA pendant "
                f"{bounds.first_min_months} à {bounds.first_max_months} mois."
            )
        cap = rules.household_cap(bounds, person.household)
        if cap < 100:
            planned += f" Votre foyer comptant plus d'une personne, elle ne dépassera pas {cap} %."
        return SanctionNotice(
            reference=f"SAN-{data.case_id[:8].upper()}",
            department=f"Département — {person.territory}",
            person_name=f"{person.first_name} {person.last_name}",
            person_address=tuple(
                line
                for line in (
                    person.address,
                    " ".join(filter(None, (person.postal_code, person.city))),
                )
                if line
            ),
            facts=f"{facts}.",
            planned=planned,
            answer_days=data.answer_days,
            written_on=today,
        )

    async def _kept(self, data: SanctionNoticeInput) -> bool:
        found = await self.session.scalar(
            select(Document.id).where(
                Document.beneficiary_id == data.beneficiary_id,
                Document.filename == self.filename(data.case_id),
            )
        )
        return found is not None

    async def keep(self, data: SanctionNoticeInput, pdf: bytes) -> None:
        person = await self.session.get(Beneficiary, data.beneficiary_id)
        if person is None or await self._kept(data):
            return
        self.session.add(
            Document(
                id=new_id(),
                beneficiary_id=data.beneficiary_id,
                filename=self.filename(data.case_id),
                content_type="application/pdf",
                size=len(pdf),
                data=pdf,
                uploaded_by=None,
            )
        )
        link = f"{self.settings.public_app_url.rstrip('/')}/mon-espace"
        if person.email:
            body = "\n".join(
                [
                    "Bonjour,",
                    "",
                    "Le Département envisage une suspension de votre RSA (procédure de "
                    "suspension-remobilisation). Le courrier qui explique les faits, la mesure "
                    "envisagée et vos droits est dans votre espace Parcours :",
                    link,
                    "",
                    f"Vous avez {data.answer_days} jours à compter de sa réception pour présenter "
                    "vos observations ou demander à être entendu(e), accompagné(e) de la "
                    "personne de votre choix.",
                    "Signer ou mettre à jour votre contrat d'engagement met fin à la suspension.",
                ]
            )
            await enqueue(
                self.session,
                Mail(to=person.email, subject="Avis avant une suspension de votre RSA", body=body),
            )
        mobile = mobile_or_none(person.phone)
        if mobile is not None:
            await enqueue_sms(
                self.session,
                to=mobile,
                body=(
                    "Parcours : un courrier important sur votre RSA vous attend. Vous avez "
                    f"{data.answer_days} jours pour répondre : {link}"
                ),
                purpose="sanction.notice",
                idempotency_key=f"sanction-{data.case_id}-notice",
                beneficiary_id=person.id,
            )
        await self.session.flush()


class SanctionPartnerData:
    """What the CAF and France Travail are sent of the person: her CAF number, her NIR."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def person(self, beneficiary_id: str) -> Beneficiary:
        person = await self.session.get(Beneficiary, beneficiary_id)
        if person is None or person.anonymised_at is not None:
            raise InvalidReference("Personne inconnue ou effacée.")
        return person


__all__ = ["SanctionNotices", "SanctionPartnerData", "SanctionService", "journey_workflow_id"]
