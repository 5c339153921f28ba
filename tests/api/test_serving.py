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
        except requests.ConnectionError:
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


def test_dthub_serve_uses_its_own_host_and_port_never_the_host_header(run_server):
    port = _free_port()
    process = run_server([str(BIN / "dthub"), "serve", "--port", str(port), "--workers", "1"], {})
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    metadata = requests.get(f"{url}/fhir/metadata", headers={"Host": "evil.example"}, timeout=10).json()
    assert metadata["implementation"]["url"] == f"{url}/fhir"
    created = requests.put(f"{url}/fhir/Organization/A81001", json=organization(),
                           headers={"Content-Type": FHIR_JSON, "Host": "evil.example"}, timeout=10)
    assert created.status_code == 201
    assert created.headers["Location"].startswith(f"{url}/fhir/Organization/A81001")


def test_gunicorn_wsgi_app_takes_base_url_from_the_environment(run_server):
    port = _free_port()
    process = run_server([str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "2",
                          "-b", f"127.0.0.1:{port}", "wsgi:app"],
                         {"DTHUB_BASE_URL": "https://fhir.example.nhs.uk"})
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    metadata = requests.get(f"{url}/fhir/metadata", timeout=10).json()
    assert metadata["implementation"]["url"] == "https://fhir.example.nhs.uk/fhir"
    created = requests.put(f"{url}/fhir/Organization/A81001", json=organization(),
                           headers={"Content-Type": FHIR_JSON}, timeout=10)
    assert created.headers["Location"] == "https://fhir.example.nhs.uk/fhir/Organization/A81001/_history/1"
