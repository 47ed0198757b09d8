"""French pages of the agent's inbox: « À traiter » (open items, each with where to act and
« Marquer comme traité ») and « Mes notifications » (how she hears of them by e-mail). The
same service as the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import InboxPageDep
from api.forms import after_action, local_time
from api.templating import templates
from parcours.core.errors import ParcoursError
from parcours.inbox.schemas import EMAIL_PREFERENCE_LABELS, EmailPreference

router = APIRouter(include_in_schema=False)

DONE = {
    "traite": "L'élément est marqué comme traité : il a quitté votre liste.",
    "notifications": "Vos notifications par courriel sont enregistrées.",
}


@router.get("/a-traiter", response_class=HTMLResponse)
async def inbox_page(
    request: Request,
    inbox: InboxPageDep,
    fait: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return templates.TemplateResponse(
        request,
        "inbox/inbox.html",
        {
            "inbox": await inbox.items(),
            "preference": await inbox.preference(),
            "done": DONE.get(fait or ""),
            "local": local_time,
        },
    )


@router.post("/a-traiter/{item_id}/traite")
async def mark_done(item_id: str, inbox: InboxPageDep) -> RedirectResponse:
    await inbox.mark_done(item_id)
    return after_action("/a-traiter?fait=traite")


@router.get("/mon-compte/notifications", response_class=HTMLResponse)
async def preferences_page(
    request: Request,
    inbox: InboxPageDep,
    fait: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return _preferences(request, (await inbox.preference()).email.value, DONE.get(fait or ""))


def _preferences(
    request: Request, chosen: str, done: str | None, errors: list[str] | None = None
) -> Response:
    return templates.TemplateResponse(
        request,
        "inbox/preferences.html",
        {
            "choices": [(p.value, label) for p, label in EMAIL_PREFERENCE_LABELS.items()],
            "form": {"email": chosen},
            "done": done,
            "errors": errors or [],
        },
        status_code=422 if errors else 200,
    )


@router.post("/mon-compte/notifications", response_class=HTMLResponse)
async def preferences_submit(request: Request, inbox: InboxPageDep) -> Response:
    form = await request.form()
    chosen = str(form.get("email", ""))
    try:
        await inbox.set_preference(EmailPreference(chosen))
    except ValueError:
        return _preferences(
            request, chosen, None, ["Choisissez comment recevoir vos notifications."]
        )
    except ParcoursError as error:
        return _preferences(request, chosen, None, [error.message])
    return after_action("/mon-compte/notifications?fait=notifications")
