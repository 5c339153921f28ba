"""Everything of one type that a caller may see, streamed: what bulk readers (`$export`, `dthub
push`) read. It goes through the same SQL narrowing and the same per-resource gate as a search, so a
caller gets in bulk exactly what it would get by searching, page after page.

    selection = Selection("Task", since="2026-10-01T00:00:00Z", area=area_of(hierarchy, "QK1"))
    for version, view in visible(ctx, gate, selection):
        ...   # `view` is the caller's view (masked and labelled), ready to leave

`area` restricts to what belongs to an organisation or anything beneath it (conventions, Bulk Data:
our `organization` parameter). What "belongs" means per type:
- governed data (QuestionnaireResponse, Task, MeasureReport): its owning organisation is in the area;
- Organization: it is in the area;
- Consent and AuditEvent: they name an organisation of the area (the access key's `org:` names);
- Provenance: one of its targets is an Organization of the area or a resource owned by one;
- public reference data (Questionnaire, Measure, CodeSystem...): not restricted (it belongs to no one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import and_, exists, false, or_, select

from ..enforcement.columns import NAME_SEPARATOR
from ..enforcement.gate import Gate
from ..policy.hierarchy import Hierarchy
from ..policy.resources import GOVERNED
from ..outcomes import error
from ..search.query import RESULT_PARAMS, SearchQuery, parse_search
from ..storage import StoredVersion
from ..storage.schema import idx_reference, resource
from .context import Context

BATCH = 500


@dataclass(frozen=True)
class Selection:
    resource_type: str
    since: str | None = None                    # meta.lastUpdated after this instant (exclusive)
    until: str | None = None                    # ... and at or before this one (a bulk transactionTime)
    area: frozenset[str] | None = None          # owning organisations; None = anywhere
    params: tuple[tuple[str, str], ...] = ()    # search criteria (a `_typeFilter`), as a search takes them


def area_of(hierarchy: Hierarchy, ods: str) -> frozenset[str] | None:
    """The organisation and everything beneath it (a federation: its member practices), or None
    when the hierarchy does not know it."""
    kind = hierarchy.kind(ods)
    if kind is None:
        return None
    area = {ods} | set(hierarchy.practices_of(ods))
    if kind == "icb":  # its PCNs: each PCN with a cell in the ICB (a spanning PCN is beneath both)
        area |= {pcn for pcn, _ in hierarchy.cells_of_icb(ods)}
        area |= {pcn for pcn, lead in hierarchy.pcn_lead_icb.items() if lead == ods}
    return frozenset(area)


def _area_condition(alias, resource_type: str, area: frozenset[str]):
    if resource_type in GOVERNED:
        return alias.c.owner_org.in_(sorted(area))
    if resource_type == "Organization":
        return alias.c.res_id.in_(sorted(area))
    if resource_type in ("Consent", "AuditEvent"):
        if not area:
            return false()
        return or_(*(alias.c.security.like(f"%{NAME_SEPARATOR}org:{ods}{NAME_SEPARATOR}%") for ods in sorted(area)))
    if resource_type == "Provenance":
        target = resource.alias("t")
        owned = exists(select(target.c.res_id).where(and_(
            target.c.res_type == idx_reference.c.target_type, target.c.res_id == idx_reference.c.target_id,
            target.c.owner_org.in_(sorted(area)))))
        return exists(select(idx_reference.c.res_id).where(and_(
            idx_reference.c.res_type == "Provenance", idx_reference.c.res_id == alias.c.res_id,
            idx_reference.c.param == "target",
            or_(and_(idx_reference.c.target_type == "Organization", idx_reference.c.target_id.in_(sorted(area))),
                owned))))
    return None


def _extra(selection: Selection):
    def conditions(alias) -> list:
        out = []
        if selection.since is not None:
            out.append(alias.c.last_updated > selection.since)
        if selection.until is not None:
            out.append(alias.c.last_updated <= selection.until)
        if selection.area is not None:
            cond = _area_condition(alias, selection.resource_type, selection.area)
            if cond is not None:
                out.append(cond)
        return out
    return conditions


def checked(selection: Selection) -> SearchQuery:
    """The selection's search, or a 400 naming what a bulk filter cannot take: unknown parameters
    (a bulk request cannot report them page by page) and result parameters."""
    for key, _ in selection.params:
        if key.split(":")[0] in RESULT_PARAMS:
            raise error(400, "not-supported", f"{key} is a result parameter; a bulk filter takes search criteria only")
    query = parse_search(selection.resource_type, selection.params)
    if query.unknown:
        raise error(400, "not-supported", f"Unknown or unsupported {selection.resource_type} search parameters: "
                                          f"{', '.join(query.unknown)}")
    return query


def visible(ctx: Context, gate: Gate, selection: Selection, *, batch: int = BATCH) -> Iterator[tuple[StoredVersion, dict]]:
    """(stored version, the caller's view) of each current resource the selection picks and the
    policy lets leave, in id order, in bounded memory. Bad `params` raise 400 (call `checked` first
    to refuse them before any work). The gate notes what it serves: drain with `gate.take_notes()`."""
    query = checked(selection)
    for version in ctx.search.stream(query, gate.sql, extra=_extra(selection), batch=batch):
        view = gate.serve(version.resource())
        if view is not None:
            yield version, view
