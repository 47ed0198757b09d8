"""The API process, once started, sets aside from the garbage collector what start-up made:
its full collections then skip the modules, routes and schemas (120 ms each before, the tail
of the managers' console). An application among others in one process (the tests') leaves the
collector as it found it."""

from __future__ import annotations

import gc

import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from parcours.core.settings import Settings


@pytest.mark.parametrize("whole_process", [True, False])
async def test_the_api_process_freezes_its_start_up_heap(
    settings: Settings, dev_env: WorkflowEnvironment, whole_process: bool
) -> None:
    app = create_app(settings, temporal=dev_env.client, whole_process=whole_process)
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
    if whole_process:
        # The application's own objects (its routes among them) are in the frozen heap.
        assert frozen > 100_000
    else:
        assert frozen == 0
