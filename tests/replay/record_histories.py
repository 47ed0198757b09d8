"""Records real ``Journey`` histories for the replay tests.

    .venv/bin/python -m tests.replay.record_histories

Runs a few journeys on the time-skipping server with the real worker (its read model in a
throwaway SQLite file) and writes each history to ``tests/replay/histories/<scenario>.json``.
Re-record only to add a scenario: the point of the files is that workflow code changed later
still replays the histories that running journeys already have.

Ids are fixed and no personal data is involved (payloads carry ids and decisions only).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cli.temporal_server import SEARCH_ATTRIBUTES, binary
from parcours.carnet.models import Beneficiary
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import ROOT
from parcours.journey import rules
from parcours.journey.messages import (
    Action,
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    EmploymentContract,
    ExitReason,
    HandOffInput,
    JourneyInput,
    JourneyResult,
    JourneyState,
    OrientationKind,
    OrientToServiceInput,
    PauseInput,
    ReassignReferentInput,
    RecordCheckInInput,
    RecordEmploymentInput,
    RequestTrainingInput,
    ResumeInput,
    RsaRightsChangedInput,
    RsaStatus,
    SignContractInput,
    journey_workflow_id,
)
from worker.assembly import build_worker
from workflows.journey import Journey

HISTORIES = Path(__file__).parent / "histories"
TASK_QUEUE = "record-histories"
IDENTITY = "parcours-record-histories"

REFERENT = "00000000-0000-4000-8000-0000000000a1"
OTHER_REFERENT = "00000000-0000-4000-8000-0000000000a2"
ORIENTATION_OFFICER = "00000000-0000-4000-8000-0000000000a3"
STRUCTURE = "00000000-0000-4000-8000-0000000000b1"

JourneyHandle = WorkflowHandle[Any, JourneyResult]


class Recorder:
    def __init__(self, env: WorkflowEnvironment, client: Client) -> None:
        self.env, self.client = env, client

    async def today(self) -> date:
        return (await self.env.get_current_time()).date()

    async def start(self, beneficiary_id: str) -> JourneyHandle:
        return await self.client.start_workflow(
            Journey.run,
            JourneyInput(
                beneficiary_id=beneficiary_id,
                territory="73",
                referent_id=REFERENT,
                structure_id=STRUCTURE,
                rsa_opened_on=await self.today(),
                actor_id=ORIENTATION_OFFICER,
                # As the platform starts journeys today: it writes their first events itself.
                started_at=await self.env.get_current_time(),
            ),
            id=journey_workflow_id(beneficiary_id),
            task_queue=TASK_QUEUE,
        )

    async def act(self, handle: JourneyHandle, action: Action) -> JourneyState:
        return await handle.execute_update(rules.name_of(action), action, result_type=JourneyState)

    async def refused(self, handle: JourneyHandle, action: Action) -> None:
        try:
            await self.act(handle, action)
        except WorkflowUpdateFailedError:
            return
        raise AssertionError(f"{type(action).__name__} should have been refused")

    async def until(self, handle: JourneyHandle, done: Callable[[JourneyState], bool]) -> None:
        async with asyncio.timeout(30):
            while not done(await handle.query(Journey.current)):
                await asyncio.sleep(0.05)

    async def advance_to(self, moment: datetime) -> None:
        await self.env.sleep(moment - await self.env.get_current_time())


def check_in_due(month: int) -> Callable[[JourneyState], bool]:
    return lambda state: state.check_in_due == month


async def complete_journey(r: Recorder, handle: JourneyHandle) -> None:
    """Intake to sustained employment: every step, the three check-ins on their timers."""
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    await r.act(handle, CompleteDiagnosisInput(actor_id=REFERENT))
    await r.act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.PROFESSIONAL,
            structure_id=STRUCTURE,
            referent_id=OTHER_REFERENT,
            actor_id=ORIENTATION_OFFICER,
        ),
    )
    today = await r.today()
    await r.act(handle, SignContractInput(signed_on=today, ends_on=today + timedelta(days=120)))
    state = await r.act(
        handle,
        RecordEmploymentInput(
            started_on=today, contract=EmploymentContract.CDI, follow_up_consent=True
        ),
    )
    assert state.follow_up_since is not None
    for month in (1, 3, 6):
        await r.advance_to(rules.add_months(state.follow_up_since, month) + timedelta(hours=1))
        await r.until(handle, check_in_due(month))
        if month == 1:
            await r.refused(handle, RecordCheckInInput(month=3, still_employed=True))
        await r.act(handle, RecordCheckInInput(month=month, still_employed=True))
    assert (await handle.result()).exit_reason is ExitReason.SUSTAINED_EMPLOYMENT


async def paused_and_reassigned(r: Recorder, handle: JourneyHandle) -> None:
    """A pause that ends by itself, one resumed by hand, a new référent, a move to another
    département, then a refusal."""
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    await r.act(handle, PauseInput(until=await r.today() + timedelta(days=10)))
    await r.refused(handle, CompleteDiagnosisInput())
    await r.advance_to(await r.env.get_current_time() + timedelta(days=11))
    await r.act(handle, PauseInput())
    await r.act(handle, ResumeInput())
    await r.act(handle, ReassignReferentInput(referent_id=OTHER_REFERENT))
    await r.act(handle, CompleteDiagnosisInput(actor_id=OTHER_REFERENT))
    await r.act(handle, HandOffInput(territory="74"))
    await r.act(handle, CloseInput(exit_reason=ExitReason.DECLINED))
    assert (await handle.result()).exit_reason is ExitReason.DECLINED


async def stalled_then_moved_on(r: Recorder, handle: JourneyHandle) -> None:
    """Intake left past its deadline, taken up again, then the CAF closes the rights."""
    started = await handle.query(Journey.current)
    assert started.deadline is not None
    await r.advance_to(started.deadline + timedelta(days=2))
    await r.until(handle, lambda s: s.stalled)
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    today = await r.today()
    await handle.signal(
        Journey.rsa_rights_changed,
        RsaRightsChangedInput(status=RsaStatus.SUSPENDED, effective_on=today),
    )
    await r.until(handle, lambda s: s.rsa_status is RsaStatus.SUSPENDED)
    await handle.signal(
        Journey.rsa_rights_changed,
        RsaRightsChangedInput(status=RsaStatus.CLOSED, effective_on=today),
    )
    assert (await handle.result()).exit_reason is ExitReason.RIGHTS_CLOSED


async def closed_with_requests(r: Recorder, handle: JourneyHandle) -> None:
    """An orientation to a service and a training request (child workflows), then the journey
    closed: it withdraws what still waits (patch ``settle-requests-on-close``). Recorded alone
    (the others left as they were): ``SCENARIOS`` narrowed to it before ``record_all``."""
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    await r.act(
        handle,
        OrientToServiceInput(
            orientation_id="00000000-0000-4000-8000-0000000000d1",
            service_id="1",
            resource_structure_id="1",
            plan_action_id="00000000-0000-4000-8000-0000000000d2",
            actor_id=REFERENT,
        ),
    )
    await r.act(handle, CompleteDiagnosisInput(actor_id=REFERENT))
    await r.act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.SOCIO_PROFESSIONAL,
            structure_id=STRUCTURE,
            referent_id=REFERENT,
            actor_id=ORIENTATION_OFFICER,
        ),
    )
    await r.act(
        handle,
        RequestTrainingInput(
            request_id="00000000-0000-4000-8000-0000000000e1",
            training_id="00000000-0000-4000-8000-0000000000e2",
            funder="region",
            actor_id=REFERENT,
        ),
    )
    await r.act(handle, CloseInput(exit_reason=ExitReason.DECLINED, actor_id=REFERENT))
    assert (await handle.result()).exit_reason is ExitReason.DECLINED


SCENARIOS: dict[str, tuple[str, Callable[[Recorder, JourneyHandle], Awaitable[None]]]] = {
    "complete_journey": ("00000000-0000-4000-8000-000000000001", complete_journey),
    "paused_and_reassigned": ("00000000-0000-4000-8000-000000000002", paused_and_reassigned),
    "stalled_then_moved_on": ("00000000-0000-4000-8000-000000000003", stalled_then_moved_on),
    "closed_with_requests": ("00000000-0000-4000-8000-000000000004", closed_with_requests),
}


async def record_all() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/record.db"
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["database_url"] = database_url
        await asyncio.to_thread(command.upgrade, config, "head")
        engine = create_engine(database_url)
        sessions = create_sessionmaker(engine)
        async with transaction(sessions) as session:
            for beneficiary_id, _ in SCENARIOS.values():
                session.add(
                    Beneficiary(
                        id=beneficiary_id,
                        first_name="Histoire",
                        last_name="Rejouée",
                        birth_date=date(1980, 1, 1),
                        territory="73",
                    )
                )

        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        )
        try:
            await env.client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace="default",
                    search_attributes={
                        key: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
                        for key, kind in SEARCH_ATTRIBUTES.items()
                    },
                )
            )
            # A fixed identity, so the files name no machine.
            client = await Client.connect(
                env.client.service_client.config.target_host,
                namespace=env.client.namespace,
                data_converter=pydantic_data_converter,
                identity=IDENTITY,
            )
            recorder = Recorder(env, client)
            HISTORIES.mkdir(exist_ok=True)
            async with build_worker(client, sessions, TASK_QUEUE):
                for name, (beneficiary_id, scenario) in SCENARIOS.items():
                    handle = await recorder.start(beneficiary_id)
                    await scenario(recorder, handle)
                    history = await handle.fetch_history()
                    path = HISTORIES / f"{name}.json"
                    path.write_text(history.to_json() + "\n")
                    print(f"{path.relative_to(ROOT)}: {len(history.events)} events")
        finally:
            await env.shutdown()
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(record_all())
