"""Export of the store as a Hub export package (`dthub export`): the inverse of the import.

    report = export_package(repo, "out/")        # a directory, or "out.zip" for a zip

Each file is written from the current FHIR resources of its kind through the inverse mappers,
streamed (never all in memory). What an import retired and the Hub no longer has (Tasks and
Consents `entered-in-error`, deleted MeasureReports) is left out; a retired Organization,
Questionnaire or QuestionnaireResponse is written with its native status (`active: false`,
`retired`, `entered-in-error`), which means the same thing. Re-importing the package into an
empty store reproduces the same resources. The manifest is written last: its `source` is the
one source the resources came from (or `--source`; several sources without one given ->
"dthub-fhir-adapter"), `mode` is incremental.
"""
from __future__ import annotations

import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator

import orjson

from mappings.kinds import FILE_KINDS
from mappings.package import FORMAT, MANIFEST

from .importer import StoreLookup
from .storage import Repository

DEFAULT_SOURCE = "dthub-fhir-adapter"
_LEFT_OUT = {"Task": "entered-in-error", "Consent": "entered-in-error"}


@dataclass
class ExportReport:
    path: str
    manifest: dict | None = None
    written: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # resources the inverse mapping could not read

    def summary_text(self) -> str:
        lines = [f"Exported to {self.path} (source {self.manifest['source']})"]
        lines += [f"  {name:22}{count:>9}" for name, count in self.written.items()]
        lines += [f"  skipped {why}" for why in self.skipped[:10]]
        if len(self.skipped) > 10:
            lines.append(f"  ... {len(self.skipped) - 10} more skipped")
        return "\n".join(lines)


@contextmanager
def _target(path: Path) -> Iterator:
    """A writer `open(name) -> binary file` over a directory or a zip."""
    if path.suffix == ".zip":
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            yield lambda name: archive.open(name, "w", force_zip64=True)
    else:
        path.mkdir(parents=True, exist_ok=True)
        yield lambda name: open(path / name, "wb")


def export_package(repo: Repository, path: str | Path, *, source: str | None = None) -> ExportReport:
    path = Path(path)
    report = ExportReport(str(path))
    lookup = StoreLookup(repo)
    sources: set[str] = set()
    with _target(path) as open_member:
        for file_kind in FILE_KINDS:
            count = 0
            with open_member(file_kind.file) as out:
                count = _write_file(repo, file_kind, lookup, out, sources, report)
            report.written[file_kind.file] = count
        exported_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        chosen = source or (next(iter(sources)) if len(sources) == 1 else DEFAULT_SOURCE)
        report.manifest = {"format": FORMAT, "version": "1.0", "exported_at": exported_at, "source": chosen,
                           "mode": "incremental"}
        with open_member(MANIFEST) as out:
            out.write(orjson.dumps(report.manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return report


def _write_file(repo: Repository, file_kind, lookup: StoreLookup, out: IO[bytes], sources: set[str],
                report: ExportReport) -> int:
    count = 0
    left_out = _LEFT_OUT.get(file_kind.resource_type)
    for stored in repo.iter_current(file_kind.resource_type):
        resource = stored.resource()
        if not file_kind.is_ours(resource) or (left_out and resource.get("status") == left_out):
            continue
        try:
            record = file_kind.from_fhir(resource, lookup)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            report.skipped.append(f"{file_kind.resource_type}/{stored.id}: {exc!r}")
            continue
        source = (resource.get("meta") or {}).get("source")
        if source:
            sources.add(source)
        out.write(orjson.dumps(record) + b"\n")
        count += 1
    return count
