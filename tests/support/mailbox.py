"""The local mailbox in the tests' own process: the simulators' SMTP server
(``simulators/mailbox.py``) on a free port, its mails in a temporary folder. A test points the
settings at it, then waits for the mail sent to an address and reads its links:

    settings = mailbox.settings(settings)
    ...
    mail = await mailbox.wait_for(to=user.email, subject_contains="Invitation")
    await browser.get(mail.links[0])

``stop()`` and ``start()`` take the SMTP server down and up again on the same port.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from parcours.core.settings import Settings
from simulators.mailbox import Mailbox, StoredMail, serve_smtp, smtp_port


class LocalMailbox:
    def __init__(self, folder: Path, host: str = "127.0.0.1") -> None:
        self.mailbox = Mailbox(folder)
        self.host = host
        self.port = 0  # a free one at the first start, then the same
        self._server: asyncio.Server | None = None

    @property
    def folder(self) -> Path:
        return self.mailbox.folder

    async def start(self) -> None:
        self._server = await serve_smtp(self.mailbox, self.host, self.port)
        self.port = smtp_port(self._server)

    async def stop(self) -> None:
        """The SMTP server is down (connections refused) until ``start``."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def settings(self, settings: Settings, **update: Any) -> Settings:
        """``settings`` sending their mails here."""
        smtp = {"smtp_host": self.host, "smtp_port": self.port, "smtp_starttls": False}
        return settings.model_copy(update={**smtp, "smtp_user": None, **update})

    def received(self, to: str | None = None, subject_contains: str = "") -> list[StoredMail]:
        """The mails received so far (for ``to``, with ``subject_contains``), oldest first."""
        return [
            mail
            for mail in self.mailbox.messages()
            if (to is None or mail.is_for(to)) and subject_contains in mail.subject
        ]

    async def wait_for(
        self, *, to: str, subject_contains: str = "", within_s: float = 10
    ) -> StoredMail:
        """The first mail for ``to`` whose subject contains ``subject_contains``, once it
        arrived; fails after ``within_s`` saying what did arrive."""
        try:
            async with asyncio.timeout(within_s):
                while not (found := self.received(to, subject_contains)):
                    await asyncio.sleep(0.05)
                return found[0]
        except TimeoutError:
            seen = [(m.recipients, m.subject) for m in self.mailbox.messages()]
            raise AssertionError(
                f"no mail for {to!r} with {subject_contains!r} in its subject within "
                f"{within_s} s; received: {seen}"
            ) from None
