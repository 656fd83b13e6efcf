"""Power grids, datacenters and racks."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from mlsysim.catalog.schemas.common import RecordBase, at, cited, ref


class Grid(RecordBase):
    """A power grid: carbon intensity with its basis and vintage, price, water."""

    region: str
    carbon_intensity: cited("carbon_intensity")
    electricity_price: cited("price_per_energy") | None = None
    water_intensity: cited("water_intensity", positive=False) | None = None

    @model_validator(mode="after")
    def _basis_and_vintage(self) -> Grid:
        ci = self.carbon_intensity
        if ci.qualifiers.get("basis") not in ("lifecycle", "direct"):
            raise ValueError(at("carbon_intensity", "needs qualifiers: {basis: lifecycle} or {basis: direct}"))
        if ci.valid_time is None:
            raise ValueError(at("carbon_intensity", "needs 'valid_time' (the year the figure describes)"))
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
