"""Pure rules of places: which département a commune code belongs to, how a département code is
written, and why a place is refused (the French reasons the CAF import and the searches show)."""

from __future__ import annotations

import re

# "01".."95", "2A", "2B", "971".."976" (overseas: three digits).
DEPARTEMENT_CODE = re.compile(r"^(\d{2}|2[AB]|97\d)$")
COMMUNE_CODE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


def departement_of(code_insee: str) -> str:
    """The département of a commune code (three digits overseas, 2A/2B in Corsica)."""
    return code_insee[:3] if code_insee.startswith("97") else code_insee[:2]


def departement_code(value: str) -> str:
    """A département code as written in the tables: ``2a`` → ``2A``, `` 7 `` → ``07``, and
    the three characters some files use, ``073`` → ``73``, ``02A`` → ``2A``."""
    code = value.strip().upper()
    if len(code) == 3 and code.startswith("0"):
        code = code[1:]
    return code.zfill(2) if code.isdigit() and len(code) == 1 else code


def unknown_departement(code: str) -> str:
    return f"département inconnu (« {code} »)"


def not_hosted(code: str, name: str) -> str:
    return f"département {code} ({name}) non accueilli sur la plateforme"


def unknown_commune(code: str) -> str:
    return f"code INSEE de commune inconnu (« {code} »)"
