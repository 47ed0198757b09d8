"""What the indicators and a journey's full story are read as (API, pages and CSV alike)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from parcours.carnet.schemas import CarnetTimelineEntry
from parcours.core.schemas import TERRITORY_PATTERN, PersonRef
from parcours.journey.messages import Step
from parcours.journey.schemas import JourneyRead

# Years of this century and the last: year 0 is no month of any journey (and no date).
MONTH_PATTERN = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"


class IndicatorFilter(BaseModel):
    """Which journeys: a territory (a manager's own), a structure, a range of months."""

    model_config = ConfigDict(str_strip_whitespace=True)

    territory: str | None = Field(default=None, pattern=TERRITORY_PATTERN)
    structure_id: str | None = Field(default=None, max_length=36)
    from_month: str | None = Field(default=None, pattern=MONTH_PATTERN, description="AAAA-MM")
    to_month: str | None = Field(default=None, pattern=MONTH_PATTERN, description="AAAA-MM")


class Rate(BaseModel):
    """``numerator`` out of ``denominator``; ``percent`` is None when nobody is counted."""

    label: str
    numerator: int
    denominator: int
    percent: float | None


class Figures(BaseModel):
    """The main figures of a period, a month or a structure. Each has its population:

    - ``entered``, ``rsa_openings``, ``oriented_within``: people whose RSA opened (else whose
      journey started) in the period; a delay counts once it is over, or once met (15 days,
      30 days, then the legal delay, last);
    - ``orientations``, ``contract_within``: people oriented in the period;
    - ``follow_up_kept``: people who entered follow-up in the period (once month 6 is past);
    - ``exits``, ``positive_exits``: journeys closed in the period.
    """

    entered: int
    rsa_openings: int
    oriented_within: list[Rate]
    orientations: int
    contract_within: Rate
    follow_up_kept: Rate
    exits: int
    positive_exits: int
    # Of ``entered``: oriented by France Travail, the 6 weeks having passed (issue 15).
    oriented_by_france_travail: int = 0


class MonthFigures(BaseModel):
    month: str
    label: str
    figures: Figures


class StructureFigures(BaseModel):
    structure: PersonRef | None
    label: str
    figures: Figures


class FunnelStage(BaseModel):
    key: str
    label: str
    count: int
    percent: float | None


class StepDelay(BaseModel):
    step: Step
    step_label: str
    count: int
    median_days: float | None
    p90_days: float | None


class ExitCount(BaseModel):
    reason: str
    label: str
    positive: bool
    count: int


class ExitCodeCount(BaseModel):
    """Journeys closed in the period with one of the département's coded exits."""

    code: str
    label: str
    positive: bool
    active: bool
    count: int


class LawFigures(BaseModel):
    """The 2023 law's figures of the period (issue 15):

    - ``france_travail_requested``: journeys whose 6 weeks passed without an orientation, so
      that France Travail was asked to orient (in the period);
    - ``social_reviews_on_time``: social-track reviews concluded in the period, on time;
    - ``sanctions_*``: suspension-remobilisation cases opened, lifted because the person
      signed or updated her contract, and closed in the period; ``sanction_median_days``: the
      median time from opening to closing of the cases closed in the period.
    """

    france_travail_requested: int
    social_reviews_on_time: Rate
    sanctions_opened: int
    sanctions_lifted_remobilisation: int
    sanctions_closed: int
    sanction_median_days: float | None


class AppointmentFigures(BaseModel):
    """The appointments' figures of a period, a month or a structure:

    - ``oriented``, ``first_attended_within``, delays: people oriented in the period (by the
      structure that follows them) and their first appointment attended after it — a delay
      counts once it is over, or once met;
    - ``no_show_*``, ``self_booked``: invitations and convocations whose slot falls in the
      period (by the structure that receives); a no-show is an absence not excused, out of the
      appointments whose attendance is recorded.
    """

    oriented: int
    first_attended_within: list[Rate]
    mean_delay_days: float | None
    median_delay_days: float | None
    no_show_invitations: Rate
    no_show_convocations: Rate
    self_booked: Rate


class AppointmentMonth(BaseModel):
    month: str
    label: str
    figures: AppointmentFigures


class AppointmentStructure(BaseModel):
    structure: PersonRef | None
    label: str
    figures: AppointmentFigures


class AppointmentIndicators(BaseModel):
    total: AppointmentFigures
    months: list[AppointmentMonth]
    structures: list[AppointmentStructure]


class IndicatorsRead(BaseModel):
    territory: str
    structure: PersonRef | None
    from_month: str
    to_month: str
    period_label: str
    computed_on: date
    total: Figures
    funnel: list[FunnelStage]
    delays: list[StepDelay]
    exits: list[ExitCount]
    exit_codes: list[ExitCodeCount] = Field(default_factory=list)
    positive_exit_rate: Rate
    law: LawFigures | None = None
    months: list[MonthFigures]
    structures: list[StructureFigures]
    appointments: AppointmentIndicators


class StepStay(BaseModel):
    """A stay of the journey in one step; ``left_at`` None: it is still there."""

    step: Step
    step_label: str
    entered_at: datetime
    left_at: datetime | None
    days: float
    structure: PersonRef | None


class StepTotal(BaseModel):
    step: Step
    step_label: str
    days: float


class JourneyStory(BaseModel):
    """A journey's full story: who did what and when (the workflow's events and the carnet's
    changes, with names), and the time spent in each step."""

    beneficiary_id: str
    full_name: str
    journey: JourneyRead
    referent: PersonRef | None
    structure: PersonRef | None
    stays: list[StepStay]
    time_in_steps: list[StepTotal]
    timeline: list[CarnetTimelineEntry]
    workflow_url: str
