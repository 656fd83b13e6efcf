"""Registries: the names the field already types, e.g. `Hardware.Cloud.H100`,
`Models.Language.Llama3_8B`, `Infra.Grids.US_Avg`, `Systems.Nodes.DGX_H100`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mlsysim.catalog import Catalog, default_catalog
from mlsysim.catalog.crosscheck import closest
from mlsysim.errors import NotFoundError
from mlsysim.catalog.records import Record

_GROUP_NAMES = {"statespace": "StateSpace"}


def group_attribute(group: str) -> str:
    """`generative_vision` -> `GenerativeVision`, `cloud` -> `Cloud`."""
    return _GROUP_NAMES.get(group) or "".join(part.capitalize() for part in group.split("_"))


class Registry:
    """The records of one kind (optionally one group of it), by attribute or `get`."""

    def __init__(self, kind: str, group: str | None = None, catalog: Callable[[], Catalog] = default_catalog):
        self._kind = kind
        self._group = group
        self._catalog = catalog
        # Attribute lookups, per catalog: `Models.Language.Llama3_8B` in a loop costs a dict hit.
        self._resolved: dict[tuple[int, str], tuple[Catalog, Registry | Record]] = {}

    def _members(self) -> list[Record]:
        records = self._catalog().records(self._kind)
        return [r for r in records if self._group is None or r.group == self._group]

    def _groups(self) -> dict[str, str]:
        return {group_attribute(r.group): r.group for r in self._catalog().records(self._kind) if r.group}

    def get(self, name: str) -> Record:
        """By id, alias or name, case-insensitive; the error lists the closest names."""
        record = self._catalog().get(self._kind, name)
        if self._group is not None and record.group != self._group:
            labels = [r.label for r in self._members()]
            close = closest(name, labels)
            raise NotFoundError(f"{record.label} is {self._kind}/{record.group}, not {self._group}" + (f"; closest here: {', '.join(close)}" if close else ""))
        return record

    def __getattr__(self, name: str) -> Registry | Record:
        if name.startswith("_"):
            raise AttributeError(name)
        catalog = self._catalog()
        hit = self._resolved.get((id(catalog), name))
        if hit is not None:
            return hit[1]
        if self._group is None and name in self._groups():
            # The group is bound to the catalog it was looked up in, so `Models.Language.X`
            # resolves the catalog once, not twice.
            found: Registry | Record = Registry(self._kind, self._groups()[name], lambda: catalog)
        else:
            try:
                found = self.get(name)
            except NotFoundError as exc:
                raise AttributeError(str(exc)) from None
        self._resolved[(id(catalog), name)] = (catalog, found)  # the catalog is kept so its id is not reused
        return found

    def __iter__(self) -> Iterator[Record]:
        return iter(self._members())

    def __len__(self) -> int:
        return len(self._members())

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except NotFoundError:
            return False
        return True

    def __dir__(self) -> list[str]:
        groups = list(self._groups()) if self._group is None else []
        return sorted(groups + [r.label for r in self._members()] + ["get"])

    def __repr__(self) -> str:
        where = f"{self._kind}/{self._group}" if self._group else self._kind
        return f"<registry {where}: {', '.join(sorted(r.label for r in self._members()))}>"


class Namespace:
    """A plain grouping of registries (Infra, Systems)."""

    def __init__(self, name: str, **registries: Registry):
        self._name = name
        self.__dict__.update(registries)

    def __repr__(self) -> str:
        return f"<{self._name}: {', '.join(k for k in self.__dict__ if not k.startswith('_'))}>"


Hardware = Registry("hardware")
Models = Registry("models")
Assumptions = Registry("assumptions")
Infra = Namespace("Infra", Grids=Registry("grids"), Datacenters=Registry("datacenters"), Racks=Registry("racks"))
Systems = Namespace("Systems", Nodes=Registry("nodes"), Fabrics=Registry("fabrics"), Clusters=Registry("clusters"))
