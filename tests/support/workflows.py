"""What a workflow's history says, for tests that check that something did NOT happen: instead
of sleeping "long enough", they wait until the workflow has ``settled`` (done everything it has
been asked so far, its writes included), then look; ``pending_timers`` says what it waits for;
``end_when_settled`` ends what a test left running without holding the test server's clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflow.v1 import PendingChildExecutionInfo
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

Handle = WorkflowHandle[Any, Any]

log = logging.getLogger(__name__)


async def settled(handle: Handle, *, within_s: float = 30) -> None:
    """Once this returns, the workflow has handled every event its history holds (a timer
    fired, a signal, an update, an activity's result), and has nothing in flight: no workflow
    task, no activity (the read model's writes are activities), no child workflow starting,
    no signal on its way to another workflow, no child that ended without its parent being
    told yet (children may run on their own). Or it has ended. Whatever it does next needs a
    new event (a timer firing, a message).

    The last one matters on the time-skipping server: it tells a parent of its child's end
    later, on a thread of its own, and holds its clock until the parent has heard. A parent
    ended meanwhile (a test's clean-up terminating it) never hears, and the clock stays held
    for good: every later skip of that server times out."""
    busy: str | None = "not looked at yet"
    try:
        async with asyncio.timeout(within_s):
            while busy := await _busy(handle):
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{handle.id} never settled: {busy}") from None


async def _busy(handle: Handle) -> str | None:
    """What the workflow still has to do, if anything."""
    described = await handle.describe()
    if described.status is not WorkflowExecutionStatus.RUNNING:
        return None
    raw = described.raw_description
    if raw.pending_activities:
        return f"activities {[a.activity_type.name for a in raw.pending_activities]}"
    if raw.HasField("pending_workflow_task"):
        return "a workflow task"
    if ended := await _ended_children(handle, raw.pending_children):
        return f"child workflows ended, their end not recorded yet: {ended}"
    # The history is fetched after the description: it must be the one described. The test
    # server never describes a workflow task in flight, so a description taken while one runs
    # shows no activity, and the history fetched a moment later may already hold the
    # activities that task scheduled (then ending the workflow would leave one running, and
    # the test server's clock held for good).
    events = (await handle.fetch_history()).events
    described_length = raw.workflow_execution_info.history_length
    if len(events) != described_length:
        return f"history moved while looked at ({described_length} → {len(events)} events)"
    last_scheduled = last_completed = 0
    signals_out: set[int] = set()
    children_starting: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            last_scheduled = event.event_id
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            last_completed = event.event_id
        elif kind == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            signals_out.add(event.event_id)
        elif kind == EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
            signaled = event.external_workflow_execution_signaled_event_attributes
            signals_out.discard(signaled.initiated_event_id)
        elif kind == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
            failed = event.signal_external_workflow_execution_failed_event_attributes
            signals_out.discard(failed.initiated_event_id)
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            children_starting.add(event.event_id)
        elif kind == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            child = event.child_workflow_execution_started_event_attributes
            children_starting.discard(child.initiated_event_id)
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
            not_started = event.start_child_workflow_execution_failed_event_attributes
            children_starting.discard(not_started.initiated_event_id)
    # Every event that gives the workflow work schedules a workflow task: one scheduled after
    # the last one completed is work not done yet.
    if last_scheduled > last_completed:
        return f"workflow task {last_scheduled} (last completed: {last_completed})"
    if signals_out:
        return f"signals on their way (events {sorted(signals_out)})"
    if children_starting:
        return f"child workflows starting (events {sorted(children_starting)})"
    return None


# A child's end its parent hears of (a terminated child's, the test server never tells).
_TOLD_TO_PARENT = frozenset(
    {
        WorkflowExecutionStatus.COMPLETED,
        WorkflowExecutionStatus.FAILED,
        WorkflowExecutionStatus.CANCELED,
        WorkflowExecutionStatus.TIMED_OUT,
    }
)


async def _ended_children(
    handle: Handle, pending: Sequence[PendingChildExecutionInfo]
) -> list[str]:
    """The children the parent still counts as running that have ended."""
    ended = []
    for child in pending:
        described = await handle._client.get_workflow_handle(
            child.workflow_id, run_id=child.run_id
        ).describe()
        if described.status in _TOLD_TO_PARENT:
            ended.append(child.workflow_id)
    return ended


async def pending_timers(handle: Handle) -> list[HistoryEvent]:
    """The timers the workflow started that have neither fired nor been cancelled."""
    history = (await handle.fetch_history()).events
    ended = {
        event.timer_fired_event_attributes.started_event_id
        for event in history
        if event.event_type == EventType.EVENT_TYPE_TIMER_FIRED
    } | {
        event.timer_canceled_event_attributes.started_event_id
        for event in history
        if event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED
    }
    return [
        event
        for event in history
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED and event.event_id not in ended
    ]


async def end_when_settled(*handles: Handle, reason: str = "end of test") -> None:
    """Terminate the workflows a test left running, each once it has settled.

    On the time-skipping server, a workflow terminated while one of its activities is in
    flight holds the server's clock for good: the activity's end and its timeout both find
    the workflow gone and never give the clock back, so every later skip of that server
    times out. One that does not settle within the bound (an activity retried for as long as
    a partner is down: between its attempts it holds nothing) is terminated all the same."""
    for handle in handles:
        try:
            await settled(handle, within_s=30)
        except AssertionError as busy:
            log.warning("terminated before it settled: %s", busy)
        except TypeError:
            # The test server cannot describe some ended workflows (an unset deadline does
            # not decode): it has ended, nothing of it runs.
            continue
        with contextlib.suppress(RPCError):  # ended already
            await handle.terminate(reason=reason)
