"""Statement lines (with geometry) → rows → values per period column.

Steps for one statement (starting at its title line, possibly running over several pages):

1. **Header**: the lines between the title and the first data line. Period anchors are read there:
   years ("2018", "December 31, 2018", "Fiscal 2019"), 年报 periods ("2019 年 12 月 31 日",
   "2019 年度", 本期/上期, 期末/期初). Duplicate years (RMB and US$ columns of one year, "as
   reported"/"as adjusted") or non-monotonic years make the statement unusable: no facts.
2. **Columns**: the right edges of the amounts below each anchor (amounts are right-aligned), so a
   row with a single amount lands in the column it sits in, never in "the first" column.
3. **Rows**: words left of the first column form the label; amounts aligned with a column are
   its values; an amount aligned with no column, or two in one column, drops the row. Wrapped
   labels are joined: amounts printed between two label fragments (年报), continuation lines that
   start in lower case or follow a line ending in "and"/","/"of"… (10-K).
4. **Scale**: from the heading (see :mod:`ingestion.facts.units`); per-share rows stay in units;
   share-count rows are dropped. No scale named for an English statement → no facts.
"""

from __future__ import annotations

import itertools
import logging
import re
import statistics
from dataclasses import dataclass, field

from ingestion.facts.layout import Line, Word
from ingestion.facts.locate import classify_en_title, classify_zh_title, compact
from ingestion.facts.units import CURRENCY_SIGNS, decimals, is_dash, parse_amount

log = logging.getLogger(__name__)

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}  # fmt: skip
_MONTH_RX = "|".join(sorted(_MONTHS, key=len, reverse=True))
_EN_DATE = re.compile(
    rf"\b(?P<mon>{_MONTH_RX})\.?\s+(?P<day>\d{{1,2}})\b|\b(?P<day2>\d{{1,2}})\s+(?P<mon2>{_MONTH_RX})\b",
    re.I,
)
_EN_YEAR = re.compile(
    r"(?<![\d,.$])(?:FY\s?|fiscal\s+)?((?:19|20)\d\d)(?![\d,])"
    r"|(?<![\d.])\d{1,2}\.\d{1,2}\.((?:19|20)\d\d)(?=\d?\b)",
    re.I,
)
_ZH_PERIOD = re.compile(
    r"(?P<y>(?:19|20)\d\d)\s*年\s*(?:(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日|度(?!报告)|末|年末|"
    r"(?=\s|$))|(?P<cur>本期(?:发生额|金额|数)?|本年(?:发生额|金额|数|累计)?|期末(?:余额|数)?|"
    r"年末(?:余额|数)?)|(?P<prev>上期(?:发生额|金额|数)?|上年(?:同期)?(?:发生额|金额|数)?|"
    r"期初(?:余额|数)?|年初(?:余额|数)?)"
)
_NOTE_HEAD = re.compile(r"^(?:notes?|附注|注释)$", re.I)
_QUARTERLY = re.compile(
    r"three\s+months|six\s+months|nine\s+months|quarter\s+ended|13\s+weeks|twelve\s+weeks|"
    r"12\s+weeks|16\s+weeks|24\s+weeks|26\s+weeks|39\s+weeks|半年|季度|1-\d月",
    re.I,
)
_PER_SHARE = re.compile(r"per\s+(?:common\s+|ordinary\s+)?share|每股|per\s+ADS", re.I)
_CENTS = re.compile(r"\bcents?\b|\bpence\b|\(c\)|\bcps\b|\(p\)", re.I)
SHARE_COUNT = re.compile(
    r"weighted[\s-]+average|shares\s+(?:used|outstanding)|number\s+of\s+shares|"
    r"average\s+(?:common\s+)?shares|shares\s+in\s+computing|股数|dividends?\s+declared\s+per",
    re.I,
)
_LEADER = re.compile(r"[.·…_\-–]{3,}")
_LEADER_TAIL = re.compile(r"\s*[.·…_]{3,}\s*$")
_PERIOD_WORDS = {"weeks", "week", "months", "month", "days", "years", "year"}
_GENERIC_LABELS = {"basic", "diluted", "basic and diluted", "basic & diluted", "total"}
_CONTINUES = re.compile(
    r"(?:\b(?:and|of|to|for|from|in|on|by|the|or|with|net|less|including)|[,(&:\-–—/])$", re.I
)
_END_EN = re.compile(
    r"^(?:the\s+)?(?:accompanying|see\s+(?:the\s+)?accompanying|see\s+notes|the\s+notes\s+"
    r"(?:on|to)|notes\s+to\s+(?:the\s+)?consolidated|refer\s+to\s+notes)",
    re.I,
)
_END_ZH = re.compile(r"^(?:法定代表人|公司负责人|主管会计工作负责人|会计机构负责人)")
_ZH_ANY_TITLE = re.compile(
    r"^(?:[0-9]{1,2}[、.．])?(?:合并|母公司|公司)?(?:资产负债表|利润表|现金流量表|所有者权益变动表|"
    r"股东权益变动表)"
)
_EN_ANY_TITLE = re.compile(
    r"^(?:[a-z0-9&.,' ]{0,60}\s)?(?:consolidated\s+)?statements?\s+of\s+(?:consolidated\s+)?"
    r"(?:comprehensive|changes|stockholders|shareholders|equity|cash|income|operations|"
    r"earnings|financial|profit)|^(?:consolidated\s+)?balance\s+sheets?\b",
    re.I,
)


@dataclass
class Column:
    year: int
    period_end: str
    anchor_x: float
    right: float = 0.0
    left: float = 0.0


@dataclass
class Row:
    label: str
    values: dict[int, tuple[float, str]]  # column index → (value, raw token)
    page: int
    context: str = ""
    per_share: bool = False
    raw: str = ""
    cents: bool = False  # per-share amounts printed in cents / pence


@dataclass
class Statement:
    statement: str
    scope: str
    pages: list[int]
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    heading: str = ""
    problems: list[str] = field(default_factory=list)


def _year_like(text: str) -> bool:
    return bool(re.fullmatch(r"(?:19|20)\d\d", text))


def _is_value_token(w: Word, language: str) -> bool:
    """A word that can be a statement value (not a year, not a note number)."""
    t = w.text
    if _year_like(t):
        return False
    v = parse_amount(t)
    if v is None:
        return False
    if language == "zh":
        return decimals(t) >= 2 or ("," in t)
    return True


def line_has_data(line: Line, language: str) -> bool:
    words = line.words
    for i, w in enumerate(words):
        if not _is_value_token(w, language):
            continue
        t = w.text
        if (
            i == 0
            and len(words) > 1
            and re.fullmatch(r"\(\d{1,2}\)|\d{1,2}[.)]", t)
            and not (_is_value_token(words[1], language))
        ):
            continue  # a footnote or list marker: "(1) Includes …"
        if "," in t or "." in t or "(" in t:
            return True
        prev = words[i - 1].text.lower().strip(".,") if i else ""
        nxt = words[i + 1].text.lower().strip(".,") if i + 1 < len(words) else ""
        if prev in _MONTHS or nxt in _MONTHS or nxt in _PERIOD_WORDS:
            continue
        if any(ch.isalpha() or "\u4e00" <= ch <= "\u9fff" for x in words[:i] for ch in x.text):
            return True
    return False


# --- header ---------------------------------------------------------------------------------------
@dataclass
class Anchor:
    year: int
    x0: float
    x1: float
    period_end: str = ""
    cy: float = 0.0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


def anchors_en(header: list[Line]) -> list[Anchor]:
    """Year anchors of an English header. A year printed as part of a date ("December 31, 2018",
    or "December 31," stacked above "2018") gets that period end; a 52/53-week year ending
    1–7 January counts as the previous fiscal year (Johnson & Johnson's "January 1, 2023" column
    is fiscal 2022). A bare year ("2022 2021") is taken as the fiscal year it names."""
    anchors: list[Anchor] = []
    dates: list[tuple[int, int, float, float]] = []  # (month, day, x centre, line y)
    for line in header:
        text = line.text
        for m in _EN_DATE.finditer(text):
            mon = (m.group("mon") or m.group("mon2")).lower()
            day = int(m.group("day") or m.group("day2"))
            xr = line.x_range(m.start(), m.end())
            if xr and 1 <= day <= 31:
                dates.append((_MONTHS[mon], day, (xr[0] + xr[1]) / 2, line.cy))
        for m in _EN_YEAR.finditer(text):
            g = 1 if m.group(1) else 2
            xr = line.x_range(m.start(g), m.end(g))
            if not xr:
                continue
            a = Anchor(int(m.group(g)), xr[0], xr[1], cy=line.cy)
            if g == 2:  # 31.12.2022
                day, month = (int(x) for x in m.group(0).split(".")[:2])
                if 1 <= month <= 12:
                    _set_date(a, month, day)
                anchors.append(a)
                continue
            before = text[: m.start()]
            same = re.search(
                rf"\b(?P<mon>{_MONTH_RX})\.?\s+(?P<day>\d{{1,2}}),?\s*$"
                rf"|\b(?P<day2>\d{{1,2}})\s+(?P<mon2>{_MONTH_RX})\.?,?\s*$",
                before,
                re.I,
            )
            if same:
                mon = _MONTHS[(same.group("mon") or same.group("mon2")).lower()]
                day = int(same.group("day") or same.group("day2"))
                _set_date(a, mon, day)
            else:
                above = [d for d in dates if d[3] > line.cy and abs(d[2] - a.cx) <= 25]
                if above:
                    mon, day, _, _ = min(above, key=lambda d: d[3] - line.cy)
                    _set_date(a, mon, day)
            anchors.append(a)
    return anchors


def _set_date(a: Anchor, month: int, day: int) -> None:
    if not 1 <= day <= 31:
        return
    a.period_end = f"{a.year}-{month:02d}-{day:02d}"
    if month == 1 and day <= 7:
        a.year -= 1


def _anchors_zh(header: list[Line], fiscal_year: int | None) -> list[Anchor]:
    anchors: list[Anchor] = []
    for line in header:
        for m in _ZH_PERIOD.finditer(line.text):
            xr = line.x_range(m.start(), m.end())
            if not xr:
                continue
            if m.group("y"):
                year = int(m.group("y"))
                end = ""
                if m.group("m"):
                    end = f"{year}-{int(m.group('m')):02d}-{int(m.group('d')):02d}"
                    if int(m.group("m")) == 1 and int(m.group("d")) == 1:
                        # "2019 年 01 月 01 日" is the opening balance: last year's closing one
                        year -= 1
                anchors.append(Anchor(year, xr[0], xr[1], end, cy=line.cy))
            elif fiscal_year:
                year = fiscal_year if m.group("cur") else fiscal_year - 1
                anchors.append(Anchor(year, xr[0], xr[1], "", cy=line.cy))
    return anchors


def period_line(anchors: list[Anchor], header: list[Line]) -> list[Anchor]:
    """Anchors of the last header line that names two or more periods (the column header row);
    all anchors when no line does (years stacked under dates, one per line)."""
    by_line: list[list[Anchor]] = []
    for ln in header:
        mine = [a for a in anchors if ln.y0 - 0.5 <= a.cy <= ln.y1 + 0.5]
        if len({a.year for a in mine}) >= 2:
            by_line.append(mine)
    return by_line[-1] if by_line else anchors


def _merge_anchors(anchors: list[Anchor]) -> list[Anchor] | None:
    """One anchor per column, left to right; None when the header is ambiguous."""
    anchors = sorted(anchors, key=lambda a: a.cx)
    merged: list[Anchor] = []
    for a in anchors:
        if merged and a.year == merged[-1].year and a.x0 <= merged[-1].x1 + 30:
            m = merged[-1]
            m.x0, m.x1 = min(m.x0, a.x0), max(m.x1, a.x1)
            m.period_end = m.period_end or a.period_end
            continue
        merged.append(a)
    years = [a.year for a in merged]
    if len(years) < 1 or len(set(years)) != len(years):
        return None
    if len(years) > 1:
        diffs = [b - a for a, b in itertools.pairwise(years)]
        if not (all(d < 0 for d in diffs) or all(d > 0 for d in diffs)):
            return None
    return merged


# --- columns ------------------------------------------------------------------------------------
def _aligned(w: Word, right: float) -> bool:
    """Right-aligned with a column, with or without a hanging closing parenthesis."""
    return abs(w.x1 - right) <= 4.5 or abs(digit_right(w) - right) <= 4.5


def digit_right(w: Word) -> float:
    """Right edge of the last digit (a closing parenthesis hangs out of the column)."""
    n = len(w.text)
    trailing = len(w.text) - len(w.text.rstrip(")）%"))
    if trailing and n:
        return w.x1 - (w.x1 - w.x0) * trailing / n
    return w.x1


def _clusters(data: list[Line], language: str) -> list[tuple[float, float, int]]:
    """Columns of amounts on a page: (right edge, left edge, count) of right-edge clusters that
    hold a fair share of the amounts, left to right."""
    tokens = [w for ln in data for w in ln.words if _is_value_token(w, language)]
    if not tokens:
        return []
    edges = sorted(((w.x1, w) for w in tokens), key=lambda e: e[0])
    clusters: list[list[tuple[float, Word]]] = [[edges[0]]]
    for e in edges[1:]:
        if e[0] - clusters[-1][-1][0] <= 3.5:
            clusters[-1].append(e)
        else:
            clusters.append([e])
    stats = []
    for c in clusters:
        right = statistics.median(x for x, _ in c)
        left = min(w.x0 for _, w in c)
        stats.append((right, left, len(c)))
    top = max(n for _, _, n in stats)
    return [st for st in stats if st[2] >= max(2, 0.15 * top)]


def _fit_columns(anchors: list[Anchor], data: list[Line], language: str) -> list[Column] | None:
    significant = _clusters(data, language)
    if not significant:
        return None
    # each period anchor takes the first column whose right edge is not left of it (amounts are
    # right-aligned under a header centred or right-aligned over them); a notes column or
    # amounts inside labels sit left of the first anchor and are passed over
    columns: list[Column] = []
    i = 0
    for a in anchors:
        while i < len(significant) and significant[i][0] + 15 < a.cx:
            i += 1
        if i >= len(significant):
            return None
        right, left, _ = significant[i]
        if columns and not columns[-1].right < a.cx:
            return None
        if right - a.cx > 200:
            return None
        columns.append(Column(a.year, a.period_end, a.cx, right, left))
        i += 1
    return columns


_GROUP_WORDS = {
    "consolidated": "consolidated",
    "group": "consolidated",
    "parent": "parent",
    "company": "parent",
    "entity": "parent",
}


def column_groups(header: list[Line], period: list[Anchor]) -> list[tuple[str, float]]:
    """Super-header over the year columns ("Consolidated | Parent", "Group | Company"): the scope
    and x centre of each group, left to right; [] when the header has none."""
    if not period:
        return []
    top = max(a.cy for a in period)
    for ln in reversed(header):
        if ln.cy <= top:
            continue
        groups = [
            (_GROUP_WORDS[w.text.lower().strip(":")], w.cx)
            for w in ln.words
            if w.text.lower().strip(":") in _GROUP_WORDS
        ]
        if len({g for g, _ in groups}) >= 2 and len(groups) == len(ln.words):
            return sorted(groups, key=lambda g: g[1])
    return []


def _group_of(a: Anchor, groups: list[tuple[str, float]]) -> str:
    return min(groups, key=lambda g: abs(g[1] - a.cx))[0]


def _refit(columns: list[Column], data: list[Line], language: str) -> list[Column] | None:
    """Columns of a continuation page without header: same order, right edges re-measured
    (a column without amounts on this page keeps its position)."""
    tokens = [w for ln in data for w in ln.words if _is_value_token(w, language)]
    out = []
    found = 0
    for c in columns:
        near = [w.x1 for w in tokens if abs(w.x1 - c.right) <= 15]
        if not near:
            out.append(Column(c.year, c.period_end, c.anchor_x, c.right, c.left))
            continue
        found += 1
        right = statistics.median(near)
        lefts = [w.x0 for w in tokens if _aligned(w, right)]
        out.append(Column(c.year, c.period_end, c.anchor_x, right, min([*lefts, c.left])))
    rights = [c.right for c in out]
    if not found or any(b <= a + 10 for a, b in itertools.pairwise(rights)):
        return None
    return out


# --- rows ----------------------------------------------------------------------------------------
@dataclass
class _Parsed:
    line: Line
    label_words: list[Word]
    values: dict[int, tuple[float, str]]
    bad: bool = False

    @property
    def label(self) -> str:
        text = " ".join(w.text for w in self.label_words if not _LEADER.fullmatch(w.text))
        return _LEADER_TAIL.sub("", text).strip()


def _split_line(
    line: Line,
    columns: list[Column],
    language: str,
    note_x: tuple[float, float] | None,
    ignore: list[float] = (),  # type: ignore[assignment]
) -> _Parsed:
    label_limit = min(c.left for c in columns) - 2
    values: dict[int, tuple[float, str]] = {}
    label: list[Word] = []
    bad = False
    for w in line.words:
        t = w.text
        if note_x and note_x[0] - 8 <= w.cx <= note_x[1] + 8 and w.x1 < label_limit + 2:
            continue
        if t in CURRENCY_SIGNS:
            continue
        amount = None if _year_like(t) else parse_amount(t)
        if amount is not None and (language != "zh" or decimals(t) >= 2 or "," in t):
            hit = [i for i, c in enumerate(columns) if _aligned(w, c.right)]
            if len(hit) == 1:
                if hit[0] in values:
                    bad = True
                values[hit[0]] = (amount, t)
                continue
            if w.x1 <= label_limit:
                label.append(w)
                continue
            if any(abs(w.x1 - r) <= 4.5 for r in ignore):
                continue  # a column without a period header (change %, notes)
            bad = True
            continue
        if is_dash(t) and w.x0 > label_limit - 2:
            hit = [i for i, c in enumerate(columns) if c.left - 6 <= w.cx <= c.right + 6]
            if len(hit) == 1 and hit[0] not in values:
                values[hit[0]] = (0.0, t)
            continue
        if w.x1 <= label_limit + 2 or not values:
            label.append(w)
        # other words between the columns (footnote marks, "%") are ignored
    return _Parsed(line, label, values, bad)


def is_chrome(line: Line, language: str) -> bool:
    """Running headers/footers and page numbers."""
    t = line.text.strip()
    if re.fullmatch(r"[-–—]?\s*\d{1,3}\s*[-–—]?", t) or re.fullmatch(
        r"(?:page\s+)?\d{1,3}", t, re.I
    ):
        return True
    if language == "zh" and re.search(r"年度报告(?:全文)?$|年年度报告", t.replace(" ", "")):
        return True
    return bool(re.fullmatch(r"table\s+of\s+contents", t, re.I))


def _assemble(parsed: list[_Parsed], language: str) -> list[Row]:
    rows: list[Row] = []
    pending: list[_Parsed] = []
    context = ""
    consumed: set[int] = set()
    for idx, p in enumerate(parsed):
        if idx in consumed:
            continue
        if not p.values:
            if p.label:
                prev = pending[-1] if pending else None
                if (
                    prev is not None
                    and 0 < prev.line.cy - p.line.cy <= 1.7 * max(p.line.h, prev.line.h)
                    and _continues(prev.label, p.label, language)
                ):
                    context = f"{context} {p.label}"  # a heading wrapped over two lines
                else:
                    context = p.label
                pending.append(p)
            continue
        if p.bad:
            pending = []
            continue
        label = p.label
        h = p.line.h
        if not label:
            # amounts centred between two label fragments (年报) or printed below a label
            parts: list[str] = []
            if pending and abs(pending[-1].line.cy - p.line.cy) <= 1.05 * max(
                h, pending[-1].line.h
            ):
                parts.append(pending[-1].label)
                # a third fragment above, tight to the second
                if (
                    len(pending) >= 2
                    and abs(pending[-2].line.cy - pending[-1].line.cy) <= 1.6 * h
                    and language == "zh"
                    and not pending[-2].label.endswith(("：", ":"))
                    and abs(pending[-1].line.cy - p.line.cy) <= 0.9 * h
                    and _wrapped_zh(pending[-2], pending[-1])
                ):
                    parts.insert(0, pending[-2].label)
            if idx + 1 < len(parsed):
                nxt = parsed[idx + 1]
                if (
                    not nxt.values
                    and nxt.label
                    and abs(nxt.line.cy - p.line.cy) <= 1.05 * max(h, nxt.line.h)
                    and parts
                ):
                    parts.append(nxt.label)
                    consumed.add(idx + 1)
            if not parts:
                pending = []
                continue
            label = ("" if language == "zh" else " ").join(parts)
        elif pending:
            # a label wrapped over up to three lines: "Accounts receivable, net of … &" /
            # "allowances of $1,100 … 2019 and 2018," / "respectively 6,692 6,276"
            below = p
            for prev in reversed(pending[-2:]):
                gap = prev.line.cy - below.line.cy
                if not (0 < gap <= 1.7 * max(h, prev.line.h)) or not _continues(
                    prev.label, label, language
                ):
                    break
                label = prev.label + ("" if language == "zh" else " ") + label
                below = prev
        pending = []
        ctx = context
        low = label.lower().strip(" :")
        if low in _GENERIC_LABELS and ctx:
            label = f"{ctx.rstrip(' :：')}: {label}"
        per_share = bool(_PER_SHARE.search(label))
        if (
            not per_share
            and ctx.rstrip().endswith(":")
            and _PER_SHARE.search(ctx)
            and all(decimals(raw) >= 2 for _, raw in p.values.values() if not is_dash(raw))
        ):
            # "Basic earnings per share:" / "Net income attributable to CVS Health  $ 3.16"
            per_share = True
            label = f"{ctx.rstrip(' :：')}: {label}"
        rows.append(
            Row(
                label,
                p.values,
                p.line.page,
                context=ctx,
                per_share=per_share,
                raw=p.line.text,
                cents=per_share and bool(_CENTS.search(f"{ctx} {label}")),
            )
        )
    return rows


def _wrapped_zh(first: _Parsed, second: _Parsed) -> bool:
    """Second fragment continues the first (it starts left of the first: hanging outdent)."""
    return second.line.x0 < first.line.x0 - 3


def _continues(prev: str, cur: str, language: str) -> bool:
    if language == "zh":
        return False
    if not prev or prev.endswith(":"):
        return False
    if cur[:1].islower():
        return True
    return bool(_CONTINUES.search(prev))


# --- statement -----------------------------------------------------------------------------------
def title_index(lines: list[Line], statement: str, scope: str, language: str) -> int | None:
    for i, ln in enumerate(lines):
        if language == "zh":
            if classify_zh_title(ln.text) == (statement, scope):
                return i
        else:
            if len(compact(ln.text)) > 140:
                continue
            hit = classify_en_title(ln.text)
            if hit and hit[0] == statement:
                return i
    return None


_FOOTER_EN = re.compile(
    r"read\s+in\s+conjunction\s+with|integral\s+part\s+of|accompanying\s+notes|"
    r"see\s+notes\s+to",
    re.I,
)


def _is_end(line: Line, language: str) -> bool:
    t = line.text.strip()
    if language == "zh":
        tt = t.replace(" ", "")
        return bool(_END_ZH.match(tt) or _ZH_ANY_TITLE.match(tt))
    return bool(
        _END_EN.match(t) or _FOOTER_EN.search(t) or (_EN_ANY_TITLE.match(t) and len(t) < 140)
    )


_FOOTNOTE_EN = re.compile(
    r"^(?:\(\d{1,2}\)|\([a-z]\)|[*†‡¹²³])\s*[A-Z][a-z].{25,}|^.{10,}\bas\s+follows\s*:\s*$"
)


def _is_footnote(line: Line, language: str) -> bool:
    """A footnote under the statement ("(1) Includes share-based compensation as follows:"):
    the rows after it restate parts of the statement and must not be read as its rows."""
    if language == "zh":
        return False
    return bool(_FOOTNOTE_EN.search(line.text.strip())) and not line_has_data(line, language)


def _is_footer(line: Line, language: str) -> bool:
    """'The accompanying notes are an integral part…' / '…should be read in conjunction with the
    notes': printed under every page of a statement, so it ends the page, not the statement."""
    return language != "zh" and bool(_FOOTER_EN.search(line.text))


@dataclass
class Region:
    page: int
    header: list[Line]
    body: list[Line]
    ended: bool


def read_region(lines: list[Line], start: int, language: str, page: int) -> Region:
    """Header and body lines from a title (index ``start``) to the statement's end on the page."""
    header: list[Line] = []
    body: list[Line] = []
    i = start + 1
    while i < len(lines) and not line_has_data(lines[i], language):
        if _is_end(lines[i], language) and i > start + 1:
            return Region(page, header, body, not _is_footer(lines[i], language))
        header.append(lines[i])
        i += 1
    ended = False
    while i < len(lines):
        ln = lines[i]
        if _is_end(ln, language):
            ended = not _is_footer(ln, language)
            break
        if len(body) >= 5 and _is_footnote(ln, language):
            ended = True
            break
        body.append(ln)
        i += 1
    return Region(page, header, body, ended)


def heading_text(lines: list[Line], start: int, header: list[Line]) -> str:
    above = lines[max(0, start - 4) : start + 1]
    return "\n".join(ln.text for ln in [*above, *header])


def parse_region(
    region: Region,
    statement: str,
    scope: str,
    language: str,
    fiscal_year: int | None,
    columns: list[Column] | None = None,
    group: str | None = None,
) -> tuple[list[Column] | None, list[Row], str]:
    """Columns and rows of one page's part of a statement. ``columns``: from the first page;
    ``group``: read only the columns under this scope's super-header (side-by-side
    consolidated and parent-company columns)."""
    header = [ln for ln in region.header if not is_chrome(ln, language)]
    body = [ln for ln in region.body if not is_chrome(ln, language)]
    data = [ln for ln in body if line_has_data(ln, language)]
    if len(data) < (1 if columns is not None else 2):
        return None, [], "too few data lines"
    note_x = None
    for ln in header:
        for w in ln.words:
            if _NOTE_HEAD.match(w.text):
                note_x = (w.x0, w.x1)
    if header and any(_QUARTERLY.search(ln.text) for ln in header):
        return None, [], "quarterly columns"
    anchors: list[Anchor] = []
    if header:
        if language == "zh":
            anchors = _anchors_zh(header, fiscal_year)
        else:
            anchors = anchors_en(header)
    period = period_line(anchors, header) if anchors else []
    groups = column_groups(header, period)
    keep: list[int] | None = None
    if group is not None:
        if not groups:
            return None, [], "no column groups"
        parts = [
            _merge_anchors([a for a in period if _group_of(a, groups) == g])
            for g in dict.fromkeys(g for g, _ in groups)
        ]
        if any(p is None for p in parts):
            return None, [], "ambiguous group header"
        merged = sorted((a for p in parts if p for a in p), key=lambda a: a.cx)
        keep = [i for i, a in enumerate(merged) if _group_of(a, groups) == group]
    elif groups and len({a.year for a in period}) < len(period):
        return None, [], "grouped header"
    else:
        merged = _merge_anchors(period) if period else None
    if merged:
        cols = _fit_columns(merged, data, language)
        if cols is None:
            return None, [], "columns not aligned with the header"
    elif columns is not None and not anchors:
        cols = _refit(columns, data, language)
        if cols is None:
            return None, [], "continuation columns not found"
    else:
        return None, [], "no period header"
    ignore = [
        r
        for r, _, _ in _clusters(data, language)
        if all(abs(r - c.right) > 8 for c in cols) and r > min(c.left for c in cols)
    ]
    parsed = [_split_line(ln, cols, language, note_x, ignore) for ln in body]
    if keep is not None:
        # every group's columns were read (so that none looks like a stray amount); keep ours
        remap = {old: new for new, old in enumerate(keep)}
        for p in parsed:
            p.values = {remap[i]: v for i, v in p.values.items() if i in remap}
        cols = [cols[i] for i in keep]
    rows = _assemble(parsed, language)
    return cols, rows, ""
