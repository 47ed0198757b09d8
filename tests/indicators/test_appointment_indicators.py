"""The appointments' indicators (issue 14, item 8), on a data set counted by hand: the first
appointment attended after the orientation within 15 and 30 days, its mean and median delay,
no-shows of invitations and of convocations, and the share of appointments the person booked
herself — for the period, each month and each structure, on the page's tables and in CSV."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import Structure
from parcours.access.rules import Principal, Role
from parcours.appointments.models import Appointment
from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.indicators.closed_months import APPOINTMENTS, FIRST_APPOINTMENTS, MONTHS
from parcours.indicators.models import JourneyMilestones
from parcours.indicators.repository import (
    IndicatorRepository,
    counted_percentile,
    percentile,
)
from parcours.indicators.schemas import IndicatorFilter, IndicatorsRead
from parcours.indicators.service import IndicatorService, table, to_csv
from parcours.journey.models import JourneyRecord
from tests.conftest import POSTGRES
from tests.support.indicators import person_with_milestones, year_scope

pytestmark = pytest.mark.appointments


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


async def free_territory(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session:
        used = set(await session.scalars(select(JourneyRecord.territory).distinct()))
        used |= set(await session.scalars(select(Structure.territory).distinct()))
    return random.choice([str(c) for c in range(900, 990) if str(c) not in used])


async def new_hub(session: AsyncSession, territory: str, name: str) -> Structure:
    """A structure of ``territory`` that follows people (flushed: its id is known)."""
    hub = Structure(name=name, kind="departement", territory=territory)
    session.add(hub)
    await session.flush()
    return hub


async def oriented(session: AsyncSession, hub: Structure, name: str, on: date) -> str:
    """A person of ``hub``'s département oriented on ``on``, followed by ``hub``: her id."""
    return await person_with_milestones(session, hub.territory, hub.id, name, seq=3, oriented_on=on)


async def read_figures(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, territory: str
) -> IndicatorsRead:
    manager = Principal(id=str(uuid.uuid4()), role=Role.MANAGER, full_name="M", territory=territory)
    async with sessions() as session:
        read = await IndicatorService(session, settings, manager).read(
            IndicatorFilter(from_month="2025-01", to_month="2025-12"), today=date(2026, 12, 5)
        )
        await session.commit()  # as a request does: the closed months counted are kept
        return read


async def test_first_appointments_no_shows_and_self_booking_counted_by_hand(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        hub = await new_hub(session, territory, "Pôle insertion")
        people = [
            await oriented(session, hub, name, date.fromisoformat(on))
            for name, on in (("Une", "2025-03-03"), ("Deux", "2025-03-05"), ("Trois", "2025-03-20"))
        ]

        def appointment(who: int, mode: str, day: str, status: str) -> Appointment:
            return Appointment(
                beneficiary_id=people[who],
                mode=mode,
                kind="accompagnement",
                starts_at=at(day),
                status=status,
                structure_id=hub.id,
            )

        session.add_all(
            [
                # Une: booked from her invitation, attended 7 days after her orientation.
                appointment(0, "invitation", "2025-03-10", "attended"),
                # Deux: convoked, absent without excuse, convoked again, attended on day 22.
                appointment(1, "convocation", "2025-03-12", "absent_unexcused"),
                appointment(1, "convocation", "2025-03-27", "attended"),
                # Trois attended nothing. One more invitation booked in April, not yet held.
                appointment(2, "invitation", "2025-04-14", "booked"),
            ]
        )

    read = await read_figures(sessions, settings, territory)
    total = read.appointments.total
    assert total.oriented == 3
    within = [(r.numerator, r.denominator) for r in total.first_attended_within]
    assert within == [(1, 3), (2, 3)]  # 15 days: Une; 30 days: Une and Deux
    assert (total.mean_delay_days, total.median_delay_days) == (14.5, 14.5)
    invitations, convocations = total.no_show_invitations, total.no_show_convocations
    assert (invitations.numerator, invitations.denominator) == (0, 1)
    assert (convocations.numerator, convocations.denominator, convocations.percent) == (1, 2, 50.0)
    assert (total.self_booked.numerator, total.self_booked.denominator) == (2, 4)

    months = {m.month: m.figures for m in read.appointments.months}
    assert len(months) == 12
    assert months["2025-03"].oriented == 3 and months["2025-03"].self_booked.denominator == 3
    assert months["2025-04"].oriented == 0 and months["2025-04"].self_booked.numerator == 1
    (structure,) = read.appointments.structures
    assert structure.label == "Pôle insertion" and structure.figures == total

    # The page's table and its CSV, in French numbers.
    rows = table(read, "rendez-vous").rows
    assert rows[-1] == ["Total de la période", 3, 33.3, 66.7, 14.5, 14.5, 0.0, 50.0, 50.0]
    text = to_csv(read, "rendez-vous-structures")
    assert "Pôle insertion;3;33,3;66,7;14,5;14,5;0,0;50,0;50,0" in text
    assert "1er rendez-vous honoré sous 15 jours (%)" in text.splitlines()[0]


async def test_the_first_appointment_is_counted_in_french_days(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """An appointment at half past midnight in Paris on the day of the orientation is that
    day's (delay 0), though still the day before in UTC; one at half past eleven the evening
    before came before the orientation and does not count."""
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        hub = await new_hub(session, territory, "Pôle nuit")
        before = await oriented(session, hub, "Avant", date(2025, 3, 20))
        midnight = await oriented(session, hub, "Minuit", date(2025, 3, 20))
        session.add_all(
            [
                Appointment(
                    beneficiary_id=before,
                    mode="noted",
                    starts_at=datetime(2025, 3, 19, 22, 30, tzinfo=UTC),  # 23:30 in Paris
                    status="attended",
                ),
                Appointment(
                    beneficiary_id=midnight,
                    mode="noted",
                    starts_at=datetime(2025, 3, 19, 23, 30, tzinfo=UTC),  # 00:30 in Paris
                    status="attended",
                ),
            ]
        )

    total = (await read_figures(sessions, settings, territory)).appointments.total
    assert total.oriented == 2
    assert [(r.numerator, r.denominator) for r in total.first_attended_within] == [(1, 2), (1, 2)]
    assert (total.mean_delay_days, total.median_delay_days) == (0.0, 0.0)


async def test_a_slot_is_counted_in_its_month_in_french_time(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Slots near midnight at the ends of months fall in the month of their French day: half
    past midnight on 1 April in Paris is April's though still March in UTC, and the period's
    first and last French minutes are its own."""
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        hub = await new_hub(session, territory, "Pôle calendrier")
        someone = await oriented(session, hub, "Calendrier", date(2025, 1, 2))
        session.add_all(
            Appointment(
                beneficiary_id=someone,
                mode="invitation",
                kind="accompagnement",
                starts_at=starts_at,
                status="booked",
                structure_id=hub.id,
            )
            for starts_at in (
                datetime(2024, 12, 31, 22, 59, tzinfo=UTC),  # 23:59 on 31 December: before
                datetime(2024, 12, 31, 23, 0, tzinfo=UTC),  # midnight, 1 January in Paris
                datetime(2025, 3, 31, 21, 30, tzinfo=UTC),  # 23:30 on 31 March in Paris
                datetime(2025, 3, 31, 22, 30, tzinfo=UTC),  # 00:30 on 1 April in Paris
                datetime(2025, 12, 31, 22, 59, tzinfo=UTC),  # 23:59 on 31 December
                datetime(2025, 12, 31, 23, 0, tzinfo=UTC),  # 1 January 2026: after
            )
        )

    read = await read_figures(sessions, settings, territory)
    slots = {m.month: m.figures.self_booked.denominator for m in read.appointments.months}
    assert {month: n for month, n in slots.items() if n} == {
        "2025-01": 1,
        "2025-03": 1,
        "2025-04": 1,
        "2025-12": 1,
    }
    assert read.appointments.total.self_booked.denominator == 4


def test_a_median_of_counted_delays_is_the_median_of_the_delays_written_out() -> None:
    rng = random.Random(7)
    for _ in range(200):
        counts = {rng.randrange(0, 90): rng.randrange(1, 6) for _ in range(rng.randrange(1, 12))}
        written = [d for d, n in counts.items() for _ in range(n)]
        for fraction in (0.0, 0.25, 0.5, 0.9, 1.0):
            assert counted_percentile(counts, fraction) == percentile(written, fraction)
    assert counted_percentile({}, 0.5) is None


async def test_a_corrected_attendance_and_a_later_orientation_are_counted_again(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """The first appointment follows what happened after it was first counted: an attendance
    recorded by mistake and corrected, an appointment moved or deleted, an orientation recorded
    after the appointments it precedes."""
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        hub = Structure(name="Pôle corrections", kind="departement", territory=territory)
        person = Beneficiary(
            first_name="Corrigée",
            last_name="Test",
            birth_date=date(1990, 1, 1),
            territory=territory,
        )
        session.add_all([hub, person])
        await session.flush()
        early = Appointment(
            beneficiary_id=person.id, mode="noted", starts_at=at("2025-03-05"), status="attended"
        )
        later = Appointment(
            beneficiary_id=person.id, mode="noted", starts_at=at("2025-03-25"), status="attended"
        )
        session.add_all([early, later])
        await session.flush()
        # The orientation is recorded after both appointments were.
        session.add(
            JourneyMilestones(
                journey_id=person.id,
                beneficiary_id=person.id,
                territory=territory,
                structure_id=hub.id,
                reference_on=date(2025, 2, 1),
                oriented_on=date(2025, 3, 3),
                seq=3,
            )
        )

    async def delay() -> float | None:
        return (
            await read_figures(sessions, settings, territory)
        ).appointments.total.mean_delay_days

    async def change(appointment_id: str, **values: object) -> None:
        async with transaction(sessions) as session:
            appointment = await session.get(Appointment, appointment_id)
            assert appointment is not None
            if not values:
                await session.delete(appointment)
            for name, value in values.items():
                setattr(appointment, name, value)

    assert await delay() == 2.0
    await change(early.id, status="absent_excused")  # she was in fact absent on the 5th
    assert await delay() == 22.0
    await change(later.id, starts_at=at("2025-03-10"))  # the one of the 25th was on the 10th
    assert await delay() == 7.0
    await change(later.id)  # deleted
    assert await delay() is None


def seen(read: IndicatorsRead) -> dict[str, tuple[tuple[int, int], ...]]:
    """Self-booked, no-shows of invitations and of convocations (numerator, denominator): the
    period's, March's, April's and each structure's."""

    def rates(f: Any) -> tuple[tuple[int, int], ...]:
        return tuple(
            (r.numerator, r.denominator)
            for r in (f.self_booked, f.no_show_invitations, f.no_show_convocations)
        )

    appointments = read.appointments
    months = {m.month: m.figures for m in appointments.months}
    return {
        "total": rates(appointments.total),
        "2025-03": rates(months["2025-03"]),
        "2025-04": rates(months["2025-04"]),
        **{s.label: rates(s.figures) for s in appointments.structures},
    }


async def test_closed_months_counts_follow_every_later_change(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """March and April 2025 are long over: their invitations and convocations are kept once
    counted (PostgreSQL), yet an attendance noted late, a slot moved to another month, a
    person deleted and an appointment imported afterwards show at the next read — the same
    figures as every slot counted afresh."""
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        a = await new_hub(session, territory, "Pôle A")
        b = await new_hub(session, territory, "Pôle B")
        people = {
            name: await oriented(session, hub, name, date(2025, 3, 3))
            for name, hub in (("Ana", a), ("Bob", a), ("Cid", b), ("Dan", b), ("Eli", a))
        }
        slots = {
            name: Appointment(
                beneficiary_id=people[name],
                mode=mode,
                kind="accompagnement",
                starts_at=at(day),
                status=status,
                structure_id=hub.id,
            )
            for name, hub, mode, day, status in (
                ("Ana", a, "invitation", "2025-03-10", "attended"),
                ("Bob", a, "convocation", "2025-03-12", "absent_unexcused"),
                ("Cid", b, "invitation", "2025-03-20", "booked"),
                ("Dan", b, "convocation", "2025-04-14", "attended"),
            )
        }
        session.add_all(slots.values())

    async def figures() -> dict[str, tuple[tuple[int, int], ...]]:
        read = await read_figures(sessions, settings, territory)
        async with sessions() as session:  # kept or counted, the same rows
            repo = IndicatorRepository(session)
            for structure_id in (None, a.id, b.id):
                scope = year_scope(territory, 2025, structure_id)
                start, end = at("2025-01-01", 0), at("2026-01-01", 0)
                kept = await repo.appointments(scope, start, end)
                counted = await repo.appointments_counted(scope, start, end)
                assert tallied(kept) == tallied(counted)
        return seen(read)

    first = await figures()
    assert first["total"] == ((2, 4), (0, 1), (1, 2))
    assert first["2025-03"] == ((2, 3), (0, 1), (1, 1))
    assert first["2025-04"] == ((0, 1), (0, 0), (0, 1))
    assert first["Pôle B"] == ((1, 2), (0, 0), (0, 1))

    async def change(name: str, **values: Any) -> None:
        async with transaction(sessions) as session:
            slot = await session.get(Appointment, slots[name].id)
            assert slot is not None
            for key, value in values.items():
                setattr(slot, key, value)

    async def kept_months() -> set[date]:
        async with sessions() as session:
            kept = await session.execute(
                select(MONTHS.c.month, MONTHS.c.version, MONTHS.c.summarized).where(
                    MONTHS.c.figure == APPOINTMENTS, MONTHS.c.territory == territory
                )
            )
            return {m for m, version, summarized in kept if summarized == version}

    if POSTGRES:  # both months kept, at the version they were counted at
        assert await kept_months() >= {date(2025, 3, 1), date(2025, 4, 1)}
        # A letter asked for changes no figure: March stays kept.
        await change("Ana", with_letter=True)
        assert date(2025, 3, 1) in await kept_months()

    # Cid's absence noted late (same month).
    await change("Cid", status="absent_unexcused")
    assert (await figures())["2025-03"] == ((2, 3), (1, 2), (1, 1))
    # Bob's convocation moved from March to April.
    await change("Bob", starts_at=at("2025-04-02"))
    moved = await figures()
    assert (moved["2025-03"], moved["2025-04"]) == (
        ((2, 2), (1, 2), (0, 0)),
        ((0, 2), (0, 0), (1, 2)),
    )
    # Dan deleted (his appointments with him, by the database's cascade).
    async with transaction(sessions) as session:
        await session.delete(await session.get(Beneficiary, people["Dan"]))
    after = await figures()
    assert after["2025-04"] == ((0, 1), (0, 0), (1, 1))
    assert after["Pôle B"] == ((1, 1), (1, 1), (0, 0))
    # An invitation of March imported afterwards.
    async with transaction(sessions) as session:
        session.add(
            Appointment(
                beneficiary_id=people["Eli"],
                mode="invitation",
                kind="accompagnement",
                starts_at=at("2025-03-25"),
                status="attended",
                structure_id=a.id,
            )
        )
    imported = await figures()
    assert imported["2025-03"] == ((3, 3), (1, 3), (0, 0))
    assert imported["total"] == ((3, 4), (1, 3), (1, 1))


def tallied(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], int]:
    """Grouped rows added up by month and by structure, whichever way they were grouped."""
    found: dict[tuple[str, ...], int] = defaultdict(int)
    for row in rows:
        how = (row["mode"], row["status"])
        if row["counts_in"] in ("months", "all"):
            found[("month", row["month"], *how)] += int(row["held"])
        if row["counts_in"] in ("structures", "all"):
            found[("structure", row["structure_id"], *how)] += int(row["held"])
    return dict(found)


async def test_closed_months_first_appointments_follow_every_later_change(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """March and April 2025 are settled (their 30 days long past): the people oriented in them
    are kept once counted (PostgreSQL), by structure and delay to their first appointment. An
    appointment attended noted late, an attendance struck out, an orientation's day corrected
    into another month, a person moved to another structure and a person deleted each show at
    the next read, and so does a person oriented in March imported afterwards — the same figures
    as everyone counted afresh."""
    territory = await free_territory(sessions)
    async with transaction(sessions) as session:
        a = await new_hub(session, territory, "Pôle A")
        b = await new_hub(session, territory, "Pôle B")
        people = {
            name: await oriented(session, hub, name, date.fromisoformat(on))
            for name, hub, on in (
                ("Ana", a, "2025-03-03"),
                ("Bob", a, "2025-03-03"),
                ("Cid", b, "2025-03-03"),
                ("Dan", b, "2025-04-07"),
            )
        }
        attended = {
            name: Appointment(
                beneficiary_id=people[name],
                mode="convocation",
                kind="accompagnement",
                starts_at=at(day),
                status="attended",
                structure_id=hub.id,
            )
            for name, hub, day in (
                ("Ana", a, "2025-03-10"),  # day 7
                ("Bob", a, "2025-03-30"),  # day 27
                ("Dan", b, "2025-04-10"),  # day 3
            )
        }
        session.add_all(attended.values())

    def rates(f: Any) -> tuple[int, tuple[tuple[int, int], ...]]:
        return f.oriented, tuple((r.numerator, r.denominator) for r in f.first_attended_within)

    async def figures() -> dict[str, tuple[int, tuple[tuple[int, int], ...]]]:
        read = await read_figures(sessions, settings, territory)
        async with sessions() as session:  # kept or counted, the same rows
            repo = IndicatorRepository(session)
            for structure_id in (None, a.id, b.id):
                scope = year_scope(territory, 2025, structure_id)
                # Read on 5 April 2025, March's 30 days are not over: who is due is counted.
                for today in (scope.today, date(2025, 4, 5)):
                    scope = replace(scope, today=today)
                    kept = await repo.first_appointments(scope, (15, 30))
                    counted = await repo.first_appointments_counted(scope, (15, 30))
                    assert first_tallied(kept) == first_tallied(counted)
        months = {m.month: m.figures for m in read.appointments.months}
        return {
            "total": rates(read.appointments.total),
            "2025-03": rates(months["2025-03"]),
            "2025-04": rates(months["2025-04"]),
            **{s.label: rates(s.figures) for s in read.appointments.structures},
        }

    first = await figures()
    assert first["total"] == (4, ((2, 4), (3, 4)))
    assert first["2025-03"] == (3, ((1, 3), (2, 3)))
    assert first["2025-04"] == (1, ((1, 1), (1, 1)))
    assert first["Pôle A"] == (2, ((1, 2), (2, 2)))

    async def kept_months() -> set[date]:
        async with sessions() as session:
            kept = await session.execute(
                select(MONTHS.c.month, MONTHS.c.version, MONTHS.c.summarized).where(
                    MONTHS.c.figure == FIRST_APPOINTMENTS, MONTHS.c.territory == territory
                )
            )
            return {m for m, version, summarized in kept if summarized == version}

    async def milestone(name: str, **values: Any) -> None:
        async with transaction(sessions) as session:
            row = await session.get(JourneyMilestones, people[name])
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)

    if POSTGRES:  # both months kept, at the version they were counted at
        assert await kept_months() >= {date(2025, 3, 1), date(2025, 4, 1)}
        # A change of a column the figure does not count (a contract) keeps March kept.
        await milestone("Ana", contract_signed_on=date(2025, 4, 1))
        assert date(2025, 3, 1) in await kept_months()

    # Cid's appointment of the 12th, attended, noted late.
    async with transaction(sessions) as session:
        session.add(
            Appointment(
                beneficiary_id=people["Cid"],
                mode="noted",
                starts_at=at("2025-03-12"),
                status="attended",
            )
        )
    assert (await figures())["2025-03"] == (3, ((2, 3), (3, 3)))
    # Bob was in fact absent on the 30th: no first appointment for him.
    async with transaction(sessions) as session:
        slot = await session.get(Appointment, attended["Bob"].id)
        assert slot is not None
        slot.status = "absent_excused"
    assert (await figures())["Pôle A"] == (2, ((1, 2), (1, 2)))
    # Dan's orientation was on 28 March, not 7 April (his appointment on day 13).
    await milestone("Dan", oriented_on=date(2025, 3, 28))
    moved = await figures()
    assert (moved["2025-03"], moved["2025-04"]) == ((4, ((3, 4), (3, 4))), (0, ((0, 0), (0, 0))))
    # Ana is followed by Pôle B now.
    await milestone("Ana", structure_id=b.id)
    assert (await figures())["Pôle B"] == (3, ((3, 3), (3, 3)))
    # Cid deleted (his milestones with him, by the database's cascade).
    async with transaction(sessions) as session:
        await session.delete(await session.get(Beneficiary, people["Cid"]))
    after = await figures()
    assert after["total"] == (3, ((2, 3), (2, 3)))
    assert after["Pôle B"] == (2, ((2, 2), (2, 2)))
    # Eve, oriented on 17 March by Pôle A, imported afterwards.
    async with transaction(sessions) as session:
        await oriented(session, a, "Eve", date(2025, 3, 17))
    imported = await figures()
    assert imported["2025-03"] == (4, ((2, 4), (2, 4)))
    assert imported["Pôle A"] == (2, ((0, 2), (0, 2)))


def first_tallied(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """First appointments' rows added up by month and delay, and by structure and delay,
    whichever way they were grouped: (people, overdue at 15 days, at 30)."""
    found: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        counts = (int(row["oriented"]), int(row["overdue_15"]), int(row["overdue_30"]))
        keys = []
        if row["counts_in"] in ("months", "all"):
            keys.append(("month", row["month"], row["delay"]))
        if row["counts_in"] in ("structures", "all"):
            keys.append(("structure", row["structure_id"], row["delay"]))
        for key in keys:
            found[key] = [x + y for x, y in zip(found[key], counts, strict=True)]
    return {key: tuple(value) for key, value in found.items()}
