"""Traces, end to end: a référent's request that orients a person to a service is one trace —
the HTTP request, the journey's update, the read model's SQL write and the call to the
structure — each span's parent in the same trace; and no span carries the person's name or
NIR, even when the référent searched for them by name. Also: a database error leaves its
type and not the values it quotes; a CAF look-up is traced without the allocataire number;
with an OTLP endpoint, ``configure_tracing`` sends the spans there under the service's name
(``OTEL_SERVICE_NAME`` if set); without one, nothing is traced at all.

The app, a worker, their Temporal client, database engine and partners' clients are built
here, inside ``traced_by`` (an in-memory exporter for this test only), next to the partner
stack's simulators; the rest of the session stays untraced.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.journey import JourneySettlementActivities, ReadModelActivities
from api.app import create_app
from cli.dev import where_traces_go
from parcours.core import tracing
from parcours.core.db import create_engine, create_sessionmaker
from parcours.core.settings import ROOT, Settings
from parcours.core.tracing import new_tracer_provider, temporal_interceptors, traced_by
from parcours.partners.adapters.caf import CafAdapter
from parcours.partners.adapters.http import PartnerClient
from tests.support.accounts import Staff
from tests.support.clients import ApiClients, api_clients
from tests.support.partners import PartnerStack, unique_nir, with_partner_routes
from tests.support.people import person_payload
from tests.support.platform import until
from tests.support.resources import add_service
from tests.support.servers import free_port, serve
from worker.assembly import PARTNER_WORKFLOWS, PartnerWorkerParts, journey_runner
from workflows.journey import Journey

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class TracedPlatform:
    spans: InMemorySpanExporter
    api: ApiClients
    client: Client


@pytest.fixture
async def traced(
    partners: PartnerStack, dev_env: WorkflowEnvironment, staff: Staff
) -> AsyncIterator[TracedPlatform]:
    """The app and a worker, traced into memory, calling the partner stack's simulators."""
    exported = InMemorySpanExporter()
    with traced_by(new_tracer_provider("parcours-test", exported)):
        settings = partners.settings.model_copy(
            update={"task_queue": f"traced-{uuid.uuid4().hex[:8]}"}
        )
        client = Client(
            dev_env.client.service_client,
            namespace=dev_env.client.namespace,
            data_converter=dev_env.client.data_converter,
            interceptors=temporal_interceptors(),
        )
        engine = create_engine(settings.database_url)
        sessions = create_sessionmaker(engine)
        parts = PartnerWorkerParts.build(client, sessions, settings)
        read_model = ReadModelActivities(sessions, settings)
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[Journey, *PARTNER_WORKFLOWS],
            activities=[
                read_model.record_journey_event,
                read_model.record_journey_events,
                JourneySettlementActivities(sessions, client).settle_journey_requests,
                *parts.activities,
            ],
            unsandboxed_workflow_runner=journey_runner(settings),
        )
        port = free_port()
        server, task = await serve(with_partner_routes(create_app(settings, temporal=client)), port)
        try:
            async with worker, api_clients(f"http://127.0.0.1:{port}", staff) as api:
                yield TracedPlatform(exported, api, client)
        finally:
            server.should_exit = True
            await task
            await parts.aclose()
            await engine.dispose()


def by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in spans if span.context is not None}


def chain(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> list[ReadableSpan] | None:
    """``span`` and its ancestors up to the trace's root; None while one is missing."""
    found = [span]
    while found[-1].parent is not None:
        parent = spans.get(found[-1].parent.span_id)
        if parent is None:
            return None
        found.append(parent)
    return found


def names(spans: list[ReadableSpan]) -> list[str]:
    return [span.name for span in spans]


async def test_an_orientation_is_one_trace_from_the_request_to_the_structure(
    traced: TracedPlatform, sessions: Sessions, partners: PartnerStack, staff: Staff
) -> None:
    resource = await add_service(sessions)
    person = person_payload(
        referent_id=staff.referent_id, structure_id=staff.structure_id, nir=unique_nir()
    )
    referent = traced.api.referent
    enrolled = await referent.post("/api/v1/beneficiaries", json=person)
    assert enrolled.status_code == 201, enrolled.text
    bid = enrolled.json()["beneficiary"]["id"]
    began = await referent.post(f"/api/v1/journeys/{bid}/actions/begin-diagnosis", json={})
    assert began.status_code == 200, began.text
    agreed = await referent.post(
        f"/api/v1/beneficiaries/{bid}/consents",
        data={"partner": "structures", "method": "in_person"},
    )
    assert agreed.is_success, agreed.text
    # The référent looks the person up by name: the search is traced, the name is not.
    found = await referent.get("/api/v1/journeys", params={"q": str(person["last_name"])})
    assert found.status_code == 200 and bid in found.text

    oriented = await referent.post(
        "/api/v1/service-orientations",
        json={"beneficiary_id": bid, "service_id": resource.service_id},
    )
    assert oriented.status_code == 201, oriented.text

    def request_span() -> ReadableSpan:
        (span,) = [
            s
            for s in traced.spans.get_finished_spans()
            if s.kind is SpanKind.SERVER
            and (s.attributes or {}).get("http.route") == "/api/v1/service-orientations"
        ]
        return span

    async def structure_called() -> list[ReadableSpan] | None:
        """The call to the structure and its ancestors, once all are exported."""
        spans = list(traced.spans.get_finished_spans())
        calls = [
            s
            for s in spans
            if s.kind is SpanKind.CLIENT
            and str((s.attributes or {}).get("http.url", "")).startswith(partners.partners_url)
        ]
        for call in calls:
            found = chain(call, by_id(spans))
            if found is not None and found[-1].kind is SpanKind.SERVER:
                return found
        return None

    to_structure = await until(structure_called)
    root = request_span()
    assert root.parent is None
    assert to_structure[-1].context == root.context, names(to_structure)
    trace_id = root.context.trace_id
    assert {span.context.trace_id for span in to_structure} == {trace_id}
    # Request → update sent by the API → the child workflow the journey's update starts → the
    # activity it runs → the HTTP call to the structure.
    path = names(list(reversed(to_structure)))
    assert path == [
        "POST /api/v1/service-orientations",
        "StartWorkflowUpdate:orient_to_service",
        "StartChildWorkflow:ServiceOrientation",
        "StartActivity:send_structure_orientation",
        "RunActivity:send_structure_orientation",
        "POST",
    ], path
    update, child = to_structure[-2], to_structure[-3]
    assert to_structure[0].attributes and to_structure[0].attributes["http.method"] == "POST"
    # The journey handled the update under the request's trace.
    spans = list(traced.spans.get_finished_spans())
    (handled,) = [s for s in spans if s.name == "HandleUpdate:orient_to_service"]
    assert handled.parent is not None and handled.parent.span_id == update.context.span_id
    (run,) = [s for s in spans if s.name == "RunWorkflow:ServiceOrientation"]
    assert run.parent is not None and run.parent.span_id == child.context.span_id

    # The read model's write, in the same trace, under the journey's activity.
    in_trace = [s for s in spans if s.context and s.context.trace_id == trace_id]
    writes = [
        s
        for s in in_trace
        if str((s.attributes or {}).get("db.statement", "")).startswith(
            "INSERT INTO journey_events"
        )
    ]
    assert writes, names(in_trace)
    write_chain = chain(writes[0], by_id(spans))
    assert write_chain is not None and write_chain[-1].context == root.context
    assert "StartWorkflowUpdate:orient_to_service" in names(write_chain)
    assert any(n.startswith("RunActivity:record_journey_event") for n in names(write_chain))

    # Nothing of the person anywhere: attributes, events, span names, statuses.
    everything = [_text(span) for span in traced.spans.get_finished_spans()]
    for personal in (person["first_name"], person["last_name"], person["nir"], person["email"]):
        assert not [text for text in everything if str(personal) in text], personal
    # The search was traced, without its query string.
    (search,) = [
        s
        for s in traced.spans.get_finished_spans()
        if s.kind is SpanKind.SERVER
        and (s.attributes or {}).get("http.route") == "/api/v1/journeys"
    ]
    assert search.attributes and search.attributes["http.target"] == "/api/v1/journeys"
    assert str(search.attributes["http.url"]).endswith("/api/v1/journeys")


def _text(span: ReadableSpan) -> str:
    parts: list[Any] = [span.name, span.status.description, dict(span.attributes or {})]
    parts += [(event.name, dict(event.attributes or {})) for event in span.events]
    parts += [dict(link.attributes or {}) for link in span.links]
    return repr(parts)


async def test_without_an_endpoint_nothing_is_traced(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    for variable in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert tracing.configure_tracing("parcours-api") is None
    assert tracing.tracer_provider() is None
    assert tracing.temporal_interceptors() == []
    async with httpx.AsyncClient() as client:
        tracing.instrument_http(client)
        assert not getattr(client, "_is_instrumented_by_opentelemetry", False)
    engine = create_engine(settings.database_url)
    # Nothing listens to the engine's statements (the app's own listener is on "connect").
    assert len(engine.sync_engine.dispatch.before_cursor_execute) == 0
    await engine.dispose()
    assert not getattr(create_app(settings), "_is_instrumented_by_opentelemetry", False)


def test_an_error_leaves_its_type_not_its_message() -> None:
    """A database error quotes the values it refused; a URL may carry a search by name."""
    exported = InMemorySpanExporter()
    provider = new_tracer_provider("parcours-test", exported)
    refused = "duplicate key value violates unique constraint: Key (nir)=(188047311512352)"
    with provider.get_tracer("test").start_as_current_span(
        "GET /api/v1/journeys",
        attributes={"http.url": "http://x/api/v1/journeys?q=Dupont", "net.peer.ip": "10.1.2.3"},
    ) as span:
        span.record_exception(ValueError(refused))
        span.set_status(Status(StatusCode.ERROR, refused))
    (sent,) = exported.get_finished_spans()
    assert sent.attributes == {"http.url": "http://x/api/v1/journeys"}
    assert sent.status.status_code is StatusCode.ERROR and not sent.status.description
    (event,) = sent.events
    assert dict(event.attributes or {}) == {
        "exception.type": "ValueError",
        "exception.escaped": "False",
    }
    assert "188047311512352" not in _text(sent)


async def test_a_caf_look_up_is_traced_without_the_allocataire_number() -> None:
    exported = InMemorySpanExporter()
    unknown = httpx.MockTransport(lambda request: httpx.Response(404, json={"detail": "?"}))
    with traced_by(new_tracer_provider("parcours-test", exported)):
        client = PartnerClient("caf", "http://caf.test", transport=unknown)
    try:
        assert await CafAdapter(client).beneficiary("7345612", key="lookup-1") is None
    finally:
        await client.aclose()
    (call,) = exported.get_finished_spans()
    assert call.attributes and call.attributes["http.url"] == (
        "http://caf.test/beneficiaries/{caf_number}"
    )
    assert "7345612" not in _text(call)


# What ``parcours api`` runs first, in a process of its own (the provider is global, once per
# process): one span sent, then the process exits.
EXPORTING = """
from parcours.core.tracing import configure_tracing
provider = configure_tracing("parcours-api")
tracer = provider.get_tracer("test")
with tracer.start_as_current_span("GET /api/v1/journeys", attributes={"http.url": "/?q=Dupont"}):
    pass
provider.shutdown()
"""


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.mark.parametrize("named", [None, "parcours-api-savoie"])
def test_an_endpoint_sends_the_spans_over_otlp_under_the_service_name(named: str | None) -> None:
    port = free_port()
    _Collector.received = []
    collector = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
    if named:
        env["OTEL_SERVICE_NAME"] = named
    try:
        done = subprocess.run(
            [sys.executable, "-c", EXPORTING], cwd=ROOT, env=env, capture_output=True, timeout=60
        )
    finally:
        collector.shutdown()
        collector.server_close()
    assert done.returncode == 0, done.stderr.decode()
    ((path, body),) = _Collector.received
    assert path == "/v1/traces"
    assert (named or "parcours-api").encode() in body
    assert b"GET /api/v1/journeys" in body and b"Dupont" not in body


def test_parcours_dev_says_where_the_traces_go(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert where_traces_go().startswith("désactivées")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert where_traces_go() == "OTLP vers http://collector:4318 (parcours-api, parcours-worker)"
