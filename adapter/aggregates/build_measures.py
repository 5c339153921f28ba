"""Write adapter/aggregates/measures/Measure-<id>.json from definitions.py.

    python -m adapter.aggregates.build_measures          # rewrite the files
    python -m adapter.aggregates.build_measures --check  # exit 1 when a file is out of date
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mappings.names import CS_DATA_TYPE, MEASURE_POPULATION, MEASURE_URL, concept

from .definitions import MEASURES, MeasureDef

HERE = Path(__file__).resolve().parent / "measures"
SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
MEASURE_TYPE = "http://terminology.hl7.org/CodeSystem/measure-type"
DATE = "2026-11-23"


def _expression(text: str, description: str | None = None, language: str = "text/fhirpath") -> dict:
    out = {"language": language, "expression": text}
    if description:
        out["description"] = description
    return out


def measure_resource(m: MeasureDef) -> dict:
    population_text = ("The practices (of the subject the caller may aggregate over) with a record this query "
                       "selects, restricted to those practices and to the group; for assessments only each "
                       "practice's latest submission counts; usage counts the practices' own monthly rows for the "
                       "months whose first day lies in the period. Dates are Europe/London dates.")
    groups = []
    for g in m.groups:
        groups.append({
            "code": concept(g.system, g.code), "description": g.description,
            "population": [
                {"code": concept(MEASURE_POPULATION, "initial-population", "Initial Population"),
                 "description": "The number of contributing practices.",
                 "criteria": _expression(m.population, population_text, "application/x-fhir-query")},
                {"code": concept(MEASURE_POPULATION, "measure-observation", "Measure Observation"),
                 "description": ("Each practice's value: its percentage score" if m.method == "mean"
                                 else "Each practice's count or sum") + f"; combined by {m.method}.",
                 "criteria": _expression(m.observation, f"{m.method} over the contributing practices")},
            ],
            **({"stratifier": [{"code": {"text": s.code}, "description": s.description,
                                "criteria": _expression(s.expression, s.description)} for s in m.stratifiers]}
               if m.stratifiers else {}),
        })
    body = {
        "resourceType": "Measure", "id": m.id, "url": MEASURE_URL + m.id, "version": "1.0.0",
        "name": "".join(part.capitalize() for part in m.id.split("-")), "title": m.title,
        "status": "active", "experimental": False, "date": DATE, "publisher": "D&T Hub",
        "description": m.description,
        "useContext": [{"code": {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type",
                                 "code": "focus"},
                        "valueCodeableConcept": concept(CS_DATA_TYPE, m.data_type)}],
        "scoring": concept(SCORING, "continuous-variable"),
        "type": [concept(MEASURE_TYPE, "outcome")],
        "improvementNotation": concept("http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
                                       "increase"),
        "guidance": ("Evaluate with GET [base]/Measure/" + m.id + "/$evaluate-measure?subject=Organization/<ODS>"
                     "&periodStart=YYYY-MM-DD&periodEnd=YYYY-MM-DD (an ICB, a PCN cell or a federation). "
                     "initial-population counts contributing practices; measureScore is the "
                     f"{m.method} of their values"
                     + (f" in {m.unit}" if m.unit else "")
                     + (". Groups with codes of the same system beyond those listed appear when the data "
                        "brings them." if m.extra_groups_system else ".")
                     + " Groups with 1 to k-1 contributors the caller may not see at Practice level are "
                       "suppressed (data-absent-reason masked)."),
        "group": groups,
    }
    return body


def dumps(resource: dict) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for m in MEASURES.values():
        path = HERE / f"Measure-{m.id}.json"
        text = dumps(measure_resource(m))
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.name}")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
