"""Pure rules of the SMS channel: which numbers take an SMS (French mobiles, the overseas
départements and collectivités included, written E.164), the quiet hours (no SMS between
20:00 and 08:00, Paris time: one written at night waits for the morning), the wait before
another attempt, and what a provider's delivery report means for a message."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

PARIS = ZoneInfo("Europe/Paris")
# No SMS from QUIET_FROM to QUIET_UNTIL, Paris time.
QUIET_FROM = time(20, 0)
QUIET_UNTIL = time(8, 0)

# Metropolitan France, then the overseas départements and collectivités where the RSA is paid:
# Guadeloupe, Saint-Barthélemy and Saint-Martin (+590), Guyane (+594), Martinique (+596),
# La Réunion and Mayotte (+262), Saint-Pierre-et-Miquelon (+508). A number written the national
# way (0692…) is read in each of them in turn: the first where it is a valid number wins.
FRENCH_REGIONS = ("FR", "RE", "YT", "GP", "BL", "MF", "GF", "MQ", "PM")
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_MAX_INPUT = 30


class SmsStatus(StrEnum):
    """Where an SMS stands (the values are what the table and the API show)."""

    PENDING = "en_attente"  # waiting for its time (quiet hours, next attempt) or for a sender
    SENT = "envoye"  # the provider took it
    DELIVERED = "delivre"  # the provider's delivery report says it reached the phone
    FAILED = "echec"  # the operator could not deliver it, or too many attempts
    REFUSED = "refuse"  # the provider refused it (invalid number…): never tried again


STATUS_LABELS: dict[SmsStatus, str] = {
    SmsStatus.PENDING: "En attente",
    SmsStatus.SENT: "Envoyé",
    SmsStatus.DELIVERED: "Délivré",
    SmsStatus.FAILED: "Échec",
    SmsStatus.REFUSED: "Refusé",
}


class InvalidPhone(ValueError):
    """A number refused at entry; ``message`` says why, in French, for the person who typed it
    (without repeating the number: an error message may be logged or shown elsewhere)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _french_number(raw: str) -> phonenumbers.PhoneNumber:
    text = raw.strip()
    if not text or len(text) > _MAX_INPUT:
        raise InvalidPhone(
            "Numéro de téléphone invalide : saisissez 10 chiffres (06 12 34 56 78) ou le "
            "numéro international (+33 6 12 34 56 78)."
        )
    for region in FRENCH_REGIONS:
        try:
            number = phonenumbers.parse(text, region)
        except NumberParseException:
            break
        if phonenumbers.is_valid_number(number):
            if phonenumbers.region_code_for_number(number) not in FRENCH_REGIONS:
                raise InvalidPhone(
                    "Numéro refusé : ce n'est pas un numéro français (métropole ou outre-mer), "
                    "les seuls que Parcours accepte."
                )
            return number
        if text.startswith(("+", "00")):
            break  # international: the region given does not change how it reads
    raise InvalidPhone(
        "Numéro de téléphone invalide : ce n'est pas un numéro attribué en France (métropole "
        "ou outre-mer). Vérifiez les chiffres : 06 12 34 56 78, 0692 12 34 56 ou "
        "+33 6 12 34 56 78."
    )


def normalise_phone(raw: str) -> str:
    """A French number (fixed or mobile, overseas included) written E.164 (+33612345678), or
    ``InvalidPhone`` with the reason."""
    return phonenumbers.format_number(_french_number(raw), PhoneNumberFormat.E164)


def normalise_mobile(raw: str) -> str:
    """A French mobile number (overseas included) written E.164, or ``InvalidPhone``: an
    invalid number, a foreign one, or one that cannot take an SMS (a fixed line)."""
    number = _french_number(raw)
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidPhone(
            "Numéro refusé : ce n'est pas un numéro de mobile ; un SMS ne peut partir que vers "
            "un mobile (06 ou 07 ; 0692, 0690, 0694, 0696… outre-mer)."
        )
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mobile_or_none(phone: str | None) -> str | None:
    """The number an SMS to this person can go to (E.164), or None: no phone, a fixed line, or
    a number entered before numbers were checked that is not a French mobile."""
    if not phone:
        return None
    try:
        return normalise_mobile(phone)
    except InvalidPhone:
        return None


def phone_shown(phone: str | None) -> str:
    """A number as people read it in France (06 12 34 56 78, 0692 12 34 56); one that does not
    parse (typed before numbers were checked) as it was typed; "" for none."""
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, "FR")
    except NumberParseException:
        return phone
    if not phonenumbers.is_valid_number(number):
        return phone
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)


def is_quiet(at: datetime) -> bool:
    """Whether ``at`` (aware) falls in the quiet hours, Paris time."""
    local = at.astimezone(PARIS).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


def quiet_hours_release(at: datetime) -> datetime:
    """When an SMS wanted at ``at`` (aware) may go: ``at`` itself in the day, else the next
    08:00 in Paris (the same morning after midnight, the next one from 20:00), in UTC.
    Computed on the local calendar, so a DST change during the night changes nothing."""
    if not is_quiet(at):
        return at
    local = at.astimezone(PARIS)
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=PARIS).astimezone(at.tzinfo)


def retry_delay(attempts: int, first_s: float, longest: timedelta) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: ``first_s``, doubled each time,
    ``longest`` at most."""
    seconds = first_s * 2 ** min(max(attempts - 1, 0), 20)
    return min(timedelta(seconds=seconds), longest)


# A provider's delivery events (Brevo's transactional SMS webhooks) and what they make of a
# message; the others (sent, accepted, replies, subscriptions) change nothing.
DELIVERY_EVENTS: dict[str, SmsStatus] = {
    "delivered": SmsStatus.DELIVERED,
    "hard_bounce": SmsStatus.FAILED,
    "soft_bounce": SmsStatus.FAILED,
    "rejected": SmsStatus.FAILED,
    "blacklisted": SmsStatus.FAILED,
    "skip": SmsStatus.FAILED,
}


def status_after_report(current: SmsStatus, event: str) -> SmsStatus | None:
    """The status a delivery report gives a message in ``current``, or None when it changes
    nothing (an event that is not about delivery, a message not sent, or already refused).
    A late "delivered" wins over an earlier failure: the phone got it."""
    new = DELIVERY_EVENTS.get(event.lower())
    if new is None or current in (SmsStatus.PENDING, SmsStatus.REFUSED):
        return None
    if current is SmsStatus.DELIVERED or current is new:
        return None
    return new
