"""The partner tests' fixtures (a pytest plugin: ``pytest_plugins = ["tests.partner_fixtures"]``).

- the partner simulators, served on a free port, sending their callbacks to
- the Parcours app (with the partners' routes), served on a free port, and
- a worker on its own task queue with the journeys, the CAF import and the partner calls,
  on the real Temporal dev server; the adapters point at the simulators.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.journey import ReadModelActivities
from api.app import create_app
from parcours.core.settings import Settings
from simulators.app import create_app as create_simulators
from simulators.config import SimulatorConfig
from tests.partner_probe import PartnerCallProbe
from tests.partner_support import CALLBACK_SECRET, CALLBACKS_PATH, PartnerStack, with_partner_routes
from tests.support.servers import free_port, serve
from worker.assembly import PARTNER_WORKFLOWS, PartnerWorkerParts, journey_runner
from workflows.journey import Journey


@pytest.fixture(scope="session")
async def partner_stack(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
) -> AsyncIterator[PartnerStack]:
    api_port, partners_port = free_port(), free_port()
    partners_url = f"http://127.0.0.1:{partners_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    target = dev_env.client.service_client.config.target_host
    stack_settings = settings.model_copy(
        update={
            "task_queue": f"partners-test-{uuid.uuid4().hex[:8]}",
            "temporal_address": target,
            "partners_base_url": partners_url,
            "partner_timeout_s": 1.0,
            "partner_callback_secret": CALLBACK_SECRET,
            "caf_import_batch_lines": 25,
        }
    )
    simulators = create_simulators(
        SimulatorConfig(
            callback_url=f"{api_url}{CALLBACKS_PATH}",
            callback_secret=CALLBACK_SECRET,
            callback_attempts=3,
            callback_backoff_s=0.05,
            callback_timeout_s=5.0,
        )
    )
    app = with_partner_routes(create_app(stack_settings, temporal=dev_env.client))
    parts = PartnerWorkerParts.build(dev_env.client, sessions, stack_settings)
    read_model = ReadModelActivities(sessions)
    worker = Worker(
        dev_env.client,
        task_queue=stack_settings.task_queue,
        workflows=[Journey, *PARTNER_WORKFLOWS, PartnerCallProbe],
        activities=[
            read_model.record_journey_event,
            read_model.record_journey_events,
            *parts.activities,
        ],
        unsandboxed_workflow_runner=journey_runner(stack_settings),
    )
    sim_server, sim_task = await serve(simulators, partners_port)
    api_server, api_task = await serve(app, api_port)
    try:
        async with (
            worker,
            httpx.AsyncClient(base_url=partners_url, timeout=30) as sim,
            httpx.AsyncClient(base_url=api_url, timeout=60) as api,
        ):
            yield PartnerStack(stack_settings, dev_env.client, api_url, partners_url, sim, api)
    finally:
        for server in (api_server, sim_server):
            server.should_exit = True
        await asyncio.gather(api_task, sim_task)
        await parts.aclose()


@pytest.fixture
async def partners(partner_stack: PartnerStack) -> PartnerStack:
    """The stack with the simulators reset (no data, no switches)."""
    await partner_stack.reset()
    return partner_stack
