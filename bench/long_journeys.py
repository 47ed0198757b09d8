"""``make bench``: an update to a journey that lived two years, arriving cold.

A journey lives for years; between two actions the worker has long forgotten it, and the next
update replays its whole history (since its last continue-as-new) before it runs. This brings up
the platform (``bench.stack``), lives ``--journeys`` journeys through what two years hold —
diagnosis, orientation, a contract, pauses and resumptions, a dozen appointments with their
invitations, reminders and attendance, a job found and lost, a new contract, work again, a
follow-up — then restarts the worker (its cache empty: every journey is cold) and times one
action (a pause, through the API) on each: ``cold_update_p50_ms`` / ``cold_update_p95_ms``
(target ≤ 150 ms).

The anchor, in the same run and after the same restart: the same action on journeys just
enrolled (a history of a few events), ``cold_update_anchor_p95_ms``, and the ratio. Also the
history of a two-year journey: ``history_events_per_journey_year`` and
``history_bytes_per_journey_year`` (the engine's history as the client fetches it, halved),
``history_runs`` (continue-as-new included).

The appointments' outcomes are sent as their ``Appointment`` workflow sends them (the journey's
``record_outcome`` signal), without the booking itself: the history the journey keeps is the
same.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import date, timedelta

import httpx
from temporalio.client import Client

from bench.http import KeepAliveClient
from bench.journeys import PlatformDriver, percentile, progress
from bench.stack import Stack
from parcours.journey.messages import RECORD_OUTCOME, JourneyOutcomeInput, journey_workflow_id

TARGET_MS = 150
APPOINTMENTS = 12
PAUSES = 6


async def live_two_years(
    platform: PlatformDriver, client: Client, staff_ids: dict[str, str]
) -> str:
    """One journey through two years' worth of actions and outcomes; its id."""
    today = date.today()
    bid = await platform.enrol()
    handle = client.get_workflow_handle(journey_workflow_id(bid))
    act = platform.act
    officer = staff_ids["orientation_token"]
    orientation = {
        "kind": "socio_professional",
        "structure_id": staff_ids["structure_id"],
        "referent_id": staff_ids["referent_id"],
    }
    await act(bid, "begin-diagnosis", {})
    await act(bid, "complete-diagnosis", {})
    await act(bid, "decide-orientation", orientation, officer)
    await act(bid, "sign-contract", {"signed_on": today.isoformat()})
    for n in range(APPOINTMENTS):
        appointment_id = uuid.uuid4().hex
        detail = {"appointment_id": appointment_id, "appointment_kind": "follow_up"}
        for status in ("invited", "booked", "reminded", "attended"):
            await handle.signal(
                RECORD_OUTCOME,
                JourneyOutcomeInput(
                    kind=f"appointment_{status}", detail={**detail, "status": status}
                ),
            )
        if n < PAUSES:
            await act(bid, "pause", {})
            await act(bid, "resume", {})
    await act(bid, "record-employment", {"started_on": today.isoformat(), "contract": "cdd"})
    await act(bid, "report-job-loss", {})
    await act(bid, "sign-contract", {"signed_on": (today + timedelta(days=1)).isoformat()})
    await act(bid, "record-employment", {"started_on": today.isoformat(), "contract": "cdi"})
    await act(bid, "set-follow-up-consent", {"consent": True})
    return bid


async def history_size(client: Client, bid: str) -> tuple[int, int, int]:
    """Events and bytes of every run of the journey's workflow, and the number of runs."""
    events = size = runs = 0
    async for execution in client.list_workflows(f"WorkflowId = '{journey_workflow_id(bid)}'"):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        events += len(history.events)
        size += sum(event.ByteSize() for event in history.events)
        runs += 1
    return events, size, runs


async def timed_actions(platform: PlatformDriver, ids: Sequence[str]) -> list[float]:
    """One pause per journey, one after another (each one cold), in milliseconds."""
    durations = []
    for bid in ids:
        began = time.perf_counter()
        await platform.act(bid, "pause", {})
        durations.append((time.perf_counter() - began) * 1000)
    return durations


async def bench(stack: Stack, journeys: int) -> dict[str, str]:
    progress(f"starting the platform under {stack.workdir} …")
    staff = await stack.start()
    client = await stack.client()
    url = stack.api_urls["platform"]
    headers = {"Authorization": f"Bearer {staff.referent_token}"}
    http = KeepAliveClient(url, 8, headers)
    try:
        platform = PlatformDriver(http, staff)
        ids = {
            "structure_id": staff.structure_id,
            "referent_id": staff.referent_id,
            "orientation_token": staff.orientation_token,
        }
        progress(f"living {journeys} journeys through two years")
        long_ids = []
        for lane in range(0, journeys, 4):
            long_ids += await asyncio.gather(
                *(live_two_years(platform, client, ids) for _ in range(min(4, journeys - lane)))
            )
        short_ids = [await platform.enrol() for _ in range(journeys)]
        primer = await platform.enrol()
        await asyncio.sleep(1)
        events, size, runs = await history_size(client, long_ids[0])

        progress("restarting the worker: every journey is cold")
        await http.aclose()
        await stack.restart("worker")
        http = KeepAliveClient(url, 8, headers)
        platform = PlatformDriver(http, staff)
        # The new worker polling: its first task, untimed, waits for it to start.
        await timed_actions(platform, [primer])
        # Interleaved, so that the anchor and the figure meet the same machine.
        cold, anchor = [], []
        for long_id, short_id in zip(long_ids, short_ids, strict=True):
            cold += await timed_actions(platform, [long_id])
            anchor += await timed_actions(platform, [short_id])
    finally:
        await http.aclose()
    p95, anchor_p95 = percentile(cold, 95), percentile(anchor, 95)
    return {
        "long_journeys": str(journeys),
        "history_events_per_journey_year": f"{events / 2:.0f}",
        "history_bytes_per_journey_year": f"{size / 2:.0f}",
        "history_runs": str(runs),
        "cold_update_p50_ms": f"{statistics.median(cold):.1f}",
        "cold_update_p95_ms": f"{p95:.1f} target={TARGET_MS}",
        "cold_update_anchor_p50_ms": f"{statistics.median(anchor):.1f}",
        "cold_update_anchor_p95_ms": f"{anchor_p95:.1f}",
        "cold_update_ratio": f"{p95 / anchor_p95:.2f}",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--journeys", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    options = parser.parse_args(argv)
    stack = Stack()
    try:
        figures = asyncio.run(bench(stack, options.journeys))
    except httpx.HTTPError as error:
        progress(f"bench.long_journeys: {error}")
        return 1
    finally:
        stack.stop(keep=options.keep)
    for key, value in figures.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
