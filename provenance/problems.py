"""Problems found in data files, reported as `file:line:col: field.path: problem; fix`."""

from __future__ import annotations

from dataclasses import dataclass


class ProvenanceError(Exception):
    """Base of the errors raised by the provenance package."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one place of one file."""

    file: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
