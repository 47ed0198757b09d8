"""The SMS channel's pure rules: which numbers take an SMS (French mobiles, overseas included,
written E.164; the others refused with a French reason, also through the ``MobilePhone`` type
that forms and API bodies use), the quiet hours (held to 08:00 in Paris, across DST changes),
what a delivery report does to a message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from parcours.sms.rules import (
    InvalidPhone,
    SmsStatus,
    is_quiet,
    mobile_or_none,
    normalise_mobile,
    normalise_phone,
    phone_shown,
    quiet_hours_release,
    status_after_report,
)
from parcours.sms.schemas import FrenchPhone, MobilePhone

pytestmark = pytest.mark.appointments


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("07 61 22 33 44", "+33761223344"),
        # La Réunion, Mayotte, Guadeloupe (and Saint-Martin, Saint-Barthélemy), Guyane,
        # Martinique: typed the national way, or with their own country code.
        ("0692 12 34 56", "+262692123456"),
        ("0693 12 34 56", "+262693123456"),
        ("0639 20 12 34", "+262639201234"),
        ("+262 692 12 34 56", "+262692123456"),
        ("0690 12 34 56", "+590690123456"),
        ("+590 690 12 34 56", "+590690123456"),
        ("0694 12 34 56", "+594694123456"),
        ("0696 12 34 56", "+596696123456"),
        ("+596 696 12 34 56", "+596696123456"),
    ],
)
def test_french_mobiles_are_written_e164(typed: str, e164: str) -> None:
    assert normalise_mobile(typed) == e164


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("04 79 12 34 56", "ce n'est pas un numéro de mobile"),  # a fixed line in Savoie
        ("0262 21 12 34", "ce n'est pas un numéro de mobile"),  # a fixed line in La Réunion
        ("06 12 34", "ce n'est pas un numéro attribué en France"),
        ("07 11 22 33 44", "ce n'est pas un numéro attribué en France"),  # 071… is not allocated
        ("pas un numéro", "ce n'est pas un numéro attribué en France"),
        ("+44 7911 123456", "ce n'est pas un numéro français"),  # a British mobile
        ("+269 321 23 45", "ce n'est pas un numéro français"),  # the Comoros, not Mayotte (+262)
        ("", "saisissez 10 chiffres"),
        ("0" * 40, "saisissez 10 chiffres"),
    ],
)
def test_other_numbers_are_refused_with_the_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as refused:
        normalise_mobile(typed)
    assert reason in refused.value.message


def test_a_persons_phone_may_be_a_fixed_line_but_must_be_french_and_valid() -> None:
    assert normalise_phone("04 79 12 34 56") == "+33479123456"
    assert normalise_phone("0262 21 12 34") == "+262262211234"
    assert normalise_phone("06 12 34 56 78") == "+33612345678"
    with pytest.raises(InvalidPhone, match="n'est pas un numéro attribué"):
        normalise_phone("06 pas un numéro")


def test_a_person_can_be_texted_only_on_a_mobile() -> None:
    assert mobile_or_none("+33612345678") == "+33612345678"
    assert mobile_or_none("+33479123456") is None  # a fixed line
    assert mobile_or_none("06 pas") is None  # typed before numbers were checked
    assert mobile_or_none(None) is None


def test_a_phone_is_shown_as_people_read_it_in_france() -> None:
    assert phone_shown("+33612345678") == "06 12 34 56 78"
    assert phone_shown("+262692123456") == "0692 12 34 56"
    assert phone_shown("06 pas un numéro") == "06 pas un numéro"  # typed before the checks
    assert phone_shown(None) == ""


class Invitation(BaseModel):
    mobile: MobilePhone
    phone: FrenchPhone | None = None


def test_the_mobile_phone_type_normalises_at_entry_and_says_why_it_refuses() -> None:
    assert Invitation(mobile="0692 12 34 56").mobile == "+262692123456"
    with pytest.raises(ValidationError) as refused:
        Invitation(mobile="04 79 12 34 56")
    (error,) = refused.value.errors()
    assert error["loc"] == ("mobile",)
    # The message as the form or the API shows it: French, without pydantic's prefix.
    assert error["msg"].startswith("Numéro refusé : ce n'est pas un numéro de mobile ;")
    assert "04 79" not in error["msg"]  # never echoed: a message may be logged
    with pytest.raises(ValidationError, match="n'est pas un numéro attribué"):
        Invitation(mobile="0612345678", phone="01 23")


def paris(text: str) -> datetime:
    """A Paris wall-clock time, as UTC (``2027-03-27 21:00+01:00``)."""
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("written", "goes"),
    [
        # The day: at once.
        ("2026-12-07 08:00:00+01:00", "2026-12-07 08:00:00+01:00"),
        ("2026-12-07 14:30:00+01:00", "2026-12-07 14:30:00+01:00"),
        ("2026-12-07 19:59:59+01:00", "2026-12-07 19:59:59+01:00"),
        # The evening: the next morning; after midnight: the same morning.
        ("2026-12-07 20:00:00+01:00", "2026-12-08 08:00:00+01:00"),
        ("2026-12-07 23:45:00+01:00", "2026-12-08 08:00:00+01:00"),
        ("2026-12-08 03:00:00+01:00", "2026-12-08 08:00:00+01:00"),
        ("2026-12-08 07:59:59+01:00", "2026-12-08 08:00:00+01:00"),
        # New Year's Eve: the next year's first morning.
        ("2026-12-31 22:00:00+01:00", "2027-01-01 08:00:00+01:00"),
        # Spring forward (28 March 2027, 02:00 → 03:00): 08:00 summer time, 06:00 UTC.
        ("2027-03-27 21:00:00+01:00", "2027-03-28 08:00:00+02:00"),
        ("2027-03-28 01:30:00+01:00", "2027-03-28 08:00:00+02:00"),
        ("2027-03-28 03:30:00+02:00", "2027-03-28 08:00:00+02:00"),
        # Fall back (25 October 2026, 03:00 → 02:00): 08:00 winter time, 07:00 UTC.
        ("2026-10-24 22:00:00+02:00", "2026-10-25 08:00:00+01:00"),
        ("2026-10-25 02:30:00+02:00", "2026-10-25 08:00:00+01:00"),
        ("2026-10-25 02:30:00+01:00", "2026-10-25 08:00:00+01:00"),
        # Summer evening: 20:00 Paris is 18:00 UTC.
        ("2026-07-14 20:00:00+02:00", "2026-07-15 08:00:00+02:00"),
        ("2026-07-14 19:00:00+02:00", "2026-07-14 19:00:00+02:00"),
    ],
)
def test_an_sms_written_at_night_is_held_to_eight_in_paris(written: str, goes: str) -> None:
    assert quiet_hours_release(paris(written)) == paris(goes)
    assert is_quiet(paris(written)) == (paris(written) != paris(goes))
    assert not is_quiet(paris(goes))


def test_a_delivery_report_settles_a_sent_message_once() -> None:
    assert status_after_report(SmsStatus.SENT, "delivered") is SmsStatus.DELIVERED
    assert status_after_report(SmsStatus.SENT, "hard_bounce") is SmsStatus.FAILED
    assert status_after_report(SmsStatus.FAILED, "delivered") is SmsStatus.DELIVERED
    assert status_after_report(SmsStatus.DELIVERED, "delivered") is None  # a copy
    assert status_after_report(SmsStatus.DELIVERED, "soft_bounce") is None  # it arrived
    assert status_after_report(SmsStatus.SENT, "accepted") is None  # not about delivery
    assert status_after_report(SmsStatus.REFUSED, "delivered") is None
    assert status_after_report(SmsStatus.PENDING, "delivered") is None
