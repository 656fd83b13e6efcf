"""Runtime views of validated records: values as SI floats for solvers and as
pint Quantities for people, each carrying its citation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from mlsysim.catalog.units import DIMENSIONS, Q_


class Catalog(Protocol):
    """What a record needs of the catalog it belongs to (mlsysim.catalog.core.Catalog
    provides it): the bibliography, and lookup of the records its references name.
    A protocol, so this module does not import the catalog that imports it."""

    sources: dict[str, dict[str, Any]]

    def get(self, kind: str, name: str) -> Record: ...


class Value:
    """One cited value: `.si` for solvers, `.quantity` for people, `.source` for trust."""

    __slots__ = ("path", "_claim", "_catalog")

    def __init__(self, path: str, claim: dict[str, Any], catalog: Catalog | None = None):
        self.path = path  # "hardware/h100_sxm#memory.bandwidth"
        self._claim = claim
        self._catalog = catalog

    value = property(lambda self: self._claim["value"])
    unit = property(lambda self: self._claim.get("unit", ""))
    si = property(lambda self: self._claim["si"], doc="The value in the canonical SI unit of its dimension.")
    dimension = property(lambda self: self._claim["dimension"])
    source_id = property(lambda self: self._claim["source"])
    method = property(lambda self: self._claim.get("method", "stated"))
    qualifiers = property(lambda self: dict(self._claim.get("qualifiers", {})))
    locator = property(lambda self: self._claim.get("locator"))
    as_stated = property(lambda self: self._claim.get("as_stated"))
    note = property(lambda self: self._claim.get("note"))
    valid_time = property(lambda self: self._claim.get("valid_time"))

    @property
    def si_unit(self) -> str:
        return DIMENSIONS[self.dimension].canonical_unit

    @property
    def claim(self) -> dict[str, Any]:
        """The claim's fields as written in the record."""
        return {k: v for k, v in self._claim.items() if k not in ("si", "dimension")}

    @property
    def source(self) -> dict[str, Any]:
        """The cited source's entry in sources.yaml."""
        return dict(self._catalog.sources.get(self.source_id, {})) if self._catalog else {}

    @property
    def quantity(self) -> Any:
        """The value as a pint Quantity in the unit the source used."""
        return Q_(self.value, self.unit or "dimensionless")

    def to(self, unit: str) -> Any:
        return self.quantity.to(unit)

    def __float__(self) -> float:
        return float(self.si)

    def __repr__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"<{self.path} = {self.value:g}{unit} [{self.source_id}]>"

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        where = f", {self.locator}" if self.locator else ""
        title = self.source.get("title", self.source_id)
        return f"{self.value:g}{unit} ({title}{where})"


class Section:
    """A nested block of a record (e.g. `memory`), read by attribute."""

    __slots__ = ("_record", "_prefix")

    def __init__(self, record: Record, prefix: str):
        self._record = record
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._record.field(f"{self._prefix}.{name}")

    def __getitem__(self, name: str) -> Any:
        return self._record.field(f"{self._prefix}.{name}")

    def __contains__(self, name: str) -> bool:
        return self._record.has(f"{self._prefix}.{name}")

    def keys(self) -> list[str]:
        return self._record.keys(self._prefix)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __dir__(self) -> list[str]:
        return self.keys()

    def __repr__(self) -> str:
        return f"<section {self._record.ref}#{self._prefix}: {', '.join(self.keys())}>"


class Record:
    """One catalog record. Fields read as attributes; cited ones are `Value`s,
    references to other records return those records."""

    __slots__ = ("_data", "_catalog")

    def __init__(self, data: dict[str, Any], catalog: Catalog | None = None):
        self._data = data
        self._catalog = catalog

    kind = property(lambda self: self._data["kind"])
    id = property(lambda self: self._data["id"])
    name = property(lambda self: self._data["name"])
    aliases = property(lambda self: list(self._data["aliases"]))
    file = property(lambda self: self._data["file"])
    group = property(lambda self: self._data["group"])

    @property
    def ref(self) -> str:
        """`kind/id`, the prefix of this record's claim paths."""
        return f"{self.kind}/{self.id}"

    @property
    def label(self) -> str:
        """The name people type: the first alias, else the id."""
        return self._data["aliases"][0] if self._data["aliases"] else self.id

    @property
    def claims(self) -> Mapping[str, Mapping[str, Any]]:
        """Every cited value's claim by field path, as validated (with `si` and
        `dimension`); read-only. `values()` wraps the same claims as Values."""
        return MappingProxyType(self._data["claims"])

    @property
    def references(self) -> Mapping[str, tuple[str, str]]:
        """Reference fields -> (kind, id) of the record each names; read-only."""
        return MappingProxyType(self._data["refs"])

    @property
    def plain_fields(self) -> Mapping[str, Any]:
        """The uncited fields (vendor, tier, architecture flags, ...) as a nested tree; read-only."""
        return MappingProxyType(self._data["fields"])

    def has(self, path: str) -> bool:
        return path in self._data["claims"] or _lookup(self._data["fields"], path) is not _MISSING or any(
            c.startswith(path + ".") for c in self._data["claims"]
        )

    def field(self, path: str) -> Any:
        """A field by dotted path: a Value, a referenced Record, a Section, or a plain value."""
        claims = self._data["claims"]
        if path in claims:
            return Value(f"{self.ref}#{path}", claims[path], self._catalog)
        if path in self._data["refs"] and self._catalog is not None:
            kind, ref_id = self._data["refs"][path]
            return self._catalog.get(kind, ref_id)
        plain = _lookup(self._data["fields"], path)
        if any(c.startswith(path + ".") for c in claims) or isinstance(plain, dict):
            return Section(self, path)
        if plain is _MISSING:
            raise AttributeError(f"{self.ref} has no field {path!r}")
        return plain

    def get(self, path: str, default: Any = None) -> Any:
        return self.field(path) if self.has(path) else default

    def si(self, path: str) -> float:
        """The SI float of a cited value, for solvers."""
        return self._data["claims"][path]["si"]

    def keys(self, prefix: str = "") -> list[str]:
        start = prefix + "." if prefix else ""
        names = {p[len(start):].split(".")[0] for p in self._data["claims"] if p.startswith(start)}
        node = _lookup(self._data["fields"], prefix) if prefix else self._data["fields"]
        if isinstance(node, dict):
            names.update(node)
        return sorted(names)

    def values(self) -> list[Value]:
        """Every cited value of the record, in field order."""
        return [Value(f"{self.ref}#{p}", c, self._catalog) for p, c in self._data["claims"].items()]

    def ref_id(self, field: str) -> str:
        """The id a reference field names (without resolving it)."""
        return self._data["refs"][field][1]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.field(name)

    def __dir__(self) -> list[str]:
        return sorted(set(self.keys()) | {"id", "name", "aliases", "kind", "file", "values", "field"})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(self.ref)

    def __repr__(self) -> str:
        return f"<{self.ref}: {self.name}>"


_MISSING = object()


def _lookup(tree: dict[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node
