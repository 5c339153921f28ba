"""Shared benchmark harness: stores, a gunicorn server under test, an HTTP load generator, reporting.

Standard library only on the client side (plus psycopg, already a dependency of the app, to create and
drop the PostgreSQL benchmark database), so a benchmark needs nothing beyond the project's own venv.

Pieces, each usable on its own by later benchmarks (search, import, auth):

* `sqlite_store(workdir)` / `postgresql_store(admin_url, dbname)` - context managers yielding a `Store`
  (database URL + server version); the PostgreSQL one drops and recreates the database on entry and
  drops it on exit.
* `GunicornServer(store.url, settings, workdir)` - context manager: builds the app once alone
  (migrations, shipped resources, first signing key), then `gunicorn wsgi:app` on a free loopback port
  with DTHUB_* set (rate limit off), waits until /healthz answers and every worker stays up; on exit
  SIGTERM, then SIGKILL of its own process group.  Reports its processes' CPU time (from /proc).
* `credentials_for(server, workdir)` - when the FHIR endpoint wants a bearer token: a client registered
  with the project's own CLI (`dthub keygen`, `dthub clients add`), tokens from `dthub token`.
* `put_all(...)` - parallel keep-alive PUTs (threads; the client side of a PUT is I/O bound).
* `measure(...)` - fixed-duration closed-loop load from `concurrency` worker *processes*, each with one
  keep-alive `http.client.HTTPConnection`; warm-up, then requests/s, latency percentiles, errors and
  the CPU used by client, server, PostgreSQL backends, other processes and the whole machine.
* `wait_for_quiet(...)`, `machine_info(...)`, `markdown_table(...)`, `write_json(...)`,
  `handle_termination()` (SIGTERM/SIGHUP/SIGINT all unwind through the context managers).

Load workers are spawned processes, so a script using `measure` needs the usual
`if __name__ == "__main__":` guard.  Every loop is bounded both in count and in time.
"""
from __future__ import annotations

import atexit
import http.client
import json
import multiprocessing as mp
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
FHIR_JSON = "application/fhir+json"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
DEFAULT_PG_ADMIN_URL = os.environ.get("DTHUB_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def venv_bin() -> Path:
    """The bin/ holding gunicorn: this interpreter's if it has one, else the project's .venv."""
    here = Path(sys.executable).parent
    return here if (here / "gunicorn").exists() else ROOT / ".venv" / "bin"


# --------------------------------------------------------------------------------------------------
# Termination: Ctrl-C and SIGTERM both unwind through `finally`/`with`, so cleanup always runs.
# --------------------------------------------------------------------------------------------------
def handle_termination() -> None:
    """Make SIGTERM/SIGHUP behave like Ctrl-C (KeyboardInterrupt) in the main process."""
    def _raise(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise)
    # A shell starting us in the background may have set SIGINT to "ignore"; Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)


# --------------------------------------------------------------------------------------------------
# Stores
# --------------------------------------------------------------------------------------------------
@dataclass
class Store:
    name: str  # "sqlite" | "postgresql"
    url: str  # SQLAlchemy URL given to the server as DTHUB_DATABASE_URL
    version: str
    dbname: str | None = None  # PostgreSQL database, for backend CPU accounting


def sqlite_version(python: str | None = None) -> str:
    """SQLite library version as the server's interpreter sees it."""
    python = python or str(venv_bin() / "python")
    try:
        out = subprocess.run([python, "-c", "import sqlite3; print(sqlite3.sqlite_version)"],
                             capture_output=True, text=True, timeout=30, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        import sqlite3

        return sqlite3.sqlite_version


@contextmanager
def sqlite_store(workdir: Path) -> Iterator[Store]:
    """A fresh SQLite file in `workdir` (removed with its -wal/-shm files on exit)."""
    path = Path(workdir) / "bench.sqlite3"
    try:
        yield Store("sqlite", f"sqlite:///{path}", sqlite_version())
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


_DBNAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _pg_admin(admin_url: str):
    import psycopg

    return psycopg.connect(admin_url, autocommit=True, connect_timeout=10)


def postgresql_version(admin_url: str = DEFAULT_PG_ADMIN_URL) -> str:
    with _pg_admin(admin_url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def _drop_database(admin_url: str, dbname: str) -> None:
    with _pg_admin(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@contextmanager
def postgresql_store(admin_url: str = DEFAULT_PG_ADMIN_URL, dbname: str = "dthub_bench") -> Iterator[Store]:
    """Drop and recreate `dbname` on the server of `admin_url`; drop it again on exit."""
    if not _DBNAME.match(dbname):
        raise ValueError(f"unsafe database name {dbname!r}")
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    with _pg_admin(admin_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    url = admin.set(drivername="postgresql+psycopg", database=dbname).render_as_string(hide_password=False)
    try:
        yield Store("postgresql", url, version, dbname=dbname)
    finally:
        _drop_database(admin_url, dbname)


def postgres_backend_pids(admin_url: str, dbname: str) -> list[int]:
    """PIDs of the PostgreSQL backends connected to `dbname` (for CPU accounting when local)."""
    try:
        with _pg_admin(admin_url) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                                (dbname,)).fetchall()
        return [r[0] for r in rows]
    except Exception:  # noqa: BLE001 - accounting is best effort
        return []


# --------------------------------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------------------------------
def process_cpu_seconds(pid: int) -> float | None:
    """utime+stime of one process (all its threads), or None when it is gone/unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14, 15)


def children_of(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            kids.extend(int(k) for k in text)
        return kids
    except OSError:
        pass
    for entry in Path("/proc").iterdir():  # fallback: scan ppid fields
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            if int(raw[raw.rindex(")") + 2:].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def background_busy_pct(seconds: float = 1.0) -> float:
    """How busy the machine is (all cores, %) over `seconds` while the benchmark itself is idle."""
    busy0, total0 = machine_cpu_times()
    time.sleep(seconds)
    busy1, total1 = machine_cpu_times()
    return 100.0 * (busy1 - busy0) / max(total1 - total0, 1.0)


def wait_for_quiet(max_busy_pct: float = 15.0, timeout: float = 60.0, window: float = 1.0,
                   say: Callable[[str], None] | None = None) -> float:
    """Wait (at most `timeout` s) until other processes leave the CPUs alone; returns the last busy %.

    On a 2-core machine one stray test run halves the numbers, so measurements start only when the
    machine is quiet, or after the timeout with the busy figure recorded next to the results."""
    deadline = time.monotonic() + timeout
    busy = background_busy_pct(window)
    warned = False
    while busy > max_busy_pct and time.monotonic() < deadline:
        if say and not warned:
            say(f"   machine {busy:.0f}% busy with other work; waiting up to {timeout:.0f}s for it to settle")
            warned = True
        busy = background_busy_pct(window)
    return busy


def machine_cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return float(total - idle), float(total)


# --------------------------------------------------------------------------------------------------
# The server under test
# --------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class GunicornSettings:
    workers: int = 2
    worker_class: str = "gthread"
    threads: int = 4
    extra_args: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        args = ["-w", str(self.workers), "-k", self.worker_class]
        if self.worker_class == "gthread":
            args += ["--threads", str(self.threads)]
        return args + list(self.extra_args)

    def describe(self) -> str:
        return " ".join(self.argv())


_LIVE_SERVERS: set["GunicornServer"] = set()


def _stop_live_servers() -> None:  # last resort, e.g. an exception inside cleanup itself
    for server in list(_LIVE_SERVERS):
        server.stop()


atexit.register(_stop_live_servers)


class GunicornServer:
    """`gunicorn wsgi:app` from the project root, as a context manager."""

    def __init__(self, database_url: str, settings: GunicornSettings | None = None, *,
                 workdir: Path, port: int | None = None, log_level: str = "WARNING",
                 extra_env: dict[str, str] | None = None, start_timeout: float = 90.0,
                 prepare: bool = True, settle_seconds: float = 1.5):
        self.database_url = database_url
        self.settings = settings or GunicornSettings()
        self.workdir = Path(workdir)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.base_url = f"http://{self.host}:{self.port}"
        self.log_level = log_level
        self.extra_env = extra_env or {}
        self.start_timeout = start_timeout
        self.prepare = prepare
        self.settle_seconds = settle_seconds
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / f"gunicorn-{self.port}.log"
        self._log = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def argv(self) -> list[str]:
        return [str(venv_bin() / "gunicorn"), *self.settings.argv(), "-b", f"{self.host}:{self.port}",
                "--graceful-timeout", "5", "wsgi:app"]

    def env(self) -> dict[str, str]:
        """The environment of the server (and of `dthub` CLI calls against its store)."""
        return {**os.environ, "DTHUB_DATABASE_URL": self.database_url, "DTHUB_BASE_URL": self.base_url,
                "DTHUB_PORT": str(self.port), "DTHUB_LOG_LEVEL": self.log_level,
                # A benchmark measures the server, not the per-client limiter (one client sends it all).
                "DTHUB_RATE_LIMIT_PER_MINUTE": "0", **self.extra_env}

    def prepare_store(self) -> None:
        """Build the app once, alone, before gunicorn: migrations, shipped resources and the first
        token-signing key are written by one process, so the workers' start-up only reads.

        (Without it, workers starting together on a fresh SQLite store can race on their first
        writes and one dies with "database is locked", which takes the gunicorn master down.)"""
        code = "from adapter import create_app; create_app()"
        out = subprocess.run([str(venv_bin() / "python"), "-c", code], cwd=ROOT, env=self.env(),
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"preparing the store failed ({out.returncode}):\n{out.stderr[-3000:]}")

    def start(self) -> "GunicornServer":
        if self.prepare:
            self.prepare_store()
        env = self.env()
        self._log = open(self.log_path, "wb")
        # Own session: Ctrl-C in the terminal reaches only the benchmark, which then stops the server.
        self.process = subprocess.Popen(self.argv(), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        _LIVE_SERVERS.add(self)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, body = http_get(self.host, self.port, "/healthz", timeout=2)
                if status == 200 and len(self.worker_pids()) >= self.settings.workers:
                    # One worker answering does not mean all of them booted: a worker that fails to
                    # build its app makes the master exit, so require the same workers for a while.
                    workers = sorted(self.worker_pids())
                    time.sleep(self.settle_seconds)
                    if self.process.poll() is None and sorted(self.worker_pids()) == workers:
                        status, body = http_get(self.host, self.port, "/healthz", timeout=2)
                        if status == 200:
                            return
                last = f"HTTP {status} {body[:200]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise RuntimeError(f"server not healthy after {self.start_timeout:.0f}s ({last}):\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.process
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            try:  # our own process group (start_new_session): reap any straggling worker
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            self.process = None
            _LIVE_SERVERS.discard(self)
            if self._log:
                self._log.close()
                self._log = None

    def __enter__(self) -> "GunicornServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- introspection -----------------------------------------------------------------------------
    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []

    def cpu_seconds(self) -> float:
        """CPU used so far by the master and its current workers."""
        if not self.process:
            return 0.0
        pids = [self.process.pid, *self.worker_pids()]
        return sum(process_cpu_seconds(p) or 0.0 for p in pids)


# --------------------------------------------------------------------------------------------------
# Credentials: SMART Backend Services through the project's own CLI, as an operator would do it
# --------------------------------------------------------------------------------------------------
class Credentials:
    """A benchmark API client: `dthub keygen`, `dthub clients add`, then `dthub token` when needed.

    A `service` client for direct care (purpose HOPERAT): it sees every row, as the searches and
    reads measured with it are meant to touch data (with HMARKT it would see aggregates only).
    Tokens live at most 300 s, so `headers()` fetches a fresh one when the current one is older than
    `refresh_after` seconds; take headers right before each phase (a phase must be shorter than that).
    """

    def __init__(self, server: GunicornServer, workdir: Path, *, client_id: str = "dthub-bench",
                 role: str = "service", scope: str = "system/*.cruds", refresh_after: float = 60.0):
        self.server = server
        self.workdir = Path(workdir)
        self.client_id = client_id
        self.role = role
        self.scope = scope
        self.refresh_after = refresh_after
        self.private = self.workdir / f"{client_id}-private.json"
        self.jwks = self.workdir / f"{client_id}-jwks.json"
        self._token: str | None = None
        self._token_at = 0.0

    def _dthub(self, *args: str) -> str:
        argv = [str(venv_bin() / "python"), "-m", "adapter.cli", *args]
        out = subprocess.run(argv, cwd=ROOT, env=self.server.env(), capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"dthub {' '.join(args[:2])} failed ({out.returncode}): {out.stderr.strip()[-1000:]}")
        return out.stdout

    def register(self) -> "Credentials":
        self._dthub("keygen", "--kid", f"{self.client_id}-key", "--private", str(self.private),
                    "--jwks", str(self.jwks))
        self._dthub("clients", "add", "--client-id", self.client_id, "--role", self.role,
                    "--jwks", str(self.jwks), "--scope", self.scope, "--purpose", "HOPERAT")
        return self

    def token(self) -> str:
        if self._token is None or time.monotonic() - self._token_at > self.refresh_after:
            out = self._dthub("token", "--client-id", self.client_id, "--key", str(self.private),
                              "--scope", self.scope, "--purpose", "HOPERAT",
                              "--token-url", f"{self.server.base_url}/auth/token")
            self._token, self._token_at = out.strip().splitlines()[-1], time.monotonic()
        return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


def needs_auth(server: GunicornServer, path: str = "/fhir/Organization/x") -> bool:
    """True when the FHIR endpoint answers 401 without a token (older builds had no auth)."""
    status, _ = http_get(server.host, server.port, path, headers={"Accept": FHIR_JSON})
    return status == 401


def credentials_for(server: GunicornServer, workdir: Path, **kwargs) -> Credentials | None:
    """Registered credentials when the server wants a token, else None."""
    return Credentials(server, workdir, **kwargs).register() if needs_auth(server) else None


# --------------------------------------------------------------------------------------------------
# Client helpers
# --------------------------------------------------------------------------------------------------
def http_get(host: str, port: int, path: str, *, timeout: float = 10,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def organization(ods: str, name: str, parent: str, postcode: str) -> dict:
    return {
        "resourceType": "Organization",
        "id": ods,
        "identifier": [{"system": ODS, "value": ods}],
        "active": True,
        "name": name,
        "partOf": {"reference": f"Organization/{parent}", "identifier": {"system": ODS, "value": parent}},
        "address": [{"postalCode": postcode}],
    }


@dataclass
class LoadResult:
    count: int
    ok: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p95_ms: float
    statuses: dict[str, int]
    error_samples: list[str]


def put_all(host: str, port: int, items: Sequence[tuple[str, bytes]], *, threads: int = 4,
            ok_statuses: Iterable[int] = (200, 201), timeout: float = 30.0,
            deadline_seconds: float = 600.0, content_type: str = FHIR_JSON,
            headers: Callable[[], dict[str, str]] | None = None) -> LoadResult:
    """PUT each (path, body) with `threads` keep-alive connections; bounded by `deadline_seconds`.

    `headers` (e.g. `Credentials.headers`) is called for each request, so long loads refresh tokens."""
    lock = threading.Lock()

    def extra() -> dict[str, str]:
        if headers is None:
            return {}
        with lock:
            return headers()

    ok_statuses = frozenset(ok_statuses)
    local = threading.local()
    conns: list[http.client.HTTPConnection] = []
    stop_at = time.monotonic() + deadline_seconds

    def one(path: str, body: bytes) -> tuple[int | str, float]:
        if time.monotonic() > stop_at:
            return "deadline", 0.0
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, port, timeout=timeout)
            with lock:
                conns.append(conn)
        request_headers = {"Content-Type": content_type, "Accept": content_type, **extra()}
        started = time.perf_counter()
        try:
            conn.request("PUT", path, body=body, headers=request_headers)
            resp = conn.getresponse()
            data = resp.read()
            status: int | str = resp.status
            if status not in ok_statuses:
                status = f"{status} {data[:300]!r}"
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            status = repr(exc)
        return status, time.perf_counter() - started

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    samples: list[str] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="put") as pool:
        futures = [pool.submit(one, path, body) for path, body in items]
        try:
            for fut in as_completed(futures):
                status, seconds = fut.result()
                key = str(status if isinstance(status, int) else status.split(" ", 1)[0])
                statuses[key] = statuses.get(key, 0) + 1
                if isinstance(status, int):
                    latencies.append(seconds)
                elif len(samples) < 5:
                    samples.append(status)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        finally:
            pool.shutdown(wait=True)
            for conn in conns:
                conn.close()
    elapsed = time.perf_counter() - started
    ok = sum(statuses.get(str(s), 0) for s in ok_statuses)
    latencies.sort()
    return LoadResult(len(items), ok, len(items) - ok, elapsed, ok / elapsed if elapsed else 0.0,
                      percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000, statuses, samples)


# --------------------------------------------------------------------------------------------------
# Load generator: closed loop, one keep-alive connection per worker process
# --------------------------------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, int(-(-pct * len(sorted_values) // 100)))  # ceil(pct/100 * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Measurement:
    label: str
    path: str  # a representative path (or pattern) of what was requested
    concurrency: int
    seconds: float  # measured window (mean over workers)
    requests: int  # completed in the window, errors included
    ok: int
    errors: int
    rps: float  # successful responses per second, all workers together
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_s: float  # CPU of the load generator's processes in the window
    server_cpu_s: float  # CPU of gunicorn (master + workers) in the window
    db_cpu_s: float | None  # CPU of the PostgreSQL backends in the window (None: not measured)
    machine_busy_pct: float  # whole machine, all cores, in the window
    other_cpu_pct: float  # of the machine's capacity, used by processes other than client/server/db
    client_cpu_ms_per_req: float
    server_cpu_ms_per_req: float
    error_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _load_worker(index: int, host: str, port: int, paths: Sequence[str], headers: dict, warmup: float,
                 seconds: float, seed: int, timeout: float, max_requests: int, ok_statuses: frozenset,
                 ready, go, results) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    rng = random.Random(seed * 1000 + index)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    latencies = array("d")
    errors = 0
    samples: list[str] = []
    n = 0
    try:
        conn.connect()
        ready.put(index)
        if not go.wait(timeout=120):  # the parent gave up
            return
        clock = time.perf_counter
        t0 = clock()
        warm_end, end = t0 + warmup, t0 + warmup + seconds
        measuring = False
        window_start = last_end = warm_end
        cpu0 = os.times()
        choice = rng.choice
        while n < max_requests:
            now = clock()
            if now >= end:
                break
            if not measuring and now >= warm_end:
                measuring, window_start, cpu0 = True, now, os.times()
            path = choice(paths)
            ok = False
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                ok = resp.status in ok_statuses
                if not ok and measuring and len(samples) < 3:
                    samples.append(f"{resp.status} {path} {body[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()  # the next request reconnects
                if measuring and len(samples) < 3:
                    samples.append(f"{path}: {exc!r}")
            done = clock()
            if measuring:
                n += 1
                last_end = done
                if ok:
                    latencies.append(done - now)
                else:
                    errors += 1
        cpu1 = os.times()
        window = max(last_end - window_start, 1e-9) if measuring else 0.0
        results.put((index, latencies.tobytes(), errors, n, window,
                     (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), samples))
    except Exception as exc:  # noqa: BLE001 - report, never hang the parent
        results.put((index, b"", errors, n, 0.0, 0.0, [f"worker failed: {exc!r}"]))
    finally:
        conn.close()


def _await_ready(procs, ready, results, timeout: float) -> None:
    """Every load worker connected, or an error naming why not (dead worker, refused connection)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < len(procs):
        try:
            ready.get(timeout=0.5)
            seen += 1
            continue
        except Exception:  # queue.Empty
            pass
        dead = [p for p in procs if p.exitcode is not None]
        if dead or time.monotonic() > deadline:
            detail = ""
            try:
                detail = "; ".join(str(x[-1]) for x in [results.get(timeout=0.5)])
            except Exception:  # noqa: BLE001
                pass
            raise RuntimeError(f"load workers not ready ({seen}/{len(procs)}; "
                               f"{len(dead)} exited, codes {[p.exitcode for p in dead]}) {detail}")


def measure(label: str, host: str, port: int, paths: Sequence[str], *, concurrency: int = 4,
            seconds: float = 10.0, warmup: float = 2.0, seed: int = 1, headers: dict | None = None,
            timeout: float = 10.0, max_requests_per_worker: int = 2_000_000,
            ok_statuses: Iterable[int] = (200,), server: GunicornServer | None = None,
            db_pids: Callable[[], list[int]] | None = None, display_path: str | None = None) -> Measurement:
    """GET random picks of `paths` for `warmup` + `seconds` from `concurrency` processes."""
    # Spawned, not forked: clean children (no inherited threads, sockets or DB connections). As with any
    # spawn, the calling script needs the `if __name__ == "__main__":` guard.
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    headers = {"Accept": FHIR_JSON, **(headers or {})}
    procs = [ctx.Process(target=_load_worker, name=f"load-{i}", daemon=True,
                         args=(i, host, port, list(paths), headers, warmup, seconds, seed, timeout,
                               max_requests_per_worker, frozenset(ok_statuses), ready, go, results))
             for i in range(concurrency)]
    for p in procs:
        p.start()
    collected = []
    finished = False
    try:
        _await_ready(procs, ready, results, timeout=120)
        go.set()
        time.sleep(warmup)
        server_cpu0 = server.cpu_seconds() if server else 0.0
        pg = db_pids() if db_pids else None
        db_cpu0 = {p: process_cpu_seconds(p) for p in pg} if pg is not None else None
        busy0, total0 = machine_cpu_times()
        time.sleep(seconds)
        busy1, total1 = machine_cpu_times()
        server_cpu1 = server.cpu_seconds() if server else 0.0
        db_cpu = None
        if db_cpu0 is not None:
            now = {p: process_cpu_seconds(p) for p in (db_pids() or [])}
            db_cpu = sum((now[p] or 0) - (db_cpu0.get(p) or 0) for p in now if now[p] is not None)
        deadline = time.monotonic() + timeout + 30
        while len(collected) < concurrency and time.monotonic() < deadline:
            try:
                collected.append(results.get(timeout=1))
            except Exception:  # queue.Empty
                if not any(p.is_alive() for p in procs) and results.empty():
                    break
        finished = True
    finally:
        if not finished:  # interrupted or failed: stop the load now rather than at its end time
            for p in procs:
                if p.is_alive():
                    p.terminate()
        for p in procs:
            p.join(timeout=5 if finished else 2)
            if p.is_alive():
                p.kill()
                p.join(timeout=2)
    if len(collected) < concurrency:
        raise RuntimeError(f"{concurrency - len(collected)} load worker(s) did not report")

    lat = array("d")
    errors = requests_ = 0
    rps = client_cpu = window_sum = 0.0
    samples: list[str] = []
    for _i, raw, errs, n, window, cpu, smp in collected:
        part = array("d")
        part.frombytes(raw)
        lat.extend(part)
        errors += errs
        requests_ += n
        client_cpu += cpu
        window_sum += window
        rps += len(part) / window if window else 0.0
        samples.extend(smp)
    values = sorted(lat)
    ok = len(values)
    server_cpu = server_cpu1 - server_cpu0
    window_cpu_s = (total1 - total0) / _CLK_TCK  # all cores
    busy_cpu_s = (busy1 - busy0) / _CLK_TCK
    other = max(0.0, busy_cpu_s - server_cpu - client_cpu - (db_cpu or 0.0))
    done = rps * seconds
    return Measurement(
        label=label, path=display_path or paths[0], concurrency=concurrency,
        seconds=window_sum / len(collected), requests=requests_, ok=ok, errors=errors, rps=rps,
        mean_ms=(sum(values) / ok * 1000) if ok else 0.0, p50_ms=percentile(values, 50) * 1000,
        p95_ms=percentile(values, 95) * 1000, p99_ms=percentile(values, 99) * 1000,
        max_ms=(values[-1] * 1000) if ok else 0.0, client_cpu_s=client_cpu, server_cpu_s=server_cpu,
        db_cpu_s=db_cpu, machine_busy_pct=100.0 * (busy1 - busy0) / max(total1 - total0, 1.0),
        other_cpu_pct=100.0 * other / max(window_cpu_s, 1e-9),
        client_cpu_ms_per_req=(client_cpu / done * 1000) if done else 0.0,
        server_cpu_ms_per_req=(server_cpu / done * 1000) if done else 0.0,
        error_samples=samples[:5])


# --------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return 0.0


def gunicorn_version() -> str:
    try:
        out = subprocess.run([str(venv_bin() / "python"), "-c", "import gunicorn; print(gunicorn.__version__)"],
                             capture_output=True, text=True, timeout=30, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def server_python_version() -> str:
    try:
        out = subprocess.run([str(venv_bin() / "python"), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, timeout=30, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return platform.python_version()


def machine_info(settings: GunicornSettings, *, postgresql: str | None = None) -> dict:
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return {
        "cpu_model": cpu_model(),
        "cores": cores,
        "usable_cores": usable,
        "memory_gib": round(memory_gib(), 1),
        "kernel": platform.release(),
        "python": server_python_version(),
        "sqlite": sqlite_version(),
        "postgresql": postgresql,
        "gunicorn": gunicorn_version(),
        "gunicorn_settings": settings.describe(),
    }


def machine_line(info: dict) -> str:
    pg = f", PostgreSQL {info['postgresql']}" if info.get("postgresql") else ""
    return (f"{info['cpu_model']}, {info['cores']} cores ({info['usable_cores']} usable), "
            f"{info['memory_gib']} GiB RAM, Linux {info['kernel']}, Python {info['python']}, "
            f"SQLite {info['sqlite']}{pg}, gunicorn {info['gunicorn']} ({info['gunicorn_settings']})")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    align = align or ("l" * len(headers))
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


@contextmanager
def temp_workdir(prefix: str = "dthub-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
