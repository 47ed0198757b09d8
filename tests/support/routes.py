"""Every route the app answers, as (method, path) pairs, read from the app itself (FastAPI
includes routers lazily: their routes are reached through ``effective_route_contexts``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount

SAFE = {"GET", "HEAD", "OPTIONS"}


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    """Each (method, path) of the app, HEAD left out; static mounts are not routes."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        contexts = getattr(route, "effective_route_contexts", None)
        pairs = (
            [(c.methods or set(), c.path) for c in contexts()]
            if contexts
            else [(getattr(route, "methods", None) or set(), getattr(route, "path", ""))]
        )
        for methods, path in pairs:
            found.extend((method, path) for method in sorted(methods) if method != "HEAD")
    return found


def example_body(openapi: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """A body the route's schema accepts (its required fields, each with a plausible
    value), so that a refusal comes from the rights, not from the body; None when the route
    takes no JSON body."""
    operation = openapi["paths"].get(path, {}).get(method.lower(), {})
    for schema in operation.get("requestBody", {}).get("content", {}).values():
        value = _example(openapi, schema["schema"])
        return value if isinstance(value, dict) else {}
    return None


# Values tried, in turn, against a string's pattern.
_PATTERNED = ["74", "N1103", "73000", "2026-01", "0612345678", "personne@exemple.fr", "abcdefgh12"]


def _example(openapi: dict[str, Any], schema: dict[str, Any]) -> Any:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _example(openapi, openapi["components"]["schemas"][name])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _example(openapi, options[0])
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: _example(openapi, properties[name])
            for name in schema.get("required", [])
            if name in properties
        }
    if kind == "array":
        return [_example(openapi, schema.get("items", {}))] * schema.get("minItems", 0)
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    when = datetime.now(UTC) + timedelta(days=2)
    formats = {"date": when.date().isoformat(), "date-time": when.isoformat()}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    if "pattern" in schema:
        fitting = [v for v in _PATTERNED if re.fullmatch(schema["pattern"], v)]
        if not fitting:
            alternatives = re.match(r"\^\(([\w|-]+)\)\$", schema["pattern"])
            assert alternatives, f"no example for the pattern {schema['pattern']}"
            fitting = alternatives.group(1).split("|")
        return fitting[0]
    return "Texte" + "x" * max(schema.get("minLength", 0) - 5, 0)
