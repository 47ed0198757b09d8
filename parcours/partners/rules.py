"""Who may do what with the partners' exchanges (pure)."""

from __future__ import annotations

from parcours.access.rules import Principal, Role
from parcours.core.errors import Forbidden

CAF_IMPORT_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


def ensure_caf_importer(principal: Principal) -> Principal:
    """Imports of the CAF's feed are for administrators and managers (403 otherwise)."""
    if principal.role not in CAF_IMPORT_ROLES:
        raise Forbidden(
            "Les imports du flux de la CAF sont réservés aux administrateurs et aux "
            "responsables de territoire."
        )
    return principal
