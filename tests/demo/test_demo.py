"""`make run`'s demo: it loads on a fresh database, with journeys at every step in the Savoie
and a few in the Haute-Savoie, its accounts sign in, and each manager sees their own
département's journeys only."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from demo.seed import DEMO_PASSWORD, SECOND_PEOPLE, seed
from parcours.access.service import AccountService
from parcours.core.db import create_engine, create_sessionmaker
from parcours.core.settings import ROOT, Settings
from parcours.journey.models import JourneyEventRecord, JourneyRecord
from parcours.journey.schemas import JourneyFilter
from parcours.journey.service import JourneyService
from parcours.reorientation.models import ReorientationRequest
from worker.assembly import build_worker


@pytest.mark.onboarding
async def test_the_demo_loads_journeys_at_every_step_and_its_accounts_sign_in(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    demo = settings.model_copy(
        update={
            # A database of its own: the demo loads only into an empty one.
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
            "temporal_address": dev_env.client.service_client.config.target_host,
            "task_queue": f"demo-{uuid.uuid4().hex[:8]}",
        }
    )
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = demo.database_url
    await asyncio.to_thread(command.upgrade, config, "head")
    engine = create_engine(demo.database_url)
    sessions = create_sessionmaker(engine)
    try:
        async with build_worker(dev_env.client, sessions, demo.task_queue, demo):
            await seed(demo, people=50)
            await seed(demo, people=50)  # a second run changes nothing
        async with sessions() as session:
            steps = dict(
                (
                    await session.execute(
                        select(JourneyRecord.step, func.count()).group_by(JourneyRecord.step)
                    )
                ).all()
            )
            accounts = AccountService(session, demo)
            signed_in = await accounts.sign_in("nadia.benali@demo.parcours.fr", DEMO_PASSWORD)
            # Each manager sees their own département's journeys, and only them.
            seen: dict[str, tuple[set[str], int]] = {}
            for email in ("marc.vial@demo.parcours.fr", "hugo.marchand@demo.parcours.fr"):
                manager = (await accounts.sign_in(email, DEMO_PASSWORD)).principal
                page = await JourneyService(session, dev_env.client, demo).list(
                    JourneyFilter(), limit=200, principal=manager
                )
                seen[manager.territory] = ({j.territory for j in page.items}, page.total)
            referent_74 = await accounts.sign_in("lucie.fournier@demo.parcours.fr", DEMO_PASSWORD)
            # A reorientation decided each way, with its reasons; a social review due now.
            decided = {
                r.status: r
                for r in await session.scalars(select(ReorientationRequest))
                if r.decision_text
            }
            reviews_due = await session.scalar(
                select(func.count())
                .select_from(JourneyEventRecord)
                .where(JourneyEventRecord.kind == "social_review_due")
            )
        assert seen == {"73": ({"73"}, 50), "74": ({"74"}, SECOND_PEOPLE)}
        assert referent_74.principal.territory == "74"
        assert sum(steps.values()) == 50 + SECOND_PEOPLE, steps
        assert set(steps) >= {
            "intake",
            "diagnosis",
            "orientation",
            "accompaniment",
            "employment",
            "follow_up",
            "closed",
        }, sorted(steps.items())
        assert signed_in.principal.role == "referent"
        assert set(decided) == {"accepted", "refused"}
        assert decided["accepted"].after_team_meeting
        assert reviews_due == 1
        # A sanction case opened after an absence, lifted when the person signed.
        async with sessions() as session:
            lifted = list(
                await session.scalars(
                    select(JourneyEventRecord.detail).where(
                        JourneyEventRecord.kind == "sanction_lifted"
                    )
                )
            )
            opened = list(
                await session.scalars(
                    select(JourneyEventRecord.detail).where(
                        JourneyEventRecord.kind == "sanction_opened"
                    )
                )
            )
        assert [d["reason"] for d in lifted] == ["remobilisation"]
        assert [d["breach"] for d in opened] == ["absence"]
        # A journey past its 6 weeks without orientation: France Travail was asked to orient.
        async with sessions() as session:
            taken_over = list(
                await session.scalars(
                    select(JourneyEventRecord.detail).where(
                        JourneyEventRecord.kind == "france_travail_orientation_requested"
                    )
                )
            )
        assert taken_over, "no demo journey was handed to France Travail after 6 weeks"
    finally:
        await engine.dispose()
