"""Managers act on stalled journeys, and everyone gets what is addressed to them.

- Reassigning goes through the journey's workflow (``JourneyService.act``): the journey
  records it in its own timeline, and its search attributes follow.
- A reminder to the référent, an escalation to the structure, a note, a partner call retried:
  the workflow holds none of them; each is an intervention row (who, when, to whom, what),
  merged into the carnet's timeline, and written to the access log.
- "Retry now" asks Temporal to run the failing activity again at once (``ResetActivity``).
- The daily digest: for each manager, each chargé·e d'orientation and each structure's
  administrator, the people waiting for a référent, the journeys stalled since their previous
  digest (not for chargés d'orientation) and, for a département's managers and chargés
  d'orientation, the journeys handed off to it by another. Contents are ids and dates; names
  are read when a digest is shown (its e-mail names nobody among the arrivals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetActivityRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from parcours.access.access_log import unusual_access
from parcours.access.models import Structure, User
from parcours.access.repository import PeopleRepository, log_access
from parcours.access.rules import Principal, Role, can_read, day_fr, ensure_read
from parcours.core.db import utcnow
from parcours.core.errors import (
    Conflict,
    Forbidden,
    InvalidReference,
    NotFound,
    Unavailable,
)
from parcours.core.schemas import PersonRef, person_name
from parcours.core.settings import Settings
from parcours.core.temporal import engine_down
from parcours.inbox.service import InboxProducer
from parcours.journey.messages import ReassignReferentInput, Step
from parcours.journey.models import JourneyRecord
from parcours.journey.repository import JourneyRepository
from parcours.journey.schemas import STEP_LABELS
from parcours.journey.service import JourneyService
from parcours.management.models import Digest, JourneyIntervention, PartnerIncident
from parcours.management.repository import (
    DigestRepository,
    IncidentRepository,
    InterventionRepository,
    StalledRepository,
    StalledRow,
)
from parcours.management.schemas import (
    CAUSE_LABELS,
    INTERVENTION_LABELS,
    PARTNER_CALL_LABELS,
    PARTNER_LABELS,
    BulkRefusal,
    BulkResult,
    DigestLine,
    DigestRead,
    EscalationCreate,
    IncidentRead,
    InterventionKind,
    InterventionRead,
    ManagedJourneyRead,
    NoteCreate,
    ReassignmentCreate,
    ReminderCreate,
    RetryRead,
    StallCause,
    StalledCauseRead,
    StalledFilter,
    StalledJourneyRead,
    StalledPage,
    UnusualAccessLine,
)
from parcours.territories.repository import TerritoryRepository

NO_REFERENT = "Ce parcours n'a pas encore de référent : réaffectez-le d'abord."
NO_STRUCTURE = "Ce parcours n'est suivi par aucune structure : réaffectez-le d'abord."
RETRIED = "Nouvel essai lancé : l'appel au partenaire est refait maintenant."
GONE = (
    "Cet appel n'est plus en attente (il a abouti ou le parcours a renoncé) : l'incident est clos."
)
# How many lines of each kind a digest lists (the totals say how many there are).
DIGEST_LINES = 100


class ManagementService:
    def __init__(
        self, session: AsyncSession, temporal: Client, settings: Settings, principal: Principal
    ) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.principal = principal
        self.journeys = JourneyService(session, temporal, settings)
        self.people = PeopleRepository(session)
        self.interventions = InterventionRepository(session)
        self.incidents = IncidentRepository(session)

    # --- Access ---

    async def journey_in_scope(self, beneficiary_id: str) -> JourneyRecord:
        """A journey the manager may act on (their territory), else "introuvable"."""
        ensure_manager(self.principal)
        return ensure_read(self.principal, await self.journeys.journeys.get(beneficiary_id))

    async def journey_view(self, beneficiary_id: str) -> ManagedJourneyRead:
        """The journey, its people and why it is stalled (if it is), for its manager."""
        journey = await self.journey_in_scope(beneficiary_id)
        person = await self.journeys.people.beneficiary(beneficiary_id)
        assert person is not None
        referent = await self.people.user(journey.referent_id) if journey.referent_id else None
        structure = (
            await self.people.structure(journey.structure_id) if journey.structure_id else None
        )
        stalled = await StalledService(self.session, self.settings).of_journey(beneficiary_id)
        return ManagedJourneyRead(
            person=PersonRef(id=person.id, label=person_name(person.first_name, person.last_name)),
            step_label=STEP_LABELS[Step(journey.step)],
            paused=journey.paused,
            workflow_id=journey.workflow_id,
            referent=PersonRef(id=referent.id, label=referent.full_name) if referent else None,
            structure=PersonRef(id=structure.id, label=structure.name) if structure else None,
            stalled=stalled,
        )

    async def stalled_page(self, f: StalledFilter, *, limit: int, offset: int) -> StalledPage:
        return await StalledService(self.session, self.settings).page(
            f, self.principal, limit=limit, offset=offset
        )

    async def reassignment_choices(self) -> tuple[list[PersonRef], list[PersonRef]]:
        """The référents and structures of the manager's territory."""
        territory = self.principal.territory
        referents = await self.people.referents(territory)
        structures = await self.people.all_structures(territory)
        return (
            [PersonRef(id=u.id, label=u.full_name) for u in referents],
            [PersonRef(id=s.id, label=s.name) for s in structures],
        )

    def _logged(self, beneficiary_id: str, what: str) -> None:
        log_access(self.session, self.principal, beneficiary_id, "update", what)

    async def _names(self, ids: Sequence[str]) -> dict[str, str]:
        """Names of the people among ``ids`` the manager may see."""
        found = await StalledRepository(self.session).journeys_with_people(ids)
        return {
            i: person_name(person.first_name, person.last_name)
            for i, (journey, person) in found.items()
            if can_read(self.principal, journey)
        }

    # --- Actions ---

    async def reassign(self, data: ReassignmentCreate) -> BulkResult:
        """Each journey's workflow takes the new référent (and structure) in turn; one refusal
        does not stop the others."""
        ensure_manager(self.principal)
        referent = await self.people.user(data.referent_id)
        if (
            referent is None
            or referent.role != Role.REFERENT
            or not referent.active
            or referent.territory != self.principal.territory
        ):
            raise InvalidReference("Référent inconnu dans votre département.")
        structure_id = data.structure_id or referent.structure_id
        if structure_id:
            structure = await self.people.structure(structure_id)
            if structure is None or structure.territory != self.principal.territory:
                raise InvalidReference("Structure inconnue dans votre département.")
        action = ReassignReferentInput(referent_id=referent.id, structure_id=structure_id)
        done: list[str] = []
        refused: list[tuple[str, str]] = []
        # Nothing is flushed while the journeys work: their activity writes the same database
        # (SQLite has one writer); the access-log rows are written at the end.
        with self.session.no_autoflush:
            for beneficiary_id in dict.fromkeys(data.beneficiary_ids):
                try:
                    await self.journeys.act(beneficiary_id, action, self.principal)
                    done.append(beneficiary_id)
                except Unavailable as down:
                    refused.append((beneficiary_id, down.message))
                except (NotFound, Conflict, Forbidden) as error:
                    refused.append((beneficiary_id, error.message))
        return await self._bulk(done, refused)

    async def remind(self, data: ReminderCreate) -> BulkResult:
        async def one(journey: JourneyRecord) -> None:
            if journey.referent_id is None:
                raise Conflict(NO_REFERENT)
            intervention = self._intervene(
                journey,
                InterventionKind.REMINDER,
                target_user_id=journey.referent_id,
                body=(data.message or "").strip() or None,
            )
            await self._notify(intervention, journey)

        return await self._each(data.beneficiary_ids, one)

    async def escalate(self, data: EscalationCreate) -> BulkResult:
        async def one(journey: JourneyRecord) -> None:
            if journey.structure_id is None:
                raise Conflict(NO_STRUCTURE)
            intervention = self._intervene(
                journey,
                InterventionKind.ESCALATION,
                target_structure_id=journey.structure_id,
                body=data.reason,
            )
            await self._notify(intervention, journey)

        return await self._each(data.beneficiary_ids, one)

    async def add_note(self, beneficiary_id: str, data: NoteCreate) -> InterventionRead:
        journey = await self.journey_in_scope(beneficiary_id)
        if journey.step == Step.CLOSED:
            raise Conflict("Le parcours est clôturé.")
        intervention = self._intervene(journey, InterventionKind.NOTE, body=data.body)
        (read,) = await interventions_read(self.people, [intervention])
        return read

    def _intervene(
        self, journey: JourneyRecord, kind: InterventionKind, **fields: Any
    ) -> JourneyIntervention:
        intervention = JourneyIntervention(
            beneficiary_id=journey.beneficiary_id,
            kind=kind.value,
            actor_id=self.principal.id,
            created_at=utcnow(),
            **fields,
        )
        self.interventions.add(intervention)
        self._logged(journey.beneficiary_id, f"management.{kind.value}")
        return intervention

    async def _notify(self, intervention: JourneyIntervention, journey: JourneyRecord) -> None:
        """A relance or an escalation reaches its agents' inboxes (and their e-mail)."""
        await self.session.flush()
        await InboxProducer(self.session, self.settings.public_app_url).on_intervention(
            intervention, journey.journey_id, journey.step
        )

    async def _each(self, ids: Sequence[str], act: Any) -> BulkResult:
        ensure_manager(self.principal)
        done: list[str] = []
        refused: list[tuple[str, str]] = []
        for beneficiary_id in dict.fromkeys(ids):
            try:
                journey = await self.journey_in_scope(beneficiary_id)
                if journey.step == Step.CLOSED:
                    raise Conflict("Le parcours est clôturé.")
                await act(journey)
                done.append(beneficiary_id)
            except (NotFound, Conflict) as error:
                refused.append((beneficiary_id, error.message))
        return await self._bulk(done, refused)

    async def _bulk(self, done: list[str], refused: list[tuple[str, str]]) -> BulkResult:
        names = await self._names([i for i, _ in refused])
        return BulkResult(
            done=done,
            refused=[
                BulkRefusal(beneficiary_id=i, full_name=names.get(i), reason=reason)
                for i, reason in refused
            ],
        )

    async def retry(self, incident_id: int) -> RetryRead:
        """Run the failing partner call again now, rather than at its next retry."""
        ensure_manager(self.principal)
        incident = await self.incidents.get(incident_id)
        journey = (
            await self.journeys.journeys.get(incident.beneficiary_id)
            if incident is not None and incident.beneficiary_id
            else None
        )
        if incident is None or journey is None or not can_read(self.principal, journey):
            raise NotFound("Incident introuvable.")
        try:
            await self.temporal.workflow_service.reset_activity(
                ResetActivityRequest(
                    namespace=self.temporal.namespace,
                    execution=WorkflowExecution(
                        workflow_id=incident.workflow_id, run_id=incident.run_id
                    ),
                    id=incident.activity_id,
                    identity=f"parcours:{self.principal.id}",
                )
            )
        except RPCError as error:
            if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise engine_down(error, "activity reset failed", incident=incident.id) from error
            await self.incidents.close(incident.id)
            return RetryRead(incident_id=incident_id, outcome="gone", message=GONE)
        self._intervene(journey, InterventionKind.RETRY, body=None)
        return RetryRead(incident_id=incident_id, outcome="retried", message=RETRIED)

    # --- Reading ---

    async def interventions_of(self, beneficiary_id: str) -> list[InterventionRead]:
        await self.journey_in_scope(beneficiary_id)
        log_access(self.session, self.principal, beneficiary_id, "read", "management.interventions")
        return await interventions_read(
            self.people, await self.interventions.of_journey(beneficiary_id)
        )

    async def incidents_of(self, beneficiary_id: str) -> list[IncidentRead]:
        await self.journey_in_scope(beneficiary_id)
        found = await self.incidents.of_people([beneficiary_id])
        return [incident_read(i, self.settings) for i in found.get(beneficiary_id, [])]

    async def addressed_to_me(self, days: int = 30) -> list[InterventionRead]:
        """Reminders to me, escalations to my structure (for its administrators)."""
        structure_id = self.principal.structure_id if self.principal.role is Role.ADMIN else None
        found = await self.interventions.addressed_to(
            self.principal.id, structure_id, utcnow() - timedelta(days=days)
        )
        people = await StalledRepository(self.session).journeys_with_people(
            sorted({i.beneficiary_id for i in found})
        )
        return [
            read.model_copy(
                update={
                    "full_name": person_name(
                        people[read.beneficiary_id][1].first_name,
                        people[read.beneficiary_id][1].last_name,
                    )
                    if read.beneficiary_id in people
                    else None
                }
            )
            for read in await interventions_read(self.people, found)
        ]

    async def my_digests(self, limit: int = 7) -> list[DigestRead]:
        digests = await DigestRepository(self.session).of_recipient(self.principal.id, limit)
        return [await digest_read(self.session, d) for d in digests]


# --- The daily digest ---


@dataclass(frozen=True)
class DigestScope:
    territory: str
    structure_id: str | None
    # Stalled journeys are the managers' (and a structure's administrators') to deal with.
    stalled: bool = True


def scope_of(recipient: User) -> DigestScope:
    """A manager's or a chargé·e d'orientation's digest covers their territory (arrivals
    from other départements included); an administrator's, their structure."""
    if recipient.role == Role.ADMIN:
        return DigestScope(recipient.territory, recipient.structure_id)
    return DigestScope(recipient.territory, None, stalled=recipient.role != Role.ORIENTATION)


class DigestService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.digests = DigestRepository(session)
        self.stalled = StalledRepository(session)

    async def recipients(self) -> list[str]:
        return [u.id for u in await self.digests.recipients()]

    async def compose(self, recipient_id: str, as_of: datetime) -> bool:
        """Write the recipient's digest of ``as_of``'s day, once (False: already there)."""
        day = as_of.date()
        recipient = await PeopleRepository(self.session).user(recipient_id)
        if recipient is None or await self.digests.on(recipient_id, day) is not None:
            return False
        previous = await self.digests.last_before(recipient_id, day)
        covers_from = previous.created_at if previous else as_of - timedelta(days=1)
        scope = scope_of(recipient)
        waiting, waiting_total = await self.stalled.waiting_for_referent(
            before=as_of - timedelta(days=self.settings.digest_waiting_days),
            territory=scope.territory,
            structure_id=scope.structure_id,
            limit=DIGEST_LINES,
        )
        content: dict[str, Any] = {
            "waiting": [
                {"beneficiary_id": j.beneficiary_id, "since": j.started_at.isoformat()}
                for j in waiting
            ],
            "waiting_total": waiting_total,
        }
        if scope.stalled:
            stalled, stalled_total, _ = await self.stalled.page(
                StalledFilter(
                    territory=scope.territory,
                    structure_id=scope.structure_id,
                    stalled_after=covers_from,
                ),
                now=as_of,
                inactive_days=self.settings.stalled_inactive_days,
                limit=DIGEST_LINES,
            )
            content["newly_stalled"] = [
                {
                    "beneficiary_id": row.beneficiary_id,
                    "since": row.since.isoformat(),
                    "causes": [c.value for c in row.causes],
                }
                for row in stalled
            ]
            content["newly_stalled_total"] = stalled_total
        if scope.structure_id is None:
            # A journey handed off arrives in the département, not yet in a structure.
            arrivals, arrivals_total = await JourneyRepository(self.session).arrivals(
                scope.territory, covers_from, as_of, limit=DIGEST_LINES
            )
            content["arrivals"] = [
                {
                    "beneficiary_id": a.beneficiary_id,
                    "since": a.handed_off_at.isoformat(),
                    "from_territory": a.from_territory,
                }
                for a in arrivals
            ]
            content["arrivals_total"] = arrivals_total
        if scope.stalled and scope.structure_id is None:
            # A manager's: the agents who read many carnets outside their list the day before
            # (ids and counts only; names are read when the digest is shown).
            yesterday = (as_of.astimezone(PARIS) - timedelta(days=1)).date()
            threshold = self.settings.unusual_access_reads
            found = await unusual_access(self.session, scope.territory, yesterday, threshold)
            content["unusual_access"] = {
                "day": yesterday.isoformat(),
                "threshold": threshold,
                "agents": [{"user_id": r.user_id, "outside": r.outside} for r in found],
            }
        escalations = (
            await InterventionRepository(self.session).escalations_to(
                scope.structure_id, covers_from, as_of
            )
            if scope.structure_id
            else []
        )
        self.digests.add(
            Digest(
                recipient_id=recipient_id,
                day=day,
                covers_from=covers_from,
                created_at=as_of,
                content={
                    **content,
                    "escalations": [
                        {"intervention_id": e.id, "beneficiary_id": e.beneficiary_id}
                        for e in escalations
                    ],
                },
            )
        )
        return True


async def digest_read(session: AsyncSession, digest: Digest) -> DigestRead:
    """A digest with the people's names as they are now (an erased person shows as such)."""
    content = digest.content
    ids = {
        line["beneficiary_id"]
        for kind in ("waiting", "newly_stalled", "escalations", "arrivals")
        for line in content.get(kind, [])
    }
    found = await StalledRepository(session).journeys_with_people(sorted(ids))
    names = {i: person_name(p.first_name, p.last_name) for i, (_, p) in found.items()}
    departements = await TerritoryRepository(session).by_codes(
        line["from_territory"] for line in content.get("arrivals", [])
    )

    def came_from(code: str) -> str:
        departement = departements.get(code)
        return f"Arrivé du département {code}" + (f" ({departement.name})" if departement else "")

    now = digest.created_at
    escalations = {
        e.id: e
        for e in await InterventionRepository(session).of_ids(
            [line["intervention_id"] for line in content.get("escalations", [])]
        )
    }
    unusual = content.get("unusual_access") or {}
    authors = await PeopleRepository(session).users(
        {e.actor_id for e in escalations.values() if e.actor_id}
        | {a["user_id"] for a in unusual.get("agents", [])}
    )

    def line(item: dict[str, Any], detail: str) -> DigestLine:
        since = datetime.fromisoformat(item["since"])
        return DigestLine(
            beneficiary_id=item["beneficiary_id"],
            full_name=names.get(item["beneficiary_id"], "Personne inconnue"),
            since=since,
            days=overdue_days(since, now),
            detail=detail,
        )

    def escalation(item: dict[str, Any]) -> DigestLine | None:
        found = escalations.get(item["intervention_id"])
        if found is None:
            return None
        author = authors.get(found.actor_id) if found.actor_id else None
        by = f"Signalé par {author.full_name}" if author else "Signalé"
        return DigestLine(
            beneficiary_id=found.beneficiary_id,
            full_name=names.get(found.beneficiary_id, "Personne inconnue"),
            since=found.created_at,
            days=overdue_days(found.created_at, now),
            detail=f"{by} : {found.body}" if found.body else by,
        )

    return DigestRead(
        id=digest.id,
        day=digest.day,
        covers_from=digest.covers_from,
        created_at=digest.created_at,
        sent_at=digest.sent_at,
        send_error=digest.send_error,
        waiting=[line(i, "En attente d'un référent") for i in content.get("waiting", [])],
        waiting_total=int(content.get("waiting_total", 0)),
        newly_stalled=[
            line(i, ", ".join(CAUSE_LABELS[StallCause(c)] for c in i["causes"]))
            for i in content.get("newly_stalled", [])
        ],
        newly_stalled_total=int(content.get("newly_stalled_total", 0)),
        covers_stalled="newly_stalled" in content,
        escalations=[
            e for e in (escalation(i) for i in content.get("escalations", [])) if e is not None
        ],
        arrivals=[line(i, came_from(i["from_territory"])) for i in content.get("arrivals", [])],
        arrivals_total=int(content.get("arrivals_total", 0)),
        unusual_day=date.fromisoformat(unusual["day"]) if unusual else None,
        unusual_threshold=int(unusual.get("threshold", 0)),
        unusual_access=[
            UnusualAccessLine(
                agent_id=a["user_id"],
                agent_name=agent.full_name if (agent := authors.get(a["user_id"])) else "Agent",
                outside=int(a["outside"]),
                search=access_log_search(a["user_id"], date.fromisoformat(unusual["day"])),
            )
            for a in unusual.get("agents", [])
        ],
    )


def access_log_search(agent_id: str, day: date) -> str:
    """The access log's search of one agent's day (the administrator's or DPO's page)."""
    query = urlencode({"agent_id": agent_id, "du": day.isoformat(), "au": day.isoformat()})
    return f"/admin/journal-des-acces?{query}"


def digest_text(
    digest: DigestRead, recipient: User, app_url: str, waiting_days: int
) -> tuple[str, str]:
    """The digest as an e-mail: subject and plain-text body, in French. Counts, what is late
    and links only: no personal data about the people followed (whose journey it is shows on
    the page the link opens, after sign-in)."""
    day = digest.day.strftime("%d/%m/%Y")
    counts = [f"{digest.waiting_total} en attente d'un référent"]
    if digest.covers_stalled:
        counts.append(f"{digest.newly_stalled_total} parcours nouvellement bloqués")
    if digest.arrivals_total:
        counts.append(f"{digest.arrivals_total} arrivé(s) d'un autre département")
    if digest.unusual_access:
        counts.append(f"{len(digest.unusual_access)} accès inhabituel(s)")
    subject = f"Parcours — résumé du {day} : " + ", ".join(counts)
    base = app_url.rstrip("/")
    # Managers open a journey in their console; chargés d'orientation, in its carnet.
    journeys = "/parcours" if recipient.role == Role.ORIENTATION else "/gestion/parcours"
    lines = [f"Bonjour {recipient.full_name},", ""]

    def section(title: str, items: list[DigestLine], total: int, since_word: str) -> None:
        lines.append(f"{title} ({total})")
        if not items:
            lines.append("  Aucun.")
        for item in items:
            lines.append(
                f"  - {item.detail}, {since_word} le {day_fr(item.since)} "
                f"({item.days} j) : {base}{journeys}/{item.beneficiary_id}"
            )
        if total > len(items):
            lines.append(f"  … et {total - len(items)} autres.")
        lines.append("")

    section(
        f"Personnes en attente d'un référent depuis plus de {waiting_days} jours",
        digest.waiting,
        digest.waiting_total,
        "inscrite",
    )
    if digest.arrivals_total:
        lines.append(f"Parcours arrivés d'un autre département ({digest.arrivals_total})")
        for item in digest.arrivals:
            lines.append(
                f"  - {item.detail}, le {day_fr(item.since)} : "
                f"{base}/parcours/{item.beneficiary_id}"
            )
        if digest.arrivals_total > len(digest.arrivals):
            lines.append(f"  … et {digest.arrivals_total - len(digest.arrivals)} autres.")
        lines.append("")
    if digest.covers_stalled:
        section(
            "Parcours bloqués depuis le résumé précédent",
            digest.newly_stalled,
            digest.newly_stalled_total,
            "depuis",
        )
    if digest.escalations:
        section("Signalements à votre structure", digest.escalations, len(digest.escalations), "le")
    if digest.unusual_access and digest.unusual_day:
        # Counts and links only, like the rest: no agent's name and no person's leaves by mail.
        lines.append(
            f"Accès inhabituels le {digest.unusual_day.strftime('%d/%m/%Y')} "
            f"({len(digest.unusual_access)} agent(s) ayant lu plus de "
            f"{digest.unusual_threshold} carnets hors de leur liste de suivi)"
        )
        for unusual in digest.unusual_access:
            lines.append(f"  - {unusual.outside} carnets : {base}{unusual.search}")
        lines.append(
            "  (journal des accès : l'administrateur·rice ou le ou la délégué·e à la protection "
            "des données du département)"
        )
        lines.append("")
    if digest.covers_stalled:
        lines.append(f"Tous les parcours bloqués : {base}/gestion/bloques")
    return subject, "\n".join(lines)


PARIS = ZoneInfo("Europe/Paris")


MANAGERS_ONLY = "Cette page est réservée aux responsables de territoire."


def ensure_manager(principal: Principal) -> None:
    if principal.role is not Role.MANAGER:
        raise Forbidden(MANAGERS_ONLY)


def manager_scope(principal: Principal) -> StalledFilter:
    """What a manager may see: the journeys of their territory."""
    ensure_manager(principal)
    return StalledFilter(managed_territory=principal.territory)


def overdue_days(since: datetime, now: datetime) -> int:
    return max(0, (now - since).days)


def temporal_url(settings: Settings, workflow_id: str) -> str:
    """The workflow in the Temporal UI (operators: its history, pending activities)."""
    base = settings.temporal_ui_url.rstrip("/")
    namespace = quote(settings.temporal_namespace, safe="")
    return f"{base}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"


def incident_read(incident: PartnerIncident, settings: Settings) -> IncidentRead:
    return IncidentRead(
        id=incident.id,
        beneficiary_id=incident.beneficiary_id,
        workflow_id=incident.workflow_id,
        run_id=incident.run_id,
        activity_type=incident.activity_type,
        call_label=PARTNER_CALL_LABELS.get(incident.activity_type, incident.activity_type),
        partner=incident.partner,
        partner_label=PARTNER_LABELS.get(incident.partner, incident.partner),
        attempts=incident.attempts,
        last_failure=incident.last_failure,
        since=incident.since,
        updated_at=incident.updated_at,
        temporal_url=temporal_url(settings, incident.workflow_id),
    )


def intervention_read(
    intervention: JourneyIntervention, users: dict[str, User], structures: dict[str, Structure]
) -> InterventionRead:
    def user_ref(user_id: str | None) -> PersonRef | None:
        user = users.get(user_id) if user_id else None
        return PersonRef(id=user.id, label=user.full_name) if user else None

    to = user_ref(intervention.target_user_id)
    if to is None and intervention.target_structure_id in structures:
        structure = structures[intervention.target_structure_id]
        to = PersonRef(id=structure.id, label=structure.name)
    kind = InterventionKind(intervention.kind)
    return InterventionRead(
        id=intervention.id,
        beneficiary_id=intervention.beneficiary_id,
        kind=kind,
        label=INTERVENTION_LABELS[kind],
        by=user_ref(intervention.actor_id),
        to=to,
        body=intervention.body,
        created_at=intervention.created_at,
    )


async def interventions_read(
    people: PeopleRepository, interventions: Sequence[JourneyIntervention]
) -> list[InterventionRead]:
    users = await people.users(
        {i for x in interventions for i in (x.actor_id, x.target_user_id) if i}
    )
    structures = await people.structures(
        {x.target_structure_id for x in interventions if x.target_structure_id}
    )
    return [intervention_read(i, users, structures) for i in interventions]


class StalledService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.stalled = StalledRepository(session)
        self.people = PeopleRepository(session)

    async def page(
        self,
        f: StalledFilter,
        principal: Principal | None = None,
        *,
        limit: int = 25,
        offset: int = 0,
        now: datetime | None = None,
    ) -> StalledPage:
        """``principal`` None: the platform itself (the digest), with the filter as given."""
        if principal is not None:
            f = replace(f, managed_territory=manager_scope(principal).managed_territory)
        now = now or datetime.now(UTC)
        rows, total, counts = await self.stalled.page(
            f,
            now=now,
            inactive_days=self.settings.stalled_inactive_days,
            limit=limit,
            offset=offset,
        )
        return StalledPage(
            items=await self.read(rows, now),
            total=total,
            counts=counts,
            limit=limit,
            offset=offset,
        )

    async def of_journey(
        self, beneficiary_id: str, now: datetime | None = None
    ) -> StalledJourneyRead | None:
        """One journey's causes (None when it is not stalled); the caller checked access."""
        now = now or datetime.now(UTC)
        row = await self.stalled.one(
            beneficiary_id, now=now, inactive_days=self.settings.stalled_inactive_days
        )
        return (await self.read([row], now))[0] if row else None

    async def read(self, rows: Sequence[StalledRow], now: datetime) -> list[StalledJourneyRead]:
        ids = [r.beneficiary_id for r in rows]
        if not ids:
            return []
        found = await self.stalled.journeys_with_people(ids)
        journeys = {i: j for i, (j, _) in found.items()}
        # Only a journey with the incident cause has incidents (none: no query).
        incidents = await IncidentRepository(self.session).of_people(
            [r.beneficiary_id for r in rows if StallCause.INCIDENT in r.causes]
        )
        latest = await InterventionRepository(self.session).latest_of(ids)
        users = await self.people.users(
            {
                i
                for i in (
                    *(j.referent_id for j in journeys.values()),
                    *(x.actor_id for x in latest.values()),
                    *(x.target_user_id for x in latest.values()),
                )
                if i
            }
        )
        structures = await self.people.structures(
            {
                s
                for s in (
                    *(j.structure_id for j in journeys.values()),
                    *(x.target_structure_id for x in latest.values()),
                )
                if s
            }
        )
        items = []
        for row in rows:
            journey, person = found[row.beneficiary_id]
            own = incidents.get(row.beneficiary_id, [])
            referent = users.get(journey.referent_id) if journey.referent_id else None
            structure = structures.get(journey.structure_id) if journey.structure_id else None
            step = Step(journey.step)
            items.append(
                StalledJourneyRead(
                    beneficiary_id=journey.beneficiary_id,
                    full_name=person_name(person.first_name, person.last_name),
                    birth_date=person.birth_date,
                    step=step,
                    step_label=STEP_LABELS[step],
                    territory=journey.territory,
                    referent=PersonRef(id=referent.id, label=referent.full_name)
                    if referent
                    else None,
                    structure=PersonRef(id=structure.id, label=structure.name)
                    if structure
                    else None,
                    since=row.since,
                    overdue_days=overdue_days(row.since, now),
                    causes=[
                        StalledCauseRead(
                            cause=cause,
                            label=CAUSE_LABELS[cause],
                            since=since,
                            overdue_days=overdue_days(since, now),
                            detail=self._detail(cause, journey, own),
                        )
                        for cause, since in sorted(row.causes.items(), key=lambda c: c[1])
                    ],
                    incidents=[incident_read(i, self.settings) for i in own],
                    last_intervention=intervention_read(
                        latest[row.beneficiary_id], users, structures
                    )
                    if row.beneficiary_id in latest
                    else None,
                )
            )
        return items

    def _detail(
        self, cause: StallCause, journey: JourneyRecord, incidents: list[PartnerIncident]
    ) -> str:
        match cause:
            case StallCause.DEADLINE:
                assert journey.deadline is not None
                return (
                    f"L'étape « {STEP_LABELS[Step(journey.step)]} » devait être franchie "
                    f"le {day_fr(journey.deadline)}."
                )
            case StallCause.INACTIVE:
                days = self.settings.stalled_inactive_days
                return (
                    f"Aucun événement du parcours depuis le {day_fr(journey.updated_at)}, "
                    f"ni changement du carnet depuis {days} jours."
                )
            case StallCause.REQUEST:
                return "Une demande à un financeur ou à une structure attend sa réponse."
            case StallCause.INCIDENT:
                return (
                    " ; ".join(
                        f"{PARTNER_CALL_LABELS.get(i.activity_type, i.activity_type)} "
                        f"({PARTNER_LABELS.get(i.partner, i.partner)}) : {i.attempts} essais en "
                        f"échec, dernier le {day_fr(i.updated_at)}"
                        for i in incidents
                    )
                    or "Un appel à un partenaire échoue."
                )
