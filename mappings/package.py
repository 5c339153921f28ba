"""Export packages: a directory or a .zip of one (hub-export.md, "Package").

    with open_package(path) as package:      # raises PackageRefused (bad manifest, format, version)
        package.manifest, package.present, package.unknown
        for line_no, raw in package.lines("submissions.ndjson"):   # streamed, never whole in memory
            ...

Lines are numbered from 1 as a text editor numbers them; blank lines are skipped (but counted).
A zip may hold the files at its root or inside one top-level folder.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import orjson

from .schemas import is_datetime

MANIFEST = "manifest.json"
FILES = ("organisations.ndjson", "assessments.ndjson", "submissions.ndjson", "actions.ndjson",
         "usage.ndjson", "contracts.ndjson")
FORMAT = "dthub-export"
_MINOR = re.compile(r"^1\.(0|[1-9][0-9]*)$")
_MANIFEST_FIELDS = ("format", "version", "exported_at", "source", "mode")


class PackageRefused(Exception):
    """The package as a whole cannot be read: nothing of it is imported."""


@dataclass(frozen=True)
class Manifest:
    format: str
    version: str
    exported_at: str
    source: str
    mode: str
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in _MANIFEST_FIELDS}


def parse_manifest(raw: bytes) -> Manifest:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PackageRefused(f"manifest.json is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PackageRefused("manifest.json must hold one JSON object")
    warnings = [f"manifest.json: unknown field {key!r} ignored" for key in data if key not in _MANIFEST_FIELDS]
    if data.get("format") != FORMAT:
        raise PackageRefused(f"manifest.json: format must be {FORMAT!r}, not {data.get('format')!r}")
    version = data.get("version")
    if not isinstance(version, str) or not _MINOR.match(version):
        raise PackageRefused(f"manifest.json: version {version!r} is not supported (this adapter reads 1.0)")
    if version != "1.0":
        warnings.append(f"manifest.json: version {version} is newer than 1.0; read as 1.0 "
                        "(fields this adapter does not know are reported and ignored)")
    if not is_datetime(data.get("exported_at")):
        raise PackageRefused("manifest.json: exported_at must be a time with a zone, e.g. 2026-11-01T02:00:00Z")
    source = data.get("source")
    if not isinstance(source, str) or not source.strip() or any(c.isspace() for c in source):
        raise PackageRefused("manifest.json: source must be a non-empty name without spaces")
    mode = data.get("mode", "incremental")
    if mode not in ("incremental", "full"):
        raise PackageRefused(f"manifest.json: mode must be 'incremental' or 'full', not {mode!r}")
    return Manifest(FORMAT, version, data["exported_at"], source, mode, tuple(warnings))


def _numbered_lines(stream: io.BufferedIOBase) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(stream, start=1):
        line = line.rstrip(b"\r\n")
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):  # a BOM is no content
            line = line[3:]
        if line.strip():
            yield number, line


class Package:
    """An open package; use `open_package`. Subclasses read a directory or a zip."""

    def __init__(self, location: str, names: list[str]):
        self.location = location
        self.present = [name for name in FILES if name in names]
        self.unknown = sorted(name for name in names if name not in FILES and name != MANIFEST)
        self.manifest = parse_manifest(self._read(MANIFEST)) if MANIFEST in names else None
        if self.manifest is None:
            raise PackageRefused(f"{location}: no manifest.json")

    def _read(self, name: str) -> bytes:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Package":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _DirectoryPackage(Package):
    def __init__(self, root: Path):
        self.root = root
        names = [p.name + ("/" if p.is_dir() else "") for p in root.iterdir()]
        super().__init__(str(root), names)

    def _read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def size(self, name: str) -> int:
        return (self.root / name).stat().st_size

    def lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        with open(self.root / name, "rb") as stream:
            yield from _numbered_lines(stream)


class _ZipPackage(Package):
    def __init__(self, path: Path):
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackageRefused(f"{path}: not a readable zip: {exc}") from None
        members = [m for m in self.zip.namelist() if not m.endswith("/")]
        self.prefix = ""
        if MANIFEST not in members:
            # A zip "of a directory" often holds that directory: accept one top-level folder.
            tops = {m.split("/", 1)[0] for m in members}
            if len(tops) == 1 and f"{next(iter(tops))}/{MANIFEST}" in members:
                self.prefix = next(iter(tops)) + "/"
        names = [m[len(self.prefix):] for m in members if m.startswith(self.prefix)]
        try:
            super().__init__(str(path), names)
        except Exception:
            self.zip.close()
            raise

    def _read(self, name: str) -> bytes:
        return self.zip.read(self.prefix + name)

    def size(self, name: str) -> int:
        return self.zip.getinfo(self.prefix + name).file_size

    def lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        with self.zip.open(self.prefix + name) as stream:
            yield from _numbered_lines(io.BufferedReader(stream, 1 << 16))

    def close(self) -> None:
        self.zip.close()


def open_package(path: str | Path) -> Package:
    path = Path(path)
    if path.is_dir():
        return _DirectoryPackage(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return _ZipPackage(path)
    if not path.exists():
        raise PackageRefused(f"{path}: no such package")
    raise PackageRefused(f"{path}: a package is a directory or a .zip")
