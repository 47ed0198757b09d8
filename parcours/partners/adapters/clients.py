"""Every partner's adapter, built once from the settings (one connection pool per partner)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from parcours.core.settings import Settings
from parcours.partners.adapters.caf import CafAdapter
from parcours.partners.adapters.france_travail import FranceTravailAdapter
from parcours.partners.adapters.funding import FundingAdapter
from parcours.partners.adapters.http import PartnerClient, PartnerName
from parcours.partners.adapters.structures import StructuresAdapter


@dataclass(frozen=True)
class PartnerAdapters:
    caf: CafAdapter
    france_travail: FranceTravailAdapter
    # Training funding requests: the Région's desk and France Travail's (AIF).
    region_funding: FundingAdapter
    france_travail_funding: FundingAdapter
    structures: StructuresAdapter

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> PartnerAdapters:
        def client(partner: PartnerName) -> PartnerClient:
            return PartnerClient(
                partner,
                settings.partner_url(partner),
                timeout_s=settings.partner_timeout_s,
                connect_timeout_s=settings.partner_connect_timeout_s,
                transport=transport,
            )

        france_travail = client("france_travail")
        return cls(
            caf=CafAdapter(client("caf")),
            france_travail=FranceTravailAdapter(france_travail),
            region_funding=FundingAdapter(client("region")),
            france_travail_funding=FundingAdapter(france_travail),
            structures=StructuresAdapter(client("structures")),
        )

    async def aclose(self) -> None:
        for adapter in (self.caf, self.france_travail, self.region_funding, self.structures):
            await adapter.client.aclose()
