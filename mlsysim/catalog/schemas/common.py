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


# Qualifiers the solvers read, and the values each may take. A cited value may carry any
# other qualifier (scope, basis, ...) as free text; these are checked wherever they appear.
#   direction  whether a link bandwidth is quoted per direction or for both directions added
#              together (solvers halve the latter: mlsysim.catalog.inputs.per_direction)
#   precision  the numeric format a figure was measured for (a GEMM tile, a peak)
#   vendor     whose hardware a measured overhead applies to (compared with hardware.vendor)
#   link       which interconnect an overhead was measured on (found in interconnect.name)
DIRECTIONS = ("unidirectional", "bidirectional", "unstated")  # unstated: the source does not say; no solver guesses
PRECISIONS = ("fp64", "fp64_tensor", "fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "fp4", "int8", "int4")
# Formats weights or a KV cache can be stored in: the numeric formats and block-scaled
# 4-bit ones (mlsysim.solvers.roofline.BLOCK_SCALED), which are no compute precision.
STORAGE_FORMATS = PRECISIONS + ("nvfp4", "mxfp4")
VENDORS = ("AMD", "Apple", "Cerebras", "Espressif", "Google", "Himax", "Intel", "NVIDIA", "Qualcomm")
LINKS = ("NVLink", "Infinity Fabric", "ICI", "InfiniBand", "Ethernet", "PCIe")
# Tensor layouts a convolution efficiency may be scoped to (mlsysim.solvers.kernel_efficiency.CONV_LAYOUTS).
LAYOUTS = ("channels_last", "nchw")
# Operators a measured line or fixed run time may be scoped to: a CNN's element-wise ones and
# pools (mlsysim.solvers.convolution.ELEMENTWISE_OPERATORS) and a transformer's small ones
# (mlsysim.solvers.pass_overheads.TRANSFORMER_OPERATORS).
OPERATORS = ("batch_norm", "relu", "residual_add", "max_pool", "average_pool", "rms_norm", "silu_mul",
             "decode_attention")
# Fused-attention kernels an attention efficiency may be scoped to (qualifier `implementation`;
# mlsysim.solvers.kernel_efficiency.ATTENTION_KERNELS): FlashAttention-2 and -3 (the CUDA kernels) and
# FlashAttention written in Triton.
ATTENTION_KERNELS = ("flashattention2", "flashattention3", "flashattention_triton")
QUALIFIER_VALUES: dict[str, tuple[str, ...]] = {
    "direction": DIRECTIONS,
    "precision": PRECISIONS,
    "vendor": VENDORS,
    "link": LINKS,
    "layout": LAYOUTS,
    "operator": OPERATORS,
    "implementation": ATTENTION_KERNELS,
}
_REQUIRED_WHY = {
    "direction": "a link bandwidth must say whether the source quotes one direction or both added together",
}


def check_qualifiers(qualifiers: dict[str, str], required: tuple[str, ...] = ()) -> None:
    """Raise ValueError naming the qualifier when a solver-read qualifier is missing or unknown."""
    for name in required:
        if name not in qualifiers:
            choices = " or ".join(f"{{{name}: {v}}}" for v in QUALIFIER_VALUES[name])
            why = _REQUIRED_WHY.get(name, f"this field needs qualifiers.{name}")
            raise ValueError(f"qualifiers.{name}: missing; {why}: write qualifiers: {choices}, as the source states")
    for name, allowed in QUALIFIER_VALUES.items():
        stated = qualifiers.get(name)
        if stated is not None and stated not in allowed:
            raise ValueError(f"qualifiers.{name}: unknown value {stated!r}; use one of {', '.join(allowed)}")


@dataclass(frozen=True)
class ClaimSpec:
    dimension: str
    positive: bool = True
    integer: bool = False
    required_qualifiers: tuple[str, ...] = ()

    def __call__(self, claim: Claim) -> CitedValue:
        try:
            si = to_canonical(claim.value, claim.unit, self.dimension)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
        check_qualifiers(claim.qualifiers, self.required_qualifiers)
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


def cited(dimension: str, *, positive: bool = True, integer: bool = False, qualifiers: tuple[str, ...] = ()) -> Any:
    """The type of a schema field holding a cited value of `dimension` (a whole number
    when `integer`: counts of devices, layers, heads); `qualifiers` names the qualifiers
    (of QUALIFIER_VALUES) the value must state."""
    example = DIMENSIONS[dimension].example_unit
    return Annotated[
        Claim,
        AfterValidator(ClaimSpec(dimension, positive, integer, qualifiers)),
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
