"""A département sets itself up through a real browser, every link read from a real mailbox:
its first administrator follows the mail the command line sent, creates a structure, invites
a référente; she follows her mail, chooses her password, enrols a person and opens that
person's space, whose link reaches the person by mail too. Nobody copies a link by hand."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.service import create_first_admin
from parcours.core.db import transaction
from parcours.core.outbox import enqueued, send_outbox
from parcours.core.settings import Settings
from tests.support.mailbox import LocalMailbox
from tests.support.territories import departement_without_admin

pytestmark = [pytest.mark.browser, pytest.mark.onboarding]


async def new_profile(browser: Browser, url: str) -> Page:
    context = await browser.new_context(base_url=url, locale="fr-FR", timezone_id="Europe/Paris")
    context.set_default_timeout(15_000)
    return await context.new_page()


async def choose_password(page: Page, link: str, password: str) -> None:
    await page.goto(link)
    await page.get_by_label("Mot de passe", exact=False).first.fill(password)
    await page.get_by_label("Confirmer le mot de passe").fill(password)
    await page.get_by_role("button", name="Enregistrer et se connecter").click()


async def test_a_departement_sets_itself_up_and_a_referente_enrols_her_first_person(
    browser: Browser,
    mailed_app: tuple[str, Settings],
    sessions: async_sessionmaker[AsyncSession],
    mailbox: LocalMailbox,
) -> None:
    url, mailing = mailed_app
    territory = await departement_without_admin(sessions)
    tag = uuid.uuid4().hex[:6]
    admin_email = f"admin.{tag}@departement.fr"

    # The operator creates the first administrator; the mail with her link leaves at once.
    async with transaction(sessions) as session:
        await create_first_admin(
            session, mailing, email=admin_email, full_name=f"Admin {tag}", territory=territory
        )
    assert (await send_outbox(sessions, mailing, enqueued(session))).sent == 1
    mail = await mailbox.wait_for(to=admin_email, subject_contains="mot de passe")
    admin = await new_profile(browser, url)
    await choose_password(admin, mail.links[0], "un-mot-de-passe-admin-1")

    # She creates her département's first structure.
    await admin.get_by_role("link", name="Administration").first.click()
    await admin.get_by_role("link", name="Structures").click()
    structure = f"Mission locale du Lac {tag}"
    form = admin.locator("#structure-form")
    await form.get_by_label("Nom").fill(structure)
    await form.get_by_label("Type").select_option(label="Mission locale")
    await form.get_by_role("button", name="Créer la structure").click()
    await expect(admin.get_by_role("status")).to_have_text("La structure est enregistrée.")
    await expect(admin.get_by_role("table").first).to_contain_text(structure)

    # She invites a référente there: the page says a mail left, the mailbox has it.
    await admin.get_by_role("link", name="Agents").click()
    referente_email = f"referente.{tag}@mission-locale.fr"
    form = admin.locator("#invitation-form")
    await form.get_by_label("Nom et prénom").fill(f"Camille Référente {tag}")
    await form.get_by_label("Adresse électronique").fill(referente_email)
    await form.get_by_label("Rôle").select_option(label="Référent·e")
    await form.get_by_label("Structure").select_option(label=structure)
    await form.get_by_role("button", name="Inviter").click()
    await expect(admin.get_by_role("status")).to_contain_text(referente_email)
    invitation = await mailbox.wait_for(to=referente_email, subject_contains="mot de passe")
    assert "Camille Référente" in invitation.body

    # The référente follows the link from her mail and lands signed in on her list.
    referente = await new_profile(browser, url)
    await choose_password(referente, invitation.links[0], "un-mot-de-passe-referente-1")
    await expect(referente.get_by_role("heading", level=1)).to_have_text("Mes bénéficiaires")

    # The link served once: followed again, it says so in French.
    again = await new_profile(browser, url)
    await choose_password(again, invitation.links[0], "un-autre-mot-de-passe-2")
    await expect(again.get_by_role("alert")).to_contain_text("n'est plus valable")

    # She enrols her first person and opens the carnet.
    await referente.goto("/parcours/nouveau")
    person_email = f"personne.{tag}@exemple.fr"
    await referente.get_by_label("Prénom").fill(f"Inès{tag}")
    await referente.get_by_label(re.compile(r"^Nom\b")).fill(f"Premiere{tag}")
    await referente.get_by_label("Date de naissance").fill("1991-03-08")
    await referente.get_by_label("Adresse électronique").fill(person_email)
    # Her own département is already filled in.
    await expect(referente.get_by_label("Département")).to_have_value(territory)
    await referente.get_by_label("Date d'ouverture du RSA").fill(date.today().isoformat())
    await referente.get_by_role("button", name="Inscrire et ouvrir le parcours").click()
    await expect(referente.get_by_role("heading", level=1)).to_have_text(f"Inès{tag} Premiere{tag}")

    # She opens the person's own space: the link goes to the person by mail.
    await (
        referente.get_by_role("navigation", name="Onglets du carnet")
        .get_by_role("link", name="Situation", exact=True)
        .click()
    )
    await referente.get_by_role("button", name="Créer l'accès de la personne").click()
    await expect(referente.locator("#resultat")).to_contain_text(person_email)
    welcome = await mailbox.wait_for(to=person_email, subject_contains="espace")
    person = await new_profile(browser, url)
    await choose_password(person, welcome.links[0], "un-mot-de-passe-personne-1")
    await expect(person).to_have_url(re.compile(r"/mon-espace"))
    await expect(person.get_by_role("heading", level=1)).to_have_text("Mon espace")
    await expect(person.locator("main")).to_contain_text(f"Bonjour Inès{tag}.")
