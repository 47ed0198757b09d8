"""Callbacks from partners to Parcours: signed, retried, sometimes sent twice, all recorded.

A callback is one JSON body with a ``callback_id`` that never changes, so Parcours can recognise
a copy. Each HTTP attempt is signed afresh (new timestamp). Delivery is retried with exponential
backoff while Parcours answers 5xx, 408 or 429, or cannot be reached; any other 4xx is final.
With the partner's ``duplicate_callbacks`` switch on, the whole delivery happens twice in a row,
as when a partner missed the first acknowledgement.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from simulators.background import BackgroundWork
from simulators.config import SimulatorConfig
from simulators.faults import Partner, Switchboard
from simulators.signing import signed_headers

CallbackKind = Literal[
    "training_decision", "employment_entry", "orientation_answer", "orientation_decision"
]
DeliveryOutcome = Literal["pending", "delivered", "rejected", "failed", "not_configured"]
_RETRYABLE_4XX = {408, 429}


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = None
    error: str | None = None


class Delivery(BaseModel):
    """One copy of a callback (two when callbacks are duplicated)."""

    copy_number: int
    outcome: DeliveryOutcome = "pending"
    attempts: list[Attempt] = Field(default_factory=list)


class CallbackRecord(BaseModel):
    callback_id: str
    partner: Partner
    kind: CallbackKind
    reference: str | None
    body: dict[str, Any]
    deliveries: list[Delivery] = Field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(1 for delivery in self.deliveries if delivery.outcome == "delivered")


class CallbackSender:
    def __init__(
        self, config: SimulatorConfig, switches: Switchboard, background: BackgroundWork
    ) -> None:
        self._config = config
        self._switches = switches
        self._background = background
        self._http: httpx.AsyncClient | None = None
        self._records: list[CallbackRecord] = []

    def records(self, partner: Partner) -> list[CallbackRecord]:
        return [record for record in self._records if record.partner == partner]

    async def send(
        self,
        partner: Partner,
        kind: CallbackKind,
        fields: dict[str, Any],
        *,
        wait: bool,
    ) -> CallbackRecord:
        """Record a callback and deliver it: now (``wait``) or in the background."""
        body = {
            "callback_id": str(uuid.uuid4()),
            "partner": partner.value,
            "kind": kind,
            **fields,
            "sent_at": datetime.now(UTC).isoformat(),
        }
        record = CallbackRecord(
            callback_id=body["callback_id"],
            partner=partner,
            kind=kind,
            reference=fields.get("reference"),
            body=body,
        )
        self._records.append(record)
        copies = 2 if self._switches.get(partner).duplicate_callbacks else 1
        if wait:
            await self._deliver_all(record, copies)
        else:
            self._background.spawn(
                self._deliver_all(record, copies), name=f"callback {record.callback_id}"
            )
        return record

    async def _deliver_all(self, record: CallbackRecord, copies: int) -> None:
        payload = json.dumps(record.body, ensure_ascii=False).encode("utf-8")
        for copy_number in range(1, copies + 1):
            delivery = Delivery(copy_number=copy_number)
            record.deliveries.append(delivery)
            await self._deliver(delivery, payload)

    async def _deliver(self, delivery: Delivery, payload: bytes) -> None:
        url = self._config.callback_url
        if url is None:
            delivery.outcome = "not_configured"
            return
        for attempt_number in range(self._config.callback_attempts):
            if attempt_number:
                await asyncio.sleep(self._config.callback_backoff_s * 2 ** (attempt_number - 1))
            attempt = Attempt(at=datetime.now(UTC))
            delivery.attempts.append(attempt)
            headers = {
                "Content-Type": "application/json",
                **signed_headers(self._config.callback_secret, payload),
            }
            try:
                response = await self._client().post(url, content=payload, headers=headers)
            except httpx.HTTPError as error:
                attempt.error = f"{type(error).__name__}: {error}"
                continue
            attempt.status_code = response.status_code
            if response.is_success:
                delivery.outcome = "delivered"
                return
            if response.status_code < 500 and response.status_code not in _RETRYABLE_4XX:
                delivery.outcome = "rejected"
                return
        delivery.outcome = "failed"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._config.callback_timeout_s)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def records_state(records: list[CallbackRecord]) -> list[dict[str, Any]]:
    return [{**record.model_dump(mode="json"), "delivered": record.delivered} for record in records]
