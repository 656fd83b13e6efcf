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

# Characters that change how text around them is shown without being seen themselves:
# C0/C1 controls (but tab and newline), bidirectional overrides/isolates/marks
# (U+202E makes "gnp.exe" read "exe.png"), line/paragraph separators and the BOM.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def visible(text: Any) -> Any:
    """`text` with every invisible control character shown as its escape (U+202E as \\u202e);
    anything that is not a string is returned as it is."""
    if not isinstance(text, str) or not _INVISIBLE.search(text):
        return text
    return type(text)(_INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def http_url(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL safe to put in an href, else None."""
    if not isinstance(value, str) or _CONTROL.search(value):
        return None
    return value if _HTTP_URL.fullmatch(value) else None
