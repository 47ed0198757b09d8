"""Closed months kept for the contracts and the exits (PostgreSQL; SQLite counts every read):
what a read keeps of a month long over follows every later change of the milestones — the
same figures as every journey counted afresh, for the département and each structure."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.indicators.closed_months import (
    APPOINTMENTS,
    CONTRACTS,
    EXITS,
    FIRST_APPOINTMENTS,
    MONTHS,
    STAYS,
)
from parcours.indicators.messages import KeepClosedMonthsInput
from parcours.indicators.models import JourneyMilestones
from parcours.indicators.repository import IndicatorRepository
from tests.conftest import POSTGRES
from tests.indicators.test_appointment_indicators import free_territory, new_hub, read_figures
from tests.support.indicators import person_with_milestones, year_scope
from worker.assembly import build_worker
from workflows.indicators import KeepClosedMonths

CONTRACT_DAYS = 30


async def with_milestones(
    sessions: async_sessionmaker[AsyncSession],
    territory: str,
    hub: str,
    name: str,
    **milestones: Any,
) -> str:
    """A person of ``territory`` followed by ``hub``, her journey's milestones as given (days
    written ``YYYY-MM-DD``): her id."""
    async with transaction(sessions) as session:
        return await person_with_milestones(
            session,
            territory,
            hub,
            name,
            seq=5,
            **{key: _day(value) for key, value in milestones.items()},
        )


async def test_closed_months_contracts_and_exits_follow_every_later_change(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """March to May 2025 are over and settled (their 30 days long past). A contract noted
    late, an orientation's day corrected into another month, a journey reopened, an exit's
    reason corrected, a person moved to another structure, deleted, or imported afterwards:
    each shows at the next read."""
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        a = await new_hub(session, territory, "Pôle A")
        b = await new_hub(session, territory, "Pôle B")
    people: dict[str, str] = {}

    async def person(name: str, hub: str, **milestones: Any) -> None:
        people[name] = await with_milestones(sessions, territory, hub, name, **milestones)

    await person("Ana", a.id, oriented_on="2025-03-03", contract_signed_on="2025-03-20",
                 closed_on="2025-05-10", exit_reason="employment")  # fmt: skip
    await person("Bob", a.id, oriented_on="2025-03-05", closed_on="2025-05-20",
                 exit_reason="moved_away", exit_code="DEM")  # fmt: skip
    await person("Cid", b.id, oriented_on="2025-04-02", contract_signed_on="2025-06-30")
    await person("Dan", b.id, oriented_on="2025-03-10", contract_signed_on="2025-03-12",
                 closed_on="2025-05-02")  # fmt: skip

    async def figures() -> dict[str, Any]:
        read = await read_figures(sessions, settings, territory)
        async with sessions() as session:  # kept or counted, the same rows
            repo = IndicatorRepository(session)
            for structure_id in (None, a.id, b.id):
                scope = year_scope(territory, 2025, structure_id)
                # Read on 20 April 2025, April's 30 days are not over: who is due is counted.
                for today in (scope.today, date(2025, 4, 20)):
                    scope = replace(scope, today=today)
                    assert tallied(await repo.contracts(scope, CONTRACT_DAYS)) == tallied(
                        await repo.contracts_counted(scope, CONTRACT_DAYS)
                    )
                assert exits_tallied(await repo.exits(scope)) == exits_tallied(
                    await repo.exits_counted(scope)
                )
        months = {m.month: m.figures for m in read.months}
        structures = {s.label: s.figures for s in read.structures}

        def seen(f: Any) -> tuple[int, tuple[int, int], int]:
            return (
                f.orientations,
                (f.contract_within.numerator, f.contract_within.denominator),
                f.exits,
            )

        return {
            "total": seen(read.total),
            **{m: seen(months[m]) for m in ("2025-03", "2025-04", "2025-05")},
            **{label: seen(f) for label, f in structures.items()},
            "reasons": {e.reason: e.count for e in read.exits if e.count},
        }

    first = await figures()
    assert first["total"] == (4, (2, 4), 3)
    assert first["2025-03"] == (3, (2, 3), 0)
    assert first["2025-05"] == (0, (0, 0), 3)
    assert first["Pôle A"] == (2, (1, 2), 2)
    assert first["reasons"] == {"employment": 1, "moved_away": 1, "other": 1}

    async def kept_months(figure: str) -> set[date]:
        async with sessions() as session:
            kept = await session.execute(
                select(MONTHS.c.month, MONTHS.c.version, MONTHS.c.summarized).where(
                    MONTHS.c.figure == figure, MONTHS.c.territory == territory
                )
            )
            return {m for m, version, summarized in kept if summarized == version}

    async def change(name: str, **values: Any) -> None:
        async with transaction(sessions) as session:
            row = await session.get(JourneyMilestones, people[name])
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)

    if POSTGRES:  # kept, at the version they were counted at
        assert await kept_months(CONTRACTS) >= {date(2025, 3, 1), date(2025, 4, 1)}
        assert date(2025, 5, 1) in await kept_months(EXITS)
        # A column no figure of theirs counts (employment) leaves them kept.
        await change("Ana", employment_on=date(2025, 4, 1))
        assert date(2025, 3, 1) in await kept_months(CONTRACTS)
        assert date(2025, 5, 1) in await kept_months(EXITS)

    # Bob's contract of 25 March, noted late.
    await change("Bob", contract_signed_on=date(2025, 3, 25))
    assert (await figures())["2025-03"] == (3, (3, 3), 0)
    # Cid was oriented on 2 June, not 2 April: his contract came 28 days after.
    await change("Cid", oriented_on=date(2025, 6, 2))
    moved = await figures()
    assert (moved["2025-04"], moved["Pôle B"]) == ((0, (0, 0), 0), (2, (2, 2), 1))
    # Dan's journey reopened (no longer closed), Ana's exit was in fact sustained employment.
    await change("Dan", closed_on=None, exit_reason=None)
    await change("Ana", exit_reason="sustained_employment")
    reopened = await figures()
    assert reopened["2025-05"] == (0, (0, 0), 2)
    assert reopened["reasons"] == {"sustained_employment": 1, "moved_away": 1}
    # Ana is followed by Pôle B now.
    await change("Ana", structure_id=b.id)
    assert (await figures())["Pôle B"] == (3, (3, 3), 1)
    # Bob deleted (his milestones with him, by the database's cascade).
    async with transaction(sessions) as session:
        await session.delete(await session.get(Beneficiary, people["Bob"]))
    after = await figures()
    assert after["total"] == (3, (3, 3), 1)
    assert "Pôle A" not in after  # no one left there
    # Eve, oriented in March and closed in May with a coded exit, imported afterwards.
    await person("Eve", a.id, oriented_on="2025-03-17", closed_on="2025-05-30",
                 exit_reason="employment", exit_code="EMB")  # fmt: skip
    imported = await figures()
    assert imported["2025-03"] == (3, (2, 3), 0)
    assert imported["2025-05"] == (0, (0, 0), 2)


def _day(value: Any) -> Any:
    """A milestone's value, its days written ``YYYY-MM-DD``."""
    return date.fromisoformat(value) if isinstance(value, str) and value[:2] == "20" else value


def tallied(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[int, int, int]]:
    """Contracts' rows added up by month and by structure: (oriented, within, due)."""
    found: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        counts = (int(row["oriented"]), int(row["within"]), int(row["due"]))
        for key in (("month", row["month"]), ("structure", row["structure_id"])):
            found[key] = [x + y for x, y in zip(found[key], counts, strict=True)]
    return {key: (v[0], v[1], v[2]) for key, v in found.items()}


def exits_tallied(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], int]:
    """Exits' rows added up by month and by structure, each by reason and code."""
    found: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in rows:
        why = (row["exit_reason"], row["exit_code"])
        if row["counts_in"] in ("months", "all"):
            found[("month", row["month"], *why)] += int(row["closed"])
        if row["counts_in"] in ("structures", "all"):
            found[("structure", row["structure_id"], *why)] += int(row["closed"])
    return dict(found)


@pytest.mark.skipif(not POSTGRES, reason="closed months are kept on PostgreSQL")
async def test_a_read_does_not_wait_for_a_writer_holding_a_closed_month(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """A contract of March noted in a transaction not yet committed holds March's version
    (its trigger bumped it). A manager's read meanwhile gets its figures at once, as they
    stood, without keeping March; once the change is committed, the next read shows it."""
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        hub = await new_hub(session, territory, "Pôle A")
    ana = await with_milestones(sessions, territory, hub.id, "Ana", oriented_on="2025-03-03")

    def contracts(read: Any) -> tuple[int, int]:
        rate = read.total.contract_within
        return rate.numerator, rate.denominator

    async with sessions() as writer:
        row = await writer.get(JourneyMilestones, ana)
        assert row is not None
        row.contract_signed_on = date(2025, 3, 20)
        await writer.flush()  # March bumped, its row held until the writer commits
        # Would wait for the writer's commit, here never, were it not for the lock timeout.
        read = await asyncio.wait_for(read_figures(sessions, settings, territory), timeout=30)
        assert contracts(read) == (0, 1)
        await writer.commit()
    assert contracts(await read_figures(sessions, settings, territory)) == (1, 1)
    async with sessions() as session:
        version, summarized = (
            await session.execute(
                select(MONTHS.c.version, MONTHS.c.summarized).where(
                    MONTHS.c.figure == CONTRACTS,
                    MONTHS.c.territory == territory,
                    MONTHS.c.month == date(2025, 3, 1),
                )
            )
        ).one()
        assert summarized == version  # kept by the read after the commit


async def test_the_nightly_run_keeps_every_departement_s_closed_months(
    time_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """The ``KeepClosedMonths`` workflow (scheduled every night), run by the worker as
    ``parcours worker`` builds it, reads each département once: its closed months are kept
    for every figure before any manager reads them (PostgreSQL; SQLite keeps nothing)."""
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        hub = await new_hub(session, territory, "Pôle A")
    await with_milestones(sessions, territory, hub.id, "Ana", oriented_on="2025-03-03",
                          contract_signed_on="2025-03-20", closed_on="2025-05-10",
                          exit_reason="employment")  # fmt: skip
    own = settings.model_copy(update={"task_queue": f"indicators-{uuid.uuid4().hex[:8]}"})
    async with build_worker(time_env.client, sessions, own.task_queue, own):
        result = await time_env.client.execute_workflow(
            KeepClosedMonths.run,
            KeepClosedMonthsInput(months=24),
            id=f"indicator-months-{uuid.uuid4().hex[:8]}",
            task_queue=own.task_queue,
        )
    if not POSTGRES:
        assert result.territories == 0
        return
    assert result.territories >= 1
    async with sessions() as session:
        rows = await session.execute(
            select(MONTHS.c.figure, MONTHS.c.month).where(
                MONTHS.c.territory == territory, MONTHS.c.summarized == MONTHS.c.version
            )
        )
        kept = {(figure, month) for figure, month in rows}
    may = date(2025, 5, 1)
    for figure in (STAYS, APPOINTMENTS, FIRST_APPOINTMENTS, CONTRACTS, EXITS):
        assert (figure, may) in kept
    # The kept months give the manager the same figures.
    read = await read_figures(sessions, settings, territory)
    rate = read.total.contract_within
    assert (read.total.orientations, rate.numerator, read.total.exits) == (1, 1, 1)
