"""The background side of $export: worker threads that claim jobs from the store and write each
job's files as its caller, never on a request thread.

A job reads through `interactions.visible` (the caller's search view, in keyset batches) and
`aggregates.recent_reports`, writing line by line: memory holds one batch of resources and the
audit notes of one file part, whatever the export's size. The worker renews its lease once a third
of it has passed (checked at every resource written, so also between aggregate evaluations); that
is also where it learns the job was cancelled or taken over. A job
whose worker died (a restart, a killed process) is claimed again once its lease has run out and
resumes at the first unit (resource type, or the aggregates) it had not finished.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Callable, Iterator

from ..aggregates.recent import recent_reports
from ..audit import new_record
from ..auth.clients import ClientRecord
from ..auth.principal import Principal
from ..auth.scopes import ScopeSet
from ..enforcement.gate import AuditNotes, Gate, organisations_of
from ..interactions.context import Context
from ..interactions.visible import area_of, visible
from ..policy import refrains_reuse
from .files import ExportFiles, PartWriter
from .jobs import Job, JobStore
from .request import ExportRequest, covers

log = logging.getLogger("dthub.bulk")

AGGREGATES = "aggregates"  # the unit of the recent aggregate MeasureReports


class JobLost(Exception):
    """The job is no longer this worker's: cancelled, expired, or taken over."""


def aggregate_filter(hierarchy, ods: str) -> Callable[[str, str | None], bool]:
    """Which recent aggregates (subject, cell ICB) belong to `organization=<ods>`: for an ICB, the
    ICB itself and the PCN cells inside it (a spanning PCN's cell in another ICB is not); for a PCN,
    its cells; for a practice or federation none, as an aggregate covers a group above them."""
    kind = hierarchy.kind(ods)
    if kind == "icb":
        return lambda subject, cell_icb: subject == ods if cell_icb is None else cell_icb == ods
    if kind == "pcn":
        return lambda subject, cell_icb: subject == ods
    return lambda subject, cell_icb: False


def units(request: ExportRequest) -> list[str]:
    """What a job writes, in order: each type, then the recent aggregates when MeasureReports are
    asked for without a `_typeFilter` on them (a filter asks for particular stored reports)."""
    out = list(request.types)
    if "MeasureReport" in request.types and "MeasureReport" not in request.filters:
        out.append(AGGREGATES)
    return out


class ExportRunner:
    def __init__(self, ctx: Context, jobs: JobStore, files: ExportFiles, trail, *, workers: int = 1,
                 lease_seconds: int = 60, file_resources: int = 10000, ttl_seconds: int = 86400,
                 client_record: Callable[[str], ClientRecord | None] | None = None, poll_seconds: float = 2.0):
        self.ctx, self.jobs, self.files, self.trail = ctx, jobs, files, trail
        self.workers, self.lease, self.file_resources, self.ttl = workers, lease_seconds, file_resources, ttl_seconds
        self.client_record = client_record
        self.poll_seconds = poll_seconds
        self.clock: Callable[[], float] = time.monotonic  # test hook: when the lease is due for renewal
        # Test hook: called with (job id, progress text) at every heartbeat, on the worker thread.
        self.checkpoint: Callable[[str, str], None] = lambda job_id, progress: None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._running = 0
        self._idle = threading.Condition(self._lock)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker threads (once). They start lazily: on a kick-off, on a status request of an
        unfinished job, or at app start when the store holds unfinished jobs."""
        with self._lock:
            if self._threads or self._stop.is_set():
                return
            for n in range(self.workers):
                thread = threading.Thread(target=self._loop, name=f"dthub-export-{n}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """For tests and shutdown: True once no job is running here and none is waiting to be claimed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._idle:
                if self._running == 0 and not self.jobs.runnable():
                    return True
                self._idle.wait(0.05)
        return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
                ran = self.run_pending()
            except Exception:  # a store hiccup must not kill the worker: try again later
                log.exception("export worker: store unavailable")
                ran = False
            if not ran:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def sweep(self) -> None:
        """Expired jobs and abandoned cancellations: files, then the row."""
        for job_id in self.jobs.disposable():
            self.files.remove_job(job_id)
            self.jobs.delete(job_id)

    def run_pending(self) -> bool:
        for job_id in self.jobs.runnable():
            if self._stop.is_set():
                return False
            worker = uuid.uuid4().hex
            job = self.jobs.claim(job_id, worker, self.lease)
            if job is not None:
                with self._idle:
                    self._running += 1
                try:
                    self.run(job, worker)
                finally:
                    with self._idle:
                        self._running -= 1
                        self._idle.notify_all()
                return True
        return False

    # -- one job --------------------------------------------------------------------------------
    def run(self, job: Job, worker: str) -> None:
        try:
            self._run(job, worker)
        except JobLost:
            self._lost(job.job_id)
        except Exception:
            log.exception("export job %s failed", job.job_id)
            self._fail(job, worker, f"The export failed on the server (job {job.job_id}); ask the Hub to check its log")

    def _fail(self, job: Job, worker: str, message: str) -> None:
        if self.jobs.finish(job.job_id, worker, status="failed", message=message):
            self.files.remove_job(job.job_id)
        else:  # taken over (or cancelled) meanwhile: the files may be the new owner's
            self._lost(job.job_id)

    def _lost(self, job_id: str) -> None:
        current = self.jobs.get(job_id)
        if current is None or current.status == "cancelled":
            self.files.remove_job(job_id)
            self.jobs.delete(job_id)
        # else another worker took it over after a stall: its files are its own now

    def caller(self, job: Job, request: ExportRequest) -> Principal | str:
        """The job's caller as the registry has it NOW (organisation, role, scopes narrowed to the
        kick-off's) with the purpose asked at kick-off; or why the job cannot run any more. A job
        may wait or resume long after its kick-off: a re-registration must not be outrun."""
        scopes = ScopeSet.parse(job.scopes)
        if self.client_record is None:  # no registry (tests of the runner alone): the kick-off's caller
            return Principal(job.client_id, job.org, job.role, scopes, job.purpose)
        record = self.client_record(job.client_id)
        if record is None or not record.enabled:
            return "The client was disabled or removed"
        if not record.may_act_for(job.purpose):  # as the token endpoint decides
            return f"The purpose {job.purpose} is no longer registered for the client"
        scopes = scopes.intersect(record.scopes)
        if not covers(scopes, request.types):
            return "The client's registered scopes no longer cover this export"
        return Principal(job.client_id, record.org, record.role, scopes, job.purpose)

    def _run(self, job: Job, worker: str) -> None:
        request = ExportRequest.from_json(job.params)
        principal = self.caller(job, request)
        if isinstance(principal, str):
            self._fail(job, worker, principal)
            return
        gate = Gate(self.ctx.policy, principal, self.ctx.repo)
        hierarchy = self.ctx.policy.inputs().hierarchy
        area = area_of(hierarchy, request.organization) if request.organization else None
        cells = aggregate_filter(hierarchy, request.organization) if request.organization else None
        todo = units(request)
        done = {"output": [o for o in job.done.get("output", []) if o["unit"] in job.done.get("units", [])],
                "units": [u for u in job.done.get("units", []) if u in todo], "error": []}
        # A previous attempt's unfinished parts are not in `done`: drop them.
        self.files.remove_except(job.job_id, {o["file"] for o in done["output"]})
        state = _Progress(self, job, worker, principal, done, len(todo))
        for unit in todo:
            if unit in done["units"]:
                continue
            if unit == AGGREGATES:
                items = self._aggregates(gate, principal, cells)
            else:
                items = self._resources(gate, request, unit, job.transaction_time, area)
            self._write_unit(job, worker, unit, items, gate, hierarchy, state)
            done["units"].append(unit)
            state.beat(f"{unit} done", force=True)
        if request.ignored:
            self._write_errors(job, worker, request, done)
        if not self.jobs.finish(job.job_id, worker, status="completed", done=done, ttl=self.ttl):
            raise JobLost()

    def _resources(self, gate: Gate, request: ExportRequest, resource_type: str, until: str, area) -> Iterator[dict]:
        selections = request.selections(resource_type, until=until, area=area)
        if len(selections) == 1:
            for _, view in visible(self.ctx, gate, selections[0]):
                yield view
            return
        # Several _typeFilters are ORed (Bulk Data v2): the union, each resource once. Only the
        # ids written so far are held, never the resources.
        seen: set[str] = set()
        for selection in selections:
            for version, view in visible(self.ctx, gate, selection):
                if version.id not in seen:
                    seen.add(version.id)
                    yield view

    def _aggregates(self, gate: Gate, principal: Principal, cells) -> Iterator[dict]:
        if gate.grants is None:
            return
        for item in recent_reports(self.ctx.aggregates, gate.grants, self.ctx.policy.today(),
                                   no_reuse=refrains_reuse(principal), subjects_filter=cells):
            gate.record_served(f"MeasureReport/{item.report['id']}", item.subject, item.sources)
            yield item.report

    def _write_unit(self, job: Job, worker: str, unit: str, items: Iterator[dict], gate: Gate, hierarchy,
                    state: "_Progress") -> None:
        resource_type = "MeasureReport" if unit == AGGREGATES else unit
        part: PartWriter | None = None
        try:
            for resource in items:
                if part is None:
                    state.parts += 1
                    part = self.files.writer(job.job_id, f"{resource_type}-{worker[:8]}-{state.parts}.ndjson")
                part.write(resource)
                state.written += 1
                if part.count >= self.file_resources:
                    self._publish(job, part, unit, resource_type, gate, hierarchy, state)
                    part = None
                else:
                    state.beat_if_due(unit)
            if part is not None:
                self._publish(job, part, unit, resource_type, gate, hierarchy, state)
                part = None
            else:  # no file since the last part: refusals still leave a record
                notes = gate.take_notes()
                if notes.refused:
                    self._audit(job, state.principal, f"no file for {unit}", 0, notes, hierarchy)
        finally:
            if part is not None:
                part.discard()

    def _publish(self, job: Job, part: PartWriter, unit: str, resource_type: str, gate: Gate, hierarchy,
                 state: "_Progress") -> None:
        part.close()
        notes = gate.take_notes()
        self._audit(job, state.principal, part.path.name, part.count, notes, hierarchy)
        state.done["output"].append({"type": resource_type, "file": part.path.name, "count": part.count,
                                     "unit": unit})
        state.beat(unit, force=True)

    def _audit(self, job: Job, principal: Principal, name: str, count: int, notes: AuditNotes, hierarchy) -> None:
        """One AccessRecord per file part (and one for refusals written to no file): what the job
        served or refused, for whom, and who decided."""
        query = job.request_url.partition("?")[2]
        record = new_record(
            "operation", "GET", "/fhir/$export", 200, client_id=job.client_id, org=principal.org,
            role=principal.role, purpose=principal.purpose, query=query, outcome_desc=f"Bulk export {job.job_id}: {name}, {count} resources",
            resources=tuple({**notes.served, **notes.refused}.items()),
            organisations=organisations_of(notes, hierarchy), deciding=tuple(notes.deciding))
        self.trail.record(record)

    def _write_errors(self, job: Job, worker: str, request: ExportRequest, done: dict) -> None:
        """Ignored parameters, as the spec's error file: NDJSON OperationOutcomes (warnings)."""
        writer = self.files.writer(job.job_id, f"OperationOutcome-{worker[:8]}-0.ndjson")
        for name in request.ignored:
            writer.write({"resourceType": "OperationOutcome", "issue": [{
                "severity": "warning", "code": "not-supported",
                "diagnostics": f"The parameter {name!r} is not supported by this server's $export and was ignored "
                               "(send 'Prefer: handling=strict' to have it refused)"}]})
        writer.close()
        done["error"] = [{"type": "OperationOutcome", "file": writer.path.name, "count": writer.count}]


class _Progress:
    def __init__(self, runner: ExportRunner, job: Job, worker: str, principal: Principal, done: dict, total: int):
        self.runner, self.job, self.worker, self.done, self.total = runner, job, worker, done, total
        self.principal = principal
        self.written = 0
        self.parts = len(done["output"])
        self.last_beat = runner.clock()

    def beat_if_due(self, unit: str) -> None:
        """Renew by time, not by count: a slow unit (the aggregates) must not outrun its lease."""
        if self.runner.clock() - self.last_beat > self.runner.lease / 3:
            self.beat(unit)

    def beat(self, unit: str, *, force: bool = False) -> None:
        text = (f"Exporting {unit}: {self.written} resources written "
                f"({len(self.done['units'])} of {self.total} parts of the export done)")
        if not self.runner.jobs.beat(self.job.job_id, self.worker, self.runner.lease, progress=text,
                                     done=self.done if force else None):
            raise JobLost()
        self.last_beat = self.runner.clock()
        self.runner.checkpoint(self.job.job_id, text)
