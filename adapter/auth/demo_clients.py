"""Demo clients for `make run`: one per role, keys under var/demo-keys/, idempotent."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from ..storage import Repository
from .assertion import generate_key
from .clients import ClientRegistry

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_ROLE = "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole"

# The organisations the demo clients act for: members of the default demo package (`dthub demo`),
# including U25294, a PCN that spans two ICBs. When the demo package has not been imported into the
# store, minimal records with these ids are written so the clients can still be registered.
_DEMO_ORGS = {
    "QK1": ("NHS LEICESTER, LEICESTERSHIRE AND RUTLAND INTEGRATED CARE BOARD", "RO318", None),
    "U25294": ("MELTON, SYSTON AND VALE PCN", "RO272", "QK1"),
    "C82016": ("LONG CLAWSON MEDICAL PRACTICE", "RO76", "U25294"),
    "FEDQK11": ("EAST LEICESTERSHIRE AND RUTLAND GP FEDERATION", None, "QK1"),
}


@dataclass(frozen=True)
class DemoClient:
    client_id: str
    role: str
    org: str | None
    scopes: str
    purposes: tuple[str, ...]


DEMO_CLIENTS = (
    DemoClient("demo-service", "service", None, "system/*.cruds", ("HOPERAT", "HQUALIMP", "HMARKT")),
    DemoClient("demo-external", "external", None, "system/*.rs", ("HMARKT",)),
    DemoClient("demo-icb", "icb", "QK1", "system/*.rs", ("HOPERAT", "HQUALIMP")),
    DemoClient("demo-pcn", "pcn", "U25294", "system/*.rs", ("HOPERAT", "HQUALIMP")),
    DemoClient("demo-federation", "federation", "FEDQK11", "system/*.rs", ("HOPERAT", "HQUALIMP")),
    DemoClient("demo-practice", "practice", "C82016", "system/*.rs system/QuestionnaireResponse.cruds system/Task.cruds",
               ("HOPERAT", "HQUALIMP")),
)


def _minimal_org(ods: str) -> dict:
    name, role, parent = _DEMO_ORGS[ods]
    org = {"resourceType": "Organization", "id": ods, "identifier": [{"system": ODS, "value": ods}],
           "active": True, "name": name}
    if role:
        org["type"] = [{"coding": [{"system": ODS_ROLE, "code": role}]}]
    if parent:
        org["partOf"] = {"reference": f"Organization/{parent}", "identifier": {"system": ODS, "value": parent}}
    return org


def register_demo_clients(repo: Repository, registry: ClientRegistry, keys_dir: Path) -> list[tuple[DemoClient, Path]]:
    keys_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for demo in DEMO_CLIENTS:
        key_file = keys_dir / f"{demo.client_id}.json"
        if demo.org:
            stored = repo.read("Organization", demo.org)
            if stored is None or stored.deleted:
                repo.put("Organization", demo.org, _minimal_org(demo.org), method="PUT")
        if registry.get(demo.client_id) is None or not key_file.exists():
            private, jwks = generate_key(f"{demo.client_id}-1", "EC")
            key_file.write_bytes(orjson.dumps(private, option=orjson.OPT_INDENT_2))
            key_file.chmod(0o600)
            (keys_dir / f"{demo.client_id}-jwks.json").write_bytes(orjson.dumps(jwks, option=orjson.OPT_INDENT_2))
            if registry.get(demo.client_id) is None:
                registry.add(demo.client_id, org=demo.org, role=demo.role, scopes=demo.scopes,
                             purposes=list(demo.purposes), jwks=jwks)
            else:
                registry.set_keys(demo.client_id, jwks=jwks)
        out.append((demo, key_file))
    return out
