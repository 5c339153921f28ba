"""The import report: counts per file, each rejected record (file, line, field, reason) and each
warning. Rejections and warnings spill to a temporary file past a few thousand, so a package
full of bad lines still imports in flat memory; `write_json` streams them out again.

Exit codes: 0 everything imported, 1 some records rejected, 2 the package was refused.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, fields
from typing import IO, Iterator

import orjson

EXIT_OK, EXIT_REJECTED, EXIT_REFUSED = 0, 1, 2


@dataclass
class FileCounts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    retired: int = 0  # mode: full: stored records of this kind absent from the package


@dataclass
class SummaryCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


class Spill:
    """An append-only list of dicts that moves to a temporary file past `limit` items."""

    def __init__(self, limit: int = 5000):
        self._items: list[dict] = []
        self._file: IO[bytes] | None = None
        self._limit = limit
        self._count = 0

    def append(self, item: dict) -> None:
        self._count += 1
        if self._file is None and len(self._items) < self._limit:
            self._items.append(item)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()
        self._file.write(orjson.dumps(item) + b"\n")

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[dict]:
        yield from self._items
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            for line in self._file:
                yield orjson.loads(line)
            self._file.seek(0, 2)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class ImportReport:
    def __init__(self, package: str):
        self.package = package
        self.manifest: dict | None = None
        self.refused: str | None = None
        self.files: dict[str, FileCounts] = {}
        self.rejected = Spill()
        self.warnings = Spill()
        self.summaries = SummaryCounts()
        self.provenance = 0  # Provenance resources written
        self._started = time.monotonic()
        self.elapsed = 0.0

    # -- recording ---------------------------------------------------------------------------
    def counts(self, file: str) -> FileCounts:
        return self.files.setdefault(file, FileCounts())

    def reject(self, file: str, line: int, key: str | None, problems: list[tuple[str, str]]) -> None:
        self.counts(file).rejected += 1
        field, reason = problems[0]
        entry: dict = {"file": file, "line": line, "key": key, "field": field, "reason": reason}
        if len(problems) > 1:
            entry["more"] = [{"field": f, "reason": r} for f, r in problems[1:]]
        self.rejected.append(entry)

    def warn(self, message: str, *, file: str | None = None, line: int | None = None,
             field: str | None = None, key: str | None = None) -> None:
        if file is not None:
            self.counts(file).warnings += 1
        entry = {"file": file, "line": line, "key": key, "field": field, "message": message}
        self.warnings.append({k: v for k, v in entry.items() if v is not None})

    def finish(self) -> None:
        self.elapsed = time.monotonic() - self._started

    # -- reading -----------------------------------------------------------------------------
    @property
    def exit_code(self) -> int:
        if self.refused:
            return EXIT_REFUSED
        return EXIT_REJECTED if len(self.rejected) else EXIT_OK

    def total(self, name: str) -> int:
        return sum(getattr(c, name) for c in self.files.values())

    @property
    def resources_written(self) -> int:
        return (self.total("created") + self.total("updated") + self.total("retired") + self.summaries.created
                + self.summaries.updated + self.summaries.deleted + self.provenance)

    def _head(self) -> dict:
        read = self.total("read")
        stored = read - self.total("rejected") + self.summaries.created + self.summaries.updated \
            + self.summaries.unchanged
        return {
            "package": self.package, "manifest": self.manifest, "exit_code": self.exit_code,
            "refused": self.refused,
            "files": {name: asdict(c) for name, c in self.files.items()},
            "totals": {f.name: self.total(f.name) for f in fields(FileCounts)},
            "summaries": asdict(self.summaries), "provenance": self.provenance,
            "elapsed_seconds": round(self.elapsed, 3),
            "records_per_second": round(read / self.elapsed, 1) if self.elapsed else None,
            "resources_per_second": round(stored / self.elapsed, 1) if self.elapsed else None,
        }

    def as_dict(self) -> dict:
        return {**self._head(), "rejected": list(self.rejected), "warnings": list(self.warnings)}

    def write_json(self, out: IO[bytes]) -> None:
        """The report as one JSON object, streamed (rejections and warnings may be many)."""
        head = orjson.dumps(self._head(), option=orjson.OPT_INDENT_2)
        out.write(head[:-2] + b",\n")
        for i, name in enumerate(("rejected", "warnings")):
            out.write(f'  "{name}": ['.encode())
            for n, item in enumerate(getattr(self, name)):
                out.write((b",\n    " if n else b"\n    ") + orjson.dumps(item))
            out.write(b"\n  ]" + (b",\n" if i == 0 else b"\n"))
        out.write(b"}\n")

    def summary_text(self, limit: int = 10) -> str:
        if self.refused:
            return f"Package refused: {self.refused}"
        lines = [f"Imported {self.package} (source {self.manifest['source']}, mode {self.manifest['mode']}) "
                 f"in {self.elapsed:.1f} s"]
        header = f"  {'file':22}{'read':>9}{'created':>9}{'updated':>9}{'same':>9}{'rejected':>9}{'warnings':>9}"
        lines.append(header + ("" if self.manifest["mode"] != "full" else f"{'retired':>9}"))
        for name, c in self.files.items():
            row = f"  {name:22}{c.read:>9}{c.created:>9}{c.updated:>9}{c.unchanged:>9}{c.rejected:>9}{c.warnings:>9}"
            lines.append(row + ("" if self.manifest["mode"] != "full" else f"{c.retired:>9}"))
        s = self.summaries
        if s.created or s.updated or s.unchanged or s.deleted:
            lines.append(f"  per-practice summaries: {s.created} created, {s.updated} updated, "
                         f"{s.unchanged} unchanged, {s.deleted} deleted")
        for n, entry in enumerate(self.rejected):
            if n == limit:
                lines.append(f"  ... {len(self.rejected) - limit} more rejected records in the report")
                break
            lines.append(f"  rejected {entry['file']}:{entry['line']} {entry['field']}: {entry['reason']}")
        if len(self.warnings):
            lines.append(f"  {len(self.warnings)} warning(s), listed in the report")
        return "\n".join(lines)

    def close(self) -> None:
        self.rejected.close()
        self.warnings.close()
