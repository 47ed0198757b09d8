"""Demo and benchmark data for the resource base: a Savoie base of data·inclusion structures
and services across every thématique and commune, and trainings of both funders.

Files are generated in data·inclusion's own formats (JSON for structures and services, the
documented CSV for trainings) and go through the real import. Names, descriptions, Formacode
and RNCP codes are illustrative, not real references.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.resources import geo
from parcours.resources.schemas import ImportReport
from parcours.resources.service import ResourceBaseService
from parcours.resources.vocabulary import PUBLIC_LABELS, THEMATIQUE_LABELS, TOUS_PUBLICS

DEMO_SOURCE = "parcours-demo"

# (structure kind, name pattern): ``{commune}`` is where it stands.
STRUCTURE_KINDS = [
    ("Mission locale jeunes", "Mission locale jeunes de {commune}"),
    ("CCAS", "CCAS de {commune}"),
    ("France Travail", "France Travail {commune}"),
    ("France services", "France services de {commune}"),
    ("Centre social", "Centre social et culturel de {commune}"),
    ("Association", "Association Savoie Solidarités — {commune}"),
    ("Régie de quartier", "Régie de quartier de {commune}"),
    ("Chantier d'insertion", "Atelier et chantier d'insertion Les Cimes — {commune}"),
    ("Épicerie solidaire", "Épicerie solidaire L'Escale — {commune}"),
    ("Auto-école sociale", "Plateforme mobilité Savoie — {commune}"),
]

# By category: (service name, type, weekly hours or None, weeks or None, description).
SERVICES: dict[str, list[tuple[str, str, float | None, int | None, str]]] = {
    "choisir-un-metier": [
        (
            "Immersion en entreprise (PMSMP)",
            "accompagnement",
            35,
            2,
            "Découvrir un métier en situation réelle de travail, pendant une à deux semaines, "
            "chez un employeur du territoire, avec un tuteur.",
        ),
        (
            "Ateliers découverte des métiers du BTP",
            "atelier",
            6,
            4,
            "Visites de chantiers, rencontres avec des artisans et essais de gestes "
            "professionnels pour confirmer un projet dans le bâtiment.",
        ),
        (
            "Bilan de compétences",
            "accompagnement",
            3,
            8,
            "Faire le point sur ses compétences, ses aptitudes et ses motivations pour "
            "définir un projet professionnel réaliste.",
        ),
    ],
    "creer-une-entreprise": [
        (
            "Couveuse d'entreprises",
            "accompagnement",
            4,
            24,
            "Tester son activité en grandeur réelle, sans créer sa structure, avec un "
            "accompagnement individuel et des ateliers collectifs.",
        ),
        (
            "Microcrédit pour créer son activité",
            "aide-financiere",
            None,
            None,
            "Un prêt jusqu'à 12 000 € et un accompagnement pour les créateurs qui n'ont pas "
            "accès au crédit bancaire.",
        ),
    ],
    "difficultes-administratives-ou-juridiques": [
        (
            "Aide aux démarches administratives",
            "accompagnement",
            1,
            None,
            "Un conseiller aide à constituer les dossiers CAF, CPAM, retraite, impôts et "
            "titres de séjour, sur rendez-vous ou en accès libre.",
        ),
        (
            "Permanence d'accès au droit",
            "information",
            1,
            None,
            "Un juriste informe gratuitement sur le droit du travail, de la famille, du "
            "logement et sur les démarches en justice.",
        ),
    ],
    "difficultes-financieres": [
        (
            "Point conseil budget",
            "accompagnement",
            1,
            6,
            "Faire ses comptes, prévenir le surendettement, négocier avec ses créanciers et "
            "monter un dossier auprès de la Banque de France.",
        ),
        (
            "Aide financière d'urgence",
            "aide-financiere",
            None,
            None,
            "Secours ponctuel pour faire face à une dépense imprévue : énergie, loyer, "
            "alimentation, frais de reprise d'emploi.",
        ),
    ],
    "equipement-et-alimentation": [
        (
            "Épicerie solidaire",
            "aide-materielle",
            None,
            None,
            "Des produits alimentaires et d'hygiène à 10 à 30 % de leur prix, sur "
            "orientation d'un travailleur social.",
        ),
        (
            "Vestiaire solidaire",
            "aide-materielle",
            None,
            None,
            "Vêtements, chaussures et tenues pour un entretien d'embauche, à petit prix.",
        ),
    ],
    "famille": [
        (
            "Crèche à vocation d'insertion professionnelle (AVIP)",
            "accompagnement",
            None,
            None,
            "Une place en crèche pour les parents en recherche d'emploi ou en formation, "
            "avec un accompagnement vers l'emploi.",
        ),
        (
            "Soutien à la parentalité",
            "atelier",
            2,
            10,
            "Des temps d'échange entre parents et avec des professionnels de la petite enfance.",
        ),
        (
            "Garde d'enfants en horaires décalés",
            "aide-materielle",
            None,
            None,
            "Une solution de garde tôt le matin, tard le soir et le week-end pour les "
            "parents qui reprennent un emploi.",
        ),
    ],
    "lecture-ecriture-calcul": [
        (
            "Cours de français langue étrangère (FLE)",
            "formation",
            9,
            16,
            "Apprendre le français à l'oral et à l'écrit, pour la vie quotidienne et "
            "l'emploi, en petits groupes de niveau.",
        ),
        (
            "Atelier savoirs de base",
            "formation",
            6,
            12,
            "Remettre à niveau lecture, écriture et calcul, à son rythme, avec un formateur.",
        ),
    ],
    "logement-hebergement": [
        (
            "Accompagnement vers et dans le logement",
            "accompagnement",
            1,
            24,
            "Trouver un logement adapté, monter les demandes de logement social et de "
            "garanties, s'installer et s'y maintenir.",
        ),
        (
            "Hébergement d'urgence et accueil de jour",
            "aide-materielle",
            None,
            None,
            "Mise à l'abri, douches, laverie, domiciliation et orientation par le 115.",
        ),
        (
            "Prévention des expulsions locatives",
            "accompagnement",
            1,
            12,
            "Agir dès les premiers impayés de loyer avec le bailleur, la CAF et la "
            "commission de prévention.",
        ),
    ],
    "mobilite": [
        (
            "Auto-école sociale",
            "formation",
            4,
            20,
            "Préparer le permis B avec un accompagnement renforcé et un financement "
            "adapté aux personnes en insertion.",
        ),
        (
            "Location de scooters et de vélos électriques",
            "aide-materielle",
            None,
            None,
            "Un deux-roues à 1 € par jour pour se rendre au travail ou en formation, le "
            "temps de trouver une solution durable.",
        ),
        (
            "Conseil en mobilité",
            "accompagnement",
            1,
            4,
            "Faire le point sur ses déplacements, apprendre à utiliser les transports en "
            "commun et le covoiturage, financer son permis.",
        ),
        (
            "Garage solidaire",
            "aide-materielle",
            None,
            None,
            "Réparer ou entretenir son véhicule à prix coûtant, ou louer une voiture "
            "pour reprendre un emploi.",
        ),
    ],
    "numerique": [
        (
            "Atelier numérique : premiers pas",
            "atelier",
            3,
            8,
            "Utiliser un ordinateur et un smartphone, créer une adresse électronique, "
            "naviguer sur Internet en sécurité.",
        ),
        (
            "Accès libre à un ordinateur et à Internet",
            "aide-materielle",
            None,
            None,
            "Des postes informatiques, une imprimante et un conseiller numérique pour les "
            "démarches en ligne.",
        ),
        (
            "Ordinateurs reconditionnés à prix solidaire",
            "aide-materielle",
            None,
            None,
            "Un ordinateur portable reconditionné à partir de 50 €, avec une initiation.",
        ),
    ],
    "preparer-sa-candidature": [
        (
            "Atelier CV et lettre de motivation",
            "atelier",
            3,
            2,
            "Rédiger un CV clair et une lettre ciblée, avec un conseiller, sur ordinateur.",
        ),
        (
            "Club de recherche d'emploi",
            "atelier",
            9,
            6,
            "Trois demi-journées par semaine pour organiser ses recherches, répondre à des "
            "offres et préparer ses entretiens en groupe.",
        ),
        (
            "Simulation d'entretien d'embauche",
            "atelier",
            2,
            1,
            "S'entraîner à se présenter et à convaincre un recruteur, avec des retours.",
        ),
    ],
    "remobilisation": [
        (
            "Atelier confiance en soi",
            "atelier",
            4,
            8,
            "Reprendre confiance, mieux connaître ses atouts et retrouver un rythme, en "
            "petit groupe bienveillant.",
        ),
        (
            "Activités sportives adaptées",
            "atelier",
            2,
            12,
            "Du sport chaque semaine pour reprendre une activité, rencontrer d'autres "
            "personnes et se remobiliser.",
        ),
        (
            "Bénévolat accompagné",
            "accompagnement",
            4,
            12,
            "S'engager dans une association du territoire, reprendre un rythme et valoriser "
            "ses compétences.",
        ),
    ],
    "sante": [
        (
            "Permanence d'accès aux soins de santé",
            "accompagnement",
            1,
            None,
            "Consultations médicales et sociales pour les personnes sans couverture santé "
            "ou en difficulté d'accès aux soins.",
        ),
        (
            "Point écoute santé mentale",
            "accompagnement",
            1,
            10,
            "Un psychologue reçoit gratuitement et oriente vers les soins adaptés.",
        ),
        (
            "Aide au dossier MDPH",
            "accompagnement",
            1,
            4,
            "Constituer un dossier de reconnaissance du handicap (RQTH, AAH) avec un conseiller.",
        ),
    ],
    "se-former": [
        (
            "Conseil en évolution professionnelle",
            "accompagnement",
            2,
            6,
            "Trouver la formation adaptée à son projet et monter son dossier de "
            "financement (CPF, Région, France Travail).",
        ),
        (
            "Préparation aux concours et examens d'entrée",
            "formation",
            12,
            10,
            "Remise à niveau et entraînement aux épreuves d'entrée en formation "
            "qualifiante (aide-soignant, auxiliaire de puériculture…).",
        ),
    ],
    "souvrir-a-linternational": [
        (
            "Mobilité internationale des jeunes",
            "accompagnement",
            2,
            8,
            "Partir en stage, en volontariat ou en emploi à l'étranger (Erasmus+, corps "
            "européen de solidarité), préparer son départ.",
        ),
    ],
    "trouver-un-emploi": [
        (
            "Chantier d'insertion espaces verts",
            "accompagnement",
            26,
            24,
            "Un contrat de travail de 26 heures par semaine dans l'entretien des espaces "
            "naturels, avec un accompagnement socio-professionnel.",
        ),
        (
            "Parrainage vers l'emploi",
            "accompagnement",
            2,
            24,
            "Un parrain ou une marraine en activité partage son réseau et ses conseils.",
        ),
        (
            "Forum saisonniers de la montagne",
            "information",
            6,
            1,
            "Rencontrer les employeurs des stations : remontées mécaniques, hôtellerie, "
            "restauration, commerce.",
        ),
        (
            "Maintien dans l'emploi des salariés handicapés",
            "accompagnement",
            1,
            12,
            "Adapter le poste de travail et trouver des solutions avec l'employeur et le "
            "médecin du travail.",
        ),
    ],
}

TRAININGS = [
    ("Titre professionnel Agent de restauration", "22204", "RNCP34159", 35, 16),
    ("Titre professionnel Cuisinier", "42752", "RNCP34889", 35, 26),
    ("Titre professionnel Serveur en restauration", "42788", "RNCP36227", 35, 20),
    ("Titre professionnel Réceptionniste en hôtellerie", "42753", "RNCP37004", 35, 24),
    ("Titre professionnel Agent de propreté et d'hygiène", "42811", "RNCP34183", 35, 12),
    ("Titre professionnel Assistant de vie aux familles", "44028", "RNCP34690", 35, 22),
    ("Titre professionnel Employé commercial", "34566", "RNCP37099", 35, 20),
    ("Titre professionnel Secrétaire assistant", "35054", "RNCP36805", 35, 28),
    (
        "Titre professionnel Conducteur du transport routier de marchandises",
        "31812",
        "RNCP36185",
        35,
        14,
    ),
    ("CACES R489 chariots élévateurs", "31795", None, 35, 1),
    ("Titre professionnel Maçon", "22454", "RNCP38059", 35, 28),
    ("Titre professionnel Électricien d'équipement du bâtiment", "24054", "RNCP37030", 35, 30),
    ("Certificat CléA — compétences de base", "15040", "RNCP5080", 12, 10),
    ("Français langue étrangère à visée professionnelle", "15235", None, 20, 12),
    ("Préparation opérationnelle à l'emploi — agent de production", "31025", None, 35, 8),
    ("Saisonnier des remontées mécaniques", "31864", None, 35, 4),
    ("Titre professionnel Technicien d'assistance informatique", "31406", "RNCP35316", 35, 30),
    ("Titre professionnel Comptable assistant", "32663", "RNCP37148", 35, 30),
]
ORGANISATIONS = [
    ("AFPA Chambéry", "73065"),
    ("GRETA Savoie — Chambéry", "73065"),
    ("GRETA Savoie — Albertville", "73011"),
    ("AFPA Saint-Jean-de-Maurienne", "73248"),
    ("Institut de formation Lac du Bourget", "73008"),
    ("Centre de formation de Tarentaise", "73181"),
]


def _recent(rng: random.Random, today: date) -> str:
    return (today - timedelta(days=rng.randint(3, 400))).isoformat()


def _jitter(rng: random.Random, commune: geo.Commune) -> tuple[float, float]:
    return (
        round(commune.lat + rng.uniform(-0.012, 0.012), 6),
        round(commune.lon + rng.uniform(-0.015, 0.015), 6),
    )


def _publics(rng: random.Random) -> list[str]:
    if rng.random() < 0.45:
        return [TOUS_PUBLICS]
    choices = [p for p in PUBLIC_LABELS if p != TOUS_PUBLICS]
    return sorted(rng.sample(choices, rng.randint(1, 3)))


def _zone(rng: random.Random, commune: geo.Commune) -> list[str] | None:
    draw = rng.random()
    if draw < 0.55:
        return ["73"]
    if draw < 0.75 and commune.epci:
        return [commune.epci]
    if draw < 0.9:
        return [commune.code]
    return None


def _thematiques(rng: random.Random, category: str, turn: int | None = None) -> list[str]:
    """One or two thématiques of ``category`` (its ``turn``-th, when given, so that every
    thématique appears), sometimes one of another category."""
    own = [t for t in THEMATIQUE_LABELS if t.startswith(f"{category}--")]
    chosen = set(rng.sample(own, min(len(own), rng.randint(1, 2))))
    if turn is not None:
        chosen = {own[turn % len(own)], *sorted(chosen)[:1]}
    if rng.random() < 0.25:
        chosen.add(rng.choice(list(THEMATIQUE_LABELS)))
    return sorted(chosen)


def _structure(
    rng: random.Random, n: int, commune: geo.Commune, today: date, source: str
) -> dict[str, Any]:
    kind, pattern = STRUCTURE_KINDS[n % len(STRUCTURE_KINDS)]
    lat, lon = _jitter(rng, commune)
    return {
        "source": source,
        "id": f"{source}--s{n:05d}",
        "nom": pattern.format(commune=commune.name),
        "description": f"{kind} accueillant les habitants de {commune.name} et alentours.",
        "date_maj": _recent(rng, today),
        "adresse": f"{rng.randint(1, 80)} rue de la République",
        "code_postal": commune.postal_codes[0],
        "code_insee": commune.code,
        "commune": commune.name,
        "latitude": lat,
        "longitude": lon,
        "telephone": f"+334{rng.randint(79000000, 79999999)}",
        "courriel": f"contact{n}@exemple-savoie.fr",
        "horaires_accueil": "Mo-Fr 09:00-12:00,14:00-17:00",
    }


def _service(
    rng: random.Random,
    n: int,
    structure: dict[str, Any],
    commune: geo.Commune,
    category: str,
    today: date,
    turn: int | None = None,
) -> dict[str, Any]:
    name, kind, hours, weeks, description = rng.choice(SERVICES[category])
    lat, lon = _jitter(rng, commune)
    modes = ["en-presentiel"] if rng.random() < 0.8 else ["a-distance", "en-presentiel"]
    service: dict[str, Any] = {
        "source": structure["source"],
        "structure_id": structure["id"],
        "id": f"{structure['source']}--v{n:06d}",
        "nom": f"{name} — {commune.name}",
        "description": f"{description} Proposé par {structure['nom']}.",
        "date_maj": _recent(rng, today),
        "type": kind,
        "thematiques": _thematiques(rng, category, turn),
        "frais": "gratuit" if rng.random() < 0.85 else "payant",
        "publics": _publics(rng),
        "adresse": structure["adresse"],
        "code_postal": commune.postal_codes[0],
        "code_insee": commune.code,
        "commune": commune.name,
        "latitude": lat,
        "longitude": lon,
        "modes_accueil": modes,
        "zone_eligibilite": _zone(rng, commune),
        "modes_mobilisation": ["telephoner", "envoyer-un-courriel"],
        "mobilisable_par": ["professionnels", "usagers"],
        "telephone": structure["telephone"],
        "courriel": structure["courriel"],
    }
    if service["frais"] == "payant":
        service["frais_precisions"] = "Participation de 1 à 5 € selon les ressources."
    if hours is not None:
        service["volume_horaire_hebdomadaire"] = hours
    if weeks is not None:
        service["nombre_semaines"] = weeks
    return service


# The demo's resource base is the Savoie's.
DEMO_DEPARTEMENT = "73"


def _weighted_communes(places: geo.Gazetteer, rng: random.Random, count: int) -> list[geo.Commune]:
    """Communes drawn by population: bigger towns hold more services."""
    all_communes = places.in_departement(DEMO_DEPARTEMENT)
    weights = [max(c.population, 200) for c in all_communes]
    return rng.choices(all_communes, weights=weights, k=count)


def savoie_base(
    places: geo.Gazetteer,
    services: int = 360,
    today: date | None = None,
    seed: int = 73,
    source: str = DEMO_SOURCE,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Structures and services (data·inclusion v1 dicts): every thématique category,
    structures in the larger communes, services spread over the whole département."""
    rng = random.Random(seed)
    today = today or date.today()
    communes = places.in_departement(DEMO_DEPARTEMENT)
    hubs = communes[:40]  # the most populous
    structures = [_structure(rng, n, hubs[n % len(hubs)], today, source) for n in range(80)]
    categories = list(SERVICES)
    rows: list[dict[str, Any]] = []
    for n in range(services):
        structure = structures[n % len(structures)]
        # Half the services are at their structure, half in a permanence elsewhere.
        place = (
            places.communes[structure["code_insee"]]
            if n % 2 == 0
            else communes[rng.randrange(len(communes))]
        )
        category, turn = categories[n % len(categories)], n // len(categories)
        rows.append(_service(rng, n, structure, place, category, today, turn))
    return structures, rows


def bench_services(
    places: geo.Gazetteer,
    count: int,
    today: date | None = None,
    seed: int = 50_000,
    source: str = "bench",
) -> Iterator[dict[str, Any]]:
    """``count`` services for the benchmark (structures not needed: services stand alone)."""
    rng = random.Random(seed)
    today = today or date.today()
    categories = list(SERVICES)
    spots = _weighted_communes(places, rng, count)
    structures = [_structure(rng, n, spot, today, source) for n, spot in enumerate(spots[:500])]
    for n in range(count):
        yield _service(
            rng, n, structures[n % len(structures)], spots[n], rng.choice(categories), today
        )


def trainings_csv(
    places: geo.Gazetteer, count: int = 36, today: date | None = None, seed: int = 15
) -> bytes:
    """Trainings of both funders, in the import's CSV format."""
    rng = random.Random(seed)
    today = today or date.today()
    out = io.StringIO()
    columns = [
        "reference", "intitule", "organisme", "financeur", "formacode", "rncp", "date_debut",
        "date_fin", "places_restantes", "heures_hebdomadaires", "semaines", "adresse",
        "code_postal", "commune", "conditions",
    ]  # fmt: skip
    writer = csv.DictWriter(out, columns, delimiter=";")
    writer.writeheader()
    for n in range(count):
        title, formacode, rncp, hours, weeks = TRAININGS[n % len(TRAININGS)]
        organisation, code = ORGANISATIONS[n % len(ORGANISATIONS)]
        commune = places.communes[code]
        start = today + timedelta(days=rng.randint(-60, 180))
        writer.writerow(
            {
                "reference": f"demo-formation-{n:03d}",
                "intitule": title,
                "organisme": organisation,
                "financeur": "region" if n % 2 == 0 else "france_travail",
                "formacode": formacode,
                "rncp": rncp or "",
                "date_debut": start.strftime("%d/%m/%Y"),
                "date_fin": (start + timedelta(weeks=weeks)).strftime("%d/%m/%Y"),
                "places_restantes": rng.randint(0, 12),
                "heures_hebdomadaires": hours,
                "semaines": weeks,
                "adresse": f"{rng.randint(1, 60)} avenue de la Formation",
                "code_postal": commune.postal_codes[0],
                "commune": commune.name,
                "conditions": "Inscrit·e à France Travail ; information collective préalable.",
            }
        )
    return out.getvalue().encode("utf-8")


def demo_files(places: geo.Gazetteer, today: date | None = None) -> list[tuple[str, bytes]]:
    structures, services = savoie_base(places, today=today)
    return [
        ("structures-savoie.json", json.dumps(structures, ensure_ascii=False).encode()),
        ("services-savoie.json", json.dumps(services, ensure_ascii=False).encode()),
        ("formations-savoie.csv", trainings_csv(places, today=today)),
    ]


async def load_demo_resources(session: AsyncSession) -> ImportReport | None:
    """Import the Savoie demo base (once: nothing is done when services already exist)."""
    service = ResourceBaseService(session)
    if await service.repo.count_services():
        return None
    return await service.import_files(demo_files(await service.places()))
