"""How Parcours checks the callbacks partners send it (standard library only).

The signed message is ``timestamp + "." + body`` (the raw body bytes), the key a secret shared
with the partner, the signature HMAC-SHA256 in lower-case hex. The timestamp (Unix seconds)
travels in ``X-Parcours-Timestamp`` and the signature in ``X-Parcours-Signature``. A timestamp
outside a window around Parcours' clock is refused, so a captured callback cannot be replayed
later. Each partner signs with its own secret and names it (``X-Parcours-Key-Id``: the
partner). Partners (and the simulators, which play them) sign on their side with the same
scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Parcours-Timestamp"
SIGNATURE_HEADER = "X-Parcours-Signature"
# The partner whose key signed: each partner has a secret of its own, so one partner cannot
# sign as another.
KEY_ID_HEADER = "X-Parcours-Key-Id"
DEFAULT_WINDOW_S = 300


def partner_secret(master: str, partner: str) -> str:
    """A partner's own secret, derived from the platform's master secret
    (``PARCOURS_PARTNER_CALLBACK_SECRET``) unless ``PARCOURS_PARTNER_CALLBACK_SECRETS`` gives
    it; ``parcours partner-secret PARTNER`` prints it for the operator to hand over."""
    return hmac.new(
        master.encode(), b"parcours-partner-callback:" + partner.encode(), hashlib.sha256
    ).hexdigest()


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    body: bytes,
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
    timestamp_text = timestamp.strip()
    if not (timestamp_text.isascii() and timestamp_text.isdigit()):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp_text)) > window_s:
        return False
    expected = expected_signature(secret, timestamp_text, body).encode("ascii")
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)
