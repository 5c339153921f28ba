"""Rebuild `ods-hierarchy.csv.gz` from NHS Digital's practice -> PCN -> CCG -> STP map.

    python -m adapter.demo.build_ods_data /work/shared/data/ods/gp-reg-pat-prac-map-2022-01.csv

Source: NHS Digital, "Patients Registered at a GP Practice, January 2022", file
gp-reg-pat-prac-map.csv (the ODS hierarchy of every GP practice in England). Contains public
sector information licensed under the Open Government Licence v3.0
(https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/).

Only the columns the demo needs are kept; rows are sorted by practice code and the gzip header
carries no time stamp, so the same input always gives the same bytes. The STP columns are the
ICB of each practice (the STPs became the 42 ICBs in July 2022); `icb-names.csv` holds their
ODS names. The CCG columns are kept because the demo's synthetic GP federations follow the
former CCG areas.
"""
from __future__ import annotations

import csv
import gzip
import io
import sys
from pathlib import Path

COLUMNS = (  # (our name, the source column)
    ("practice_code", "PRACTICE_CODE"),
    ("practice_name", "PRACTICE_NAME"),
    ("practice_postcode", "PRACTICE_POSTCODE"),
    ("pcn_code", "PCN_CODE"),
    ("pcn_name", "PCN_NAME"),
    ("ccg_code", "CCG_CODE"),
    ("ccg_name", "CCG_NAME"),
    ("icb_code", "STP_CODE"),
    ("stp_name", "STP_NAME"),
)
TARGET = Path(__file__).with_name("ods-hierarchy.csv.gz")


def build(source: Path, target: Path = TARGET) -> int:
    with source.open(newline="", encoding="utf-8-sig") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["PRACTICE_CODE"])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS])
    for row in rows:
        writer.writerow([row[column].strip() for _, column in COLUMNS])
    with target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                 compresslevel=9) as out:
        out.write(text.getvalue().encode("utf-8"))
    return len(rows)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(f"{build(Path(sys.argv[1]))} practices -> {TARGET}")
