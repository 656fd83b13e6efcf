"""What may become a link: only absolute http(s) URLs.

Everything else from the YAML is text, escaped by Jinja's autoescape. A URL is
checked here before it is put in an href, because escaping alone does not stop
`javascript:` or `data:` URLs from running when clicked.
"""

from __future__ import annotations

import re
from typing import Any

# Browsers drop tabs and newlines inside URLs and strip leading control
# characters ("java\tscript:" runs as "javascript:"), so any such character
# disqualifies a URL outright rather than being cleaned up.
_HTTP_URL = re.compile(r"https?://[^\s/?#\\]+(?:[/?#][^\s\\]*)?", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def http_url(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL safe to put in an href, else None."""
    if not isinstance(value, str) or _CONTROL.search(value):
        return None
    return value if _HTTP_URL.fullmatch(value) else None
