"""Maintainer tool: vendor the UK Core bases and regenerate our snapshots.

    python -m profiles.build [--ukcore DIR] [--core DIR]

--ukcore  the UK Core XML folder (e.g. ../shared/ukcore): re-vendors profiles/ukcore/*.json
          (only when given; see profiles/ORIGIN.md)
--core    the official R4 StructureDefinitions (default tests/fixtures/fhir-r4/definitions)

The differential in each StructureDefinition-*.json is the source; this rewrites only its
`snapshot` and `mapping`. tests/unit/test_profiles_conformance.py fails when a snapshot is stale.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .snapshot import CORE, generate

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
UKCORE_BASES = ("UKCore-Organization", "UKCore-Questionnaire", "UKCore-QuestionnaireResponse",
                "UKCore-Task", "UKCore-Consent", "Extension-UKCore-MainLocation")
# FHIR's JSON property order for StructureDefinition (what we write out).
ORDER = ("resourceType", "id", "meta", "text", "extension", "url", "identifier", "version", "name",
         "title", "status", "experimental", "date", "publisher", "contact", "description",
         "useContext", "jurisdiction", "purpose", "copyright", "keyword", "fhirVersion", "mapping",
         "kind", "abstract", "context", "contextInvariant", "type", "baseDefinition", "derivation",
         "snapshot", "differential")


def ours() -> list[Path]:
    return sorted(HERE.glob("StructureDefinition-*.json"))


def resolver(core_dir: Path):
    known = {}
    for path in [*ours(), *sorted((HERE / "ukcore").glob("*.json"))]:
        sd = json.loads(path.read_text(encoding="utf-8"))
        known[sd["url"]] = sd

    def resolve(url: str) -> dict | None:
        if url.startswith(CORE):
            path = core_dir / f"StructureDefinition-{url[len(CORE):]}.json"
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        return known.get(url)

    return resolve


def with_snapshot(sd: dict, resolve) -> dict:
    elements, mappings = generate(sd, resolve)
    out = {**sd, "snapshot": {"element": elements}}
    if mappings:
        out["mapping"] = mappings
    else:
        out.pop("mapping", None)
    return {k: out[k] for k in ORDER if k in out}


def dumps(resource: dict) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def vendor_ukcore(source: Path) -> None:
    from adapter.formats.xml import parse_xml

    for name in UKCORE_BASES:
        body = parse_xml((source / f"{name}.xml").read_bytes())
        (HERE / "ukcore" / f"{name}.json").write_text(dumps({k: body[k] for k in ORDER if k in body}),
                                                      encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ukcore", type=Path, default=None)
    parser.add_argument("--core", type=Path, default=REPO / "tests" / "fixtures" / "fhir-r4" / "definitions")
    args = parser.parse_args(argv)
    if args.ukcore is not None:
        vendor_ukcore(args.ukcore)
    resolve = resolver(args.core)
    for path in ours():
        sd = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(dumps(with_snapshot(sd, resolve)), encoding="utf-8")
        print(f"snapshot: {path.name}")


if __name__ == "__main__":
    main()
