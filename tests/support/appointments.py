"""``booking_link``: a structure's place and weekly slots through the JSON API, then an
invitation of a person: its link's token."""

from __future__ import annotations

from tests.support.clients import ApiClients


async def booking_link(api: ApiClients, person_id: str, kind: str = "suivi") -> str:
    """An invitation's link token for the person (a place and a slot each day at 10:00)."""
    place = await api.referent.post(
        "/api/v1/appointments/places",
        json={"name": "CCAS de Chambéry", "address": "1 rue de la Gare, 73000 Chambéry"},
    )
    assert place.status_code == 201, place.text
    for weekday in range(7):
        slot = await api.referent.post(
            "/api/v1/appointments/slots",
            json={
                "place_id": place.json()["id"],
                "kind": kind,
                "start_time": "10:00",
                "weekday": weekday,
            },
        )
        assert slot.status_code == 201, slot.text
    invited = await api.referent.post(
        "/api/v1/appointments/invitations", json={"beneficiary_id": person_id, "kind": kind}
    )
    assert invited.status_code == 201, invited.text
    token: str = invited.json()["link"].rsplit("/", 1)[1]
    return token
