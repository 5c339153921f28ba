"""`dthub serve` and `gunicorn wsgi:app` as a user runs them: real processes, real HTTP."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import FHIR_JSON, organization

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or busy starting
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


@pytest.fixture
def run_server(tmp_path):
    started = []

    def start(argv: list[str], env_extra: dict) -> None:
        env = {**os.environ, "DTHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}", **env_extra}
        env.pop("DTHUB_BASE_URL", None) if "DTHUB_BASE_URL" not in env_extra else None
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _cli_env(tmp_path, env_extra: dict) -> dict:
    return {**os.environ, "DTHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}", **env_extra}


def _register_cli_client(tmp_path, env_extra: dict) -> str:
    """The README's flow, part one: make a key pair and register a service client. Returns the key file."""
    env = _cli_env(tmp_path, env_extra)
    dthub = str(BIN / "dthub")
    key, jwks = str(tmp_path / "svc-key.json"), str(tmp_path / "svc-jwks.json")
    for argv in ([dthub, "keygen", "--kid", "svc-1", "--private", key, "--jwks", jwks],
                 [dthub, "clients", "add", "--client-id", "svc", "--role", "service", "--jwks", jwks,
                  "--scope", "system/*.cruds", "--purpose", "HOPERAT"]):
        subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
    return key


def _cli_token(tmp_path, env_extra: dict, token_url: str) -> dict:
    """Part two: `dthub token` prints a bearer token."""
    key = _register_cli_client(tmp_path, env_extra)
    token = subprocess.run([str(BIN / "dthub"), "token", "--client-id", "svc", "--key", key,
                            "--scope", "system/*.cruds", "--token-url", token_url],
                           cwd=ROOT, env=_cli_env(tmp_path, env_extra), check=True, capture_output=True, text=True)
    return {"Authorization": f"Bearer {token.stdout.strip()}"}


def test_dthub_serve_uses_its_own_host_and_port_never_the_host_header(run_server, tmp_path):
    port = _free_port()
    process = run_server([str(BIN / "dthub"), "serve", "--port", str(port), "--workers", "1"], {})
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    metadata = requests.get(f"{url}/fhir/metadata", headers={"Host": "evil.example"}, timeout=10).json()
    assert metadata["implementation"]["url"] == f"{url}/fhir"
    auth = _cli_token(tmp_path, {}, f"{url}/auth/token")
    created = requests.put(f"{url}/fhir/Organization/A81001", json=organization(),
                           headers={"Content-Type": FHIR_JSON, "Host": "evil.example", **auth}, timeout=10)
    assert created.status_code == 201
    assert created.headers["Location"].startswith(f"{url}/fhir/Organization/A81001")


def test_gunicorn_wsgi_app_takes_base_url_from_the_environment(run_server, tmp_path):
    port = _free_port()
    process = run_server([str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "2",
                          "-b", f"127.0.0.1:{port}", "wsgi:app"],
                         {"DTHUB_BASE_URL": "https://fhir.example.nhs.uk"})
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    metadata = requests.get(f"{url}/fhir/metadata", timeout=10).json()
    assert metadata["implementation"]["url"] == "https://fhir.example.nhs.uk/fhir"
    # The assertion's audience is the configured token URL, even though we reach the server locally.
    from adapter.auth.assertion import load_private_jwk, sign_assertion

    key = _register_cli_client(tmp_path, {"DTHUB_BASE_URL": "https://fhir.example.nhs.uk"})
    jwk = load_private_jwk(Path(key))
    assertion = sign_assertion(jwk, "svc", "https://fhir.example.nhs.uk/auth/token")
    token = requests.post(f"{url}/auth/token", timeout=10, data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion, "scope": "system/*.cruds"}).json()["access_token"]
    created = requests.put(f"{url}/fhir/Organization/A81001", json=organization(),
                           headers={"Content-Type": FHIR_JSON, "Authorization": f"Bearer {token}"}, timeout=10)
    assert created.headers["Location"] == "https://fhir.example.nhs.uk/fhir/Organization/A81001/_history/1"


def _settled_log(process: subprocess.Popen) -> list[str]:
    process.terminate()
    _, err = process.communicate(timeout=15)
    return [line for line in err.decode().splitlines() if "worker heap settled" in line]


@pytest.mark.parametrize("how", ["gunicorn wsgi:app", "dthub serve"])
def test_each_worker_freezes_its_start_up_heap_after_loading_the_app(run_server, how):
    """gunicorn picks up the root gunicorn.conf.py by itself, and `dthub serve` sets the same hook
    (adapter/heap.py): each worker reports the start-up objects it froze."""
    port = _free_port()
    argv = ([str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"] if how.startswith("gunicorn")
            else [str(BIN / "dthub"), "serve", "--port", str(port), "--workers", "1"])
    process = run_server(argv, {})
    _wait_healthy(f"http://127.0.0.1:{port}", process)
    lines = _settled_log(process)
    assert len(lines) == 1, lines
    frozen = int(lines[0].split("settled, ")[1].split()[0])
    assert frozen > 10_000  # the app's models, profiles and definitions, not a handful of objects
