"""Search criteria as SQL conditions over the resource table and the index tables.

Every condition is `res_id IN (SELECT res_id FROM <index> WHERE res_type = … AND param = … AND
<match>)`: the database starts from the selective index rows instead of probing every candidate
resource, and ORs, ANDs, :not and :missing compose without joins that would multiply rows.
The one exception: beside a criterion that `narrows` (a reference, a chain, an id), codes and dates
are checked per candidate row by (res_id, res_type, param), since listing a broad value costs more
than the search it narrows (`QuestionnaireResponse?subject.partof=…&authored=ge2026…`: 7 ms to 0.1 ms).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, exists, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import FunctionElement

from ..outcomes import error
from ..storage.schema import idx_date, idx_reference, idx_string, idx_token, resource
from .indexer import parse_reference
from .parameters import DATE, REFERENCE, STRING, TOKEN, URI
from .query import Criterion
from .values import date_range, fold

_TABLE = {TOKEN: idx_token, URI: idx_token, STRING: idx_string, DATE: idx_date, REFERENCE: idx_reference}
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _rows_of(table, owner, types: tuple[str, ...], param: str, match: ColumnElement | None = None):
    cond = and_(table.c.res_type.in_(types) if len(types) > 1 else table.c.res_type == types[0],
                table.c.param == param)
    if match is not None:
        cond = and_(cond, match)
    # An IN list, never a correlated EXISTS: without statistics SQLite probes a correlated range
    # (dates, prefixes) through the range index once per candidate, which is quadratic.
    return owner.c.res_id.in_(select(table.c.res_id).where(cond))


def _token(table, value: str, modifier: str | None) -> ColumnElement:
    if modifier == "text":
        return table.c.text_norm.like(_like_escape(fold(value)) + "%", escape="\\")
    return _code_match(table.c.code, table.c.system, value)


def _code_match(code, system, value: str) -> ColumnElement:
    if "|" in value:
        system_value, code_value = value.split("|", 1)
        if system_value == "":
            return and_(system == "", code == code_value)
        if code_value == "":
            return system == system_value
        return and_(system == system_value, code == code_value)
    return code == value


def _string(table, value: str, modifier: str | None) -> ColumnElement:
    if modifier == "exact":
        return table.c.exact == value
    folded = _like_escape(fold(value))
    return table.c.norm.like(("%" if modifier == "contains" else "") + folded + "%", escape="\\")


def date_bounds(value: str) -> tuple[str, str, str]:
    prefix, text = ("eq", value)
    if value[:2] in PREFIXES and value[2:3].isdigit():
        prefix, text = value[:2], value[2:]
    span = date_range(text)
    if span is None:
        raise error(400, "invalid", f"{value!r} is not a FHIR date search value (e.g. ge2026-04-01)")
    return prefix, span[0], span[1]


def _date_match(low, high, value: str) -> ColumnElement:
    prefix, p_low, p_high = date_bounds(value)
    if prefix == "eq":
        return and_(low >= p_low, high <= p_high)
    if prefix == "ne":
        return or_(low < p_low, high > p_high)
    if prefix == "gt":
        return high > p_high
    if prefix == "lt":
        return low < p_low
    if prefix == "ge":
        return high >= p_low
    if prefix == "le":
        return low <= p_high
    if prefix == "sa":
        return low > p_high
    if prefix == "eb":
        return high < p_low
    # ap: overlap with the value widened by 10% of its distance from now (at least a day).
    start = datetime.fromisoformat(p_low.replace("Z", "+00:00"))
    slack = max(abs(datetime.now(timezone.utc) - start) * 0.1, timedelta(days=1))
    fmt = lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # noqa: E731
    return and_(low <= fmt(datetime.fromisoformat(p_high.replace("Z", "+00:00")) + slack), high >= fmt(start - slack))


def _reference(table, value: str, modifier: str | None, fhir_base: str) -> ColumnElement:
    if modifier == "identifier":
        if "|" in value:
            system, ident = value.split("|", 1)
            return and_(table.c.ident_system == system, table.c.ident_value == ident) if system else \
                table.c.ident_value == ident
        return table.c.ident_value == value
    target_type, target_id, url = parse_reference(value, fhir_base)
    if target_id:
        return and_(table.c.target_type == target_type, table.c.target_id == target_id)
    if url:
        return table.c.target_url == url
    # A bare id: any target type, or the one a `:Type` modifier names.
    match = table.c.target_id == value
    return and_(match, table.c.target_type == modifier) if modifier and modifier[:1].isupper() else match


def _visible(access, alias, types: tuple[str, ...]) -> list[ColumnElement]:
    """The caller's narrowing of `alias` rows of `types` (none when the caller sees everything)."""
    if access is None:
        return []
    parts = []
    for type_ in types:
        cond = access(alias, type_)
        if cond is None and len(types) == 1:
            return []
        parts.append(alias.c.res_type == type_ if cond is None else and_(alias.c.res_type == type_, cond))
    return [or_(*parts)]


def narrows(crit: Criterion) -> bool:
    """Picks its rows by a reference (a subject, an owner, a chain or `_has` through one) or by id:
    few rows, so the search's value criteria (codes, dates) are cheaper checked per row than listed."""
    if crit.chain is not None or crit.has is not None or crit.param == "_id":
        return crit.modifier != "not"
    return crit.type == REFERENCE and crit.modifier in (None, "identifier")


class ConditionBuilder:
    def __init__(self, fhir_base: str):
        self._base = fhir_base

    def criterion(self, owner, crit: Criterion, types: tuple[str, ...], access=None, *,
                  per_row: bool = False) -> ColumnElement:
        """`types`: the resource type(s) `owner` rows can have (the searched type, or a chain's targets).
        `access` narrows the resources a chain or `_has` passes through to those the caller may
        see, so a predicate over hidden data matches as if that data were absent. `per_row`: the
        search has a `narrows` criterion, so a date range is checked per candidate row."""
        if per_row and crit.modifier is None and not crit.param.startswith("_") and \
                crit.chain is None and crit.has is None and crit.type in (DATE, TOKEN, URI):
            return self._per_row(owner, crit, types)
        if crit.has:
            return self._has(owner, crit, types, access)
        if crit.chain:
            return self._chain(owner, crit, types, access)
        if crit.param == "_id":
            cond = owner.c.res_id.in_(crit.values)
            return not_(cond) if crit.modifier == "not" else cond
        if crit.param == "_lastUpdated":
            return or_(*[_date_match(owner.c.last_updated, owner.c.last_updated, v) for v in crit.values])
        # Each EXISTS gets its own alias, or nested ones (chains, _has) would correlate to each other.
        table = _TABLE[crit.type].alias()
        if crit.modifier == "missing":
            present = _rows_of(table, owner, types, crit.param)
            return not_(present) if crit.values[0] == "true" else present
        if crit.modifier == "below":
            return self._below(owner, crit)
        if crit.modifier == "not":  # R4: matches resources without that value, including those with none
            return not_(_rows_of(table, owner, types, crit.param, or_(*[_token(table, v, None) for v in crit.values])))
        return _rows_of(table, owner, types, crit.param, or_(*[self._value(table, crit, v) for v in crit.values]))

    def _per_row(self, owner, crit: Criterion, types: tuple[str, ...]) -> ColumnElement:
        # A broad value (authored=ge2026, status=in-progress) as an IN list lists much of the type,
        # per search; per candidate it is one lookup by (res_id, res_type, param). The value columns
        # are kept out of index choice, or SQLite walks the value index for each candidate instead.
        table = _TABLE[crit.type].alias()
        if crit.type == DATE:
            low, high = _NotAnIndexKey(table.c.low), _NotAnIndexKey(table.c.high)
            match = or_(*[_date_match(low, high, v) for v in crit.values])
        else:
            code, system = _NotAnIndexKey(table.c.code), _NotAnIndexKey(table.c.system)
            match = or_(*[_code_match(code, system, v) if crit.type == TOKEN else code == v for v in crit.values])
        return exists(select(table.c.res_id).where(and_(
            table.c.res_id == owner.c.res_id,
            table.c.res_type.in_(types) if len(types) > 1 else table.c.res_type == types[0],
            table.c.param == crit.param, match)))

    def _value(self, table, crit: Criterion, value: str) -> ColumnElement:
        if crit.type in (TOKEN, URI):
            return _token(table, value, crit.modifier) if crit.type == TOKEN else table.c.code == value
        if crit.type == STRING:
            return _string(table, value, crit.modifier)
        if crit.type == DATE:
            return _date_match(table.c.low, table.c.high, value)
        return _reference(table, value, crit.modifier, self._base)

    def _chain(self, owner, crit: Criterion, types: tuple[str, ...], access=None) -> ColumnElement:
        # Index rows only carry current, live versions, so the inner match needs no resource table.
        target = resource.alias()
        inner = self.criterion(target, crit.chain.inner, crit.chain.target_types, access)
        targets = select(target.c.res_id).where(and_(target.c.res_type.in_(crit.chain.target_types), inner,
                                                     *_visible(access, target, crit.chain.target_types)))
        ref = idx_reference.alias()
        match = and_(ref.c.target_type.in_(crit.chain.target_types), ref.c.target_id.in_(targets))
        return _rows_of(ref, owner, types, crit.param, match)

    def _has(self, owner, crit: Criterion, types: tuple[str, ...], access=None) -> ColumnElement:
        has = crit.has
        source = resource.alias()
        inner = self.criterion(source, has.inner, (has.source_type,), access)
        sources = select(source.c.res_id).where(and_(source.c.res_type == has.source_type, inner,
                                                     *_visible(access, source, (has.source_type,))))
        ref = idx_reference.alias()
        return owner.c.res_id.in_(select(ref.c.target_id).where(and_(
            ref.c.res_type == has.source_type, ref.c.param == has.reference_param,
            ref.c.target_type.in_(types), ref.c.res_id.in_(sources))))

    def _below(self, owner, crit: Criterion) -> ColumnElement:
        """Organization?partof:below=X: every organisation whose partOf chain reaches X (not X itself)."""
        roots = [parse_reference(v, self._base)[1] or v for v in crit.values]
        step = idx_reference.alias()
        tree = (select(step.c.res_id).where(and_(step.c.res_type == "Organization", step.c.param == "partof",
                                                 step.c.target_id.in_(roots)))
                .cte("descendants", recursive=True))
        child = idx_reference.alias()
        tree = tree.union(select(child.c.res_id).where(and_(
            child.c.res_type == "Organization", child.c.param == "partof", child.c.target_id == tree.c.res_id)))
        return owner.c.res_id.in_(select(tree.c.res_id))


class _NotAnIndexKey(FunctionElement):
    """A column the database must not pick an index by: SQLite's unary `+` (a no-op on the value)."""
    inherit_cache = True
    name = "not_an_index_key"

    @property
    def type(self):
        return self.clauses.clauses[0].type


@compiles(_NotAnIndexKey)
def _plain(element, compiler, **kw):
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(_NotAnIndexKey, "sqlite")
def _unary_plus(element, compiler, **kw):
    return "+" + compiler.process(element.clauses.clauses[0], **kw)


def sort_key(owner, param: str, type_: str, descending: bool):
    """A scalar per resource to order by: the lowest value ascending, the highest descending."""
    from sqlalchemy import func

    if param == "_id":
        return owner.c.res_id
    if param == "_lastUpdated":
        return owner.c.last_updated
    table = _TABLE[type_].alias()
    if type_ in (TOKEN, URI):
        column = table.c.code
    elif type_ == STRING:
        column = table.c.norm
    elif type_ == DATE:
        column = table.c.high if descending else table.c.low
    else:
        column = table.c.target_id
    aggregate = func.max(column) if descending else func.min(column)
    # Looked up by res_id (the index on res_id, res_type, param). Without statistics SQLite
    # otherwise serves min()/max() from the (res_type, param, value) index, scanning every row of
    # the parameter for each resource: a type-wide `_sort=authored` took minutes on all England.
    return (select(aggregate).where(and_(_NotAnIndexKey(table.c.res_type) == owner.c.res_type,
                                         table.c.res_id == owner.c.res_id,
                                         table.c.param == param)).scalar_subquery())

