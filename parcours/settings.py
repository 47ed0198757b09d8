"""Configuration from the environment (prefix ``PARCOURS_``), one ``Settings`` for every part."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = DEV_SECRET
    # The app's own database; Temporal keeps its own elsewhere.
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{ROOT / 'var' / 'parcours.db'}",
        validation_alias="DATABASE_URL",
    )
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "journeys"
    temporal_ui_url: str = "http://127.0.0.1:8233"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    worker_metrics_address: str = "127.0.0.1:9464"
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"

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

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment != "development" and self.secret_key == DEV_SECRET:
            raise ValueError(
                "PARCOURS_SECRET_KEY doit être défini hors développement "
                "(la valeur par défaut est refusée)."
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
