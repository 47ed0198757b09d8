"""The social track's review as the journey's timeline tells it: pure, for the pages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Protocol

from parcours.core.messages import ScalarDetail
from parcours.reorientation.schemas import SocialReviewRead

# Events that set the next review (their ``social_review_due_on`` / ``next_due_on``; absent:
# none), and those that end it.
_SETS = {
    "orientation_decided": "social_review_due_on",
    "reorientation_accepted": "social_review_due_on",
    "social_review_concluded": "next_due_on",
}
_ENDS = frozenset({"handed_off", "closed"})


class EventLike(Protocol):
    """A timeline event: the read model's row, or the workflow's ``JourneyEvent``."""

    @property
    def kind(self) -> str: ...

    @property
    def detail(self) -> Mapping[str, ScalarDetail]: ...


def social_review_from(events: Iterable[EventLike]) -> SocialReviewRead | None:
    """The next review of the journey (oldest event first), or None."""
    review: SocialReviewRead | None = None
    for e in events:
        if e.kind in _SETS:
            due = e.detail.get(_SETS[e.kind])
            review = (
                SocialReviewRead(
                    due_on=date.fromisoformat(due),
                    extended=bool(e.detail.get("extended")),
                    open=False,
                )
                if isinstance(due, str)
                else None
            )
        elif e.kind == "social_review_due" and review is not None:
            review = review.model_copy(update={"open": True})
        elif e.kind in _ENDS:
            review = None
    return review


def open_requests(events: Iterable[EventLike]) -> set[str]:
    """The reorientation requests still waiting for a decision (oldest event first): a
    journey handed off or closed leaves none waiting."""
    waiting: set[str] = set()
    for e in events:
        request_id = e.detail.get("request_id")
        if e.kind == "reorientation_requested" and isinstance(request_id, str):
            waiting.add(request_id)
        elif e.kind in ("reorientation_accepted", "reorientation_refused"):
            waiting.discard(str(request_id))
        elif e.kind in _ENDS:
            waiting.clear()
    return waiting
