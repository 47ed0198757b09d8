"""What every feature's messages share: the frozen base type of what crosses the Temporal
boundary, the scalar values an event's detail may carry, and the retry policy of the read
models (our own database: retried as long as it takes)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio.common import RetryPolicy

ScalarDetail = str | int | bool | None


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The read models are our own database: retry for as long as it takes, they must catch up.
READ_MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)

# A read-model write takes milliseconds: a worker that died during one is noticed (and the
# write retried on another) within seconds, so the pages catch up soon after a crash.
READ_MODEL_TIMEOUT = timedelta(seconds=10)
