"""Build adapter/search/definitions/: the SearchParameter resources we serve, one per supported parameter.

Standard ones are copied unchanged from the official R4 definitions (HL7 FHIR R4 4.0.1, CC0);
ours are written here. Run: python -m adapter.search.generate_parameters [path/to/shared/fhir-r4]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .parameters import B, BY_TYPE, COMMON, MEASURE_REPORT_SUBJECT

OUT = Path(__file__).parent / "definitions"
OWN = {
    "MeasureReport-organization": {
        "name": "organization", "code": "organization", "base": ["MeasureReport"], "type": "reference",
        "target": ["Organization"],
        "description": "The organisation a MeasureReport is about (R4's subject cannot reference an Organization; "
                       "the R5 cross-version extension carries it).",
        "expression": f"MeasureReport.extension('{MEASURE_REPORT_SUBJECT}').value",
    },
    "AuditEvent-purpose-of-use": {
        "name": "purpose-of-use", "code": "purpose-of-use", "base": ["AuditEvent"], "type": "token",
        "description": "The purpose of use of the audited access (R4 has no AuditEvent purpose parameter).",
        "expression": "AuditEvent.purposeOfEvent | AuditEvent.agent.purposeOfUse",
    },
}


def _own(id_: str, spec: dict) -> dict:
    return {"resourceType": "SearchParameter", "id": id_, "url": f"{B}/SearchParameter/{id_}", "version": "1.0.0",
            "status": "active", "experimental": False, "date": "2026-11-22", "publisher": "D&T Hub",
            "xpathUsage": "normal", **spec}


def main(shared: Path) -> None:
    wanted = {"Resource-id", "Resource-lastUpdated"}
    for param in (*COMMON, *(p for params in BY_TYPE.values() for p in params)):
        if param.definition.startswith("http://hl7.org/fhir/SearchParameter/"):
            wanted.add(param.definition.rsplit("/", 1)[1])
    for old in OUT.glob("SearchParameter-*.json"):
        old.unlink()
    for id_ in sorted(wanted):
        source = shared / "definitions" / f"SearchParameter-{id_}.json"
        (OUT / source.name).write_bytes(source.read_bytes())
    for id_, spec in OWN.items():
        (OUT / f"SearchParameter-{id_}.json").write_text(json.dumps(_own(id_, spec), indent=2) + "\n")
    print(f"{len(wanted) + len(OWN)} SearchParameters in {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "shared" / "fhir-r4")
