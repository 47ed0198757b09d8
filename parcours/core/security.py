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

# ANSSI's recommendations put length first: 12 characters at least, mixing kinds; a
# passphrase of 16 or more may be letters only. At most 128 (argon2 hashes anything, but a
# megabyte-long « password » is a way to make the server work).
MIN_PASSWORD_LENGTH = 12
PASSPHRASE_LENGTH = 16
MAX_PASSWORD_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why a chosen password is refused, in French, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères "
            f"(une phrase de {PASSPHRASE_LENGTH} caractères ou plus est la plus sûre)."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Le mot de passe ne peut dépasser {MAX_PASSWORD_LENGTH} caractères."
    if len(set(password)) < 5:
        return "Le mot de passe répète trop les mêmes caractères."
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in password.lower():
        return "Le mot de passe ne doit pas contenir votre adresse électronique."
    kinds = sum(
        (
            any(c.isalpha() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if len(password) < PASSPHRASE_LENGTH and kinds < 2:
        return (
            "Le mot de passe doit mêler lettres et chiffres ou symboles, ou bien compter au "
            f"moins {PASSPHRASE_LENGTH} caractères (une phrase)."
        )
    return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored for a session, invitation or API token: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)
