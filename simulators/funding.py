"""A training funder's desk, the same at France Travail (AIF) and at the Région: it receives
funding requests (idempotent by key), then sends its decision back to Parcours as a signed
callback, when told to or on its own after a delay. Parcours withdraws a request whose
journey closed (idempotent by key): the desk then decides nothing more on it."""

# No ``from __future__ import annotations`` here: FastAPI must resolve the endpoints' annotations,
# which name dependencies local to ``add_training_routes``.
import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, model_validator

from simulators.background import BackgroundWork
from simulators.callbacks import CallbackRecord, CallbackSender, records_state
from simulators.errors import Conflict, NotFound
from simulators.faults import Partner, Switchboard
from simulators.idempotency import IdempotencyLedger, Outcome, idempotency_key
from simulators.schemas import PersonRef, Referent

Decision = Literal["approved", "refused"]
CENT = Decimal("0.01")


class TrainingRef(BaseModel):
    training_id: str | None = Field(default=None, max_length=100)
    title: str = Field(min_length=1, max_length=300)
    provider: str = Field(min_length=1, max_length=300)
    starts_on: date
    ends_on: date | None = None
    hours: int | None = Field(default=None, ge=1, le=5000)
    location: str | None = Field(default=None, max_length=200)


class TrainingRequestCreate(BaseModel):
    request_id: str = Field(min_length=1, max_length=100, description="Identifiant côté Parcours")
    person: PersonRef
    training: TrainingRef
    requested_amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    referent: Referent | None = None
    comment: str | None = Field(default=None, max_length=2000)


class TrainingRequestReceipt(BaseModel):
    reference: str
    status: Literal["received"] = "received"


class DecisionCreate(BaseModel):
    """A funder's decision; left out, the start date and amount are the requested ones."""

    decision: Decision
    start_date: date | None = None
    amount: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _refusal_has_reason(self) -> Self:
        if self.decision == "refused" and not (self.reason and self.reason.strip()):
            raise ValueError("un refus doit être motivé (reason)")
        return self


class WithdrawalCreate(BaseModel):
    request_id: str = Field(min_length=1, max_length=100, description="Identifiant côté Parcours")
    reason: Literal["journey_closed"] = "journey_closed"


class WithdrawalReceipt(BaseModel):
    reference: str
    status: Literal["withdrawn"] = "withdrawn"


class WithdrawalRecord(BaseModel):
    reason: str
    withdrawn_at: datetime


class DecisionRecord(BaseModel):
    decision: Decision
    start_date: date | None
    amount: Decimal | None
    reason: str | None
    decided_at: datetime
    automatic: bool


class TrainingRequestRecord(BaseModel):
    reference: str
    idempotency_key: str
    received_at: datetime
    request: TrainingRequestCreate
    decision: DecisionRecord | None = None
    withdrawal: WithdrawalRecord | None = None

    @property
    def status(self) -> str:
        if self.withdrawal:
            return "withdrawn"
        return self.decision.decision if self.decision else "received"


class DecisionSent(BaseModel):
    reference: str
    decision: DecisionRecord
    callback: CallbackRecord


class FundingDesk:
    """One funder's training requests. Mutations never await (atomic on one event loop)."""

    def __init__(
        self,
        partner: Partner,
        reference_prefix: str,
        ceiling: Decimal,
        *,
        switches: Switchboard,
        callbacks: CallbackSender,
        background: BackgroundWork,
        decision_delay_s: float | None,
    ) -> None:
        self.partner = partner
        self._prefix = reference_prefix
        self._ceiling = ceiling
        self._switches = switches
        self._callbacks = callbacks
        self._background = background
        self._decision_delay_s = decision_delay_s
        self._requests: dict[str, TrainingRequestRecord] = {}
        self.ledger = IdempotencyLedger()
        self.withdrawal_ledger = IdempotencyLedger()

    def receive(self, key: str, body: TrainingRequestCreate) -> Outcome:
        def register() -> dict[str, Any]:
            reference = f"{self._prefix}-{len(self._requests) + 1:06d}"
            self._requests[reference] = TrainingRequestRecord(
                reference=reference,
                idempotency_key=key,
                received_at=datetime.now(UTC),
                request=body,
            )
            if self._decision_delay_s is not None:
                self._background.spawn(
                    self._decide_later(reference, self._decision_delay_s),
                    name=f"décision {reference}",
                )
            return TrainingRequestReceipt(reference=reference).model_dump(mode="json")

        return self.ledger.once(key, body, register)

    def withdraw(self, reference: str, key: str, body: WithdrawalCreate) -> Outcome:
        """Parcours withdraws a request (the person's journey closed); once per key. A
        request the desk already decided is withdrawn all the same: the decision, sent
        meanwhile, reaches a request Parcours no longer follows."""
        record = self._requests.get(reference)
        if record is None or record.request.request_id != body.request_id:
            raise NotFound(f"Aucune demande de financement {reference} pour {body.request_id}.")

        def register() -> dict[str, Any]:
            if record.withdrawal is None:
                record.withdrawal = WithdrawalRecord(
                    reason=body.reason, withdrawn_at=datetime.now(UTC)
                )
            return WithdrawalReceipt(reference=reference).model_dump(mode="json")

        return self.withdrawal_ledger.once(key, body, register)

    def automatic_decision(self, request: TrainingRequestCreate) -> DecisionCreate:
        """What the funder decides on its own: yes up to its ceiling, no beyond."""
        if request.requested_amount <= self._ceiling:
            return DecisionCreate(decision="approved")
        return DecisionCreate(
            decision="refused",
            reason=(
                f"Le coût demandé ({request.requested_amount} €) dépasse le plafond de prise en "
                f"charge ({self._ceiling} €)."
            ),
        )

    async def decide(
        self, reference: str, body: DecisionCreate | None, *, wait: bool
    ) -> DecisionSent:
        record = self._requests.get(reference)
        if record is None:
            raise NotFound(f"Aucune demande de financement {reference}.")
        if record.withdrawal is not None:
            raise Conflict(f"La demande {reference} a été retirée par Parcours : rien à décider.")
        if record.decision is not None:
            raise Conflict(
                f"La demande {reference} a déjà reçu une décision ({record.decision.decision})."
            )
        automatic = body is None
        chosen = body or self.automatic_decision(record.request)
        start_date = amount = None
        if chosen.decision == "approved":
            start_date = chosen.start_date or record.request.training.starts_on
            granted = record.request.requested_amount if chosen.amount is None else chosen.amount
            amount = granted.quantize(CENT)
        record.decision = DecisionRecord(
            decision=chosen.decision,
            start_date=start_date,
            amount=amount,
            reason=chosen.reason,
            decided_at=datetime.now(UTC),
            automatic=automatic,
        )
        callback = await self._callbacks.send(
            self.partner,
            "training_decision",
            {
                "reference": reference,
                "request_id": record.request.request_id,
                "decision": record.decision.decision,
                "start_date": _iso(record.decision.start_date),
                "amount": None if record.decision.amount is None else str(record.decision.amount),
                "reason": record.decision.reason,
                "decided_at": record.decision.decided_at.isoformat(),
            },
            wait=wait,
        )
        return DecisionSent(reference=reference, decision=record.decision, callback=callback)

    async def _decide_later(self, reference: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        record = self._requests.get(reference)
        if record is not None and record.decision is None and record.withdrawal is None:
            await self.decide(reference, None, wait=True)

    def state(self) -> dict[str, Any]:
        return {
            "training_requests": [
                {**record.model_dump(mode="json"), "status": record.status}
                for record in self._requests.values()
            ],
            "training_requests_by_key": self.ledger.snapshot(),
            "withdrawals_by_key": self.withdrawal_ledger.snapshot(),
            "callbacks": records_state(self._callbacks.records(self.partner)),
            "traffic": self._switches.traffic(self.partner).model_dump(),
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def add_training_routes(
    operations: APIRouter, controls: APIRouter, desk_of: Callable[[Request], FundingDesk]
) -> None:
    """The training-request endpoints of one funder, on its routers."""
    Desk = Annotated[FundingDesk, Depends(desk_of)]
    Key = Annotated[str, Depends(idempotency_key)]

    @operations.post(
        "/training-requests",
        summary="Demande de financement d'une formation (idempotente par clé)",
        response_model=TrainingRequestReceipt,
    )
    async def request_training(body: TrainingRequestCreate, desk: Desk, key: Key) -> Response:
        return desk.receive(key, body).response()

    @operations.post(
        "/training-requests/{reference}/withdrawal",
        summary="Retirer une demande de financement (parcours clôturé ; idempotente par clé)",
        response_model=WithdrawalReceipt,
    )
    async def withdraw_training_request(
        reference: str, body: WithdrawalCreate, desk: Desk, key: Key
    ) -> Response:
        return desk.withdraw(reference, key, body).response()

    @controls.post(
        "/_decide/{reference}",
        summary="Rendre la décision (rappel signé vers Parcours)",
        description=(
            "Sans corps : la règle automatique du financeur (accord sous son plafond). "
            "Avec wait=true, la réponse attend la fin de la livraison du rappel."
        ),
    )
    async def decide(
        reference: str, desk: Desk, body: DecisionCreate | None = None, wait: bool = False
    ) -> DecisionSent:
        return await desk.decide(reference, body, wait=wait)
