"""``person_payload``: a valid enrolment body with unique, recognisable personal data."""

from __future__ import annotations

import uuid
from datetime import date


def person_payload(**overrides: object) -> dict[str, object]:
    """A valid enrolment body with unique, recognisable personal data."""
    tag = uuid.uuid4().hex[:6]
    payload: dict[str, object] = {
        "first_name": f"Prenomtest{tag}",
        "last_name": f"Nomtest{tag}",
        "birth_date": "1988-04-12",
        "nir": "188047311512352",
        "caf_number": f"CAF{tag}",
        "email": f"personne.{tag}@exemple.fr",
        "phone": "0612345678",
        "address": f"{tag} rue des Tests",
        "postal_code": "73000",
        "city": "Chambéry",
        "territory": "73",
        "rsa_opened_on": date.today().isoformat(),
    }
    payload.update(overrides)
    return payload
