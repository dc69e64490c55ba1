"""The catalog page's model: what was asked (search and filters), and one row per entity.

:func:`parse_query` turns the page's query string into a :class:`CatalogQuery`
(bad values become messages shown above the table, never errors);
:meth:`CatalogQuery.where` is the store's :class:`~trueup.store.pages.EntityFilter`,
so filtering and keyset pagination run in the database
(:meth:`trueup.store.Store.pages`); :func:`catalog_rows` shapes one page of
stored entities. Called by :mod:`trueup.web.ui.catalog`; pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from trueup.checks.scorecard import NO_OWNER
from trueup.errors import RefError
from trueup.model.finding import Code
from trueup.model.ref import EntityRef, parse_ref
from trueup.store.pages import EntityFilter
from trueup.store.records import StoredEntity
from trueup.views.age import age
from trueup.web.ui.models.badges import Badge, badges

PAGE_SIZE = 50
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,62}$")
_TRISTATE = {"": None, "yes": True, "no": False}
CODES = tuple(code.value for code in Code)
_CODE = re.compile(r"^[a-z][a-z-]{0,63}$")  # the API's pattern for a finding code


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    """The catalog's search and filters, as validated values (None: any)."""

    search: str = ""
    kind: str | None = None
    owner: str | None = None  # a full ref: group:default/team-a
    finding: str | None = None  # a finding code, or "any"
    stale: bool | None = None
    drift: bool | None = None
    discovered: bool | None = None
    after: EntityRef | None = None
    problems: tuple[str, ...] = ()

    def where(self) -> EntityFilter:
        return EntityFilter(
            kind=self.kind,
            owner=self.owner,
            finding=self.finding,
            stale=self.stale,
            discovered=self.discovered,
            drift=self.drift,
            search=self.search or None,
        )

    def params(self, *, after: EntityRef | None = None) -> str:
        """The query string of this search (for links), starting after ``after``."""
        pairs = [
            ("q", self.search),
            ("kind", self.kind or ""),
            ("owner", self.owner or ""),
            ("finding", self.finding or ""),
            ("stale", _word(self.stale)),
            ("drift", _word(self.drift)),
            ("discovered", _word(self.discovered)),
            ("after", str(after) if after else ""),
        ]
        return urlencode([(k, v) for k, v in pairs if v])

    @property
    def filtered(self) -> bool:
        return bool(self.params())


def _word(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def parse_query(params: Mapping[str, str]) -> CatalogQuery:
    """The query string of ``/ui/catalog`` as a :class:`CatalogQuery`; bad values are dropped
    and named in ``problems``."""
    problems: list[str] = []
    search = params.get("q", "").strip()
    if len(search) > 100:
        problems.append("the search is longer than 100 characters; it was cut")
        search = search[:100]
    kind = params.get("kind", "").strip() or None
    if kind is not None and not _KIND.match(kind):
        problems.append(f"kind {kind!r} is not a kind name")
        kind = None
    owner = _owner(params.get("owner", "").strip(), problems)
    finding = params.get("finding", "").strip() or None
    # Any code a check may give, a plugin's too (the scorecards link theirs here), as the API
    if finding is not None and finding != "any" and not _CODE.match(finding):
        problems.append(f"{finding!r} is not a finding code")
        finding = None
    flags = {}
    for name in ("stale", "drift", "discovered"):
        raw = params.get(name, "").strip().lower()
        if raw not in _TRISTATE:
            problems.append(f"{name} must be yes, no or empty")
            raw = ""
        flags[name] = _TRISTATE[raw]
    after = None
    if cursor := params.get("after", "").strip():
        try:
            after = parse_ref(cursor)
        except RefError:
            problems.append("the page cursor is not an entity reference; showing the first page")
    return CatalogQuery(
        search=search,
        kind=kind.lower() if kind else None,
        owner=owner,
        finding=finding,
        after=after,
        problems=tuple(problems),
        **flags,
    )


def _owner(text: str, problems: list[str]) -> str | None:
    """``team-a`` → ``group:default/team-a`` (a Group unless a kind is written)."""
    if not text:
        return None
    if text == NO_OWNER:  # the scorecards' name for none: no owner ref matches it
        problems.append("the catalog cannot filter by a missing owner; showing every owner")
        return None
    try:
        return str(parse_ref(text, default_kind="group"))
    except RefError as exc:
        problems.append(f"owner {text!r} is not an entity reference: {exc}")
        return None


@dataclass(frozen=True, slots=True)
class CatalogRow:
    ref: str
    kind: str
    namespace: str
    name: str
    title: str
    description: str
    owner: str | None
    score: int
    badges: Sequence[Badge]
    updated: str  # "3h ago"
    updated_at: str


@dataclass(frozen=True, slots=True)
class CatalogPage:
    query: CatalogQuery
    rows: Sequence[CatalogRow]
    next_after: EntityRef | None  # where the next page starts; None on the last page
    kinds: Sequence[str] = ()
    owners: Sequence[str] = ()
    codes: Sequence[str] = field(default_factory=lambda: CODES)


def catalog_rows(entities: Sequence[StoredEntity], now: datetime) -> list[CatalogRow]:
    """One row per stored entity, in the order given."""
    rows = []
    for stored in entities:
        entity = stored.assembled
        metadata = entity.entity.get("metadata") or {}
        title = metadata.get("title") if isinstance(metadata, Mapping) else None
        description = metadata.get("description") if isinstance(metadata, Mapping) else None
        rows.append(
            CatalogRow(
                ref=str(stored.ref),
                kind=stored.ref.kind,
                namespace=stored.ref.namespace,
                name=stored.ref.name,
                title=str(title) if isinstance(title, str) and title else stored.ref.name,
                description=_short(description),
                owner=entity.owner,
                score=entity.score,
                badges=badges(entity, removed=stored.removed),
                updated=age(stored.updated_at, now),
                updated_at=stored.updated_at.isoformat(),
            )
        )
    return rows


def catalog_page(
    query: CatalogQuery,
    fetched: Sequence[StoredEntity],
    now: datetime,
    *,
    kinds: Sequence[str] = (),
    owners: Sequence[str] = (),
) -> CatalogPage:
    """The page for ``query`` from up to ``PAGE_SIZE + 1`` entities (one more says there is
    a next page)."""
    shown = fetched[:PAGE_SIZE]
    more = len(fetched) > PAGE_SIZE and bool(shown)
    chosen = query.finding
    return CatalogPage(
        query=query,
        rows=catalog_rows(shown, now),
        next_after=shown[-1].ref if more else None,
        kinds=kinds,
        owners=owners,
        codes=(*CODES, chosen) if chosen and chosen != "any" and chosen not in CODES else CODES,
    )


def _short(value: object, limit: int = 140) -> str:
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
