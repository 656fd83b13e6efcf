"""What the templates see: plain view objects built once from the catalog and
its verification state. Templates only lay these out; they compute nothing.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from mlsysim.catalog.records import Record
from mlsysim.catalog.schemas.hardware import Tier
from mlsysim.site.badges import BadgeBook, ClaimStatus, counts, worst
from mlsysim.site.columns import COLUMNS, KIND_TITLES, Column, short
from mlsysim.site.derived import DerivedFigure, derived_figures
from mlsysim.site.safety import http_url
from mlsysim.catalog.units import DIMENSIONS

_HIDDEN_FIELDS = {"id", "name", "aliases", "description"}


def exact(value: float) -> str:
    """A number as the source wrote it: integers whole, others without float noise."""
    if float(value).is_integer() and abs(value) < 1e16:
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:.10g}"


def with_unit(number: str, unit: str | None) -> str:
    return f"{number} {unit}" if unit else number


@dataclass
class SourceView:
    id: str
    title: str
    type: str
    who: str
    url: str | None  # None unless an http(s) URL: never a link otherwise
    raw_url: str
    document_url: str | None
    archive_url: str | None
    retrieved: str
    published: str
    authority: str
    note: str
    doi: str
    arxiv: str
    license: str
    anchor: str
    href: str  # the entry on the sources page, relative to the site root
    cited: int = 0
    badges: dict[str, int] = field(default_factory=dict)
    status: str | None = None
    last_checked: dt.date | None = None

    @classmethod
    def build(cls, source_id: str, data: dict[str, Any]) -> SourceView:
        who = data.get("publisher") or ", ".join(data.get("authors") or [])
        arxiv = data.get("arxiv") or {}
        anchor = "src-" + quote(source_id, safe="")
        return cls(
            id=source_id,
            title=str(data.get("title", source_id)),
            type=str(data.get("type", "")),
            who=str(who),
            url=http_url(data.get("url")),
            raw_url=str(data.get("url", "")),
            document_url=http_url(data.get("document_url")),
            archive_url=http_url(data.get("archive_url")),
            retrieved=str(data.get("retrieved") or ""),
            published=str(data.get("published") or ""),
            authority=str(data.get("authority", "primary")),
            note=" ".join(str(data.get("note") or "").split()),
            doi=str(data.get("doi") or ""),
            arxiv=f"arXiv:{arxiv['id']}{arxiv.get('version', '')}" if arxiv.get("id") else "",
            license=str(data.get("license") or ""),
            anchor=anchor,
            href=f"sources.html#{anchor}",
        )


@dataclass
class ClaimView:
    path: str
    field: str
    anchor: str
    value_text: str  # exact value with the source's unit
    value: float
    unit: str
    si: float
    si_unit: str
    status: ClaimStatus
    source: SourceView
    locator: str
    as_stated: str
    qualifiers: dict[str, str]
    method: str
    valid_time: str
    note: str
    formula: str
    derived_from: list[tuple[str, str]]  # (claim path, href relative to the site root)
    record_href: str

    @property
    def badge(self) -> str:
        return self.status.badge

    @property
    def last_checked(self) -> str:
        return self.status.state.last_checked.isoformat() if self.status.state else ""

    @property
    def last_verified(self) -> str:
        state = self.status.state
        return state.last_verified.isoformat() if state and state.last_verified else ""

    @property
    def href(self) -> str:
        return f"{self.record_href}#{self.anchor}"


@dataclass
class Cell:
    text: str = ""
    sort: str = ""  # a number (SI) for numeric columns, else the text
    claim: ClaimView | None = None
    href: str | None = None


@dataclass
class RecordView:
    record: Record
    kind: str
    id: str
    name: str
    label: str
    aliases: list[str]
    group: str
    description: str
    file: str
    href: str
    claims: list[ClaimView]
    fields: list[tuple[str, str, str | None]]  # (name, text, href or None)
    derived: list[DerivedFigure]
    cells: list[Cell] = field(default_factory=list)
    used_by: list[tuple[str, str]] = field(default_factory=list)  # (label, href)
    chart: str | None = None  # roofline SVG, relative to the site root
    badge_json: str = ""

    @property
    def badges(self) -> dict[str, int]:
        return counts(c.badge for c in self.claims)

    @property
    def status(self) -> str | None:
        return worst(c.badge for c in self.claims)

    def claim(self, path: str) -> ClaimView | None:
        return next((c for c in self.claims if c.field == path), None)


@dataclass
class ZooGroup:
    title: str
    records: list[RecordView]


@dataclass
class ZooPage:
    kind: str
    title: str
    blurb: str
    columns: list[Column]
    groups: list[ZooGroup]
    chart: tuple[str, str] | None = None  # (svg path, alt text)

    @property
    def count(self) -> int:
        return sum(len(g.records) for g in self.groups)


class SiteModel:
    """Every view of one catalog, built once."""

    def __init__(self, catalog: Any, book: BadgeBook):
        self.catalog = catalog
        self.book = book
        self.sources = {sid: SourceView.build(sid, data) for sid, data in sorted(catalog.sources.items())}
        self.records: dict[tuple[str, str], RecordView] = {}
        for record in catalog.records():
            self.records[(record.kind, record.id)] = self._record(record)
        self._link_references()
        self._tally_sources()
        self.kinds = [k for k in KIND_TITLES if k in catalog.kinds()] + [k for k in catalog.kinds() if k not in KIND_TITLES]

    # -- records ---------------------------------------------------------

    def _record(self, record: Record) -> RecordView:
        href = f"{record.kind}/{record.id}.html"
        claims = [self._claim(record, path, claim, href) for path, claim in record.claims.items()]
        return RecordView(
            record=record, kind=record.kind, id=record.id, name=record.name, label=record.label,
            aliases=record.aliases, group=str(record.group or ""),
            description=" ".join(str(record.plain_fields.get("description") or "").split()),
            file=record.file, href=href, claims=claims, fields=self._plain_fields(record),
            derived=derived_figures(record), badge_json=f"badges/{record.kind}/{record.id}.json",
        )

    def _claim(self, record: Record, path: str, claim: dict[str, Any], record_href: str) -> ClaimView:
        full_path = f"{record.ref}#{path}"
        unit = claim.get("unit", "")
        derived_from = []
        for ref_path in claim.get("derived_from") or []:
            target, _, target_field = ref_path.partition("#")
            derived_from.append((ref_path, f"{target}.html#v-{target_field}"))
        return ClaimView(
            path=full_path, field=path, anchor=f"v-{path}",
            value_text=with_unit(exact(claim["value"]), unit), value=claim["value"], unit=unit,
            si=claim["si"], si_unit=DIMENSIONS[claim["dimension"]].canonical_unit,
            status=self.book.status(full_path, claim), source=self._source(claim["source"]),
            locator=str(claim.get("locator") or ""), as_stated=str(claim.get("as_stated") or ""),
            qualifiers={str(k): str(v) for k, v in (claim.get("qualifiers") or {}).items()},
            method=claim.get("method", "stated"), valid_time=str(claim.get("valid_time") or ""),
            note=" ".join(str(claim.get("note") or "").split()), formula=str(claim.get("formula") or ""),
            derived_from=derived_from, record_href=record_href,
        )

    def _source(self, source_id: str) -> SourceView:
        if source_id not in self.sources:  # impossible in a valid catalog; still never a crash
            self.sources[source_id] = SourceView.build(source_id, {"title": source_id})
        return self.sources[source_id]

    def _plain_fields(self, record: Record) -> list[tuple[str, str, str | None]]:
        out: list[tuple[str, str, str | None]] = []
        refs = record.references

        def walk(prefix: str, node: Any) -> None:
            for key, value in node.items():
                path = f"{prefix}{key}"
                if not prefix and key in _HIDDEN_FIELDS:
                    continue
                if isinstance(value, dict):
                    walk(path + ".", value)
                elif path in refs:
                    kind, ref_id = refs[path]
                    out.append((path, str(value), f"{kind}/{ref_id}.html"))
                else:
                    text = ", ".join(map(str, value)) if isinstance(value, list) else _plain(value)
                    out.append((path, text, None))

        walk("", record.plain_fields)
        return out

    def _link_references(self) -> None:
        for view in self.records.values():
            for name, (kind, ref_id) in view.record.references.items():
                target = self.records.get((kind, ref_id))
                if target is not None:
                    target.used_by.append((f"{view.label} ({view.kind}, as {name})", view.href))
                    for i, (fname, text, href) in enumerate(view.fields):
                        if fname == name:
                            view.fields[i] = (fname, target.label, href)

    def _tally_sources(self) -> None:
        by_source: dict[str, list[ClaimView]] = defaultdict(list)
        for view in self.records.values():
            for claim in view.claims:
                by_source[claim.source.id].append(claim)
        for sid, source in self.sources.items():
            claims = by_source.get(sid, [])
            source.cited = len(claims)
            source.badges = counts(c.badge for c in claims)
            source.status = worst(c.badge for c in claims)
            checked = [c.status.state.last_checked for c in claims if c.status.state]
            source.last_checked = max(checked) if checked else None

    # -- pages -------------------------------------------------------------

    def of_kind(self, kind: str) -> list[RecordView]:
        """Records of a kind by group (hardware tiers from cloud down to tiny), then by name."""
        views = [v for (k, _), v in self.records.items() if k == kind]
        order = {tier: i for i, tier in enumerate(typing.get_args(Tier))} if kind == "hardware" else {}
        return sorted(views, key=lambda v: (order.get(v.group, len(order)), v.group, v.label.lower()))

    def zoo(self, kind: str) -> ZooPage:
        title, blurb = KIND_TITLES.get(kind, (kind.capitalize(), ""))
        columns = COLUMNS.get(kind, [])
        views = self.of_kind(kind)
        for view in views:
            view.cells = [self._cell(view, col) for col in columns]
        groups: dict[str, list[RecordView]] = {}
        for view in views:
            groups.setdefault(view.group, []).append(view)
        return ZooPage(kind, title, blurb, columns, [ZooGroup(g, vs) for g, vs in groups.items()])

    def _cell(self, view: RecordView, col: Column) -> Cell:
        if col.ref is not None:
            refs = view.record.references
            if col.ref not in refs:
                return Cell()
            target = self.records.get(refs[col.ref])
            label = target.label if target else refs[col.ref][1]
            return Cell(text=label, sort=label.lower(), href=target.href if target else None)
        if col.path is not None:
            claim = view.claim(col.path)
            if claim is None:
                return Cell()
            shown = col.shown(view.record)
            text = claim.value_text if shown is None else short(shown)
            return Cell(text=text, sort=repr(claim.si), claim=claim)
        text = _plain(col.text(view.record)) if col.text else ""
        return Cell(text=text, sort=text.lower())

    def badge_counts(self) -> dict[str, int]:
        return counts(c.badge for v in self.records.values() for c in v.claims)

    def value_count(self) -> int:
        return sum(len(v.claims) for v in self.records.values())


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
