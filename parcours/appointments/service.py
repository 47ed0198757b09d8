"""The appointments' use cases: a structure's places, slots and settings
(``AppointmentService``), inviting and convoking people and recording their attendance (the
same service, for agents), the person's booking link (``BookingService``, no account: the
token is the key), and what activities write (``AppointmentProjection``) and send
(``PersonNotifier``). Services never commit: the request (or the activity) owns the
transaction.

People's actions on an appointment are updates of its workflow. A booking takes its seat in
SQL first (a unique seat: two people never get the same one), then the workflow's validator
says whether the link still books; refused, the request rolls back and the seat is free
again. The workflow's handlers write nothing to SQL (its loop does, after): the request holds
its seat while it waits, and commits right after.

The link's token is ``HMAC(secret_key, appointment id)``: only its hash is stored, and the
platform can write it again into a reminder without keeping it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from parcours.access.repository import log_access
from parcours.access.rules import ACTION_ROLES, Principal, Role, can_read
from parcours.appointments import rules
from parcours.appointments.calendar import CalendarEvent, appointment_ics
from parcours.appointments.letters import ConvocationLetter
from parcours.appointments.messages import (
    ATTENDANCE_STATUSES,
    FRANCE_TRAVAIL_KINDS,
    UPDATE_NAMES,
    AppointmentAction,
    AppointmentKind,
    AppointmentState,
    AppointmentStatus,
    BookSlotInput,
    CancelAppointmentInput,
    MoveSlotInput,
    NotifyEvent,
    RecordAppointmentInput,
    RecordAttendanceInput,
    appointment_workflow_id,
)
from parcours.appointments.models import (
    Appointment,
    AppointmentSettings,
    Place,
    Slot,
)
from parcours.appointments.repository import AppointmentRepository
from parcours.appointments.schemas import (
    CHANGE_LABELS,
    KIND_LABELS,
    MODE_LABELS,
    NOTED,
    WEEKDAYS,
    AgendaRead,
    AppointmentRead,
    AppointmentTabRead,
    AttendanceUpdate,
    BookingChoice,
    BookingPageRead,
    ChangeRead,
    ConvocationCreate,
    InvitationCreate,
    InvitationRead,
    OccurrenceRead,
    PlaceCreate,
    PlaceRead,
    SettingsRead,
    SettingsUpdate,
    SlotCreate,
    SlotRead,
    status_label,
)
from parcours.carnet.models import Document
from parcours.core.db import new_id, utcnow
from parcours.core.errors import Conflict, Forbidden, InvalidReference, NotFound
from parcours.core.mail import Mail
from parcours.core.outbox import enqueue
from parcours.core.schemas import person_name
from parcours.core.security import token_hash
from parcours.core.settings import Settings
from parcours.core.temporal import run_update
from parcours.journey.messages import PlanAppointmentInput
from parcours.journey.repository import JourneyRepository
from parcours.journey.service import JourneyService
from parcours.sms.rules import mobile_or_none
from parcours.sms.service import enqueue_sms
from parcours.territories.repository import TerritoryRepository

log = logging.getLogger(__name__)

BOOKING_PATH = "/rdv/"
# How far ahead a booking page and a convocation offer slots.
OFFER_DAYS = 60
OFFERS_SHOWN = 8
GONE = "Ce rendez-vous est clos : il n'accepte plus de changement."
MANAGING_ROLES = frozenset({Role.REFERENT, Role.ORIENTATION, Role.MANAGER})


class SlotTaken(Conflict):
    """The slot was taken meanwhile: the next free ones come with the refusal."""

    def __init__(self, message: str, offers: list[OccurrenceRead]) -> None:
        super().__init__(message)
        self.offers = offers


class NoFreeSlot(Conflict):
    """A structure without a free slot of the kind: nothing can be booked, so nothing is
    sent."""


def link_token(secret_key: str, appointment_id: str) -> str:
    digest = hmac.new(
        secret_key.encode(), f"appointment-link:{appointment_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _rule(slot: Slot) -> rules.SlotRule:
    return rules.SlotRule(
        id=slot.id,
        place_id=slot.place_id,
        kind=slot.kind,
        start_time=slot.start_time,
        duration_minutes=slot.duration_minutes,
        capacity=slot.capacity,
        on_date=slot.on_date,
        weekday=slot.weekday,
        valid_from=slot.valid_from,
        valid_until=slot.valid_until,
    )


def _when(slot: Slot) -> str:
    at = slot.start_time.strftime("%Hh%M")
    if slot.on_date is not None:
        return f"le {slot.on_date.strftime('%d/%m/%Y')} à {at}"
    assert slot.weekday is not None
    return f"chaque {WEEKDAYS[slot.weekday]} à {at}"


class _Appointments:
    def __init__(
        self,
        session: AsyncSession,
        temporal: Client,
        settings: Settings,
        *,
        now: datetime | None = None,
    ) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.repo = AppointmentRepository(session)
        # The request's moment (tests on the time-skipping server give the server's).
        self._at = now

    def _now(self) -> datetime:
        return self._at or utcnow()

    def _to_france_travail(self, kind: AppointmentKind) -> bool:
        """Whether this appointment's statuses go to France Travail (its activity still checks
        the person's consent before each)."""
        return self.settings.france_travail_appointments and kind in FRANCE_TRAVAIL_KINDS

    async def _settings(self, structure_id: str) -> SettingsRead:
        found = await self.repo.settings(structure_id)
        if found is None:
            return SettingsRead(
                invitation_days=rules.DEFAULT_INVITATION_DAYS,
                contact_phone=None,
                contact_email=None,
            )
        return SettingsRead(
            invitation_days=found.invitation_days,
            contact_phone=found.contact_phone,
            contact_email=found.contact_email,
        )

    async def _free(
        self,
        structure_id: str,
        kind: str | None,
        now: datetime,
        until: datetime,
        limit: int | None = None,
    ) -> list[OccurrenceRead]:
        found = await self._occurrences(structure_id, kind, now, until, limit)
        places = {p.id: p for p in await self.repo.places(structure_id)}
        offers = []
        for o in found[:limit] if limit else found:
            place = places.get(o.place_id)
            if place is None:
                continue
            offers.append(
                OccurrenceRead(
                    slot_id=o.slot_id,
                    kind_label=KIND_LABELS.get(o.kind, o.kind),
                    starts_at=o.starts_at.astimezone(UTC),
                    ends_at=o.ends_at.astimezone(UTC),
                    place=place.name,
                    address=place.address,
                    label=rules.day_time_fr(o.starts_at),
                    seats_left=o.seats_left,
                )
            )
        return offers

    async def _occurrences(
        self, structure_id: str, kind: str | None, now: datetime, until: datetime, limit: int | None
    ) -> list[rules.Occurrence]:
        """The free occurrences in [``now``, ``until``), soonest first. With a ``limit``, the
        first week is looked at, then three, then the whole span, until enough are found:
        a structure with thousands of slots ahead is not unfolded for a page of a few."""
        spans = [timedelta(days=7), timedelta(days=21), until - now] if limit else [until - now]
        found: list[rules.Occurrence] = []
        for span in spans:
            end = min(now + span, until)
            between = (
                now.astimezone(rules.PARIS).date(),
                end.astimezone(rules.PARIS).date() + timedelta(days=1),
            )
            slots = await self.repo.slots(structure_id, kind, between)
            taken = await self.repo.taken_between(structure_id, now, end)
            found = rules.occurrences([_rule(s) for s in slots], taken, now, end, kind)
            if (limit and len(found) >= limit) or end >= until:
                break
        return found

    async def _occurrence(
        self, appointment: Appointment, slot_id: str, starts_at: datetime
    ) -> tuple[Slot, datetime, datetime]:
        """The slot's occurrence chosen, checked: of this structure and kind, really one of
        the slot's days and hours."""
        slot = await self.repo.slot(slot_id)
        starts_at = starts_at.astimezone(UTC)
        if (
            slot is None
            or not slot.active
            or slot.structure_id != appointment.structure_id
            or slot.kind != appointment.kind
            or not rules.occurrence_of(_rule(slot), starts_at)
        ):
            raise InvalidReference("Ce créneau n'existe pas : choisissez-en un dans la liste.")
        return slot, starts_at, starts_at + timedelta(minutes=slot.duration_minutes)

    async def _take(
        self, appointment: Appointment, slot: Slot, starts_at: datetime, taken: str
    ) -> None:
        if not await self.repo.take_seat(appointment.id, slot, starts_at):
            assert appointment.structure_id is not None
            now = self._now()
            offers = await self._free(
                appointment.structure_id,
                appointment.kind,
                now,
                now + timedelta(days=OFFER_DAYS),
                OFFERS_SHOWN,
            )
            raise SlotTaken(taken, offers)

    async def _update(
        self, appointment: Appointment, action: AppointmentAction
    ) -> AppointmentState:
        assert appointment.workflow_id is not None
        handle = self.temporal.get_workflow_handle(appointment.workflow_id)
        return await run_update(
            handle,
            UPDATE_NAMES[type(action)],
            action,
            result_type=AppointmentState,
            gone=GONE,
        )

    async def _set_slot(
        self, appointment: Appointment, slot: Slot, starts_at: datetime, ends_at: datetime
    ) -> None:
        place = await self.repo.place(slot.place_id)
        appointment.slot_id, appointment.place_id = slot.id, slot.place_id
        appointment.starts_at, appointment.ends_at = starts_at, ends_at
        appointment.place = place.name if place else None
        appointment.updated_at = utcnow()

    async def _reads(
        self, appointments: Sequence[Appointment], people: dict[str, str] | None = None
    ) -> list[AppointmentRead]:
        changes = await self.repo.changes([a.id for a in appointments])
        history: dict[str, list[ChangeRead]] = {}
        for c in changes:
            history.setdefault(c.appointment_id, []).append(
                ChangeRead(change=c.change, label=CHANGE_LABELS.get(c.change, c.change), at=c.at)
            )
        reads = []
        for a in appointments:
            place = await self.repo.place(a.place_id) if a.place_id else None
            reads.append(
                AppointmentRead(
                    id=a.id,
                    beneficiary_id=a.beneficiary_id,
                    person=(people or {}).get(a.beneficiary_id),
                    mode=a.mode,
                    mode_label=MODE_LABELS.get(a.mode, a.mode),
                    kind=a.kind,
                    kind_label=KIND_LABELS.get(a.kind or "", a.purpose or "Rendez-vous"),
                    status=a.status,
                    status_label=status_label(a.status),
                    starts_at=a.starts_at,
                    ends_at=a.ends_at,
                    place=a.place,
                    address=place.address if place else None,
                    expires_at=a.expires_at,
                    attendance_reason=a.attendance_reason,
                    history=history.get(a.id, []),
                )
            )
        return reads


class AppointmentService(_Appointments):
    """The agents' side: their structure's places, slots and settings; inviting, convoking,
    recording attendance; the agenda; a person's appointments (the carnet's tab)."""

    def __init__(
        self,
        session: AsyncSession,
        temporal: Client,
        settings: Settings,
        principal: Principal,
        *,
        now: datetime | None = None,
    ) -> None:
        super().__init__(session, temporal, settings, now=now)
        self.principal = principal

    def _structure_id(self) -> str:
        p = self.principal
        if p.role not in MANAGING_ROLES or p.structure_id is None:
            raise Forbidden("Les rendez-vous se gèrent par les agents d'une structure.")
        return p.structure_id

    # --- Places, slots, settings ---

    async def places(self) -> list[PlaceRead]:
        rows = await self.repo.places(self._structure_id())
        return [
            PlaceRead(id=p.id, name=p.name, address=p.address, accessibility=p.accessibility)
            for p in rows
        ]

    async def add_place(self, data: PlaceCreate) -> PlaceRead:
        place = Place(
            id=new_id(),
            structure_id=self._structure_id(),
            name=data.name,
            address=data.address,
            accessibility=data.accessibility or None,
        )
        self.repo.add(place)
        await self.session.flush()
        return PlaceRead(
            id=place.id, name=place.name, address=place.address, accessibility=place.accessibility
        )

    async def slots(self) -> list[SlotRead]:
        structure_id = self._structure_id()
        places = {p.id: p.name for p in await self.repo.places(structure_id)}
        return [
            SlotRead(
                id=s.id,
                place_id=s.place_id,
                place=places.get(s.place_id, "?"),
                kind=s.kind,
                kind_label=KIND_LABELS.get(s.kind, s.kind),
                when=_when(s),
                start_time=s.start_time,
                duration_minutes=s.duration_minutes,
                capacity=s.capacity,
            )
            for s in await self.repo.slots(structure_id)
        ]

    async def add_slot(self, data: SlotCreate) -> SlotRead:
        structure_id = self._structure_id()
        place = await self.repo.place(data.place_id)
        if place is None or place.structure_id != structure_id or not place.active:
            raise InvalidReference("Lieu inconnu dans votre structure.")
        if data.agent_id:
            agent = await self.repo.user(data.agent_id)
            if agent is None or agent.structure_id != structure_id:
                raise InvalidReference("Agent inconnu dans votre structure.")
        slot = Slot(
            id=new_id(),
            structure_id=structure_id,
            place_id=place.id,
            agent_id=data.agent_id or self.principal.id,
            kind=data.kind.value,
            start_time=data.start_time.replace(second=0, microsecond=0, tzinfo=None),
            duration_minutes=data.duration_minutes,
            capacity=data.capacity,
            on_date=data.on_date,
            weekday=data.weekday,
            valid_from=data.valid_from,
            valid_until=data.valid_until,
        )
        self.repo.add(slot)
        await self.session.flush()
        return SlotRead(
            id=slot.id,
            place_id=place.id,
            place=place.name,
            kind=slot.kind,
            kind_label=KIND_LABELS[slot.kind],
            when=_when(slot),
            start_time=slot.start_time,
            duration_minutes=slot.duration_minutes,
            capacity=slot.capacity,
        )

    async def remove_slot(self, slot_id: str) -> None:
        """A slot withdrawn offers nothing more; appointments already taken in it stay."""
        slot = await self.repo.slot(slot_id)
        if slot is None or slot.structure_id != self._structure_id():
            raise NotFound("Créneau introuvable.")
        slot.active = False
        await self.session.flush()

    async def settings_read(self) -> SettingsRead:
        return await self._settings(self._structure_id())

    async def update_settings(self, data: SettingsUpdate) -> SettingsRead:
        structure_id = self._structure_id()
        found = await self.repo.settings(structure_id)
        if found is None:
            found = AppointmentSettings(structure_id=structure_id)
            self.repo.add(found)
        found.invitation_days = data.invitation_days
        found.contact_phone = data.contact_phone or None
        found.contact_email = data.contact_email or None
        found.updated_at = utcnow()
        await self.session.flush()
        return await self._settings(structure_id)

    async def free(self, kind: AppointmentKind | None = None) -> list[OccurrenceRead]:
        now = self._now()
        return await self._free(
            self._structure_id(), kind.value if kind else None, now, now + timedelta(days=30)
        )

    # --- Inviting, convoking ---

    async def invite(self, data: InvitationCreate) -> InvitationRead:
        """Refused (409, with why) when the structure has no free slot of this kind within the
        link's validity; otherwise the journey starts the invitation, then its row is
        written. The caller commits."""
        p = self.principal
        structure_id = data.structure_id or self._structure_id()
        with self.session.no_autoflush:
            structure = await self.repo.structure(structure_id)
            if structure is None or not structure.active:
                raise InvalidReference("Structure inconnue.")
            setting = await self._settings(structure_id)
            now = self._now()
            expires_at = now + timedelta(days=setting.invitation_days)
            free = await self._free(structure_id, data.kind.value, now, expires_at, 1)
            if not free:
                raise NoFreeSlot(
                    f"« {structure.name} » n'a aucun créneau libre de type "
                    f"« {KIND_LABELS[data.kind]} » d'ici le {expires_at.strftime('%d/%m/%Y')} "
                    "(durée de validité du lien) : l'invitation n'est pas envoyée. Ajoutez des "
                    "créneaux dans « Lieux et créneaux », ou convoquez la personne à une date."
                )
        appointment_id = new_id()
        journey = await JourneyService(self.session, self.temporal, self.settings).act(
            data.beneficiary_id,
            PlanAppointmentInput(
                appointment_id=appointment_id,
                mode="invitation",
                kind=data.kind.value,
                structure_id=structure_id,
                expires_at=expires_at,
                france_travail=self._to_france_travail(data.kind),
            ),
            p,
        )
        token = link_token(self.settings.secret_key, appointment_id)
        appointment = Appointment(
            id=appointment_id,
            beneficiary_id=data.beneficiary_id,
            mode="invitation",
            kind=data.kind.value,
            purpose=KIND_LABELS[data.kind],
            status=AppointmentStatus.INVITED.value,
            structure_id=structure_id,
            journey_id=journey.journey_id,
            workflow_id=appointment_workflow_id(appointment_id),
            token_hash=token_hash(token),
            expires_at=expires_at,
            created_by=p.id,
            with_user_id=p.id,
            seq=0,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(appointment)
        log_access(self.session, p, data.beneficiary_id, "update", "appointment.invite")
        await self.session.flush()
        (read,) = await self._reads([appointment])
        return InvitationRead(
            **read.model_dump(),
            link=f"{self.settings.public_app_url.rstrip('/')}{BOOKING_PATH}{token}",
        )

    async def convoke(self, data: ConvocationCreate) -> AppointmentRead:
        """The agent sets the slot: its seat is taken, the journey starts the convocation."""
        p = self.principal
        structure_id = self._structure_id()
        with self.session.no_autoflush:
            slot = await self.repo.slot(data.slot_id)
            starts_at = data.starts_at.astimezone(UTC)
            if (
                slot is None
                or not slot.active
                or slot.structure_id != structure_id
                or not rules.occurrence_of(_rule(slot), starts_at)
            ):
                raise InvalidReference("Ce créneau n'existe pas dans votre structure.")
            if starts_at <= self._now():
                raise Conflict("Ce créneau est passé : choisissez-en un autre.")
            taken = await self.repo.taken([slot.id], starts_at)
            if taken.get((slot.id, starts_at), 0) >= slot.capacity:
                raise Conflict("Ce créneau est déjà pris : choisissez-en un autre.")
        appointment_id = new_id()
        ends_at = starts_at + timedelta(minutes=slot.duration_minutes)
        await JourneyService(self.session, self.temporal, self.settings).act(
            data.beneficiary_id,
            PlanAppointmentInput(
                appointment_id=appointment_id,
                mode="convocation",
                kind=slot.kind,
                structure_id=structure_id,
                starts_at=starts_at,
                ends_at=ends_at,
                with_letter=data.with_letter,
                france_travail=self._to_france_travail(AppointmentKind(slot.kind)),
            ),
            p,
        )
        now = self._now()
        appointment = Appointment(
            id=appointment_id,
            beneficiary_id=data.beneficiary_id,
            mode="convocation",
            kind=slot.kind,
            purpose=KIND_LABELS.get(slot.kind, slot.kind),
            status=AppointmentStatus.CONVOKED.value,
            structure_id=structure_id,
            workflow_id=appointment_workflow_id(appointment_id),
            # Her link shows the appointment and gives it to her calendar (nothing to book).
            token_hash=token_hash(link_token(self.settings.secret_key, appointment_id)),
            with_letter=data.with_letter,
            created_by=p.id,
            with_user_id=p.id,
            seq=0,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(appointment)
        await self.session.flush()
        await self._set_slot(appointment, slot, starts_at, ends_at)
        if not await self.repo.take_seat(appointment.id, slot, starts_at):
            # Taken between the check and now: the convocation stands (the agent decided
            # it), the agenda shows both.
            log.warning("convocation over a full slot", extra={"slot_id": slot.id})
        log_access(self.session, p, data.beneficiary_id, "update", "appointment.convoke")
        await self.session.flush()
        return (await self._reads([appointment]))[0]

    # --- Attendance ---

    async def ensure_managed(self, appointment_id: str) -> None:
        """404 unless the appointment is an invitation or convocation of the caller's
        structure (before a form is even read)."""
        await self._managed(appointment_id)

    async def _managed(self, appointment_id: str) -> Appointment:
        appointment = await self.repo.appointment(appointment_id)
        if (
            appointment is None
            or appointment.workflow_id is None
            or appointment.structure_id != self._structure_id()
        ):
            raise NotFound("Rendez-vous introuvable dans votre structure.")
        return appointment

    async def record_attendance(
        self, appointment_id: str, data: AttendanceUpdate
    ) -> AppointmentRead:
        p = self.principal
        with self.session.no_autoflush:
            appointment = await self._managed(appointment_id)
            status = AppointmentStatus(data.status)
            assert status in ATTENDANCE_STATUSES
            state = await self._update(
                appointment, RecordAttendanceInput(status=status, actor_id=p.id)
            )
        appointment.status = state.status.value
        appointment.attendance_reason = (
            data.reason if status is AppointmentStatus.ABSENT_EXCUSED else None
        )
        appointment.updated_at = utcnow()
        if status is AppointmentStatus.CANCELLED:
            await self.repo.release_seats(appointment.id)
        log_access(self.session, p, appointment.beneficiary_id, "update", "appointment.attendance")
        await self.session.flush()
        return (await self._reads([appointment]))[0]

    # --- Reading ---

    async def agenda(self, start: date, days: int) -> AgendaRead:
        structure_id = self._structure_id()
        begin = datetime.combine(start, time(), tzinfo=rules.PARIS)
        rows = await self.repo.agenda(structure_id, begin, begin + timedelta(days=days))
        people = {b.id: person_name(b.first_name, b.last_name) for _, b in rows}
        return AgendaRead(
            start=start, days=days, appointments=await self._reads([a for a, _ in rows], people)
        )

    async def of_person(self, beneficiary_id: str, *, log: bool = True) -> list[AppointmentRead]:
        p = self.principal
        journey = await JourneyRepository(self.session).get(beneficiary_id)
        if journey is None or not can_read(p, journey):
            raise NotFound("Personne introuvable.")
        if log:
            log_access(self.session, p, beneficiary_id, "read", "appointment.list")
        return await self._reads(await self.repo.of_person(beneficiary_id))

    async def tab(self, beneficiary_id: str) -> AppointmentTabRead:
        """The carnet's tab (the carnet's read is logged already)."""
        appointments = [
            a for a in await self.of_person(beneficiary_id, log=False) if a.mode != NOTED
        ]
        p = self.principal
        can_plan = p.role in ACTION_ROLES["plan_appointment"] and p.structure_id is not None
        offers: list[OccurrenceRead] = []
        if can_plan:
            now = self._now()
            assert p.structure_id is not None
            offers = await self._free(p.structure_id, None, now, now + timedelta(days=30), 40)
        return AppointmentTabRead(
            appointments=appointments,
            can_plan=can_plan,
            kinds=dict(KIND_LABELS),
            offers=offers,
        )


class BookingService(_Appointments):
    """The person's side, from her link: no account, the token is the key."""

    async def _by_token(self, token: str) -> Appointment:
        appointment = await self.repo.by_token_hash(token_hash(token))
        if appointment is None:
            raise NotFound("Ce lien de rendez-vous n'existe pas : vérifiez l'adresse reçue.")
        return appointment

    async def page(self, token: str) -> BookingPageRead:
        appointment = await self._by_token(token)
        assert appointment.structure_id is not None
        structure = await self.repo.structure(appointment.structure_id)
        setting = await self._settings(appointment.structure_id)
        now = self._now()
        status = AppointmentStatus(appointment.status)
        expired = status is AppointmentStatus.INVITATION_EXPIRED or (
            status is AppointmentStatus.INVITED
            and appointment.expires_at is not None
            and now >= appointment.expires_at
        )
        can_book = status is AppointmentStatus.INVITED and not expired
        can_change = (
            status is AppointmentStatus.BOOKED
            and appointment.starts_at is not None
            and now < appointment.starts_at - rules.CHANGE_NOTICE
        )
        offers: list[OccurrenceRead] = []
        if can_book or can_change:
            offers = await self._free(
                appointment.structure_id,
                appointment.kind,
                now,
                now + timedelta(days=OFFER_DAYS),
                OFFERS_SHOWN * 3,
            )
        (read,) = await self._reads([appointment])
        return BookingPageRead(
            appointment=read,
            structure=structure.name if structure else "",
            contact_phone=setting.contact_phone,
            contact_email=setting.contact_email,
            expired=expired,
            can_book=can_book,
            can_change=can_change,
            offers=offers,
        )

    async def calendar(self, token: str) -> bytes:
        """The appointment as a calendar file (``.ics``): its current version (``SEQUENCE``
        is the workflow's change number), or its cancellation, under one UID."""
        appointment = await self._by_token(token)
        if appointment.starts_at is None:
            raise NotFound("Aucun créneau n'est encore choisi : rien à ajouter à votre agenda.")
        assert appointment.structure_id is not None
        structure = await self.repo.structure(appointment.structure_id)
        place = await self.repo.place(appointment.place_id) if appointment.place_id else None
        name = structure.name if structure else "votre structure"
        starts_at = appointment.starts_at.replace(tzinfo=appointment.starts_at.tzinfo or UTC)
        ends_at = appointment.ends_at
        duration = (
            ends_at.replace(tzinfo=ends_at.tzinfo or UTC) - starts_at
            if ends_at
            else timedelta(hours=1)
        )
        link = f"{self.settings.public_app_url.rstrip('/')}{BOOKING_PATH}{token}"
        cancelled = appointment.status == AppointmentStatus.CANCELLED
        return appointment_ics(
            CalendarEvent(
                uid=f"{appointment.id}@parcours",
                starts_at=starts_at,
                duration=duration,
                summary=f"{KIND_LABELS.get(appointment.kind or '', 'Rendez-vous')} — {name}",
                location=", ".join(filter(None, (place.name, place.address))) if place else name,
                description=f"Votre rendez-vous avec {name}. Le voir, le déplacer : {link}",
                sequence=appointment.seq,
                status="CANCELLED" if cancelled else "CONFIRMED",
            )
        )

    async def book(self, token: str, choice: BookingChoice) -> AppointmentRead:
        appointment = await self._by_token(token)
        if appointment.status == AppointmentStatus.BOOKED:
            raise Conflict("Un rendez-vous a déjà été pris avec ce lien.")
        slot, starts_at, ends_at = await self._occurrence(
            appointment, choice.slot_id, choice.starts_at
        )
        await self._take(
            appointment,
            slot,
            starts_at,
            "Ce créneau vient d'être pris par quelqu'un d'autre : choisissez l'un des suivants.",
        )
        state = await self._update(
            appointment, BookSlotInput(slot_id=slot.id, starts_at=starts_at, ends_at=ends_at)
        )
        appointment.status = state.status.value
        await self._set_slot(appointment, slot, starts_at, ends_at)
        await self.session.flush()
        return (await self._reads([appointment]))[0]

    async def move(self, token: str, choice: BookingChoice) -> AppointmentRead:
        appointment = await self._by_token(token)
        slot, starts_at, ends_at = await self._occurrence(
            appointment, choice.slot_id, choice.starts_at
        )
        await self.repo.release_seats(appointment.id)
        await self._take(
            appointment,
            slot,
            starts_at,
            "Ce créneau vient d'être pris par quelqu'un d'autre : choisissez l'un des suivants.",
        )
        await self._update(
            appointment, MoveSlotInput(slot_id=slot.id, starts_at=starts_at, ends_at=ends_at)
        )
        await self._set_slot(appointment, slot, starts_at, ends_at)
        await self.session.flush()
        return (await self._reads([appointment]))[0]

    async def cancel(self, token: str) -> AppointmentRead:
        appointment = await self._by_token(token)
        state = await self._update(appointment, CancelAppointmentInput())
        appointment.status = state.status.value
        appointment.updated_at = utcnow()
        await self.repo.release_seats(appointment.id)
        await self.session.flush()
        return (await self._reads([appointment]))[0]


# --- What the workflow's activities do ---


class AppointmentProjection:
    """Writes an appointment's change, as its workflow recorded it (the caller's
    transaction): the row's status and slot, and one history entry per change."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = AppointmentRepository(session)

    async def record(self, data: RecordAppointmentInput) -> bool:
        """False when the row is not written yet (the request that planned it has not
        committed): the activity tries again."""
        s = data.state
        appointment = await self.repo.appointment(s.appointment_id)
        if appointment is None:
            return False
        if s.seq >= appointment.seq:
            appointment.seq = s.seq
            appointment.status = s.status.value
            if s.starts_at is not None:
                appointment.starts_at, appointment.ends_at = s.starts_at, s.ends_at
            if s.slot_id is not None:
                appointment.slot_id = s.slot_id
            appointment.updated_at = utcnow()
        if s.status in (AppointmentStatus.INVITATION_EXPIRED, AppointmentStatus.CANCELLED):
            await self.repo.release_seats(appointment.id)
        await self.repo.add_change(
            {
                "id": new_id(),
                "appointment_id": s.appointment_id,
                "seq": s.seq,
                "change": data.change,
                "status": s.status.value,
                "starts_at": s.starts_at,
                "actor_id": data.actor_id,
                "at": utcnow(),
            }
        )
        await self.session.flush()
        return True


class ConvocationLetters:
    """A convocation's letter (issue 14, item 3): its facts read from SQL, printed as PDF by
    the activity (outside any transaction), then kept in the carnet's documents — the proof
    that the person was convoked — once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = AppointmentRepository(session)

    async def to_print(
        self, appointment_id: str, today: date
    ) -> tuple[str, ConvocationLetter | None]:
        """``not_yet`` (the row is not written yet), ``kept`` (printed already, or the person
        erased: nothing to print) or ``print`` with the letter."""
        appointment = await self.repo.appointment(appointment_id)
        if appointment is None or appointment.starts_at is None or not appointment.structure_id:
            return "not_yet", None
        if appointment.kind is None:
            return "kept", None  # noted by hand: no letter
        person = await self.repo.person(appointment.beneficiary_id)
        if appointment.letter_document_id or person is None:
            return "kept", None
        structure = await self.repo.structure(appointment.structure_id)
        setting = await self.repo.settings(appointment.structure_id)
        place = await self.repo.place(appointment.place_id) if appointment.place_id else None
        slot = await self.repo.slot(appointment.slot_id) if appointment.slot_id else None
        agent_id = (slot.agent_id if slot else None) or appointment.created_by
        agent = await self.repo.user(agent_id) if agent_id else None
        structure_name = structure.name if structure else "Votre structure"
        territory = (
            await TerritoryRepository(self.session).get(structure.territory) if structure else None
        )
        place_lines = _address_lines(place.address if place else "")
        if appointment.ends_at:
            duration = appointment.ends_at - appointment.starts_at
        else:
            duration = timedelta(minutes=slot.duration_minutes if slot else 60)
        return "print", ConvocationLetter(
            reference=f"RDV-{appointment.id[:8].upper()}",
            kind=AppointmentKind(appointment.kind),
            starts_at=appointment.starts_at.replace(tzinfo=appointment.starts_at.tzinfo or UTC),
            duration=duration,
            department=f"Département — {territory.name}" if territory else "Le Département",
            structure_name=structure_name,
            structure_address=place_lines,
            structure_phone=(setting.contact_phone if setting else None) or "",
            structure_email=(setting.contact_email if setting else None) or "",
            person_name=person_name(person.first_name, person.last_name),
            person_address=tuple(
                line
                for line in (
                    person.address,
                    " ".join(filter(None, (person.postal_code, person.city))),
                )
                if line
            ),
            place_name=place.name if place else structure_name,
            place_address=place_lines,
            accessibility=place.accessibility if place else None,
            agent_name=agent.full_name if agent else structure_name,
            written_in=_town(place_lines) or (territory.name if territory else structure_name),
            written_on=today,
        )

    async def keep(self, appointment_id: str, pdf: bytes) -> None:
        """The printed letter in the carnet's documents, once (a retried attempt finds it)."""
        appointment = await self.repo.appointment(appointment_id)
        if appointment is None or appointment.letter_document_id or appointment.starts_at is None:
            return
        document = Document(
            id=new_id(),
            beneficiary_id=appointment.beneficiary_id,
            filename=f"convocation-{appointment.starts_at.date().isoformat()}.pdf",
            content_type="application/pdf",
            size=len(pdf),
            data=pdf,
            uploaded_by=None,
        )
        self.repo.add(document)
        appointment.letter_document_id = document.id
        appointment.letter_requested_at = utcnow()
        await self.session.flush()


def _address_lines(address: str) -> tuple[str, ...]:
    """« 12 rue de la Gare, 73000 Chambéry » as the letter's lines."""
    return tuple(part.strip() for part in address.split(",") if part.strip())


def _town(lines: tuple[str, ...]) -> str:
    """The town of an address's last line (« 73000 Chambéry » → « Chambéry »)."""
    return lines[-1].lstrip("0123456789 ").strip() if lines else ""


NOTICE_SUBJECTS: dict[NotifyEvent, str] = {
    NotifyEvent.INVITED: "Invitation à prendre rendez-vous",
    NotifyEvent.INVITATION_REMINDER: "Rappel : prenez votre rendez-vous",
    NotifyEvent.BOOKED: "Votre rendez-vous est confirmé",
    NotifyEvent.MOVED: "Votre rendez-vous a été déplacé",
    NotifyEvent.CANCELLED: "Votre rendez-vous est annulé",
    NotifyEvent.CONVOKED: "Convocation à un rendez-vous",
    NotifyEvent.APPOINTMENT_REMINDER: "Rappel de votre rendez-vous",
}


class PersonNotifier:
    """Builds the person's messages about her appointment from SQL and writes them to the
    outboxes (the caller's transaction): an e-mail when she has an address, an SMS when she
    has a mobile number."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = AppointmentRepository(session)

    async def notify(self, appointment_id: str, event: NotifyEvent, seq: int) -> str:
        """``sent``, ``no_channel`` (neither e-mail nor mobile: nothing sent), ``gone`` (erased), or
        ``not_yet`` (SQL does not have change ``seq`` yet: the activity tries again)."""
        appointment = await self.repo.appointment(appointment_id)
        if appointment is None or appointment.seq < seq:
            return "not_yet"
        person = await self.repo.person(appointment.beneficiary_id)
        if person is None:
            return "gone"
        mobile = mobile_or_none(person.phone)
        if not person.email and mobile is None:
            return "no_channel"
        if person.email:
            body = await self._body(appointment, event)
            subject = f"{NOTICE_SUBJECTS[event]} — {KIND_LABELS.get(appointment.kind or '', '')}"
            await enqueue(self.session, Mail(to=person.email, subject=subject, body=body))
        if mobile is not None:
            # Once per change and event, even when this attempt is retried; held to 8:00
            # when written at night.
            await enqueue_sms(
                self.session,
                to=mobile,
                body=await self._sms(appointment, event),
                purpose=f"appointment.{event.value}",
                idempotency_key=f"appointment-{appointment.id}-{event.value}-{seq}",
                beneficiary_id=person.id,
            )
        return "sent"

    async def _sms(self, appointment: Appointment, event: NotifyEvent) -> str:
        """The same news in a text message's few words, with the link where there is one."""
        assert appointment.structure_id is not None
        structure = await self.repo.structure(appointment.structure_id)
        place = await self.repo.place(appointment.place_id) if appointment.place_id else None
        name = structure.name if structure else "votre structure"
        kind = KIND_LABELS.get(appointment.kind or "", "Rendez-vous").lower()
        when = rules.day_time_fr(appointment.starts_at) if appointment.starts_at else ""
        where = f", {place.name}" if place else ""
        link = (
            f"{self.settings.public_app_url.rstrip('/')}{BOOKING_PATH}"
            f"{link_token(self.settings.secret_key, appointment.id)}"
        )
        match event:
            case NotifyEvent.INVITED | NotifyEvent.INVITATION_REMINDER:
                until = rules.day_time_fr(appointment.expires_at) if appointment.expires_at else ""
                text = (
                    f"{name} vous invite à prendre rendez-vous ({kind}) avant le {until} : {link}"
                )
            case NotifyEvent.BOOKED | NotifyEvent.MOVED | NotifyEvent.APPOINTMENT_REMINDER:
                text = f"Rendez-vous ({kind}) avec {name} le {when}{where}."
                if appointment.mode == "invitation":
                    text += f" Annuler ou déplacer : {link}"
            case NotifyEvent.CONVOKED:
                text = (
                    f"Convocation ({kind}) de {name} le {when}{where}. "
                    f"Ce rendez-vous est obligatoire. Détails : {link}"
                )
            case NotifyEvent.CANCELLED:
                text = f"Votre rendez-vous du {when} ({kind}) avec {name} est annulé."
        return f"Parcours : {text}"

    async def _body(self, appointment: Appointment, event: NotifyEvent) -> str:
        assert appointment.structure_id is not None
        structure = await self.repo.structure(appointment.structure_id)
        setting = await self.repo.settings(appointment.structure_id)
        place = await self.repo.place(appointment.place_id) if appointment.place_id else None
        kind = KIND_LABELS.get(appointment.kind or "", "Rendez-vous")
        link = (
            f"{self.settings.public_app_url.rstrip('/')}{BOOKING_PATH}"
            f"{link_token(self.settings.secret_key, appointment.id)}"
        )
        lines = ["Bonjour,", ""]
        name = structure.name if structure else "votre structure"
        when = rules.day_time_fr(appointment.starts_at) if appointment.starts_at else ""
        match event:
            case NotifyEvent.INVITED | NotifyEvent.INVITATION_REMINDER:
                until = rules.day_time_fr(appointment.expires_at) if appointment.expires_at else ""
                lines += [
                    f"{name} vous invite à prendre un rendez-vous : {kind}.",
                    f"Choisissez le jour et l'heure qui vous conviennent avant le {until} :",
                    link,
                ]
            case NotifyEvent.BOOKED | NotifyEvent.MOVED | NotifyEvent.APPOINTMENT_REMINDER:
                lines += [f"{kind} avec {name} le {when}."]
                if place:
                    lines += [f"Lieu : {place.name}, {place.address}."]
                    if place.accessibility:
                        lines += [f"Accessibilité : {place.accessibility}"]
                if appointment.mode == "invitation":
                    lines += [
                        "Pour l'annuler ou le déplacer (jusqu'à 24 heures avant) :",
                        link,
                    ]
            case NotifyEvent.CONVOKED:
                lines += [f"Vous êtes convoquée par {name} : {kind}, le {when}."]
                if place:
                    lines += [f"Lieu : {place.name}, {place.address}."]
                lines += [
                    "Ce rendez-vous est obligatoire.",
                    "Le voir et l'ajouter à votre agenda :",
                    link,
                ]
            case NotifyEvent.CANCELLED:
                lines += [f"Votre rendez-vous du {when} ({kind}) est annulé."]
        contact = [
            c for c in (setting and setting.contact_phone, setting and setting.contact_email) if c
        ]
        if contact:
            lines += ["", f"Une question ? Contactez {name} : {', '.join(contact)}."]
        return "\n".join(lines)
