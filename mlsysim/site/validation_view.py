"""The zoo's validation page: every published measurement in the catalog next to what the
solvers predict for it (`mlsysim.evaluate.validation.validate`, the data `mlsysim validate`
prints), as display strings for the template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlsysim.evaluate.validation import ValidationReport, display_number, display_percent, validate


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
    """One measurement: its figures and signed error as shown, and what it rests on."""

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
    explanation: str  # why it is not expressible, else its remarks and what was assumed


@dataclass(frozen=True)
class ValidationView:
    summary: tuple[SummaryRow, ...]
    rows: tuple[ResultRow, ...]


def validation_view(catalog: Any, report: ValidationReport | None = None) -> ValidationView:
    """The page's tables for `catalog` (its measurements run through the solvers once)."""
    report = report if report is not None else validate(catalog)
    summary = []
    for category, stats in report.summary().items():
        worst = stats.get("worst") or {}
        median = stats.get("median_abs_error")
        summary.append(SummaryRow(
            category=category, count=stats["count"], expressed=stats["expressed"],
            median="not expressible" if median is None else display_percent(median),
            within=(display_percent(stats.get("within_10")), display_percent(stats.get("within_20")),
                    display_percent(stats.get("within_30"))),
            worst=display_percent(worst["error"], signed=True) if worst else "-",
            worst_id=worst["id"] if worst else None))
    rows = tuple(ResultRow(
        id=r.id, href=f"measurements/{r.id}.html", name=r.name, category=r.category, metric=r.metric,
        unit=r.display_unit, measured=display_number(r.measured * r.scale),
        predicted=display_number(None if r.predicted is None else r.predicted * r.scale),
        error="not expressible" if r.error is None else display_percent(r.error, signed=True),
        error_sort=float("inf") if r.error is None else abs(r.error),
        explanation=r.explanation) for r in report.results)  # in the report's order: category, then id
    return ValidationView(tuple(summary), rows)
