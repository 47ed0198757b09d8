"""« Et maintenant ? »: what comes next on a journey, for the agent reading it (pure rule).

From the journey's state (step, pause, deadline, closure), the reader's role and rights, and
what the read model knows around it (who follows the person, the orientation team, a request
for a decision already made), it says: where the journey stands; what this reader can do now,
each with what follows from it; when the next move is someone else's, who makes it and by
when; and what the reader can do meanwhile. Pages and the JSON API show it as it is: no page
decides any of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from parcours.access.rules import ACTION_ROLES, Role, day_fr
from parcours.journey import rules
from parcours.journey.messages import JourneyState, Step
from parcours.journey.schemas import (
    ACTION_LABELS,
    ASK_ORIENTATION_DECISION,
    EXIT_LABELS,
    STEP_LABELS,
    NextMove,
    NextSteps,
)

# The actions that move each step forward (the others — pause, close, reassign… — do not).
STEP_MOVES: dict[Step, tuple[str, ...]] = {
    Step.INTAKE: ("begin_diagnosis",),
    Step.DIAGNOSIS: ("complete_diagnosis",),
    Step.ORIENTATION: ("decide_orientation",),
    Step.ACCOMPANIMENT: ("sign_contract", "record_employment"),
    Step.EMPLOYMENT: ("set_follow_up_consent",),
    Step.FOLLOW_UP: ("record_check_in",),
    Step.CLOSED: (),
}

# What follows each action, in one line.
EXPLANATIONS = {
    "begin_diagnosis": "Le parcours passe au diagnostic, que la référente ou le référent "
    "conduit puis valide.",
    "complete_diagnosis": "Le parcours passe à l'orientation : les chargé·es d'orientation du "
    "département décident ensuite.",
    "decide_orientation": "La personne entre en accompagnement avec la structure choisie ; un "
    "contrat d'engagement est attendu dans le mois.",
    "sign_contract": "Le contrat fixe la prochaine échéance de l'accompagnement (sa fin, ou sa "
    "revue).",
    "record_employment": "Le parcours passe à l'emploi ; la personne choisit ensuite d'être "
    "suivie ou non.",
    "set_follow_up_consent": "Oui : points de suivi aux mois 1, 3 et 6. Non : le parcours est "
    "clôturé (emploi, sans suivi).",
    "record_check_in": "Toujours en emploi : point suivant, ou fin du suivi après le dernier. "
    "Sinon : retour en accompagnement.",
    "report_job_loss": "Le parcours revient en accompagnement, avec un nouveau contrat à signer.",
    "pause": "Rien n'avance jusqu'à la reprise ; le délai de l'étape est prolongé d'autant.",
    "resume": "Le parcours reprend à son étape ; son échéance est reportée de la durée de la "
    "pause.",
    "reassign_referent": "Le nouveau référent ou la nouvelle référente suit la personne dès "
    "maintenant.",
    "hand_off": "Le département qui reçoit le parcours décide à nouveau de l'orientation.",
    "close": "Le parcours se termine avec son motif ; ses demandes encore sans réponse sont "
    "retirées.",
    ASK_ORIENTATION_DECISION: "La demande arrive dans la boîte « À traiter » des chargé·es "
    "d'orientation du département.",
}


@dataclass(frozen=True)
class Reader:
    """Who reads the journey: their role, and whether they may only read it (the former
    follow-up group after a hand-off)."""

    id: str
    role: Role
    read_only: bool = False


# Who decides a training request, as the subject of a sentence.
FUNDER_SUBJECTS = {"region": "La Région", "france_travail": "France Travail"}


@dataclass(frozen=True)
class Awaited:
    """A request of the journey waiting on a partner, outside its steps: a training request
    its funder instructs (or asked more information about), an orientation to a service its
    structure has to answer."""

    kind: Literal["training", "training_more_info", "service"]
    # The funder (``region``, ``france_travail``) or the structure's name.
    who: str
    # The training's title, or the service's name.
    what: str
    due: datetime | None = None


@dataclass(frozen=True)
class Around:
    """What the read model knows around the journey, by name."""

    referent: str | None = None
    # The département, as people say it: « 73 (Savoie) ».
    territory: str = ""
    # The département's chargé·es d'orientation, by name.
    orientation_team: tuple[str, ...] = ()
    # The last request for an orientation decision during this stay in the step.
    asked_at: datetime | None = None
    asked_by: str | None = None
    # The requests waiting on a partner.
    awaited: tuple[Awaited, ...] = ()


def next_steps(state: JourneyState, reader: Reader, around: Around, now: datetime) -> NextSteps:
    """What comes next on the journey, for ``reader``."""
    if state.step is Step.CLOSED:
        return _closed(state)
    if reader.read_only:
        return NextSteps(
            situation="Ce parcours a été transféré à un autre département : vous pouvez le "
            "lire, mais plus agir dessus.",
            others=[
                "Le département qui l'a reçu décide de son orientation et désigne qui "
                "accompagne la personne."
            ],
        )
    yours = _yours(state, reader, around, now)
    moves = set(STEP_MOVES[state.step])
    mine = any(m.action in moves for m in yours)
    others = [] if mine or state.paused else _who_acts(state, reader, around)
    if state.paused and not any(m.action == "resume" for m in yours):
        others.append(
            "Le ou la référente de la personne, ou un·e responsable du département, peut le "
            "reprendre."
        )
    others += [_awaited(a) for a in around.awaited]
    if state.stalled and state.deadline is not None:
        others.append(
            f"L'échéance du {day_fr(state.deadline)} est dépassée : le parcours figure parmi "
            "les « Parcours bloqués » des responsables du département."
        )
    request, requested_at = _request(state, reader, around, now)
    meanwhile = None if mine or state.paused else _meanwhile(state, reader)
    return NextSteps(
        situation=_situation(state),
        yours=yours,
        others=others,
        meanwhile=meanwhile,
        request=request,
        requested_at=requested_at,
    )


def _closed(state: JourneyState) -> NextSteps:
    reason = EXIT_LABELS[state.exit_reason] if state.exit_reason else None
    return NextSteps(
        situation=f"Le parcours est clôturé{f' ({reason})' if reason else ''} : aucune action "
        "n'est plus possible.",
        meanwhile="Si les droits au RSA de la personne s'ouvrent à nouveau (flux de la CAF), "
        "un nouveau parcours commence à l'accueil ; celui-ci reste lisible dans l'historique.",
    )


def _situation(state: JourneyState) -> str:
    step = STEP_LABELS[state.step]
    if state.paused:
        return f"Le parcours est en pause à l'étape « {step} » : rien n'avance jusqu'à sa reprise."
    due = f", échéance le {day_fr(state.deadline)}" if state.deadline else ""
    if state.step is Step.FOLLOW_UP and state.check_in_due is not None:
        return f"Suivi dans l'emploi : le point du mois {state.check_in_due} est attendu{due}."
    return f"Étape « {step} »{due}."


def _yours(state: JourneyState, reader: Reader, around: Around, now: datetime) -> list[NextMove]:
    allowed = [a for a in rules.available_actions(state) if reader.role in ACTION_ROLES[a]]
    moves = STEP_MOVES[state.step]
    # What moves the journey forward first, then the rest in the actions' order.
    ordered = [a for a in allowed if a in moves] + [a for a in allowed if a not in moves]
    yours = [
        NextMove(
            action=a,
            label=ACTION_LABELS[a],
            explanation=EXPLANATIONS[a],
            secondary=a not in moves and a != "resume",
        )
        for a in ordered
    ]
    if may_ask_decision(state, reader, around, now):
        # Right after the moves (none at this step for those who may ask), before the rest.
        first_secondary = next((i for i, m in enumerate(yours) if m.secondary), len(yours))
        yours.insert(
            first_secondary,
            NextMove(
                action=ASK_ORIENTATION_DECISION,
                label=ACTION_LABELS[ASK_ORIENTATION_DECISION],
                explanation=EXPLANATIONS[ASK_ORIENTATION_DECISION],
            ),
        )
    return yours


def may_ask_decision(state: JourneyState, reader: Reader, around: Around, now: datetime) -> bool:
    """Whether ``reader`` is offered to ask the orientation team for its decision now."""
    return (
        not reader.read_only
        and reader.role in ACTION_ROLES[ASK_ORIENTATION_DECISION]
        and rules.decision_request_refusal(state, around.asked_at, now) is None
    )


def _who_acts(state: JourneyState, reader: Reader, around: Around) -> list[str]:
    """Who makes the step's next move, and by when, when it is not the reader."""
    by = f", avant le {day_fr(state.deadline)}" if state.deadline else ""
    referent = _referent(around)
    match state.step:
        case Step.INTAKE | Step.DIAGNOSIS if state.referent_id is None:
            return [
                "Aucun·e référent·e n'est encore désigné·e : un·e chargé·e d'orientation ou un·e "
                "responsable du département en désigne un·e (« Changer de référent »)."
            ]
        case Step.INTAKE:
            return [f"{referent} commence le diagnostic{by}."]
        case Step.DIAGNOSIS:
            return [f"{referent} conduit puis valide le diagnostic{by}."]
        case Step.ORIENTATION:
            team, plural = _team(around)
            decides = "décident" if plural else "décide"
            return [
                f"{team} {decides} de l'orientation et de la structure qui accompagnera la "
                f"personne{by}."
            ]
        case Step.ACCOMPANIMENT:
            then = f" (prochaine échéance le {day_fr(state.deadline)})" if state.deadline else ""
            return [
                f"{referent} accompagne la personne : contrat d'engagement, plan d'action, puis "
                f"entrée en emploi{then}."
            ]
        case Step.EMPLOYMENT:
            return [
                "La personne choisit d'être suivie dans l'emploi ou non, depuis son espace ou "
                f"avec son ou sa référente{by}."
            ]
        case Step.FOLLOW_UP if state.check_in_due is not None:
            return [f"{referent} enregistre le point de suivi du mois {state.check_in_due}{by}."]
        case Step.FOLLOW_UP:
            when = f" ({day_fr(state.deadline)})" if state.deadline else ""
            who = (
                "vous le recueillerez"
                if state.referent_id == reader.id
                else "le ou la référente le recueille"
            )
            return [f"Le prochain point de suivi sera signalé à son échéance{when} ; {who} alors."]
    return []


def _awaited(a: Awaited) -> str:
    by = f" avant le {day_fr(a.due)}" if a.due else ""
    match a.kind:
        case "training":
            funder = FUNDER_SUBJECTS.get(a.who, a.who)
            answer = f", réponse attendue{by}" if by else ""
            return f"{funder} instruit la demande de formation « {a.what} »{answer}."
        case "training_more_info":
            funder = FUNDER_SUBJECTS.get(a.who, a.who)
            return (
                f"{funder} attend des informations sur la demande de formation « {a.what} » : "
                "le ou la référente les envoie depuis l'onglet « Contrat et plan d'action »."
            )
    return f"La structure « {a.who} » doit répondre à l'orientation vers « {a.what} »{by}."


def _meanwhile(state: JourneyState, reader: Reader) -> str | None:
    match reader.role:
        case Role.REFERENT:
            return (
                "En attendant, vous pouvez compléter le carnet (situation, diagnostic, notes, "
                "rendez-vous) et orienter la personne vers un service de la base de ressources."
            )
        case Role.ORIENTATION if state.step is not Step.ORIENTATION:
            return "Vous décidez de l'orientation quand le parcours arrive à cette étape."
        case Role.MANAGER:
            return (
                "Si le parcours prend du retard, vous pouvez relancer, réaffecter ou annoter "
                "depuis « Parcours bloqués »."
            )
    return None


def _request(
    state: JourneyState, reader: Reader, around: Around, now: datetime
) -> tuple[str | None, datetime | None]:
    """The request for an orientation decision made during this stay in the step, if any."""
    if state.step is not Step.ORIENTATION or around.asked_at is None:
        return None, None
    by = f" par {around.asked_by}" if around.asked_by else ""
    said = (
        f"Demande de décision d'orientation envoyée le {day_fr(around.asked_at)}{by} aux "
        "chargé·es d'orientation du département."
    )
    if reader.role is Role.ORIENTATION:
        return f"{said} Elle attend votre décision.", around.asked_at
    again = rules.asked_again_from(around.asked_at)
    if reader.role in ACTION_ROLES[ASK_ORIENTATION_DECISION] and not state.paused and now < again:
        said += (
            " Si l'orientation n'est pas décidée d'ici là, vous pourrez la redemander à partir "
            f"du {day_fr(again)}."
        )
    return said, around.asked_at


def _referent(around: Around) -> str:
    """The référent as the subject of a sentence."""
    if around.referent:
        return f"{around.referent}, référent·e de la personne,"
    return "Le ou la référente de la personne"


def _team(around: Around) -> tuple[str, bool]:
    """The département's chargé·es d'orientation as the subject of a sentence, by name when
    they are few, and whether it is plural."""
    where = f" du département {around.territory}" if around.territory else " du département"
    names = around.orientation_team
    if len(names) == 1:
        return f"{names[0]}, chargé·e d'orientation{where},", False
    if 1 < len(names) <= 3:
        return f"Les chargé·es d'orientation{where} ({', '.join(names)})", True
    return f"Les chargé·es d'orientation{where}", True
