"""Sending SMS: a feature writes one to the outbox in its own transaction (``enqueue_sms``);
the ``DeliverSms`` workflow, every minute, hands what is due to the provider (``send_due_sms``);
the provider's delivery report says whether it reached the phone (``record_delivery_report``).

    from parcours.sms.service import enqueue_sms

    await enqueue_sms(
        session,
        to=person.phone,  # any French mobile, as typed or E.164: checked and normalised here
        body="Votre rendez-vous…",
        purpose="appointment_reminder",
        idempotency_key=f"appointment-{appointment_id}-reminder",
        beneficiary_id=person.id,
    )

To the person's own mobile (read from her carnet; ``NoMobile``, a 409 with the reason in
French, when she has none): ``enqueue_sms_to_person(session, beneficiary_id=…, body=…,
purpose=…, idempotency_key=…)``.

Once per key: enqueueing again with the same key writes nothing (a retried activity, a double
click). Never at night: an SMS written between 20:00 and 08:00 (Paris) waits for 08:00, and no
sender sends during those hours. Each SMS at most once: a sender claims it in its own committed
transaction before the call (attempts + 1, no other sender takes it until the claim expires),
and calls the provider with the SMS's id as idempotency key, so a retry after a timeout gets
the provider's first answer back. A provider down, slow or failing (5xx, timeout) leaves the
SMS pending with its error and its next attempt (after ``sms_retry_after_s``, doubled each time,
an hour at most; failed after ``sms_max_attempts``); a refusal of the message itself (invalid
number: 400, 422) makes it ``refuse``, with the provider's reason, never tried again.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.core.db import new_id, transaction, utcnow
from parcours.core.errors import Conflict, NotFound, Unauthenticated
from parcours.core.settings import Settings
from parcours.partners.adapters.http import PartnerError
from parcours.partners.adapters.sms import SmsAdapter, sms_enabled
from parcours.sms.repository import SmsRepository
from parcours.sms.rules import (
    SmsStatus,
    is_quiet,
    mobile_or_none,
    normalise_mobile,
    quiet_hours_release,
    retry_delay,
    status_after_report,
)
from parcours.sms.schemas import DeliveryReceipt, DeliveryReport, SmsRead

log = logging.getLogger(__name__)

REPORT_SECRET_HEADER = "X-Parcours-Sms-Secret"
MAX_RETRY_DELAY = timedelta(hours=1)
# Messages one sender's run takes at most (the next run takes the rest).
BATCH = 100
# An SMS text longer than this is refused at entry (10 concatenated SMS, GSM 7-bit).
MAX_BODY = 1530


async def enqueue_sms(
    session: AsyncSession,
    *,
    to: str,
    body: str,
    purpose: str,
    idempotency_key: str,
    beneficiary_id: str | None = None,
    now: datetime | None = None,
) -> SmsRead:
    """Write an SMS to the outbox in the caller's transaction (it goes once that transaction
    commits, never if it rolls back) and return it; the one already written under
    ``idempotency_key`` if there is one. ``to``: a French mobile, checked and written E.164
    (``InvalidPhone`` otherwise, with the reason in French). ``now`` (aware): when it is
    written, for the quiet hours (default: the clock)."""
    recipient = normalise_mobile(to)
    text = body.strip()
    if not text or len(text) > MAX_BODY:
        raise ValueError(f"An SMS holds 1 to {MAX_BODY} characters ({len(text)} given).")
    written = now or utcnow()
    repository = SmsRepository(session)
    await repository.add_once(
        {
            "id": new_id(),
            "recipient": recipient,
            "body": text,
            "purpose": purpose,
            "beneficiary_id": beneficiary_id,
            "idempotency_key": idempotency_key,
            "not_before": quiet_hours_release(written),
            "status": SmsStatus.PENDING.value,
            "attempts": 0,
            "created_at": written,
        }
    )
    row = await repository.by_key(idempotency_key)
    assert row is not None
    return SmsRead.model_validate(row)


class NoMobile(Conflict):
    """The person has no number an SMS can go to (none, or a fixed line)."""


async def enqueue_sms_to_person(
    session: AsyncSession,
    *,
    beneficiary_id: str,
    body: str,
    purpose: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> SmsRead:
    """``enqueue_sms`` to the mobile of the person's carnet. ``NotFound`` for a person unknown
    or erased; ``NoMobile`` (409, its reason in French, for the agent) when she has no mobile
    number in her contact details."""
    known, phone = await SmsRepository(session).person_phone(beneficiary_id)
    if not known:
        raise NotFound("Personne introuvable.")
    mobile = mobile_or_none(phone)
    if mobile is None:
        raise NoMobile(
            "Pas de SMS possible : la personne n'a pas de numéro de mobile dans ses coordonnées"
            + (" (son numéro est celui d'un fixe)." if phone else ".")
        )
    return await enqueue_sms(
        session,
        to=mobile,
        body=body,
        purpose=purpose,
        idempotency_key=idempotency_key,
        beneficiary_id=beneficiary_id,
        now=now,
    )


async def read_sms(session: AsyncSession, sms_id: str) -> SmsRead:
    row = await SmsRepository(session).get(sms_id)
    if row is None:
        raise NotFound("SMS introuvable.")
    return SmsRead.model_validate(row)


async def sms_for_beneficiary(session: AsyncSession, beneficiary_id: str) -> list[SmsRead]:
    """The person's SMS, oldest first (for her carnet's history)."""
    rows = await SmsRepository(session).for_beneficiary(beneficiary_id)
    return [SmsRead.model_validate(row) for row in rows]


@dataclass(frozen=True, slots=True)
class SmsRun:
    sent: int = 0
    retried: int = 0
    refused: int = 0
    # More messages were due than this run took (and the provider did not fail).
    more: bool = False
    # False: no provider configured, nothing was tried (the messages wait for one).
    enabled: bool = True
    # True: quiet hours, nothing was tried.
    quiet: bool = False


async def send_due_sms(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    adapter: SmsAdapter | None,
    *,
    limit: int = BATCH,
    now: Callable[[], datetime] = utcnow,
    progress: Callable[[], None] | None = None,
) -> SmsRun:
    """Send the SMS due now, each in three short transactions: claim, call, record. Stops at
    the first failure that is the provider's (down, timeout…): the others wait for the next
    run rather than each waiting for a timeout."""
    if adapter is None or not sms_enabled(settings):
        return SmsRun(enabled=False)
    if is_quiet(now()):
        return SmsRun(quiet=True)
    max_attempts = settings.sms_max_attempts
    async with sessions() as session:
        due = await SmsRepository(session).due(now(), max_attempts, limit)
    # Longer than a whole call with its timeouts.
    claim_for = timedelta(
        seconds=3 * (settings.partner_timeout_s + settings.partner_connect_timeout_s)
    )
    sent, retried, refused, stopped = 0, 0, 0, False
    for sms_id in due:
        if progress is not None:
            progress()
        at = now()
        async with transaction(sessions) as session:
            claimed = await SmsRepository(session).claim(sms_id, at, at + claim_for, max_attempts)
        if claimed is None:
            continue  # another sender has it, or it went
        try:
            receipt, replayed = await adapter.send(
                recipient=claimed.recipient,
                content=claimed.body,
                tag=claimed.purpose,
                key=f"sms-{claimed.id}",
            )
        except PartnerError as error:
            async with transaction(sessions) as session:
                repository = SmsRepository(session)
                if not error.retryable:
                    refused += 1
                    await repository.mark_final(sms_id, SmsStatus.REFUSED, error.message, now())
                    log.info("sms refused", extra={"sms_id": sms_id, "error": error.message})
                    continue
                retried += 1
                if claimed.attempts >= max_attempts:
                    reason = f"Abandonné après {claimed.attempts} essais : {error.message}"
                    await repository.mark_final(sms_id, SmsStatus.FAILED, reason, now())
                    log.warning("sms given up", extra={"sms_id": sms_id})
                else:
                    delay = retry_delay(
                        claimed.attempts, settings.sms_retry_after_s, MAX_RETRY_DELAY
                    )
                    await repository.mark_retry(
                        sms_id, error.message, quiet_hours_release(now() + delay)
                    )
            log.warning(
                "sms not sent",
                extra={"sms_id": sms_id, "attempts": claimed.attempts, "error": error.message},
            )
            stopped = True
            break
        async with transaction(sessions) as session:
            await SmsRepository(session).mark_sent(sms_id, receipt.message_id, now())
        if replayed:
            log.info("sms provider replayed its answer", extra={"sms_id": sms_id})
        sent += 1
    return SmsRun(
        sent=sent, retried=retried, refused=refused, more=len(due) == limit and not stopped
    )


def check_report_secret(settings: Settings, given: str | None) -> None:
    """The provider's delivery reports carry the shared secret; none configured refuses all."""
    expected = settings.sms_report_secret.encode()
    if not expected or not hmac.compare_digest(expected, (given or "").encode()):
        raise Unauthenticated(
            f"Compte rendu de remise refusé : secret absent ou invalide ({REPORT_SECRET_HEADER})."
        )


async def record_delivery_report(
    session: AsyncSession, report: DeliveryReport, *, now: datetime | None = None
) -> DeliveryReceipt:
    """Apply a delivery report (the caller checked the secret and commits): the message
    becomes ``delivre`` or ``echec``. A report about an unknown message, or one that changes
    nothing (a copy, an event that is not about delivery), is ``ignored``."""
    row = await SmsRepository(session).by_provider_id(report.message_id)
    if row is None:
        log.info("sms report for an unknown message", extra={"message_id": report.message_id})
        return DeliveryReceipt(status="ignored")
    new = status_after_report(SmsStatus(row.status), report.event)
    if new is None:
        return DeliveryReceipt(status="ignored", sms_status=SmsStatus(row.status))
    row.status = new.value
    row.status_at = now or utcnow()
    if new is SmsStatus.FAILED:
        row.last_error = (
            f"Non remis ({report.event}{' : ' + report.reason if report.reason else ''})."[:500]
        )
    else:
        row.last_error = None
    return DeliveryReceipt(status="applied", sms_status=new)
