"""Signatures of the callbacks partners send to Parcours (standard library only), as a partner
computes them; Parcours checks them with its own ``parcours.partners.signing``.

The signed message is ``timestamp + "." + body`` (the raw body bytes), the key a secret shared
with the partner, the signature HMAC-SHA256 in lower-case hex. The timestamp (Unix seconds)
travels in ``X-Parcours-Timestamp`` and the signature in ``X-Parcours-Signature``. A checker
refuses a timestamp outside a window around its own clock, so a captured callback cannot be
replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

TIMESTAMP_HEADER = "X-Parcours-Timestamp"
SIGNATURE_HEADER = "X-Parcours-Signature"
# Which partner's key signed: each partner has its own secret.
KEY_ID_HEADER = "X-Parcours-Key-Id"
DEFAULT_WINDOW_S = 300


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + _bytes(body)
    return hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def verify(
    secret: str | bytes,
    timestamp: int | str | None,
    body: str | bytes,
    signature: str | None,
    now: float | None = None,
    window_s: float = DEFAULT_WINDOW_S,
) -> bool:
    """Whether ``signature`` is the partner's signature of ``body`` sent at ``timestamp``.

    False when a header is missing, the timestamp is not whole Unix seconds or lies more than
    ``window_s`` from ``now`` (either way: a clock ahead is as suspicious as a replay), or the
    signature does not match. The comparison takes constant time.
    """
    if timestamp is None or not signature:
        return False
    timestamp_text = str(timestamp).strip()
    if not (timestamp_text.isascii() and timestamp_text.isdigit()):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp_text)) > window_s:
        return False
    expected = sign(secret, timestamp_text, body).encode("ascii")
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


def partner_secret(master: str | bytes, partner: str) -> str:
    """A partner's own secret, derived from the platform's master secret (the operator hands
    each partner its own; the simulators, who play every partner, derive them)."""
    return hmac.new(
        _bytes(master), b"parcours-partner-callback:" + partner.encode(), hashlib.sha256
    ).hexdigest()


def signed_headers(
    secret: str | bytes, body: str | bytes, now: float | None = None, partner: str | None = None
) -> dict[str, str]:
    """The headers that sign ``body``, stamped with ``now`` (the current time by default). A
    callback names its partner (``"partner"`` in the JSON body): it is signed with that
    partner's own secret, derived from ``secret``, and says so (``X-Parcours-Key-Id``);
    ``partner`` names it for a body that does not."""
    timestamp = str(int(time.time() if now is None else now))
    partner = partner or _partner_of(body)
    if partner is None:
        return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(partner_secret(secret, partner), timestamp, body),
        KEY_ID_HEADER: partner,
    }


def _partner_of(body: str | bytes) -> str | None:
    try:
        found = json.loads(body)
    except ValueError:
        return None
    partner = found.get("partner") if isinstance(found, dict) else None
    return partner if isinstance(partner, str) else None
