"""How an activity fails for an outcome the platform expects — a person's consent missing, an
unknown or incomplete person, a partner's refusal or outage, an invalid feed, a row not
committed yet: ``expected_failure``, an ``ApplicationError`` in the BENIGN category, which the
worker logs without a stack trace (at DEBUG) and leaves out of its failure metrics, and one
line of our own that says what happened. The workflow sees the same failure as before (its
type, message, retryable or not). Anything else an activity raises is a bug, and keeps its
stack trace."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory


def expected_failure(
    message: str, type: str, *, non_retryable: bool = False, logged: bool = True
) -> ApplicationError:
    """The error to raise; ``logged``: one INFO line says it (off when the activity has said it
    already, e.g. a partner's outage, a warning)."""
    if logged:
        activity.logger.info("expected failure %s: %s", type, message)
    return ApplicationError(
        message,
        type=type,
        non_retryable=non_retryable,
        category=ApplicationErrorCategory.BENIGN,
    )
