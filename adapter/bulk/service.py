"""The $export interactions (Bulk Data Access v2, export.html): kick-off, status, cancellation and
file download, as plain functions over a Context and a FhirRequest. The work itself is the
runner's, in the background."""
from __future__ import annotations

from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlencode

from ..config import Config
from ..interactions.context import Context
from ..interactions.request import FhirRequest, FhirResponse
from ..outcomes import Issue, error, operation_outcome
from ..storage import now_instant
from .files import ExportFiles
from .jobs import UNFINISHED, Job, JobStore
from .request import covers, parse_kick_off
from .runner import ExportRunner

RETRY_AFTER_SECONDS = 2
# A kick-off over the per-client limit: roughly how long a small export takes to finish.
THROTTLED_RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class BulkExport:
    """What the app factory builds once for $export."""
    config: Config
    jobs: JobStore
    files: ExportFiles
    runner: ExportRunner

    def close(self) -> None:
        self.runner.close()


def status_url(ctx: Context, job_id: str) -> str:
    return f"{ctx.fhir_base}/_bulk/{job_id}"


def _information(text: str) -> dict:
    return operation_outcome([Issue("information", "informational", text)])


def kick_off(ctx: Context, req: FhirRequest, bulk: BulkExport) -> FhirResponse:
    principal = req.principal
    # Conventions, Operations: a system-level export needs read and search on every type.
    if not (principal.scopes.allows(None, "r") and principal.scopes.allows(None, "s")):
        raise error(403, "forbidden", "$export needs the scope system/*.rs")
    export = parse_kick_off(ctx, req)
    query = urlencode(list(req.params), safe=",:/|*") if req.body is None else ""
    limit = bulk.config.export_max_jobs_per_client
    job = bulk.jobs.create(principal=principal, request_url=f"{ctx.fhir_base}/$export" + (f"?{query}" if query else ""),
                           params=export.to_json(), transaction_time=now_instant(),
                           ttl=bulk.config.export_ttl_seconds, max_unfinished=limit)
    if job is None:
        raise error(429, "throttled", f"This client already has {limit} exports running; wait for one to finish "
                                      "or cancel it", headers={"Retry-After": str(THROTTLED_RETRY_AFTER_SECONDS)})
    bulk.runner.wake()
    return FhirResponse(202, _information(f"Export {job.job_id} accepted; poll the Content-Location URL"),
                        headers={"Content-Location": status_url(ctx, job.job_id)})


def _own(req: FhirRequest, bulk: BulkExport, job_id: str) -> Job:
    """The caller's live job, or the 404 of one that never existed (another client's, cancelled,
    expired). The files hold what the job's purpose and scopes allowed: a token of the same client
    with another purpose, or with scopes that no longer cover the export, must not fetch them."""
    job = bulk.jobs.get(job_id)
    principal = req.principal
    if (job is None or job.client_id != principal.client_id or job.purpose != principal.purpose
            or not covers(principal.scopes, job.params.get("types") or ())
            or job.status == "cancelled" or job.expires_at < bulk.jobs.now()):
        raise error(404, "not-found", f"No export job {job_id} for this client (it may have expired or been cancelled)")
    return job


def status(ctx: Context, req: FhirRequest, bulk: BulkExport, job_id: str) -> FhirResponse:
    job = _own(req, bulk, job_id)
    if job.status in UNFINISHED:
        bulk.runner.wake()  # a job whose worker died is taken over by whichever process is polled
        return FhirResponse(202, None, headers={"X-Progress": (job.progress or job.status)[:200],
                                                "Retry-After": str(RETRY_AFTER_SECONDS)})
    if job.status == "failed":
        raise error(500, "exception", job.message or "The export failed")
    manifest = {
        "transactionTime": job.transaction_time,
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [{"type": o["type"], "url": f"{status_url(ctx, job.job_id)}/{o['file']}", "count": o["count"]}
                   for o in job.done.get("output", [])],
        "error": [{"type": e["type"], "url": f"{status_url(ctx, job.job_id)}/{e['file']}"}
                  for e in job.done.get("error", [])],
    }
    return FhirResponse(200, manifest, headers={"Content-Type": "application/json",
                                                "Expires": formatdate(job.expires_at, usegmt=True)})


def cancel(ctx: Context, req: FhirRequest, bulk: BulkExport, job_id: str) -> FhirResponse:
    _own(req, bulk, job_id)
    before = bulk.jobs.cancel(job_id, req.principal.client_id)
    if before is None:
        raise error(404, "not-found", f"No export job {job_id} for this client")
    bulk.files.remove_job(job_id)
    if before.status != "in-progress":
        bulk.jobs.delete(job_id)
    # else the worker notices at its next heartbeat, removes what it wrote since and deletes the job
    return FhirResponse(202, _information(f"Export {job_id} cancelled; its files are deleted"))


def file_path(ctx: Context, req: FhirRequest, bulk: BulkExport, job_id: str, name: str) -> Path:
    """The file to stream back: only a completed job's listed files, to the client that asked."""
    job = _own(req, bulk, job_id)
    listed = {o["file"] for o in job.done.get("output", [])} | {e["file"] for e in job.done.get("error", [])}
    path = bulk.files.path(job_id, name)
    if job.status != "completed" or name not in listed or path is None or not path.is_file():
        raise error(404, "not-found", f"No file {name} in export {job_id}")
    return path
