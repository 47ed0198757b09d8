"""The worker's log stays readable: an activity that ends on an outcome the platform expects
(a person's consent missing, a partner refusing, a partner down and retried later) is one line
without a stack trace, at the platform's level (INFO); a genuine bug keeps its stack trace.
The real partner activities run through a real worker on the time-skipping server; the
partner is an HTTP stand-in that answers as told."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.partners import PartnerActivities
from parcours.core.settings import Settings
from parcours.partners.adapters.clients import PartnerAdapters
from parcours.partners.messages import FIND_FRANCE_TRAVAIL_PERSON
from tests.support.partners import add_person

BUG = "buggy_activity"


class AttemptInput(BaseModel):
    activity: str
    beneficiary_id: str


class AttemptOutcome(BaseModel):
    error_type: str | None
    non_retryable: bool = False


@workflow.defn(name="OneAttempt")
class OneAttempt:
    """Runs one activity once (no retry) and says how it failed."""

    @workflow.run
    async def run(self, data: AttemptInput) -> AttemptOutcome:
        try:
            await workflow.execute_activity(
                data.activity,
                {"beneficiary_id": data.beneficiary_id, "idempotency_key": "attempt-1"},
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as failed:
            cause = failed.cause
            assert isinstance(cause, ApplicationError)
            return AttemptOutcome(error_type=cause.type, non_retryable=cause.non_retryable)
        return AttemptOutcome(error_type=None)


@activity.defn(name=BUG)
async def buggy_activity(data: dict[str, str]) -> None:
    raise KeyError(data["no such field"])  # what a bug looks like


class Partner:
    """France Travail as the test wants it: down (503) or refusing (400)."""

    def __init__(self) -> None:
        self.status = 503

    def answer(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(self.status, json={"detail": "réponse du test"})


@pytest.fixture(scope="module")
def partner() -> Partner:
    return Partner()


@pytest.fixture(scope="module")
async def task_queue(
    time_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    partner: Partner,
) -> AsyncIterator[str]:
    adapters = PartnerAdapters.from_settings(
        settings.model_copy(update={"partners_base_url": "http://partners.test"}),
        transport=httpx.MockTransport(partner.answer),
    )
    activities = PartnerActivities(sessions, adapters)
    queue = f"activity-logs-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_env.client,
        task_queue=queue,
        workflows=[OneAttempt],
        activities=[activities.find_france_travail_person, buggy_activity],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield queue
    await adapters.aclose()


async def attempt(
    time_env: WorkflowEnvironment, task_queue: str, activity_name: str, person_id: str
) -> tuple[str, AttemptOutcome]:
    workflow_id = f"attempt-{uuid.uuid4().hex}"
    outcome = await time_env.client.execute_workflow(
        OneAttempt.run,
        AttemptInput(activity=activity_name, beneficiary_id=person_id),
        id=workflow_id,
        task_queue=task_queue,
    )
    return workflow_id, outcome


def records_of(caplog: pytest.LogCaptureFixture, workflow_id: str) -> list[logging.LogRecord]:
    """What the worker logged about ``workflow_id``'s activity."""
    return [
        record
        for record in caplog.records
        if getattr(record, "temporal_activity", {}).get("workflow_id") == workflow_id
    ]


@pytest.mark.parametrize(
    ("consents", "partner_status", "error_type", "non_retryable", "line"),
    [
        ((), 200, "ConsentMissing", True, "expected failure ConsentMissing"),
        (("france_travail",), 400, "PartnerRefused", True, "expected failure PartnerRefused"),
        (("france_travail",), 503, "PartnerUnavailable", False, "partner unavailable"),
    ],
)
async def test_an_expected_outcome_is_one_line_without_a_stack_trace(
    time_env: WorkflowEnvironment,
    task_queue: str,
    partner: Partner,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
    consents: tuple[str, ...],
    partner_status: int,
    error_type: str,
    non_retryable: bool,
    line: str,
) -> None:
    person_id = await add_person(sessions, consents=consents)
    partner.status = partner_status
    caplog.set_level(logging.INFO)

    workflow_id, outcome = await attempt(
        time_env, task_queue, FIND_FRANCE_TRAVAIL_PERSON.activity, person_id
    )

    # The workflow sees the failure it always saw; the log says it in one line.
    assert outcome == AttemptOutcome(error_type=error_type, non_retryable=non_retryable)
    logged = records_of(caplog, workflow_id)
    assert [r.getMessage() for r in logged if r.exc_info] == []
    assert len(logged) == 1 and line in logged[0].getMessage(), [r.getMessage() for r in logged]


async def test_a_bug_in_an_activity_still_logs_its_stack_trace(
    time_env: WorkflowEnvironment,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    person_id = await add_person(sessions)
    caplog.set_level(logging.INFO)

    workflow_id, outcome = await attempt(time_env, task_queue, BUG, person_id)

    assert outcome.error_type == "KeyError"
    traced = [r for r in records_of(caplog, workflow_id) if r.exc_info]
    assert len(traced) == 1
    exc_info = traced[0].exc_info
    assert exc_info is not None and isinstance(exc_info[1], KeyError)
    assert traced[0].levelno >= logging.WARNING
