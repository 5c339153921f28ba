"""Writing an export package: a directory of ndjson files, or a zip of one, byte-reproducible."""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import orjson

# The spec's table order, which is also the order files are applied in and stored in a zip.
FILES = ("manifest.json", "organisations.ndjson", "assessments.ndjson", "submissions.ndjson",
         "actions.ndjson", "usage.ndjson", "contracts.ndjson")
KINDS = tuple(name.removesuffix(".ndjson") for name in FILES[1:])


class PackageError(Exception):
    pass


class PackageWriter:
    """Streams records into the package's ndjson files (all open at once) and counts them."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.counts = dict.fromkeys(KINDS, 0)
        self._files = {kind: (directory / f"{kind}.ndjson").open("wb", buffering=1 << 20) for kind in KINDS}

    def write(self, kind: str, record: dict) -> None:
        self._files[kind].write(orjson.dumps(record) + b"\n")
        self.counts[kind] += 1

    def manifest(self, record: dict) -> None:
        (self.directory / "manifest.json").write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n")

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()


def staging_dir(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staged.chmod(0o777 & ~umask)  # mkdtemp makes it private; the package is an ordinary directory
    return staged


def publish(staged: Path, out: Path, today: date) -> int:
    """Move the finished package into place (a directory, or a zip when `out` ends .zip); its size."""
    try:
        if out.suffix.lower() == ".zip":
            if out.is_dir():
                raise PackageError(f"{out} is a directory")
            partial = out.with_name(f".{out.name}.partial")
            _zip(staged, partial, today)
            os.replace(partial, out)
            return out.stat().st_size
        if out.exists():
            if not out.is_dir():
                raise PackageError(f"{out} exists and is not a directory")
            if any(out.iterdir()) and not (out / "manifest.json").exists():
                raise PackageError(f"{out} is not empty and holds no package: not overwriting it")
            shutil.rmtree(out)
        staged.rename(out)
        return sum(f.stat().st_size for f in out.iterdir())
    finally:
        if staged.exists():
            shutil.rmtree(staged)


def _zip(staged: Path, target: Path, today: date) -> None:
    # Fixed entry times, permissions and order, so that the same package gives the same bytes.
    stamp = (today.year, today.month, today.day, 2, 0, 0)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in FILES:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            with (staged / name).open("rb") as source, archive.open(info, "w") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
