"""The ``FranceTravailOrientationNotice`` workflow: France Travail is told that a person was
oriented to it (a professional orientation), then the journey is told how that went.

Started by the service that decides orientations once the journey accepted the decision, with
an id made of the person and the decision's event number: a second start of the same notice
is refused by Temporal, and the partner call's idempotency key (this workflow's id) makes the
partner answer a retried call once. A person who did not consent to share with France Travail
is not sent (the journey records why).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from parcours.journey.messages import tell_journey
    from parcours.orientations.france_travail_notice import (
        FRANCE_TRAVAIL_NOTICE_WORKFLOW,
        FranceTravailNoticeResult,
        FranceTravailNoticeStart,
    )
    from workflows.partner_calls import (
        NOTIFY_FRANCE_TRAVAIL_ORIENTATION,
        PartnerReceipt,
        ProfessionalOrientationInput,
        call_partner,
        failure_of,
        idempotency_key,
    )


@workflow.defn(name=FRANCE_TRAVAIL_NOTICE_WORKFLOW)
class FranceTravailOrientationNotice:
    @workflow.run
    async def run(self, input: FranceTravailNoticeStart) -> FranceTravailNoticeResult:
        try:
            receipt = await call_partner(
                NOTIFY_FRANCE_TRAVAIL_ORIENTATION,
                ProfessionalOrientationInput(
                    beneficiary_id=input.beneficiary_id,
                    idempotency_key=idempotency_key("notify"),
                    orientation_id=workflow.info().workflow_id,
                    decided_on=input.decided_on,
                    referent_id=input.referent_id,
                    structure_id=input.structure_id,
                ),
                PartnerReceipt,
            )
        except ActivityError as error:
            reason = failure_of(error)
            await tell_journey(
                input.journey_workflow_id,
                "france_travail_not_notified",
                {"orientation_seq": input.orientation_seq, "reason": reason},
            )
            return FranceTravailNoticeResult(notified=False, reason=reason)
        await tell_journey(
            input.journey_workflow_id,
            "france_travail_notified",
            {"orientation_seq": input.orientation_seq, "reference": receipt.reference},
        )
        return FranceTravailNoticeResult(notified=True, reference=receipt.reference)
