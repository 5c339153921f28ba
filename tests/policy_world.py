"""The oracle's world served over HTTP: one app per store (and per purpose: `reads`, `writes`),
loaded once, with the contracts switched between phases; callers as real clients with real
tokens; and what each caller should get, computed from tests/policy_oracle.py only.

    world = get_world(request, "sqlite", "reads")     # cached for the session
    world.set_phase("C-U3")                           # only that contract's Consent is stored
    http = world.client("pcn-U00003", "HOPERAT")      # a Flask test client with a bearer token
    viewer = world.viewer("pcn-U00003", "HOPERAT")    # the oracle's view of that caller, this phase
    viewer.sees(item), viewer.masks(item), viewer.forbidden_strings()

The world is the oracle's (organization_resources, practice_resources for every practice,
usage_resource for the PCNs and ICBs, contract_consent per phase) plus, so that more surfaces
have something to show:
  - the assessment Questionnaires (public reference data);
  - a narrative naming the staff member on each practice's in-depth QuestionnaireResponse
    (narrative must go with the staff mask);
  - per practice a second Task `A-<ods>-gone`, created then deleted (404 vs 410);
  - per practice a Provenance `prov-<ods>` targeting its in-depth QR and its Task, one
    `prov-mixed` targeting the Tasks of A00001 and B00002, and `prov-org` targeting an Organization.
Nothing expected is computed by the server's policy code: only by the oracle's functions.
"""
from __future__ import annotations

import copy
import functools
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


from tests.conftest import fetch_token, make_config, new_pg_database, register_client
from tests.policy_oracle import (ALL, ASSESSMENTS, CALLERS, CONTRACTS, NEEDS, OPERATIONAL, PRACTICES, PRACTICES_OF,
                                 STAFF_NAME, TODAY, _load, contract_consent, expected_scope, organization_resources,
                                 practice_resources, sees, sees_staff, usage_resource)

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
CS_DATA_TYPE = "https://fhir.dandthub.co.uk/CodeSystem/data-type"
CS_GRANULARITY = "https://fhir.dandthub.co.uk/CodeSystem/granularity"
V3_CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
V3_OBS = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
FHIR_JSON = "application/fhir+json"
STAFF_STRINGS = (STAFF_NAME, "jo.bloggs", "Practice Manager")
NARRATIVE = f'<div xmlns="http://www.w3.org/1999/xhtml">Submitted by {STAFF_NAME}</div>'

TYPE_OF_KIND = {"qr-global": "QuestionnaireResponse", "qr-indepth": "QuestionnaireResponse", "task": "Task",
                "impact-summary": "MeasureReport", "indepth-action-summary": "MeasureReport", "usage": "MeasureReport"}
GOVERNED_TYPES = ("QuestionnaireResponse", "Task", "MeasureReport")
GROUP_ROWS = ("U00001", "U00002", "U00003", "U00004", "QAA", "QBB")  # usage rows of PCNs and ICBs
LEVEL_OF_GROUP = {o: ("icb" if o.startswith("Q") else "pcn") for o in GROUP_ROWS}
PRACTICE_LIST = tuple(sorted(PRACTICES))
CALLER_NAMES = tuple(name for name, _, _ in CALLERS)
# Practices whose resources every surface is asked about (reads ask about every practice): one of
# each shape of the world (ICB QAA + PCN U00001 + FED01; the spanning PCN's QBB side, listed by
# C-QBB-LISTED; U00003 + FED02's partial contract; the closed practice).
SAMPLE = ("A00001", "A00003", "B00002", "D00001")
ROLE_ORG = {name: (role, org) for name, role, org in CALLERS}
ALL_CONTRACTS = [c for c, _ in CONTRACTS]
CONTRACT_BY_ID = {c["id"]: c for c in ALL_CONTRACTS}

# The contract worlds (policy_oracle.contract_sets): none, all, each contract alone.
PHASES: dict[str, list[dict]] = {"no-contract": [], "all-contracts": ALL_CONTRACTS}
PHASES.update({c["id"]: [c] for c in ALL_CONTRACTS})


def combos(purposes=("HMARKT", "HOPERAT", "HQUALIMP"), phases=None, callers=CALLER_NAMES,
           single_purposes=("HOPERAT",)):
    """(phase, caller, purpose) in phase-major order: every caller x `purposes` in the all-contracts
    world; the same without HQUALIMP in the no-contract world (HQUALIMP is the other operational
    purpose: it differs from HMARKT exactly where HOPERAT does, and with no contract only in the
    service and own-practice tiers, which all-contracts covers); in a single contract's world only
    the callers of its holder (for anyone else it is the no-contract world again), with
    `single_purposes` (for HMARKT a contract changes nothing)."""
    out = []
    for phase in (phases or PHASES):
        main = phase in ("no-contract", "all-contracts")
        wanted = purposes if phase == "all-contracts" else (
            tuple(p for p in purposes if p != "HQUALIMP") or purposes if main else single_purposes)
        for name in callers:
            _, org = ROLE_ORG[name]
            if not main and CONTRACT_BY_ID[phase]["holder"] != org:
                continue
            out += [(phase, name, purpose) for purpose in wanted if purpose in purposes]
    return out


def combo_id(combo) -> str:
    return "-".join(combo)


# -- the world's governed resources -------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    type: str
    id: str
    kind: str          # a NEEDS key, "usage-row" (PCN/ICB usage) or "task-gone"
    owner: str         # ODS code
    deleted: bool = False

    @property
    def ref(self) -> str:
        return f"{self.type}/{self.id}"

    @property
    def data_type(self) -> str:
        return {"usage-row": "usage", "task-gone": "actions"}.get(self.kind) or NEEDS[self.kind]


def _world_resources() -> tuple[list[tuple[str, str, dict | None]], list[Item], dict[str, dict]]:
    """(writes in order, governed items, provenance bodies by id)."""
    from mappings.assessment import assessment_to_questionnaire

    writes: list[tuple[str, str, dict | None]] = []
    items: list[Item] = []
    for org in organization_resources():
        writes.append(("Organization", org["id"], org))
    for assessment in ASSESSMENTS:
        q = assessment_to_questionnaire(_load("assessment", assessment), "oracle")
        writes.append(("Questionnaire", q["id"], q))
    provenances: dict[str, dict] = {}
    for practice in PRACTICE_LIST:
        resources = practice_resources(practice)
        resources["qr-indepth"] = dict(resources["qr-indepth"],
                                       text={"status": "generated", "div": NARRATIVE})
        for kind, body in resources.items():
            writes.append((body["resourceType"], body["id"], body))
            items.append(Item(body["resourceType"], body["id"], kind, practice))
        gone = copy.deepcopy(resources["task"])
        gone["id"] = f"A-{practice}-gone"
        gone["identifier"] = [{"system": "https://fhir.dandthub.co.uk/Id/action", "value": gone["id"]}]
        writes.append(("Task", gone["id"], gone))
        writes.append(("Task", gone["id"], None))
        items.append(Item("Task", gone["id"], "task-gone", practice, deleted=True))
        provenances[f"prov-{practice}"] = _provenance(
            f"prov-{practice}", [f"QuestionnaireResponse/{resources['qr-indepth']['id']}/_history/1",
                                 f"Task/{resources['task']['id']}/_history/1"])
    provenances["prov-mixed"] = _provenance("prov-mixed", ["Task/A-A00001-1/_history/1",
                                                           "Task/A-B00002-1/_history/1"])
    provenances["prov-org"] = _provenance("prov-org", ["Organization/A00001/_history/1"])
    for org in GROUP_ROWS:
        body = usage_resource(org)
        writes.append(("MeasureReport", body["id"], body))
        items.append(Item("MeasureReport", body["id"], "usage-row", org))
    for id_, body in provenances.items():
        writes.append(("Provenance", id_, body))
    return writes, items, provenances


def _provenance(id_: str, targets: list[str]) -> dict:
    from mappings.provenance import import_provenance

    return import_provenance(id_, "CREATE", targets, "2026-11-01T10:00:00Z", "oracle", "2026-11-01T09:00:00Z",
                             "world.json")


WRITES, ITEMS, PROVENANCES = _world_resources()
ITEM_BY_REF = {i.ref: i for i in ITEMS}
LIVE_ITEMS = [i for i in ITEMS if not i.deleted]
PRACTICE_BODIES = {p: practice_resources(p) for p in PRACTICE_LIST}


# -- the oracle's view of a caller ---------------------------------------------------------------

@dataclass(frozen=True)
class Viewer:
    name: str
    role: str
    org: str | None
    purpose: str
    phase: str

    @property
    def contracts(self) -> list[dict]:
        return PHASES[self.phase]

    def scope(self, data_type: str, level: str = "practice"):
        return expected_scope(self.role, self.org, self.purpose, data_type, level, self.contracts)

    def sees_practice(self, data_type: str, practice: str) -> bool:
        return sees(self.scope(data_type), practice)

    def sees(self, item: Item) -> bool:
        if item.kind == "usage-row":  # a PCN's or ICB's own row: the level over all its practices
            # ...and Practice-level rights over each of them: else only $evaluate-measure serves it.
            members = PRACTICES_OF[item.owner]
            return all(scope == ALL or members <= scope
                       for scope in (self.scope("usage", LEVEL_OF_GROUP[item.owner]), self.scope("usage")))
        return self.sees_practice(item.data_type, item.owner)

    def sees_ref(self, ref: str) -> bool:
        """A reference `Type/id[/_history/n]` to anything in the world."""
        type_, id_ = ref.split("/")[:2]
        if type_ in ("Organization", "Questionnaire"):
            return True
        if type_ == "Provenance":
            return self.sees_provenance(id_)
        return self.sees(ITEM_BY_REF[f"{type_}/{id_}"])

    @property
    def serving(self) -> bool:
        """A service client for service delivery: every Consent, AuditEvent and Provenance."""
        return self.role == "service" and self.purpose in ("HOPERAT", "HQUALIMP")

    def sees_provenance(self, id_: str) -> bool:
        if self.serving:
            return True
        return all(self.sees_ref(t["reference"]) for t in PROVENANCES[id_]["target"])

    def staff_masked(self, item: Item) -> bool:
        return item.type in ("QuestionnaireResponse", "Task") and not sees_staff(
            self.role, self.org, self.purpose, item.owner)

    def impact_masked(self, item: Item) -> bool:
        return item.type == "Task" and not self.sees_practice("impact-summary", item.owner)

    def sees_contract(self, contract_id: str) -> bool:
        """A contract Consent: its holder organisation's clients and service (and it must be stored)."""
        if contract_id not in {c["id"] for c in self.contracts}:
            return False
        return self.serving or (self.org is not None and self.org == CONTRACT_BY_ID[contract_id]["holder"])

    def visible(self, type_: str | None = None, live_only: bool = True) -> set[str]:
        return {i.id for i in ITEMS if (type_ is None or i.type == type_)
                and (not live_only or not i.deleted) and self.sees(i)}

    def visible_provenances(self) -> set[str]:
        return {p for p in PROVENANCES if self.sees_provenance(p)}

    def forbidden_strings(self, allowed: str = "") -> set[str]:
        """Ids of the world's resources this caller may not see, that no visible resource names either;
        the staff member's name and e-mail when every practice's staff is masked for it. `allowed`:
        text the caller itself sent (an id it asked for may come back in a 404's text)."""
        return {s for s in _forbidden(self) if s not in allowed}


@functools.lru_cache(maxsize=None)
def _forbidden(viewer: Viewer) -> frozenset[str]:
    hidden = {i for i in ITEMS if not viewer.sees(i)}
    visible_text = json.dumps([body for p in PRACTICE_LIST for body in PRACTICE_BODIES[p].values()
                               if viewer.sees(ITEM_BY_REF[f"{body['resourceType']}/{body['id']}"])]
                              + [PROVENANCES[p] for p in PROVENANCES if viewer.sees_provenance(p)])
    out = {i.id for i in hidden if i.id not in visible_text}
    out |= {p for p in PROVENANCES if not viewer.sees_provenance(p)}
    stored = {x["id"] for x in viewer.contracts}
    out |= {c for c in CONTRACT_BY_ID if c in stored and not viewer.sees_contract(c)}
    if not any(sees_staff(viewer.role, viewer.org, viewer.purpose, p) for p in PRACTICE_LIST):
        out |= set(STAFF_STRINGS)
    return frozenset(out)


# -- the served world --------------------------------------------------------------------------

class World:
    def __init__(self, store: str, name: str, client_key, url: str, cleanup):
        from adapter import create_app

        self.store, self.name, self.url = store, name, url
        self._cleanup = cleanup
        self.spool = tempfile.mkdtemp(prefix="dthub-policy-audit-")
        self.app = create_app(make_config(url, policy_today=TODAY.isoformat(), token_lifetime=3600,
                                          rate_limit_per_minute=0, audit_spool_dir=self.spool))
        self.config = self.app.extensions["dthub"].config
        self.repo = self.app.extensions["dthub"].repo
        self.private, self.jwks = client_key
        for type_, id_, body in WRITES:
            self.repo.put(type_, id_, body)
        self.contracts_stored: set[str] = set()
        self.phase: str | None = None
        self._registered: set[str] = set()
        self._tokens: dict[tuple, tuple[str, float]] = {}
        self.set_phase("all-contracts")

    @property
    def audit(self):
        """The app's audit trail (the extension with a flush()), or None while there is none."""
        for value in self.app.extensions.values():
            if type(value).__name__ == "AuditTrail" and hasattr(value, "flush"):
                return value
        return None

    def close(self):
        bulk = self.app.extensions.get("dthub.export")
        if bulk is not None:
            bulk.close()
        trail = self.audit
        if trail is not None and hasattr(trail, "close"):
            trail.close()
        self.repo.engine.dispose()
        self._cleanup()

    # contracts
    def set_phase(self, phase: str) -> None:
        if phase == self.phase:
            return
        wanted = {c["id"] for c in PHASES[phase]}
        for contract in ALL_CONTRACTS:
            cid = contract["id"]
            if cid in wanted and cid not in self.contracts_stored:
                self.repo.put("Consent", cid, contract_consent(contract))
            elif cid not in wanted and cid in self.contracts_stored:
                self.repo.put("Consent", cid, None)
        self.contracts_stored = wanted
        self.phase = phase

    def viewer(self, name: str, purpose: str) -> Viewer:
        role, org = ROLE_ORG[name]
        return Viewer(name, role, org, purpose, self.phase or "no-contract")

    # clients
    def register(self, client_id: str, role: str, org: str | None, scopes: str = "system/*.cruds",
                 purposes=("HMARKT", "HOPERAT", "HQUALIMP")) -> None:
        if client_id not in self._registered:
            register_client(self.app, client_id, self.jwks, role=role, org=org, scopes=scopes,
                            purposes=tuple(purposes))
            self._registered.add(client_id)

    def client_id(self, name: str, scopes: str = "system/*.cruds") -> str:
        return f"pw-{name}" if scopes == "system/*.cruds" else f"pw-{name}-{scopes.replace('/', '_')}"

    def client(self, name: str, purpose: str, scopes: str = "system/*.cruds"):
        role, org = ROLE_ORG[name]
        client_id = self.client_id(name, scopes)
        self.register(client_id, role, org, scopes)
        return self.client_for(client_id, purpose, scopes)

    def client_for(self, client_id: str, purpose: str | None, scopes: str = "system/*.cruds"):
        key = (client_id, purpose, scopes)
        token, at = self._tokens.get(key, (None, 0.0))
        http = self.app.test_client()
        if token is None or time.monotonic() - at > 240:
            token = fetch_token(http, self.config.token_url, client_id, self.private, scope=scopes, purpose=purpose)
            self._tokens[key] = (token, time.monotonic())
        http.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return http


_WORLDS: dict[tuple[str, str], World] = {}


def get_world(request, store: str, name: str = "reads") -> World:
    """The world of `name` on `store`, built on first use and kept until the session ends."""
    key = (store, name)
    if key not in _WORLDS:
        client_key = request.getfixturevalue("client_key")
        if store == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="dthub-policy-"))
            url, cleanup = f"sqlite:///{folder / 'store.sqlite3'}", (lambda: None)
        else:
            url, cleanup = new_pg_database("dthub_policy")
        world = World(store, name, client_key, url, cleanup)
        _WORLDS[key] = world
        request.config.add_cleanup(lambda: (world.close(), _WORLDS.pop(key, None)))
    return _WORLDS[key]


STORES = ["sqlite", "postgresql"]


# -- assertions over responses ------------------------------------------------------------------

def body_text(response) -> str:
    return response.get_data(as_text=True)


def assert_no_leak(response, viewer: Viewer, allowed: str = "", where: str = "") -> None:
    text = body_text(response) + json.dumps(dict(response.headers))
    found = sorted(s for s in viewer.forbidden_strings(allowed) if s in text)
    assert not found, f"{where}: response names what {viewer.name}/{viewer.purpose} may not see: {found}"


def leaks(response, viewer: Viewer, allowed: str = "") -> list[str]:
    text = body_text(response) + json.dumps(dict(response.headers))
    return sorted(s for s in viewer.forbidden_strings(allowed) if s in text)


def security(resource: dict, system: str) -> set[str]:
    return {c.get("code") for c in (resource.get("meta") or {}).get("security") or [] if c.get("system") == system}


def view_problems(resource: dict, item: Item, viewer: Viewer) -> list[str]:
    """What is wrong with a served view of `item` for `viewer` (empty when right)."""
    problems = []
    text = json.dumps(resource)
    if resource.get("resourceType") != item.type or resource.get("id") != item.id:
        return [f"{item.ref}: served {resource.get('resourceType')}/{resource.get('id')}"]
    if item.data_type not in security(resource, CS_DATA_TYPE):
        problems.append(f"{item.ref}: no data-type label {item.data_type}")
    want_level = LEVEL_OF_GROUP.get(item.owner, "practice") if item.kind == "usage-row" else "practice"
    if security(resource, CS_GRANULARITY) != {want_level}:
        problems.append(f"{item.ref}: granularity labels {security(resource, CS_GRANULARITY)}")
    if len(security(resource, V3_CONF)) != 1:
        problems.append(f"{item.ref}: confidentiality labels {security(resource, V3_CONF)}")
    caveats = security(resource, V3_OBS)
    if viewer.staff_masked(item):
        contained = [c.get("resourceType") for c in resource.get("contained") or []]
        if "Practitioner" in contained or "PractitionerRole" in contained:
            problems.append(f"{item.ref}: staff still contained for a masked caller")
        for field in ("note", "text"):
            if field in resource:
                problems.append(f"{item.ref}: `{field}` served to a masked caller")
        named = [s for s in STAFF_STRINGS if s in text]
        if named:
            problems.append(f"{item.ref}: staff data {named} served to a masked caller")
        if "REDACTED" not in caveats:
            problems.append(f"{item.ref}: masked view without REDACTED")
        for field, value in (("author", resource.get("author")), ("owner", resource.get("owner"))):
            if isinstance(value, dict) and str(value.get("reference", "")).startswith("#"):
                problems.append(f"{item.ref}: {field} still points at a contained resource")
    elif item.type in ("QuestionnaireResponse", "Task"):
        if "REDACTED" in caveats:
            problems.append(f"{item.ref}: REDACTED for a caller who may see staff")
        if STAFF_NAME not in text:
            problems.append(f"{item.ref}: staff removed for a caller who may see them")
    if item.type == "Task":
        if viewer.impact_masked(item):
            if "output" in resource:
                problems.append(f"{item.ref}: output served without impact-summary at practice level")
            if "MASKED" not in caveats:
                problems.append(f"{item.ref}: output masked without MASKED")
        else:
            if "output" not in resource:
                problems.append(f"{item.ref}: output removed from a caller with impact-summary")
            if "MASKED" in caveats:
                problems.append(f"{item.ref}: MASKED for a caller with impact-summary")
    return problems


def normalise_not_found(response, id_: str) -> tuple:
    """A 404's status, body (id and random ids blanked) and caching headers: comparable across ids."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", body_text(response))
    text = re.sub(r"\b[0-9a-f]{32}\b", "<hex>", text).replace(id_, "<id>")
    headers = {k: v for k, v in response.headers.items()
               if k.lower() not in ("date", "x-request-id", "content-length")}
    return response.status_code, text, headers


def bundle_entries(bundle: dict, mode: str | None = "match") -> list[dict]:
    return [e for e in bundle.get("entry") or [] if mode is None or (e.get("search") or {}).get("mode") == mode]


def ids_of(entries: list[dict], type_: str | None = None) -> list[str]:
    return [e["resource"]["id"] for e in entries
            if "resource" in e and (type_ is None or e["resource"]["resourceType"] == type_)]


def next_url(bundle: dict) -> str | None:
    for link in bundle.get("link") or []:
        if link.get("relation") == "next":
            return link["url"]
    return None


def local(url: str, world: World) -> str:
    base = world.config.public_base
    return url[len(base):] if url.startswith(base) else url
