"""``PartnerLookup``: a référent asks the CAF or France Travail what it knows about a person.

One workflow per request (``partner-lookup-<partner>-<person>-<request>``: a double click, or
the same request sent again, joins the first one instead of asking twice). It makes the
partner's look-up call (``workflows.partner_calls``), whose activity writes what the partner
said into the carnet, and returns the outcome. A partner that does not answer is tried again
under its retry policy: the référent's request stops waiting after a few seconds, the workflow
does not, and the carnet shows the result once it comes. Ids and decisions only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from parcours.core.messages import Message
    from parcours.journey.messages import RsaStatus
    from workflows.partner_calls import (
        FIND_FRANCE_TRAVAIL_PERSON,
        LOOKUP_CAF_HOUSEHOLD,
        NON_RETRYABLE,
        CafLookupResult,
        FranceTravailLookupResult,
        PartnerLookupInput,
        call_partner,
        idempotency_key,
    )

PARTNER_LOOKUP_WORKFLOW = "PartnerLookup"
LookupPartner = Literal["caf", "france_travail"]
# A request id as a page or an API client sends it (it goes into the workflow id).
REQUEST_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def partner_lookup_workflow_id(partner: str, beneficiary_id: str, request_id: str) -> str:
    return f"partner-lookup-{partner}-{beneficiary_id}-{request_id}"


class PartnerLookupStart(Message):
    beneficiary_id: str
    partner: LookupPartner
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)


class PartnerLookupOutcome(Message):
    """``found`` / ``not_found``: the partner answered (the carnet says what); ``refused``:
    asking cannot work (``refusal`` is the error type, ``reason`` its French message: a consent
    missing, a NIR unknown…); ``unavailable``: the partner did not answer within its policy."""

    partner: LookupPartner
    outcome: Literal["found", "not_found", "refused", "unavailable"]
    refusal: str | None = None
    reason: str | None = None
    rsa_status: RsaStatus | None = None
    registered: bool | None = None


@workflow.defn(name=PARTNER_LOOKUP_WORKFLOW)
class PartnerLookup:
    @workflow.run
    async def run(self, start: PartnerLookupStart) -> PartnerLookupOutcome:
        data = PartnerLookupInput(
            beneficiary_id=start.beneficiary_id,
            idempotency_key=idempotency_key(f"lookup-{start.partner}"),
        )
        try:
            if start.partner == "caf":
                caf = await call_partner(LOOKUP_CAF_HOUSEHOLD, data, CafLookupResult)
                return PartnerLookupOutcome(
                    partner="caf",
                    outcome="found" if caf.found else "not_found",
                    rsa_status=caf.rsa_status,
                )
            france_travail = await call_partner(
                FIND_FRANCE_TRAVAIL_PERSON, data, FranceTravailLookupResult
            )
            return PartnerLookupOutcome(
                partner="france_travail",
                outcome="found" if france_travail.found else "not_found",
                registered=france_travail.registered,
            )
        except ActivityError as failed:
            cause = failed.cause
            if isinstance(cause, ApplicationError) and cause.type in NON_RETRYABLE:
                return PartnerLookupOutcome(
                    partner=start.partner,
                    outcome="refused",
                    refusal=cause.type,
                    reason=cause.message,
                )
            # Every try failed (down, too slow): the référent may ask again later.
            workflow.logger.warning(
                "partner look-up gave up", extra={"partner": start.partner, "error": str(cause)}
            )
            return PartnerLookupOutcome(partner=start.partner, outcome="unavailable")
