"""The partner calls that keep failing, as the partner activities report them: an incident
opens at the ``after_attempts``-th failed attempt of a call, counts the next failures, and
closes when the call goes through (or is refused: then it is not retried any more).

Each report is its own short transaction, apart from the activity's work; a call that goes
through reads before it writes, so the usual case (no incident) takes no write lock."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.core.db import transaction
from parcours.management.repository import FailedCall, IncidentRepository


class PartnerIncidentLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], after_attempts: int = 3) -> None:
        self.sessions = sessions
        self.after_attempts = after_attempts

    async def failed(self, call: FailedCall) -> None:
        async with transaction(self.sessions) as session:
            incidents = IncidentRepository(session)
            known = await incidents.of_call(call.workflow_id, call.run_id, call.activity_id)
            # An open incident counts every failure: after a "retry now" Temporal counts
            # attempts from 1 again.
            if known is None and call.attempt < self.after_attempts:
                return
            await incidents.record_failure(call, known=known)

    async def settled(self, workflow_id: str, run_id: str, activity_id: str) -> None:
        async with self.sessions() as session:
            known = await IncidentRepository(session).of_call(workflow_id, run_id, activity_id)
        if known is None:
            return
        async with transaction(self.sessions) as session:
            await IncidentRepository(session).close(known)
