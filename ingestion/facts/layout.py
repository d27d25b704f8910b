"""Page geometry for statement pages: words with boxes, grouped into visual lines.

The raw page text (pypdfium2) is good enough to *find* statements, but parsing their rows needs
positions: a value's column is decided by where its right edge sits, not by how many numbers
precede it on the line (a row with only this year's value would otherwise land in last year's
column), and a wrapped label (常柴's "收到其他与经营活动有关 / 的现金" with the amounts centred
between the two lines) is joined by vertical distance. Some PDFs also put every word on its own
text line (MGM Resorts 2018), which rebuilding lines from boxes repairs.

PDFium's per-character boxes cost ~0.04 s per page, so only candidate statement pages are read.
"""

from __future__ import annotations

import logging
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_SPACES = {" ", "\n", "\r", "\t", "\xa0", "\u3000", "\ufffe", "\x02"}


@dataclass
class Word:
    text: str
    x0: float
    x1: float
    y0: float  # bottom (PDF coordinates: y grows upwards)
    y1: float  # top

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def h(self) -> float:
        return max(self.y1 - self.y0, 0.1)


@dataclass
class Line:
    """One visual line: words left to right, on one page."""

    page: int
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def y0(self) -> float:
        return min(w.y0 for w in self.words)

    @property
    def y1(self) -> float:
        return max(w.y1 for w in self.words)

    @property
    def cy(self) -> float:
        return statistics.median(w.cy for w in self.words)

    @property
    def h(self) -> float:
        return statistics.median(w.h for w in self.words)

    @property
    def x0(self) -> float:
        return self.words[0].x0

    def spans(self) -> list[tuple[int, int, Word]]:
        """Character offsets of each word in :attr:`text`."""
        out = []
        pos = 0
        for w in self.words:
            out.append((pos, pos + len(w.text), w))
            pos += len(w.text) + 1
        return out

    def x_range(self, start: int, end: int) -> tuple[float, float] | None:
        """x extent of the words overlapping text[start:end]."""
        xs = [(w.x0, w.x1) for a, b, w in self.spans() if a < end and b > start]
        if not xs:
            return None
        return min(x for x, _ in xs), max(x for _, x in xs)


def _words_from_chars(chars: list[tuple[str, tuple[float, float, float, float]]]) -> list[Word]:
    words: list[Word] = []
    cur: list[tuple[str, tuple[float, float, float, float]]] = []

    def flush() -> None:
        if cur:
            words.append(
                Word(
                    "".join(c for c, _ in cur),
                    min(b[0] for _, b in cur),
                    max(b[2] for _, b in cur),
                    min(b[1] for _, b in cur),
                    max(b[3] for _, b in cur),
                )
            )
            cur.clear()

    for ch, box in chars:
        if ch in _SPACES or not ch.isprintable():
            flush()
            continue
        if cur:
            _, prev = cur[-1]
            h = max(prev[3] - prev[1], box[3] - box[1], 1.0)
            same_line = abs((prev[1] + prev[3]) / 2 - (box[1] + box[3]) / 2) < 0.5 * h
            gap = box[0] - prev[2]
            if not same_line or gap > 0.6 * h or gap < -2.0 * h:
                flush()
        cur.append((ch, box))
    flush()
    return words


def group_lines(words: list[Word], page: int) -> list[Line]:
    """Words → visual lines (top to bottom), by vertical centre."""
    lines: list[Line] = []
    for w in sorted(words, key=lambda w: -w.cy):
        if lines:
            last = lines[-1]
            ref = statistics.median(x.cy for x in last.words)
            tol = 0.45 * min(max(x.h for x in last.words), w.h) + 0.3
            if abs(ref - w.cy) <= tol:
                last.words.append(w)
                continue
        lines.append(Line(page, [w]))
    for line in lines:
        line.words.sort(key=lambda w: w.x0)
    return lines


def _upright(textpage, index: int) -> bool:  # noqa: ANN001 - pypdfium2 PdfTextPage
    """Horizontal text only: rotated margin text (vertical section tabs, "For personal use only"
    watermarks) would otherwise prefix row labels with stray letters."""
    import pypdfium2.raw as pdfium_c

    angle = pdfium_c.FPDFText_GetCharAngle(textpage.raw, index)
    return angle < 0 or angle < 0.05 or angle > 6.23  # radians; -1 on error


def _plausible(w: Word) -> bool:
    """Glyph runs far wider than their text (rotated margin text such as a vertical "For personal
    use only" watermark) are not table content."""
    return (w.x1 - w.x0) <= 2.5 * w.h * max(1, len(w.text)) + 2


class PdfGeometry:
    """Opens the PDF once and returns :class:`Line` lists for requested 1-based pages (cached)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._doc = None
        self._cache: dict[int, list[Line]] = {}

    def __enter__(self) -> PdfGeometry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()
            self._doc = None

    def _open(self):
        if self._doc is None:
            import pypdfium2 as pdfium

            self._doc = pdfium.PdfDocument(str(self.path))
        return self._doc

    def page_count(self) -> int:
        return len(self._open())

    def lines(self, number: int) -> list[Line]:
        if number in self._cache:
            return self._cache[number]
        doc = self._open()
        lines: list[Line] = []
        if 1 <= number <= len(doc):
            page = doc[number - 1]
            try:
                tp = page.get_textpage()
                try:
                    n = tp.count_chars()
                    text = tp.get_text_range(0, n) if n else ""
                    if len(text) == n:
                        chars = [
                            (text[i], tp.get_charbox(i, loose=True))
                            for i in range(n)
                            if _upright(tp, i)
                        ]
                        lines = group_lines(
                            [w for w in _words_from_chars(chars) if _plausible(w)], number
                        )
                    else:  # surrogate pairs shift the indices; rare, skip the page
                        log.debug("%s p.%d: text/char count mismatch", self.path.name, number)
                finally:
                    tp.close()
            finally:
                page.close()
        self._cache[number] = lines
        return lines


_AMOUNTISH = re.compile(r"^[$€£¥(]*[-–]?[\d.,]+%?\)?[.,;]?$")
#: A two-column page: at least this many lines hold text on both sides of the gutter …
_MIN_SPLIT_LINES = 8
#: … and most of those lines' left parts are prose (words, not a row of amounts).
_PROSE_SHARE = 0.6


def column_bands(lines: list[Line]) -> list[list[Line]]:
    """A page set in two text columns (older 10-Ks: prose left, a table right, side by side) →
    its left column's lines, then its right column's, each top to bottom; any other page → one
    band, unchanged. Grouping words by height alone joins the left column's prose to the right
    column's table rows ("… financial condition as of Total cost of common share repurchases
    $ 6,069"), so a row's label takes the prose and its header line is lost.

    The gutter is the widest vertical strip in the middle of the page that no word crosses on
    (nearly) any line; the page counts as two columns when at least eight lines hold words on
    both sides of it and on most of those lines both sides are words: prose on the left, prose
    or a row label on the right (a statement's long labels beside its amounts are one column). A full-width line (one word
    crosses the gutter) stays whole, in the left band."""
    words = [w for ln in lines for w in ln.words]
    if len(lines) < 2 * _MIN_SPLIT_LINES or not words:
        return [lines]
    left_edge, right_edge = min(w.x0 for w in words), max(w.x1 for w in words)
    width = right_edge - left_edge
    lo, hi = int(left_edge + 0.3 * width), int(left_edge + 0.7 * width)
    if hi - lo < 8:
        return [lines]
    crossed = [0] * (hi - lo)
    for ln in lines:
        for w in ln.words:
            for x in range(max(lo, int(w.x0)), min(hi, int(w.x1) + 1)):
                crossed[x - lo] += 1
    allowed = max(1, len(lines) // 30)
    best, start = (0, 0), None
    for i, n in enumerate([*crossed, allowed + 1]):
        if n <= allowed and start is None:
            start = i
        elif n > allowed and start is not None:
            best = max(best, (i - start, start))
            start = None
    size, at = best
    if size < 8:
        return [lines]
    gutter = lo + at + size / 2
    left: list[Line] = []
    right: list[Line] = []
    both = prose = 0
    for ln in lines:
        if any(w.x0 < gutter < w.x1 for w in ln.words):
            left.append(ln)
            continue
        a = [w for w in ln.words if w.x1 <= gutter]
        b = [w for w in ln.words if w.x0 >= gutter]
        if a and b:
            both += 1
            amounts = sum(bool(_AMOUNTISH.match(w.text)) for w in a)
            worded = sum(any(ch.isalpha() for ch in w.text) for w in b)
            prose += len(a) - amounts >= 4 and amounts <= 1 and worded >= 2
        if a:
            left.append(Line(ln.page, a))
        if b:
            right.append(Line(ln.page, b))
    if both < _MIN_SPLIT_LINES or prose < _PROSE_SHARE * both:
        return [lines]
    return [left, right]
