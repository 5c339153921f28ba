"""Running searches: the one place where search, include and paging queries are built and run.

A search whose matches fit one page is answered straight from the query. A longer one is
materialised once, in the database, as an ordered list of ids (`search_result`): later pages
read positions from that list, so they never repeat or skip an entry that existed when the
search began, cost the same whatever the total, and keep server memory bounded.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import orjson
from sqlalchemy import and_, delete, func, insert, literal, select
from sqlalchemy.sql import ColumnElement

from ..resource_types import SERVED
from ..storage import Repository, StoredVersion
from ..storage.engine import writing
from ..storage.schema import idx_reference, resource, search_result, search_run
from .parameters import SPECIAL, params_for, reference_params
from .query import Include, SearchQuery
from .sql import ConditionBuilder, narrows, sort_key

SEARCH_TTL_SECONDS = 3600
# A repeat of a materialised search within this time reuses its list when nothing it reads has
# changed (HAPI's "reuse cached search results", 60 s by default there too).
REUSE_SECONDS = 60
MAX_INCLUDED = 1000
MAX_ITERATIONS = 4

# Narrows what a caller may see: (alias of `resource`, resource type) -> condition or None (no
# narrowing). The request's policy gate supplies it (adapter.enforcement.gate.Gate.sql).
AccessFilter = Callable[[object, str], ColumnElement | None]


# One alias of `resource` for every search statement: a caller's access condition over it is built
# once per searched type and reused (enforcement.filters.CompiledAccess.condition).
_OWNER = resource.alias("r")


@dataclass(frozen=True)
class Page:
    matches: list[StoredVersion]
    total: int
    offset: int
    search_id: str | None  # set when more pages exist to fetch by id


def _row(row) -> StoredVersion:
    return StoredVersion(row.res_type, row.res_id, row.version_id, row.last_updated, bool(row.deleted),
                         row.content, row.seq)


def _read_types(query: SearchQuery) -> tuple[str, ...]:
    """The resource types whose rows decide a search's matches: its own, those its chains and
    `_has` reach, and the organisations and Consents the caller's grants are read from. A
    Provenance's visibility depends on its targets, of any type."""
    types = {query.resource_type, "Organization", "Consent"}
    for criterion in query.criteria:
        if criterion.chain is not None:
            types.update(criterion.chain.target_types)
        if criterion.has is not None:
            types.add(criterion.has.source_type)
    if "Provenance" in types:
        return SERVED
    return tuple(sorted(types))


class SearchEngine:
    def __init__(self, repo: Repository, fhir_base: str):
        self._repo = repo
        self._conditions = ConditionBuilder(fhir_base)

    # -- matching -----------------------------------------------------------------------------
    def _where(self, owner, query: SearchQuery, access: AccessFilter | None):
        conds = [owner.c.res_type == query.resource_type, owner.c.deleted.is_(False)]
        per_row = any(narrows(c) for c in query.criteria)
        conds += [self._conditions.criterion(owner, c, (query.resource_type,), access, per_row=per_row)
                  for c in query.criteria]
        narrowed = access(owner, query.resource_type) if access else None
        if narrowed is not None:
            conds.append(narrowed)
        return and_(*conds)

    def _order(self, owner, query: SearchQuery) -> list:
        keys = []
        for name, descending in query.sort:
            type_ = SPECIAL.get(name) or params_for(query.resource_type)[name].type
            key = sort_key(owner, name, type_, descending)
            # Missing values sort last either way.
            keys += [key.is_(None), key.desc() if descending else key.asc()]
        keys.append(owner.c.res_id.asc())
        return keys

    def matching_ids(self, query: SearchQuery, conn, limit: int, access: AccessFilter | None = None) -> list[str]:
        """Ids of up to `limit` matches, on the caller's connection (to see its own transaction)."""
        owner = _OWNER
        return [r.res_id for r in conn.execute(
            select(owner.c.res_id).where(self._where(owner, query, access)).order_by(owner.c.res_id).limit(limit))]

    def count(self, query: SearchQuery, access: AccessFilter | None = None) -> int:
        owner = _OWNER
        with self._repo.reads.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(owner)
                                    .where(self._where(owner, query, access))).scalar_one())

    def first_page(self, query: SearchQuery, *, client_id: str | None, raw_params: list,
                   access: AccessFilter | None = None, reuse: str | None = None) -> Page:
        """`reuse`: everything besides the parameters that decides what the caller matches (its
        identity, grants' date...); with it, a repeat of a materialised search whose inputs have
        not changed since gets the same list instead of a new one."""
        reuse_key = self._reuse_key(query, raw_params, reuse) if reuse is not None else None
        if reuse_key is not None:
            reused = self._reusable(reuse_key, client_id)
            if reused is not None:
                search_id, total = reused
                return self.page_of(search_id, query.resource_type, 0, query.count, total, access)
        owner = _OWNER
        ids_query = select(owner.c.res_id).where(self._where(owner, query, access)).order_by(*self._order(owner, query))
        with self._repo.reads.connect() as conn:
            head = [r.res_id for r in conn.execute(ids_query.limit(query.count + 1))]
        if len(head) <= query.count:
            return Page(self.fetch(query.resource_type, head, access), len(head), 0, None)
        search_id = uuid.uuid4().hex
        numbered = select(literal(search_id), func.row_number().over(order_by=self._order(owner, query)),
                          owner.c.res_id).where(self._where(owner, query, access))
        now = int(time.time())
        with writing(self._repo.engine) as conn:
            conn.execute(delete(search_result).where(search_result.c.search_id.in_(
                select(search_run.c.search_id).where(search_run.c.created_at < now - SEARCH_TTL_SECONDS))))
            conn.execute(delete(search_run).where(search_run.c.created_at < now - SEARCH_TTL_SECONDS))
            conn.execute(insert(search_result).from_select(["search_id", "pos", "res_id"], numbered))
            total = conn.execute(select(func.count()).where(search_result.c.search_id == search_id)).scalar_one()
            conn.execute(insert(search_run).values(search_id=search_id, client_id=client_id, created_at=now,
                                                   total=total, query=orjson.dumps(raw_params).decode(),
                                                   reuse_key=reuse_key))
        return Page(self.fetch(query.resource_type, head[:query.count], access), int(total), 0, search_id)

    def _reuse_key(self, query: SearchQuery, raw_params: list, reuse: str) -> str:
        # The store generation of every type the match reads: any write to one of them makes a new key.
        generation = self._repo.generation(_read_types(query))
        material = orjson.dumps([reuse, query.resource_type, raw_params, generation])
        return hashlib.sha256(material).hexdigest()

    def _reusable(self, reuse_key: str, client_id: str | None) -> tuple[str, int] | None:
        with self._repo.reads.connect() as conn:
            row = conn.execute(select(search_run.c.search_id, search_run.c.total, search_run.c.client_id)
                               .where(and_(search_run.c.reuse_key == reuse_key,
                                           search_run.c.created_at >= int(time.time()) - REUSE_SECONDS))
                               .order_by(search_run.c.created_at.desc()).limit(1)).first()
        if row is None or row.client_id != client_id:
            return None
        return row.search_id, int(row.total)

    def stored_search(self, search_id: str, client_id: str | None) -> tuple[list, int] | None:
        """The parameters and total of a materialised search, for its own client only."""
        with self._repo.reads.connect() as conn:
            row = conn.execute(select(search_run).where(search_run.c.search_id == search_id)).first()
        if row is None or row.client_id != client_id or row.created_at < time.time() - SEARCH_TTL_SECONDS:
            return None
        return orjson.loads(row.query), row.total

    def page_of(self, search_id: str, resource_type: str, offset: int, count: int, total: int,
                access: AccessFilter | None = None) -> Page:
        with self._repo.reads.connect() as conn:
            ids = [r.res_id for r in conn.execute(
                select(search_result.c.res_id).where(and_(
                    search_result.c.search_id == search_id, search_result.c.pos > offset,
                    search_result.c.pos <= offset + count)).order_by(search_result.c.pos))]
        return Page(self.fetch(resource_type, ids, access), total, offset, search_id)

    def stream(self, query: SearchQuery, access: AccessFilter | None = None, *,
               extra: Callable[[object], list[ColumnElement]] | None = None, batch: int = 500):
        """Every current match, in res_id order, in batches of `batch` rows (keyset paging: each
        batch is its own short query, so memory stays bounded and no transaction is held open).
        `extra(alias)` adds conditions on the `resource` alias (bulk reads: time window, area)."""
        owner = _OWNER
        where = self._where(owner, query, access)
        if extra is not None:
            where = and_(where, *extra(owner))
        after = None
        while True:
            step = where if after is None else and_(where, owner.c.res_id > after)
            with self._repo.reads.connect() as conn:
                rows = [_row(r) for r in conn.execute(select(owner).where(step).order_by(owner.c.res_id).limit(batch))]
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].id

    # -- fetching -----------------------------------------------------------------------------
    def fetch(self, resource_type: str, ids: list[str], access: AccessFilter | None = None) -> list[StoredVersion]:
        """Current, live versions of the ids, in the given order; each is re-checked by the access filter."""
        if not ids:
            return []
        owner = _OWNER
        found: dict[str, StoredVersion] = {}
        with self._repo.reads.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                where = and_(owner.c.res_type == resource_type, owner.c.res_id.in_(chunk), owner.c.deleted.is_(False))
                narrowed = access(owner, resource_type) if access else None
                if narrowed is not None:
                    where = and_(where, narrowed)
                for row in conn.execute(select(owner).where(where)):
                    found[row.res_id] = _row(row)
        return [found[i] for i in ids if i in found]

    # -- _include / _revinclude ---------------------------------------------------------------
    def included(self, matches: list[StoredVersion], includes: tuple[Include, ...],
                 revincludes: tuple[Include, ...], access: AccessFilter | None = None,
                 keep: Callable[[StoredVersion], bool] | None = None) -> tuple[list[StoredVersion], bool]:
        """`keep` re-checks each fetched resource: what it refuses is neither served nor followed."""
        """Resources the includes add (not already matched); True when the cap cut the list."""
        seen = {(v.resource_type, v.id) for v in matches}
        out: list[StoredVersion] = []
        frontier = list(matches)
        for round_ in range(MAX_ITERATIONS + 1):
            active_inc = [i for i in includes if round_ == 0 or i.iterate]
            active_rev = [i for i in revincludes if round_ == 0 or i.iterate]
            if not frontier or not (active_inc or active_rev):
                break
            keys = self._forward(frontier, active_inc) + self._reverse(frontier, active_rev)
            fresh = [k for k in dict.fromkeys(keys) if k not in seen]
            if len(out) + len(fresh) > MAX_INCLUDED:
                fresh = fresh[:MAX_INCLUDED - len(out)]
                truncated = True
            else:
                truncated = False
            frontier = []
            by_type: dict[str, list[str]] = {}
            for type_, id_ in fresh:
                by_type.setdefault(type_, []).append(id_)
            for type_, ids in by_type.items():
                for version in self.fetch(type_, ids, access):
                    seen.add((version.resource_type, version.id))
                    if keep is None or keep(version):
                        frontier.append(version)
            out += frontier
            if truncated:
                return out, True
        return out, False

    def _forward(self, sources: list[StoredVersion], includes: list[Include]) -> list[tuple[str, str]]:
        keys: list[tuple[str, str]] = []
        by_type: dict[str, list[str]] = {}
        for v in sources:
            by_type.setdefault(v.resource_type, []).append(v.id)
        for inc in includes:
            for source_type, ids in by_type.items():
                if inc.source_type != source_type:
                    continue
                params = list(reference_params(source_type)) if inc.param == "*" else [inc.param]
                cond = [idx_reference.c.res_type == source_type, idx_reference.c.param.in_(params),
                        idx_reference.c.res_id.in_(ids), idx_reference.c.target_id != ""]
                if inc.target_type:
                    cond.append(idx_reference.c.target_type == inc.target_type)
                with self._repo.reads.connect() as conn:
                    keys += [(r.target_type, r.target_id) for r in conn.execute(
                        select(idx_reference.c.target_type, idx_reference.c.target_id).where(and_(*cond)))]
        return keys

    def _reverse(self, targets: list[StoredVersion], revincludes: list[Include]) -> list[tuple[str, str]]:
        keys: list[tuple[str, str]] = []
        by_type: dict[str, list[str]] = {}
        for v in targets:
            by_type.setdefault(v.resource_type, []).append(v.id)
        for inc in revincludes:
            for target_type, ids in by_type.items():
                cond = [idx_reference.c.target_type == target_type, idx_reference.c.target_id.in_(ids)]
                if inc.source_type != "*":
                    cond.append(idx_reference.c.res_type == inc.source_type)
                if inc.param != "*":
                    cond.append(idx_reference.c.param == inc.param)
                with self._repo.reads.connect() as conn:
                    keys += [(r.res_type, r.res_id) for r in conn.execute(
                        select(idx_reference.c.res_type, idx_reference.c.res_id).where(and_(*cond)))]
        return keys

