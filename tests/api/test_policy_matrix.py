"""`GET /fhir/$policy-matrix` over HTTP: one `grant` per data type x level whose scope is the
oracle's expected_scope, for every caller x purpose x contract world, on both stores; and
`?client-id=` (service callers only: another client's grants for its default purpose)."""
from __future__ import annotations

import pytest

from tests.policy_oracle import ALL, DATA_TYPES, LEVELS, PRACTICES, expected_scope
from tests.policy_world import CALLER_NAMES, ROLE_ORG, STORES, combo_id, combos, get_world, leaks


@pytest.fixture(scope="module", params=STORES)
def world(request):
    return get_world(request, request.param, "reads")


def _parts(parameter: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for part in parameter.get("part") or []:
        out.setdefault(part["name"], []).append(part)
    return out


def matrix_problems(matrix: dict, role: str, org: str | None, purpose: str, contracts: list[dict]) -> list[str]:
    if matrix.get("resourceType") != "Parameters":
        return [f"not a Parameters: {str(matrix)[:300]}"]
    problems = []
    grants = [p for p in matrix.get("parameter") or [] if p.get("name") == "grant"]
    cells = []
    for grant in grants:
        p = _parts(grant)
        try:
            cells.append((p["data-type"][0]["valueCoding"]["code"], p["level"][0]["valueCoding"]["code"]))
        except (KeyError, IndexError):
            problems.append(f"a grant without data-type/level: {grant}")
    if cells != [(d, level) for d in DATA_TYPES for level in LEVELS]:
        problems.append(f"grant cells {cells}")
    head = {p["name"]: p for p in matrix.get("parameter") or [] if p.get("name") != "grant"}
    if (head.get("purpose") or {}).get("valueCoding", {}).get("code") != purpose:
        problems.append(f"purpose {head.get('purpose')}, want {purpose}")
    if (head.get("role") or {}).get("valueCoding", {}).get("code") != role:
        problems.append(f"role {head.get('role')}, want {role}")
    for grant, (data_type, level) in zip(grants, cells):
        want = expected_scope(role, org, purpose, data_type, level, contracts)
        p = _parts(grant)
        scope = _parts((p.get("scope") or [{}])[0])
        count = (scope.get("count") or [{}])[0].get("valueInteger")
        listed = frozenset(x["valueReference"]["identifier"]["value"] for x in scope.get("practice", []))
        if want == ALL:
            if not (scope.get("all") and scope["all"][0].get("valueBoolean") is True and count == len(PRACTICES)):
                problems.append(f"{data_type}/{level}: scope {scope}, want all {len(PRACTICES)}")
        elif listed != want or count != len(want) or scope.get("all"):
            problems.append(f"{data_type}/{level}: count {count} practices {sorted(listed)}, want {sorted(want)}")
        sources = [s["valueReference"]["reference"] for s in p.get("source", [])]
        if bool(sources) != bool(want):
            problems.append(f"{data_type}/{level}: sources {sources} for scope {want}")
    return problems


@pytest.mark.parametrize("combo", combos(), ids=combo_id)
def test_policy_matrix_is_the_oracles_scope_for_every_cell(world, combo):
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer, http = world.viewer(name, purpose), world.client(name, purpose)
    response = http.get("/fhir/$policy-matrix")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    problems = matrix_problems(response.get_json(), viewer.role, viewer.org, purpose, viewer.contracts)
    found = leaks(response, viewer)
    if found:
        problems.append(f"the matrix names {found}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("registered", [("HQUALIMP",), ("HOPERAT", "HMARKT"), ("HMARKT", "HOPERAT"), ()],
                         ids=lambda r: "-".join(r) or "none")
@pytest.mark.parametrize("name", CALLER_NAMES)
def test_service_asks_for_another_clients_matrix_for_its_default_purpose(world, name, registered):
    world.set_phase("all-contracts")
    role, org = ROLE_ORG[name]
    client_id = f"pw-mx-{name}-{'-'.join(registered) or 'none'}"
    world.register(client_id, role, org, purposes=registered)
    default = registered[0] if registered else "HMARKT"
    response = world.client("service", "HOPERAT").get("/fhir/$policy-matrix", query_string={"client-id": client_id})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    matrix = response.get_json()
    head = {p["name"]: p for p in matrix["parameter"] if p["name"] != "grant"}
    assert head["client-id"]["valueString"] == client_id
    problems = matrix_problems(matrix, role, org, default, world.viewer(name, default).contracts)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [n for n in CALLER_NAMES if n != "service"])
def test_only_service_may_ask_for_another_clients_matrix(world, name):
    world.set_phase("all-contracts")
    http = world.client(name, "HOPERAT")
    for other in ("pw-service", "pw-icb-QAA", "pw-no-such-client"):
        if other == world.client_id(name):
            continue
        response = http.get("/fhir/$policy-matrix", query_string={"client-id": other})
        body = response.get_json() or {}
        assert response.status_code == 403 and body.get("resourceType") == "OperationOutcome", (other, body)
        assert any(i.get("code") == "forbidden" for i in body.get("issue") or [])
