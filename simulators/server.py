"""Serve the simulators with uvicorn (``python -m simulators``, ``parcours simulators``)."""

from __future__ import annotations

import uvicorn

from simulators.app import create_app
from simulators.config import (
    DEFAULT_MAILBOX_DIR,
    DEFAULT_PORT,
    DEFAULT_SMTP_PORT,
    DEV_CALLBACK_SECRET,
    SimulatorConfig,
)


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
    mailbox_dir: str | None = DEFAULT_MAILBOX_DIR,
    smtp_port: int | None = DEFAULT_SMTP_PORT,
    log_level: str = "info",
    sms_api_key: str | None = None,
    sms_report_url: str | None = None,
    sms_report_secret: str = "",
    sms_report_delay_s: float | None = None,
) -> None:
    """Serve every partner on ``host:port`` until interrupted, and the local mailbox (SMTP on
    ``host:smtp_port``, mails in ``mailbox_dir``) unless ``mailbox_dir`` is None. The SMS
    provider's delivery reports go to ``sms_report_url`` (with ``sms_report_secret``),
    ``sms_report_delay_s`` after each SMS."""
    config = SimulatorConfig(
        callback_url=callback_url,
        callback_secret=callback_secret,
        decision_delay_s=decision_delay_s,
        demo_events=demo_events,
        seed=seed,
        region_decides_alone=region_decides_alone,
        mailbox_dir=mailbox_dir,
        mailbox_smtp_host=host,
        mailbox_smtp_port=smtp_port,
        sms_api_key=sms_api_key,
        sms_report_url=sms_report_url,
        sms_report_secret=sms_report_secret,
        sms_report_delay_s=sms_report_delay_s,
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level)
