"""Managers' pages: the indicators of their département (charts drawn on the server, tables,
CSV export) and a journey's full story (who did what, time spent in each step)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import (
    IndicatorsPageDep,
    StoryPageDep,
)
from api.forms import local_time, problems
from api.routes.indicators import csv_response
from api.templating import templates
from parcours.core.errors import InvalidReference
from parcours.indicators.schemas import IndicatorFilter, IndicatorsRead, Rate
from parcours.indicators.service import (
    TABLES,
    csv_filename,
    exits_csv,
    exits_filename,
    french_number,
    orientation_csv,
    orientation_filename,
    table,
    to_csv,
)

router = APIRouter(include_in_schema=False)

FILTER_LABELS = {
    "territory": "Département",
    "structure_id": "Structure",
    "from_month": "Premier mois",
    "to_month": "Dernier mois",
}


def _cell(value: Any) -> str:
    """A table cell on the page: "—" where there is no figure yet."""
    return french_number(value) or "—"


def _percent_text(rate: Rate) -> str:
    return "—" if rate.percent is None else f"{french_number(rate.percent)} %"


def _rate_bar(rate: Rate, label: str | None = None) -> dict[str, Any]:
    return {
        "label": label or rate.label,
        "value": rate.percent,
        "text": f"{_percent_text(rate)} ({rate.numerator}/{rate.denominator})",
    }


def _key_figures(read: IndicatorsRead) -> list[dict[str, str]]:
    t = read.total
    # The legal delay (6 weeks by default) is the last of the orientation delays.
    legal = t.oriented_within[-1]
    return [
        {
            "label": "Entrées dans la période",
            "value": str(t.entered),
            "hint": "RSA ouvert (ou parcours commencé) dans la période",
        },
        {
            "label": legal.label,
            "value": _percent_text(legal),
            "hint": f"{legal.numerator} sur {legal.denominator} droits RSA ouverts",
        },
        {
            "label": t.contract_within.label,
            "value": _percent_text(t.contract_within),
            "hint": f"{t.contract_within.numerator} sur {t.contract_within.denominator} "
            "orientations",
        },
        {
            "label": "Sorties positives",
            "value": _percent_text(read.positive_exit_rate),
            "hint": f"{t.positive_exits} sur {t.exits} sorties",
        },
        {
            "label": t.follow_up_kept.label,
            "value": _percent_text(t.follow_up_kept),
            "hint": f"{t.follow_up_kept.numerator} sur {t.follow_up_kept.denominator} suivis",
        },
    ]


def _charts(read: IndicatorsRead) -> dict[str, dict[str, Any]]:
    """What each chart of the page draws: its title and its bars."""
    t = read.total
    legal = t.oriented_within[-1]
    return {
        "legal": {
            "title": "Part des personnes orientées dans chaque délai après l'ouverture du RSA, "
            "et des contrats signés dans le mois de l'orientation",
            "bars": [
                *(_rate_bar(r) for r in t.oriented_within),
                _rate_bar(t.contract_within, "Contrat signé sous 1 mois"),
            ],
        },
        "months": {
            "title": f"{legal.label}, selon le mois d'ouverture du RSA",
            "bars": [_rate_bar(m.figures.oriented_within[-1], m.label) for m in read.months],
        },
        "funnel": {
            "title": "Nombre de personnes ayant atteint chaque étape",
            "bars": [
                {
                    "label": s.label,
                    "value": s.count,
                    "text": f"{s.count} ({french_number(s.percent)} %)"
                    if s.percent is not None
                    else str(s.count),
                }
                for s in read.funnel
            ],
        },
        "steps": {
            "title": "Durée médiane de chaque étape, en jours",
            "bars": [
                {
                    "label": d.step_label,
                    "value": d.median_days,
                    "text": f"médiane {_cell(d.median_days)} j, "
                    f"90e centile {_cell(d.p90_days)} j ({d.count} séjours)"
                    if d.count
                    else "aucun séjour terminé",
                }
                for d in read.delays
            ],
        },
        "exits": {
            "title": "Parcours clôturés par motif de sortie (en vert : sorties positives)",
            "bars": [
                {
                    "label": e.label,
                    "value": e.count,
                    "text": str(e.count),
                    "positive": e.positive,
                }
                for e in read.exits
            ],
        },
    }


def _filter_of(form: dict[str, str]) -> IndicatorFilter:
    return IndicatorFilter(
        territory=form["territoire"] or None,
        structure_id=form["structure"] or None,
        from_month=form["du"] or None,
        to_month=form["au"] or None,
    )


# Query parameters are checked by ``IndicatorFilter``, so that a page explains what is wrong.
@router.get("/gestion/indicateurs", response_class=HTMLResponse)
async def indicators_page(
    request: Request,
    service: IndicatorsPageDep,
    territoire: str = "",
    structure: str = "",
    du: str = "",
    au: str = "",
) -> Response:
    form = {"territoire": territoire, "structure": structure, "du": du, "au": au}
    # Checks the role first: someone else gets the error page, not an empty form.
    territory = service.territory_for(territoire or None)
    context: dict[str, Any] = {
        "form": form,
        "territory": territory,
        "territories": await service.territories(),
        "structures": await service.structures(territory),
        "is_admin": service.principal.role == "admin",
        "errors": [],
        "read": None,
        "tables": {},
        "cell": _cell,
    }
    try:
        read = await service.read(_filter_of(form))
    except ValidationError as error:
        context["errors"] = [
            f"{FILTER_LABELS.get(field, field)} : "
            + ("format attendu AAAA-MM (par exemple 2025-01)." if "month" in field else message)
            for field, message in problems(error)
        ]
        return templates.TemplateResponse(
            request, "indicators/indicators.html", context, status_code=422
        )
    except InvalidReference as error:
        context["errors"] = [error.message]
        return templates.TemplateResponse(
            request, "indicators/indicators.html", context, status_code=error.status_code
        )
    query = {"territoire": read.territory, "du": read.from_month, "au": read.to_month}
    if read.structure:
        query["structure"] = read.structure.id
    context.update(
        read=read,
        form={**form, "du": read.from_month, "au": read.to_month},
        tables={name: table(read, name) for name in TABLES},
        key_figures=_key_figures(read),
        charts=_charts(read),
        export_query=urlencode(query),
    )
    return templates.TemplateResponse(request, "indicators/indicators.html", context)


@router.get("/gestion/indicateurs/export.csv")
async def indicators_export(
    service: IndicatorsPageDep,
    tableau: str = "mois",
    territoire: str = "",
    structure: str = "",
    du: str = "",
    au: str = "",
) -> Response:
    form = {"territoire": territoire, "structure": structure, "du": du, "au": au}
    try:
        f = _filter_of(form)
    except ValidationError as error:
        raise InvalidReference(
            "Filtres invalides : "
            + "; ".join(f"{FILTER_LABELS.get(k, k)} {m}" for k, m in problems(error))
        ) from error
    read = await service.read(f)
    return csv_response(to_csv(read, tableau), csv_filename(read, tableau))


@router.get("/gestion/indicateurs/sorties.csv")
async def exits_export(service: IndicatorsPageDep, annee: int, territoire: str = "") -> Response:
    """The FSE+ and PDI annual reports' exits of a year (docs/sorties-fse-pdi.md)."""
    export = await service.exit_lines(territoire or None, annee)
    return csv_response(exits_csv(export), exits_filename(export))


@router.get("/gestion/indicateurs/comites-pour-l-emploi.csv")
async def orientation_export(
    service: IndicatorsPageDep, territoire: str = "", du: str = "", au: str = ""
) -> Response:
    """The comités pour l'emploi's orientation data, month by month
    (docs/comites-pour-l-emploi.md)."""
    try:
        f = _filter_of({"territoire": territoire, "structure": "", "du": du, "au": au})
    except ValidationError as error:
        raise InvalidReference(
            "Filtres invalides : "
            + "; ".join(f"{FILTER_LABELS.get(k, k)} {m}" for k, m in problems(error))
        ) from error
    report = await service.orientation_months(f)
    return csv_response(orientation_csv(report), orientation_filename(report))


@router.get("/gestion/parcours/{beneficiary_id}/histoire", response_class=HTMLResponse)
async def journey_story(request: Request, beneficiary_id: str, service: StoryPageDep) -> Response:
    story = await service.story(beneficiary_id)
    return templates.TemplateResponse(
        request, "indicators/story.html", {"story": story, "local": local_time, "cell": _cell}
    )
