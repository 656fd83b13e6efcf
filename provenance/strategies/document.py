"""`document`: a conditional GET and a content hash.

HTTP 304, or a body whose sha256 equals the last verified version, means the
source still says what it said: verified. A different hash means the document
was revised and the claims citing it must be re-read; the new version becomes
the baseline only when a person accepts it (`--apply`) or a quote check passes.
"""

from __future__ import annotations

from provenance.http import Fetched
from provenance.strategies import Outcome


def check(fetched: Fetched, verified_sha256: str | None) -> Outcome:
    """Compare the fetched document with the last verified version (fetch failures are the checker's)."""
    if fetched.not_modified:
        return Outcome("match", "HTTP 304 Not Modified since the last verified version")
    sha = fetched.sha256 or ""
    if verified_sha256 is None:
        return Outcome("match", f"first check: content hash {sha[:12]} recorded as the verified version", advance_baseline=True)
    if sha == verified_sha256:
        return Outcome("match", "content unchanged (same sha256)", advance_baseline=True)
    return Outcome(
        "changed",
        f"the document changed since it was last verified (sha256 {verified_sha256[:12]} -> {sha[:12]}); "
        "re-read it and confirm the values that cite it",
        observed=sha,
    )
