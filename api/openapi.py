"""What the OpenAPI description says about failures, so that it tells the truth (issue 16,
item 7): every error answer of every JSON operation has one body, ``ErrorRead`` (a French
``detail`` — or, for a 422, which fields and why, never the value sent — and, for a missing
consent, the ``remedy``), and every operation lists the error answers it can give: those of
every call (no token, a role or perimeter that does not allow it, the database or the engine
unavailable), a 404 where the path names an object, a 409 where the call changes something, a
422 where it takes input, and whatever its route declares beside them.

Checked by tests/security/test_openapi_contract.py, a schemathesis run of every operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

ERROR_SCHEMA = "#/components/schemas/ErrorRead"


class ValidationIssue(BaseModel):
    """One refused field: where it is and why (the value sent is never repeated)."""

    loc: list[str | int] = Field(description="Où : body, query ou path, puis le champ")
    msg: str = Field(description="Pourquoi")
    type: str = Field(description="Le code de l'erreur (missing, string_too_long…)")
    ctx: dict[str, Any] | None = Field(default=None, description="La limite en cause")


class RemedyRead(BaseModel):
    """The way out of a refusal: the page where a missing consent is recorded, and the call."""

    href: str
    label: str
    partner: str
    api: str


class ErrorRead(BaseModel):
    """Every error answer of the API."""

    detail: str | list[ValidationIssue] = Field(
        description="Le motif en français ; pour une donnée refusée (422), les champs en cause"
    )
    remedy: RemedyRead | None = Field(
        default=None, description="Que faire : enregistrer l'accord de partage qui manque"
    )


# Every JSON operation under /api may answer these.
EVERY_CALL = {
    401: "Jeton d'API absent, invalide, révoqué ou expiré",
    403: "Votre rôle ou votre périmètre ne permet pas cet appel",
    503: "Base de données ou moteur de parcours indisponible : réessayer dans un instant",
}
NAMES_AN_OBJECT = {404: "Introuvable, ou hors de votre périmètre"}
CHANGES_SOMETHING = {409: "Refusé dans l'état actuel (le motif dit pourquoi)"}
UNREADABLE_BODY = {400: "Corps de la requête illisible (JSON ou formulaire mal formé)"}
TAKES_INPUT = {422: "Donnée invalide : quels champs et pourquoi (jamais la valeur envoyée)"}
WRITES = {"post", "put", "patch", "delete"}


def describe_errors(app: FastAPI) -> None:
    """Let ``app.openapi()`` describe the error answers of every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = with_error_answers(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_error_answers(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    models = ErrorRead.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(models.pop("$defs", {}))
    components["ErrorRead"] = models
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _absent_is_not_null(operation, components)
            if path.startswith("/api/"):
                _list_errors(method, operation, components)
    return schema


def _list_errors(method: str, operation: dict[str, Any], components: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    expected: dict[int, str] = dict(EVERY_CALL)
    names = [p["name"] for p in parameters] + _body_fields(operation, components)
    if any(p.get("in") == "path" for p in parameters) or any(n.endswith("_id") for n in names):
        expected.update(NAMES_AN_OBJECT)
    if method in WRITES:
        expected.update(CHANGES_SOMETHING)
    if "requestBody" in operation:
        expected.update(UNREADABLE_BODY)
    if parameters or "requestBody" in operation:
        expected.update(TAKES_INPUT)
    for status, description in expected.items():
        responses.setdefault(str(status), {"description": description})
    for code, response in responses.items():
        if code.startswith(("4", "5")):
            response["content"] = {"application/json": {"schema": {"$ref": ERROR_SCHEMA}}}


FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def _absent_is_not_null(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """A parameter or a form field can be left out, never sent as null: what pydantic
    describes as ``X or null`` is ``X``, optional (a client sending the text "null" for an
    optional file or header would be refused)."""
    for parameter in operation.get("parameters", []):
        parameter["schema"] = _without_null(parameter.get("schema", {}))
    for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
        if media_type not in FORMS:
            continue
        ref = media.get("schema", {}).get("$ref", "")
        form = components.get(ref.rsplit("/", 1)[-1], {}) if ref else media.get("schema", {})
        for name, field in form.get("properties", {}).items():
            form["properties"][name] = _without_null(field)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    members = schema.get("anyOf")
    if not members or {"type": "null"} not in members or len(members) != 2:
        return schema
    (other,) = [m for m in members if m != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**other, **rest}


def _body_fields(operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    """The top-level fields of a JSON or form body (a person, a structure… named by id)."""
    fields: list[str] = []
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        if ref:
            schema = components.get(ref.rsplit("/", 1)[-1], {})
        fields.extend(schema.get("properties", {}))
    return fields
