"""A synthetic D&T Hub export package on the real ODS hierarchy (`dthub demo`).

`generate(out, DemoOptions(...))` writes organisations, assessments, submissions, actions,
usage and contracts that satisfy `hub-export.md` (format 1.0). The same options give the same
bytes: every random draw comes from a stream seeded by the seed and a stable key (a practice's
ODS code, a federation's code...), and every date is relative to `today` (default 2026-11-01).
Records are streamed practice by practice, so all of England (about 6,500 practices) runs in
flat memory.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .activity import FormSet, OrgStaff, org_usage, practice_activity
from .contracts import contract_records
from .forms import global_forms, indepth_forms
from .ods import DEFAULT_ICBS, load_hierarchy, select_practices
from .organisations import make_selection, organisation_records
from .package import PackageError, PackageWriter, publish, staging_dir
from .timeline import DEFAULT_TODAY, Timeline

__all__ = ["DEFAULT_ICBS", "DEFAULT_TODAY", "DemoOptions", "DemoSummary", "PackageError", "generate"]

SOURCE = "dthub-demo"


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 1
    practices: int | None = None  # None: every practice of `icbs`
    icbs: tuple[str, ...] = DEFAULT_ICBS  # taken first, whole, before the others (by code)
    today: date = DEFAULT_TODAY
    mode: str = "incremental"


@dataclass
class DemoSummary:
    path: Path
    counts: dict[str, int]
    organisations: dict[str, int]
    icbs: tuple[str, ...]  # the ICBs whose practices are in the package
    bytes: int = 0
    seconds: float = 0.0
    spanning_pcns: tuple[str, ...] = field(default=())


def generate(out: Path | str, options: DemoOptions = DemoOptions()) -> DemoSummary:
    began = time.perf_counter()
    out = Path(out)
    if options.mode not in ("incremental", "full"):
        raise PackageError(f"mode must be incremental or full, not {options.mode!r}")
    hierarchy = load_hierarchy()
    unknown = [icb for icb in options.icbs if icb not in hierarchy.icbs]
    if unknown:
        raise PackageError(f"unknown ICB code(s): {', '.join(unknown)}")
    if options.practices is not None and options.practices < 1:
        raise PackageError("--practices must be at least 1")
    timeline = Timeline(options.today)
    selection = make_selection(hierarchy, select_practices(hierarchy, options.icbs, options.practices),
                               options.seed)
    globals_ = global_forms(timeline)
    indepth = indepth_forms(timeline)
    forms = FormSet({int(f.version.split(".")[0]): f for f in globals_},
                    tuple(f for f in indepth if f.status == "active"))

    staged = staging_dir(out)
    writer = PackageWriter(staged)
    kinds: dict[str, int] = {}
    try:
        writer.manifest({"format": "dthub-export", "version": "1.0", "exported_at": timeline.exported_at,
                         "source": SOURCE, "mode": options.mode})
        for record in organisation_records(selection, options.seed):
            kinds[record["kind"]] = kinds.get(record["kind"], 0) + 1
            writer.write("organisations", record)
        for form in globals_ + indepth:
            writer.write("assessments", form.to_record())
        org_staff = OrgStaff(options.seed)
        for code in selection.practices:
            activity = practice_activity(hierarchy.practices[code], forms, timeline, options.seed, org_staff)
            for record in activity.submissions:
                writer.write("submissions", record)
            for record in activity.actions:
                writer.write("actions", record)
            for record in activity.usage:
                writer.write("usage", record)
        for record in org_usage(list(selection.pcns), timeline, options.seed, 0.4, (0, 3)):
            writer.write("usage", record)
        for record in org_usage(list(selection.icbs), timeline, options.seed, 0.8, (1, 8)):
            writer.write("usage", record)
        for record in contract_records(selection, options.icbs, timeline, options.seed):
            writer.write("contracts", record)
    except BaseException:
        writer.close()
        shutil.rmtree(staged, ignore_errors=True)
        raise
    writer.close()
    size = publish(staged, out, options.today)
    with_practices = tuple(sorted({hierarchy.practices[c].icb for c in selection.practices}))
    spanning = tuple(p for p in selection.pcns if len({hierarchy.practices[c].icb
                                                      for c in selection.practices_of_pcn(p)}) > 1)
    return DemoSummary(out, dict(writer.counts), kinds, with_practices, size, time.perf_counter() - began, spanning)
