"""Assumptions: one named, cited modelling constant that solvers read."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from mlsysim.catalog.schemas.common import ClaimSpec, RecordBase, at
from mlsysim.catalog.units import DIMENSIONS
from provenance.model import Claim

DimensionName = Literal[tuple(DIMENSIONS)]  # type: ignore[valid-type]


class Assumption(RecordBase):
    dimension: DimensionName
    quantity: Claim

    @model_validator(mode="after")
    def _quantity_in_dimension(self) -> Assumption:
        # The dimension is data here, so the unit check runs after both are read.
        try:
            checked = ClaimSpec(self.dimension, positive=False)(self.quantity)
        except ValueError as exc:
            raise ValueError(at("quantity.unit", str(exc))) from None
        object.__setattr__(self, "quantity", checked)
        return self
