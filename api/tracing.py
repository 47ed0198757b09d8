"""The app's requests traced: one server span per request, named after its route (paths carry
ids only), when the process traces (``parcours.core.tracing``); nothing otherwise."""

from __future__ import annotations

from fastapi import FastAPI

from parcours.core.tracing import tracer_provider

# Polled by machines, or files: no trace.
UNTRACED = "/healthz,/metrics,/static/,/favicon.ico"


def trace_requests(app: FastAPI) -> None:
    provider = tracer_provider()
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED,
        # The ASGI messages' own spans say nothing a request's span does not.
        exclude_spans=["receive", "send"],
    )
