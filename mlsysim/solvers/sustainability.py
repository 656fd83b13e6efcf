"""Energy, carbon and water of a job, operational and (optionally) embodied.

  IT energy        E_IT = accelerator-hours x device power x utilization
  facility energy  E = E_IT x PUE
  carbon           C = E x grid carbon intensity (its basis, lifecycle or direct, is reported)
  water            W = E_IT x WUE (on-site cooling) + E x grid water intensity (off-site, if known)
  embodied carbon  per-accelerator + per-server manufacturing carbon x job time /
                   (replacement period x average usage)

The device power model is the one the LLaMA authors used after Wu et al. (2022):
GPU-hours x the GPU's thermal design power x PUE, i.e. utilization 1 at TDP. A node's
stated system power (host, NICs, fans included) can be used instead.

References
----------
Touvron et al. 2023, "LLaMA", arXiv 2302.13971, Sec. 6 and Table 15 (Wh = GPU-h x GPU
power x PUE; tCO2eq = MWh x carbon intensity).
Wu et al. 2022, "Sustainable AI: Environmental Implications, Challenges and
Opportunities", arXiv 2111.00364.
Patterson et al. 2021, "Carbon Emissions and Large Neural Network Training", arXiv
2104.10350 (energy x PUE x grid intensity; location matters).
Luccioni, Viguier & Ligozat 2023, "Estimating the Carbon Footprint of BLOOM", arXiv
2211.02001, Sec. 4.1 (embodied carbon amortised over replacement period x usage).
The Green Grid 2011, WP#35 "Water Usage Effectiveness (WUE)" (site water / IT energy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlsysim.catalog import Catalog, default_catalog
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.catalog.records import Record, Value
from mlsysim.catalog.schemas.infra import carbon_intensity_path
from mlsysim.solvers.fleet import (
    Fleet,
    assumption,
    field_of,
    inputs_key,
    record_of,
    resolve_fraction,
)

EMBODIED_GPU = "embodied_carbon_gpu"
EMBODIED_SERVER = "embodied_carbon_gpu_server"
REPLACEMENT_PERIOD = "hardware_replacement_period_idris"
AVERAGE_USAGE = "hardware_average_usage_idris"
POWER_MODELS = ("tdp", "node")


@dataclass(slots=True)  # built on every solve: plain slots are the cheapest to build
class SustainabilityResult:
    """Energy [J], carbon [kg CO2(e)], water [m^3] of one job, with what they rest on."""

    devices: int
    device_hours: float  # accelerator-hours [h]
    power_model: str
    it_power: float  # [W] average for the whole job
    it_energy: float  # [J]
    pue: float
    facility_energy: float  # [J]
    carbon_intensity: float  # [kg/J]
    carbon_basis: str  # "lifecycle", "direct" or "not stated by the source"
    grid: str  # the grid (or assumption) the intensity comes from
    operational_carbon: float  # [kg]
    embodied_carbon: float | None  # [kg], None when not asked for
    water_onsite: float | None  # [m^3], None when the datacenter states no WUE
    water_offsite: float | None  # [m^3], None when the grid states no water intensity
    lineage: Lineage

    @property
    def total_carbon(self) -> float:
        return self.operational_carbon + (self.embodied_carbon or 0.0)

    @property
    def water(self) -> float | None:
        parts = [w for w in (self.water_onsite, self.water_offsite) if w is not None]
        return sum(parts) if parts else None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "lineage"}
        out.update(total_carbon=self.total_carbon, water=self.water,
                   lineage=[e.to_dict() for e in self.lineage.entries()])
        return out


def _cited_or_number(value: Any, lineage: Lineage, dimension: str, what: str) -> tuple[float, Value | None]:
    if isinstance(value, Record):
        if value.kind != "assumptions":
            raise MlsysimError(f"{what}: {value.ref} is not an assumption record")
        value = value.quantity
    if isinstance(value, Value):
        if value.dimension != dimension:
            raise MlsysimError(f"{what}: {value.path} is a {value.dimension}, not a {dimension.replace('_', ' ')}")
        return lineage.use(value), value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value), None
    raise MlsysimError(f"{what} must be a positive number or a cited value, got {value!r}")


class SustainabilityModel:
    """Energy, carbon and water of running accelerators for a while somewhere."""

    def solve(self, fleet: Record | Fleet, duration: float | None = None, *, devices: int | None = None,
              device_hours: float | None = None, grid: Any = None, datacenter: Any = None, pue: Any = None,
              carbon_intensity: Any = None, utilization: Any = 1.0, power_model: str = "tdp",
              device_power: Any = None, embodied: bool = False, catalog: Catalog | None = None) -> SustainabilityResult:
        """
        fleet             a cluster, a Fleet, or a hardware record (then pass devices)
        duration [s]      wall-clock time the accelerators run, or
        device_hours [h]  accelerator-hours directly (as papers report them)
        grid              grid record or name (default: the datacenter's grid); an unknown
                          name is an error
        datacenter        datacenter record or name (default: the cluster's); gives PUE and WUE
        pue               overrides the datacenter's PUE (number or cited assumption)
        carbon_intensity  overrides the grid's intensity [kg/J] (number or cited assumption)
        utilization       average fraction of `power_model` power drawn (default 1, as the
                          LLaMA/Wu et al. method assumes)
        power_model       "tdp" (accelerator TDP) or "node" (node system power / accelerators)
        device_power      [W] average power per device (number or cited value), replacing the
                          power model (e.g. a duty-cycled microcontroller)
        embodied          add amortised manufacturing carbon
        """
        return power_draw(fleet, devices=devices, grid=grid, datacenter=datacenter, pue=pue,
                          carbon_intensity=carbon_intensity, utilization=utilization, power_model=power_model,
                          device_power=device_power, embodied=embodied, catalog=catalog).over(duration, device_hours)


@dataclass(frozen=True)
class PowerDraw:
    """What a job draws and where, read from the catalog: everything SustainabilityModel.solve
    needs but how long the job runs (see `power_draw`)."""

    devices: int
    power_model: str
    device_power: float  # [W]
    utilization: float
    pue: float
    carbon_intensity: float  # [kg/J]
    carbon_basis: str
    grid: str
    wue: float | None  # [m^3/J] on-site water per IT energy
    water_intensity: float | None  # [m^3/J] off-site water per facility energy
    embodied: tuple[float, float, float, float, float] | None  # per GPU [kg], per server [kg], life [h], usage, servers
    lineage: Lineage

    def over(self, duration: float | None = None, device_hours: float | None = None) -> SustainabilityResult:
        """Energy, carbon and water of drawing this for `duration` seconds (or `device_hours`)."""
        n = self.devices
        hours = _device_hours(n, duration, device_hours)
        it_energy = hours * 3600 * self.device_power * self.utilization
        facility = it_energy * self.pue
        embodied_kg = None
        if self.embodied is not None:
            embodied_kg = _embodied(self.embodied, n, hours)
        lineage = Lineage()
        lineage.merge(self.lineage)
        return SustainabilityResult(
            devices=n, device_hours=hours, power_model=self.power_model,
            it_power=n * self.device_power * self.utilization, it_energy=it_energy, pue=self.pue,
            facility_energy=facility, carbon_intensity=self.carbon_intensity, carbon_basis=self.carbon_basis,
            grid=self.grid, operational_carbon=facility * self.carbon_intensity, embodied_carbon=embodied_kg,
            water_onsite=self.wue * it_energy if self.wue is not None else None,
            water_offsite=self.water_intensity * facility if self.water_intensity is not None else None,
            lineage=lineage,
        )


def power_draw(fleet: Record | Fleet, *, devices: int | None = None, grid: Any = None, datacenter: Any = None,
               pue: Any = None, carbon_intensity: Any = None, utilization: Any = 1.0, power_model: str = "tdp",
               device_power: Any = None, embodied: bool = False, catalog: Catalog | None = None) -> PowerDraw:
    """SustainabilityModel.solve's inputs (same meaning) read into a PowerDraw, once per
    distinct inputs: `power_draw(...).over(duration)` is `SustainabilityModel().solve(...)`."""
    catalog = catalog or default_catalog()
    inputs = (catalog, fleet, devices, grid, datacenter, pue, carbon_intensity, utilization, power_model,
              device_power, embodied)
    key = inputs_key(*inputs)
    hit = _DRAWS.get(key) if key is not None else None
    if hit is not None:
        return hit[1]
    found = _read_draw(*inputs)
    if key is not None:
        if len(_DRAWS) > 512:
            _DRAWS.clear()
        _DRAWS[key] = (inputs, found)  # the inputs are kept so their ids are not reused
    return found


_DRAWS: dict[tuple[Any, ...], tuple[tuple[Any, ...], PowerDraw]] = {}


def _read_draw(catalog: Catalog, fleet: Any, devices: int | None, grid: Any, datacenter: Any, pue: Any,
               carbon_intensity: Any, utilization: Any, power_model: str, device_power: Any, embodied: bool) -> PowerDraw:
    lineage = Lineage()
    if power_model not in POWER_MODELS:
        raise MlsysimError(f"power_model must be 'tdp' or 'node', got {power_model!r}")
    hardware, node, cluster, n = _fleet_parts(fleet, devices, lineage)

    if device_power is not None:
        device_power, _ = _cited_or_number(device_power, lineage, "power", "device_power")
        power_model = "given"
    elif power_model == "tdp":
        tdp = field_of(hardware, "tdp")
        if tdp is None:
            raise MlsysimError(f"{hardware.label} has no TDP in the catalog ({hardware.file}); use power_model='node' or add a cited tdp")
        device_power = lineage.use(tdp)
    else:
        node_power = field_of(node, "power") if node is not None else None
        if node_power is None:
            where = node.label if node is not None else hardware.label
            raise MlsysimError(f"{where} has no node system power in the catalog; use power_model='tdp'")
        device_power = lineage.use(node_power) / lineage.use(field_of(node, "accelerator_count"))
    util = resolve_fraction(utilization, lineage, "utilization")

    dc = record_of(datacenter, "datacenters", catalog)
    if dc is None and cluster is not None:
        dc = field_of(cluster, "datacenter")
    if pue is not None:
        pue_value, _ = _cited_or_number(pue, lineage, "dimensionless", "pue")
        if pue_value < 1:
            raise MlsysimError(f"pue must be >= 1 (facility power / IT power), got {pue_value:g}")
    elif dc is not None:
        pue_value = lineage.use(field_of(dc, "pue"))
    else:
        raise MlsysimError("no PUE: pass datacenter= (e.g. 'Hyperscale', 'Enterprise_Avg') or pue=")

    grid_rec = record_of(grid, "grids", catalog)
    if grid_rec is None and dc is not None:
        grid_rec = field_of(dc, "grid")
    if carbon_intensity is not None:
        ci, ci_value = _cited_or_number(carbon_intensity, lineage, "carbon_intensity", "carbon_intensity")
        basis = (ci_value.qualifiers.get("basis") if ci_value else None) or "not stated by the source"
        grid_label = ci_value.path if ci_value else "user-supplied intensity"
    elif grid_rec is not None:
        intensity, basis, grid_label = _grid_intensity(grid_rec)
        ci = lineage.use(intensity)
    else:
        raise MlsysimError("no carbon intensity: pass grid= (e.g. 'US_Avg', 'Quebec'; see `mlsysim zoo grids`)")

    wue = field_of(dc, "wue") if dc is not None else None
    water_intensity = field_of(grid_rec, "water_intensity") if grid_rec is not None and carbon_intensity is None else None
    return PowerDraw(
        devices=n, power_model=power_model, device_power=device_power, utilization=util, pue=pue_value,
        carbon_intensity=ci, carbon_basis=basis, grid=grid_label,
        wue=lineage.use(wue) if wue is not None else None,
        water_intensity=lineage.use(water_intensity) if water_intensity is not None else None,
        embodied=_embodied_constants(catalog, lineage, n, node) if embodied else None, lineage=lineage,
    )


def _grid_intensity(grid: Record) -> tuple[Value, str, str]:
    """A grid's cited carbon intensity, its basis and the label results show, read once per grid."""
    key = id(grid._data)
    hit = _GRIDS.get(key)
    if hit is None:
        # Until the caller chooses a basis: direct where the grid states one (the basis these
        # grids had before the split into one field per basis), else lifecycle.
        intensity = grid.field(carbon_intensity_path(grid, "direct") or carbon_intensity_path(grid))
        year = intensity.valid_time
        label = f"{grid.label} ({grid.region}" + (f", {year})" if year else ")")
        hit = _GRIDS[key] = (grid, intensity, intensity.qualifiers.get("basis", "not stated by the source"), label)
    return hit[1], hit[2], hit[3]


_GRIDS: dict[int, tuple[Record, Value, str, str]] = {}


def _fleet_parts(fleet: Any, devices: int | None, lineage: Lineage) -> tuple[Record, Record | None, Record | None, int]:
    if isinstance(fleet, Record) and fleet.kind == "hardware":
        if devices is None:
            raise MlsysimError(f"pass devices= (how many {fleet.label} accelerators)")
        if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
            raise MlsysimError(f"devices must be a whole number >= 1, got {devices!r}")
        return fleet, None, None, devices
    if isinstance(fleet, Record):
        fleet = Fleet.from_cluster(fleet, devices)
    if not isinstance(fleet, Fleet):
        raise MlsysimError(f"expected a cluster, a Fleet or a hardware record, got {fleet!r}")
    lineage.merge(fleet.lineage)
    return fleet.hardware, fleet.node, fleet.cluster, fleet.devices


def _device_hours(n: int, duration: float | None, device_hours: float | None) -> float:
    if (duration is None) == (device_hours is None):
        raise MlsysimError("pass exactly one of duration= (seconds) or device_hours= (accelerator-hours)")
    if device_hours is not None:
        if not device_hours > 0:
            raise MlsysimError(f"device_hours must be positive, got {device_hours!r}")
        return float(device_hours)
    if not duration > 0:
        raise MlsysimError(f"duration must be positive seconds, got {duration!r}")
    return n * duration / 3600


def _embodied_constants(catalog: Catalog, lineage: Lineage, n: int, node: Record | None) -> tuple[float, float, float, float, float]:
    """Per-GPU and per-server manufacturing carbon [kg], replacement period [h], average
    usage, and the servers the job holds (Luccioni et al. 2023)."""
    per_gpu = lineage.use(assumption(catalog, EMBODIED_GPU))
    per_server = lineage.use(assumption(catalog, EMBODIED_SERVER))
    life_h = lineage.use(assumption(catalog, REPLACEMENT_PERIOD)) / 3600
    usage = lineage.use(assumption(catalog, AVERAGE_USAGE))
    # Without a node record (bare accelerators) there is no server to charge.
    servers = n / lineage.use(field_of(node, "accelerator_count")) if node is not None else 0.0
    return per_gpu, per_server, life_h, usage, servers


def _embodied(constants: tuple[float, float, float, float, float], n: int, hours: float) -> float:
    """Manufacturing carbon [kg] charged to this job: (GPUs x per-GPU + servers x
    per-server) x job hours / (replacement period x usage) (Luccioni et al. 2023).
    Bare accelerators (no node record) are charged for the GPUs only."""
    per_gpu, per_server, life_h, usage, servers = constants
    job_hours = hours / n  # wall-clock hours each accelerator is held
    return (n * per_gpu + servers * per_server) * job_hours / (life_h * usage)
