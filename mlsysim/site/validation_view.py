"""The zoo's validation page: every published measurement in the catalog next to what the
solvers predict for it (`mlsysim.evaluate.validation.validate`, the data `mlsysim validate`
prints), as display strings for the template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlsysim.evaluate.validation import CATEGORIES, ValidationReport, validate


@dataclass(frozen=True)
class SummaryRow:
    """One category (or "overall") of the summary table."""

    category: str
    count: int
    expressed: int
    median: str
    within: tuple[str, str, str]  # 10%, 20%, 30%
    worst: str  # the worst row's signed error
    worst_id: str | None  # its measurement id (the row's anchor on the page)


@dataclass(frozen=True)
class ResultRow:
    """One measurement: its figures and signed error as shown, and why it was not expressed."""

    id: str
    href: str
    name: str
    category: str
    metric: str
    unit: str
    measured: str
    predicted: str
    error: str
    error_sort: float
    reason: str
    assumed: tuple[str, ...]


@dataclass(frozen=True)
class ValidationView:
    summary: tuple[SummaryRow, ...]
    rows: tuple[ResultRow, ...]


def _number(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _share(value: Any) -> str:
    return "–" if value is None else f"{value:.0%}"


def validation_view(catalog: Any, report: ValidationReport | None = None) -> ValidationView:
    """The page's tables for `catalog` (its measurements run through the solvers once)."""
    report = report if report is not None else validate(catalog)
    summary = []
    for category, stats in report.summary().items():
        worst = stats.get("worst") or {}
        median = stats.get("median_abs_error")
        summary.append(SummaryRow(
            category=category, count=stats["count"], expressed=stats["expressed"],
            median="not expressible" if median is None else f"{median:.1%}",
            within=(_share(stats.get("within_10")), _share(stats.get("within_20")), _share(stats.get("within_30"))),
            worst="–" if not worst else f"{worst['error']:+.1%}",
            worst_id=worst["id"] if worst else None))
    order = {c: i for i, c in enumerate(CATEGORIES)}
    rows = []
    for r in sorted(report.results, key=lambda r: (order.get(r.category, len(order)), r.id)):
        error = r.error
        rows.append(ResultRow(
            id=r.id, href=f"measurements/{r.id}.html", name=r.name, category=r.category, metric=r.metric,
            unit=r.display_unit, measured=_number(r.measured * r.scale),
            predicted="–" if r.predicted is None else _number(r.predicted * r.scale),
            error="not expressible" if error is None else f"{error:+.1%}",
            error_sort=float("inf") if error is None else abs(error),
            reason=r.reason or "", assumed=tuple(r.assumed)))
    return ValidationView(tuple(summary), tuple(rows))
