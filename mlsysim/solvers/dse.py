"""Declarative design-space exploration: a space, an objective, constraints -> the Pareto front.

    >>> from mlsysim import Hardware, Models
    >>> from mlsysim.solvers.dse import DSE, roofline_space
    >>> space, model = roofline_space(Models.Language.Llama3_8B, [Hardware.Cloud.H100, Hardware.Cloud.A100],
    ...                               precisions=["fp16", "fp8"], batch_sizes=range(1, 257), seq_lens=[512, 2048])
    >>> dse = DSE(space, {"latency": "min", "throughput": "max"}, ["memory_usage <= memory_capacity"], model=model)
    >>> front = dse.run()                                  # numpy, in this process
    >>> front.evaluated, front.feasible <= front.evaluated  # 3 systems with a peak x 256 batches x 2 lengths
    (1536, True)
    >>> same = dse.run(scheduler="local", workers=2)       # the same front on Dask  # doctest: +SKIP

A space is the Cartesian product of named axes (each a list of values). It is never
materialised: the flat index range [0, size) is cut into chunks, each chunk's axis values
come from `numpy.unravel_index`, a vectorised `model` turns them into metric columns, the
constraints mask the rows, and only the chunk's non-dominated rows are kept. Partial fronts
are merged as they arrive, so memory is bounded by one chunk plus the front whatever the
size of the space (a 1e8-point search holds one chunk at a time).

On Dask (`dask.distributed`) the same chunk function runs on the workers of a `LocalCluster`
(the default) or of any scheduler whose address is given; at most a few chunks per worker
are in flight, and each returns only its partial front. The front is the same set of rows
either way, in the same order (sorted by flat index).

Pareto dominance (all objectives turned into minimisation): row p is dominated when some
row q is no worse in every objective and better in at least one; rows with equal objective
vectors do not dominate each other, so the front is a well-defined set and merging partial
fronts in any order gives the same result (the front of a union is the front of the union
of the parts' fronts).

References
----------
Deb 2001, "Multi-Objective Optimization using Evolutionary Algorithms", Wiley, Sec. 2.4
(dominance, non-dominated sets; the sort-and-sweep front for two objectives).
Kung, Luccio & Preparata 1975, "On Finding the Maxima of a Set of Vectors", J. ACM 22(4)
(maxima of a set of vectors by sorting).
Williams, Waterman & Patterson 2009, "Roofline", CACM 52(4) (the model `roofline_space` evaluates).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mlsysim.errors import InfeasibleError, MlsysimError
from mlsysim.lineage import Lineage

__all__ = ["DSE", "Space", "Constraint", "ParetoFront", "RooflineModel", "roofline_space", "pareto_mask"]

DIRECTIONS = ("min", "max")
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq, "!=": operator.ne,
}
DEFAULT_CHUNK = 1_000_000  # rows per chunk: a million rows of float64 is 8 MB per column
IN_FLIGHT_PER_WORKER = 2  # chunks queued per Dask worker: one running, one ready
INDEX = "index"
PROBES = 9  # probe rows of the dominance pre-filter (a speed setting: the front does not depend on it)  # the column holding each row's flat index in the space


# ---------------------------------------------------------------------------- the space


@dataclass(frozen=True)
class Space:
    """The Cartesian product of named axes; row i is `numpy.unravel_index(i, shape)`.

    Build it with `Space.of({"batch_size": [1, 2, 4], "tp": [1, 2, 8]})` or
    `Space(batch_size=[...], tp=[...])`; the first axis varies slowest."""

    names: tuple[str, ...]
    values: tuple[np.ndarray, ...]

    def __init__(self, axes: Mapping[str, Iterable[Any]] | None = None, **more: Iterable[Any]):
        given = dict(axes or {})
        for name, vals in more.items():
            if name in given:
                raise MlsysimError(f"space: axis {name!r} given twice")
            given[name] = vals
        if not given:
            raise MlsysimError("space: no axes; give at least one, e.g. Space(batch_size=[1, 2, 4])")
        names, values = [], []
        for name, vals in given.items():
            if not isinstance(name, str) or not name or name == INDEX:
                raise MlsysimError(f"space: axis name {name!r} is not allowed; use a non-empty name other than {INDEX!r}")
            arr = np.asarray(list(vals) if not isinstance(vals, np.ndarray) else vals)
            if arr.ndim != 1 or arr.size == 0:
                raise MlsysimError(f"space: axis {name!r} has no values; give a non-empty list, e.g. {name}: [1, 2, 4]")
            names.append(name)
            values.append(arr)
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "values", tuple(values))

    @classmethod
    def of(cls, axes: Mapping[str, Iterable[Any]]) -> Space:
        return cls(axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(v.size) for v in self.values)

    @property
    def size(self) -> int:
        size = 1
        for n in self.shape:
            size *= n
        return size

    def columns(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Axis values of rows [start, stop) as columns, plus their flat `index`."""
        index = np.arange(start, stop, dtype=np.int64)
        picks = np.unravel_index(index, self.shape)
        cols = {name: vals[pick] for name, vals, pick in zip(self.names, self.values, picks)}
        cols[INDEX] = index
        return cols


# ---------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class Constraint:
    """`left op right`: `left` a column name, `right` a number or another column name;
    op one of <=, <, >=, >, ==, !=. A row that fails it (or whose values are NaN) is
    infeasible."""

    left: str
    op: str
    right: float | str

    @classmethod
    def parse(cls, given: Any) -> Constraint:
        if isinstance(given, Constraint):
            return given
        if isinstance(given, str):
            match = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*", given)
            if not match:
                raise MlsysimError(f"constraint {given!r}: write 'column op value', e.g. 'memory_usage <= memory_capacity' "
                                   f"or 'latency <= 0.05' (op one of {', '.join(OPERATORS)})")
            left, op, right = match.groups()
            return cls(left, op, _number_or_name(right))
        if isinstance(given, (tuple, list)) and len(given) == len(("left", "op", "right")):
            left, op, right = given
            if op not in OPERATORS:
                raise MlsysimError(f"constraint {tuple(given)!r}: operator {op!r} is not one of {', '.join(OPERATORS)}")
            return cls(str(left), op, right if isinstance(right, str) else float(right))
        raise MlsysimError(f"constraint {given!r}: give a string like 'latency <= 0.05' or a tuple (column, op, value)")

    def names(self) -> set[str]:
        return {self.left} | ({self.right} if isinstance(self.right, str) else set())

    def mask(self, table: Mapping[str, np.ndarray]) -> np.ndarray:
        right = table[self.right] if isinstance(self.right, str) else self.right
        with np.errstate(invalid="ignore"):
            return np.asarray(OPERATORS[self.op](table[self.left], right), dtype=bool)

    def __str__(self) -> str:
        right = self.right if isinstance(self.right, str) else f"{self.right:g}"
        return f"{self.left} {self.op} {right}"


def _number_or_name(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


# ---------------------------------------------------------------------------- the Pareto front


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Rows of `values` (n rows x k objectives, all to be minimised, all finite) that no other
    row dominates: q dominates p when q <= p in every objective and q < p in one. Rows with
    equal vectors do not dominate each other (all are kept).

    One objective: the rows at the minimum. Two: sort lexicographically, then a row is on the
    front when its second objective is below the minimum over all rows strictly before it
    (Kung, Luccio & Preparata 1975). More: take the lexicographically smallest remaining
    vector (never dominated), drop every vector it dominates, repeat (Deb 2001, Sec. 2.4).
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    k = values.shape[1]
    if k == 1:
        return values[:, 0] == values[:, 0].min()
    if n > PROBES:
        # Rows a probe row dominates are off the front (dominance is transitive): drop them in
        # O(n) before the sort, which then sees only the few survivors.
        keep = np.flatnonzero(~_dominated_by_probes(values))
        mask = np.zeros(n, dtype=bool)
        mask[keep] = _exact_front(values[keep])
        return mask
    return _exact_front(values)


def _exact_front(values: np.ndarray) -> np.ndarray:
    """`pareto_mask` without the pre-filter (k >= 2 objectives)."""
    n, k = values.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort(values.T[::-1])
    ranked = values[order]
    # Runs of identical vectors share one verdict (the first row of each run decides).
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    firsts = np.flatnonzero(new_run)
    distinct = ranked[firsts]
    if k == 2:
        before = np.minimum.accumulate(distinct[:, 1])
        best_before = np.empty_like(before)
        best_before[0] = np.inf
        best_before[1:] = before[:-1]
        keep_distinct = distinct[:, 1] < best_before
    else:
        keep_distinct = np.zeros(len(distinct), dtype=bool)
        alive = np.arange(len(distinct))
        while alive.size:
            head = alive[0]
            keep_distinct[head] = True
            rest = distinct[alive[1:]]
            top = distinct[head]
            dominated = np.all(top <= rest, axis=1) & np.any(top < rest, axis=1)
            alive = alive[1:][~dominated]
    keep_sorted = keep_distinct[np.cumsum(new_run) - 1]
    mask = np.zeros(n, dtype=bool)
    mask[order] = keep_sorted
    return mask


def _dominated_by_probes(values: np.ndarray) -> np.ndarray:
    """Rows dominated by one of a few probe rows: the minimisers of weighted sums of the
    objectives scaled to [0, 1] (PROBES weightings for two objectives; each objective alone
    and their plain sum for more). Any row may serve as a probe: it removes only rows it
    dominates, which are then off the front."""
    k = values.shape[1]
    cols = [np.ascontiguousarray(values[:, j]) for j in range(k)]
    scaled = []
    for col in cols:
        low, high = col.min(), col.max()
        scaled.append((col - low) / (high - low) if high > low else np.zeros_like(col))
    if k == 2:
        weights = [(t, 1 - t) for t in np.linspace(0.0, 1.0, PROBES)]
    else:
        weights = [tuple(np.eye(k)[j]) for j in range(k)] + [tuple(np.ones(k))]
    rows = {int(np.argmin(sum(w * c for w, c in zip(weight, scaled)))) for weight in weights}
    dominated = np.zeros(len(values), dtype=bool)
    for row in sorted(rows):
        probe = values[row]
        no_worse = np.ones(len(values), dtype=bool)
        better = np.zeros(len(values), dtype=bool)
        for p, col in zip(probe, cols):
            no_worse &= p <= col
            better |= p < col
        dominated |= no_worse & better
    return dominated


@dataclass
class ParetoFront:
    """The non-dominated feasible rows of a search (columns of equal length, sorted by the
    rows' flat index in the space), with what was searched.

    columns   `index`, every axis, every metric the model returned
    objective {metric: "min" | "max"}
    evaluated rows evaluated (the size of the space)
    feasible  rows that met every constraint (and had finite objectives)
    backend   "numpy" or "dask (<scheduler address>)"
    """

    columns: dict[str, np.ndarray]
    objective: dict[str, str]
    constraints: tuple[Constraint, ...]
    evaluated: int
    feasible: int
    backend: str = "numpy"
    chunks: int = 0
    lineage: Lineage = field(default_factory=Lineage, repr=False)

    def __len__(self) -> int:
        return len(self.columns[INDEX])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def rows(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        lists = [self.columns[n].tolist() for n in names]
        return [dict(zip(names, values)) for values in zip(*lists)]

    def best(self, metric: str) -> dict[str, Any]:
        """The front's row that is best in `metric` (one of the objectives)."""
        if metric not in self.objective:
            raise MlsysimError(f"best: {metric!r} is not an objective; use one of {', '.join(self.objective)}")
        col = self.columns[metric]
        i = int(np.argmin(col) if self.objective[metric] == "min" else np.argmax(col))
        return self.rows()[i]

    def to_dict(self) -> dict[str, Any]:
        return {"objective": dict(self.objective), "constraints": [str(c) for c in self.constraints],
                "evaluated": self.evaluated, "feasible": self.feasible, "backend": self.backend,
                "chunks": self.chunks, "front": self.rows(), "catalog": self.lineage.catalog,
                "lineage": [e.to_dict() for e in self.lineage.entries()]}


@dataclass(frozen=True)
class _Partial:
    """What one chunk (or a merge of several) returns: its front and its counts."""

    columns: dict[str, np.ndarray]
    evaluated: int
    feasible: int


@dataclass(frozen=True)
class _Job:
    """Everything a chunk needs, sent once to every Dask worker (picklable)."""

    space: Space
    model: Callable[[dict[str, np.ndarray]], Mapping[str, Any]]
    objective: tuple[tuple[str, str], ...]
    constraints: tuple[Constraint, ...]


def _objective_matrix(job: _Job, table: Mapping[str, np.ndarray]) -> np.ndarray:
    cols = [table[name] if way == "min" else -table[name] for name, way in job.objective]
    return np.column_stack([np.asarray(c, dtype=float) for c in cols])


def _front_of(job: _Job, table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    keep = pareto_mask(_objective_matrix(job, table))
    return {name: col[keep] for name, col in table.items()}


def _evaluate_chunk(job: _Job, start: int, stop: int) -> _Partial:
    """Rows [start, stop) of the space: evaluate, constrain, keep the chunk's front."""
    cols = job.space.columns(start, stop)
    n = stop - start
    metrics = job.model(cols)
    table: dict[str, np.ndarray] = dict(cols)
    for name, value in metrics.items():
        table[name] = np.broadcast_to(np.asarray(value), (n,))
    wanted = {name for name, _ in job.objective}.union(*(c.names() for c in job.constraints))
    missing = sorted(wanted - set(table))
    if missing:
        raise MlsysimError(f"DSE: {', '.join(map(repr, missing))} is neither an axis nor a metric the model returns; "
                           f"use one of {', '.join(sorted(table))}")
    ok = np.ones(n, dtype=bool)
    for constraint in job.constraints:
        ok &= constraint.mask(table)
    ok &= np.all(np.isfinite(_objective_matrix(job, table)), axis=1)
    feasible = int(ok.sum())
    kept = {name: np.asarray(col)[ok] for name, col in table.items()}
    return _Partial(_front_of(job, kept), n, feasible)


def _merge(job: _Job, parts: Sequence[_Partial]) -> _Partial:
    names = list(parts[0].columns)
    table = {name: np.concatenate([p.columns[name] for p in parts]) for name in names}
    return _Partial(_front_of(job, table), sum(p.evaluated for p in parts), sum(p.feasible for p in parts))


# ---------------------------------------------------------------------------- the search


class DSE:
    """A declarative search: `space` (a Space or a mapping of axis -> values), `objective`
    ({metric: "min" | "max"}, one or more), `constraints` (strings like
    "memory_usage <= memory_capacity", tuples or Constraint), and `model`, a vectorised,
    picklable function from a chunk's axis columns (numpy arrays, plus `index`) to a
    mapping of metric name -> numpy array (or scalar). `run()` returns the Pareto front.

    Nothing here prints: pass `progress=callable(done_rows, total_rows)` to watch a run.
    """

    def __init__(self, space: Space | Mapping[str, Iterable[Any]], objective: Mapping[str, str],
                 constraints: Iterable[Any] = (), *, model: Callable[[dict[str, np.ndarray]], Mapping[str, Any]],
                 chunk_size: int = DEFAULT_CHUNK, lineage: Lineage | None = None):
        self.space = space if isinstance(space, Space) else Space(space)
        if not isinstance(objective, Mapping) or not objective:
            raise MlsysimError("DSE objective: give a mapping of metric -> 'min' or 'max', e.g. {'latency': 'min'}")
        for name, way in objective.items():
            if way not in DIRECTIONS:
                raise MlsysimError(f"DSE objective {name!r}: direction {way!r} is not 'min' or 'max'")
        if not callable(model):
            raise MlsysimError(f"DSE model must be a function of the axis columns, got {model!r}")
        if type(chunk_size) is not int or chunk_size < 1:
            raise MlsysimError(f"DSE chunk_size must be a whole number of rows >= 1, got {chunk_size!r}")
        self.objective = dict(objective)
        self.constraints = tuple(Constraint.parse(c) for c in constraints)
        self.model = model
        self.chunk_size = chunk_size
        self.lineage = lineage if lineage is not None else getattr(model, "lineage", Lineage())
        self._job = _Job(self.space, model, tuple(self.objective.items()), self.constraints)
        _evaluate_chunk(self._job, 0, 1)  # unknown metric names fail here, before any long run

    def chunks(self) -> list[tuple[int, int]]:
        size, step = self.space.size, self.chunk_size
        return [(start, min(start + step, size)) for start in range(0, size, step)]

    def _chunk_ranges(self) -> Iterable[tuple[int, int]]:
        size, step = self.space.size, self.chunk_size
        for start in range(0, size, step):
            yield start, min(start + step, size)

    def run(self, scheduler: Any = None, *, workers: int = 2, processes: bool = False,
            progress: Callable[[int, int], None] | None = None, in_flight: int | None = None) -> ParetoFront:
        """The Pareto front of the feasible rows.

        scheduler  None: numpy in this process, chunk by chunk. "local": a Dask
                   LocalCluster of `workers` workers (threads when processes=False) made for
                   this run and closed after it. A string address ("tcp://host:8786"): that
                   Dask scheduler. A `distributed.Client`: used as is.
        in_flight  most chunks submitted to Dask at once (default 2 per worker): bounds memory.
        """
        if scheduler is None:
            return self._run_numpy(progress)
        return self._run_dask(scheduler, workers, processes, progress, in_flight)

    def _finish(self, total: _Partial, backend: str, chunks: int) -> ParetoFront:
        if total.feasible == 0:
            raise InfeasibleError(
                f"no feasible point among {total.evaluated} evaluated: every row fails "
                f"{' and '.join(map(str, self.constraints)) or 'the finiteness of the objectives'}; "
                "relax the constraints or widen the space")
        order = np.argsort(total.columns[INDEX], kind="stable")
        columns = {name: col[order] for name, col in total.columns.items()}
        return ParetoFront(columns, dict(self.objective), self.constraints, total.evaluated, total.feasible,
                           backend, chunks, self.lineage)

    def _run_numpy(self, progress: Callable[[int, int], None] | None) -> ParetoFront:
        total: _Partial | None = None
        count = 0
        for start, stop in self._chunk_ranges():
            part = _evaluate_chunk(self._job, start, stop)
            total = part if total is None else _merge(self._job, [total, part])
            count += 1
            if progress is not None:
                progress(stop, self.space.size)
        assert total is not None
        return self._finish(total, "numpy", count)

    def _run_dask(self, scheduler: Any, workers: int, processes: bool,
                  progress: Callable[[int, int], None] | None, in_flight: int | None) -> ParetoFront:
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise MlsysimError("the Dask backend needs dask[distributed]: pip install 'dask[distributed]'") from exc
        import logging

        cluster = None
        own_client = False
        if isinstance(scheduler, Client):
            client = scheduler
        elif scheduler == "local":
            if type(workers) is not int or workers < 1:
                raise MlsysimError(f"workers must be a whole number >= 1, got {workers!r}")
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                   dashboard_address=None, silence_logs=logging.CRITICAL)
            client, own_client = Client(cluster), True
        elif isinstance(scheduler, str):
            client, own_client = Client(scheduler), True
        else:
            raise MlsysimError(f"scheduler must be None (numpy), 'local', a Dask scheduler address or a "
                               f"distributed.Client, got {scheduler!r}")
        try:
            address = client.scheduler.address if client.scheduler is not None else "?"
            nworkers = max(len(client.scheduler_info().get("workers", {})), 1)
            window = in_flight if in_flight is not None else IN_FLIGHT_PER_WORKER * nworkers
            if type(window) is not int or window < 1:
                raise MlsysimError(f"in_flight must be a whole number >= 1, got {in_flight!r}")
            job = client.scatter(self._job, broadcast=True)
            ranges = iter(self._chunk_ranges())
            pending = as_completed()
            for start, stop in ranges:
                pending.add(client.submit(_evaluate_chunk, job, start, stop, pure=False))
                if pending.count() >= window:
                    break
            total: _Partial | None = None
            done_rows = 0
            count = 0
            for future in pending:
                part = future.result()
                future.release()
                total = part if total is None else _merge(self._job, [total, part])
                done_rows += part.evaluated
                count += 1
                if progress is not None:
                    progress(done_rows, self.space.size)
                nxt = next(ranges, None)
                if nxt is not None:
                    pending.add(client.submit(_evaluate_chunk, job, nxt[0], nxt[1], pure=False))
            assert total is not None
            return self._finish(total, f"dask ({address})", count)
        finally:
            if own_client:
                client.close()
            if cluster is not None:
                cluster.close()


# ---------------------------------------------------------------------------- the roofline space


@dataclass(frozen=True)
class _System:
    """One (accelerator, precision) pair of a roofline space, reduced to floats."""

    label: str
    precision: str
    peak: float  # [FLOP/s]
    bandwidth: float  # [B/s]
    capacity: float  # [B]
    overhead: float  # [s] fixed per pass (kernel launches)
    nbytes: float  # [B] per weight and KV element at this precision
    waves: Any  # gemm_waves.WaveQuantization without its lineage
    eff_gemm: float  # [1] achieved fraction of peak of the weight GEMMs (kernel_efficiency.pass_efficiencies)
    eff_attention: float  # [1] of the other (attention) FLOPs
    eff_memory: float  # [1] of the memory bandwidth
    eff_expert: float = 0.0  # [1] of a mixture of experts' routed-expert GEMMs (0: at eff_gemm)
    # [s per token] casting the 16-bit GEMM inputs to the compute precision (pass_overheads.input_cast)
    cast: float = 0.0
    activations: Any = None  # terms.ActivationTraffic without its lineage (roofline_space always sets it)


@dataclass(frozen=True)
class RooflineModel:
    """The single-node roofline of `Engine.solve` / `sweep` (one forward pass of batch x
    seq_len tokens) as a picklable DSE model over the axes `system` (index into
    `systems`), `batch_size` and `seq_len`; every row equals `sweep`'s for the same inputs.

    latency = `roofline.kernel_roofline_time` + the element-wise kernels' activation traffic
    + launch overhead + the cast of the 16-bit GEMM inputs below 16 bits (`pass_overheads.input_cast`):
    the weight GEMMs' roofline plus the attention kernels', each the larger of its compute (at
    its efficiency on that system, `kernel_efficiency.pass_efficiencies`) and its bytes, activations
    included (`pass_overheads.activation_traffic`), / (bandwidth x eff_m)
    throughput = batch / latency; memory_usage = weights + KV cache (resident bytes).

    References
    ----------
    Williams, Waterman & Patterson 2009, "Roofline", CACM 52(4); the pass costs are
    `roofline.pass_cost` (Kaplan et al. 2020; Pope et al. 2022).
    """

    model: Any  # terms.ModelTerms without its lineage
    systems: tuple[_System, ...]
    lineage: Lineage = field(default_factory=Lineage, compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # The lineage (cited values with their records) stays in the caller's process.
        return (RooflineModel, (self.model, self.systems))

    @property
    def labels(self) -> list[str]:
        return [f"{s.label} @ {s.precision}" for s in self.systems]

    def __call__(self, cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        from mlsysim.solvers.roofline import gemm_bytes, gemm_flops, kernel_roofline_time, pass_cost, weight_gemm_stretch
        from mlsysim.solvers.kernel_efficiency import routed_gemm_share

        which = cols["system"]
        b = cols["batch_size"].astype(float)
        t = cols["seq_len"].astype(float)
        n = b.size
        latency, usage, capacity, flops_all, peak_all = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        m = self.model
        routed = routed_gemm_share(m)
        for i in np.unique(which):
            s = self.systems[int(i)]
            sel = which == i
            whole = bool(sel.all())
            bb, tt = (b, t) if whole else (b[sel], t[sel])
            flops, moved, resident = pass_cost(m, bb, tt, 0.0, s.nbytes, s.nbytes)
            flops = np.broadcast_to(flops, bb.shape)
            stretch = weight_gemm_stretch(s.waves.slowdown_array(bb * tt), routed, s.eff_gemm, s.eff_expert)
            gemm = gemm_flops(m, bb, tt)
            weights, other, elementwise, moved = s.activations.joined(bb * tt, gemm_bytes(m, bb, tt, s.nbytes), moved)
            lat = (kernel_roofline_time(gemm, flops - gemm, stretch, s.peak, s.eff_gemm, s.eff_attention, weights,
                                        other, s.bandwidth, s.eff_memory, np.maximum)
                   + elementwise / (s.bandwidth * s.eff_memory) + s.overhead + s.cast * bb * tt)
            # A diffusion model: one such pass per denoising step.
            lat, flops = lat * m.steps, flops * m.steps
            if whole:
                latency, usage, flops_all = lat, np.broadcast_to(resident, bb.shape), flops
                capacity[:], peak_all[:] = s.capacity, s.peak
            else:
                latency[sel], usage[sel], flops_all[sel] = lat, resident, flops
                capacity[sel], peak_all[sel] = s.capacity, s.peak
        return {"latency": latency, "throughput": b / latency, "memory_usage": usage, "memory_capacity": capacity,
                "mfu": flops_all / (latency * peak_all)}


def roofline_space(model: Any, hardware: Any, precisions: Iterable[str] = ("fp16",),
                   batch_sizes: Iterable[int] = (1,), seq_lens: Iterable[int] = (1,),
                   efficiency: float | None = None) -> tuple[Space, RooflineModel]:
    """The single-node roofline space of `model` on each accelerator of `hardware` at each
    precision, over batch sizes and sequence lengths: (Space, RooflineModel) for `DSE`.

    A (hardware, precision) pair whose peak the catalog lacks is left out (as `sweep` does);
    none left is an error. Axis `system` indexes `RooflineModel.systems` / `.labels`.
    """
    from mlsysim.catalog import inputs
    from mlsysim.catalog.records import Record
    from mlsysim.solvers.gemm_waves import wave_quantization
    from mlsysim.solvers.kernel_efficiency import pass_efficiencies
    from mlsysim.solvers.pass_overheads import activation_traffic, input_cast, launch_overhead
    from mlsysim.solvers.terms import PrecisionUnavailable, hardware_terms, model_terms
    from mlsysim.solvers.roofline import BYTES_PER_ELEMENT

    hardware_list = [hardware] if isinstance(hardware, (str, Record)) else list(hardware)
    catalog = inputs.catalog_of(model, *hardware_list)
    m = model_terms(inputs.record(model, "models", catalog, "model"))
    if m.kind == "per_inference":
        raise MlsysimError(f"roofline_space covers token models; {m.name} has a per-inference FLOP count (use sweep)")
    lineage = Lineage()
    lineage.merge(m.lineage)
    systems, skipped = [], []
    for hw in hardware_list:
        if not (isinstance(hw, Record) and hw.kind == "nodes"):
            hw = inputs.record(hw, "hardware", catalog, "hardware")
        for precision in precisions:
            try:
                h = hardware_terms(hw, precision)
            except PrecisionUnavailable as exc:
                skipped.append(str(exc))
                continue
            overhead = launch_overhead(m, h)
            waves = wave_quantization(m, h)
            eff = pass_efficiencies(m, h, efficiency)
            cast = input_cast(m, h)
            traffic = activation_traffic(m, h)
            for part in (h.lineage, overhead.lineage, waves.lineage, eff.lineage, cast.lineage, traffic.lineage):
                lineage.merge(part)
            systems.append(_System(h.name, h.precision, h.peak, h.bandwidth, h.capacity, overhead.seconds,
                                   float(BYTES_PER_ELEMENT[h.precision]), replace(waves, lineage=Lineage(), _memo={}),
                                   eff.gemm, eff.attention, eff.memory, eff.expert, cast.seconds,
                                   replace(traffic, lineage=Lineage())))
    if not systems:
        raise MlsysimError(f"roofline_space: no hardware in the list has a peak for the requested precisions ({'; '.join(skipped)})")
    batches, seqs = _whole_axis(batch_sizes, "batch_sizes"), _whole_axis(seq_lens, "seq_lens")
    if m.context and seqs.max() > m.context:
        raise MlsysimError(f"seq_len {int(seqs.max())} exceeds {m.name}'s context length of {m.context:g} tokens")
    space = Space(system=np.arange(len(systems)), batch_size=batches, seq_len=seqs)
    return space, RooflineModel(replace(m, lineage=Lineage()), tuple(systems), lineage)


def _whole_axis(values: Iterable[int], name: str) -> np.ndarray:
    arr = np.asarray(list(values))
    if arr.size == 0 or arr.dtype.kind not in "iu" or (arr < 1).any():
        raise MlsysimError(f"{name} must be whole numbers >= 1, got {arr.tolist()!r}")
    return arr.astype(np.int64)
