"""What partners tell us goes into the carnet, and what we tell them comes out of it.

In: the CAF's household and RSA status, France Travail's registration — written as situation
facts with their source (``caf``, ``france_travail``), each superseding the previous fact of
the same label, and into the person's identity fields (``household``, ``france_travail_id``).
Out: the person and référent as a partner's request carries them, built only when the person
consented to sharing with that partner.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.appointments.messages import AppointmentKind
from parcours.carnet.models import Beneficiary, SituationFact
from parcours.carnet.schemas import Source, Theme
from parcours.core.db import utcnow
from parcours.core.errors import ParcoursError
from parcours.partners.adapters.caf import FAMILY_SITUATIONS, CafRights
from parcours.partners.adapters.france_travail import (
    FT_MODALITIES,
    FT_ORGANISATIONS,
    FT_STATUSES,
    FT_THEMES,
    AppointmentOrganisation,
    ConsentMarker,
    JobseekerRead,
    PartnerAppointment,
    PersonRef,
    ReferentRef,
)
from parcours.partners.adapters.structures import OrientedPerson
from parcours.partners.messages import FranceTravailAppointmentInput
from parcours.partners.repository import PartnerRepository

PARTNER_NAMES = {
    "caf": "la CAF",
    "france_travail": "France Travail",
    "region": "la Région",
    "structures": "les structures",
}

# The facts partners fill, by (theme, label).
RSA_RIGHTS = (Theme.ADMIN_FINANCE.value, "Droit au RSA")
RSA_AMOUNT = (Theme.ADMIN_FINANCE.value, "Montant du RSA versé")
RSA_DUTIES = (Theme.ADMIN_FINANCE.value, "Soumis aux droits et devoirs du RSA")
HOUSEHOLD = (Theme.CHILDCARE.value, "Composition du foyer")
HOMELESS = (Theme.HOUSING.value, "Domiciliation")
FRANCE_TRAVAIL_REGISTRATION = (Theme.EMPLOYMENT.value, "Inscription à France Travail")
CAF_FACTS = (RSA_RIGHTS, RSA_AMOUNT, RSA_DUTIES, HOUSEHOLD, HOMELESS)


class ConsentMissing(ParcoursError):
    """The person has not consented to share their carnet with this partner. Raised with
    whose consent and which partner's, the pages and the API lead to where it is recorded."""

    status_code = 409

    def __init__(
        self, message: str, *, beneficiary_id: str | None = None, partner: str | None = None
    ) -> None:
        super().__init__(message)
        self.beneficiary_id = beneficiary_id
        self.partner = partner


class PersonUnknown(ParcoursError):
    """No such person, or their data was erased."""

    status_code = 404


class PersonIncomplete(ParcoursError):
    """The partner needs something Parcours does not know about the person (a NIR)."""

    status_code = 422


def french_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def euros(amount: Decimal) -> str:
    whole, cents = f"{amount:.2f}".split(".")
    return f"{int(whole):,}".replace(",", " ") + f",{cents} €"


def caf_facts(rights: CafRights) -> dict[tuple[str, str], str]:
    household = rights.household
    status = rights.rights_label
    if rights.rights_opened_on:
        status += f" (ouvert le {french_date(rights.rights_opened_on)})"
    if rights.suspension_reason:
        status += f", motif de suspension {rights.suspension_reason}"
    if rights.closure_reason:
        closed = f" le {french_date(rights.closed_on)}" if rights.closed_on else ""
        status += f", clos{closed} (motif {rights.closure_reason})"
    situation = FAMILY_SITUATIONS.get(household.family_situation, household.family_situation)
    adults = "1 adulte" if household.adults == 1 else f"{household.adults} adultes"
    children = {0: "sans enfant à charge", 1: "1 enfant à charge"}.get(
        household.dependent_children, f"{household.dependent_children} enfants à charge"
    )
    facts = {
        RSA_RIGHTS: status,
        RSA_DUTIES: "Oui" if rights.subject_to_duties else "Non",
        HOUSEHOLD: f"{situation} ; {adults}, {children}",
        HOMELESS: "Sans domicile fixe" if household.homeless else "Adresse connue de la CAF",
    }
    if household.monthly_amount is not None:
        facts[RSA_AMOUNT] = f"{euros(household.monthly_amount)} par mois"
    return facts


def household_record(rights: CafRights) -> dict[str, Any]:
    """The household as ``Beneficiary.household`` keeps it (JSON)."""
    return {
        **rights.household.model_dump(mode="json"),
        "rights_state": rights.rights_state,
        "subject_to_duties": rights.subject_to_duties,
        "source": "caf",
        "as_of": utcnow().date().isoformat(),
    }


def france_travail_facts(found: JobseekerRead | None, today: date) -> dict[tuple[str, str], str]:
    if found is None:
        value = f"Inconnu·e de France Travail au {french_date(today)}"
    elif found.registration.status == "registered":
        r = found.registration
        value = (
            f"Inscrit·e depuis le {french_date(r.registered_on)}, catégorie {r.category}, "
            f"{r.agency}"
        )
    else:
        r = found.registration
        value = f"Sorti·e des listes (inscription du {french_date(r.registered_on)}, {r.agency})"
    return {FRANCE_TRAVAIL_REGISTRATION: value}


class PartnerDataService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.partners = PartnerRepository(session)

    async def write_facts(
        self,
        beneficiary_id: str,
        facts: dict[tuple[str, str], str],
        source: Source,
        *,
        new_person: bool = False,
    ) -> int:
        """Write what changed: a fact whose current value and source are the same stays; any
        other current fact of the same label is superseded (kept in history). Returns how many
        facts were written."""
        now = utcnow()
        current = {} if new_person else await self.partners.current_facts(beneficiary_id, facts)
        written = 0
        for (theme, label), value in facts.items():
            old = current.get((theme, label))
            if old is not None:
                if old.value == value and old.source == source.value:
                    continue
                old.superseded_at = now
            self.partners.add(
                SituationFact(
                    beneficiary_id=beneficiary_id,
                    theme=theme,
                    label=label,
                    value=value,
                    source=source.value,
                    recorded_at=now,
                )
            )
            written += 1
        return written

    async def record_caf_rights(
        self, person: Beneficiary, rights: CafRights, *, new_person: bool = False
    ) -> None:
        household = household_record(rights)
        if person.household != household:
            person.household = household
        if person.rsa_opened_on is None and rights.rights_opened_on is not None:
            person.rsa_opened_on = rights.rights_opened_on
        await self.write_facts(person.id, caf_facts(rights), Source.CAF, new_person=new_person)

    async def record_france_travail(self, person: Beneficiary, found: JobseekerRead | None) -> None:
        if found is not None and person.france_travail_id != found.identifier:
            person.france_travail_id = found.identifier
        await self.write_facts(
            person.id, france_travail_facts(found, utcnow().date()), Source.FRANCE_TRAVAIL
        )

    # --- Outgoing ---

    async def person_for(self, beneficiary_id: str, partner: str) -> Beneficiary:
        """The person, if they consented to share with ``partner``; else ``ConsentMissing``."""
        person = await self.partners.person(beneficiary_id)
        if person is None:
            raise PersonUnknown("Personne introuvable (ou ses données ont été effacées).")
        if not await self.partners.consented(beneficiary_id, partner):
            raise ConsentMissing(
                f"La personne n'a pas consenti au partage de ses données avec "
                f"{PARTNER_NAMES[partner]} : rien n'a été envoyé.",
                beneficiary_id=beneficiary_id,
                partner=partner,
            )
        return person

    @staticmethod
    def identity(person: Beneficiary) -> PersonRef:
        if not person.nir:
            raise PersonIncomplete(
                "Le NIR de la personne est inconnu : le partenaire ne peut pas l'identifier."
            )
        return PersonRef(
            nir=person.nir,
            birth_date=person.birth_date,
            first_name=person.first_name,
            last_name=person.last_name,
        )

    @staticmethod
    def contact(person: Beneficiary) -> OrientedPerson:
        return OrientedPerson(
            first_name=person.first_name,
            last_name=person.last_name,
            birth_date=person.birth_date,
            phone=person.phone,
            email=person.email,
        )

    async def france_travail_appointment(
        self, data: FranceTravailAppointmentInput
    ) -> PartnerAppointment:
        """The appointment as France Travail's « Rendez-vous partenaire » takes it, if the person
        consented to share with France Travail (else ``ConsentMissing``) and has a NIR (else
        ``PersonIncomplete``)."""
        person = await self.person_for(data.beneficiary_id, "france_travail")
        consent = await self.partners.consent(data.beneficiary_id, "france_travail")
        structure = await self.partners.structure(data.structure_id) if data.structure_id else None
        if structure is None:
            organisation = AppointmentOrganisation(
                code="CD", libelle=f"Département {person.territory}"
            )
        else:
            organisation = AppointmentOrganisation(
                code=FT_ORGANISATIONS.get(structure.kind, "IND"),
                libelle=structure.name,
            )
        if data.kind == AppointmentKind.ORIENTATION:
            motif = "ORI"
        elif data.kind == AppointmentKind.ACCOMPAGNEMENT and data.first_accompaniment:
            motif = "ACC"
        else:
            motif = "AUT"
        return PartnerAppointment.model_validate(
            {
                "id": data.appointment_id,
                "person": self.identity(person),
                "date": data.starts_at,
                "duree": data.duration_minutes,
                "theme": FT_THEMES[data.kind],
                "motif": motif,
                "modaliteContact": FT_MODALITIES[data.modality],
                "typeReception": "COL" if data.collective else "IND",
                "initiateur": "USAGER" if data.booked_by == "person" else "PARTENAIRE",
                "organisme": organisation,
                "statut": FT_STATUSES[data.status],
                "motifAbsence": data.excuse.upper() if data.excuse else None,
                "consentement": ConsentMarker(
                    recueilli=True,
                    dateRecueil=consent.changed_at.date() if consent else None,
                ),
            }
        )

    async def referent(self, referent_id: str | None) -> ReferentRef | None:
        if referent_id is None:
            return None
        user = await self.partners.user(referent_id)
        if user is None:
            return None
        structure = await self.partners.structure(user.structure_id) if user.structure_id else None
        return ReferentRef(
            name=user.full_name, email=user.email, structure=structure.name if structure else None
        )
