"""A transactional SMS provider in the HTTP shape of Brevo's API: ``POST
/sms/v3/transactionalSMS/sms`` with the ``api-key`` header and ``{sender, recipient, content,
type, tag}``, answered ``{reference, messageId, smsCount, usedCredits, remainingCredits}``; its
delivery reports go to Parcours as Brevo's webhook does (``{messageId, event: "delivered"…}``),
with the shared secret in ``X-Parcours-Sms-Secret``.

What Brevo does not promise and this simulator does: ``Idempotency-Key`` is honoured (the same
key gets the first answer back and sends nothing), so that tests can count what reached the
phones. Faults: the switches of ``sms`` (down, slow, answer held after sending) and the numbers
it refuses as invalid (``PUT /sms/_invalid-numbers``), answered 400 ``invalid_parameter`` as
Brevo does. ``GET /sms/_messages`` lists what it received (the tests' inspection, like the
mailbox).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field

from simulators.background import BackgroundWork
from simulators.config import SimulatorConfig
from simulators.errors import NotFound, PartnerError
from simulators.faults import Partner, Switchboard, partner_route
from simulators.idempotency import IdempotencyLedger, Outcome, idempotency_key

REPORT_SECRET_HEADER = "X-Parcours-Sms-Secret"
_RETRYABLE_4XX = {408, 429}
SmsEvent = Literal["delivered", "soft_bounce", "hard_bounce", "rejected", "blacklisted", "skip"]


class InvalidParameter(PartnerError):
    status_code = 400


class Unauthorized(PartnerError):
    status_code = 401


class SmsCreate(BaseModel):
    sender: str = Field(min_length=1, max_length=11)
    # The number with its country code, without "+" (Brevo's form: 33612345678).
    recipient: str = Field(min_length=6, max_length=15, pattern=r"^\d+$")
    content: str = Field(min_length=1, max_length=1530)
    type: Literal["transactional", "marketing"] = "transactional"
    tag: str | None = Field(default=None, max_length=100)


class SmsReceipt(BaseModel):
    reference: str
    messageId: int  # Brevo's names
    smsCount: int
    usedCredits: float
    remainingCredits: float


class ReportAttempt(BaseModel):
    at: datetime
    status_code: int | None = None
    error: str | None = None


class Report(BaseModel):
    event: SmsEvent
    outcome: Literal["pending", "delivered", "rejected", "failed", "not_configured"] = "pending"
    attempts: list[ReportAttempt] = Field(default_factory=list)


class SmsRecord(BaseModel):
    message_id: int
    reference: str
    idempotency_key: str
    received_at: datetime
    sms: SmsCreate
    status: str = "sent"
    reports: list[Report] = Field(default_factory=list)


class ReportCreate(BaseModel):
    event: SmsEvent = "delivered"
    reason: str | None = Field(default=None, max_length=300)


class InvalidNumbers(BaseModel):
    recipients: list[str] = Field(default_factory=list, description="Sans « + » : 33612345678")


def _parts(content: str) -> int:
    """SMS a text takes (GSM 7-bit: 160 characters, 153 each when concatenated)."""
    return 1 if len(content) <= 160 else -(-len(content) // 153)


class SmsGateway:
    """What the provider received, by message id and by idempotency key. Mutations never
    await."""

    def __init__(
        self,
        run_id: str,
        *,
        config: SimulatorConfig,
        switches: Switchboard,
        background: BackgroundWork,
    ) -> None:
        self._run_id = run_id
        self._config = config
        self._switches = switches
        self._background = background
        self._messages: dict[int, SmsRecord] = {}
        self._invalid: set[str] = set()
        self._http: httpx.AsyncClient | None = None
        self.ledger = IdempotencyLedger()
        self.credits = 1000.0
        # Message ids never seen before, even after a reset (Parcours finds a report by id).
        self._first_id = secrets.randbits(40) * 10_000

    def check_key(self, api_key: str | None) -> None:
        expected = self._config.sms_api_key
        if not api_key or (expected and api_key != expected):
            raise Unauthorized("Key not found")

    def receive(self, key: str, body: SmsCreate) -> Outcome:
        if body.recipient in self._invalid:
            raise InvalidParameter(f"Invalid phone number: {body.recipient}")

        def register() -> dict[str, Any]:
            message_id = self._first_id + len(self._messages) + 1
            parts = _parts(body.content)
            self.credits -= parts
            record = SmsRecord(
                message_id=message_id,
                reference=f"sms-{self._run_id.lower()}-{len(self._messages) + 1:06d}",
                idempotency_key=key,
                received_at=datetime.now(UTC),
                sms=body,
            )
            self._messages[message_id] = record
            if self._config.sms_report_delay_s is not None:
                self._background.spawn(
                    self._report_later(record, self._config.sms_report_delay_s),
                    name=f"sms report {message_id}",
                )
            return SmsReceipt(
                reference=record.reference,
                messageId=message_id,
                smsCount=parts,
                usedCredits=float(parts),
                remainingCredits=self.credits,
            ).model_dump(mode="json")

        return self.ledger.once(key, body, register)

    def set_invalid(self, numbers: InvalidNumbers) -> None:
        self._invalid = set(numbers.recipients)

    async def _report_later(self, record: SmsRecord, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self.report(record.message_id, ReportCreate(event="delivered"))

    async def report(self, message_id: int, body: ReportCreate) -> Report:
        """Tell Parcours what became of the message (its webhook), now."""
        record = self._messages.get(message_id)
        if record is None:
            raise NotFound(f"Aucun SMS {message_id}.")
        record.status = body.event
        report = Report(event=body.event)
        record.reports.append(report)
        payload = {
            "id": len(record.reports),
            "to": record.sms.recipient,
            "messageId": record.message_id,
            "reference": record.reference,
            "event": body.event,
            "msg_status": body.event,
            "reason": body.reason,
            "tag": record.sms.tag,
            "date": datetime.now(UTC).isoformat(),
            "status": "OK",
        }
        await self._deliver(report, payload)
        return report

    async def _deliver(self, report: Report, payload: dict[str, Any]) -> None:
        url = self._config.sms_report_url
        if url is None:
            report.outcome = "not_configured"
            return
        for attempt_number in range(self._config.callback_attempts):
            if attempt_number:
                await asyncio.sleep(self._config.callback_backoff_s * 2 ** (attempt_number - 1))
            attempt = ReportAttempt(at=datetime.now(UTC))
            report.attempts.append(attempt)
            try:
                response = await self._client().post(
                    url,
                    json=payload,
                    headers={REPORT_SECRET_HEADER: self._config.sms_report_secret},
                )
            except httpx.HTTPError as error:
                attempt.error = f"{type(error).__name__}: {error}"
                continue
            attempt.status_code = response.status_code
            if response.is_success:
                report.outcome = "delivered"
                return
            if response.status_code < 500 and response.status_code not in _RETRYABLE_4XX:
                report.outcome = "rejected"
                return
        report.outcome = "failed"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._config.callback_timeout_s)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def messages(self, recipient: str | None = None) -> list[dict[str, Any]]:
        wanted = recipient.removeprefix("+") if recipient else None
        return [
            record.model_dump(mode="json")
            for record in self._messages.values()
            if wanted is None or record.sms.recipient == wanted
        ]

    def state(self) -> dict[str, Any]:
        return {
            "messages": self.messages(),
            "messages_by_key": self.ledger.snapshot(),
            "invalid_numbers": sorted(self._invalid),
            "traffic": self._switches.traffic(Partner.SMS).model_dump(),
        }


def gateway(request: Request) -> SmsGateway:
    store: SmsGateway = request.app.state.partners.sms
    return store


Gateway = Annotated[SmsGateway, Depends(gateway)]
Key = Annotated[str, Depends(idempotency_key)]

operations = APIRouter(prefix="/sms", tags=["SMS"], route_class=partner_route(Partner.SMS))
controls = APIRouter(prefix="/sms", tags=["SMS — pilotage"])


@operations.post(
    "/v3/transactionalSMS/sms",
    summary="Envoyer un SMS transactionnel (interface de Brevo ; idempotent par clé)",
    response_model=SmsReceipt,
    status_code=201,
)
async def send_transactional_sms(
    body: SmsCreate,
    provider: Gateway,
    key: Key,
    api_key: Annotated[str | None, Header(alias="api-key")] = None,
) -> Response:
    provider.check_key(api_key)
    response = provider.receive(key, body).response()
    response.status_code = 201
    return response


@controls.get("/_messages", summary="Les SMS reçus (tous, ou ceux d'un numéro)")
async def read_messages(provider: Gateway, recipient: str | None = None) -> list[dict[str, Any]]:
    return provider.messages(recipient)


@controls.post(
    "/_report/{message_id}",
    summary="Envoyer à Parcours le compte rendu de remise d'un SMS (webhook)",
)
async def send_report(message_id: int, body: ReportCreate, provider: Gateway) -> Report:
    return await provider.report(message_id, body)


@controls.put(
    "/_invalid-numbers",
    summary="Les numéros que le fournisseur refuse comme invalides (remplace la liste)",
)
async def set_invalid_numbers(body: InvalidNumbers, provider: Gateway) -> InvalidNumbers:
    provider.set_invalid(body)
    return body


@controls.get("/_state", summary="Ce que le fournisseur de SMS détient")
async def read_state(provider: Gateway) -> dict[str, Any]:
    return provider.state()


router = APIRouter()
router.include_router(operations)
router.include_router(controls)
