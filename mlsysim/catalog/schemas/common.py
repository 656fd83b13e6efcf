"""Building blocks of record schemas: cited values with a declared dimension,
references to other records, and the base every record kind extends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mlsysim.catalog.units import DIMENSIONS, UnitError, to_canonical
from provenance.model import Claim


class CitedValue(Claim):
    """A claim whose unit has been checked against the field's dimension."""

    dimension: str = Field(default="dimensionless", exclude=True)
    si: float = Field(default=0.0, exclude=True)


@dataclass(frozen=True)
class ClaimSpec:
    dimension: str
    positive: bool = True
    integer: bool = False

    def __call__(self, claim: Claim) -> CitedValue:
        try:
            si = to_canonical(claim.value, claim.unit, self.dimension)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
        if self.positive and claim.value <= 0:
            raise ValueError(f"must be positive, got {claim.value:g}; check the source and the sign")
        if not self.positive and claim.value < 0:
            raise ValueError(f"must not be negative, got {claim.value:g}; check the source and the sign")
        if self.integer and abs(si - round(si)) > 1e-9 * max(1.0, abs(si)):  # 4.18 billion is whole despite float rounding
            raise ValueError(f"must be a whole number (a count), got {claim.value:g} {claim.unit}".rstrip() + "; check the source")
        data = {name: getattr(claim, name) for name in Claim.model_fields}
        return CitedValue.model_construct(**data, dimension=self.dimension, si=si)


def at(field: str, message: str) -> str:
    """A record-level validation message that points at one field (the loader moves it there)."""
    return f"@{field}: {message}"


def cited(dimension: str, *, positive: bool = True, integer: bool = False) -> Any:
    """The type of a schema field holding a cited value of `dimension` (a whole
    number when `integer`: counts of devices, layers, heads)."""
    example = DIMENSIONS[dimension].example_unit
    return Annotated[
        Claim,
        AfterValidator(ClaimSpec(dimension, positive, integer)),
        Field(description=f"A cited value in {dimension.replace('_', ' ')} units, e.g. {example!r}."),
    ]


@dataclass(frozen=True)
class Ref:
    """Marks a field holding the id of a record of another kind."""

    kind: str


def ref(kind: str) -> Any:
    return Annotated[str, Ref(kind)]


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordBase(Schema):
    """Fields every record has."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str | None = None
