"""Sorting stored Consents into the engine's inputs: contracts (identifier `…/Id/contract`,
written by imports) and overrides (the shape in overrides.py, written by service clients).
Tier Consents and anything else are neither and are skipped."""
from __future__ import annotations

from typing import Iterable

from .contracts import Contract, is_contract_consent
from .overrides import Override


def split_consents(consents: Iterable[dict], tier_ids: Iterable[str] = ()) -> tuple[list[Contract], list[Override]]:
    skip = set(tier_ids)
    contracts: list[Contract] = []
    overrides: list[Override] = []
    for consent in consents:
        if consent.get("id") in skip:
            continue
        if is_contract_consent(consent):
            contracts.append(Contract.from_consent(consent))
        else:
            override = Override.from_consent(consent)
            if override is not None:
                overrides.append(override)
    return contracts, overrides
