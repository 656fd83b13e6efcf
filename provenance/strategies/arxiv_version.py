"""`arxiv_version`: a pinned arXiv version is immutable.

The checker asks the arXiv API (Atom) for the paper's newest version. The same
version as the one pinned in `sources.yaml` (`arxiv: {id, version}`) is a match:
what was read cannot have changed. A newer version is `changed` and always an
alert for a person to re-read; it never edits the catalog.
"""

from __future__ import annotations

import re

from provenance.http import Fetched
from provenance.strategies import Outcome

API = "https://export.arxiv.org/api/query?id_list={id}"


def api_url(arxiv_id: str, base: str = API) -> str:
    return base.format(id=arxiv_id)


def latest_version(body: bytes, arxiv_id: str) -> int | None:
    """The newest version number the Atom feed lists for arxiv_id."""
    text = body.decode("utf-8", "replace")
    found = [int(v) for v in re.findall(rf"arxiv\.org/abs/{re.escape(arxiv_id)}v(\d+)", text)]
    return max(found) if found else None


def check(fetched: Fetched, arxiv_id: str, pinned: str) -> Outcome:
    latest = latest_version(fetched.body, arxiv_id)
    if latest is None:
        return Outcome("missing", f"the arXiv API answer does not list {arxiv_id}")
    have = int(pinned.lstrip("v"))
    if latest == have:
        return Outcome("match", f"arXiv:{arxiv_id} is still at {pinned}, the version cited", observed=f"v{latest}")
    if latest > have:
        return Outcome("changed", f"arXiv:{arxiv_id} has a newer version v{latest} (cited: {pinned}); re-read it and update the claims by hand",
                       observed=f"v{latest}")
    return Outcome("missing", f"arXiv:{arxiv_id} lists v{latest} only, but the catalog pins {pinned}; fix the pinned version")
