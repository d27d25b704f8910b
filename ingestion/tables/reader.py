"""Tables on a page (MD&A, segments, selected data, 主要会计数据, 产销量 …) → :class:`Table` records.

Built on the statement parser's page geometry (words with boxes grouped into visual lines,
:mod:`ingestion.facts.layout`) and its amount rules (:mod:`ingestion.facts.units`):

1. **Cells**: amounts ("1,577", "(0.3)", "12.5%", "12.5 %"), and nil dashes, that stand apart from
   the words before them (a gap wider than word spacing) — numbers inside prose are not cells.
2. **Blocks**: runs of lines holding at least two rows of cells; lines with only a label may sit
   between them (section labels, wrapped labels); a wide vertical gap or a line of prose ends it.
3. **Columns**: clusters of the cells' right edges (amounts are right-aligned; a hanging ")" or
   "%" is not counted).
4. **Header**: the lines above the first row whose words sit over the columns: each phrase goes
   to the column(s) under it, stacked phrases joined top to bottom ("Year ended December 31,
   2017" over every column, "United" / "States" over one).
5. **Rows**: the label is what stands left of the first column; a label-only line ending in ":"
   or followed by indented rows becomes the parent of the rows under it (``path``); wrapped
   labels are joined; amounts centred between two label fragments (年报) take both.
6. **Title and unit**: the line(s) just above the header; scale and currency from title and
   header (:func:`ingestion.facts.units.detect_scale`); percent cells keep their "%".

Anything ambiguous (two amounts in one column of a row) drops that cell, not the table.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from backend.domain.text import CJK
from backend.records import Cell, Table, TableRow
from ingestion.facts.layout import Line, Word, column_bands
from ingestion.facts.parse import digit_right, is_chrome
from ingestion.facts.units import (
    CURRENCY_SIGNS,
    detect_currency,
    detect_scale,
    is_dash,
    parse_amount,
)

_YEAR = re.compile(r"(?:19|20)\d\d")
_PCT = re.compile(r"^(.+?)\s*%$")
#: Chinese characters and full-width punctuation: no space between them when words are joined.
_WIDE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_HEADING_END = (":", "：")
_TOTAL = re.compile(r"^(?:total|合计|总计)\b|^(?:total|合计|总计)", re.I)
#: A label longer than this many words with no cells is prose, not a table line.
_PROSE_WORDS = 14
#: Footnote marks after a label or header: "(1)", "(2)(3)", "(a)", "*", "†".
_FOOTNOTE = re.compile(r"(?:\((?:\d{1,2}|[a-z])\))+|[*†‡]+")
_CHECKBOX = re.compile(r"[√□☑☐]\s*(?:适用|不适用)")
_UNIT_PHRASE = re.compile(
    r"^单位\s*[:：]|^币种\s*[:：]|"
    r"^\(?\s*(?:\$|dollars|u\.?s\.? dollars|amounts)?\s*(?:in\s+)?(?:millions|thousands|billions)\b",
    re.I,
)


@dataclass
class _Token:
    word: Word
    text: str
    value: float | None  # None: a nil dash
    percent: bool = False
    sign_x0: float | None = None  # a currency sign printed before the amount ("$  48.41")

    @property
    def right(self) -> float:
        return digit_right(self.word)

    @property
    def left(self) -> float:
        return self.sign_x0 if self.sign_x0 is not None else self.word.x0


@dataclass
class _Line:
    line: Line
    cells: list[_Token]
    label_words: list[Word] = field(default_factory=list)

    @property
    def label(self) -> str:
        text = join_words(w.text for w in self.label_words if not _FOOTNOTE.fullmatch(w.text))
        return re.sub(r"[.·…_]{3,}\s*$", "", text).strip()

    @property
    def x0(self) -> float:
        return self.label_words[0].x0 if self.label_words else self.line.x0


def join_words(words: Iterable[str]) -> str:
    """Words joined with spaces, except between two Chinese characters."""
    out = ""
    for w in words:
        if out and not (_WIDE.match(out[-1]) and _WIDE.match(w[:1])):
            out += " "
        out += w
    return out


def _amount(text: str) -> tuple[float | None, bool] | None:
    """(value, percent) of a printed cell; value None for a nil dash; None: not a cell."""
    t = text.strip()
    if is_dash(t):
        return None, False
    percent = False
    m = _PCT.match(t)
    if m:
        t, percent = m.group(1), True
    if _YEAR.fullmatch(t) and not percent:
        return None  # a year is a header, not a cell
    value = parse_amount(t)
    if value is None:
        return None
    return value, percent


def _cells(line: Line) -> list[_Token]:
    """The amounts of a line that stand apart from the words before them."""
    words = line.words
    out: list[_Token] = []
    for i, w in enumerate(words):
        found = _amount(w.text)
        if found is None:
            continue
        value, percent = found
        if value is None and not is_dash(w.text):
            continue
        if i == 0 and len(words) > 1 and re.fullmatch(r"\(?\d{1,3}\)?[.、]?", w.text):
            continue  # a row number, note number or 序号 in front of the label
        j = i - 1
        while j >= 0 and words[j].text in CURRENCY_SIGNS:
            j -= 1  # "$ 12,372": the gap that counts is the one before the sign
        prev = words[j] if j >= 0 else None
        gap = w.x0 - prev.x1 if prev else 99.0
        if prev is not None and gap < max(5.0, 0.75 * w.h) and not out:
            continue  # inside a sentence: "grew 16 percent", "$6.4 billion"
        sign = words[i - 1] if i > 0 and words[i - 1].text in CURRENCY_SIGNS else None
        token = _Token(w, w.text, value, percent, sign.x0 if sign else None)
        if i + 1 < len(words) and words[i + 1].text in ("%", "％"):
            token.percent, token.text = True, w.text + "%"
        out.append(token)
    return out


def _is_prose(line: Line, cells: list[_Token]) -> bool:
    words = [w for w in line.words if any(ch.isalpha() for ch in w.text)]
    if cells:
        return False
    if CJK.search(line.text):
        return len(line.text.replace(" ", "")) > 40
    return len(words) > _PROSE_WORDS


def _blocks(lines: list[Line]) -> list[tuple[int, int]]:
    """(first, last) line indexes of table blocks: from the first to the last line with cells,
    at least two of them. Up to two label-only lines in a row may sit between (a wrapped label,
    a section label), each within a few line heights of the line above; prose, a checkbox line
    (□ 适用), a new column header or three text lines in a row end a block."""
    out: list[tuple[int, int]] = []
    start = end = -1
    rows = texts = 0
    prev_cy = 0.0
    h = statistics.median(ln.h for ln in lines) if lines else 10.0

    def close() -> None:
        if rows >= 2:
            out.append((start, end))

    for i, ln in enumerate(lines):
        cells = _cells(ln)
        if start >= 0 and _years_over_amounts(ln, lines[start]):
            close()  # "2019" over the amounts, under the 2018 quarters: the next section's header
            start, rows, texts = -1, 0, 0
            continue
        texts = 0 if cells else texts + 1
        breaks = (
            _is_prose(ln, cells)
            or prev_cy - ln.cy > 4.0 * h
            or (not cells and (_spread(ln) or _CHECKBOX.search(ln.text) or texts >= 3))
        )
        if start >= 0 and breaks:
            close()
            start, rows = -1, 0
        if _is_prose(ln, cells):
            continue
        if cells:
            if start < 0:
                start = i
            end, rows = i, rows + 1
        if start >= 0:
            prev_cy = ln.cy
    close()
    return out


def _years_over_amounts(line: Line, first_row: Line) -> bool:
    """A line of years only, set right of where the block's rows start: a header line."""
    return all(_YEAR.fullmatch(w.text) for w in line.words) and line.x0 > first_row.x0 + 60


def _extend_down(lines: list[Line], last: int, label_limit: float) -> int:
    """A label-only line tight under the last row finishes its wrapped label (年报)."""
    if last + 1 < len(lines):
        ln, above = lines[last + 1], lines[last]
        tight = above.cy - ln.cy <= 1.3 * max(ln.h, above.h)
        if tight and not _cells(ln) and all(w.x1 <= label_limit + 2 for w in ln.words):
            return last + 1
    return last


def _spread(line: Line) -> bool:
    """A line of three or more phrases spread over the width: a column header."""
    phrases = _phrases(line)
    return len(phrases) >= 3 and phrases[-1][0] - phrases[0][1] > 150


def _extend_up(lines: list[Line], first: int, label_limit: float) -> int:
    """Label-only lines right above the first row belong to it (a label wrapped over the line
    with the amounts, a section label): the block starts there."""
    while first > 0:
        ln, below = lines[first - 1], lines[first]
        if ln.cy - below.cy > 1.8 * max(ln.h, below.h) or _cells(ln) or _is_prose(ln, []):
            break
        if any(w.x1 > label_limit + 2 for w in ln.words):
            break
        first -= 1
    return first


@dataclass
class _Column:
    right: float
    left: float
    header: list[str] = field(default_factory=list)

    @property
    def center(self) -> float:
        return (self.left + self.right) / 2


def _columns(rows: list[list[_Token]]) -> list[_Column]:
    """Right-edge clusters of the cells, left to right (a cluster needs two cells)."""
    tokens = sorted((t for r in rows for t in r), key=lambda t: t.right)
    clusters: list[list[_Token]] = []
    for t in tokens:
        if clusters and t.right - clusters[-1][-1].right <= 4.0:
            clusters[-1].append(t)
        else:
            clusters.append([t])
    cols = []
    for c in clusters:
        if len(c) < 2 and len(rows) > 2:
            continue
        cols.append(_Column(statistics.median(t.right for t in c), min(t.left for t in c)))
    # a column never overlaps its neighbour: merge edges that came out too close
    merged: list[_Column] = []
    for c in cols:
        if merged and c.right - merged[-1].right < 8:
            merged[-1].right = max(merged[-1].right, c.right)
            merged[-1].left = min(merged[-1].left, c.left)
        else:
            merged.append(c)
    return merged


def _column_of(t: _Token, cols: list[_Column]) -> int | None:
    best = min(range(len(cols)), key=lambda i: abs(cols[i].right - t.right))
    if abs(cols[best].right - t.right) <= 6:
        return best
    if t.value is None:  # a dash is centred, not right-aligned
        for i, c in enumerate(cols):
            if c.left - 8 <= t.word.cx <= c.right + 8:
                return i
    return None


def _regions(cols: list[_Column], label_limit: float) -> list[tuple[float, float]]:
    """Horizontal extent of each column for header words: halfway to the neighbours."""
    out = []
    for i, c in enumerate(cols):
        lo = label_limit if i == 0 else (cols[i - 1].right + c.left) / 2
        hi = c.right + 12 if i == len(cols) - 1 else (c.right + cols[i + 1].left) / 2
        out.append((lo, hi))
    return out


def _phrases(line: Line) -> list[tuple[float, float, str]]:
    """Words of a header line grouped into phrases by the gaps between them."""
    out: list[list[Word]] = []
    for w in line.words:
        if out and w.x0 - out[-1][-1].x1 < max(4.0, 0.45 * w.h):
            out[-1].append(w)
        else:
            out.append([w])
    return [
        (p[0].x0, p[-1].x1, join_words(w.text for w in p if not _FOOTNOTE.fullmatch(w.text)))
        for p in out
        if not all(_FOOTNOTE.fullmatch(w.text) for w in p)
    ]


def _assign_line(
    over: list[tuple[float, float, str]],
    cols: list[_Column],
    regions: list[tuple[float, float]],
    label_limit: float,
) -> None:
    """Give a header line's phrases to the columns under them (lines come bottom to top). A
    phrase over a column with no header yet names that column; a phrase of a sparse line over
    columns that already have one is a group header ("2019年" over 金额 | 占比, "Year ended
    December 31, 2017" over every region) and goes to every column nearer to it than to the
    line's other phrases."""
    if not over:
        return
    pitch = statistics.median([b.center - a.center for a, b in itertools.pairwise(cols)] or [60.0])
    sparse = len(over) < len(cols)
    for x0, x1, text in over:
        centre = (x0 + x1) / 2
        hit = [
            j
            for j, (lo, hi) in enumerate(regions)
            if min(x1, hi) - max(x0, lo) > 0.4 * min(hi - lo, x1 - x0)
        ]
        home = next((j for j, (lo, hi) in enumerate(regions) if lo <= centre <= hi), None)
        if sparse and hit and all(cols[j].header for j in hit):
            lo, hi = regions[home] if home is not None else (0.0, 0.0)
            edge = min(centre - lo, hi - centre) / max(hi - lo, 1.0)
            if home is not None and edge >= 0.2 and x1 - x0 <= 1.6 * (hi - lo):
                hit = [home]  # a header stacked over one column ("营业收入比上年" / "同期增减")
            else:  # centred between columns, or wider than one: a group header
                hit = [
                    j
                    for j, c in enumerate(cols)
                    if abs(c.center - centre) <= (x1 - x0) / 2 + 0.75 * pitch
                    and min(over, key=lambda p: abs(c.center - (p[0] + p[1]) / 2))[2] == text
                ]
                if len(over) == 1 and len(hit) >= 2:
                    hit = list(range(len(cols)))  # one phrase over several columns: all of them
        if not hit and label_limit <= centre <= cols[-1].right + 8:
            hit = [min(range(len(cols)), key=lambda j: abs(cols[j].center - centre))]
        for j in hit:
            cols[j].header.insert(0, text)


def _header(
    lines: list[Line], first: int, cols: list[_Column], label_limit: float
) -> tuple[int, str, list[float], int]:
    """Assign the header lines above line ``first`` to the columns; returns the index of the
    first header line (``first`` when there is none), the text over the label column, the
    boundaries between label sub-columns named there (行业分类 | 项目 | 单位), and where the
    block starts (a section label right under the header belongs to it)."""
    regions = _regions(cols, label_limit)
    h = lines[first].h
    top = first
    section = first
    label_text: list[str] = []
    label_cols: list[float] = []
    i = first - 1
    while i >= 0 and first - i <= 6:
        ln = lines[i]
        if lines[i + 1 if i + 1 < first else first].cy - ln.cy < -4.5 * h or is_chrome(ln, ""):
            break
        if _CHECKBOX.search(ln.text):
            break
        phrases = _phrases(ln)
        if any(x0 < label_limit - 40 and x1 > label_limit + 20 for x0, x1, _ in phrases):
            break  # text running from the label column into the amounts: a sentence or title
        over = [p for p in phrases if p[1] > label_limit - 4]
        if not over and i == first - 1 and i > 0 and not _cells(ln):
            section = i  # a section label ("分行业") between the header and the first row
            i -= 1
            continue
        if not over or (_cells(ln) and not all(_YEAR.fullmatch(p[2]) for p in over)):
            break
        worded = [p for p in phrases if not _UNIT_PHRASE.search(p[2])]
        if sum(p[1] - p[0] for p in over) < 0.3 * sum(p[1] - p[0] for p in worded):
            break  # mostly left-aligned text: a title, not a column header ("in millions" aside)
        _assign_line([p for p in over if not _UNIT_PHRASE.search(p[2])], cols, regions, label_limit)
        left = [p for p in phrases if p[1] <= label_limit - 4]
        label_text[:0] = [p[2] for p in left]
        if len(left) >= 2 and not label_cols:
            centres = [(p[0] + p[1]) / 2 for p in left]
            label_cols = [(a + b) / 2 for a, b in itertools.pairwise(centres)]
        top = i
        i -= 1
    return min(top, section), " ".join(label_text), label_cols, section


def _title(lines: list[Line], top: int) -> str:
    """The table's title: the nearest heading-like line above its header (a short line, or one
    ending in ":"), within a few lines; sentences of prose above it are passed over."""
    i = top - 1
    while i >= 0 and top - i <= 6:
        ln = lines[i]
        if lines[top].cy - ln.cy < -9 * lines[top].h or is_chrome(ln, "") or _cells(ln):
            break
        text = ln.text.strip()
        if _UNIT_PHRASE.search(text) or _CHECKBOX.search(text):
            i -= 1
            continue
        sentence = text.endswith((".", "。")) and len(text) > 40
        if text[:1].islower():  # a sentence's middle (prose set in a narrow column)
            i -= 1
            continue
        if text and not sentence and (text.endswith(_HEADING_END) or len(text) <= 90):
            return text
        i -= 1
    return ""


def _rows(
    block: list[Line], cols: list[_Column], label_limit: float, label_cols: list[float]
) -> list[TableRow]:
    """Rows of a block. ``label_cols``: x boundaries of label sub-columns (a category column
    left of the item, a unit column right of it: 行业分类 | 项目 | 单位)."""
    parsed = []
    for ln in block:
        cells = _cells(ln)
        label = [w for w in ln.words if w.x1 <= label_limit + 2 and w.text not in CURRENCY_SIGNS]
        while label and is_dash(label[-1].text):
            label.pop()  # a nil marker left of the amounts, not part of the label
        parsed.append(_Line(ln, [c for c in cells if c.word.x1 > label_limit], label))
    categories = _categories(parsed, label_cols) if label_cols else {}
    _join_wrapped_cjk(parsed)
    rows: list[TableRow] = []
    headings: list[tuple[float, str, bool]] = []  # (x0, label, ends with ":")
    for k, p in enumerate(parsed):
        if not p.cells:
            if not p.label:
                continue
            if rows and _wraps(parsed, k):
                rows[-1].label = f"{rows[-1].label} {p.label}"
                continue
            headings = [hd for hd in headings if hd[0] < p.x0 - 2]
            headings.append((p.x0, p.label.rstrip(":：").strip(), p.label.endswith(_HEADING_END)))
            continue
        label = p.label
        if headings and k > 0 and not parsed[k - 1].cells and _leads_into(parsed[k - 1], p):
            label = join_words([headings.pop()[1], label])  # "…Best Buy Co.," / "Inc. …"
        headings = [hd for hd in headings if hd[0] <= p.x0 + 2]
        values: dict[int, Cell] = {}
        for tok in p.cells:
            j = _column_of(tok, cols)
            if j is not None and j not in values:
                values[j] = Cell(join_words(cols[j].header), tok.text, tok.value, tok.percent, j)
        if not values:
            continue
        path = [hd[1] for hd in headings]
        if k in categories:
            path = [categories[k], *path]
        rows.append(TableRow(label, path, [values[j] for j in sorted(values)]))
        if _TOTAL.match(label):
            headings = [hd for hd in headings if hd[0] < p.x0 - 2]
    return rows


def _leads_into(prev: _Line, cur: _Line) -> bool:
    """A label-only line that is the first part of the next row's label: right above it, ending
    in a comma or a connecting word, or followed by a label that starts in lower case."""
    close = 0 < prev.line.cy - cur.line.cy <= 1.5 * max(prev.line.h, cur.line.h)
    text = prev.label
    joined = bool(
        re.search(r"(?:[,(&/-]|\b(?:and|of|to|for|from|in|on|by|the|or|with|less))$", text)
    )
    return close and (joined or cur.label[:1].islower())


def _categories(parsed: list[_Line], label_cols: list[float]) -> dict[int, str]:
    """A category column left of the item column (行业分类). A row that prints its category keeps
    it ("医药行业 原料成本"); a category printed once per group of rows, vertically centred and
    often wrapped ("电子元器件制造业 / （继电器）" beside 销售量, 生产量, 库存量), is joined from its
    lines and given to the rows nearest to it; other rows inherit the category above them. The
    category's words leave the rows' labels, and so do the words of a unit column (单位)."""
    split = label_cols[0]
    unit_at = label_cols[1] if len(label_cols) > 1 else None
    own: dict[int, str] = {}
    fragments: list[tuple[float, str]] = []
    for k, p in enumerate(parsed):
        if unit_at is not None:
            p.label_words = [w for w in p.label_words if w.x0 < unit_at]
        left = [w for w in p.label_words if w.x0 < split]
        if not left:
            continue
        text = join_words(w.text for w in left)
        if p.cells:
            own[k] = text
        else:
            fragments.append((p.line.cy, text))
        p.label_words = [w for w in p.label_words if w.x0 >= split] or (
            p.label_words if p.cells else []
        )
    h = statistics.median(p.line.h for p in parsed)
    clusters: list[list[tuple[float, str]]] = []
    for cy, text in fragments:
        if clusters and clusters[-1][-1][0] - cy <= 2.2 * h:
            clusters[-1].append((cy, text))
        else:
            clusters.append([(cy, text)])
    centres = [(statistics.mean(c for c, _ in cl), join_words(x for _, x in cl)) for cl in clusters]
    out: dict[int, str] = {}
    last = ""
    for k, p in enumerate(parsed):
        if not p.cells:
            continue
        if k in own and p.label_words and own[k] != p.label:
            last = out[k] = own[k]
        elif centres:
            out[k] = min(centres, key=lambda c: abs(c[0] - p.line.cy))[1]
        elif last:
            out[k] = last
    return out


def _open_ended(text: str) -> bool:
    """A Chinese label fragment that goes on on the next line: an unclosed bracket, or a comma,
    enumeration mark or connector at its end."""
    opened = text.count("（") + text.count("(") - text.count("）") - text.count(")")
    return opened > 0 or text.endswith(("，", "、", "；", "（", "(", "的", "和", "及", "与", "或"))


def _join_wrapped_cjk(parsed: list[_Line]) -> None:
    """年报 labels wrap over several lines with the amounts on one of them (often the middle
    one). Top to bottom: label-only lines right above a row's amounts start its label; a line
    right below joins it when the label so far is open-ended, or when the amounts had no label of
    their own (centred between two fragments)."""
    if not CJK.search(" ".join(p.line.text for p in parsed)):
        return
    h = statistics.median(p.line.h for p in parsed)
    groups: list[list[int]] = []
    pending: list[int] = []
    for k, p in enumerate(parsed):
        close = k > 0 and parsed[k - 1].line.cy - p.line.cy <= 1.9 * h
        if p.cells:
            groups.append([*pending, k] if pending and close else [k])
            pending = []
            continue
        if not p.label:
            continue
        last = groups[-1] if groups and groups[-1][-1] == k - 1 else None
        if last is not None and close and not pending:
            so_far = "".join(parsed[i].label for i in last)
            bare = not parsed[next(i for i in last if parsed[i].cells)].label_words
            if _open_ended(so_far) or (bare and len(last) > 1):
                last.append(k)
                continue
        pending = [*pending, k] if pending and close else [k]
    for group in groups:
        if len(group) > 1:
            d = next(i for i in group if parsed[i].cells)
            words = [w for i in group for w in parsed[i].label_words]
            for i in group:
                parsed[i].label_words = []
            parsed[d].label_words = words


def _wraps(parsed: list[_Line], k: int) -> bool:
    """A label-only line that continues the previous row's label ("…, net of allowances of" /
    "$10 and $12"): starts in lower case right under it."""
    prev, cur = parsed[k - 1], parsed[k]
    if not prev.cells or not prev.label:
        return False
    close = 0 < prev.line.cy - cur.line.cy <= 1.6 * max(prev.line.h, cur.line.h)
    return close and cur.label[:1].islower()


def read_tables(lines: list[Line], page: int, language: str) -> list[Table]:
    """Every table on one page (lines top to bottom, as :class:`PdfGeometry` returns them); a
    page set in two text columns is read one column after the other."""
    lines = [ln for ln in lines if not is_chrome(ln, language)]
    tables: list[Table] = []
    previous: list[_Column] = []
    for band in column_bands(lines):
        previous = _read_band(band, page, language, tables, previous)
    return tables


def _read_band(
    lines: list[Line], page: int, language: str, tables: list[Table], previous: list[_Column]
) -> list[_Column]:
    """Append the tables of one text column to ``tables``; returns the last table's columns."""
    for first, last in _blocks(lines):
        cols = _columns([c for c in (_cells(ln) for ln in lines[first : last + 1]) if c])
        if not cols:
            continue
        label_limit = min(c.left for c in cols) - 2
        first = _extend_up(lines, first, label_limit)
        last = _extend_down(lines, last, label_limit)
        top, label_header, label_cols, first = _header(lines, first, cols, label_limit)
        if top == first and _same_columns(cols, previous):
            for c, p in zip(cols, previous, strict=True):
                c.header = list(p.header)  # a table continued under the same header
        rows = _rows(lines[first : last + 1], cols, label_limit, label_cols)
        if len(rows) < 2:
            continue
        previous = cols
        title = _title(lines, top)
        context = "\n".join(
            [title, label_header, *(ln.text for ln in lines[max(0, top - 2) : first])]
        )
        scale = detect_scale(context, language)
        tables.append(
            Table(
                page=page,
                title=title,
                columns=[join_words(c.header) for c in cols],
                rows=rows,
                unit_label=scale[1] if scale else "",
                scale=scale[0] if scale else 1.0,
                currency=detect_currency(context, language),
                label_header=label_header,
            )
        )
    return previous


def _same_columns(cols: list[_Column], previous: list[_Column]) -> bool:
    return len(cols) == len(previous) and all(
        abs(a.right - b.right) <= 5 for a, b in zip(cols, previous, strict=True)
    )
