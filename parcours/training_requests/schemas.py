"""What training requests are read and written as, in the API and the pages, from both sides
(the référent's, the funder's console), with their French labels."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from parcours.core.schemas import PersonRef, person_name
from parcours.training_requests.messages import TrainingStatus

STATUS_LABELS = {
    TrainingStatus.SUBMITTED: "En attente de décision",
    TrainingStatus.MORE_INFO_REQUESTED: "Informations demandées",
    TrainingStatus.APPROVED: "Accordée",
    TrainingStatus.REFUSED: "Refusée",
    TrainingStatus.IN_TRAINING: "En formation",
    TrainingStatus.ENDED: "Formation terminée",
    TrainingStatus.FAILED: "Non transmise",
    TrainingStatus.WITHDRAWN: "Retirée (parcours clôturé)",
}


MESSAGE_LABELS = {
    "request": "Message du référent avec la demande",
    "question": "Question du financeur",
    "answer": "Réponse du référent",
    "refusal": "Motif du refus",
}


# A funder's list, by how long ago the request was made (days).
AGE_FILTERS: dict[str, tuple[str, int | None, int | None]] = {
    "moins-7j": ("Moins de 7 jours", None, 7),
    "7-15j": ("De 7 à 15 jours", 7, 15),
    "plus-15j": ("Plus de 15 jours", 15, None),
}


class Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


# Euros and cents, up to 100,000: described as the number it is (pydantic would also offer
# any numeric-looking string, its bounds left out).
Amount = Annotated[
    Decimal,
    Field(ge=0, le=100_000, max_digits=10, decimal_places=2),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100_000, "multipleOf": 0.01}),
]


class TrainingRequestCreate(Form):
    beneficiary_id: str = Field(min_length=1, max_length=36)
    training_id: str = Field(min_length=1, max_length=36)
    requested_amount: Amount | None = None
    message: str | None = Field(default=None, max_length=2000)


class AnswerCreate(Form):
    answer: str = Field(min_length=1, max_length=5000)


class TrainingEndCreate(Form):
    ended_on: date | None = None
    completed: bool = True


class MoreInfoCreate(Form):
    question: str = Field(min_length=1, max_length=5000)


class ApprovalCreate(Form):
    start_date: date
    amount: Amount
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Le numéro de dossier chez le financeur : facultatif quand son système l'a "
        "déjà transmis à la réception de la demande.",
    )


class RefusalCreate(Form):
    reason: str = Field(min_length=1, max_length=5000)

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("un refus doit être motivé")
        return value


class TrainingSummary(BaseModel):
    id: str
    title: str
    organisation: str
    start_on: date
    end_on: date
    city: str | None
    weekly_hours: float | None


class RequestMessageRead(BaseModel):
    kind: str
    label: str
    body: str
    author: PersonRef | None
    at: datetime


class SharedFact(BaseModel):
    theme_label: str
    label: str
    value: str
    source_label: str


class SharedPerson(BaseModel):
    """What the funder sees of the person, who consented to share with it."""

    first_name: str
    last_name: str
    birth_date: date
    email: str | None
    phone: str | None
    postal_code: str | None
    city: str | None
    france_travail_id: str | None
    project: str | None
    facts: list[SharedFact]

    @property
    def full_name(self) -> str:
        return person_name(self.first_name, self.last_name)


class TrainingRequestRead(BaseModel):
    id: str
    beneficiary_id: str
    # The person's name: for their follow-up group, or for the funder when they consent.
    person: PersonRef | None
    training: TrainingSummary | None
    funder: str
    funder_label: str
    territory: str
    status: TrainingStatus
    status_label: str
    stalled: bool
    requested_amount: Decimal | None
    requested_at: datetime
    requested_by: PersonRef | None
    referent: PersonRef | None
    sent_at: datetime | None
    funder_reference: str | None
    deadline: datetime | None
    reminded_at: datetime | None
    stalled_since: datetime | None
    decided_at: datetime | None
    decision_source: str | None
    start_date: date | None
    approved_amount: Decimal | None
    started_at: datetime | None
    ended_on: date | None
    completed: bool | None
    failure: str | None
    plan_action_id: str | None
    messages: list[RequestMessageRead]


class FunderRequestRead(TrainingRequestRead):
    consented: bool
    shared: SharedPerson | None
    structure: PersonRef | None


class FunderRequestSummary(BaseModel):
    id: str
    person: PersonRef | None
    # With the name, when the person consented: two namesakes told apart.
    birth_date: date | None = None
    consented: bool
    training_title: str | None
    territory: str
    status: TrainingStatus
    status_label: str
    stalled: bool
    requested_at: datetime
    age_days: int
    deadline: datetime | None
    requested_amount: Decimal | None


class FunderRequestPage(BaseModel):
    funder: str
    funder_label: str
    items: list[FunderRequestSummary]
    total: int
    limit: int
    offset: int


class TrainingRequestPage(BaseModel):
    items: list[TrainingRequestRead]
    total: int
    limit: int
    offset: int
