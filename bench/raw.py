"""The bare journey: the ``Journey`` workflow's shape with nothing of Parcours in it.

One no-op activity at start, then six updates, each with a validator and one no-op activity:
as many round trips to the server as a journey enrolled and moved to its end through the API.
With ``BareCosts(local_activities=True)`` the activities are local, as the ``Journey``'s
read-model writes are: the cheapest workflow of the same semantics. ``touch`` is a bare update
with a no-op local activity (the anchor of an action's latency); ``touch_recorded`` the same
with an ordinary activity, run once the engine has recorded the update, as the ``Journey``'s
read-model write is (its guarantee: nothing shown that the engine did not record).
``BareFeedJourney`` is what a CAF feed line costs the engine at the least: started with a no-op
local activity, signalled with another per change (the anchor of the CAF import); with
``recorded``, ordinary activities instead.
``python -m bench.raw --address … --task-queue … --metrics-address …`` runs its worker in its
own process, as ``parcours worker`` runs the platform's.

``BareCosts`` adds, one by one, what the ``Journey`` workflow does besides (search attributes
upserted at each change, a deadline timer per wait, state-sized payloads), to price each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

STEPS = 6
RECORD_TIMEOUT = timedelta(seconds=30)

# The Journey's search attributes, registered by the dev server's command.
STEP_KEY = SearchAttributeKey.for_keyword("JourneyStep")
DEADLINE_KEY = SearchAttributeKey.for_datetime("StepDeadline")
REFERENT_KEY = SearchAttributeKey.for_keyword("Referent")
TERRITORY_KEY = SearchAttributeKey.for_keyword("Territory")


@dataclass(frozen=True)
class BareCosts:
    """What the Journey does besides the bare shape; all off: the bare journey."""

    search_attributes: bool = False  # upsert the 4 search attributes after each activity
    deadline_timers: bool = False  # wait for the next step with a (cancelled) deadline timer
    payload_bytes: int = 0  # padding in each activity input and update result
    local_activities: bool = False  # the activities run as local activities


@dataclass(frozen=True)
class BareInput:
    journey_id: str
    costs: BareCosts = field(default_factory=BareCosts)


@dataclass(frozen=True)
class BareAdvance:
    step: int


@dataclass(frozen=True)
class BareEvent:
    journey_id: str
    step: int
    padding: str = ""


@dataclass(frozen=True)
class BareState:
    step: int
    padding: str = ""


@dataclass(frozen=True)
class BareResult:
    journey_id: str
    steps: int


@activity.defn(name="bare_record")
async def bare_record(event: BareEvent) -> None:
    """Stands for the read-model write: does nothing."""


async def record_bare(event: BareEvent, local: bool) -> None:
    """The no-op write: a local activity, inside the workflow task; or an ordinary one, run
    once the engine has recorded the task (as the ``Journey``'s read-model write)."""
    if local:
        await workflow.execute_local_activity(
            bare_record, event, start_to_close_timeout=RECORD_TIMEOUT
        )
    else:
        await workflow.execute_activity(bare_record, event, start_to_close_timeout=RECORD_TIMEOUT)


@workflow.defn(name="BareJourney")
class BareJourney:
    @workflow.init
    def __init__(self, input: BareInput) -> None:
        self._input = input
        self._costs = input.costs
        self._padding = "x" * input.costs.payload_bytes
        self._step = 0

    @workflow.run
    async def run(self, input: BareInput) -> BareResult:
        await self._record(0)
        while self._costs.deadline_timers and self._step < STEPS:
            await self._wait_for_step_after(self._step)
        await workflow.wait_condition(
            lambda: self._step >= STEPS and workflow.all_handlers_finished()
        )
        return BareResult(journey_id=input.journey_id, steps=self._step)

    async def _wait_for_step_after(self, seen: int) -> None:
        # As the Journey waits for a change or its step's deadline (a timer, cancelled here).
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._step != seen, timeout=timedelta(days=15))

    async def _record(self, step: int) -> None:
        event = BareEvent(journey_id=self._input.journey_id, step=step, padding=self._padding)
        await record_bare(event, local=self._costs.local_activities)
        if self._costs.search_attributes:
            updates: list[SearchAttributeUpdate[Any]] = [
                STEP_KEY.value_set(f"step-{step}"),
                TERRITORY_KEY.value_set("73"),
                REFERENT_KEY.value_unset(),
                DEADLINE_KEY.value_set(workflow.now() + timedelta(days=15)),
            ]
            workflow.upsert_search_attributes(updates)

    @workflow.update
    async def advance(self, advance: BareAdvance) -> BareState:
        await self._record(advance.step)
        self._step = advance.step
        return BareState(step=self._step, padding=self._padding)

    @advance.validator
    def _check_advance(self, advance: BareAdvance) -> None:
        # The clients wait for each update before sending the next: anything else is refused.
        if advance.step != self._step + 1:
            raise ValueError(f"step {advance.step} after {self._step}")

    @workflow.update
    async def touch(self) -> BareState:
        """As a pause or a resume: validated, one no-op local activity, the state back."""
        await record_bare(BareEvent(journey_id=self._input.journey_id, step=self._step), True)
        return BareState(step=self._step)

    @touch.validator
    def _check_touch(self) -> None:
        if self._step >= STEPS:
            raise ValueError("the journey has ended")

    @workflow.update
    async def touch_recorded(self) -> BareState:
        """As a pause or a resume with the Journey's guarantee: validated, one no-op *ordinary*
        activity (it runs once the engine has recorded the update, as the read-model write
        does), the state back after it."""
        await record_bare(BareEvent(journey_id=self._input.journey_id, step=self._step), False)
        return BareState(step=self._step)

    @touch_recorded.validator
    def _check_touch_recorded(self) -> None:
        self._check_touch()


@dataclass(frozen=True)
class BareFeedInput:
    person_id: str
    # Each change recorded by an ordinary activity, run once the engine has recorded it (the
    # Journey's guarantee), rather than a local one inside the workflow task.
    recorded: bool = False


@dataclass(frozen=True)
class BareRightsChanged:
    status: str


@workflow.defn(name="BareFeedJourney")
class BareFeedJourney:
    """A journey as a CAF feed line starts or signals it, and nothing else."""

    @workflow.init
    def __init__(self, input: BareFeedInput) -> None:
        self._person_id = input.person_id
        self._recorded = input.recorded
        self._changes = 0

    @workflow.run
    async def run(self, input: BareFeedInput) -> None:
        await self._record()
        # Open as long as the benchmark's server lives, as a journey waits for its next step.
        await workflow.wait_condition(lambda: False)

    async def _record(self) -> None:
        await record_bare(
            BareEvent(journey_id=self._person_id, step=self._changes), local=not self._recorded
        )

    @workflow.signal
    async def rsa_rights_changed(self, change: BareRightsChanged) -> None:
        self._changes += 1
        await self._record()


def build_bare_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareJourney, BareFeedJourney],
        activities=[bare_record],
        max_concurrent_activities=50,
    )


async def _serve(address: str, task_queue: str, metrics_address: str) -> None:
    # Metrics on, as ``parcours worker`` has them: same SDK work, and the same diagnostics.
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(metrics_address)))
    client = await Client.connect(address, data_converter=pydantic_data_converter, runtime=runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with build_bare_worker(client, task_queue):
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Worker of the bare journey (benchmark only).")
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--metrics-address", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.address, args.task_queue, args.metrics_address))


if __name__ == "__main__":
    main()
