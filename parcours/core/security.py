"""Passwords (argon2), random tokens and their hashes, constant-time comparisons."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this when the e-mail is unknown keeps the timing the same.
_DUMMY_HASH = _hasher.hash("parcours-dummy-password")

MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why a chosen password is refused, in French, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères."
    if password.isalpha() or password.isdigit():
        return "Le mot de passe doit mêler lettres et chiffres ou symboles."
    return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored for a session, invitation or API token: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)
