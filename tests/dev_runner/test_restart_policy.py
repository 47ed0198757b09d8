"""How long the supervisor waits before restarting a component: the wait doubles while it
keeps stopping (1 s, 2 s, 4 s … 30 s at most) and starts over once it ran fine for a minute;
each stop is one line in the terminal, and nothing is restarted once the supervisor stops."""

from __future__ import annotations

import os
import sys
import time

import pytest

from cli.supervisor import (
    FIRST_DELAY_S,
    HEALTHY_AFTER_S,
    MAX_DELAY_S,
    Component,
    Supervisor,
    next_delay,
)
from parcours.core.settings import ROOT


def test_the_wait_doubles_up_to_its_cap_and_starts_over_after_a_healthy_minute() -> None:
    waits = [FIRST_DELAY_S]
    for _ in range(7):
        waits.append(next_delay(waits[-1], ran_for_s=2))

    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert next_delay(MAX_DELAY_S, ran_for_s=HEALTHY_AFTER_S) == FIRST_DELAY_S
    assert next_delay(0, ran_for_s=0) == FIRST_DELAY_S


@pytest.mark.resilience
def test_a_component_that_keeps_stopping_is_restarted_each_time_it_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    supervisor = Supervisor(ROOT, os.environ)
    crashing = Component(
        "essai", "L'essai s'est arrêté", [sys.executable, "-c", "raise SystemExit(3)"]
    )
    expected = [f"L'essai s'est arrêté (code 3) : redémarrage dans {s} s." for s in (1, 2, 4)]
    printed = ""
    try:
        supervisor.start(crashing)
        deadline = time.monotonic() + 120
        while not all(line in printed for line in expected) and time.monotonic() < deadline:
            time.sleep(0.2)
            printed += capsys.readouterr().err
    finally:
        supervisor.stop()

    assert printed.splitlines()[:3] == expected
    assert not crashing.running()
