"""Who reads a journey after its hand-off to another département (pure rules, no database):
its former référent and the référents of its former structure, read only, until the
hand-off's ``readable_until``; nobody else gains anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parcours.access.rules import (
    Principal,
    Role,
    ensure_action,
    ensure_read,
    ensure_write,
    reading_after_handoff,
)
from parcours.core.errors import Forbidden, NotFound
from parcours.journey.models import JourneyHandover, JourneyRecord

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UNTIL = AT + timedelta(days=90)


def journey(territory: str = "74", referent_id: str | None = None) -> JourneyRecord:
    return JourneyRecord(
        beneficiary_id="b-1",
        journey_id="j-1",
        territory=territory,
        referent_id=referent_id,
        structure_id=None,
    )


def handover(seq: int = 5, to: str = "74", referent_id: str = "r-73") -> JourneyHandover:
    return JourneyHandover(
        journey_id="j-1",
        seq=seq,
        beneficiary_id="b-1",
        from_territory="73",
        to_territory=to,
        from_referent_id=referent_id,
        from_structure_id="s-73",
        handed_off_at=AT,
        readable_until=UNTIL,
    )


def referent(user_id: str = "r-73", structure_id: str | None = "s-73") -> Principal:
    return Principal(user_id, Role.REFERENT, "Référente", "73", structure_id=structure_id)


FORMER_TEAM = [referent(), referent("r-colleague"), referent(structure_id=None)]
OTHERS = [
    referent("r-elsewhere", "s-other"),
    referent("r-elsewhere", None),
    Principal("o-73", Role.ORIENTATION, "Orientation", "73", structure_id="s-73"),
    Principal("m-73", Role.MANAGER, "Responsable", "73"),
]


@pytest.mark.parametrize("p", FORMER_TEAM, ids=["referent", "colleague", "referent-alone"])
def test_the_former_team_reads_until_the_end_of_the_period_and_never_writes(
    p: Principal,
) -> None:
    moved, kept = journey(), [handover()]
    during = AT + timedelta(days=1)
    assert reading_after_handoff(p, moved, kept, during) is kept[0]
    assert ensure_read(p, moved, kept, during) is moved
    for write in (
        lambda: ensure_write(p, moved, kept, during),
        lambda: ensure_action(p, moved, "pause", kept, during),
    ):
        with pytest.raises(Forbidden) as refused:
            write()
        assert refused.value.message == (
            "Parcours transféré au département 74 le 02/03/2026 : vous pouvez le lire jusqu'au "
            "31/05/2026, sans pouvoir le modifier ni agir sur le parcours."
        )
    # The period is over: like anyone else.
    assert reading_after_handoff(p, moved, kept, UNTIL) is None
    with pytest.raises(NotFound):
        ensure_read(p, moved, kept, UNTIL)


@pytest.mark.parametrize("p", OTHERS, ids=["other-structure", "other", "orientation", "manager"])
def test_nobody_else_reads_a_journey_by_its_hand_off(p: Principal) -> None:
    assert reading_after_handoff(p, journey(), [handover()], AT) is None


def test_a_referent_who_follows_the_journey_again_reads_and_writes_as_before() -> None:
    back = journey(territory="73", referent_id="r-73")
    assert reading_after_handoff(referent(), back, [handover()], AT) is None
    assert ensure_write(referent(), back, [handover()], AT) is back


def test_the_latest_hand_off_speaks_when_there_are_several() -> None:
    kept = [handover(seq=5, to="01"), handover(seq=9, to="74")]
    found = reading_after_handoff(referent(), journey(), kept, AT)
    assert found is not None and found.to_territory == "74"


def test_a_hand_off_is_judged_at_a_given_time() -> None:
    with pytest.raises(ValueError):
        ensure_read(referent(), journey(), [handover()])
