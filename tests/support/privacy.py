"""Looking for personal data in Temporal histories: a person with data found nowhere else, the
ways a value could be written, and a history as searchable text with its payloads decoded."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

from stdnum.fr import nir as nir_number
from temporalio.client import WorkflowHistory


def recognisable_person() -> dict[str, Any]:
    """Personal data found nowhere else: a random valid NIR, a unique name, e-mail, phone…"""
    rng = random.Random(uuid.uuid4().int)
    tag = uuid.uuid4().hex[:8]
    birth = date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
    sex = rng.choice("12")
    body = f"{sex}{birth:%y%m}73{rng.randint(1, 330):03d}{rng.randint(1, 999):03d}"
    nir = body + f"{97 - int(body) % 97:02d}"
    return {
        "first_name": f"Hélène{tag}",
        "last_name": f"Dupré-Quatrebras{tag}",
        "birth_date": birth,
        "nir": nir_number.validate(nir),
        "caf_number": f"CAF{tag}",
        "email": f"helene.{tag}@exemple.fr",
        "phone": f"07{rng.randint(30_000_000, 99_999_999)}",  # 073… to 079…: allocated
        "address": f"{rng.randint(2, 99)} chemin des Épinettes {tag}",
        "postal_code": "73300",
        "city": "Saint-Jean-de-Maurienne",
    }


def forms(field: str, value: object) -> set[str]:
    """The ways a value could be written into a payload."""
    if isinstance(value, date):
        return {value.isoformat(), f"{value:%d/%m/%Y}", f"{value:%Y%m%d}"}
    text = str(value)
    found = {text, json.dumps(text)[1:-1]}  # as is, and JSON-escaped (\u00e9…)
    if field == "nir":
        found.add(nir_number.format(text))
    if field == "phone":
        found.add("+33" + text[1:])
    return found


def decoded_payloads(node: Any) -> Iterator[str]:
    """Every payload of a history in its JSON form (``{"metadata": …, "data": base64}``)."""
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and isinstance(node.get("data", ""), str):
            for raw in [node.get("data", ""), *node["metadata"].values()]:
                yield base64.b64decode(raw).decode("utf-8", errors="replace")
        for value in node.values():
            yield from decoded_payloads(value)
    elif isinstance(node, list):
        for item in node:
            yield from decoded_payloads(item)


def searchable(history: WorkflowHistory) -> str:
    text = history.to_json()
    return "\n".join([text, *decoded_payloads(json.loads(text))]).casefold()
