"""Sources, cited values (claims) and check policies.

A claim is one number as a source states it: value, unit, the source's id, and
where in the source it stands. Conditions (dense or sparse, lifecycle or
direct) are qualifiers, not comments, because comments drift.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Strategy = Literal["document", "text_quote", "json_path", "arxiv_version", "none"]
Volatility = Literal["static", "revisable", "live"]
OnChange = Literal["alert", "propose", "apply"]
SourceType = Literal["datasheet", "paper", "api", "dataset", "webpage", "model_card"]
Method = Literal["stated", "derived", "measured", "estimated"]

_CLAIM_PATH = re.compile(r"^(?P<record>[a-z_]+/[a-z0-9_]+)#(?P<field>[A-Za-z0-9_.]+)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Plausible(Strict):
    min: float | None = None
    max: float | None = None


class CheckPolicy(Strict):
    """How the freshness checker verifies a claim or all claims of a source."""

    strategy: Strategy | None = None
    volatility: Volatility | None = None
    cadence_days: int | None = Field(default=None, gt=0)
    tolerance: float | None = Field(default=None, ge=0)
    plausible: Plausible | None = None
    json_path: str | None = None
    assert_: dict[str, str | int | float | bool] | None = Field(default=None, alias="assert")
    on_change: OnChange | None = None
    # The largest relative change (|new - old| / |old|) applied without review; a larger one,
    # even inside `plausible`, is proposed instead. None: DEFAULT_MAX_STEP.
    max_step: float | None = Field(default=None, gt=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# Defaults by source type (DESIGN.md): documents are static and never
# auto-applied; live APIs are applied inside their plausibility guard.
DEFAULT_POLICIES: dict[str, CheckPolicy] = {
    "datasheet": CheckPolicy(strategy="text_quote", volatility="static", cadence_days=90, on_change="propose"),
    "paper": CheckPolicy(strategy="arxiv_version", volatility="static", cadence_days=180, on_change="alert"),
    "model_card": CheckPolicy(strategy="text_quote", volatility="revisable", cadence_days=90, on_change="propose"),
    "dataset": CheckPolicy(strategy="document", volatility="revisable", cadence_days=90, on_change="propose"),
    "webpage": CheckPolicy(strategy="text_quote", volatility="revisable", cadence_days=60, on_change="propose"),
    "api": CheckPolicy(strategy="json_path", volatility="live", cadence_days=1, on_change="apply"),
}


DEFAULT_MAX_STEP = 0.5


def effective_policy(source_type: str, *overrides: CheckPolicy | None) -> CheckPolicy:
    """The source type's default policy with the source's and the claim's overrides on top."""
    merged = DEFAULT_POLICIES[source_type].model_dump(by_alias=True)
    for override in overrides:
        if override is not None:
            merged.update(override.model_dump(by_alias=True, exclude_none=True))
    return CheckPolicy.model_validate(merged)


class ArxivRef(Strict):
    id: str = Field(pattern=r"^\d{4}\.\d{4,5}$")
    version: str = Field(pattern=r"^v\d+$")


_AUTH = re.compile(r"^env:[A-Z][A-Z0-9_]*$")


class Access(Strict):
    auth: str | None = Field(default=None, json_schema_extra={"pattern": _AUTH.pattern})
    note: str | None = None

    @field_validator("auth")
    @classmethod
    def _names_a_variable(cls, auth: str | None) -> str | None:
        # The message never repeats what was written: if it is a key, it must not reach a CI log.
        if auth is not None and not _AUTH.match(auth):
            if auth.startswith("env:"):
                raise ValueError("the variable name must be upper-case letters, digits and underscores; "
                                 "write e.g. `auth: env:ELECTRICITYMAPS_TOKEN`")
            raise ValueError("looks like a literal key; use `auth: env:NAME` and export the key as NAME (never write the key itself)")
        return auth


class Source(Strict):
    """A cited document or API."""

    title: str
    publisher: str | None = None
    authors: list[str] | None = None
    type: SourceType
    url: str | None = Field(default=None, pattern=r"^https?://")
    # A file inside the catalog that is itself the source (first-party data: a report written
    # by one of the project's scripts), relative to the catalog's root; for a source with no
    # public address. No part may start with a dot, so it cannot leave the catalog.
    path: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
    document_url: str | None = Field(default=None, pattern=r"^https?://")
    doi: str | None = None
    arxiv: ArxivRef | None = None
    published: dt.date | int | None = None
    retrieved: dt.date | None = None
    archive_url: str | None = Field(default=None, pattern=r"^https?://")
    license: str | None = None
    access: Access | None = None
    authority: Literal["primary", "secondary"] = "primary"
    check: CheckPolicy | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _who(self) -> Source:
        if not self.publisher and not self.authors:
            raise ValueError("a source needs a publisher or authors; add e.g. 'publisher: NVIDIA'")
        if not self.url and not self.path:
            raise ValueError("a source needs a url, or, for a file in the catalog, a path "
                             "(e.g. 'path: reports/run.json')")
        return self

    def policy(self) -> CheckPolicy:
        return effective_policy(self.type, self.check)


class Claim(Strict):
    """One cited numeric value."""

    value: float = Field(strict=True)
    unit: str = ""
    source: str
    locator: str | None = None
    as_stated: str | None = None
    qualifiers: dict[str, str] = Field(default_factory=dict)
    method: Method = "stated"
    valid_time: int | str | None = None
    derived_from: list[str] | None = None
    formula: str | None = None
    check: CheckPolicy | None = None
    note: str | None = None

    @field_validator("derived_from")
    @classmethod
    def _paths(cls, paths: list[str] | None) -> list[str] | None:
        for path in paths or []:
            if not _CLAIM_PATH.match(path):
                raise ValueError(f"{path!r} is not a claim path; write e.g. 'hardware/h100_sxm#compute_sparse.fp16'")
        return paths

    @model_validator(mode="after")
    def _method_rules(self) -> Claim:
        if self.method == "estimated" and not self.note:
            raise ValueError("an estimated value needs a 'note' saying what the estimate rests on")
        if self.method == "derived" and not (self.derived_from and self.formula):
            raise ValueError("a derived value needs 'derived_from' (claim paths) and 'formula'")
        return self


def claim_path(record: str, field: str) -> str:
    """`hardware/h100_sxm` + `memory.bandwidth` -> `hardware/h100_sxm#memory.bandwidth`."""
    return f"{record}#{field}"


def split_claim_path(path: str) -> tuple[str, str]:
    match = _CLAIM_PATH.match(path)
    if not match:
        raise ValueError(f"{path!r} is not a claim path")
    return match["record"], match["field"]
