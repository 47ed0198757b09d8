"""French pages (Jinja2 + DSFR): "mes bénéficiaires" and enrolment, and the form helpers
every page shares. A person's carnet and journey actions are in ``api.pages.carnet.view``.

They call the same services as the JSON API; a refused action is shown as a message and the
form keeps what was typed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import (
    InboxPageDep,
    JourneyServiceDep,
    OptionalPrincipal,
    PageNumber,
    PagePrincipal,
    SessionDep,
)
from api.forms import after_action, clean_form, form_errors, journey_choices, local_time
from api.pages.access.sign_in import home_of
from api.templating import templates
from parcours.core.errors import ParcoursError
from parcours.core.temporal import commit_or_undo
from parcours.inbox.service import has_inbox
from parcours.journey.messages import Step
from parcours.journey.schemas import (
    STEP_LABELS,
    BeneficiaryCreate,
    JourneyFilter,
)

router = APIRouter(include_in_schema=False)

# The list's deadline filter: late journeys (the most overdue first), or due within a week.
DEADLINE_FILTERS = {"retard": "En retard", "7j": "Échéance sous 7 jours"}


@router.get("/")
async def home(principal: OptionalPrincipal) -> RedirectResponse:
    if principal is None:
        return RedirectResponse("/connexion", status_code=303)
    return RedirectResponse(home_of(principal), status_code=303)


@router.get("/parcours", response_class=HTMLResponse)
async def journeys_page(
    request: Request,
    service: JourneyServiceDep,
    principal: PagePrincipal,
    inbox: InboxPageDep,
    step: Annotated[str | None, Query()] = None,
    stalled: Annotated[str | None, Query()] = None,
    echeance: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: PageNumber = 1,
) -> Response:
    step_value = step if step in {s.value for s in Step} else None
    # "stalled=1" is the older spelling of "en retard".
    due = "retard" if stalled == "1" else echeance if echeance in DEADLINE_FILTERS else None
    f = JourneyFilter(
        step=step_value,
        stalled={"retard": True, "7j": False}.get(due or ""),
        due_before=datetime.now(UTC) + timedelta(days=7) if due == "7j" else None,
        search=q or None,
    )
    size = 25
    result = await service.list(f, limit=size, offset=(page - 1) * size, principal=principal)
    counts = await service.count_by_step(principal)
    return templates.TemplateResponse(
        request,
        "journey/journeys.html",
        {
            "page_result": result,
            "counts": counts,
            "steps": STEP_LABELS,
            "deadline_filters": DEADLINE_FILTERS,
            "filters": {"step": step_value, "echeance": due or "", "q": q or ""},
            "page": page,
            "pages": max(1, -(-result.total // size)),
            # The first of « À traiter », on the agent's home page.
            "inbox": await inbox.items() if has_inbox(principal) else None,
            "local": local_time,
        },
    )


@router.get("/parcours/nouveau", response_class=HTMLResponse)
async def enrol_form(
    request: Request, service: JourneyServiceDep, principal: PagePrincipal
) -> Response:
    return templates.TemplateResponse(
        request,
        "journey/enrol.html",
        {
            # The agent's own département: the one they enrol people in, nearly always.
            "form": {"territory": principal.territory or ""},
            "errors": [],
            **await journey_choices(service),
        },
    )


@router.post("/parcours/nouveau", response_class=HTMLResponse)
async def enrol_submit(
    request: Request, service: JourneyServiceDep, session: SessionDep, principal: PagePrincipal
) -> Response:
    form = dict(await request.form())
    try:
        data = BeneficiaryCreate.model_validate(clean_form(form))
        enrolment = await service.enrol(data, principal)
        await commit_or_undo(session, lambda: service.abandon(enrolment.beneficiary.id))
    except ValidationError as error:
        return templates.TemplateResponse(
            request,
            "journey/enrol.html",
            {"form": form, "errors": form_errors(error), **await journey_choices(service)},
            status_code=422,
        )
    except ParcoursError as error:
        # The person may already be flushed (Temporal down): the page returns normally, so
        # the request's transaction would commit a person without a journey.
        await session.rollback()
        return templates.TemplateResponse(
            request,
            "journey/enrol.html",
            {"form": form, "errors": [error.message], **await journey_choices(service)},
            status_code=error.status_code,
        )
    return after_action(f"/parcours/{enrolment.beneficiary.id}?fait=inscription")
