"""Registries: the names the field already types, e.g. `Hardware.Cloud.H100`,
`Models.Language.Llama3_8B`, `Infra.Grids.US_Avg`, `Systems.Nodes.DGX_H100`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mlsysim.catalog import Catalog, default_catalog
from mlsysim.catalog.crosscheck import closest
from mlsysim.errors import NotFoundError
from mlsysim.catalog.records import Record

_GROUP_NAMES = {"statespace": "StateSpace"}
# Group names the reference simulator (PyPI mlsysim 0.3.0) uses for one of ours:
# its `Hardware.Embodied` is its `Hardware.Edge` under a second name.
_REFERENCE_GROUPS = {"hardware": {"Embodied": "edge"}}

# Names in the reference simulator's core registries that denote no real device: profiles it
# made up for teaching ("reference class", "for pedagogy", "classroom estimate"). No source
# describes them, so the catalog holds no record of them; the reference's spelling resolves,
# through `Hardware.<Group>.<Name>` or `Hardware.get`, to the real record named here, and
# `stand_in(kind, name)` says so. (kind, reference name) -> (record id, why this record).
REFERENCE_STAND_INS: dict[tuple[str, str], tuple[str, str]] = {
    ("hardware", "ReferenceCPU"): (
        "macbook_m3_max",
        "the reference's 'Reference Desktop CPU' is a made-up 1 TFLOP/s FP32 teaching profile; it stands for the "
        "catalog's desktop-class machine, the MacBook Pro M3 Max (whose fp32 peak is its GPU's, not a CPU's)"),
    ("hardware", "IntelSGX"): (
        "macbook_m3_max",
        "the reference's 'Intel SGX Enclave (Reference)' is a made-up 1 TFLOP/s profile of a CPU enclave; it stands "
        "for the same desktop-class machine as ReferenceCPU, and the enclave's protected-memory limit is not modelled"),
    ("hardware", "GenericServer"): (
        "jetson_agx_thor_t5000",
        "the reference's 'Edge Server' is a made-up 1 TFLOP/s, 128 GiB teaching profile; it stands for the catalog's "
        "largest-memory edge module, the Jetson AGX Thor T5000 (128 GB)"),
    ("hardware", "RoboTaxi"): (
        "jetson_agx_orin_64gb",
        "the reference's 'RoboTaxi Reference Compute' is an estimated profile of the DRIVE AGX Orin class; it stands "
        "for the Jetson AGX Orin 64GB, a cited module built on the same Orin SoC"),
    ("hardware", "LockstepSafetyMCU_Reference"): (
        "stm32f4",
        "the reference's 'Lockstep safety MCU (reference class)' is a made-up 400 MHz microcontroller profile; it "
        "stands for the STM32F446 (Cortex-M4F, 180 MHz), which has no lockstep cores"),
    ("hardware", "OuraRing"): (
        "nrf52840",
        "the reference's 'Oura Ring 4 (wearable reference profile)' is a made-up profile (Oura publishes no MCU "
        "figures); it stands for the nRF52840, a Bluetooth LE Cortex-M4F microcontroller of the wearable class"),
}


def stand_in(kind: str, name: str) -> tuple[str, str] | None:
    """(record id, why) when `name` is a reference-simulator name that stands for another
    record of `kind` (see REFERENCE_STAND_INS), else None."""
    return REFERENCE_STAND_INS.get((kind, name))


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
        """By id, alias or name, case-insensitive; the error lists the closest names.
        A reference-simulator name of a made-up device resolves to its documented stand-in
        (REFERENCE_STAND_INS), in whichever group that record is."""
        try:
            record = self._catalog().get(self._kind, name)
        except NotFoundError:
            standing = stand_in(self._kind, name)
            if standing is None:
                raise
            return self._catalog().get(self._kind, standing[0])
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
        group = self._groups().get(name) or _REFERENCE_GROUPS.get(self._kind, {}).get(name) if self._group is None else None
        if group is not None:
            # The group is bound to the catalog it was looked up in, so `Models.Language.X`
            # resolves the catalog once, not twice.
            found: Registry | Record = Registry(self._kind, group, lambda: catalog)
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
# The reference simulator's name for the same namespace (`mlsysim.Infrastructure.Grids.Quebec`).
Infrastructure = Infra
Systems = Namespace("Systems", Nodes=Registry("nodes"), Fabrics=Registry("fabrics"), Clusters=Registry("clusters"))
