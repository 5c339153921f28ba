"""`dthub clients`, `dthub keygen`, `dthub token` and `dthub keys rotate`, on both stores."""
from __future__ import annotations

import json
import time

import requests

from adapter.cli import main
from tests.helpers import FHIR_JSON, organization


def _dthub(monkeypatch, capsys, database_url, *argv) -> tuple[int, str, str]:
    monkeypatch.setenv("DTHUB_DATABASE_URL", database_url)
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_keygen_clients_and_token_end_to_end(live_server, monkeypatch, capsys, database_url, tmp_path):
    run = lambda *a: _dthub(monkeypatch, capsys, database_url, *a)  # noqa: E731
    private, jwks = tmp_path / "key.json", tmp_path / "jwks.json"
    assert run("keygen", "--kid", "k1", "--private", str(private), "--jwks", str(jwks))[0] == 0
    assert "d" not in json.loads(jwks.read_text())["keys"][0]

    code, _out, err = run("clients", "add", "--client-id", "prac", "--org", "A81001", "--role", "practice",
                          "--jwks", str(jwks))
    assert code == 2 and "not in the store" in err  # the organisation must exist first
    requests.put(f"{live_server.fhir}/Organization/A81001", json=organization(),
                 headers={**live_server.headers, "Content-Type": FHIR_JSON}, timeout=10)
    code, out, _ = run("clients", "add", "--client-id", "prac", "--org", "A81001", "--role", "practice",
                       "--jwks", str(jwks), "--scope", "system/Organization.rs", "--purpose", "HOPERAT",
                       "--purpose", "HQUALIMP")
    assert code == 0 and "prac\tpractice\tA81001" in out
    assert run("clients", "add", "--client-id", "ext", "--role", "external", "--jwks", str(jwks))[0] == 0
    code, out, _ = run("clients", "list")
    assert {line.split("\t")[0] for line in out.splitlines()} >= {"prac", "ext", "live-service"}

    code, token, _ = run("token", "--client-id", "prac", "--key", str(private), "--scope", "system/*.rs",
                         "--token-url", live_server.token_url)
    assert code == 0
    auth = {"Authorization": f"Bearer {token.strip()}"}
    assert requests.get(f"{live_server.fhir}/Organization/A81001", headers=auth, timeout=10).status_code == 200

    assert run("clients", "disable", "--client-id", "prac")[0] == 0
    time.sleep(1.2)  # the server remembers a client record for DTHUB_CLIENT_CACHE_SECONDS (1 s)
    assert requests.get(f"{live_server.fhir}/Organization/A81001", headers=auth, timeout=10).status_code == 401
    code, _, err = run("token", "--client-id", "prac", "--key", str(private), "--token-url", live_server.token_url)
    assert code == 1 and "invalid_client" in err
    assert run("clients", "enable", "--client-id", "prac")[0] == 0

    new_private, new_jwks = tmp_path / "key2.json", tmp_path / "jwks2.json"
    run("keygen", "--kid", "k2", "--private", str(new_private), "--jwks", str(new_jwks))
    assert run("clients", "rotate-keys", "--client-id", "prac", "--jwks", str(new_jwks))[0] == 0
    old = run("token", "--client-id", "prac", "--key", str(private), "--token-url", live_server.token_url)
    assert old[0] == 1
    new = run("token", "--client-id", "prac", "--key", str(new_private), "--token-url", live_server.token_url)
    assert new[0] == 0


def test_client_registration_errors_are_reported_not_raised(monkeypatch, capsys, database_url, tmp_path):
    run = lambda *a: _dthub(monkeypatch, capsys, database_url, *a)  # noqa: E731
    private, jwks = tmp_path / "key.json", tmp_path / "jwks.json"
    run("keygen", "--kid", "k1", "--private", str(private), "--jwks", str(jwks))
    assert run("clients", "add", "--client-id", "s", "--role", "service", "--jwks", str(jwks),
               "--scope", "system/*.everything")[0] == 2
    assert run("clients", "add", "--client-id", "s", "--role", "service", "--jwks", str(private))[0] == 2
    assert run("clients", "add", "--client-id", "s", "--role", "service", "--jwks", str(jwks))[0] == 0
    assert run("clients", "add", "--client-id", "s", "--role", "service", "--jwks", str(jwks))[0] == 2
    assert run("clients", "disable", "--client-id", "nobody")[0] == 2
    assert run("clients", "add", "--client-id", "p", "--role", "icb", "--jwks", str(jwks))[0] == 2


def test_keys_rotate_command_keeps_issued_tokens_valid(live_server, monkeypatch, capsys, database_url):
    before = live_server.headers
    code, out, _ = _dthub(monkeypatch, capsys, database_url, "keys", "rotate")
    assert code == 0 and "new signing key" in out
    assert requests.get(f"{live_server.fhir}/_history?_count=1", headers=before, timeout=10).status_code == 200


def test_demo_clients_cover_every_role_and_each_gets_a_working_token(live_server, monkeypatch, capsys,
                                                                      database_url, tmp_path):
    keys = tmp_path / "demo-keys"
    code, out, _ = _dthub(monkeypatch, capsys, database_url, "clients", "demo", "--keys-dir", str(keys))
    assert code == 0
    roles = {"service", "external", "icb", "pcn", "federation", "practice"}
    assert {line.split("role=")[1].split()[0] for line in out.splitlines() if "role=" in line} == roles
    again = _dthub(monkeypatch, capsys, database_url, "clients", "demo", "--keys-dir", str(keys))
    assert again[0] == 0  # idempotent: a second `make run` keeps clients and keys
    for line in (l for l in out.splitlines() if "token:" in l):
        client_id = line.split()[0]
        key = line.rsplit("--key ", 1)[1]
        code, token, err = _dthub(monkeypatch, capsys, database_url, "token", "--client-id", client_id,
                                  "--key", key, "--token-url", live_server.token_url)
        assert code == 0, err
        response = requests.get(f"{live_server.fhir}/Organization/C82016",
                                headers={"Authorization": f"Bearer {token.strip()}"}, timeout=10)
        assert response.status_code == 200, client_id
