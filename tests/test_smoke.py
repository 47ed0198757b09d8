from tests.conftest import Staff, person_payload


async def test_enrol_and_read(http, staff: Staff) -> None:
    created = await http.post(
        "/api/v1/beneficiaries", json=person_payload(referent_id=staff.referent_id)
    )
    assert created.status_code == 201, created.text
    bid = created.json()["beneficiary"]["id"]
    moved = await http.post(f"/api/v1/journeys/{bid}/actions/begin-diagnosis", json={})
    assert moved.status_code == 200, moved.text
    assert moved.json()["step"] == "diagnosis"
    refused = await http.post(f"/api/v1/journeys/{bid}/actions/begin-diagnosis", json={})
    assert refused.status_code == 409
    detail = (await http.get(f"/api/v1/journeys/{bid}")).json()
    assert [e["kind"] for e in detail["timeline"]] == ["journey_started", "diagnosis_started"]
