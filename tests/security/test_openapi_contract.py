"""The OpenAPI description tells the truth — issue 16, item 7.

Schemathesis (PyPI) reads ``/openapi.json`` from the live app (uvicorn, the dev Temporal server
and its worker, the test database) and sends every operation examples built from it: valid
ones, boundary ones (the coverage phase: one past each maximum, empty strings, out-of-range
integers) and random ones. It runs once per role and once without a token, over every
operation but ``/healthz`` (whose 503 when Temporal or the database is away is its very
purpose). A run fails on a server error (5xx) or on an answer the description does not
announce: a status code it does not list, a content type, a body or a header that does not
match its schema.

The examples are bounded (``PARCOURS_SCHEMATHESIS_EXAMPLES``, 4 by default) so the whole
run stays within a few minutes; raise it to look harder, or pass more options
(``PARCOURS_SCHEMATHESIS_ARGS="--include-path-regex /journeys -c positive_data_acceptance"``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.support.accounts import NewAccount, Staff

pytestmark = pytest.mark.security

EXAMPLES = os.environ.get("PARCOURS_SCHEMATHESIS_EXAMPLES", "4")
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


async def schemathesis(api_url: str, report: Path, token: str | None) -> tuple[int, str]:
    """One run over every operation; its exit code and the end of its output."""
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{api_url}/openapi.json",
        *headers,
        "--checks",
        CHECKS,
        # The health check's 503 is what it is for (a load balancer takes the instance out);
        # its answers are tested in tests/journey and tests/dev_runner.
        "--exclude-path",
        "/healthz",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        EXAMPLES,
        "--seed",
        "16",
        # One worker: schemathesis 4 compiling patterns in two threads trips CPython 3.11
        # ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--no-shrink",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "60",
        "--report",
        "junit",
        "--report-dir",
        str(report),
        "--output-truncate",
        "false",
        *os.environ.get("PARCOURS_SCHEMATHESIS_ARGS", "").split(),
        # Its cache of what failed before stays with this run, out of the repository.
        cwd=report,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.mark.parametrize(
    "who",
    ["nobody", "referent", "orientation", "manager", "funder", "admin", "dpo", "beneficiary"],
)
async def test_every_operation_answers_as_described(
    who: str, api_url: str, staff: Staff, new_account: NewAccount, tmp_path: Path
) -> None:
    if who == "nobody":
        token = None
    elif who in ("referent", "orientation", "manager", "funder", "admin"):
        token = staff.token(who)
    else:
        token = (await new_account(who)).token
    code, output = await schemathesis(api_url, tmp_path, token)
    print(output[-6000:])
    assert code == 0, f"schemathesis found answers the description does not allow:\n{output}"


def test_every_error_answer_has_the_one_error_schema() -> None:
    """What a client generator reads: no operation of the API left with FastAPI's default
    422 body or an error answer without a body."""
    from api.app import create_app
    from parcours.core.settings import Settings

    schema = create_app(Settings(environment="test", secret_key="x")).openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            errors = {c: r for c, r in operation["responses"].items() if c[0] in "45"}
            assert {"401", "403", "503"} <= errors.keys(), (method, path)
            for code, answer in errors.items():
                body = answer["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorRead"}, (method, path, code)
