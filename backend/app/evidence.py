"""Evidence views for citations: the cited page's text and a rendered image of the PDF page, with
the numbers the answer states highlighted in both.

A number is highlighted where the page prints the same amount as the answer, up to a scale
notation ("$4,512 million" in the answer marks "4,512" in a table headed "(In millions)"), never
by approximate value. Years and numbers below 10 without decimals are not highlighted (they match
everything). Images are rendered with pypdfium2 in the PDF child process (``ingestion.render``
under ``ingestion.sandbox``'s limits: the server never opens a PDF itself) and cached (bounded)
by file, page and terms.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from backend.domain.numbers import parse_numbers
from backend.domain.text import CJK

log = logging.getLogger(__name__)

_CITE_TAG = re.compile(r"\[[^\[\]]*?p\.\s*\d+\]")
_DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_SCALES = (1.0, 1e3, 1e6, 1e9)
_SCALES_ZH = (*_SCALES, 1e4, 1e8)  # 万, 亿: only on Chinese pages
RENDER_SCALE = 1.4


def _same_printed_amount(a: float, b: float, scales: tuple[float, ...] = _SCALES) -> bool:
    """True when ``b`` is ``a`` written in another scale (exact up to float noise)."""
    a, b = abs(a), abs(b)
    if a == 0 or b == 0:
        return a == b
    for s in scales:
        for x, y in ((a * s, b), (a, b * s)):
            if abs(x - y) <= 1e-9 * max(x, y):
                return True
    return False


def _meaningful(value: float, text: str) -> bool:
    return abs(value) >= 10 or "." in text


def answer_numbers(answer_text: str) -> list[tuple[float, bool]]:
    """(value, is_percent) of the amounts stated in an answer (citation tags removed, years and
    tiny integers skipped)."""
    text = _CITE_TAG.sub(" ", answer_text)
    out = []
    for n in parse_numbers(text, skip_years=True):
        digits = _DIGITS.search(n.text)
        if digits and _meaningful(n.value, digits.group(0)):
            out.append((n.value, n.percent))
    return out


def highlight_terms(answer_text: str, page_text: str) -> list[str]:
    """Numbers as printed on the page (e.g. "4,512") that state an amount of the answer."""
    wanted = answer_numbers(answer_text)
    if not wanted:
        return []
    scales = _SCALES_ZH if CJK.search(page_text) else _SCALES
    terms: list[str] = []
    for n in parse_numbers(page_text, skip_years=True):
        digits = _DIGITS.search(n.text)
        if not digits or not _meaningful(n.value, digits.group(0)):
            continue
        match = any(
            abs(abs(w) - abs(n.value)) <= 1e-9 * abs(w)  # a percentage only as itself
            if pct or n.percent
            else _same_printed_amount(w, n.value, scales)
            for w, pct in wanted
        )
        if match and digits.group(0) not in terms:
            terms.append(digits.group(0))
    return terms


def _term_pattern(terms: list[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alts = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\d,.])(?:{alts})(?![\d]|[,.]\d)")


def _fold_above(body: str, above: str, context: int = 3) -> str:
    """Lines far above the first highlight folded into a <details> (``above``: its summary, with
    ``{n}`` lines), so the panel opens at the highlighted cell without scripts."""
    first = body.find("<mark>")
    if first < 0 or not above:
        return body
    lines_before = body[:first].split("\n")
    if len(lines_before) <= context + 3:
        return body
    cut = len("\n".join(lines_before[: -context - 1])) + 1
    summary = html.escape(above.format(n=len(lines_before) - context - 1))
    return (
        f'<details><summary style="cursor: pointer; color: #666;">{summary}</summary>'
        f"{body[:cut]}</details>{body[cut:]}"
    )


def highlight_html(page_text: str, terms: list[str], above: str = "") -> str:
    """The page text as safe HTML (pre-wrapped) with every occurrence of ``terms`` in <mark>;
    with ``above`` (e.g. "{n} lines above"), the text opens at the first highlight."""
    pattern = _term_pattern(terms)
    parts: list[str] = []
    pos = 0
    if pattern is not None:
        for m in pattern.finditer(page_text):
            parts.append(html.escape(page_text[pos : m.start()]))
            parts.append(f"<mark>{html.escape(m.group(0))}</mark>")
            pos = m.end()
    parts.append(html.escape(page_text[pos:]))
    body = _fold_above("".join(parts).replace("$", "&#36;"), above)
    return (
        '<div class="annalyst-page" style="white-space: pre-wrap; font-family: monospace; '
        "font-size: 0.8rem; max-height: 32rem; overflow-y: auto; border: 1px solid #ddd; "
        f'padding: 0.5rem;">{body}</div>'
    )


@lru_cache(maxsize=48)
def _render_cached(
    path: str, mtime_ns: int, page: int, terms: tuple[str, ...], scale: float
) -> tuple[bytes, int]:
    from ingestion.sandbox import Limits
    from ingestion.sandbox import render_page as render_in_child

    return render_in_child(Path(path), page, terms, scale, Limits())


def render_page(
    pdf_path: Path, page: int, terms: list[str] | tuple[str, ...] = (), scale: float = RENDER_SCALE
) -> tuple[bytes, int]:
    """PNG bytes of a 1-based PDF page with ``terms`` boxed, and how many boxes were drawn."""
    path = Path(pdf_path)
    return _render_cached(str(path.resolve()), path.stat().st_mtime_ns, page, tuple(terms), scale)


@dataclass
class CitationView:
    """Everything the chat shows when a citation is expanded."""

    file: str
    page: int
    html: str
    terms: list[str]
    png: bytes | None
    boxes: int
    note: str  # why there is no image, empty otherwise


def citation_view(
    catalog: Any,
    doc_id: str,
    page: int,
    answer_text: str,
    snippet: str = "",
    *,
    image: bool = True,
    above: str = "",
) -> CitationView:
    """Page text (from the index) and page image (from the PDF) of one citation."""
    doc = catalog.document(doc_id)
    file = doc.file_name if doc else doc_id
    text = catalog.page_text(doc_id, page) or snippet
    terms = highlight_terms(answer_text, text)
    png, boxes, note = None, 0, ""
    if not image:
        return CitationView(file, page, highlight_html(text, terms, above), terms, None, 0, "")
    path = Path(doc.stored_path or doc.source_path) if doc else None
    if path is None or not path.is_file():
        note = "missing_pdf"
    else:
        try:
            png, boxes = render_page(path, page, terms)
        except Exception as err:  # noqa: BLE001 - a page that cannot render still shows its text
            log.warning("cannot render %s p.%d: %s", path, page, err)
            note = "render_failed"
    return CitationView(file, page, highlight_html(text, terms, above), terms, png, boxes, note)
