"""Export files on disk: one directory per job, NDJSON parts written line by line (memory stays
flat whatever the size) under a temporary name and renamed when complete, so a reader never sees
half a file."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import orjson

FILE_NAME = re.compile(r"^[A-Za-z]+-[0-9a-f]{8}-[0-9]+\.ndjson$")


class ExportFiles:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def path(self, job_id: str, name: str) -> Path | None:
        """The file of a job, or None for any name that is not one of ours (no path tricks)."""
        if not FILE_NAME.match(name) or not re.fullmatch(r"[0-9a-f]{32}", job_id):
            return None
        return self.job_dir(job_id) / name

    def remove_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def remove_except(self, job_id: str, keep: set[str]) -> None:
        folder = self.job_dir(job_id)
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name not in keep:
                    entry.unlink(missing_ok=True)

    def writer(self, job_id: str, name: str) -> "PartWriter":
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        return PartWriter(folder / name)


class PartWriter:
    """One NDJSON file: `write` a resource per line, then `close` to publish it (or `discard`)."""

    def __init__(self, path: Path):
        self.path = path
        self._tmp = path.with_name(path.name + ".tmp")
        self._file = open(self._tmp, "wb")
        self.count = 0

    def write(self, resource: dict) -> None:
        self._file.write(orjson.dumps(resource) + b"\n")
        self.count += 1

    def close(self) -> None:
        self._file.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)
