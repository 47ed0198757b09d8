"""The service structures of the resource base (CCAS, associations, SIAE…): they receive the
orientation of a person to one of their services, then accept or refuse it, with a reason.
Parcours cancels an orientation whose journey closed before the answer (idempotent by key)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, model_validator

from simulators.callbacks import CallbackRecord, CallbackSender, records_state
from simulators.errors import Conflict, NotFound
from simulators.faults import Partner, Switchboard, partner_route
from simulators.idempotency import IdempotencyLedger, Outcome, idempotency_key
from simulators.schemas import Referent


class OrientedPerson(BaseModel):
    """What a structure needs to reach the person; no NIR, structures have no use for it."""

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    birth_date: date | None = None
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=254)


class ServiceOrientationCreate(BaseModel):
    orientation_id: str = Field(min_length=1, max_length=100, description="Identifiant Parcours")
    # The structure and service as data·inclusion names them (its ids are up to 200 long).
    structure_id: str = Field(min_length=1, max_length=200)
    service_id: str = Field(min_length=1, max_length=200)
    person: OrientedPerson
    referent: Referent | None = None
    message: str | None = Field(default=None, max_length=2000)


class OrientationReceipt(BaseModel):
    reference: str
    status: Literal["received"] = "received"


class AnswerCreate(BaseModel):
    accepted: bool
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _refusal_has_reason(self) -> AnswerCreate:
        if not self.accepted and not (self.reason and self.reason.strip()):
            raise ValueError("un refus doit être motivé (reason)")
        return self


class ReminderCreate(BaseModel):
    orientation_id: str = Field(min_length=1, max_length=100, description="Identifiant Parcours")


class ReminderReceipt(BaseModel):
    reference: str
    reminders: int


class CancellationCreate(BaseModel):
    orientation_id: str = Field(min_length=1, max_length=100, description="Identifiant Parcours")
    reason: Literal["journey_closed"] = "journey_closed"


class CancellationReceipt(BaseModel):
    reference: str
    status: Literal["cancelled"] = "cancelled"


class CancellationRecord(BaseModel):
    reason: str
    cancelled_at: datetime


class AnswerRecord(BaseModel):
    accepted: bool
    reason: str | None
    answered_at: datetime


class OrientationRecord(BaseModel):
    reference: str
    idempotency_key: str
    received_at: datetime
    orientation: ServiceOrientationCreate
    answer: AnswerRecord | None = None
    reminded_at: list[datetime] = Field(default_factory=list)
    cancellation: CancellationRecord | None = None

    @property
    def status(self) -> str:
        if self.cancellation is not None:
            return "cancelled"
        if self.answer is None:
            return "received"
        return "accepted" if self.answer.accepted else "refused"


class AnswerSent(BaseModel):
    reference: str
    answer: AnswerRecord
    callback: CallbackRecord


class Structures:
    """Every structure's inbox of orientations, in one store. Mutations never await."""

    def __init__(self, run_id: str, *, switches: Switchboard, callbacks: CallbackSender) -> None:
        self._run_id = run_id
        self._switches = switches
        self._callbacks = callbacks
        self._orientations: dict[str, OrientationRecord] = {}
        self.ledger = IdempotencyLedger()
        self.reminder_ledger = IdempotencyLedger()
        self.cancellation_ledger = IdempotencyLedger()

    def receive(self, key: str, body: ServiceOrientationCreate) -> Outcome:
        def register() -> dict[str, Any]:
            reference = f"STR-ORI-{self._run_id}-{len(self._orientations) + 1:06d}"
            self._orientations[reference] = OrientationRecord(
                reference=reference,
                idempotency_key=key,
                received_at=datetime.now(UTC),
                orientation=body,
            )
            return OrientationReceipt(reference=reference).model_dump(mode="json")

        return self.ledger.once(key, body, register)

    def remind(self, reference: str, key: str, body: ReminderCreate) -> Outcome:
        """Parcours reminds the structure of an orientation still unanswered (Dora's circuit:
        after 10 days); once per key."""
        record = self._orientations.get(reference)
        if record is None or record.orientation.orientation_id != body.orientation_id:
            raise NotFound(f"Aucune orientation {reference} pour {body.orientation_id}.")

        def register() -> dict[str, Any]:
            record.reminded_at.append(datetime.now(UTC))
            receipt = ReminderReceipt(reference=reference, reminders=len(record.reminded_at))
            return receipt.model_dump(mode="json")

        return self.reminder_ledger.once(key, body, register)

    def cancel(self, reference: str, key: str, body: CancellationCreate) -> Outcome:
        """Parcours cancels an orientation (the person's journey closed); once per key. One
        already answered is cancelled all the same: the answer, sent meanwhile, reaches an
        orientation Parcours no longer follows."""
        record = self._orientations.get(reference)
        if record is None or record.orientation.orientation_id != body.orientation_id:
            raise NotFound(f"Aucune orientation {reference} pour {body.orientation_id}.")

        def register() -> dict[str, Any]:
            if record.cancellation is None:
                record.cancellation = CancellationRecord(
                    reason=body.reason, cancelled_at=datetime.now(UTC)
                )
            return CancellationReceipt(reference=reference).model_dump(mode="json")

        return self.cancellation_ledger.once(key, body, register)

    async def answer(self, reference: str, body: AnswerCreate, *, wait: bool) -> AnswerSent:
        record = self._orientations.get(reference)
        if record is None:
            raise NotFound(f"Aucune orientation {reference}.")
        if record.cancellation is not None:
            raise Conflict(f"L'orientation {reference} a été annulée par Parcours.")
        if record.answer is not None:
            verdict = "acceptée" if record.answer.accepted else "refusée"
            raise Conflict(f"L'orientation {reference} a déjà été {verdict}.")
        record.answer = AnswerRecord(
            accepted=body.accepted,
            reason=body.reason,
            answered_at=datetime.now(UTC),
        )
        callback = await self._callbacks.send(
            Partner.STRUCTURES,
            "orientation_answer",
            {
                "reference": reference,
                "orientation_id": record.orientation.orientation_id,
                "structure_id": record.orientation.structure_id,
                "service_id": record.orientation.service_id,
                "accepted": record.answer.accepted,
                "reason": record.answer.reason,
                "answered_at": record.answer.answered_at.isoformat(),
            },
            wait=wait,
        )
        return AnswerSent(reference=reference, answer=record.answer, callback=callback)

    def state(self) -> dict[str, Any]:
        return {
            "orientations": [
                {**record.model_dump(mode="json"), "status": record.status}
                for record in self._orientations.values()
            ],
            "orientations_by_key": self.ledger.snapshot(),
            "reminders_by_key": self.reminder_ledger.snapshot(),
            "cancellations_by_key": self.cancellation_ledger.snapshot(),
            "callbacks": records_state(self._callbacks.records(Partner.STRUCTURES)),
            "traffic": self._switches.traffic(Partner.STRUCTURES).model_dump(),
        }


def structures(request: Request) -> Structures:
    store: Structures = request.app.state.partners.structures
    return store


Inbox = Annotated[Structures, Depends(structures)]
Key = Annotated[str, Depends(idempotency_key)]

operations = APIRouter(
    prefix="/structures", tags=["Structures"], route_class=partner_route(Partner.STRUCTURES)
)
controls = APIRouter(prefix="/structures", tags=["Structures — pilotage"])


@operations.post(
    "/orientations",
    summary="Orienter une personne vers un service (idempotente par clé)",
    response_model=OrientationReceipt,
)
async def orient_to_service(body: ServiceOrientationCreate, inbox: Inbox, key: Key) -> Response:
    return inbox.receive(key, body).response()


@operations.post(
    "/orientations/{reference}/reminders",
    summary="Relancer la structure sur une orientation sans réponse (idempotente par clé)",
    response_model=ReminderReceipt,
)
async def remind(reference: str, body: ReminderCreate, inbox: Inbox, key: Key) -> Response:
    return inbox.remind(reference, key, body).response()


@operations.post(
    "/orientations/{reference}/cancellation",
    summary="Annuler une orientation (parcours clôturé ; idempotente par clé)",
    response_model=CancellationReceipt,
)
async def cancel(reference: str, body: CancellationCreate, inbox: Inbox, key: Key) -> Response:
    return inbox.cancel(reference, key, body).response()


@controls.post(
    "/_answer/{reference}",
    summary="Accepter ou refuser l'orientation (rappel signé vers Parcours)",
    description="Un refus est motivé. Avec wait=true, la réponse attend la livraison du rappel.",
)
async def answer_orientation(
    reference: str, body: AnswerCreate, inbox: Inbox, wait: bool = False
) -> AnswerSent:
    return await inbox.answer(reference, body, wait=wait)


@controls.get("/_state", summary="Ce que les structures détiennent")
async def read_state(inbox: Inbox) -> dict[str, Any]:
    return inbox.state()


router = APIRouter()
router.include_router(operations)
router.include_router(controls)
