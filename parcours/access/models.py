"""The tables of who signs in: structures, their users (professionals and the people they
follow), browser sessions, API tokens, invitations, and the access log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, utcnow


class Structure(Base):
    """A structure that follows people: département, France Travail agency, CCAS, association."""

    __tablename__ = "structures"
    __table_args__ = (
        UniqueConstraint("territory", "source", "source_id", name="uq_structures_source"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    territory: Mapped[str] = mapped_column(String(3), index=True)
    # A deactivated structure keeps its history; nobody is invited to it any more.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Imported from a data·inclusion file: its source and id there (a re-import updates it).
    source: Mapped[str | None] = mapped_column(String(100))
    source_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """Someone who signs in: a professional of a structure (référent, chargé·e d'orientation,
    funder, manager, admin) or a beneficiary (then ``beneficiary_id`` is set)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    structure_id: Mapped[str | None] = mapped_column(ForeignKey("structures.id"))
    territory: Mapped[str] = mapped_column(String(3), index=True)
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), unique=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser: the cookie holds a token whose hash is the id. A session opened
    through ProConnect keeps the provider's id_token: signing out hands it back to ProConnect
    (``id_token_hint``) to end the agent's session there too."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The absolute end of the session (``session_hours`` after sign-in) …
    expires_at: Mapped[datetime]
    # … and the last request seen, to the minute: idle for ``session_idle_minutes``, it ends.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    provider_id_token: Mapped[str | None] = mapped_column(Text)


class ApiToken(Base):
    """A bearer token for a partner or a script, acting with its user's role."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Whom it acts for: a user (their role and territory), or a partner (its callbacks only).
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    partner: Mapped[str | None] = mapped_column(String(30))
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(36))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Invitation(Base):
    """A one-time link for a person to choose their password (beneficiary or professional)."""

    __tablename__ = "invitations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # ``activation`` (a new account chooses its password) or ``password_reset``.
    purpose: Mapped[str] = mapped_column(String(20), default="activation")
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AccessLogEntry(Base):
    """Who read or changed which carnet, when, and what (kept when the carnet is erased)."""

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_beneficiary_at", "beneficiary_id", "at"),
        # The DPO's search by agent and period, and by period alone (newest first); the
        # unusual-access report reads one day.
        Index("ix_access_log_user_at", "user_id", "at"),
        Index("ix_access_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # The person whose carnet it is about; None for an administrator's action, whose
    # ``subject`` says what it is about (``structure:<id>``, ``user:<id>``, ``token:<id>``).
    beneficiary_id: Mapped[str | None] = mapped_column(String(36))
    subject: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    what: Mapped[str] = mapped_column(String(100))


class SignInThrottle(Base):
    """Sign-in attempts counted under one key — an address typed from one client address, a
    client address, an address typed — within a window, and until when that key waits.
    Keys are hashes: the table says nothing of who tried from where."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    blocked_until: Mapped[datetime | None]
