"""E-mail: the platform's sender delivers to the local mailbox, whose page lists each mail with
its links; a mail enqueued by a request goes right after its commit, never if it rolled back;
a mail the SMTP server did not take is sent later by the ``DeliverOutbox`` workflow, once;
``parcours dev`` sends every mail to the local mailbox unless an SMTP server is configured.

The SMTP server is the simulators' local mailbox, started in this process on a free port
(``mailbox`` fixture); the outbox is the real table, in the migrated test database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.mail import OutboxActivities
from api.deps import SessionDep
from cli.dev import mail_environment, where_mails_go
from parcours.core.db import transaction
from parcours.core.errors import Conflict, ParcoursError
from parcours.core.mail import Mail, MailNotSent, send
from parcours.core.outbox import OutboxMail, OutboxRepository, enqueue, send_outbox
from parcours.core.settings import Settings
from parcours.mail.messages import DeliverOutboxInput
from simulators.app import create_app as create_simulators
from simulators.config import SimulatorConfig
from tests.support.mailbox import LocalMailbox
from workflows.mail import DeliverOutbox

pytestmark = pytest.mark.onboarding


def address() -> str:
    return f"personne-{uuid.uuid4().hex[:8]}@test.parcours.fr"


def invitation(to: str) -> Mail:
    link = f"http://127.0.0.1:8000/invitation/{uuid.uuid4().hex}"
    return Mail(
        to=to,
        subject="Votre invitation à Parcours",
        body=f"Bonjour,\n\nPour créer votre mot de passe : {link}.\n\nÀ bientôt.",
        html=f'<p>Pour créer votre mot de passe : <a href="{link}">ce lien</a>.</p>',
    )


async def outbox_row(sessions: async_sessionmaker[AsyncSession], mail_id: str) -> OutboxMail:
    async with sessions() as session:
        row = await OutboxRepository(session).get(mail_id)
    assert row is not None
    return row


async def test_the_sender_delivers_to_the_local_mailbox_whose_page_shows_the_links(
    mailbox: LocalMailbox, settings: Settings
) -> None:
    to = address()
    mail = invitation(to)

    await send(mailbox.settings(settings), mail)

    received = await mailbox.wait_for(to=to, subject_contains="invitation")
    assert received.subject == "Votre invitation à Parcours"
    assert received.sender == settings.smtp_from
    assert "Pour créer votre mot de passe" in received.body
    (link,) = received.links
    assert link.startswith("http://127.0.0.1:8000/invitation/")
    assert received.html is not None and f'href="{link}"' in received.html

    # The mailbox's page, as the simulators serve it: the mail, its link clickable.
    simulators = create_simulators(SimulatorConfig(mailbox_dir=str(mailbox.folder)))
    transport = httpx.ASGITransport(app=simulators)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators") as http:
        page = await http.get("/mailbox", params={"to": to})
        raw = await http.get(f"/mailbox/{received.file}")
    assert page.status_code == 200
    assert "Votre invitation à Parcours" in page.text
    assert to in page.text
    assert f'<a href="{link}">{link}</a>' in page.text
    assert raw.headers["content-type"] == "message/rfc822"
    assert b"Subject:" in raw.content


async def test_a_server_that_is_down_is_one_typed_error(
    mailbox: LocalMailbox, settings: Settings
) -> None:
    await mailbox.stop()
    with pytest.raises(MailNotSent) as raised:
        await send(mailbox.settings(settings), invitation(address()))
    assert not raised.value.refused  # the server's failure, not this mail's
    assert "Connection" in raised.value.reason or "refused" in raised.value.reason

    with pytest.raises(MailNotSent, match="no SMTP host"):
        await send(settings, invitation(address()))  # none configured


# --- The outbox ---


@pytest.fixture
async def app_sending_mail(
    mailbox: LocalMailbox, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A tiny app on the platform's request transaction (``SessionDep``): ``/invite`` enqueues
    a mail and succeeds, ``/invite-then-fail`` enqueues one and is then refused (409)."""
    app = FastAPI()
    app.state.sessions = sessions
    app.state.settings = mailbox.settings(settings)

    @app.exception_handler(ParcoursError)
    async def _refused(_request: Request, error: ParcoursError) -> Response:
        return JSONResponse({"detail": error.message}, status_code=error.status_code)

    @app.post("/invite")
    async def invite(to: str, session: SessionDep) -> dict[str, str]:
        return {"id": await enqueue(session, invitation(to))}

    @app.post("/invite-then-fail")
    async def invite_then_fail(to: str, session: SessionDep) -> dict[str, str]:
        await enqueue(session, invitation(to))
        raise Conflict("Cette personne a déjà un compte.")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://parcours") as client:
        yield client


async def test_a_mail_goes_right_after_its_request_commits_and_never_if_it_rolled_back(
    app_sending_mail: httpx.AsyncClient,
    mailbox: LocalMailbox,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    invited, refused = address(), address()

    done = await app_sending_mail.post("/invite", params={"to": invited})
    assert done.status_code == 200, done.text
    await mailbox.wait_for(to=invited, subject_contains="invitation")
    row = await outbox_row(sessions, done.json()["id"])
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None

    failed = await app_sending_mail.post("/invite-then-fail", params={"to": refused})
    assert failed.status_code == 409
    # What the outbox workflow would send now: nothing for the request that rolled back.
    await send_outbox(sessions, mailbox.settings(settings))
    assert mailbox.received(to=refused) == []
    assert len(mailbox.received(to=invited)) == 1


async def test_a_mail_not_taken_while_smtp_is_down_is_sent_later_by_the_outbox_workflow_once(
    mailbox: LocalMailbox,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    time_env: WorkflowEnvironment,
) -> None:
    mail_settings = mailbox.settings(settings, mail_retry_after_s=0)
    to = address()
    await mailbox.stop()
    async with transaction(sessions) as session:
        mail_id = await enqueue(session, invitation(to))
    # What the API does right after the commit: the server is down, the mail stays.
    attempt = await send_outbox(sessions, mail_settings, [mail_id])
    assert (attempt.sent, attempt.failed) == (0, 1)
    row = await outbox_row(sessions, mail_id)
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error and "Connection" in row.last_error

    await mailbox.start()
    task_queue = f"outbox-{uuid.uuid4().hex[:8]}"
    outbox = OutboxActivities(sessions, mail_settings)
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[DeliverOutbox],
        activities=[outbox.send_outbox_mails],
    ):
        for run in range(2):  # two runs of the schedule: the second sends nothing again
            await time_env.client.execute_workflow(
                DeliverOutbox.run,
                DeliverOutboxInput(),
                id=f"mail-outbox-{task_queue}-{run}",
                task_queue=task_queue,
            )
            await mailbox.wait_for(to=to, subject_contains="invitation")

    assert len(mailbox.received(to=to)) == 1
    row = await outbox_row(sessions, mail_id)
    assert row.sent_at is not None
    assert (row.attempts, row.last_error) == (2, None)


def test_parcours_dev_sends_mail_to_the_local_mailbox_unless_an_smtp_server_is_set(
    settings: Settings,
) -> None:
    local = settings.model_copy(update={"smtp_host": None, "mailbox_smtp_port": 2525})
    assert mail_environment(local) == {
        "PARCOURS_SMTP_HOST": local.simulators_host,
        "PARCOURS_SMTP_PORT": "2525",
        "PARCOURS_SMTP_STARTTLS": "false",
    }
    assert where_mails_go(local).startswith(
        f"http://{local.simulators_host}:{local.simulators_port}/mailbox"
    )
    relay = settings.model_copy(update={"smtp_host": "smtp.example.fr", "smtp_port": 587})
    assert mail_environment(relay) == {}
    assert "smtp.example.fr:587" in where_mails_go(relay)
