"""The loaded catalog: validated records, sources and the ProvenanceMap."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from mlsysim.catalog import cache
from mlsysim.catalog.snapshot import read_snapshot
from mlsysim.catalog.crosscheck import closest, normalize_name
from mlsysim.errors import CatalogError, NotFoundError
from mlsysim.catalog.paths import SOURCES_FILE, catalog_root, discover
from mlsysim.catalog.records import Record
from provenance.problems import Problem
from provenance.provmap import ProvenanceEntry, ProvenanceMap


def scan(root: Path) -> dict[str, Any]:
    """Validate the catalog at root (re-using cached per-file results) and
    return its snapshot: records (plain data), sources and every problem."""
    if not root.is_dir():
        raise CatalogError([Problem(str(root), 1, 1, "", "no catalog directory here; pass --catalog DIR or set MLSYSIM_CATALOG")])
    sources_path = root / SOURCES_FILE
    if not sources_path.is_file() and not any(root.glob("*/*.yaml")):
        raise CatalogError([Problem(str(root), 1, 1, "", f"not a catalog directory (no {SOURCES_FILE} and no records here); "
                                    "pass the directory holding sources.yaml with --catalog, or set MLSYSIM_CATALOG")])
    files = {p.relative_to(root).as_posix(): p for p in discover(root)}
    # Each file is read once: what is hashed is exactly what gets validated, so an edit
    # between the two can never store one content's result under another's hash.
    contents = {rel: _read(p) for rel, p in files.items()}
    hashes = {rel: cache.file_hash(data) for rel, data in contents.items()}
    sources_data = _read(sources_path) if sources_path.is_file() else None
    sources_hash = cache.file_hash(sources_data) if sources_data is not None else ""
    fingerprint = cache.file_hash(repr((sorted(hashes.items()), sources_hash)).encode())

    cached = cache.read(root) or {}
    if cached.get("fingerprint") == fingerprint:
        snapshot = cached["snapshot"]
        if snapshot.get("source_files", []) == _source_files(root, snapshot["sources"]):
            return snapshot
        # A file a source names by `path` appeared or went away: the sources' verdict is stale.
        cached = {key: value for key, value in cached.items() if key != "sources"}
    return _revalidate(root, files, contents, hashes, sources_path, sources_data, sources_hash, fingerprint, cached)


def _source_files(root: Path, sources: dict[str, Any]) -> list[str]:
    """The files named by sources' `path` that exist now: validating sources.yaml depends on
    them as well as on its own bytes."""
    return sorted(s["path"] for s in sources.values() if s.get("path") and (root / s["path"]).is_file())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CatalogError([Problem(str(path), 1, 1, "", f"cannot read ({exc.strerror or exc}); check the file's permissions")]) from None


def _revalidate(root, files, contents, hashes, sources_path, sources_data, sources_hash, fingerprint, cached) -> dict[str, Any]:
    from mlsysim.catalog.crosscheck import cross_check
    from mlsysim.catalog.loader import validate_record_file, validate_sources_file

    old_files = cached.get("files", {})
    per_file = {}
    for rel, path in files.items():
        hit = old_files.get(rel)
        per_file[rel] = hit if hit and hit[0] == hashes[rel] else (hashes[rel], *validate_record_file(path, rel, contents[rel]))
    old_sources = cached.get("sources")
    if old_sources and old_sources[0] == sources_hash:
        sources_entry = old_sources
    else:
        sources_entry = (sources_hash, *validate_sources_file(sources_path, SOURCES_FILE, sources_data))
    _, sources, source_positions, problems = sources_entry
    problems = list(problems)
    records, invalid = [], set()
    for _, record, file_problems in per_file.values():
        problems += file_problems
        if record is not None and record.get("invalid"):
            invalid.add((record["kind"], record["id"]))
        elif record is not None:
            records.append(record)
    invalid |= {("sources", sid) for sid in source_positions if sid not in sources}
    problems += cross_check(records, sources, SOURCES_FILE, invalid)
    snapshot = {
        "fingerprint": fingerprint,
        "records": records,
        "sources": sources,
        "source_positions": source_positions,
        "problems": sorted(set(problems)),
        "source_files": _source_files(root, sources),
    }
    cache.write(root, {"fingerprint": fingerprint, "files": per_file, "sources": sources_entry, "snapshot": snapshot})
    return snapshot


class Catalog:
    """Validated records by kind, with lookup by id, alias or name.

    A catalog also owns what solvers derive from its records (a model's float terms,
    a cluster's fleet terms, ...): `derived(namespace)` is a dict kept on this instance,
    filled once per record, so dropping the catalog frees every derived term with it.
    """

    def __init__(self, snapshot: dict[str, Any], root: Path):
        self.root = root
        self.fingerprint: str = snapshot["fingerprint"]
        self._derived: dict[str, dict[Any, Any]] = {}
        self.sources: dict[str, dict[str, Any]] = snapshot["sources"]
        self._snapshot = snapshot
        self._records: dict[str, dict[str, Record]] = {}
        self._names: dict[str, dict[str, Record]] = {}
        for data in snapshot["records"]:
            rec = Record(data, self)
            self._records.setdefault(rec.kind, {})[rec.id] = rec
            names = self._names.setdefault(rec.kind, {})
            for name in (rec.id, *rec.aliases, rec.name):
                names.setdefault(normalize_name(name), rec)

    @cached_property
    def date(self) -> str:
        """The catalog's edition date (ISO): the newest retrieval date among its sources.

        Like a CODATA edition year, it is a function of the content alone, so two
        catalogs with the same fingerprint always carry the same date.
        """
        if self._snapshot.get("date"):
            return str(self._snapshot["date"])
        dates = [str(s["retrieved"]) for s in self.sources.values() if s.get("retrieved")]
        return max(dates) if dates else ""

    @property
    def identity(self) -> dict[str, str]:
        """What every result and JSON output states about the catalog it came from."""
        return {"fingerprint": self.fingerprint, "date": self.date, "root": str(self.root)}

    def __repr__(self) -> str:
        return f"<Catalog {self.fingerprint[:12]} of {self.date} at {self.root}>"
    def derived(self, namespace: str) -> dict[Any, Any]:
        """The memo of terms derived from this catalog's records under `namespace`
        (e.g. "model_terms"), keyed by record ids and plain values, never by object
        identity. Created on first use; lives and dies with the catalog."""
        memo = self._derived.get(namespace)
        if memo is None:
            memo = self._derived[namespace] = {}
        return memo

    def clear_derived(self) -> None:
        """Forget every derived term (they are rebuilt on the next solve)."""
        self._derived.clear()

    def kinds(self) -> list[str]:
        return sorted(self._records)

    def records(self, kind: str | None = None) -> list[Record]:
        if kind is None:
            return [r for k in self.kinds() for r in self._records[k].values()]
        return list(self._records.get(kind, {}).values())

    def lookup(self, kind: str, name: str) -> Record | None:
        """A record of `kind` by id, alias or name, ignoring case and punctuation; None when
        there is none (for optional records: no closest-name search, no error)."""
        return self._names.get(kind, {}).get(normalize_name(name))

    def get(self, kind: str, name: str) -> Record:
        """A record of `kind` by id, alias or name, ignoring case and punctuation."""
        found = self.lookup(kind, name)
        if found is None:
            close = self._closest_labels(name, self.records(kind))
            hint = f"; closest: {', '.join(close)}" if close else f"; known: {', '.join(sorted(r.label for r in self.records(kind)))}"
            raise NotFoundError(f"no {kind} record named {name!r}{hint}")
        return found

    def find(self, name: str) -> Record:
        """A record of any kind by `kind/id`, id, alias or name."""
        if "/" in name:
            kind, _, ident = name.partition("/")
            return self.get(kind, ident)
        hits = [self._names[k][normalize_name(name)] for k in self.kinds() if normalize_name(name) in self._names[k]]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise NotFoundError(f"{name!r} names several records ({', '.join(h.ref for h in hits)}); write one of those")
        close = self._closest_labels(name, self.records())
        raise NotFoundError(f"no record named {name!r}" + (f"; closest: {', '.join(close)}" if close else ""))

    def referencing(self, kind: str, field: str, record_id: str) -> list[Record]:
        """Records of `kind` whose reference `field` names the record with id `record_id`,
        e.g. referencing("nodes", "accelerator", "h100_sxm"): the nodes built from an H100,
        ordered by label."""
        found = [r for r in self.records(kind) if r.references.get(field, (None, None))[1] == record_id]
        return sorted(found, key=lambda r: r.label.lower())

    @staticmethod
    def _closest_labels(name: str, records: list[Record]) -> list[str]:
        """Closest records by any of their names, shown by the name people type."""
        label_of = {n: r.label for r in records for n in (r.label, r.id, *r.aliases)}
        return list(dict.fromkeys(label_of[n] for n in closest(name, label_of, n=5)))[:3]

    @cached_property
    def provenance(self) -> ProvenanceMap:
        """Every cited value -> its claim and source."""
        entries = []
        for rec in self.records():
            for value in rec.values():
                entries.append(ProvenanceEntry(
                    path=value.path, value=value.value, unit=value.unit, si_value=value.si,
                    si_unit=value.si_unit, claim=value.claim, source_id=value.source_id,
                    source=self.sources.get(value.source_id, {}),
                ))
        return ProvenanceMap(entries)


def snapshot(catalog: Catalog, path: str | os.PathLike[str]) -> Path:
    """Pin `catalog` to one JSON file that `load_catalog(path)` reads back unchanged."""
    from mlsysim.catalog.snapshot import write_snapshot

    target = Path(path)
    write_snapshot(target, catalog._snapshot, catalog.date)
    return target


def check(root: str | os.PathLike[str] | None = None) -> tuple[Path, list[Problem]]:
    """Validate a catalog; returns its root and every problem (empty when valid)."""
    resolved = catalog_root(root)
    try:
        if resolved.is_file():
            read_snapshot(resolved)
            return resolved, []
        return resolved, list(scan(resolved)["problems"])
    except CatalogError as exc:
        return resolved, exc.problems


def load_catalog(root: str | os.PathLike[str] | None = None) -> Catalog:
    """Load and validate a catalog (default: $MLSYSIM_CATALOG or the bundled one).

    Raises CatalogError listing every problem when it is not valid.
    """
    resolved = catalog_root(root)
    if resolved.is_file():
        return Catalog(read_snapshot(resolved), resolved)
    snapshot = scan(resolved)
    if snapshot["problems"]:
        raise CatalogError(snapshot["problems"])
    return Catalog(snapshot, resolved)


_DEFAULT: dict[Path, Catalog] = {}
_BY_SETTING: dict[str | None, Catalog] = {}


def default_catalog() -> Catalog:
    """The catalog the registries read, loaded once per process."""
    # Resolving the root touches the file system; an unset or absolute $MLSYSIM_CATALOG
    # names the same root every time, so its catalog is remembered by the setting itself.
    setting = os.environ.get("MLSYSIM_CATALOG")
    hit = _BY_SETTING.get(setting)
    if hit is not None:
        return hit
    root = catalog_root()
    if root not in _DEFAULT:
        _DEFAULT[root] = load_catalog(root)
    if setting is None or os.path.isabs(setting):
        _BY_SETTING[setting] = _DEFAULT[root]
    return _DEFAULT[root]
