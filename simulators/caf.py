"""The CAF: its feed of RSA beneficiaries (paged by cursor, or as a CSV file) and the look-up of a
household and its RSA status by CAF number."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from simulators.caf_feed import (
    RIGHTS_STATE_LABELS,
    EventKind,
    Household,
    RightsState,
    RsaEvent,
    events_to_csv,
    generate_events,
)
from simulators.errors import NotFound, PartnerError
from simulators.faults import Partner, Switchboard, partner_route
from simulators.idempotency import IdempotencyLedger, Outcome, idempotency_key


class FeedPage(BaseModel):
    events: list[RsaEvent]
    next: str = Field(description="Curseur à repasser dans « since » pour la suite")
    has_more: bool


class BeneficiaryRead(BaseModel):
    """A household and its RSA status, as the CAF knows them now."""

    caf_number: str
    nir: str
    first_name: str
    last_name: str
    birth_date: date
    rights_state: RightsState
    rights_state_label: str
    rights_opened_on: date | None
    subject_to_duties: bool
    suspension_reason: str | None
    closure_reason: str | None
    closed_on: date | None
    department: str
    household: Household
    updated_at: datetime


class FeedAppend(BaseModel):
    events: list[RsaEvent] = Field(max_length=50_000)


class FeedGenerate(BaseModel):
    count: int = Field(ge=1, le=50_000)
    seed: int = 0
    today: date | None = None


class FeedAppended(BaseModel):
    appended: int
    skipped: int = Field(description="Événements déjà présents (même event_id)")
    cursor: str


class SanctionNotice(BaseModel):
    """A suspension-remobilisation decision of the département, or its lifting (décret
    2025-478): what the CAF applies to the monthly RSA."""

    caf_number: str = Field(min_length=1, max_length=20)
    case_id: str = Field(min_length=1, max_length=36)
    event: Literal["decided", "lifted"]
    measure: Literal["suspension", "removal"]
    rate_percent: int = Field(ge=1, le=100)
    starts_on: date
    ends_on: date


class SanctionReceipt(BaseModel):
    reference: str
    case_id: str
    event: str


class InvalidCursor(PartnerError):
    status_code = 400


class CafRegistry:
    """The CAF's side: every event it published, in order, and each beneficiary's latest state.

    The cursor of an event is its position in the feed (1, 2, …); ``since`` returns what came
    after. Mutations never await, so on one event loop they are atomic.
    """

    def __init__(self, switches: Switchboard, page_size: int) -> None:
        self._switches = switches
        self.page_size = page_size
        self._events: list[RsaEvent] = []
        self._event_ids: set[str] = set()
        self._beneficiaries: dict[str, BeneficiaryRead] = {}
        self.lookups = 0
        # Sanction decisions and liftings received, in order (once per idempotency key).
        self._sanctions: list[dict[str, Any]] = []
        self.sanction_ledger = IdempotencyLedger()

    def receive_sanction(self, key: str, body: SanctionNotice) -> Outcome:
        def record() -> dict[str, Any]:
            reference = f"CAF-SAN-{len(self._sanctions) + 1:06d}"
            self._sanctions.append({"reference": reference, **body.model_dump(mode="json")})
            receipt = SanctionReceipt(reference=reference, case_id=body.case_id, event=body.event)
            return receipt.model_dump(mode="json")

        return self.sanction_ledger.once(key, body, record)

    def append(self, events: list[RsaEvent]) -> FeedAppended:
        appended = skipped = 0
        for event in events:
            if event.event_id in self._event_ids:
                skipped += 1
                continue
            self._events.append(event)
            self._event_ids.add(event.event_id)
            self._apply(event)
            appended += 1
        return FeedAppended(appended=appended, skipped=skipped, cursor=str(len(self._events)))

    def _apply(self, event: RsaEvent) -> None:
        self._beneficiaries[event.caf_number] = BeneficiaryRead(
            caf_number=event.caf_number,
            nir=event.nir,
            first_name=event.first_name,
            last_name=event.last_name,
            birth_date=event.birth_date,
            rights_state=event.rights_state,
            rights_state_label=RIGHTS_STATE_LABELS[event.rights_state],
            rights_opened_on=event.rights_opened_on,
            subject_to_duties=event.subject_to_duties,
            suspension_reason=event.suspension_reason,
            closure_reason=event.closure_reason,
            closed_on=event.closed_on,
            department=event.department,
            household=event.household,
            updated_at=datetime.now(UTC),
        )

    def _position(self, since: str | None) -> int:
        if since is None or since == "":
            return 0
        if not (since.isascii() and since.isdigit()) or int(since) > len(self._events):
            raise InvalidCursor(f"Curseur « {since} » inconnu de ce flux.")
        return int(since)

    def page(self, since: str | None, limit: int | None) -> FeedPage:
        start = self._position(since)
        size = limit or self.page_size
        events = self._events[start : start + size]
        end = start + len(events)
        return FeedPage(events=events, next=str(end), has_more=end < len(self._events))

    def events_since(self, since: str | None) -> list[RsaEvent]:
        return self._events[self._position(since) :]

    def beneficiary(self, caf_number: str) -> BeneficiaryRead:
        self.lookups += 1
        found = self._beneficiaries.get(caf_number)
        if found is None:
            raise NotFound(f"Aucun allocataire RSA sous le matricule {caf_number}.")
        return found

    def state(self) -> dict[str, Any]:
        by_kind = {kind.value: 0 for kind in EventKind}
        for event in self._events:
            by_kind[event.kind.value] += 1
        return {
            "events": len(self._events),
            "events_by_kind": by_kind,
            "cursor": str(len(self._events)),
            "beneficiaries": len(self._beneficiaries),
            "lookups": self.lookups,
            "sanctions": list(self._sanctions),
            "sanctions_by_key": self.sanction_ledger.snapshot(),
            "traffic": self._switches.traffic(Partner.CAF).model_dump(),
        }


def registry(request: Request) -> CafRegistry:
    caf: CafRegistry = request.app.state.partners.caf
    return caf


Registry = Annotated[CafRegistry, Depends(registry)]

operations = APIRouter(prefix="/caf", tags=["CAF"], route_class=partner_route(Partner.CAF))
controls = APIRouter(prefix="/caf", tags=["CAF — pilotage"])


@operations.get("/feed", summary="Flux des bénéficiaires du RSA, par page")
async def read_feed(
    caf: Registry,
    since: Annotated[str | None, Query(description="Curseur rendu par la page précédente")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> FeedPage:
    return caf.page(since, limit)


@operations.get(
    "/feed.csv",
    summary="Flux des bénéficiaires du RSA, en fichier CSV (séparateur « ; »)",
    response_class=PlainTextResponse,
)
async def read_feed_file(caf: Registry, since: str | None = None) -> PlainTextResponse:
    return PlainTextResponse(
        events_to_csv(caf.events_since(since)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="flux-rsa.csv"'},
    )


@operations.get("/beneficiaries/{caf_number}", summary="Foyer et situation RSA d'un allocataire")
async def read_beneficiary(caf_number: str, caf: Registry) -> BeneficiaryRead:
    return caf.beneficiary(caf_number)


@operations.post(
    "/sanctions",
    summary="Transmettre une décision de suspension-remobilisation ou sa levée (idempotent)",
    response_model=SanctionReceipt,
)
async def receive_sanction(
    body: SanctionNotice, caf: Registry, key: Annotated[str, Depends(idempotency_key)]
) -> Response:
    return caf.receive_sanction(key, body).response()


@controls.post("/_feed", summary="Ajouter des événements au flux (tests, démo)")
async def append_events(body: FeedAppend, caf: Registry) -> FeedAppended:
    return caf.append(body.events)


@controls.post("/_feed/generate", summary="Ajouter au flux des événements générés")
async def append_generated_events(body: FeedGenerate, caf: Registry) -> FeedAppended:
    return caf.append(generate_events(body.count, seed=body.seed, today=body.today))


@controls.get("/_state", summary="Ce que la CAF détient")
async def read_state(caf: Registry) -> dict[str, Any]:
    return caf.state()


router = APIRouter()
router.include_router(operations)
router.include_router(controls)
