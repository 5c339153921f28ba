"""Policy enforcement on writes: who may write governed data (role x purpose, own practice only),
`for` moved to another practice, client labels never widening access, conditional operations
that must not reach what the caller may not see, Consents (contract and tier read-only over the
API; service overrides take effect on the next request). A world of its own ("writes")."""
from __future__ import annotations

import copy
import json
import uuid

import pytest

from adapter.policy import override_consent
from tests.policy_oracle import OPERATIONAL, contract_consent
from tests.policy_world import (CALLER_NAMES, CONTRACT_BY_ID, CS_DATA_TYPE, FHIR_JSON, PRACTICE_BODIES, ROLE_ORG,
                                STORES, get_world, security)

ACTION = "https://fhir.dandthub.co.uk/Id/action"
SUBMISSION = "https://fhir.dandthub.co.uk/Id/submission"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


@pytest.fixture(scope="module", params=STORES)
def world(request):
    w = get_world(request, request.param, "writes")
    w.set_phase("all-contracts")
    return w


def _json(http, method: str, path: str, body: dict, **headers):
    return http.open(path, method=method, data=json.dumps(body), headers={"Content-Type": FHIR_JSON, **headers})


def _org(ods: str) -> dict:
    return {"reference": f"Organization/{ods}", "identifier": {"system": ODS, "value": ods}}


def new_task(practice: str, **changes) -> dict:
    task = copy.deepcopy(PRACTICE_BODIES[practice]["task"])
    task.pop("id")
    task.pop("meta")
    task["identifier"] = [{"system": ACTION, "value": f"A-{practice}-{uuid.uuid4().hex[:8]}"}]
    task.update(changes)
    return task


def new_qr(practice: str) -> dict:
    qr = copy.deepcopy(PRACTICE_BODIES[practice]["qr-global"])
    qr.pop("id")
    qr.pop("meta")
    qr["identifier"] = {"system": SUBMISSION, "value": f"S-{practice}-{uuid.uuid4().hex[:8]}"}
    return qr


def _identifier(body: dict) -> str:
    ident = body["identifier"][0] if isinstance(body["identifier"], list) else body["identifier"]
    return f"{ident['system']}|{ident['value']}"


def _stored(world, type_: str, identifier: str) -> list[dict]:
    """What the store holds under a business identifier (as service sees it)."""
    http = world.client("service", "HOPERAT")
    bundle = http.get(f"/fhir/{type_}", query_string={"identifier": identifier}).get_json()
    return [e["resource"] for e in bundle.get("entry") or [] if e.get("search", {}).get("mode") == "match"]


def _forbidden(response) -> str | None:
    if response.status_code != 403:
        return f"{response.status_code}, want 403: {response.get_data(as_text=True)[:300]}"
    body = response.get_json() or {}
    if body.get("resourceType") != "OperationOutcome" or not any(
            i.get("code") == "forbidden" for i in body.get("issue") or []):
        return f"403 without an OperationOutcome `forbidden`: {body}"
    return None


def may_write(role: str, org: str | None, purpose: str, practice: str) -> bool:
    """The issue: service clients, and practice clients for their own practice, with an operational purpose."""
    return purpose in OPERATIONAL and (role == "service" or (role == "practice" and org == practice))


@pytest.mark.parametrize("purpose", ["HMARKT", "HOPERAT", "HQUALIMP"])
@pytest.mark.parametrize("name", CALLER_NAMES)
def test_who_may_create_governed_data(world, name, purpose):
    role, org = ROLE_ORG[name]
    http = world.client(name, purpose)
    problems = []
    targets = {org, "B00001"} if role == "practice" else {"A00001"}
    for practice in sorted(targets):
        for type_, body in (("Task", new_task(practice)), ("QuestionnaireResponse", new_qr(practice))):
            response = _json(http, "POST", f"/fhir/{type_}", body)
            stored = _stored(world, type_, _identifier(body))
            if may_write(role, org, purpose, practice):
                if response.status_code != 201 or len(stored) != 1:
                    problems.append(f"{type_} of {practice}: {response.status_code}, {len(stored)} stored; want 201")
            else:
                why = _forbidden(response)
                if why or stored:
                    problems.append(f"{type_} of {practice}: {why or ''} {len(stored)} stored")
    # Never writable by a practice (nor anyone but service): MeasureReports, Organizations.
    report = copy.deepcopy(PRACTICE_BODIES["A00001"]["usage"])
    report.pop("meta")
    report["id"] = f"usage-x-{uuid.uuid4().hex[:8]}"
    response = _json(http, "PUT", f"/fhir/MeasureReport/{report['id']}", report)
    if role == "service" and purpose in OPERATIONAL:
        if response.status_code not in (200, 201):
            problems.append(f"MeasureReport by service: {response.status_code}")
    elif _forbidden(response):
        problems.append(f"MeasureReport: {_forbidden(response)}")
    assert not problems, "\n".join(problems)


def test_a_practice_cannot_move_its_task_to_another_practice(world):
    http = world.client("practice-A00001", "HOPERAT")
    body = new_task("A00001")
    created = _json(http, "POST", "/fhir/Task", body)
    assert created.status_code == 201
    id_ = created.headers["Location"].split("/Task/")[1].split("/")[0]
    moved = dict(body, id=id_)
    moved["for"] = _org("B00001")
    assert _forbidden(_json(http, "PUT", f"/fhir/Task/{id_}", moved)) is None
    (stored,) = _stored(world, "Task", _identifier(body))
    assert stored["for"]["reference"] == "Organization/A00001" and stored["meta"]["versionId"] == "1"


def test_a_practice_cannot_update_another_practices_task(world):
    http = world.client("practice-A00001", "HOPERAT")
    theirs = copy.deepcopy(PRACTICE_BODIES["B00001"]["task"])
    theirs.pop("meta")
    response = _json(http, "PUT", f"/fhir/Task/{theirs['id']}", dict(theirs, status="completed"))
    assert response.status_code in (403, 404), response.get_data(as_text=True)
    assert "Jo Bloggs" not in response.get_data(as_text=True)
    (stored,) = _stored(world, "Task", f"{ACTION}|{theirs['id']}")
    assert stored["status"] == "in-progress" and stored["meta"]["versionId"] == "1"


def test_labels_sent_by_a_client_never_widen_access(world):
    """A practice posts its own Task claiming to be `usage` data (which the baseline shows everyone):
    the stored labels are the server's, and an external client still cannot see it."""
    http = world.client("practice-A00001", "HOPERAT")
    body = new_task("A00001", meta={"security": [
        {"system": CS_DATA_TYPE, "code": "usage"},
        {"system": "https://fhir.dandthub.co.uk/CodeSystem/granularity", "code": "practice"},
        {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}]})
    response = _json(http, "POST", "/fhir/Task", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    id_ = response.headers["Location"].split("/Task/")[1].split("/")[0]
    (stored,) = _stored(world, "Task", _identifier(body))
    labels = security(stored, CS_DATA_TYPE)
    assert "usage" not in labels and {"actions", "impact-summary"} <= labels, labels
    assert security(stored, "http://terminology.hl7.org/CodeSystem/v3-Confidentiality") == {"R"}
    for name, purpose in (("external", "HMARKT"), ("icb-QAA", "HOPERAT"), ("pcn-U00001", "HMARKT")):
        other = world.client(name, purpose)
        assert other.get(f"/fhir/Task/{id_}").status_code == 404, name
        found = other.get("/fhir/Task", query_string={"identifier": _identifier(body)}).get_json()
        assert found.get("total") == 0, (name, found)


def test_conditional_operations_do_not_reach_what_the_caller_may_not_see(world):
    http = world.client("practice-A00001", "HOPERAT")
    theirs = f"{ACTION}|A-B00001-1"
    # conditional update: a hidden match is no match; B00001's Task is untouched
    response = _json(http, "PUT", f"/fhir/Task?identifier={theirs}", new_task("A00001"))
    assert response.status_code != 200, response.get_data(as_text=True)
    # conditional create: must not answer "it exists" (200 with the hidden resource)
    response = _json(http, "POST", "/fhir/Task", new_task("A00001"), **{"If-None-Exist": f"identifier={theirs}"})
    assert response.status_code != 200 and "A-B00001-1" not in response.headers.get("Location", "")
    assert "Jo Bloggs" not in response.get_data(as_text=True) or response.status_code == 201
    # conditional delete
    http.delete(f"/fhir/Task?identifier={theirs}")
    (stored,) = _stored(world, "Task", theirs)
    assert stored["meta"]["versionId"] == "1" and stored["for"]["reference"] == "Organization/B00001"
    # a PCN that sees B00002's Task (contract C-U3) may still not delete it
    pcn = world.client("pcn-U00003", "HOPERAT")
    assert pcn.get("/fhir/Task/A-B00002-1").status_code == 200
    assert _forbidden(pcn.delete(f"/fhir/Task?identifier={ACTION}|A-B00002-1")) is None
    assert _forbidden(pcn.delete("/fhir/Task/A-B00002-1")) is None
    assert pcn.get("/fhir/Task/A-B00002-1").status_code == 200


# -- Consents -----------------------------------------------------------------------------------

def test_contract_and_tier_consents_cannot_be_written_over_the_api(world):
    service = world.client("service", "HOPERAT")
    contract = contract_consent(CONTRACT_BY_ID["C-U3"])
    changed = copy.deepcopy(contract)
    changed["status"] = "inactive"
    assert _forbidden(_json(service, "PUT", "/fhir/Consent/C-U3", changed)) is None
    assert _forbidden(service.delete("/fhir/Consent/C-U3")) is None
    new_contract = copy.deepcopy(contract)
    new_contract["id"] = "C-NEW"
    for ident in new_contract.get("identifier") or []:
        ident["value"] = "C-NEW"
    if isinstance(new_contract.get("identifier"), dict):
        new_contract["identifier"]["value"] = "C-NEW"
    assert _forbidden(_json(service, "PUT", "/fhir/Consent/C-NEW", new_contract)) is None
    tier = service.get("/fhir/Consent/policy-baseline")
    assert tier.status_code == 200
    body = tier.get_json()
    body["status"] = "inactive"
    assert _forbidden(_json(service, "PUT", "/fhir/Consent/policy-baseline", body)) is None
    assert _forbidden(service.delete("/fhir/Consent/policy-service")) is None
    assert service.get("/fhir/Consent/C-U3").get_json()["meta"]["versionId"] == "1"
    assert world.client("pcn-U00003", "HOPERAT").get("/fhir/Task/A-B00002-1").status_code == 200


@pytest.mark.parametrize("name", [n for n in CALLER_NAMES if n != "service"])
def test_only_service_writes_override_consents(world, name):
    http = world.client(name, "HOPERAT")
    override = override_consent(f"ov-{uuid.uuid4().hex[:8]}", "policy-baseline", orgs=[ROLE_ORG[name][1] or "QAA"],
                                data_types=["usage"])
    assert _forbidden(_json(http, "PUT", f"/fhir/Consent/{override['id']}", override)) is None


def test_a_service_override_withdrawing_a_contracts_tier_takes_effect_on_the_next_request(world):
    service = world.client("service", "HOPERAT")
    pcn = world.client("pcn-U00003", "HOPERAT")
    assert pcn.get("/fhir/QuestionnaireResponse/S-B00002-I").status_code == 200
    override = override_consent("ov-u3-indepth", "C-U3", orgs=["U00003"], data_types=["indepth-assessment"])
    response = _json(service, "PUT", "/fhir/Consent/ov-u3-indepth", override)
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    try:
        assert pcn.get("/fhir/QuestionnaireResponse/S-B00002-I").status_code == 404
        assert pcn.get("/fhir/QuestionnaireResponse/S-B00002-G").status_code == 200
        assert pcn.get("/fhir/Task/A-B00002-1").status_code == 200
        chained = pcn.get("/fhir/Task?focus:QuestionnaireResponse.status=completed").get_json()
        assert chained["total"] == 0 and not chained.get("entry"), chained
        tasks = pcn.get("/fhir/Task?_include=Task:focus").get_json()
        assert {e["resource"]["id"] for e in tasks["entry"] if e["search"]["mode"] == "match"} == {
            "A-B00002-1", "A-B00003-1"}
        assert not [e for e in tasks["entry"] if e["search"]["mode"] == "include"
                    and e["resource"]["resourceType"] == "QuestionnaireResponse"]
        has = pcn.get("/fhir/QuestionnaireResponse?_has:Task:focus:status=in-progress").get_json()
        assert has["total"] == 0, has
    finally:
        assert service.delete("/fhir/Consent/ov-u3-indepth").status_code in (200, 204)
    assert pcn.get("/fhir/QuestionnaireResponse/S-B00002-I").status_code == 200


def test_a_service_override_withdraws_a_partners_access(world):
    """An override on the service tier naming one client: that client loses Action Data."""
    world.register("pw-partner", "service", None)
    partner = world.client_for("pw-partner", "HOPERAT")
    service = world.client("service", "HOPERAT")
    assert partner.get("/fhir/Task/A-A00001-1").status_code == 200
    override = override_consent("ov-partner", "policy-service", clients=["pw-partner"], data_types=["actions"])
    assert _json(service, "PUT", "/fhir/Consent/ov-partner", override).status_code in (200, 201)
    try:
        assert partner.get("/fhir/Task/A-A00001-1").status_code == 404
        assert partner.get("/fhir/QuestionnaireResponse/S-A00001-I").status_code == 200
        assert service.get("/fhir/Task/A-A00001-1").status_code == 200
    finally:
        assert service.delete("/fhir/Consent/ov-partner").status_code in (200, 204)
    assert partner.get("/fhir/Task/A-A00001-1").status_code == 200


def test_a_task_is_served_without_output_when_impact_summary_is_withdrawn(world):
    """No tier of the table separates Action Data from Impact Summary at practice level, so the
    `output` mask needs an override: withdraw impact-summary from C-U3 for U00003."""
    service = world.client("service", "HOPERAT")
    pcn = world.client("pcn-U00003", "HOPERAT")
    assert "output" in pcn.get("/fhir/Task/A-B00002-1").get_json()
    override = override_consent("ov-u3-impact", "C-U3", orgs=["U00003"], data_types=["impact-summary"])
    assert _json(service, "PUT", "/fhir/Consent/ov-u3-impact", override).status_code in (200, 201)
    try:
        for task in [pcn.get("/fhir/Task/A-B00002-1").get_json()] + [
                e["resource"] for e in pcn.get("/fhir/Task?_count=50").get_json().get("entry") or []
                if e["search"]["mode"] == "match"]:
            assert "output" not in task, task["id"]
            assert "MASKED" in security(task, "http://terminology.hl7.org/CodeSystem/v3-ObservationValue")
            assert "REDACTED" in security(task, "http://terminology.hl7.org/CodeSystem/v3-ObservationValue")
        assert pcn.get("/fhir/MeasureReport/impact-summary-B00002").status_code == 404
        assert "output" in service.get("/fhir/Task/A-B00002-1").get_json()
    finally:
        assert service.delete("/fhir/Consent/ov-u3-impact").status_code in (200, 204)
    assert "output" in pcn.get("/fhir/Task/A-B00002-1").get_json()
