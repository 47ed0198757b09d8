"""Configuration from the environment (prefix ``PARCOURS_``), one ``Settings`` for every part."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET = "dev-secret-change-me"
# The partner simulators' signing secret (``simulators/config.py``).
DEV_CALLBACK_SECRET = "dev-callback-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = DEV_SECRET
    # Where ``parcours dev`` keeps its files: the Temporal dev server's SQLite file, the logs,
    # the demo's CAF feed, and the app's SQLite database unless DATABASE_URL names another.
    var_dir: Path = ROOT / "var"
    # The app's own database; Temporal keeps its own elsewhere. Default: SQLite in ``var_dir``.
    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "journeys"
    # The Journey workflow runs outside Temporal's sandbox (re-importing its module for each of
    # thousands of journeys cost a third of the worker's CPU). The tests run it inside, where
    # a non-deterministic call (clock, I/O, randomness) fails at once.
    workflow_sandbox_everywhere: bool = False
    # ``parcours dev`` serves the Temporal UI on this URL's port.
    temporal_ui_url: str = "http://127.0.0.1:8233"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Where partners reach the API (their callbacks); in compose, http://api:8000.
    public_api_url: str = "http://127.0.0.1:8000"
    simulators_host: str = "127.0.0.1"
    simulators_port: int = 8100
    simulators_decision_delay_s: float | None = 20.0
    # The demo's Région decides in the funders' console; France Travail's system on its own.
    simulators_region_decides_alone: bool = False
    simulators_demo_events: int = 0
    worker_metrics_address: str = "127.0.0.1:9464"
    # The API's /metrics asks for this bearer token; without one it is open in development
    # and tests only (in production it answers 404 until a token is set).
    metrics_token: str = ""
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"

    # Sign-in. Cookies are Secure outside development (the dev server is plain http).
    # A session ends 12 hours after sign-in, or after 30 minutes without a request.
    session_hours: int = 12
    session_idle_minutes: int = 30
    # Sign-in throttle (see parcours/access/throttle.py): attempts for one address typed from
    # one client, failures from one client, failures for one address typed; counted over
    # ``sign_in_window_minutes``; past the limit each try waits twice as long (from
    # ``sign_in_first_wait_s``, at most ``sign_in_max_wait_s``).
    sign_in_attempts_per_pair: int = 5
    sign_in_failures_per_client: int = 30
    sign_in_failures_per_account: int = 50
    sign_in_window_minutes: int = 60
    sign_in_first_wait_s: int = 30
    sign_in_max_wait_s: int = 900
    invitation_days: int = 7
    cookie_secure: bool | None = None
    oidc_enabled: bool = False
    oidc_issuer: str = "https://auth.proconnect.gouv.fr/api/v2"
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid email given_name usual_name"

    # Carnet
    retention_months: int = 24
    max_document_bytes: int = 5 * 1024 * 1024

    # Partners (CAF, France Travail, Région, service structures). In development one base URL
    # serves the simulators (``python -m simulators``); production sets each partner's own.
    partners_base_url: str = "http://127.0.0.1:8100"
    caf_url: str | None = None
    france_travail_url: str | None = None
    region_url: str | None = None
    structures_url: str | None = None
    partner_connect_timeout_s: float = 3.0
    # Orientation and accompaniment appointments, and each of their statuses, go to France
    # Travail's partner-appointment interface (with the person's consent).
    france_travail_appointments: bool = True
    partner_timeout_s: float = 10.0
    # The master secret each partner's callback secret is derived from (never handed over
    # itself); callbacks older than the window are refused (replays).
    partner_callback_secret: str = DEV_CALLBACK_SECRET
    # Each partner's own callback secret (JSON: {"france_travail": "…"}); a partner absent
    # here has one derived from partner_callback_secret (``parcours partner-secret``).
    partner_callback_secrets: dict[str, str] = {}
    partner_callback_window_s: int = 300
    # A référent's look-up at the CAF or France Travail waits this long for the answer, then
    # says it will come later (the look-up goes on under the partner's retry policy).
    partner_lookup_wait_s: float = 5.0

    # CAF feed imports (each line's person is enrolled in the line's département, if hosted).
    caf_import_batch_lines: int = 500
    caf_import_concurrency: int = 8
    # Read chunk by chunk (its memory does not grow with it): the bound guards the database.
    caf_import_max_bytes: int = 200 * 1024 * 1024

    # Step deadlines (SLA). Orientation: 6 weeks after the RSA opens, contract: one month
    # after orientation (décret 2024-1244); the others are the département's usual targets.
    intake_days: int = 15
    diagnosis_days: int = 30
    orientation_weeks_after_rsa: int = 6
    contract_days_after_orientation: int = 30
    accompaniment_review_days: int = 180
    follow_up_consent_days: int = 15
    check_in_grace_days: int = 15
    follow_up_check_in_months: list[int] = [1, 3, 6]
    # The legal orientation delay: this many weeks after the right opens (or is transferred
    # in) without an orientation decision, France Travail orients (art. D.262-65-2 CASF,
    # décret 2024-1244). Read when a journey starts. 0: France Travail never takes over.
    france_travail_orients_after_weeks: int = Field(default=6, ge=0)
    # The social track's review (art. D.262-65-2-1 CASF): at 6 months, 12 for one of the
    # listed reasons; in the référent's « À traiter » this many days ahead.
    social_review_months: int = 6
    social_review_extended_months: int = 12
    social_review_notice_days: int = 15
    social_review_extension_reasons: list[str] = [
        "health",
        "disability",
        "invalidity",
        "housing",
        "childcare",
        "caring",
    ]
    # Suspension-remobilisation (décret 2025-478, R.262-68 and following), captured when a
    # case opens: the answer window after the notice's receipt; a first breach suspends at
    # least 30 % for 1 to 2 months; a repeated one (a sanction decided in the 12 months
    # before) suspends or removes 30 % to 100 % for 1 to 4 months; capped at 50 % for a
    # household of more than one person or with the single-parent supplement (R.262-68-6).
    sanction_answer_days: int = Field(default=10, ge=1)
    sanction_first_min_percent: int = Field(default=30, ge=1, le=100)
    sanction_first_min_months: int = Field(default=1, ge=1)
    sanction_first_max_months: int = Field(default=2, ge=1)
    sanction_repeated_min_percent: int = Field(default=30, ge=1, le=100)
    sanction_repeated_max_percent: int = Field(default=100, ge=1, le=100)
    sanction_repeated_min_months: int = Field(default=1, ge=1)
    sanction_repeated_max_months: int = Field(default=4, ge=1)
    sanction_household_cap_percent: int = Field(default=50, ge=1, le=100)
    sanction_repeat_window_months: int = Field(default=12, ge=1)
    # A training's funder (Région, France Travail) answers a request within this many days;
    # then it is reminded and the request shows as stalled. Read when a request starts.
    funder_answer_days: int = 15
    # Orientations to a service (Dora's circuit): a structure that has not answered is
    # reminded after this many days, and the orientation expires after that many. Read when
    # an orientation starts.
    service_orientation_reminder_days: int = Field(default=10, ge=1)
    service_orientation_expiry_days: int = Field(default=30, ge=2)
    # A journey handed off to another département stays readable (never writable) by its
    # former référent and the référents of its former structure for this many days (0: not
    # at all). Read when the hand-off is written to the read model.
    handoff_read_days: int = Field(default=90, ge=0)

    # A journey's run continues as new past this many history events: an update reaching a
    # journey the worker has forgotten replays at most that many (``make bench``:
    # ``cold_update_p95_ms``). Read when a journey starts.
    journey_history_events_bound: int = Field(default=250, ge=50)

    # The reconciler (read model vs. workflows) runs at the worker's start and then every
    # ``reconcile_every_minutes`` on the journeys written in the last ``reconcile_window_minutes``.
    reconcile_every_minutes: int = Field(default=5, ge=1)
    reconcile_window_minutes: int = Field(default=15, ge=1)

    # Managers' console. A journey with no event and no carnet change for this many days is
    # stalled; a partner call failing this many attempts in a row is an incident.
    stalled_inactive_days: int = Field(default=60, ge=1)
    partner_incident_attempts: int = Field(default=3, ge=1)
    # The daily digest (at this hour, UTC) lists people waiting for a référent this long.
    digest_hour: int = Field(default=6, ge=0, le=23)
    digest_waiting_days: int = Field(default=7, ge=1)
    # Unusual access, in the managers' digest: an agent who read more than this many carnets
    # outside her follow-up list in a day.
    unusual_access_reads: int = Field(default=20, ge=1)
    # E-mail (``parcours.core.mail``): sent only when an SMTP host is set; ``parcours dev``
    # points it at the simulators' mailbox.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "parcours@localhost"
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    # The outbox (``parcours.core.outbox``): a mail not sent is tried again after this long,
    # twice as long after each failure (at most an hour), up to ``mail_max_attempts`` times;
    # sent mails are deleted after ``mail_keep_days``.
    mail_retry_after_s: float = Field(default=60.0, ge=0)
    mail_max_attempts: int = Field(default=30, ge=1)
    mail_keep_days: int = Field(default=30, ge=1)
    # The local mailbox (``simulators/mailbox.py``, served by ``parcours simulators``): an SMTP
    # server on the simulators' host that keeps every mail as a .eml file in ``mailbox_dir``
    # (default: ``mail/`` in ``var_dir``).
    mailbox_smtp_port: int = 1025
    mailbox_dir: Path | None = None
    public_app_url: str = "http://127.0.0.1:8000"

    # SMS (``parcours.sms``): sent through a transactional SMS provider speaking Brevo's HTTP
    # interface, only when ``sms_url`` is set (``parcours dev`` points it at the simulator).
    # Without it, SMS stay in the outbox. ``sms_sender``: the name the phone shows (11
    # characters at most, letters and digits).
    sms_url: str | None = None
    sms_api_key: str = ""
    sms_sender: str = Field(default="Parcours", min_length=1, max_length=11)
    # The provider's delivery reports (``POST /api/v1/sms/delivery-reports``) carry this secret
    # in the ``X-Parcours-Sms-Secret`` header; empty: every report is refused.
    sms_report_secret: str = ""
    # A message the provider did not take is tried again after this long, twice as long after
    # each failure (an hour at most), up to ``sms_max_attempts`` times.
    sms_retry_after_s: float = Field(default=60.0, ge=0)
    sms_max_attempts: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _database_in_var_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.var_dir / 'parcours.db'}"
        return self

    @property
    def mailbox_folder(self) -> Path:
        """Where the local mailbox keeps its mails."""
        return self.mailbox_dir or self.var_dir / "mail"

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment != "development" and self.secret_key == DEV_SECRET:
            raise ValueError(
                "PARCOURS_SECRET_KEY doit être défini hors développement "
                "(la valeur par défaut est refusée)."
            )
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"

    @model_validator(mode="after")
    def _refuse_default_callback_secret(self) -> Settings:
        # Production only: the test settings run with the simulators' secret.
        default = self.partner_callback_secret == DEV_CALLBACK_SECRET
        if self.environment == "production" and default:
            raise ValueError(
                "PARCOURS_PARTNER_CALLBACK_SECRET doit être défini en production "
                "(la valeur par défaut est refusée)."
            )
        return self

    def partner_url(self, partner: str) -> str:
        """The base URL of ``partner`` (``caf``, ``france_travail``, ``region``, ``structures``)."""
        own: str | None = getattr(self, f"{partner}_url")
        path = partner.replace("_", "-")
        return (own or f"{self.partners_base_url.rstrip('/')}/{path}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
