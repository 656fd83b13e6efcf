"""The exceptions mlsysim raises. All subclass MlsysimError."""

from __future__ import annotations

from collections.abc import Sequence

from provenance.problems import Problem


class MlsysimError(Exception):
    """Base of every error mlsysim raises on purpose."""

    exit_code = 1


class CatalogError(MlsysimError):
    """The catalog has problems; every one of them is listed."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the catalog:\n{lines}")


class NotFoundError(MlsysimError, LookupError):
    """No record matches a name; the message lists the closest names."""


class InfeasibleError(MlsysimError):
    """The configuration is physically infeasible (e.g. it does not fit in memory)."""

    exit_code = 2


class OOMError(InfeasibleError):
    """The workload does not fit in device memory."""


class SLAViolation(MlsysimError):
    """A latency or throughput target is not met."""

    exit_code = 3


class MixedCatalogsError(MlsysimError):
    """One call or one result combined records loaded from two different catalogs."""
