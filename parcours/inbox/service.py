"""The one place that turns events into notifications (``InboxProducer``), and the inbox as
its agent reads it (``InboxService``).

The producer is called where the events are written: the journeys' projection (every
timeline event: a funder's question or decision, a structure's answer, a journey assigned or
handed over, a deadline passed, a decision requested — training requests and orientations
tell their journey, so their events come this way too), the managers' interventions (a
relance, an escalation), and the daily pass (deadlines within a week, the daily summaries).
Each item is written once per (source, recipient): a projection retried, replayed or
reconciled adds nothing. An agent who wants each item at once gets a mail written to the
outbox in the same transaction as the item; mails give counts and a link, never a name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.rules import Principal, Role
from parcours.core.db import new_id, utcnow
from parcours.core.errors import Forbidden, NotFound
from parcours.core.mail import Mail
from parcours.core.outbox import enqueue
from parcours.core.schemas import person_name
from parcours.inbox.models import InboxItem
from parcours.inbox.repository import InboxRepository
from parcours.inbox.rules import (
    DUE_SOON_DAYS,
    ONCE_OPEN,
    Audience,
    ItemKind,
    Notice,
    OpenItem,
    due_soon,
    notices,
    settlements,
    told_themselves,
)
from parcours.inbox.schemas import (
    ACTIONS,
    DEFAULT_EMAIL_PREFERENCE,
    EMAIL_PREFERENCE_LABELS,
    TITLES,
    EmailPreference,
    InboxItemRead,
    InboxPreferenceRead,
    InboxRead,
    item_summary,
)
from parcours.journey.messages import RecordJourneyEventInput
from parcours.journey.models import JourneyRecord
from parcours.management.models import JourneyIntervention

PARIS = ZoneInfo("Europe/Paris")
INBOX_PATH = "/a-traiter"
# Who has an inbox: the agents who follow and orient people, and their managers.
INBOX_ROLES = frozenset({Role.REFERENT, Role.ORIENTATION, Role.MANAGER})


def has_inbox(principal: Principal) -> bool:
    return principal.role in INBOX_ROLES


class InboxProducer:
    """Writes items for the events it is given, in the caller's transaction."""

    def __init__(self, session: AsyncSession, app_url: str = "") -> None:
        self.session = session
        self.repo = InboxRepository(session)
        self.app_url = app_url.rstrip("/")
        # The open items of the journeys this producer wrote for (``on_journey_event``).
        self._open: dict[str, list[OpenItem]] = {}

    # --- Journey events (the projection) ---

    async def on_journey_event(self, data: RecordJourneyEventInput) -> None:
        """The items ``data``'s event adds and settles. The journey's open items are read once
        per producer (a transition's events share one) and kept in step with what it writes:
        an event settles items in one statement, or in none when none of them is concerned."""
        j, e = data.journey, data.event
        open_items = await self._open_of(j.id)
        for notice in notices(e, j):
            for recipient in await self._recipients(notice, j.referent_id, j.territory):
                if told_themselves(recipient, e.actor_id):
                    continue
                if notice.kind in ONCE_OPEN and any(
                    item.recipient_id == recipient and item.kind == notice.kind
                    for item in open_items
                ):
                    continue  # already in her list (enrolled with her, then oriented to her)
                item_id = new_id()
                added = await self._add(
                    recipient,
                    id=item_id,
                    source=f"journey:{j.id}:{data.seq}",
                    kind=notice.kind,
                    beneficiary_id=j.beneficiary_id,
                    journey_id=j.id,
                    journey_seq=data.seq,
                    step=j.step.value,
                    ref=notice.ref,
                    detail={k: v for k, v in notice.detail.items() if v is not None},
                    created_at=e.occurred_at,
                )
                if added:
                    open_items.append(
                        OpenItem(item_id, notice.kind, notice.ref, recipient, j.step.value)
                    )
        rules = settlements(e, j)
        settled = [item for item in open_items if any(rule.matches(item) for rule in rules)]
        if settled:
            await self.repo.settle([item.id for item in settled], e.occurred_at)
            open_items[:] = [item for item in open_items if item not in settled]

    async def _open_of(self, journey_id: str) -> list[OpenItem]:
        if journey_id not in self._open:
            self._open[journey_id] = await self.repo.open_of_journey(journey_id)
        return self._open[journey_id]

    async def forget_after(self, journey_id: str, seq: int) -> None:
        """Events after ``seq`` were never recorded by the engine: their items go too."""
        await self.repo.forget_after(journey_id, seq)

    async def _recipients(
        self, notice: Notice, referent_id: str | None, territory: str
    ) -> Sequence[str]:
        match notice.audience:
            case Audience.REFERENT:
                return [referent_id] if referent_id else []
            case Audience.ORIENTATION:
                return await self.repo.agents(Role.ORIENTATION, territory)
            case Audience.USER:
                return [notice.user_id] if notice.user_id else []

    # --- A manager's intervention ---

    async def on_intervention(
        self, intervention: JourneyIntervention, journey_id: str, step: str
    ) -> None:
        """A relance reaches the référent; an escalation, the structure's agents."""
        if intervention.kind == "reminder" and intervention.target_user_id:
            recipients: Sequence[str] = [intervention.target_user_id]
            kind = ItemKind.REMINDER
        elif intervention.kind == "escalation" and intervention.target_structure_id:
            recipients = await self.repo.structure_agents(intervention.target_structure_id)
            kind = ItemKind.ESCALATION
        else:
            return
        for recipient in recipients:
            if told_themselves(recipient, intervention.actor_id):
                continue
            await self._add(
                recipient,
                source=f"intervention:{intervention.id}",
                kind=kind,
                beneficiary_id=intervention.beneficiary_id,
                journey_id=journey_id,
                journey_seq=None,
                step=step,
                ref=intervention.id,
                detail={},
                created_at=intervention.created_at,
            )

    # --- A person's own change in her space ---

    async def on_consent_changed(
        self, journey: JourneyRecord, partner: str, *, granted: bool, by: str
    ) -> None:
        """The person gave or withdrew her consent to share with ``partner``: her référent
        (else the chargé·es d'orientation) is told."""
        if journey.referent_id:
            recipients: Sequence[str] = [journey.referent_id]
        else:
            recipients = await self.repo.agents(Role.ORIENTATION, journey.territory)
        at = utcnow()
        for recipient in recipients:
            if told_themselves(recipient, by):
                continue
            await self._add(
                recipient,
                source=f"consent:{journey.beneficiary_id}:{partner}:{at.isoformat()}",
                kind=ItemKind.CONSENT_CHANGED,
                beneficiary_id=journey.beneficiary_id,
                journey_id=journey.journey_id,
                journey_seq=None,
                step=journey.step,
                ref=None,
                detail={"partner": partner, "granted": granted},
                created_at=at,
            )

    # --- A partner's late answer ---

    async def on_lookup_answered(self, beneficiary_id: str, partner: str, *, source: str) -> None:
        """A CAF or France Travail look-up answered after the page stopped waiting: its
        answer is in the carnet, the journey's référent is told (once per look-up)."""
        journey = await self.repo.journey_of(beneficiary_id)
        if journey is None or journey.referent_id is None:
            return
        await self._add(
            journey.referent_id,
            source=source[:120],
            kind=ItemKind.LOOKUP_ANSWERED,
            beneficiary_id=beneficiary_id,
            journey_id=journey.journey_id,
            journey_seq=None,
            step=journey.step,
            ref=None,
            detail={"partner": partner},
            created_at=utcnow(),
        )

    # --- The daily pass ---

    async def due_soon(self, now: datetime) -> int:
        """An item for each journey whose step ends within a week (once per journey and
        deadline), to its référent or else the chargé·es d'orientation; and the items about
        deadlines passed since, settled (the journey is late: its own item says so)."""
        await self.repo.settle_due_passed(now)
        written = 0
        for journey in await self.repo.journeys_due(now + timedelta(days=DUE_SOON_DAYS)):
            if not due_soon(journey.deadline, now) or journey.deadline is None:
                continue
            if journey.referent_id:
                recipients: Sequence[str] = [journey.referent_id]
            else:
                recipients = await self.repo.agents(Role.ORIENTATION, journey.territory)
            deadline = journey.deadline
            for recipient in recipients:
                written += await self._add(
                    recipient,
                    source=f"due:{journey.journey_id}:{deadline.date().isoformat()}",
                    kind=ItemKind.DEADLINE_SOON,
                    beneficiary_id=journey.beneficiary_id,
                    journey_id=journey.journey_id,
                    journey_seq=None,
                    step=journey.step,
                    ref=deadline.isoformat(),
                    detail={"deadline_day": deadline.astimezone(PARIS).strftime("%d/%m/%Y")},
                    created_at=now,
                )
        return written

    async def daily_summary(self, user_id: str, day: date) -> bool:
        """The day's summary mail for an agent who asked for one (once a day): how many
        items are open, how many are new since yesterday, and the link. Nothing when there
        is nothing to do."""
        user = await self.repo.active_user(user_id)
        if user is None:
            return False
        preference = await self.repo.preference(user_id)
        email = EmailPreference(preference.email if preference else DEFAULT_EMAIL_PREFERENCE)
        if email is not EmailPreference.DAILY:
            return False
        since = (
            datetime.combine(preference.summary_sent_on, datetime.min.time(), tzinfo=PARIS)
            if preference and preference.summary_sent_on
            else None
        )
        total, new = await self.repo.open_counts_since(user_id, since)
        if total == 0 or not await self.repo.claim_summary(user_id, day):
            return False
        subject = f"Parcours — {total} élément(s) à traiter"
        body = "\n".join(
            [
                f"Bonjour {user.full_name},",
                "",
                f"Vous avez {total} élément(s) à traiter dans Parcours, dont {new} nouveau(x).",
                "",
                f"Pour les voir : {self.app_url}{INBOX_PATH}",
                "",
                "Vous recevez ce résumé une fois par jour ; vous pouvez changer cela dans "
                f"« Mes notifications » : {self.app_url}{INBOX_PATH}/preferences",
            ]
        )
        await enqueue(self.session, Mail(to=user.email, subject=subject, body=body))
        return True

    # --- Writing an item ---

    async def _add(self, recipient_id: str, **values: Any) -> int:
        user = await self.repo.active_user(recipient_id)
        if user is None or user.role == Role.BENEFICIARY:
            return 0
        if not await self.repo.add({"id": new_id(), "recipient_id": recipient_id, **values}):
            return 0  # written already: a retried or replayed projection
        preference = await self.repo.preference(recipient_id)
        if preference is not None and preference.email == EmailPreference.IMMEDIATE:
            kind = ItemKind(values["kind"])
            total = await self.repo.open_count(recipient_id)
            summary = item_summary(kind, values.get("detail") or {})
            await enqueue(
                self.session,
                Mail(
                    to=user.email,
                    subject=f"Parcours — à traiter : {TITLES[kind]}",
                    body="\n".join(
                        [
                            f"Bonjour {user.full_name},",
                            "",
                            f"Un nouvel élément vous attend dans Parcours : {TITLES[kind]}.",
                            *([summary] if summary else []),
                            "",
                            f"Vous avez {total} élément(s) à traiter : {self.app_url}{INBOX_PATH}",
                            "",
                            "Vous recevez un courriel pour chaque élément ; vous pouvez "
                            "changer cela dans « Mes notifications » : "
                            f"{self.app_url}{INBOX_PATH}/preferences",
                        ]
                    ),
                ),
            )
        return 1


class InboxService:
    """The signed-in agent's inbox: her open items, marking one done, her e-mail
    preference. Never commits: the request owns the transaction."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.repo = InboxRepository(session)
        self.principal = principal

    def _ensure_inbox(self) -> None:
        if not has_inbox(self.principal):
            raise Forbidden("Votre compte n'a pas de liste « À traiter ».")

    async def count(self) -> int:
        return await self.repo.open_count(self.principal.id)

    async def items(self) -> InboxRead:
        self._ensure_inbox()
        rows = await self.repo.open_items(self.principal.id)
        messages = await self._messages([i.ref for i, _ in rows if i.source.startswith("inter")])
        items = [self._read(item, person, messages) for item, person in rows]
        return InboxRead(items=items, total=len(items))

    async def _messages(self, ids: list[str | None]) -> dict[str, str | None]:
        wanted = [i for i in ids if i]
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(JourneyIntervention.id, JourneyIntervention.body).where(
                JourneyIntervention.id.in_(wanted)
            )
        )
        return {row.id: row.body for row in rows}

    def _read(self, item: InboxItem, person: Any, messages: dict[str, str | None]) -> InboxItemRead:
        kind = ItemKind(item.kind)
        label, href = ACTIONS[kind]
        b = item.beneficiary_id or ""
        return InboxItemRead(
            id=item.id,
            kind=kind,
            title=TITLES[kind],
            summary=item_summary(kind, item.detail or {}),
            beneficiary_id=item.beneficiary_id,
            person=person_name(person.first_name, person.last_name) if person else None,
            ref=item.ref,
            message=messages.get(item.ref or "") if item.source.startswith("inter") else None,
            action_label=label,
            href=href.format(b=b, ref=item.ref or ""),
            created_at=item.created_at,
        )

    async def mark_done(self, item_id: str) -> None:
        self._ensure_inbox()
        item = await self.repo.item(item_id)
        if item is None or item.recipient_id != self.principal.id:
            raise NotFound("Cet élément n'est pas dans votre liste « À traiter ».")
        if item.done_at is None:
            item.done_at = utcnow()
            await self.session.flush()

    async def preference(self) -> InboxPreferenceRead:
        self._ensure_inbox()
        found = await self.repo.preference(self.principal.id)
        email = EmailPreference(found.email) if found else DEFAULT_EMAIL_PREFERENCE
        return InboxPreferenceRead(email=email, label=EMAIL_PREFERENCE_LABELS[email])

    async def set_preference(self, email: EmailPreference) -> InboxPreferenceRead:
        self._ensure_inbox()
        await self.repo.set_preference(self.principal.id, email.value, utcnow())
        return InboxPreferenceRead(email=email, label=EMAIL_PREFERENCE_LABELS[email])
