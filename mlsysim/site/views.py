"""What the templates see: plain view objects built once from the catalog and
its verification state. Templates only lay these out; they compute nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from mlsysim.catalog.display import format_number
from mlsysim.catalog.records import Record
from mlsysim.catalog.schemas.hardware import Tier
from mlsysim.site.badges import BADGE_MEANINGS, BadgeBook, ClaimStatus, counts, worst
from mlsysim.site.columns import COLUMNS, KIND_TITLES, Column
from mlsysim.site.derived import DerivedFigure, derived_figures
from mlsysim.site.labels import SPEC_FIELDS, human_value, label
from mlsysim.site.markdown import render_block, render_inline
from mlsysim.site.safety import http_url
from mlsysim.catalog.units import DIMENSIONS

_HIDDEN_FIELDS = {"id", "name", "aliases", "description"}


def exact(value: float) -> str:
    """A number as the source wrote it (up to ten significant figures), digits grouped, never an exponent."""
    return format_number(float(value), 10)


def source_slug(source_id: str) -> str:
    """A file name for a source's page: the id where it is safe, else a cleaned id with a short hash."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", source_id).strip(".-") or "source"
    if slug != source_id:
        slug += "-" + hashlib.sha256(source_id.encode("utf-8")).hexdigest()[:8]
    return slug


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
    path: str  # a file in the catalog that is the source itself (first-party data)
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
    href: str  # the source's own page, relative to the site root
    cited: int = 0
    badges: dict[str, int] = field(default_factory=dict)
    status: str | None = None
    last_checked: dt.date | None = None
    next_due: dt.date | None = None
    claims: list[ClaimView] = field(default_factory=list)

    @property
    def note_html(self) -> Markup:
        return render_inline(self.note)

    @property
    def file_href(self) -> str:
        """Where the site serves the source's file, relative to the site root ('' without one)."""
        return f"files/{self.path}" if self.path else ""

    @property
    def display_url(self) -> str:
        """The URL without its scheme, for reading (the link keeps the full URL)."""
        return re.sub(r"^https?://", "", self.raw_url)

    @property
    def status_title(self) -> str:
        parts = [f"{n} {word}" for word, n in self.badges.items() if n]
        return f"{self.cited} values: " + ", ".join(parts) if parts else "cited by no value"

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
            path=str(data.get("path") or ""),
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
            href=f"sources/{source_slug(source_id)}.html",
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
    display: str = ""  # the value for people, in engineering units
    label: str = ""  # the field as people read it
    record_label: str = ""

    @property
    def note_html(self) -> Markup:
        return render_inline(self.note)

    @property
    def detail(self) -> str:
        """One line for a tooltip: the value as stated, its badge and dates, and where it comes from."""
        where = self.source.title + (f", {self.locator}" if self.locator else "")
        return f"{self.label}: {self.value_text} ({self.status.title()}) — {where}"

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
    number: float | None = None  # the value in the column's display unit (CSV/JSON downloads)


@dataclass
class SpecItem:
    """One line of a record's spec card: a plain field, a reference, or a cited value."""

    path: str
    label: str
    text: str
    href: str | None = None  # a referenced record, relative to the site root
    claim: ClaimView | None = None


@dataclass
class Citation:
    """One source and the values of one record that cite it."""

    source: SourceView
    claims: list[ClaimView]


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
    fields: list[tuple[str, str, str | None]]  # (human label, text, href or None)
    derived: list[DerivedFigure]
    description_html: Markup = Markup("")
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

    @property
    def status_title(self) -> str:
        """The row badge's tooltip: what the values of this record rest on."""
        if not self.claims:
            return "no cited values"
        parts = [f"{n} {word}" for word, n in self.badges.items() if n]
        retrieved = sorted({c.source.retrieved for c in self.claims if c.badge == "cited" and c.source.retrieved})
        text = f"{len(self.claims)} values: " + ", ".join(parts)
        if retrieved:
            span = retrieved[0] if len(retrieved) == 1 else f"{retrieved[0]} to {retrieved[-1]}"
            text += f"; cited values read at retrieval ({span}), never checked by machine"
        worst_word = self.status
        if worst_word:
            text += f". Worst: {worst_word}, {BADGE_MEANINGS[worst_word]}"
        return text

    def claim(self, path: str) -> ClaimView | None:
        return next((c for c in self.claims if c.field == path), None)

    @property
    def citations(self) -> list[Citation]:
        """The values grouped by the source they cite, sources in order of first use."""
        groups: dict[str, Citation] = {}
        for claim in self.claims:
            groups.setdefault(claim.source.id, Citation(claim.source, [])).claims.append(claim)
        return list(groups.values())

    @property
    def spec(self) -> list[SpecItem]:
        """The spec card: the kind's key fields in human units (first cited values when the kind has no list)."""
        items: list[SpecItem] = []
        paths = SPEC_FIELDS.get(self.kind) or tuple(c.field for c in self.claims[:8])
        refs = self.record.references
        for path in paths:
            claim = self.claim(path)
            if claim is not None:
                items.append(SpecItem(path, claim.label, claim.display, claim=claim))
            elif path in refs:
                text, href = next(((t, h) for p, t, h in self._raw_fields if p == path), (refs[path][1], None))
                items.append(SpecItem(path, label(path), text, href=href))
            elif self.record.has(path) and self.record.get(path) not in (None, ""):
                value = self.record.get(path)
                if not isinstance(value, (dict, list)):
                    items.append(SpecItem(path, label(path), _plain(value).replace("_", " ") if path == "dimension" else _plain(value)))
        return items

    _raw_fields: list[tuple[str, str, str | None]] = field(default_factory=list)


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
    chart: Any = None  # a build.Chart: svg path, alt text, caption

    @property
    def count(self) -> int:
        return sum(len(g.records) for g in self.groups)


class SiteModel:
    """Every view of one catalog, built once."""

    def __init__(self, catalog: Any, book: BadgeBook, factor: Callable[[str, str], float] | None = None):
        """`factor(unit, dimension)`: display-unit factors for the zoo tables (Column.shown)."""
        self.catalog = catalog
        self.book = book
        self.factor = factor
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
        raw_fields = self._plain_fields(record)
        description = str(record.plain_fields.get("description") or "")
        return RecordView(
            record=record, kind=record.kind, id=record.id, name=record.name, label=record.label,
            aliases=record.aliases, group=str(record.group or ""),
            description=" ".join(description.split()), description_html=render_block(description),
            file=record.file, href=href, claims=claims, fields=[(label(p), t, h) for p, t, h in raw_fields],
            derived=derived_figures(record), badge_json=f"badges/{record.kind}/{record.id}.json",
            _raw_fields=raw_fields,
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
            display=human_value(path, claim["si"], claim["dimension"]), label=label(path), record_label=record.label,
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
                    target.used_by.append((f"{view.label} ({view.kind}, as {label(name)})", view.href))
                    for i, (fname, text, href) in enumerate(view._raw_fields):
                        if fname == name:
                            view._raw_fields[i] = (fname, target.label, href)
                            view.fields[i] = (label(fname), target.label, href)

    def _tally_sources(self) -> None:
        by_source: dict[str, list[ClaimView]] = defaultdict(list)
        for view in self.records.values():
            for claim in view.claims:
                by_source[claim.source.id].append(claim)
        for sid, source in self.sources.items():
            claims = by_source.get(sid, [])
            source.claims = sorted(claims, key=lambda c: (c.record_href, c.field))
            source.cited = len(claims)
            source.badges = counts(c.badge for c in claims)
            source.status = worst(c.badge for c in claims)
            checked = [c.status.state.last_checked for c in claims if c.status.state]
            source.last_checked = max(checked) if checked else None
            due = [c.status.state.next_due for c in claims if c.status.state and c.status.state.next_due]
            source.next_due = min(due) if due else None

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
            shown = col.shown(view.record, self.factor)
            text = claim.display if shown is None else format_number(shown)
            return Cell(text=text, sort=repr(claim.si), claim=claim, number=shown)
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
