"""Packages: manifest checks, directory and zip, unknown files, streamed numbered lines."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import orjson
import pytest

from mappings.package import FILES, PackageRefused, open_package, parse_manifest

BASIC = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"
GOOD = {"format": "dthub-export", "version": "1.0", "exported_at": "2026-11-01T02:00:00Z", "source": "hub"}


def test_a_good_manifest_defaults_to_incremental():
    manifest = parse_manifest(orjson.dumps(GOOD))
    assert (manifest.version, manifest.mode, manifest.source, manifest.warnings) == ("1.0", "incremental", "hub", ())


def test_a_newer_minor_version_is_read_with_a_warning():
    manifest = parse_manifest(orjson.dumps({**GOOD, "version": "1.3"}))
    assert manifest.version == "1.3" and "newer than 1.0" in manifest.warnings[0]


def test_unknown_manifest_fields_are_warnings():
    assert "'comment'" in parse_manifest(orjson.dumps({**GOOD, "comment": "x"})).warnings[0]


@pytest.mark.parametrize("change,reason", [
    ({"format": "hub-export"}, "format must be"),
    ({"format": None}, "format must be"),
    ({"version": "2.0"}, "version '2.0' is not supported"),
    ({"version": "1"}, "not supported"),
    ({"version": 1.0}, "not supported"),
    ({"version": "1.01"}, "not supported"),
    ({"exported_at": "yesterday"}, "exported_at"),
    ({"exported_at": None}, "exported_at"),
    ({"source": ""}, "source"),
    ({"source": None}, "source"),
    ({"mode": "partial"}, "mode must be"),
])
def test_bad_manifests_are_refused(change, reason):
    with pytest.raises(PackageRefused, match=reason):
        parse_manifest(orjson.dumps({**GOOD, **change}))


@pytest.mark.parametrize("raw", [b"{", b"[]", b""])
def test_unreadable_manifests_are_refused(raw):
    with pytest.raises(PackageRefused):
        parse_manifest(raw)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "pkg"
    shutil.copytree(BASIC, target)
    return target


def test_directory_package(tmp_path):
    root = _copy(tmp_path)
    (root / "extra.csv").write_text("x")
    (root / "sub").mkdir()
    with open_package(root) as package:
        assert package.present == list(FILES)
        assert package.unknown == ["extra.csv", "sub/"]
        lines = list(package.lines("organisations.ndjson"))
    # the blank line 4 is skipped but counted
    assert [n for n, _ in lines] == [1, 2, 3, 5, 6, 7]
    assert orjson.loads(lines[3][1])["ods_code"] == "FED01"


@pytest.mark.parametrize("top_folder", ["", "export-2026-11/"])
def test_zip_package_at_root_or_in_one_folder(tmp_path, top_folder):
    path = tmp_path / "pkg.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for item in BASIC.iterdir():
            archive.write(item, top_folder + item.name)
        archive.writestr(top_folder + "readme.txt", "x")
    with open_package(path) as package:
        assert package.present == list(FILES) and package.unknown == ["readme.txt"]
        assert package.manifest.source == "dthub-test"
        assert [n for n, _ in package.lines("organisations.ndjson")] == [1, 2, 3, 5, 6, 7]
        assert package.size("usage.ndjson") == (BASIC / "usage.ndjson").stat().st_size


def test_crlf_and_bom_are_tolerated(tmp_path):
    root = _copy(tmp_path)
    (root / "usage.ndjson").write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n{"b": 2}\r\n')
    with open_package(root) as package:
        assert list(package.lines("usage.ndjson")) == [(1, b'{"a": 1}'), (3, b'{"b": 2}')]


def test_missing_manifest_and_missing_package_are_refused(tmp_path):
    root = _copy(tmp_path)
    (root / "manifest.json").unlink()
    with pytest.raises(PackageRefused, match="no manifest.json"):
        open_package(root)
    with pytest.raises(PackageRefused, match="no such package"):
        open_package(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(PackageRefused, match="directory or a .zip"):
        open_package(tmp_path / "file.txt")


def test_only_present_files_are_listed(tmp_path):
    root = _copy(tmp_path)
    (root / "actions.ndjson").unlink()
    with open_package(root) as package:
        assert "actions.ndjson" not in package.present and package.unknown == []
