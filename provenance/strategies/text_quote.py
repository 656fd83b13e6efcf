"""`text_quote`: find the claim's `as_stated` words in the fetched document.

The document's text is extracted once per fetch: HTML with tags, scripts and
styles stripped and entities decoded; PDF through pypdf; anything else decoded
as text. Text and quote are compared after Unicode NFKC normalisation, with
quotes and dashes unified, case ignored and whitespace removed (a tag boundary
must not hide "80 GB" written as `80<span>GB</span>`).

Found: verified. Not found, but the quote's words stand there with other
numbers: `changed`, with the new numbers and the snippet as evidence (and,
when the quote holds the claim's own number, a proposed new value); where the
words stand in several places with different numbers, the occurrence nearest
to the locator's words is taken, and without such words nothing is proposed.
Neither: `missing`, with the nearest words as evidence.
"""

from __future__ import annotations

import io
import itertools
import re
import unicodedata
from array import array
from typing import Any

from provenance.http import Fetched
from provenance.strategies import ClaimRef, Outcome

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_UNIFY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2032": "'", "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
})
_MIN_LABEL = 8  # characters of non-numeric context needed before "other number here" is believed
_SNIPPET = 100
_MAX_FOUND = 1000  # occurrences of a quote's words (or a locator's) considered in one document


class TextError(ValueError):
    """A document whose text cannot be extracted (malformed, too large, or hostile)."""


# Caps on what is read from one document. lxml parses in linear time; these bound memory.
MAX_HTML_BYTES = 16 * 1024 * 1024
MAX_TEXT_CHARS = 4_000_000
MAX_PDF_PAGES = 2_000

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
_BLOCK = frozenset({"p", "div", "br", "tr", "td", "th", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
                    "section", "article", "header", "footer", "pre", "dt", "dd", "blockquote", "hr", "title"})


def html_text(html: str | bytes) -> str:
    """The text of an HTML document: scripts and styles dropped, entities decoded, blocks spaced.

    libxml2's recovering HTML parser (through lxml) reads any byte soup in linear
    time; the tree is walked without recursion, so depth does not matter.
    """
    from lxml import etree

    data = html.encode("utf-8") if isinstance(html, str) else html
    if len(data) > MAX_HTML_BYTES:
        raise TextError(f"the HTML page is {len(data)} bytes, more than the {MAX_HTML_BYTES}-byte cap on what is parsed")
    if not data.strip():
        return ""
    parser = etree.HTMLParser(encoding="utf-8", recover=True, no_network=True, remove_comments=True, remove_pis=True,
                              remove_blank_text=False, compact=True, default_doctype=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError) as exc:
        raise TextError(f"cannot parse the HTML ({type(exc).__name__})") from None
    if root is None:
        return ""
    parts: list[str] = []
    size = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        tag = node.tag.lower() if isinstance(node.tag, str) else None
        if closing:
            if tag in _BLOCK:
                parts.append(" ")
            if node.tail:
                parts.append(node.tail)
                size += len(node.tail)
        elif tag is None or tag in _SKIP:  # a comment, a processing instruction, or a skipped element
            if node.tail:
                parts.append(node.tail)
                size += len(node.tail)
        else:
            if tag in _BLOCK:
                parts.append(" ")
            if node.text:
                parts.append(node.text)
                size += len(node.text)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node))
        if size > MAX_TEXT_CHARS:
            raise TextError(f"the page holds more than {MAX_TEXT_CHARS} characters of text, the cap on what is searched")
    return "".join(parts)


def pdf_text(data: bytes) -> str:
    """The text of a PDF, within pypdf's decompression limits and the page and text caps.

    A PDF whose streams inflate past pypdf's limits (a "zip bomb"), or that pypdf
    cannot read for any other reason, is a TextError: that document's result, never the run's.
    """
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > MAX_PDF_PAGES:
            raise TextError(f"the PDF has {len(reader.pages)} pages, more than the {MAX_PDF_PAGES}-page cap")
        parts, size = [], 0
        for page in reader.pages:
            text = page.extract_text() or ""
            size += len(text)
            if size > MAX_TEXT_CHARS:
                raise TextError(f"the PDF holds more than {MAX_TEXT_CHARS} characters of text, the cap on what is searched")
            parts.append(text)
        return "\n".join(parts)
    except TextError:
        raise
    except RecursionError:
        raise TextError("cannot extract text from the PDF (its objects are nested too deeply)") from None
    except Exception as exc:  # pypdf raises many types on hostile input (LimitReachedError, PdfReadError, ...)
        raise TextError(f"cannot extract text from the PDF ({type(exc).__name__}: {str(exc)[:200]})") from None


def document_text(fetched: Fetched) -> str:
    """The readable text of a fetched document, normalised for people (whitespace collapsed)."""
    body = fetched.body
    content_type = fetched.headers.get("content-type", "").lower()
    if body.startswith(b"%PDF-") or "application/pdf" in content_type:
        raw = pdf_text(body)
    else:
        charset = re.search(r"charset=([\w-]+)", content_type)
        try:
            decoded = body.decode(charset.group(1) if charset else "utf-8")
        except (LookupError, UnicodeDecodeError):
            decoded = body.decode("latin-1")
        looks_html = "html" in content_type or re.match(rb"\s*<(!doctype|html|head|body|div|p|table)", body[:512], re.I)
        raw = html_text(decoded) if looks_html else decoded
        if len(raw) > MAX_TEXT_CHARS:
            raise TextError(f"the document holds {len(raw)} characters of text, more than the {MAX_TEXT_CHARS}-character cap")
    return normalise(raw)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_UNIFY)
    return re.sub(r"\s+", " ", text).strip()


class _Compact:
    """Text without whitespace, lower-cased, remembering where each character came from."""

    def __init__(self, text: str):
        self.text = text
        chars: list[str] = []
        where = array("q")
        for i, ch in enumerate(text):
            if not ch.isspace():
                low = ch.lower()
                if len(low) != 1:  # a rare character whose lower case is longer: keep it as is
                    low = ch
                chars.append(low)
                where.append(i)
        self.compact = "".join(chars)
        self.where = where

    def span(self, start: int, end: int) -> str:
        """The original text covering compact[start:end]."""
        return self.text[self.where[start]: self.where[end - 1] + 1]

    def snippet(self, start: int, end: int) -> str:
        a = max(0, self.where[start] - _SNIPPET)
        b = min(len(self.text), self.where[end - 1] + 1 + _SNIPPET)
        return ("..." if a else "") + self.text[a:b] + ("..." if b < len(self.text) else "")


def _compact(s: str) -> str:
    return _Compact(normalise(s)).compact


def _number(text: str) -> float | None:
    """'3,350' -> 3350; '1.5' -> 1.5; '1.234,5' is ambiguous and not read."""
    if "," in text and "." in text:
        return None
    if "," in text:
        parts = text.split(",")
        if all(len(p) == 3 for p in parts[1:]):
            text = text.replace(",", "")
        else:
            return None
    try:
        return float(text)
    except ValueError:
        return None


def check(ref: ClaimRef, text: str) -> Outcome:
    """Look for the claim's as_stated words in the document's normalised text."""
    quote = ref.claim.get("as_stated")
    if not quote:
        return Outcome("skipped", "no as_stated text to look for; add the source's exact words as 'as_stated'")
    doc = _Compact(text)
    needle = _compact(str(quote))
    if not needle:
        return Outcome("skipped", "as_stated is blank")
    found = doc.compact.find(needle)
    if found >= 0:
        return Outcome("match", "as_stated found in the document", observed=doc.span(found, found + len(needle)),
                       snippet=doc.snippet(found, found + len(needle)), advance_baseline=True)
    # The same words with other numbers?
    pieces = _NUMBER.split(needle)
    numbers = _NUMBER.findall(needle)
    label = "".join(pieces)
    if numbers and len(label) >= _MIN_LABEL:
        found_all = list(itertools.islice(re.finditer(_quote_pattern(pieces, len(numbers)), doc.compact), _MAX_FOUND))
        m = _nearest_to_locator(found_all, doc, str(ref.claim.get("locator") or ""))
        if m is None and found_all:
            shown = ", ".join(repr(doc.span(x.start(), x.end())) for x in found_all[:4])
            return Outcome("changed", f"the quote's words stand in the document with other numbers in several places ({shown}) "
                                      "and the locator does not say which; re-read the source", snippet=doc.snippet(found_all[0].start(), found_all[0].end()))
        if m:
            new_numbers = list(m.groups())
            stated = doc.span(m.start(), m.end())
            outcome = Outcome(
                "changed",
                f"the source now states {stated!r} where the catalog quotes {str(quote)!r}",
                observed=stated, snippet=doc.snippet(m.start(), m.end()),
            )
            old = [_number(n) for n in numbers]
            new = [_number(n) for n in new_numbers]
            if len(numbers) == 1 and old[0] is not None and new[0] is not None and ref.claim.get("method", "stated") == "stated" \
                    and abs(old[0] - ref.value) <= 1e-9 * max(1.0, abs(ref.value)):
                outcome.proposal = {"value": new[0], "as_stated": stated}
            else:
                outcome.proposal = {"as_stated": stated}
            return outcome
    return Outcome("missing", f"as_stated {str(quote)!r} is not in the document" + _nearest(doc, needle),
                   snippet=_nearest_snippet(doc, needle))


def _quote_pattern(pieces: list[str], count: int) -> str:
    """The quote's words with any number in place of each of its numbers, in linear time.

    Each number is captured by a lookahead and consumed by a back-reference, so it is
    read once and never backtracked into; a number is only taken whole (not from inside
    a longer one), so a page of digits costs one pass, not one pass per digit.
    """
    out = []
    for i, piece in enumerate(pieces):
        out.append(re.escape(piece))
        if i < count:
            out.append(rf"(?<!\d)(?<!\d[.,])(?=({_NUMBER.pattern}))\{i + 1}")
    return "".join(out)


def _nearest_to_locator(found: list[re.Match[str]], doc: _Compact, locator: str) -> re.Match[str] | None:
    """One match: the only one, or the one nearest to the locator's words ("TDP row", "SXM column")."""
    if len({m.groups() for m in found}) <= 1:
        return found[0] if found else None
    words = sorted({w.lower() for w in re.findall(r"[^\W\d_]{3,}|\w*\d\w*", normalise(locator))
                    if w.lower() not in {"row", "column", "table", "spec", "page", "section", "and", "the"}}, key=len, reverse=True)
    anchors = list(itertools.islice((a.start() for w in words for a in re.finditer(re.escape(w), doc.compact)), _MAX_FOUND))
    if not anchors:
        return None
    return min(found, key=lambda m: min(abs(m.start() - a) for a in anchors))


def _best_anchor(doc: _Compact, needle: str) -> int:
    """Where the longest piece of the quote (split at numbers) occurs, or -1."""
    pieces = sorted((p for p in _NUMBER.split(needle) if len(p) >= 4), key=len, reverse=True)
    for piece in pieces:
        at = doc.compact.find(piece)
        if at >= 0:
            return at
    return -1


def _nearest(doc: _Compact, needle: str) -> str:
    return "; the nearest words are shown as the snippet" if _best_anchor(doc, needle) >= 0 else ""


def _nearest_snippet(doc: _Compact, needle: str) -> str | None:
    at = _best_anchor(doc, needle)
    return doc.snippet(at, min(len(doc.compact), at + 1)) if at >= 0 else None
