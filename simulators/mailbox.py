"""The local mailbox, for development and tests: an SMTP server (``aiosmtpd``) that takes every
mail, whoever it is for, and keeps it as a ``.eml`` file in a folder (``var/mail/`` by
default); and the page that lists them (``GET /mailbox``: subject, recipient, date, body with
its links clickable; ``GET /mailbox/{file}``: the raw ``.eml``).

It runs inside the simulators' process (``parcours simulators``), on its own SMTP port, and
``parcours dev`` points the platform's ``PARCOURS_SMTP_HOST``/``PORT`` at it. The tests start
the same server in their own process (``serve_smtp`` on a free port, a temporary folder).
Nothing is relayed: a mail that lands here goes nowhere else.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from simulators.errors import NotFound

log = logging.getLogger(__name__)

# What a stored mail's file is called: when it arrived (sortable), then a random part.
_FILE = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}\.eml$")
# Links in a plain-text body; the punctuation that ends a sentence is not part of them.
_LINK = re.compile(r"https?://[^\s<>\"'()\[\]]+")
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_TRAILING = ".,;:!?"


@dataclass(frozen=True, slots=True)
class StoredMail:
    """One mail as the mailbox keeps it."""

    file: str
    # Whom the SMTP client delivered it to (the envelope: Bcc included).
    recipients: tuple[str, ...]
    sender: str
    subject: str
    date: datetime
    body: str
    html: str | None
    message: EmailMessage

    @property
    def links(self) -> list[str]:
        """The links of the plain-text body, then those of the HTML one, each once."""
        found = [_strip(link) for link in _LINK.findall(self.body)]
        if self.html:
            found += [html.unescape(href) for href in _HREF.findall(self.html)]
        return list(dict.fromkeys(found))

    def is_for(self, address: str) -> bool:
        return address.lower() in (r.lower() for r in self.recipients)


class Mailbox:
    """The folder of ``.eml`` files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def store(self, recipients: list[str], content: bytes) -> Path:
        """Keep one mail; written whole under a temporary name, then renamed, so a reader
        never sees half a mail."""
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        name = f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}.eml"
        delivered = b"".join(f"Delivered-To: {r}\r\n".encode() for r in recipients)
        temporary = self.folder / f".{name}.tmp"
        temporary.write_bytes(delivered + content)
        os.replace(temporary, self.folder / name)
        return self.folder / name

    def files(self) -> list[Path]:
        """The stored mails, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if _FILE.match(p.name))

    def messages(self) -> list[StoredMail]:
        """Every stored mail, oldest first."""
        return [read_mail(path) for path in self.files()]

    def raw(self, file: str) -> bytes:
        path = self.folder / file
        if not _FILE.match(file) or not path.is_file():
            raise NotFound(f"Courriel « {file} » introuvable.")
        return path.read_bytes()


def read_mail(path: Path) -> StoredMail:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    recipients = message.get_all("Delivered-To") or [
        address for _, address in getaddresses(message.get_all("To") or [])
    ]
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    try:
        date = parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        date = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return StoredMail(
        file=path.name,
        recipients=tuple(str(r) for r in recipients),
        sender=str(message.get("From", "")),
        subject=str(message.get("Subject", "")),
        date=date,
        body=_content(plain) if plain is not None else "",
        html=_content(rich) if rich is not None else None,
        message=message,
    )


def _content(part: Any) -> str:
    content = part.get_content()
    return content if isinstance(content, str) else content.decode(errors="replace")


def _strip(link: str) -> str:
    return link.rstrip(_TRAILING)


# --- The SMTP server ---


class MailboxHandler:
    """aiosmtpd's handler: every mail is accepted and stored."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        path = await asyncio.to_thread(self.mailbox.store, list(envelope.rcpt_tos), content)
        log.info("mail received", extra={"file": path.name, "recipients": len(envelope.rcpt_tos)})
        return "250 Message accepted for delivery"


async def serve_smtp(mailbox: Mailbox, host: str, port: int) -> asyncio.Server:
    """The SMTP server on ``host:port`` in the running event loop (``port`` 0: a free one,
    read from the returned server's ``sockets``). Close it with ``close()``."""
    # aiosmtpd logs every command at INFO: only its warnings here.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = MailboxHandler(mailbox)
    return await loop.create_server(
        lambda: SMTP(handler, hostname="parcours-mailbox", enable_SMTPUTF8=True, loop=loop),
        host,
        port,
    )


def smtp_port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


# --- The page ---

router = APIRouter(tags=["Boîte aux lettres locale"])


def current_mailbox(request: Request) -> Mailbox:
    mailbox: Mailbox = request.app.state.mailbox
    return mailbox


CurrentMailbox = Annotated[Mailbox, Depends(current_mailbox)]


# Plain ``def``: FastAPI runs them in a thread, the files are read off the event loop.
@router.get("/mailbox", response_class=HTMLResponse, summary="Les courriels reçus (page)")
def mailbox_page(
    mailbox: CurrentMailbox,
    to: Annotated[str | None, Query(description="Seulement ceux adressés à…")] = None,
) -> HTMLResponse:
    mails = [m for m in reversed(mailbox.messages()) if to is None or m.is_for(to)]
    return HTMLResponse(_page(mails, mailbox.folder, to))


@router.get("/mailbox/{file}", summary="Un courriel reçu, tel quel (.eml)")
def mailbox_file(file: str, mailbox: CurrentMailbox) -> Response:
    return Response(
        mailbox.raw(file),
        media_type="message/rfc822",
        headers={"Content-Disposition": f'inline; filename="{file}"'},
    )


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #161616; }
article { border: 1px solid #ddd; padding: 1rem 1.5rem; margin: 1rem 0; }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0 0 1rem; }
dt { color: #666; } dd { margin: 0; }
pre { white-space: pre-wrap; font-family: inherit; background: #f6f6f6; padding: 1rem; }
a { color: #000091; }
"""


def _page(mails: list[StoredMail], folder: Path, to: str | None) -> str:
    e = html.escape
    title = f"Courriels reçus ({len(mails)})" + (f" pour {to}" if to else "")
    parts = [
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Boîte aux lettres locale : chaque courriel reçu est gardé dans <code>{e(str(folder))}"
        "</code> et n'est envoyé nulle part ailleurs."
        + (' <a href="/mailbox">Tous les courriels</a>' if to else "")
        + "</p>",
    ]
    if not mails:
        parts.append("<p>Aucun courriel pour l'instant.</p>")
    for mail in mails:
        recipients = ", ".join(
            f'<a href="/mailbox?{e(urlencode({"to": r}))}">{e(r)}</a>' for r in mail.recipients
        )
        parts += [
            f'<article id="{e(mail.file)}"><h2>{e(mail.subject) or "(sans objet)"}</h2><dl>',
            f"<dt>À</dt><dd>{recipients}</dd>",
            f"<dt>De</dt><dd>{e(mail.sender)}</dd>",
            f"<dt>Date</dt><dd>{mail.date.astimezone(UTC):%d/%m/%Y %H:%M:%S} UTC</dd>",
            f'<dt>Fichier</dt><dd><a href="/mailbox/{e(mail.file)}">{e(mail.file)}</a></dd>',
            f"</dl><pre>{_linked(mail.body)}</pre></article>",
        ]
    parts.append("</body></html>")
    return "".join(parts)


def _linked(text: str) -> str:
    """``text`` escaped, its links clickable."""
    return "".join(_linked_pieces(text))


def _linked_pieces(text: str) -> Iterator[str]:
    at = 0
    for match in _LINK.finditer(text):
        link = _strip(match.group())
        yield html.escape(text[at : match.start()])
        yield f'<a href="{html.escape(link, quote=True)}">{html.escape(link)}</a>'
        at = match.start() + len(link)
    yield html.escape(text[at:])
