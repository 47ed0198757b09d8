"""The simulators' HTTP app: one router per partner (the SMS provider included), the switches,
a reset, and the local mailbox when configured (its SMTP server started with the app, its page
at ``/mailbox``).

``create_app(config)`` builds every partner's store once (``Partners``) and keeps it in
``app.state.partners``; ``POST /_reset`` swaps in a fresh one. Stores live in memory; their
mutations never await, which is what keeps them consistent on one event loop.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from simulators import caf, france_travail, mailbox, region, sms, structures
from simulators.background import BackgroundWork
from simulators.caf import CafRegistry
from simulators.caf_feed import EventKind, generate_events
from simulators.callbacks import CallbackSender
from simulators.config import SimulatorConfig
from simulators.errors import NotFound, PartnerError, render_partner_error
from simulators.faults import Partner, Switchboard, Switches
from simulators.france_travail import FranceTravail, JobseekerCreate
from simulators.funding import FundingDesk
from simulators.mailbox import Mailbox, serve_smtp
from simulators.sms import SmsGateway
from simulators.structures import Structures


@dataclass(slots=True)
class Partners:
    config: SimulatorConfig
    switches: Switchboard
    background: BackgroundWork
    callbacks: CallbackSender
    caf: CafRegistry
    france_travail: FranceTravail
    region: FundingDesk
    structures: Structures
    sms: SmsGateway

    @classmethod
    def build(cls, config: SimulatorConfig) -> Partners:
        # References carry a run id so that two runs never hand out the same one.
        run_id = secrets.token_hex(2).upper()
        switches = Switchboard(random.Random(config.seed))
        background = BackgroundWork()
        callbacks = CallbackSender(config, switches, background)

        def funding_desk(partner: Partner, prefix: str, ceiling: Decimal) -> FundingDesk:
            alone = partner is not Partner.REGION or config.region_decides_alone
            return FundingDesk(
                partner,
                f"{prefix}-{run_id}",
                ceiling,
                switches=switches,
                callbacks=callbacks,
                background=background,
                decision_delay_s=config.decision_delay_s if alone else None,
            )

        partners = cls(
            config=config,
            switches=switches,
            background=background,
            callbacks=callbacks,
            caf=CafRegistry(switches, config.feed_page_size),
            france_travail=FranceTravail(
                run_id,
                random.Random(config.seed),
                callbacks=callbacks,
                funding=funding_desk(Partner.FRANCE_TRAVAIL, "FT-AIF", france_travail.AIF_CEILING),
                background=background,
                decision_delay_s=config.decision_delay_s,
            ),
            region=funding_desk(Partner.REGION, "REG-FORM", region.REGION_CEILING),
            structures=Structures(run_id, switches=switches, callbacks=callbacks),
            sms=SmsGateway(run_id, config=config, switches=switches, background=background),
        )
        partners.load_demo()
        return partners

    def load_demo(self) -> None:
        """The CAF feed's demo events, and France Travail registrations for two people in three
        of those whose rights it opens."""
        if not self.config.demo_events:
            return
        events = generate_events(self.config.demo_events, seed=self.config.seed)
        self.caf.append(events)
        rng = random.Random(self.config.seed)
        for event in events:
            if event.kind == EventKind.NEW_RIGHTS and rng.random() < 2 / 3:
                self.france_travail.register(
                    JobseekerCreate(
                        nir=event.nir,
                        birth_date=event.birth_date,
                        first_name=event.first_name,
                        last_name=event.last_name,
                        registered_on=event.rights_opened_on,
                    )
                )

    async def aclose(self) -> None:
        await self.background.aclose()
        await self.callbacks.aclose()
        await self.sms.aclose()


def current_partners(request: Request) -> Partners:
    partners: Partners = request.app.state.partners
    return partners


CurrentPartners = Annotated[Partners, Depends(current_partners)]

controls = APIRouter(tags=["Pilotage des simulateurs"])


def _partner(name: str) -> Partner:
    try:
        return Partner(name.replace("-", "_"))
    except ValueError:
        known = ", ".join(partner.value for partner in Partner)
        raise NotFound(f"Partenaire « {name} » inconnu (connus : {known}).") from None


@controls.get("/_switches", summary="Les interrupteurs de chaque partenaire")
async def read_switches(partners: CurrentPartners) -> dict[Partner, Switches]:
    return partners.switches.all()


@controls.put(
    "/_switches/{partner}",
    summary="Régler les interrupteurs d'un partenaire (remplace tous ses réglages)",
)
async def set_switches(partner: str, switches: Switches, partners: CurrentPartners) -> Switches:
    target = _partner(partner)
    partners.switches.set(target, switches)
    return partners.switches.get(target)


@controls.post("/_reset", summary="Tout oublier : données, interrupteurs, rappels en cours")
async def reset(request: Request) -> dict[str, str]:
    old: Partners = request.app.state.partners
    request.app.state.partners = Partners.build(old.config)
    await old.aclose()
    return {"detail": "Simulateurs remis à zéro."}


@controls.get("/healthz", summary="Le service répond")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    config = config or SimulatorConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        smtp = None
        if config.mailbox_dir is not None and config.mailbox_smtp_port is not None:
            smtp = await serve_smtp(
                app.state.mailbox, config.mailbox_smtp_host, config.mailbox_smtp_port
            )
        yield
        if smtp is not None:
            smtp.close()
            await smtp.wait_closed()
        await app.state.partners.aclose()

    app = FastAPI(
        title="Parcours — simulateurs des partenaires",
        description=(
            "La CAF, France Travail, la Région, les structures et le fournisseur de SMS, pour le "
            "développement et les tests. Les interrupteurs (`/_switches`) rendent un partenaire "
            "lent, en panne, muet après avoir agi, ou bavard (rappels en double)."
        ),
        version="1",
        lifespan=lifespan,
    )
    app.state.partners = Partners.build(config)
    app.add_exception_handler(PartnerError, render_partner_error)
    app.include_router(controls)
    partners_routers = (
        caf.router,
        france_travail.router,
        region.router,
        structures.router,
        sms.router,
    )
    for partner_router in partners_routers:
        app.include_router(partner_router)
    if config.mailbox_dir is not None:
        app.state.mailbox = Mailbox(Path(config.mailbox_dir))
        app.include_router(mailbox.router)
    return app
