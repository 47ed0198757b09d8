"""Synthetic people of the Savoie (and, on demand, of other départements), reproducible from a
seed: names, NIR (with a valid key), CAF numbers, addresses. Nobody here exists; the data only
has the shape of the real thing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

FEMALE_FIRST_NAMES = (
    "Amandine", "Camille", "Chloé", "Claire", "Élodie", "Emma", "Fatima", "Inès", "Julie",
    "Karima", "Laura", "Léa", "Lucie", "Manon", "Marie", "Mélanie", "Nadia", "Nathalie",
    "Océane", "Pauline", "Sandrine", "Sarah", "Sophie", "Stéphanie", "Yasmina",
)  # fmt: skip
MALE_FIRST_NAMES = (
    "Alexandre", "Antoine", "Bruno", "Damien", "David", "Florian", "Julien", "Karim", "Kévin",
    "Laurent", "Lucas", "Mathieu", "Mehdi", "Nicolas", "Olivier", "Patrick", "Pierre",
    "Romain", "Samir", "Sébastien", "Thomas", "Vincent", "Yann", "Yannick", "Youssef",
)  # fmt: skip
LAST_NAMES = (
    "Bernard", "Blanc", "Bonnet", "Chevallier", "Collomb", "Dubois", "Dumas", "Durand",
    "Fontaine", "Garcia", "Girard", "Guichard", "Haddad", "Lambert", "Laurent", "Lefèvre",
    "Martin", "Mercier", "Michel", "Moreau", "Perrier", "Petit", "Rey", "Richard", "Robert",
    "Roux", "Simon", "Thomas", "Vincent", "Viallet",
)  # fmt: skip
# (INSEE code, postal code, commune)
SAVOIE_COMMUNES = (
    ("73065", "73000", "Chambéry"),
    ("73008", "73100", "Aix-les-Bains"),
    ("73011", "73200", "Albertville"),
    ("73248", "73300", "Saint-Jean-de-Maurienne"),
    ("73179", "73290", "La Motte-Servolex"),
    ("73054", "73700", "Bourg-Saint-Maurice"),
)
HAUTE_SAVOIE_COMMUNES = (
    ("74010", "74000", "Annecy"),
    ("74281", "74200", "Thonon-les-Bains"),
    ("74012", "74100", "Annemasse"),
    ("74056", "74400", "Chamonix-Mont-Blanc"),
    ("74042", "74130", "Bonneville"),
)
# Another département, not hosted in the demo: its lines are rejected.
ISERE_COMMUNES = (("38185", "38000", "Grenoble"), ("38563", "38200", "Vienne"))
Place = tuple[str, str, str]
STREETS = (
    "rue de la République", "avenue de Lyon", "rue Sommeiller", "chemin des Vignes",
    "place Saint-Léger", "rue du Commandant Perceval", "boulevard de la Colonne",
    "rue de Boigne", "avenue du Grand Arietaz", "impasse des Écureuils",
)  # fmt: skip


def nir_key(first_13: str) -> str:
    """The two-digit key of a NIR (Corsica's 2A/2B count as 19/18, as INSEE specifies)."""
    number = int(first_13.replace("2A", "19").replace("2B", "18"))
    return f"{97 - number % 97:02d}"


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    sex: int  # 1 man, 2 woman: the NIR's first digit
    first_name: str
    last_name: str
    birth_date: date
    nir: str
    caf_number: str


@dataclass(frozen=True, slots=True)
class SyntheticAddress:
    street: str
    postal_code: str
    city: str
    insee_code: str

    @property
    def department(self) -> str:
        return self.postal_code[:2]


def make_person(rng: random.Random, today: date) -> SyntheticPerson:
    sex = rng.choice((1, 2))
    first_name = rng.choice(MALE_FIRST_NAMES if sex == 1 else FEMALE_FIRST_NAMES)
    age_days = rng.randrange(25 * 365 + 5, 64 * 365)  # the RSA is mostly for 25 and over
    birth_date = today - timedelta(days=age_days)
    department = rng.choice(("73", "73", "73", "74", "38", "69", "01", "75", "13", "99"))
    place = f"{department}{rng.randrange(1, 990):03d}"  # 99: born abroad, then a country code
    first_13 = f"{sex}{birth_date:%y%m}{place}{rng.randrange(1, 1000):03d}"
    return SyntheticPerson(
        sex=sex,
        first_name=first_name,
        last_name=rng.choice(LAST_NAMES),
        birth_date=birth_date,
        nir=first_13 + nir_key(first_13),
        caf_number=f"{rng.randrange(1_000_000, 10_000_000)}",
    )


def make_address(
    rng: random.Random, communes: tuple[Place, ...] = SAVOIE_COMMUNES
) -> SyntheticAddress:
    insee_code, postal_code, city = rng.choice(communes)
    return SyntheticAddress(
        street=f"{rng.randrange(1, 120)} {rng.choice(STREETS)}",
        postal_code=postal_code,
        city=city,
        insee_code=insee_code,
    )
