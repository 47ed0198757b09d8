"""Traces (OpenTelemetry): the one place that decides whether this process traces, where the
spans go, and what never leaves in them.

``configure_tracing(service_name)`` runs once per process (``parcours api``, ``parcours
worker``). Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
it does nothing: no provider, no exporter thread, no hook in the database engine, the HTTP
clients or the Temporal client — the API's no-op tracer is all that is left. With one, spans go
over OTLP/HTTP in batches, named after ``OTEL_SERVICE_NAME`` or the service name given.

Then whatever the process builds is traced by the parts that build it, each asking
``tracer_provider()``: the database engine (``instrument_engine``: statements without their
parameters, no SQL commenter), the partners' HTTP clients (``instrument_http``), the Temporal
client and the workers built on it (``temporal_interceptors``: the SDK's interceptor, whose
spans carry workflow and activity ids, never payloads), and the app (``api/tracing.py``).

Every span passes ``WithoutPersonalData`` on its way out: query strings (a search by name),
client addresses, captured headers, exception messages and stack traces (a database error
quotes the values it refused) never leave. Tests install an in-memory exporter for a block
with ``traced_by``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import SpanKind, Status
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.worker import (
    HandleUpdateInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine
    from temporalio.client import Interceptor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACER_NAME = "parcours"

# Attributes whose value is a URL or its target: kept without the query string.
_URL_ATTRIBUTES = frozenset({"http.url", "url.full", "http.target"})
# Attributes never exported: the query itself, who is calling from where.
_DROPPED_ATTRIBUTES = frozenset(
    {
        "url.query",
        "client.address",
        "client.port",
        "net.peer.ip",
        "net.sock.peer.addr",
        "http.client_ip",
        "network.peer.address",
    }
)
# Headers an operator may ask the instrumentations to capture (cookies, tokens): never exported.
_HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
# What an ``exception`` event keeps: its type (the message may quote a value).
_EXCEPTION_KEPT = frozenset({"exception.type", "exception.escaped"})

# The httpx extension a caller sets when a request's path carries a person's identifier (the
# CAF's allocataire number): the span shows this pattern instead of the path.
TRACED_PATH = "parcours_traced_path"

_provider: TracerProvider | None = None


def tracing_endpoint() -> str | None:
    for variable in ENDPOINT_VARIABLES:
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def configure_tracing(service_name: str) -> TracerProvider | None:
    """Trace this process when an OTLP endpoint is configured; else do nothing (None).

    Once per process: the provider becomes OpenTelemetry's global one, and the one the
    engine, the partners' clients, the Temporal client and the app built from now on use."""
    global _provider
    if tracing_endpoint() is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = new_tracer_provider(service_name, OTLPSpanExporter(), batch=True)
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def new_tracer_provider(
    service_name: str, exporter: SpanExporter, *, batch: bool = False
) -> TracerProvider:
    """A provider whose spans reach ``exporter`` without personal data (``batch``: from a
    background thread, as in production; else as each span ends, as tests read them)."""
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service_name})
    provider = TracerProvider(resource=resource)
    filtered = WithoutPersonalData(exporter)
    provider.add_span_processor(
        BatchSpanProcessor(filtered) if batch else SimpleSpanProcessor(filtered)
    )
    return provider


def tracer_provider() -> TracerProvider | None:
    """The provider this process traces with; None when it does not trace."""
    return _provider


@contextmanager
def traced_by(provider: TracerProvider) -> Iterator[TracerProvider]:
    """What is built inside the block is traced by ``provider`` (tests: an in-memory
    exporter for one test, the rest of the session untraced)."""
    global _provider
    before, _provider = _provider, provider
    try:
        yield provider
    finally:
        _provider = before


def temporal_interceptors() -> list[Interceptor]:
    """The Temporal client's interceptors: the SDK's tracing one when tracing (a worker built
    on the client takes it too), none otherwise."""
    if _provider is None:
        return []
    return [ActionTracing(_provider.get_tracer("temporalio"))]


class ActionTracing(TracingInterceptor):
    """The SDK's tracing interceptor, with a human action's update parented by the request
    that sent it.

    The SDK puts everything a workflow does under the trace that started it and only links an
    update to its caller: a journey lives for years, so every action would land in the
    enrolment's trace. Here the update's handler — its read-model write, the child workflows
    and partner calls it starts — continues the request's trace instead."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the SDK's extern function
        return _UpdateUnderItsRequest


class _UpdateUnderItsRequest(TracingWorkflowInboundInterceptor):
    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        header = input.headers.get(self.header_key)
        if not header:
            return await super().handle_update_handler(input)
        carrier = self.payload_converter.from_payloads([header])[0]
        # ``_set_on_context`` and ``_completed_span``: the SDK's own steps (temporalio is
        # pinned), with the request's context in place of the workflow's.
        context = self._set_on_context(self.text_map_propagator.extract(carrier))
        token = otel_context.attach(context)
        try:
            self._completed_span(f"HandleUpdate:{input.update}", kind=SpanKind.SERVER)
            # The SDK's handler would put the workflow's context back: skip to the next one.
            return await WorkflowInboundInterceptor.handle_update_handler(self, input)
        finally:
            otel_context.detach(token)


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per statement, with its text and never its parameters (no SQL commenter)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    # The instrumentation's own ``instrument()`` patches SQLAlchemy for the whole process
    # and only once; the engine's tracer alone hooks this engine, with this provider.
    connections = (
        NoOpMeterProvider()
        .get_meter(TRACER_NAME)
        .create_up_down_counter("db.client.connections.usage")
    )
    EngineTracer(_provider.get_tracer("sqlalchemy"), engine.sync_engine, connections)


def instrument_http(client: httpx.AsyncClient) -> None:
    """A client span per partner call, its trace context sent along (``traceparent``)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(
        client, tracer_provider=_provider, request_hook=_traced_path
    )


async def _traced_path(span: trace.Span, request: Any) -> None:
    """A request whose path names a person (``TRACED_PATH`` in its extensions) is traced
    under the path's pattern."""
    pattern = (request.extensions or {}).get(TRACED_PATH)
    if not pattern or not span.is_recording():
        return
    scheme, netloc = request.url.scheme, request.url.netloc.decode("ascii")
    url = urlunsplit((scheme, netloc, pattern, "", ""))
    span.set_attribute("http.url", url)
    span.set_attribute("url.full", url)


class WithoutPersonalData(SpanExporter):
    """Hands ``exporter`` each span without what could carry personal data: the query string
    of any URL, the client's address, an exception's message and stack trace, a status's
    description (only their type remains)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([_cleaned(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def _cleaned(span: ReadableSpan) -> ReadableSpan:
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_attributes(span.attributes),
        events=[_event(event) for event in span.events],
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _attributes(attributes: Any) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in _DROPPED_ATTRIBUTES or key.startswith(_HEADER_PREFIXES):
            continue
        cleaned[key] = _without_query(value) if key in _URL_ATTRIBUTES else value
    return cleaned


def _without_query(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _event(event: Event) -> Event:
    if event.name != "exception":
        return Event(event.name, _attributes(event.attributes), event.timestamp)
    kept = {k: v for k, v in (event.attributes or {}).items() if k in _EXCEPTION_KEPT}
    return Event(event.name, kept, event.timestamp)
