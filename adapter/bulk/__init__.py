"""Bulk Data export (HL7 FHIR Bulk Data Access v2, system level): `GET /fhir/$export`.

    bulk = build_bulk_export(ctx, trail, registry.get)   # in the app factory
    service.kick_off(ctx, req, bulk) -> 202 + Content-Location
    service.status(...) -> 202 (X-Progress, Retry-After) | 200 manifest;  service.cancel(...) -> 202
    service.file_path(...) -> the NDJSON file to stream back

Jobs live in the store (`jobs.py`), run in worker threads as their caller (`runner.py`), and read
exactly what that caller's searches would (interactions.visible) plus its recent aggregates.
No Flask here: adapter/http wires the routes.
"""
from __future__ import annotations

from typing import Callable

from ..audit.trail import per_store_dir
from ..auth.clients import ClientRecord
from ..interactions.context import Context
from .files import ExportFiles
from .jobs import JobStore
from .runner import ExportRunner
from .service import BulkExport


def build_bulk_export(ctx: Context, trail, client_record: Callable[[str], ClientRecord | None] | None = None) -> BulkExport:
    config = ctx.config
    jobs = JobStore(ctx.repo)
    files = ExportFiles(config.export_dir or per_store_dir(config, "exports"))
    runner = ExportRunner(ctx, jobs, files, trail, workers=config.export_workers,
                          lease_seconds=config.export_lease_seconds, file_resources=config.export_file_resources,
                          ttl_seconds=config.export_ttl_seconds, client_record=client_record)
    if config.export_workers > 0 and jobs.any_unfinished():
        runner.start()  # jobs accepted before a restart continue
    return BulkExport(config, jobs, files, runner)


__all__ = ["BulkExport", "build_bulk_export"]
