"""Signing in and out: passwords with lock-out, browser sessions, API tokens, invitations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import ApiToken, Invitation, Structure, User, WebSession
from parcours.access.repository import AccountRepository, AdminRepository, log_admin
from parcours.access.rules import ROLE_LABELS, Principal, Role
from parcours.access.schemas import (
    STRUCTURE_KINDS,
    TOKEN_PARTNERS,
    AgentDeactivated,
    AgentInvite,
    AgentInvited,
    AgentRead,
    AgentUpdate,
    StructureCreate,
    StructureImportReport,
    StructureRead,
    StructureUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
)
from parcours.core.db import transaction, utcnow
from parcours.core.errors import Conflict, Forbidden, InvalidReference, NotFound, Unauthenticated
from parcours.core.mail import Mail
from parcours.core.outbox import enqueue
from parcours.core.schemas import PersonRef, person_name
from parcours.core.security import (
    hash_password,
    new_token,
    password_problem,
    token_hash,
    verify_password,
)
from parcours.core.settings import Settings
from parcours.resources import geo, importer
from parcours.resources.schemas import Rejected
from parcours.territories.service import TerritoryService

WRONG_CREDENTIALS = "Adresse électronique ou mot de passe incorrect."
PASSWORD_RESET = "password_reset"
PASSWORD_RESET_HOURS = 1
NO_AGENT_ACCOUNT = "Aucun compte Parcours ne correspond à cette identité ProConnect."
ACCOUNT_DEACTIVATED = (
    "Votre compte Parcours est désactivé : adressez-vous à l'administrateur de votre structure."
)


def activation_mail(user: User, link: str, hours: int) -> Mail:
    """The link for a new account to choose its password. Links and the recipient's own
    name only: no personal data about anyone followed."""
    return Mail(
        to=user.email,
        subject="Votre compte Parcours : choisissez votre mot de passe",
        body=(
            f"Bonjour {user.full_name},\n\n"
            "Un compte Parcours vient d'être ouvert pour vous. Pour choisir votre mot de passe "
            f"et vous connecter, suivez ce lien (valable {hours} heures, une seule fois) :\n\n"
            f"{link}\n\n"
            "Les agents peuvent aussi se connecter avec ProConnect.\n\n"
            "Si vous n'attendiez pas ce message, ignorez-le.\n"
        ),
    )


def password_reset_mail(user: User, link: str) -> Mail:
    return Mail(
        to=user.email,
        subject="Parcours : choisir un nouveau mot de passe",
        body=(
            f"Bonjour {user.full_name},\n\n"
            "Vous avez demandé à choisir un nouveau mot de passe pour Parcours. Suivez ce lien "
            f"(valable {PASSWORD_RESET_HOURS} heure, une seule fois) :\n\n{link}\n\n"
            "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n"
        ),
    )


# Where a request's session keeps the API tokens it used (their last use to record after it).
_TOKENS_USED = "api_tokens_used"
# A token's last use is kept to the minute: no write on every call of a busy client.
TOKEN_USE_EVERY = timedelta(minutes=1)


# Where a request's session keeps the browser sessions it saw (their last request to record).
_SESSIONS_SEEN = "web_sessions_seen"
SEEN_EVERY = timedelta(minutes=1)


def sessions_seen(session: AsyncSession) -> list[str]:
    """The browser sessions a request used whose last request is to be recorded."""
    return sorted(session.info.get(_SESSIONS_SEEN, ()))


async def record_seen(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> None:
    """Record that the browser sessions made a request now, in a short transaction of its own
    (an idle session ends ``session_idle_minutes`` after its last request)."""
    async with transaction(sessions) as session:
        await AccountRepository(session).touch_web_sessions(ids, utcnow())


def tokens_used(session: AsyncSession) -> list[str]:
    """The API tokens a request used whose last use is to be recorded."""
    return sorted(session.info.get(_TOKENS_USED, ()))


async def record_token_use(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> None:
    """Record that the tokens were used now, in a short transaction of its own."""
    now = utcnow()
    async with transaction(sessions) as session:
        await AccountRepository(session).touch_tokens(ids, now, now - TOKEN_USE_EVERY)


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    session_token: str
    csrf_token: str


class AccountService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.accounts = AccountRepository(session)

    async def sign_in(self, email: str, password: str) -> SignedIn:
        """Check the password. The same work and the same answer whether the address is
        unknown, the account deactivated or the password wrong (the hash is always computed);
        how many tries are allowed is the ``SignInGuard``'s."""
        user = await self.accounts.user_by_email(email.strip())
        right = verify_password(user.password_hash if user else None, password)
        if user is None or not user.active or not right:
            raise Unauthenticated(WRONG_CREDENTIALS)
        return await self.open_session(user)

    async def open_session(self, user: User, *, provider_id_token: str | None = None) -> SignedIn:
        token, csrf = new_token(), new_token()
        self.accounts.add(
            WebSession(
                id=token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                expires_at=utcnow() + timedelta(hours=self.settings.session_hours),
                provider_id_token=provider_id_token,
            )
        )
        return SignedIn(Principal.of(user), token, csrf)

    async def sign_in_as_agent(self, email: str, *, provider_id_token: str) -> SignedIn:
        """ProConnect's sign-in, for agents only: the provider vouches for the e-mail, which
        must be an active professional account's (an invited agent's first sign-in too)."""
        user = await self.accounts.user_by_email(email.strip()) if email.strip() else None
        if user is None or user.role == Role.BENEFICIARY:
            raise Forbidden(NO_AGENT_ACCOUNT)
        if not user.active:
            raise Forbidden(ACCOUNT_DEACTIVATED)
        return await self.open_session(user, provider_id_token=provider_id_token)

    async def session_principal(self, token: str) -> tuple[Principal, str] | None:
        """The signed-in user of a session cookie and the session's CSRF token."""
        now = utcnow()
        idle_since = now - timedelta(minutes=self.settings.session_idle_minutes)
        found = await self.accounts.web_session(token_hash(token), now, idle_since)
        if found is None:
            return None
        web_session, user = found
        # The request is seen: written after it, to the minute (see ``record_seen``).
        if now - web_session.last_seen_at > SEEN_EVERY:
            self.session.info.setdefault(_SESSIONS_SEEN, set()).add(web_session.id)
        return Principal.of(user), web_session.csrf_token

    async def sign_out(self, token: str) -> str | None:
        """End the session; return ProConnect's id_token if the session came from it."""
        ended = await self.accounts.end_web_session(token_hash(token))
        return ended.provider_id_token if ended else None

    async def token_principal(self, token: str) -> Principal | None:
        """The agent an API token acts for (a partner's token acts for nobody: None)."""
        found = await self._token(token)
        if found is None or found[1] is None:
            return None
        return Principal.of(found[1])

    async def token_partner(self, token: str) -> str | None:
        """The partner a partner's API token stands for (its callbacks), or None."""
        found = await self._token(token)
        return found[0].partner if found is not None else None

    async def _token(self, token: str) -> tuple[ApiToken, User | None] | None:
        now = utcnow()
        found = await self.accounts.api_token(token_hash(token), now)
        if found is not None:
            used = found[0]
            # Its last use, to the minute, written after the request by ``record_token_use``
            # in a transaction of its own: the request never holds a lock for it.
            if used.last_used_at is None or now - used.last_used_at > TOKEN_USE_EVERY:
                self.session.info.setdefault(_TOKENS_USED, set()).add(used.id)
        return found

    async def create_api_token(self, user: User, label: str) -> str:
        token = new_token()
        self.accounts.add(ApiToken(token_hash=token_hash(token), user_id=user.id, label=label))
        return token

    async def invite(self, user: User) -> str:
        """A one-time link token for the user to choose their password."""
        token = new_token()
        self.accounts.add(
            Invitation(
                token_hash=token_hash(token),
                user_id=user.id,
                expires_at=utcnow() + timedelta(days=self.settings.invitation_days),
            )
        )
        return token

    async def accept_invitation(self, token: str, password: str) -> SignedIn:
        found = await self.accounts.invitation(token_hash(token), utcnow())
        if found is None:
            raise InvalidReference("Ce lien n'est plus valable : demandez-en un nouveau.")
        invitation, user = found
        problem = password_problem(password, email=user.email)
        if problem:
            raise InvalidReference(problem)
        if not user.active:
            raise InvalidReference(ACCOUNT_DEACTIVATED)
        invitation.used_at = utcnow()
        user.password_hash = hash_password(password)
        await self.accounts.end_user_sessions(user.id)
        return await self.open_session(user)

    async def request_password_reset(self, email: str) -> tuple[User, str] | None:
        """A one-time link (1 h) for an active account of this e-mail to choose a new password;
        None when there is no such account (the page says the same either way). Earlier reset
        links of the account stop working."""
        user = await self.accounts.user_by_email(email.strip())
        if user is None or not user.active:
            return None
        await AdminRepository(self.session).end_invitations(user.id, purpose=PASSWORD_RESET)
        token = new_token()
        self.accounts.add(
            Invitation(
                token_hash=token_hash(token),
                user_id=user.id,
                purpose=PASSWORD_RESET,
                expires_at=utcnow() + timedelta(hours=PASSWORD_RESET_HOURS),
            )
        )
        await self.session.flush()
        link = f"{self.settings.public_app_url.rstrip('/')}/activation/{token}"
        await enqueue(self.session, password_reset_mail(user, link))
        return user, link

    async def create_user(
        self,
        *,
        email: str,
        full_name: str,
        role: Role,
        territory: str,
        structure_id: str | None = None,
        beneficiary_id: str | None = None,
        password: str | None = None,
    ) -> User:
        if await self.accounts.user_by_email(email):
            raise InvalidReference("Un compte existe déjà avec cette adresse électronique.")
        user = User(
            email=email,
            full_name=full_name,
            role=role.value,
            territory=territory,
            structure_id=structure_id,
            beneficiary_id=beneficiary_id,
            password_hash=hash_password(password) if password else None,
        )
        self.accounts.add(user)
        await self.session.flush()
        return user


# --- The administration console ---


async def create_first_admin(
    session: AsyncSession, settings: Settings, *, email: str, full_name: str, territory: str
) -> tuple[User, str]:
    """The very first administrator of a département (``parcours admin create-admin``), with
    a one-time link to choose their password; refused once the département has one (the next
    ones are invited from the console), or for a code that is no département. The département
    is hosted from then on (its people can be enrolled, its CAF lines apply). The caller
    commits."""
    territory = (await TerritoryService(session).activate(territory)).code
    admin_repo = AdminRepository(session)
    if await admin_repo.admins(territory):
        raise Conflict(
            f"Le département {territory} a déjà un administrateur : il invite les suivants "
            "depuis la console d'administration."
        )
    accounts = AccountService(session, settings)
    user = await accounts.create_user(
        email=email, full_name=full_name, role=Role.ADMIN, territory=territory
    )
    token = new_token()
    accounts.accounts.add(
        Invitation(
            token_hash=token_hash(token),
            user_id=user.id,
            purpose="activation",
            expires_at=utcnow() + timedelta(hours=INVITATION_HOURS),
        )
    )
    log_admin(session, Principal.of(user), f"user:{user.id}", "update", "admin.create_admin")
    link = f"{settings.public_app_url.rstrip('/')}/activation/{token}"
    await enqueue(session, activation_mail(user, link, INVITATION_HOURS))
    await session.flush()
    return user, link


ADMINS_ONLY = "Cette page est réservée aux administrateurs du département."
INVITATION_HOURS = 72
# The data·inclusion networks a structure belongs to, and the kind they make it.
NETWORK_KINDS = {
    "france-travail": "france_travail",
    "cap-emploi-reseau-cheops": "cap_emploi",
    "mission-locale": "mission_locale",
    "plie": "plie",
    "ccas": "ccas",
}


def ensure_admin(principal: Principal) -> Principal:
    if principal.role is not Role.ADMIN:
        raise Forbidden(ADMINS_ONLY)
    return principal


class AdminService:
    """A département's administrator sets it up alone: its structures, its agents (invited by
    e-mail, their role changed, deactivated), the API tokens of its partners and scripts.
    Every action goes to the access log, with what it was about."""

    def __init__(self, session: AsyncSession, settings: Settings, principal: Principal) -> None:
        self.session = session
        self.settings = settings
        self.principal = ensure_admin(principal)
        self.territory = principal.territory
        self.accounts = AccountRepository(session)
        self.admin = AdminRepository(session)

    def _logged(self, subject: str, what: str) -> None:
        log_admin(self.session, self.principal, subject, "update", what)

    # --- Structures ---

    async def structures(self) -> list[StructureRead]:
        counts = await self.admin.active_agents_by_structure(self.territory)
        return [
            structure_read(s, counts.get(s.id, 0))
            for s in await self.admin.structures(self.territory)
        ]

    async def _structure(self, structure_id: str) -> Structure:
        structure = await self.admin.structure(structure_id)
        if structure is None or structure.territory != self.territory:
            raise NotFound("Structure introuvable.")
        return structure

    async def create_structure(self, data: StructureCreate) -> StructureRead:
        structure = Structure(name=data.name, kind=data.kind, territory=self.territory)
        self.session.add(structure)
        await self.session.flush()
        self._logged(f"structure:{structure.id}", "admin.structure.create")
        return structure_read(structure, 0)

    async def update_structure(self, structure_id: str, data: StructureUpdate) -> StructureRead:
        structure = await self._structure(structure_id)
        if data.name is not None:
            structure.name = data.name
        if data.kind is not None:
            structure.kind = data.kind
        self._logged(f"structure:{structure.id}", "admin.structure.update")
        counts = await self.admin.active_agents_by_structure(self.territory)
        return structure_read(structure, counts.get(structure.id, 0))

    async def deactivate_structure(self, structure_id: str) -> StructureRead:
        """Refused while agents of the structure are active: they are named, to deactivate or
        move first."""
        structure = await self._structure(structure_id)
        agents = await self.admin.active_agents_of(structure.id)
        if agents:
            names = ", ".join(a.full_name for a in agents)
            raise Conflict(
                f"La structure a encore {len(agents)} agent(s) actif(s) : {names}. Désactivez-les "
                "ou rattachez-les à une autre structure d'abord."
            )
        structure.active = False
        self._logged(f"structure:{structure.id}", "admin.structure.deactivate")
        return structure_read(structure, 0)

    async def import_structures(self, filename: str, content: bytes) -> StructureImportReport:
        """The département's structures from a data·inclusion file of structures (JSON or
        CSV, as the resource base imports them): created, or updated in place by their
        source and id; rows of other départements or invalid are listed with the reason."""
        try:
            parsed = importer.parse_file(filename, content)
        except importer.UnreadableFile as error:
            raise InvalidReference(str(error)) from None
        if parsed.kind is not importer.FileKind.STRUCTURES:
            raise InvalidReference(
                "Ce fichier ne décrit pas des structures data·inclusion (colonnes attendues : "
                "id, source, nom, code_postal ou code_insee…)."
            )
        report = StructureImportReport()
        places = await geo.gazetteer(self.session)
        for row in parsed.rows:
            found = importer.validate_structure(row)
            if isinstance(found, Rejected):
                report.skipped[str(row.number)] = found.reason
                continue
            commune = places.commune(found.code_insee) or places.locate(
                found.code_postal, found.commune
            )
            where = commune.departement if commune else None
            if where != self.territory:
                report.skipped[str(row.number)] = (
                    f"structure d'un autre département ({where or 'inconnu'}) : non importée"
                )
                continue
            kind = next(
                (NETWORK_KINDS[n] for n in found.reseaux_porteurs or [] if n in NETWORK_KINDS),
                "autre",
            )
            existing = await self.admin.structure_from(self.territory, found.source, found.id)
            if existing is None:
                self.session.add(
                    Structure(
                        name=found.nom,
                        kind=kind,
                        territory=self.territory,
                        source=found.source,
                        source_id=found.id,
                    )
                )
                report.created += 1
            else:
                existing.name = found.nom
                report.updated += 1
        await self.session.flush()
        self._logged(f"import:{filename[:60]}", "admin.structure.import")
        return report

    # --- Agents ---

    async def agents(self) -> list[AgentRead]:
        users = await self.admin.agents(self.territory)
        structures = await self.admin.structures(self.territory)
        invited = await self.admin.pending_activations({u.id for u in users})
        by_id = {s.id: s for s in structures}
        return [agent_read(u, by_id.get(u.structure_id or ""), u.id in invited) for u in users]

    async def _agent(self, user_id: str) -> User:
        user = await self.accounts.user(user_id)
        if user is None or user.territory != self.territory or user.role == Role.BENEFICIARY:
            raise NotFound("Agent introuvable.")
        return user

    async def invite_agent(self, data: AgentInvite) -> AgentInvited:
        """An account for an agent of one of the département's structures, and a one-time
        link to choose their password (72 h, single use), e-mailed to them."""
        if await self.accounts.user_by_email(data.email) is not None:
            raise Conflict(
                "Un compte existe déjà avec cette adresse électronique : modifiez-le plutôt "
                "qu'inviter à nouveau."
            )
        structure = await self._structure(data.structure_id)
        if not structure.active:
            raise InvalidReference("Cette structure est désactivée : choisissez-en une autre.")
        user = await AccountService(self.session, self.settings).create_user(
            email=data.email,
            full_name=data.full_name,
            role=data.role,
            territory=self.territory,
            structure_id=structure.id,
        )
        token, expires_at = await self._invitation(user)
        await enqueue(self.session, activation_mail(user, self.link(token), INVITATION_HOURS))
        self._logged(f"user:{user.id}", "admin.agent.invite")
        return AgentInvited(
            agent=agent_read(user, structure, True), link=self.link(token), expires_at=expires_at
        )

    async def reinvite_agent(self, user_id: str) -> AgentInvited:
        """A new link for an agent whose link expired or was lost (the old ones stop)."""
        user = await self._agent(user_id)
        if not user.active:
            raise Conflict("Ce compte est désactivé : réactivez-le avant de l'inviter.")
        await self.admin.end_invitations(user.id)
        token, expires_at = await self._invitation(user)
        await enqueue(self.session, activation_mail(user, self.link(token), INVITATION_HOURS))
        structure = await self.admin.structure(user.structure_id) if user.structure_id else None
        self._logged(f"user:{user.id}", "admin.agent.reinvite")
        return AgentInvited(
            agent=agent_read(user, structure, True), link=self.link(token), expires_at=expires_at
        )

    async def _invitation(self, user: User) -> tuple[str, datetime]:
        token = new_token()
        expires_at = utcnow() + timedelta(hours=INVITATION_HOURS)
        self.accounts.add(
            Invitation(
                token_hash=token_hash(token),
                user_id=user.id,
                purpose="activation",
                created_by=self.principal.id,
                expires_at=expires_at,
            )
        )
        await self.session.flush()
        return token, expires_at

    def link(self, token: str) -> str:
        return f"{self.settings.public_app_url.rstrip('/')}/activation/{token}"

    async def update_agent(self, user_id: str, data: AgentUpdate) -> AgentRead:
        user = await self._agent(user_id)
        if user.id == self.principal.id and data.role not in (None, Role.ADMIN):
            raise Conflict("Vous ne pouvez pas retirer votre propre rôle d'administrateur.")
        if data.full_name is not None:
            user.full_name = data.full_name
        if data.role is not None:
            user.role = data.role.value
        if data.structure_id is not None:
            structure = await self._structure(data.structure_id)
            if not structure.active:
                raise InvalidReference("Cette structure est désactivée : choisissez-en une autre.")
            user.structure_id = structure.id
        if data.role is not None:
            # Sessions carry the role: the agent signs in again with the new one.
            await self.accounts.end_user_sessions(user.id)
        self._logged(f"user:{user.id}", "admin.agent.update")
        current = await self.admin.structure(user.structure_id) if user.structure_id else None
        invited = user.id in await self.admin.pending_activations({user.id})
        return agent_read(user, current, invited)

    async def deactivate_agent(self, user_id: str) -> AgentDeactivated:
        """At once: the agent's sessions end and their API tokens are revoked; the journeys
        they followed are listed, for a manager to give them to someone else."""
        user = await self._agent(user_id)
        if user.id == self.principal.id:
            raise Conflict("Vous ne pouvez pas désactiver votre propre compte.")
        user.active = False
        sessions = await self.admin.end_sessions(user.id)
        tokens = await self.admin.revoke_tokens_of(user.id, utcnow())
        await self.admin.end_invitations(user.id)
        followed = await self.admin.journeys_followed_by(user.id)
        self._logged(f"user:{user.id}", "admin.agent.deactivate")
        structure = await self.admin.structure(user.structure_id) if user.structure_id else None
        return AgentDeactivated(
            agent=agent_read(user, structure, False),
            sessions_ended=sessions,
            tokens_revoked=tokens,
            journeys_to_reassign=[
                PersonRef(id=i, label=person_name(first, last)) for i, first, last in followed
            ],
        )

    async def reactivate_agent(self, user_id: str) -> AgentRead:
        user = await self._agent(user_id)
        user.active = True
        self._logged(f"user:{user.id}", "admin.agent.reactivate")
        structure = await self.admin.structure(user.structure_id) if user.structure_id else None
        return agent_read(user, structure, user.password_hash is None)

    # --- API tokens ---

    async def tokens(self) -> list[TokenRead]:
        return [
            token_read(t, user, utcnow())
            for t, user in await self.admin.tokens(self.territory, self.principal.id)
        ]

    async def create_token(self, data: TokenCreate) -> TokenCreated:
        """A token for a partner (its callbacks only) or an agent (acting with the agent's
        role, in the agent's département). Shown once; only its hash is kept."""
        if (data.partner is None) == (data.agent_id is None):
            raise InvalidReference(
                "Un jeton est soit pour un partenaire, soit pour un agent : choisissez l'un des "
                "deux."
            )
        user = await self._agent(data.agent_id) if data.agent_id else None
        if user is not None and not user.active:
            raise InvalidReference("Cet agent est désactivé : pas de jeton pour lui.")
        expires_at = None
        if data.expires_on is not None:
            if data.expires_on <= utcnow().date():
                raise InvalidReference("La date d'expiration doit être dans le futur.")
            expires_at = datetime.combine(data.expires_on, time(), tzinfo=UTC)
        secret = new_token()
        token = ApiToken(
            token_hash=token_hash(secret),
            user_id=user.id if user else None,
            partner=data.partner,
            label=data.label,
            created_by=self.principal.id,
            expires_at=expires_at,
        )
        self.accounts.add(token)
        await self.session.flush()
        self._logged(f"token:{token.id}", "admin.token.create")
        return TokenCreated(token=token_read(token, user, utcnow()), secret=secret)

    async def revoke_token(self, token_id: str) -> TokenRead:
        found = await self.admin.token(token_id, self.territory, self.principal.id)
        if found is None:
            raise NotFound("Jeton introuvable.")
        token, user = found
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        self._logged(f"token:{token.id}", "admin.token.revoke")
        return token_read(token, user, utcnow())


def structure_read(structure: Structure, agents: int) -> StructureRead:
    return StructureRead(
        id=structure.id,
        name=structure.name,
        kind=structure.kind,
        kind_label=STRUCTURE_KINDS.get(structure.kind, structure.kind),
        territory=structure.territory,
        active=structure.active,
        agents=agents,
        source=structure.source,
    )


def agent_read(user: User, structure: Structure | None, invited: bool) -> AgentRead:
    role = Role(user.role)
    return AgentRead(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=role,
        role_label=ROLE_LABELS[role],
        structure=PersonRef(id=structure.id, label=structure.name) if structure else None,
        territory=user.territory,
        active=user.active,
        invited=invited,
        created_at=user.created_at,
    )


def token_read(token: ApiToken, user: User | None, now: datetime) -> TokenRead:
    if token.partner:
        scope = f"Partenaire : {TOKEN_PARTNERS.get(token.partner, token.partner)}"
    elif user is not None:
        scope = f"Agent : {user.full_name} ({ROLE_LABELS[Role(user.role)]}, {user.territory})"
    else:
        scope = "Agent supprimé"
    expired = token.expires_at is not None and token.expires_at <= now
    return TokenRead(
        id=token.id,
        label=token.label,
        scope=scope,
        partner=token.partner,
        agent=PersonRef(id=user.id, label=user.full_name) if user else None,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        active=token.revoked_at is None and not expired and (user is None or user.active),
    )
