"""Import of a Hub export package into the store (`dthub import`).

    report = import_package(repo, "export.zip")            # -> mappings.report.ImportReport
    report.exit_code                                        # 0 all imported, 1 some rejected, 2 refused

How it goes:
- Files are applied in the spec's order; organisations.ndjson in passes by kind (ICBs, PCNs,
  federations, practices), so references within it resolve whatever its order.
- Each line is validated and mapped by `mappings.records.process_line` (schema, the spec's
  rules, mapping, FHIR validation), in `workers` processes when asked (the CPU-heavy part),
  while this process writes the outcomes in order. References resolve against the store: every
  batch of earlier files and passes is committed before the next stage starts, so "earlier in
  the package" and "imported before" are one lookup.
- Writes go in batches (`batch_size` records), each one transaction with its Provenance, using
  skip_unchanged: a crash or Ctrl-C leaves whole batches, a re-run finishes the rest, and
  importing the same package twice writes nothing. A record whose FHIR the store already holds
  unchanged is neither validated (it was when stored) nor written again: re-imports are cheap.
- `mode: full` retires, per file present, what the store holds of that kind from the same source
  and the package lacks. Per-practice summaries are recomputed for the practices whose actions
  the package names, or that an update or retirement moved actions away from.
Memory stays flat: lines stream, batches and in-flight chunks are bounded; what is kept grows
only by ids (the current file's ids for `mode: full`, hashes of the ids it queued for writing,
per stage the stored ids of a type up to 50,000) and by the organisation hierarchy and practice
codes, which England bounds (~8,000).
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import sys
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterator

import orjson

from mappings.assessment import fhir_to_assessment, is_hub_questionnaire, questionnaire_id
from mappings.kinds import FILE_KINDS, ORGANISATION_PASSES, FileKind
from mappings.organisation import fhir_to_organisation
from mappings.package import Package, PackageRefused, open_package
from mappings.provenance import import_provenance
from mappings.records import Outcome, process_line
from mappings.report import ImportReport
from mappings.submission import submission_header
from mappings.summaries import (PracticeActions, impact_summary, impact_summary_id, indepth_action_summary,
                                indepth_action_summary_id, practice_of)

from .heap import fewer_young_collections, young_collections_less_often
from .storage import Repository, make_engine, now_instant

Validate = Callable[[dict], list]


def default_validate(resource: dict) -> list:
    from .validation import validate_resource

    return validate_resource(resource)


# -- lookups over the store --------------------------------------------------------------------
class StoreLookup:
    """The mappers' read-only lookup callback, answered from the store (see mappings/types.py).

    Cached until `reset()`: the importer resets it between stages, when earlier writes may have
    turned a miss into a hit. Submissions are many, so their cache is bounded."""

    _SUBMISSION_CACHE = 20000
    _ID_SET_LIMIT = 50000

    def __init__(self, repo: Repository):
        self.repo = repo
        self.reset()

    def reset(self) -> None:
        self._cache: dict[str, dict] = {"organisation": {}, "assessment": {}, "submission": {}}
        self._organisations_loaded = False
        self._organisation_digests: dict[str, bytes] = {}
        # Per type, the live ids stored when this stage began (None: too many to hold): an id
        # not among them is not held, with no read (a first import, or usage after summaries).
        self._stored_ids: dict[str, frozenset[str] | None] = {}

    def _live(self, resource_type: str, id_: str) -> dict | None:
        stored = self.repo.read(resource_type, id_)
        return None if stored is None or stored.deleted else stored.resource()

    def _load_organisations(self) -> None:
        # England has ~8,000 organisations: one keyset scan beats thousands of single reads,
        # and the whole hierarchy is small enough to hold.
        cache = self._cache["organisation"]
        for stored in self.repo.iter_current("Organization", batch=2000):
            body = stored.resource()
            self._organisation_digests[stored.id] = _digest(body)
            try:
                cache[stored.id] = fhir_to_organisation(body)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                cache[stored.id] = None  # not readable as a Hub organisation: unknown
        self._organisations_loaded = True

    def _load(self, kind: str, key: str) -> dict | None:
        if kind == "organisation":
            if not self._organisations_loaded:
                self._load_organisations()
                return self._cache["organisation"].get(key)
            return None  # everything stored was loaded: a miss is a miss
        if kind == "assessment":
            assessment_id, _, version = key.partition("|")
            questionnaire = self._live("Questionnaire", questionnaire_id(assessment_id, version))
            return fhir_to_assessment(questionnaire) if questionnaire and is_hub_questionnaire(questionnaire) else None
        if kind == "submission":
            qr = self._live("QuestionnaireResponse", key)
            return submission_header(qr) if qr else None
        raise ValueError(f"unknown lookup kind {kind!r}")

    def holds(self, resource: dict) -> bool:
        """Whether the store's current version has exactly this content (meta.versionId and
        lastUpdated aside), as the repository's skip_unchanged compares."""
        if resource["resourceType"] == "Organization":  # all at hand already: no read
            if not self._organisations_loaded:
                self._load_organisations()
            return self._organisation_digests.get(resource["id"]) == _digest(resource)
        resource_type = resource["resourceType"]
        if resource_type not in self._stored_ids:
            self._stored_ids[resource_type] = self.repo.current_ids(resource_type, limit=self._ID_SET_LIMIT)
        ids = self._stored_ids[resource_type]
        if ids is not None and resource["id"] not in ids:
            return False
        stored = self.repo.read(resource_type, resource["id"])
        return stored is not None and not stored.deleted and _comparable(stored.resource()) == _comparable(resource)

    def __call__(self, kind: str, key: str) -> dict | None:
        cache = self._cache[kind]
        if key not in cache:
            if kind == "submission" and len(cache) >= self._SUBMISSION_CACHE:
                cache.clear()
            try:
                cache[key] = self._load(kind, key)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                cache[key] = None  # stored through the API in a shape the mapping cannot read: unknown
        return cache[key]


def _comparable(resource: dict) -> dict:
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    return {**{k: v for k, v in resource.items() if k != "meta"}, **({"meta": meta} if meta else {})}


def _digest(resource: dict) -> bytes:
    """A fingerprint of the comparable content (a false mismatch only costs a validation)."""
    return hashlib.blake2b(orjson.dumps(_comparable(resource), option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


# -- worker processes ------------------------------------------------------------------------
_worker: dict = {}


def _exit_with_parent(parent: int) -> None:
    # A worker whose import was killed (SIGKILL, or SIGTERM without cleanup) must not linger.
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(1)


def _worker_init(database_url: str, validate: Validate, source: str) -> None:
    young_collections_less_often()  # adapter/heap.py: this process only maps and validates batches
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    repo = Repository(make_engine(database_url))
    _worker.update(lookup=StoreLookup(repo), validate=validate, source=source, stage=None)


def _enter_stage(stage: int) -> None:
    if _worker["stage"] != stage:
        _worker["lookup"].reset()
        _worker["stage"] = stage


def _worker_chunk(file: str, stage: int, organisation_pass: str | None,
                  lines: list[tuple[int, bytes]]) -> list[Outcome]:
    _enter_stage(stage)
    file_kind = next(k for k in FILE_KINDS if k.file == file)
    lookup = _worker["lookup"]
    return [process_line(file_kind, line, raw, lookup=lookup, source=_worker["source"], validate=_worker["validate"],
                         organisation_pass=organisation_pass, holds=lookup.holds) for line, raw in lines]


def _check_derived(lookup: StoreLookup, validate: Validate, bodies: list[dict]) -> list:
    """Per body: None when the store holds it already, else its validation errors (a list)."""
    return [None if lookup.holds(body) else
            [(i.expression, i.diagnostics) for i in validate(body) if i.severity in ("error", "fatal")]
            for body in bodies]


def _worker_check_derived(stage: int, bodies: list[dict]) -> list:
    _enter_stage(stage)
    return _check_derived(_worker["lookup"], _worker["validate"], bodies)


def _bodies(chunk: list[tuple[str, dict | None]]) -> list[dict]:
    return [body for _id, body in chunk if body is not None]


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- progress (stderr, only on a terminal) -----------------------------------------------------
class _NoProgress:
    def update(self, _n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(enabled: bool, total: int, desc: str):
    if not enabled:
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a nicety: without tqdm the import runs the same
        return _NoProgress()
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=sys.stderr, leave=False)


# -- batched writes with Provenance ----------------------------------------------------------
class _Writer:
    """Collects writes and commits them `batch_size` at a time, each batch with its Provenance.

    Each pending write carries its tally: ("file", name) for a record of the package,
    ("retired", name) for a `mode: full` retirement, ("summary", None) for a summary.

    On PostgreSQL (`background`) a full batch is written by a thread of its own while this
    process goes on collecting the next, so that the server's work on one batch overlaps the
    Python that prepares the next. One batch at most is in flight, and it is settled (its results
    counted, on this thread) before the next is handed over, so batches commit in order;
    `drain()` waits for the last, where a stage must see everything written before it. Not on
    SQLite: it works in this process, releasing the GIL for every row it steps through, and
    paired runs of the 1,500-practice package were 5–15 % slower with the thread (the threads
    hand the GIL to and fro at each release)."""

    def __init__(self, repo: Repository, report: ImportReport, source: str, exported_at: str, batch_size: int,
                 after_commit: Callable[[list], None], *, background: bool = True):
        self.repo = repo
        self.report = report
        self.source = source
        self.exported_at = exported_at
        self.batch_size = batch_size
        self.after_commit = after_commit
        self.pending: list[tuple] = []
        self.label: str | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="dthub-import-writer") if background else None
        self._in_flight: tuple[list, Future] | None = None

    def add(self, tally: tuple, resource_type: str, id_: str, body: dict | None) -> None:
        self.pending.append((tally, resource_type, id_, body))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Hand the pending writes over (wait for the batch before them, not for these)."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        self._settle()
        label = self.label
        if self._thread is None:
            self._finish(batch, self.repo.write_unit(lambda unit: self._write(unit, batch, label)))
        else:
            self._in_flight = batch, self._thread.submit(self.repo.write_unit,
                                                         lambda unit: self._write(unit, batch, label))

    def drain(self) -> None:
        """Everything added so far is committed (or its store error raised)."""
        self.flush()
        self._settle()

    def close(self) -> None:
        """Wait for a batch in flight without settling it (an interrupt or an error is on its
        way out: the batch commits whole or not at all, either way the store stays consistent;
        its own store error, if any, gives way to the one on its way out). A signal reaches the
        importing thread, not this one, so it does not cut the batch short: an interrupted import
        stops once the batch in flight (one batch, about a second) has committed."""
        if self._thread is not None:
            if self._in_flight is not None:
                wait([self._in_flight[1]])
                self._in_flight = None
            self._thread.shutdown()  # also waits, should an interrupt have cut `_settle` short

    def _settle(self) -> None:
        if self._in_flight is not None:
            batch, future = self._in_flight
            self._in_flight = None
            self._finish(batch, future.result())

    def _finish(self, batch: list[tuple], written: tuple[list, int]) -> None:
        results, provenance = written
        self.report.provenance += provenance
        for (tally, _type, _id, body), result in zip(batch, results):
            self._tally(tally, body, result)
        self.after_commit(list(zip(batch, results)))

    def _write(self, unit, batch: list[tuple], label: str | None) -> tuple[list, int]:
        targets: dict[str, list[str]] = {"CREATE": [], "UPDATE": [], "DELETE": []}
        results = unit.put_many([(resource_type, id_, body, "DELETE" if body is None else "PUT")
                                 for _tally, resource_type, id_, body in batch], skip_unchanged=True)
        for (_tally, resource_type, id_, body), result in zip(batch, results):
            if result.changed:
                activity = "DELETE" if body is None else "CREATE" if result.created else "UPDATE"
                targets[activity].append(f"{resource_type}/{id_}/_history/{result.version.version_id}")
        recorded = now_instant()
        written = 0
        for activity, refs in targets.items():
            if refs:
                id_ = uuid.uuid4().hex
                unit.put("Provenance", id_, import_provenance(id_, activity, refs, recorded, self.source,
                                                              self.exported_at, label), method="POST")
                written += 1
        return results, written

    def _tally(self, tally: tuple, body: dict | None, result) -> None:
        kind, file = tally
        if kind == "file":
            counts = self.report.counts(file)
            if not result.changed:
                counts.unchanged += 1
            elif result.created:
                counts.created += 1
            else:
                counts.updated += 1
        elif kind == "retired":
            self.report.counts(file).retired += result.changed
        else:
            s = self.report.summaries
            if body is None:
                s.deleted += result.changed
            elif not result.changed:
                s.unchanged += 1
            elif result.created:
                s.created += 1
            else:
                s.updated += 1


# -- the import --------------------------------------------------------------------------------
class _Import:
    def __init__(self, repo: Repository, package: Package, report: ImportReport, validate: Validate,
                 workers: int, batch_size: int, chunk_size: int, progress: bool):
        self.repo = repo
        self.package = package
        self.report = report
        self.validate = validate
        self.manifest = package.manifest
        self.full = self.manifest.mode == "full"
        self.chunk_size = chunk_size
        self.show_progress = progress
        self.lookup = StoreLookup(repo)
        self.writer = _Writer(repo, report, self.manifest.source, self.manifest.exported_at, batch_size,
                              self._after_commit, background=repo.engine.dialect.name == "postgresql")
        self.seen: set[str] = set()  # ids of the current file's records (mode: full)
        self.touched: set[str] = set()  # practices whose per-practice summaries to recompute
        self.workers = workers
        self.executor = self._executor(workers)
        self.stage = 0
        self.held_rejections: list | None = None

    def _executor(self, workers: int) -> ProcessPoolExecutor | None:
        if workers < 1:
            return None
        url = self.repo.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return None  # an in-memory store cannot be shared with other processes
        try:
            pickle.dumps(self.validate)
        except Exception:  # a lambda or closure cannot travel to a worker: validate here instead
            return None
        # spawn, not fork: a forked child would inherit this process's open database connections.
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init,
                                   initargs=(url.render_as_string(hide_password=False), self.validate,
                                             self.manifest.source))

    def run(self) -> None:
        try:
            for file_kind in FILE_KINDS:
                if file_kind.file in self.package.present:
                    self._file(file_kind)
        finally:
            try:
                self.writer.close()
            finally:
                if self.executor is not None:
                    self.executor.shutdown(cancel_futures=True)

    def _file(self, file_kind: FileKind) -> None:
        self.report.counts(file_kind.file)
        self.seen = set()
        self.queued: set[int] = set()  # ids this file has queued for writing
        self.writer.label = file_kind.file
        passes = ORGANISATION_PASSES if file_kind.kind == "organisation" else (None,)
        # Passes find an organisation file's rejections out of line order; the file is small
        # (England has ~8,000 organisations), so they are held and reported in line order.
        self.held_rejections = [] if len(passes) > 1 else None
        bar = _progress(self.show_progress, self.package.size(file_kind.file) * len(passes), file_kind.file)
        try:
            for organisation_pass in passes:
                self.stage += 1
                self.lookup.reset()
                for outcome in self._outcomes(file_kind, organisation_pass, bar):
                    self._apply(file_kind, outcome)
                self.writer.drain()
        finally:
            bar.close()
        for line, key, problems in sorted(self.held_rejections or [], key=lambda held: held[0]):
            self.report.reject(file_kind.file, line, key, problems)
        self.held_rejections = None
        if self.full:
            self._retire(file_kind)
        if file_kind.kind == "action":
            self._summaries()

    def _outcomes(self, file_kind: FileKind, organisation_pass: str | None, bar) -> Iterator[Outcome]:
        lines = self.package.lines(file_kind.file)
        if self.executor is None:
            for line, raw in lines:
                yield process_line(file_kind, line, raw, lookup=self.lookup, source=self.manifest.source,
                                   validate=self.validate, organisation_pass=organisation_pass,
                                   holds=self.lookup.holds)
                bar.update(len(raw) + 1)
            return
        jobs = ((_worker_chunk, (file_kind.file, self.stage, organisation_pass, chunk),
                 sum(len(raw) + 1 for _line, raw in chunk)) for chunk in _chunks(lines, self.chunk_size))
        for outcomes, size in self._pipelined(jobs):
            yield from outcomes
            bar.update(size)

    def _pipelined(self, jobs: Iterator[tuple[Callable, tuple, object]]) -> Iterator[tuple[list, object]]:
        """Run jobs (function, arguments, tag) in the worker processes and yield (result, tag)
        in job order. Only a few jobs are in flight: memory stays flat however large the
        file, and this process writes while the workers map and validate."""
        in_flight: deque = deque()
        limit = 4 * self.workers
        for function, arguments, tag in jobs:
            in_flight.append((self.executor.submit(function, *arguments), tag))
            if len(in_flight) >= limit:
                future, done_tag = in_flight.popleft()
                yield future.result(), done_tag
        while in_flight:
            future, done_tag = in_flight.popleft()
            yield future.result(), done_tag

    def _apply(self, file_kind: FileKind, outcome: Outcome) -> None:
        if outcome.skipped:
            return
        file = file_kind.file
        self.report.counts(file).read += 1
        if self.full and outcome.resource_id:
            self.seen.add(outcome.resource_id)
        for field, message in outcome.warnings:
            self.report.warn(message, file=file, line=outcome.line, field=field, key=outcome.key)
        if outcome.problems:
            if self.held_rejections is not None:
                self.held_rejections.append((outcome.line, outcome.key, outcome.problems))
            else:
                self.report.reject(file, outcome.line, outcome.key, outcome.problems)
            return
        if outcome.practice:
            self.touched.add(outcome.practice)
        resource = outcome.resource
        queued = hash(resource["id"])
        if outcome.unchanged and queued not in self.queued:
            # Already stored as it is: writing would only compare again. (A change made since
            # came after this import's no-op, a valid order of the two.) But when an earlier line
            # of this file queued the same id, this line must still win: write it.
            self.report.counts(file).unchanged += 1
            return
        self.queued.add(queued)  # hashes only: small, and a collision merely costs a write
        self.writer.add(("file", file), resource["resourceType"], resource["id"], resource)

    def _after_commit(self, written: list) -> None:
        """An action moved to another practice changes the old practice's summaries too."""
        for (_tally, resource_type, id_, body), result in written:
            if resource_type == "Task" and body is not None and result.changed and not result.created:
                before = self.repo.read_version("Task", id_, result.version.version_id - 1)
                if before is not None and not before.deleted:
                    practice = practice_of(before.resource())
                    if practice:
                        self.touched.add(practice)

    def _retire(self, file_kind: FileKind) -> None:
        self.writer.label = f"{file_kind.file} (mode full: retired)"
        for stored in self.repo.iter_current(file_kind.resource_type):
            if stored.id in self.seen:
                continue
            body = stored.resource()
            if (body.get("meta") or {}).get("source") != self.manifest.source or not file_kind.is_ours(body):
                continue
            if file_kind.kind == "action":
                practice = practice_of(body)
                if practice:
                    self.touched.add(practice)
            retired = file_kind.retire(body) if file_kind.retire else None
            self.writer.add(("retired", file_kind.file), file_kind.resource_type, stored.id, retired)
        self.writer.drain()
        self.seen = set()

    def _summaries(self) -> None:
        if not self.touched:
            return
        self.writer.label = "per-practice summaries"
        actions = {practice: PracticeActions() for practice in self.touched}
        for stored in self.repo.iter_current("Task"):
            task = stored.resource()
            practice = practice_of(task)
            if practice in actions:
                actions[practice].add(task)
        self.stage += 1  # a stage of its own: the workers see what the actions file wrote
        self.lookup.reset()
        chunks = _chunks(self._summary_bodies(actions), self.chunk_size)
        if self.executor is None:
            checked = ((_check_derived(self.lookup, self.validate, _bodies(chunk)), chunk) for chunk in chunks)
        else:
            checked = self._pipelined((_worker_check_derived, (self.stage, _bodies(chunk)), chunk) for chunk in chunks)
        for checks, chunk in checked:
            verdicts = iter(checks)
            for id_, body in chunk:
                verdict = next(verdicts) if body is not None else []
                if verdict is None:
                    self.report.summaries.unchanged += 1
                    continue
                if verdict:  # derived from stored Tasks: a bug here, not bad data
                    raise RuntimeError(f"MeasureReport/{id_} is not valid: {verdict}")
                self.writer.add(("summary", None), "MeasureReport", id_, body)
        self.writer.drain()

    def _summary_bodies(self, actions: dict) -> Iterator[tuple[str, dict | None]]:
        source = self.manifest.source
        for practice in sorted(actions):
            yield impact_summary_id(practice), impact_summary(practice, actions[practice], source)
            yield indepth_action_summary_id(practice), indepth_action_summary(practice, actions[practice], source)


def import_package(repo: Repository, path: str | Path, *, validate: Validate | None = None, workers: int = 0,
                   batch_size: int = 500, chunk_size: int = 100, progress: bool = False) -> ImportReport:
    """Import the package at `path` (directory or .zip). `validate(resource) -> [Issue]` checks each
    mapped resource (default: adapter.validation.validate_resource); `workers` > 0 maps and
    validates in that many processes. Never raises for bad data: see the report's exit_code.
    Store failures (and Ctrl-C) propagate; whole batches are kept and a re-run completes them."""
    report = ImportReport(str(path))
    try:
        package = open_package(path)
    except PackageRefused as exc:
        report.refused = str(exc)
        report.finish()
        return report
    with package:
        report.manifest = package.manifest.as_dict()
        for message in package.manifest.warnings:
            report.warn(message, field="manifest.json")
        for name in package.unknown:
            report.warn(f"unknown file {name!r} in the package, ignored", field=name)
        with fewer_young_collections():
            _Import(repo, package, report, validate or default_validate, workers, batch_size, chunk_size,
                    progress).run()
    if report.resources_written:
        repo.analyze()  # a bulk load changes the tables' shape: the planner needs to know
    report.finish()
    return report
