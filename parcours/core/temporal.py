"""Parcours' one door to Temporal: the client as every part connects it (pydantic payloads),
and the glue every service uses around it.

- ``start_workflow``: start a workflow, or join the one already started under its id;
- ``run_update`` / ``send_update``: a human action as a workflow update (its result, or only
  its acceptance), sent under one update id that is kept when a transient engine error makes
  it be sent again (the server applies it once);
- ``send_signal``: a signal, telling whether the workflow still runs;
- the engine's answers in the domain's words: a validator's refusal (an ``ApplicationError``
  of type ``TransitionRefused``, what every workflow raises) becomes a ``Conflict`` (409) with
  its French reason, a workflow that no longer runs a ``Conflict`` saying so, and an engine
  that does not answer an ``Unavailable`` (503) with one wording, logged for operators;
- ``commit_or_undo``: a request that started a workflow and wrote beside it commits, or, if
  the commit fails, undoes the start (no journey without its person), for the pages and the
  API alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from parcours.core.errors import Conflict, Unavailable
from parcours.core.settings import Settings
from parcours.core.tracing import temporal_interceptors

log = logging.getLogger(__name__)

T = TypeVar("T")

ENGINE_DOWN = "Le moteur de parcours ne répond pas : réessayez dans un instant."
# The ``ApplicationError`` type of a refusal, raised by every workflow's validators.
TRANSITION_REFUSED = "TransitionRefused"
# The engine's own rejection of an update no worker took up (not the workflow's refusal).
UNPROCESSED_UPDATE = "UnprocessedUpdate"
# What the engine may answer under load and not the next time: the update is sent again under
# the same id, which the server applies once.
TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.INTERNAL,
    }
)
# How long an update keeps being sent again while the engine does not answer (it may be
# restarting): then 503, and the user's own retry (same update id) is still applied once.
UPDATE_WAIT_S = 10.0
# An update id given by the caller (a form's hidden field, an Idempotency-Key header).
UPDATE_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
        # Traced when the process traces (the workers built on this client as well).
        interceptors=temporal_interceptors(),
    )


def engine_down(error: BaseException, what: str, **context: Any) -> Unavailable:
    """The 503 for an engine that did not answer, logged with what was asked."""
    status = error.status.name if isinstance(error, RPCError) and error.status else None
    log.error(what, extra={**context, "status": status, "error": str(error)})
    return Unavailable(ENGINE_DOWN)


async def start_workflow(
    client: Client,
    workflow: str,
    arg: Any,
    *,
    id: str,
    task_queue: str,
    join: bool = False,
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
    search_attributes: TypedSearchAttributes | None = None,
) -> bool:
    """Start ``workflow`` under ``id``; False when it had started already.

    ``join``: a workflow running under this id is joined (the same request sent twice);
    otherwise ``WorkflowAlreadyStartedError`` is for the caller to handle.
    """
    try:
        await client.start_workflow(
            workflow,
            arg,
            id=id,
            task_queue=task_queue,
            id_reuse_policy=id_reuse_policy,
            id_conflict_policy=(
                WorkflowIDConflictPolicy.USE_EXISTING
                if join
                else WorkflowIDConflictPolicy.UNSPECIFIED
            ),
            search_attributes=search_attributes,
        )
    except WorkflowAlreadyStartedError:
        if join:
            return False
        raise
    except RPCError as error:
        raise engine_down(error, "workflow start failed", workflow=workflow, id=id) from error
    return True


async def run_update(
    handle: WorkflowHandle[Any, Any],
    name: str,
    arg: Any,
    *,
    result_type: type[T],
    gone: str,
    update_id: str | None = None,
) -> T:
    """Run the update ``name`` and return its result.

    ``update_id``: the caller's id for this action (the same action sent again is applied
    once: the engine answers it with the first one's result); a new one by default. A refusal
    is a ``Conflict`` with the validator's reason, a workflow that no longer runs a
    ``Conflict`` saying ``gone``; an engine that does not answer within ``UPDATE_WAIT_S``
    (tried again under the same id meanwhile) is ``Unavailable``.
    """
    update_id = update_id or str(uuid.uuid4())
    give_up = time.monotonic() + UPDATE_WAIT_S
    attempt = 0
    while True:
        attempt += 1
        update = await _start_update(
            handle, name, arg, result_type, gone, WorkflowUpdateStage.COMPLETED, update_id
        )
        try:
            result: T = await update.result(rpc_timeout=timedelta(seconds=UPDATE_WAIT_S))
        except WorkflowUpdateFailedError as failed:
            pause = min(0.2 * 2 ** (attempt - 1), 2.0)
            if _not_taken_up(failed, name, handle.id, attempt, give_up - pause):
                await asyncio.sleep(pause)
                continue
            raise _refusal(failed, name, handle.id) from failed.cause
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            # The engine went away while the result was on its way: ask again under the same
            # id (the update is applied once, whatever the number of asks).
            transient = not isinstance(error, RPCError) or error.status in TRANSIENT
            pause = min(0.2 * 2 ** (attempt - 1), 2.0)
            if transient and time.monotonic() + pause < give_up:
                await asyncio.sleep(pause)
                continue
            raise engine_down(
                error, "workflow update result lost", update=name, workflow_id=handle.id
            ) from error
        return result


async def send_update(
    handle: WorkflowHandle[Any, Any],
    name: str,
    arg: Any,
    *,
    result_type: type[Any],
    gone: str,
    update_id: str | None = None,
) -> None:
    """Send the update ``name`` and return once the workflow accepted it (its validator
    passed); the workflow carries it out right after. Errors as ``run_update``."""
    await _start_update(
        handle, name, arg, result_type, gone, WorkflowUpdateStage.ACCEPTED, update_id
    )


async def _start_update(
    handle: WorkflowHandle[Any, Any],
    name: str,
    arg: Any,
    result_type: type[T],
    gone: str,
    stage: WorkflowUpdateStage,
    update_id: str | None,
) -> WorkflowUpdateHandle[T]:
    update_id = update_id or str(uuid.uuid4())
    give_up = time.monotonic() + UPDATE_WAIT_S
    attempt = 0
    while True:
        attempt += 1
        try:
            return await handle.start_update(
                name,
                arg,
                id=update_id,
                wait_for_stage=stage,
                result_type=result_type,
                rpc_timeout=timedelta(seconds=UPDATE_WAIT_S),
            )
        except WorkflowUpdateFailedError as failed:
            pause = min(0.2 * 2 ** (attempt - 1), 2.0)
            if _not_taken_up(failed, name, handle.id, attempt, give_up - pause):
                await asyncio.sleep(pause)
                continue
            raise _refusal(failed, name, handle.id) from failed.cause
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
                raise Conflict(gone) from error
            transient = not isinstance(error, RPCError) or error.status in TRANSIENT
            pause = min(0.2 * 2 ** (attempt - 1), 2.0)
            if transient and time.monotonic() + pause < give_up:
                log.warning(
                    "workflow update tried again",
                    extra={"update": name, "attempt": attempt, "error": str(error)},
                )
                await asyncio.sleep(pause)
                continue
            raise engine_down(
                error, "workflow update failed", update=name, workflow_id=handle.id
            ) from error


def _not_taken_up(
    failed: WorkflowUpdateFailedError, name: str, workflow_id: str, attempt: int, until: float
) -> bool:
    """The engine rejected the update because the workflow task that carried it was not
    processed (the engine restarted meanwhile): nothing was applied, and it is sent again
    under the same id while there is time."""
    cause = failed.cause
    if not (isinstance(cause, ApplicationError) and cause.type == UNPROCESSED_UPDATE):
        return False
    if time.monotonic() >= until:
        return False
    log.warning(
        "workflow update not taken up: sent again",
        extra={"update": name, "workflow_id": workflow_id, "attempt": attempt},
    )
    return True


def _refusal(failed: WorkflowUpdateFailedError, name: str, workflow_id: str) -> Exception:
    """A validator's refusal as a 409; an update the engine never took up as a 503; any
    other failure of the update as it is (raised from its cause, so that the log says what
    failed in the workflow)."""
    cause = failed.cause
    if isinstance(cause, ApplicationError) and cause.type == TRANSITION_REFUSED:
        return Conflict(cause.message)
    if isinstance(cause, ApplicationError) and cause.type == UNPROCESSED_UPDATE:
        return engine_down(
            failed, "workflow update never taken up", update=name, workflow_id=workflow_id
        )
    return failed


async def send_signal(handle: WorkflowHandle[Any, Any], name: str, arg: Any) -> bool:
    """Signal the workflow; False when it no longer runs (ended, or never started)."""
    try:
        await handle.signal(name, arg)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise engine_down(
            error, "workflow signal failed", signal=name, workflow_id=handle.id
        ) from error
    return True


async def commit_or_undo(session: AsyncSession, undo: Callable[[], Awaitable[None]]) -> None:
    """Commit what the request wrote beside a workflow it started; if the commit fails, undo
    the start and let the error through."""
    try:
        await session.commit()
    except BaseException:
        await undo()
        raise
