"""Serve the simulators with uvicorn (``python -m simulators``, ``parcours simulators``)."""

from __future__ import annotations

import uvicorn

from simulators.app import create_app
from simulators.config import DEFAULT_PORT, DEV_CALLBACK_SECRET, SimulatorConfig


def run(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    callback_url: str | None = None,
    callback_secret: str = DEV_CALLBACK_SECRET,
    *,
    decision_delay_s: float | None = None,
    demo_events: int = 0,
    seed: int = 0,
    region_decides_alone: bool = True,
    log_level: str = "info",
) -> None:
    """Serve every partner on ``host:port`` until interrupted."""
    config = SimulatorConfig(
        callback_url=callback_url,
        callback_secret=callback_secret,
        decision_delay_s=decision_delay_s,
        demo_events=demo_events,
        seed=seed,
        region_decides_alone=region_decides_alone,
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level)
