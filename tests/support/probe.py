"""A workflow that makes one partner call exactly as a journey would (``call_partner`` with the
call's production options), for tests; optionally on another task queue, where a worker in
another process runs the activity."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from parcours.partners import messages as calls

CALLS: dict[str, tuple[calls.PartnerCall, type[BaseModel], type[BaseModel]]] = {
    "lookup_caf_household": (
        calls.LOOKUP_CAF_HOUSEHOLD,
        calls.PartnerLookupInput,
        calls.CafLookupResult,
    ),
    "find_france_travail_person": (
        calls.FIND_FRANCE_TRAVAIL_PERSON,
        calls.PartnerLookupInput,
        calls.FranceTravailLookupResult,
    ),
    "notify_france_travail_orientation": (
        calls.NOTIFY_FRANCE_TRAVAIL_ORIENTATION,
        calls.ProfessionalOrientationInput,
        calls.PartnerReceipt,
    ),
    "request_france_travail_orientation": (
        calls.REQUEST_FRANCE_TRAVAIL_ORIENTATION,
        calls.FranceTravailOrientationRequestInput,
        calls.PartnerReceipt,
    ),
    "send_appointment_to_france_travail": (
        calls.SEND_APPOINTMENT_TO_FRANCE_TRAVAIL,
        calls.FranceTravailAppointmentInput,
        calls.FranceTravailAppointmentResult,
    ),
    "submit_training_request_region": (
        calls.SUBMIT_TRAINING_REQUEST["region"],
        calls.TrainingRequestInput,
        calls.PartnerReceipt,
    ),
    "submit_training_request_france_travail": (
        calls.SUBMIT_TRAINING_REQUEST["france_travail"],
        calls.TrainingRequestInput,
        calls.PartnerReceipt,
    ),
    "send_structure_orientation": (
        calls.SEND_STRUCTURE_ORIENTATION,
        calls.StructureOrientationInput,
        calls.PartnerReceipt,
    ),
}


class ProbeInput(BaseModel):
    call: str
    # The call's input without its key: the probe adds ``idempotency_key(step)``.
    payload: dict[str, Any]
    step: str
    activity_task_queue: str | None = None


@workflow.defn(name="PartnerCallProbe")
class PartnerCallProbe:
    @workflow.run
    async def run(self, input: ProbeInput) -> dict[str, Any]:
        call, input_type, result_type = CALLS[input.call]
        data = input_type.model_validate(
            {**input.payload, "idempotency_key": calls.idempotency_key(input.step)}
        )
        if input.activity_task_queue:
            result = await workflow.execute_activity(
                call.activity,
                data,
                result_type=result_type,
                task_queue=input.activity_task_queue,
                start_to_close_timeout=call.start_to_close,
                schedule_to_close_timeout=call.schedule_to_close,
                heartbeat_timeout=call.heartbeat,
                retry_policy=call.retry_policy,
            )
        else:
            result = await calls.call_partner(call, data, result_type)
        return dict(result.model_dump(mode="json"))
