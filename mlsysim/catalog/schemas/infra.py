"""Power grids, datacenters and racks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from mlsysim.catalog.grids import CARBON_BASES, CARBON_FIELDS, LEGACY_CARBON_FIELD, carbon_intensity_path  # noqa: F401 (re-exported)
from mlsysim.catalog.schemas.common import RecordBase, at, cited, ref

# One column per carbon basis: a lifecycle figure (CO2e of building, fuelling and
# running every plant, per kWh) and a direct one (CO2 from combustion at the plant
# only) are different quantities and never share a field.


class Grid(RecordBase):
    """A power grid: carbon intensity per basis (lifecycle, direct) with vintage and
    aggregator, electricity price, water.

    `carbon_intensity_lifecycle` and `carbon_intensity_direct` each carry
    qualifiers `basis` (equal to the field's basis) and `aggregator` (the dataset
    the figure comes from, the same for every grid of the catalog on that basis),
    and a `valid_time`. At least one is required. `carbon_intensity` (one figure
    whose `basis` qualifier says which) is still read for catalogs written before
    the split; a record uses either it or the per-basis fields, not both.
    """

    region: str
    carbon_intensity_lifecycle: cited("carbon_intensity") | None = None
    carbon_intensity_direct: cited("carbon_intensity") | None = None
    carbon_intensity: cited("carbon_intensity") | None = None
    electricity_price: cited("price_per_energy") | None = None
    water_intensity: cited("water_intensity", positive=False) | None = None

    @model_validator(mode="after")
    def _basis_and_vintage(self) -> Grid:
        per_basis = {basis: getattr(self, name) for basis, name in CARBON_FIELDS.items()}
        legacy = self.carbon_intensity
        if legacy is not None:
            if any(v is not None for v in per_basis.values()):
                raise ValueError(at(LEGACY_CARBON_FIELD, "write either carbon_intensity (old form) or carbon_intensity_lifecycle / "
                                    "carbon_intensity_direct, not both; move this figure to the field of its basis"))
            if legacy.qualifiers.get("basis") not in CARBON_BASES:
                raise ValueError(at(LEGACY_CARBON_FIELD, "needs qualifiers: {basis: lifecycle} or {basis: direct}"))
            if legacy.valid_time is None:
                raise ValueError(at(LEGACY_CARBON_FIELD, "needs 'valid_time' (the year the figure describes)"))
            return self
        if all(v is None for v in per_basis.values()):
            raise ValueError(at(CARBON_FIELDS["lifecycle"], "a grid needs carbon_intensity_lifecycle or carbon_intensity_direct (or both)"))
        for basis, claim in per_basis.items():
            if claim is None:
                continue
            name = CARBON_FIELDS[basis]
            if claim.qualifiers.get("basis") != basis:
                raise ValueError(at(name, f"needs qualifiers: {{basis: {basis}}} (this field holds {basis} figures only)"))
            if not claim.qualifiers.get("aggregator"):
                raise ValueError(at(name, "needs qualifiers: {aggregator: ...}, the dataset the figure comes from (e.g. Electricity Maps)"))
            if claim.valid_time is None:
                raise ValueError(at(name, "needs 'valid_time' (the year the figure describes)"))
        return self





class Datacenter(RecordBase):
    pue: cited("dimensionless")
    wue: cited("water_intensity", positive=False) | None = None
    grid: ref("grids") | None = None

    @model_validator(mode="after")
    def _pue_at_least_one(self) -> Datacenter:
        if self.pue.value < 1:
            raise ValueError(at("pue.value", f"{self.pue.value:g} is below 1, but PUE is facility power / IT power; check the source"))
        return self


class Rack(RecordBase):
    power: cited("power")
    cooling: Literal["air", "liquid"] | None = None
