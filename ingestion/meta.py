"""Detect company, fiscal year and report type from a report's own text.

File names are only a hint (the ERC reports are named by SHA-1): the report's own text decides.
Signals for the company, most reliable first:

1. the SEC cover: the line(s) above "(Exact name of registrant as specified in its charter)";
2. a press release's "Name (NYSE: TICKER)";
3. the auditor's report, addressed "to the shareholders / members / board of directors of Name"
   (glossy annual reports, whose first pages are photographs and slogans);
4. the most frequent corporate name ("… Inc.", "… Limited", "… plc") on the first pages.

Fiscal year: the cover's "fiscal year ended …"; for a 10-Q the fiscal year is the one that follows
the last fiscal year-end shown in its balance sheet (Best Buy's quarter ended July 29, 2023 belongs to
fiscal 2024); an earnings release's "fourth-quarter and full-year 2022". 年报: the title ("北方华锦化学
工业股份有限公司 2019 年年度报告"). Results carry aliases (short names, ticker-free forms) used to match
companies named in questions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from backend.domain.text import fixed_point
from ingestion.pdf import Page

MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_MONTH_NO = {m: i % 12 + 1 for i, m in enumerate(MONTHS.split("|")[:12])} | {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_DATE = rf"(?:(?:{MONTHS})\.?\s+\d{{1,2}},?\s+((?:19|20)\d\d)|\d{{1,2}}\s+(?:{MONTHS})\s+((?:19|20)\d\d))"
_FULL_DATE = re.compile(
    rf"\b(?:({MONTHS})\.?\s+(\d{{1,2}}),?\s+((?:19|20)\d\d)|(\d{{1,2}})\s+({MONTHS})\s+((?:19|20)\d\d))\b",
    re.I,
)
_FYE = re.compile(rf"(?:fiscal\s+)?year\s+ended:?\s*{_DATE}", re.I)
_QUARTER = re.compile(rf"quarterly\s+period\s+ended:?\s*{_DATE}", re.I)
_EVENT = re.compile(rf"date\s+of\s+report[^:\n]*:?\s*(?:\n\s*)?{_DATE}", re.I)
_AR_YEAR = re.compile(
    rf"annual\s+report\s+(?:(?:19|20)\d\d\s*[-/–]\s*)?((?:19|20)\d\d)\b|\b((?:19|20)\d\d)\s+annual\s+report"
    rf"|annual\s+report\s+(?:for\s+the\s+year\s+ended\s+)?{_DATE}",
    re.I,
)
_RESULTS_YEAR = re.compile(
    r"\b(?:fiscal(?:\s+year)?|full[-\s]year|(?:first|second|third|fourth)[-\s]quarter(?:\s+and"
    r"\s+full[-\s]year)?|q[1-4]|[1-4]q)\s+(?:fiscal\s+)?((?:19|20)\d\d)\b"
    r"|\b((?:19|20)\d\d)\s+(?:first|second|third|fourth|full)[-\s](?:quarter|year)\b",
    re.I,
)
_ZH_TITLE = re.compile(
    r"((?:19|20)\d\d)\s*年\s*(年度报告|年年度报告|度报告|半年度报告|第[一三]季度报告)"
)
_ZH_COMPANY = re.compile(r"([\u4e00-\u9fff（）()]{4,40}?(?:股份有限公司|有限责任公司|有限公司))")
_ZH_SHORT = re.compile(r"(?:股票|证券)简称\s*[:：]?\s*([\u4e00-\u9fffA-Z*]{2,10})")
_ZH_CODE = re.compile(r"(?:股票|证券)代码\s*[:：]?\s*(\d{6})")
_SUFFIX = (
    r"Inc\.?|Incorporated|Corp\.?|Corporation|Company|Co\.|Limited|Ltd\.?|plc|PLC|Plc|AG|SE|N\.V\.|"
    r"S\.A\.|Group|Holdings|Bancorp|Bancshares|Trust|LLC|L\.P\.|Aktiengesellschaft"
)
_FIRST = r"(?:[A-Z][\w&'’.\-]*|\d+[A-Za-z][\w&'’.\-]*)"  # "Commerzbank", "3M"; not "105"
_WORD = r"(?:[A-Z0-9][\w&'’.\-]*|&|of|and|de|the)"
_NAME = re.compile(rf"\b({_FIRST}(?:[ ,]+{_WORD}){{0,6}}?,?\s+(?:{_SUFFIX}))(?![\w])")
#: A name (with a legal suffix, any case) at the start of a string: "BRAVE BISON GROUP PLC".
_NAME_START = re.compile(
    rf"^((?:[A-Za-z0-9][\w&'’.\-]*)(?:[ ,]+(?:[A-Za-z0-9&][\w&'’.\-]*)){{0,6}}?,?\s+(?i:{_SUFFIX}))"
    r"(?=$|[\s,.;:(])(?!’s|'s)"
)
_REGISTRANT = re.compile(r"\(\s*exact\s+name\s+of\s+(?:the\s+)?registrant", re.I)
_TICKER = re.compile(
    r"([A-Z][\w&.,'’\- ]{1,70}?)\s*\(\s*[“\"]?(?:NYSE|NASDAQ|Nasdaq|ASX|LSE|TSX|AIM)(?:\s+American)?"
    r"\s*:\s*[“\"]?[A-Z][A-Z.]{0,6}\b"
)
_ADDRESSEE = re.compile(
    r"\bto\s+the\s+(?:(?:board\s+of\s+directors|directors|(?:share|stock)holders|members)"
    r"(?:\s+and\s+(?:the\s+)?(?:board\s+of\s+directors|directors|(?:share|stock)holders))?)\s+of\s+"
    r"([^\n]{3,90})",
    re.I,
)
_RUNNING_TITLE = re.compile(
    r"^\s*(?:\d{1,3}\s+)?([A-Z][\w&'’.\- ]{1,50}?)\s+(?:(?:19|20)\d\d\s+)?(?i:annual\s+report)\b",
    re.M,
)
_TRAILING_NAME = re.compile(
    r"((?:[A-Z0-9&][\w&'’.\-]*)(?:[ ,]+(?:[A-Z0-9&][\w&'’.\-]*|of|and|de|the)){0,6})\s*$"
)
_FORMS = [
    ("10-K", re.compile(r"\bFORM\s+10-K\b|\bannual\s+report\s+on\s+form\s+10-k\b", re.I)),
    ("10-Q", re.compile(r"\bFORM\s+10-Q\b", re.I)),
    ("20-F", re.compile(r"\bFORM\s+20-F\b", re.I)),
    ("40-F", re.compile(r"\bFORM\s+40-F\b", re.I)),
    ("8-K", re.compile(r"\bFORM\s+8-K\b", re.I)),
]
_EARNINGS = re.compile(
    r"(?:reports?|reported|announces?|announced)\s+(?:its\s+)?(?:financial\s+)?(?:results\s+for|"
    r"(?:first|second|third|fourth|full[- ]year|fiscal|q[1-4]|[a-z]+\s+quarter)[\w\s,-]{0,40}"
    r"results)|earnings\s+release",
    re.I,
)
_FILE_HINT = re.compile(
    r"^([A-Za-z0-9&]+(?:_[A-Za-z&]+)*)_((?:19|20)\d\d)(?:Q[1-4])?_([A-Za-z0-9]+)"
)
_LEGAL_TAIL = re.compile(rf"[,\s]+(?:{_SUFFIX})$|^the\s+", re.I)


@dataclass
class DocMeta:
    company: str = ""
    fiscal_year: int | None = None
    report_type: str = ""
    language: str = "en"
    aliases: list[str] = field(default_factory=list)
    ticker: str = ""


def _fiscal_label(year: int, month: int, day: int) -> int:
    """52/53-week years ending in the first days of January (Johnson & Johnson's "January 1,
    2023") belong to the previous fiscal year."""
    return year - 1 if month == 1 and day <= 7 else year


def _year(m: re.Match[str]) -> int | None:
    """The fiscal year of a matched period-end date."""
    for g in m.groups():
        if g and g.isdigit() and len(g) == 4:
            day = re.search(r"\bjan(?:uary)?\.?\s+([1-7])\b|\b([1-7])\s+jan", m.group(0), re.I)
            return int(g) - 1 if day else int(g)
    return None


def _dates(text: str) -> list[date]:
    out = []
    for m in _FULL_DATE.finditer(text):
        if m.group(1):
            mon, day, year = m.group(1), m.group(2), m.group(3)
        else:
            day, mon, year = m.group(4), m.group(5), m.group(6)
        try:
            out.append(date(int(year), _MONTH_NO[mon.lower().rstrip(".")], int(day)))
        except (KeyError, ValueError):
            continue
    return out


def _quarter_fiscal_year(quarter_end: date, text: str) -> int:
    """A 10-Q's fiscal year: one after the last fiscal year-end its balance sheet compares with
    (the most frequent date 1-11 months before the quarter end)."""
    before = Counter(d for d in _dates(text) if 20 <= (quarter_end - d).days <= 340)
    if before:
        prev = before.most_common(1)[0][0]
        return _fiscal_label(prev.year, prev.month, prev.day) + 1
    return _fiscal_label(quarter_end.year, quarter_end.month, quarter_end.day)


def _title(name: str) -> str:
    """ALL-CAPS names from cover pages → Title Case, keeping short acronyms (3M, IBM)."""
    if name.upper() != name:
        return name
    words = []
    for w in name.split():
        core = w.strip(".,")
        if (
            len(core) <= 3
            and core.isalpha()
            and core not in {"INC", "LTD", "CO", "AND", "OF", "THE"}
        ):
            words.append(w)
        else:
            words.append(w.capitalize() if not any(ch.isdigit() for ch in w) else w)
    return " ".join(words)


def short_name(name: str) -> str:
    """'The Goldman Sachs Group, Inc.' → 'Goldman Sachs'; '3M Company' → '3M'."""
    # "JPMorgan Chase & Co." → "JPMorgan Chase"
    return fixed_point(
        lambda s: re.sub(r"\s+(?:&|and)$", "", _LEGAL_TAIL.sub("", s).strip(" ,.")), name.strip()
    )


def _file_hint(path: Path) -> tuple[str, int | None, str]:
    m = _FILE_HINT.match(path.stem)
    if not m:
        return "", None, ""
    return m.group(1).replace("_", " "), int(m.group(2)), m.group(3).upper()


def _zh_meta(text: str) -> DocMeta:
    meta = DocMeta(language="zh", report_type="年度报告")
    m = _ZH_TITLE.search(text)
    if m:
        meta.fiscal_year = int(m.group(1))
        meta.report_type = {"年年度报告": "年度报告", "度报告": "年度报告"}.get(
            m.group(2), m.group(2)
        )
    m = _ZH_COMPANY.search(text)
    if m:
        meta.company = m.group(1)
    m = _ZH_SHORT.search(text)
    if m:
        meta.aliases.append(m.group(1))
    m = _ZH_CODE.search(text)
    if m:
        meta.ticker = m.group(1)
    return meta


_BAD_NAME = re.compile(
    r"exchange|transition|reporting|securities|commission|pursuant|registrant|incorporation|"
    r"employer|director|portions|audit|accountant|chartered|pricewaterhouse|\bkpmg\b|deloitte|"
    r"ernst\s*&\s*young|grant\s+thornton|\bbdo\b|\bllp\b|"
    r"^(?:age|mr|ms|mrs|dr|page|part|item|note)\b",
    re.I,
)
_BAD_START = re.compile(r"^(?:[a-z]|\d+\.?\s|(?:Our|This|That|Each|Furthermore|In|For|By|At|As)\b)")
_GENERIC = {"company", "group", "corporation", "holdings", "trust", "inc", "limited", "services",
            "subsidiaries", "bancorp", "plc", "co"}  # fmt: skip


def _clean_name(raw: str) -> str:
    name = re.sub(r"_{2,}|[|☒☐þý]", " ", raw)
    name = re.sub(r"\s+", " ", name)
    name = re.sub(r"(?<=\w)\s+\.", ".", name).strip(" ,;:-.•")  # "NIKE, Inc ." → "NIKE, Inc"
    if re.search(r"\b(?:Inc|Corp|Co|Ltd|N\.V|S\.A|L\.P)$", name, re.I):
        name += "."
    return name


def _plausible(name: str) -> bool:
    if not (3 <= len(name) <= 80) or _BAD_NAME.search(name) or _BAD_START.match(name):
        return False
    if "(" in name or (name.startswith("The ") and len(name.split()) < 3):
        return False
    if not re.search(r"[A-Za-z]{2}", name) or re.search(r"\d{3}", name):
        return False
    core = short_name(name).lower()
    return bool(core) and core not in _GENERIC and not core.startswith("the ")


def _fragment(line: str) -> bool:
    """A cover line broken into pieces ("MGM", "R", "ESORTS I", "NTERNATIONAL")."""
    return 0 < len(line.split()) <= 2 and line.upper() == line and not re.search(r"[\d:()]", line)


def _join_small_caps(name: str, vocab: set[str]) -> str:
    """'MGM R ESORTS I NTERNATIONAL' → 'MGM RESORTS INTERNATIONAL' (a large first letter set apart),
    only where the joined word occurs in the document."""

    def fix(m: re.Match[str]) -> str:
        joined = m.group(1) + m.group(2)
        return joined if joined.lower() in vocab else m.group(0)

    return re.sub(r"\b([A-Z]) ([A-Z]{2,})\b", fix, name)


def _registrant_name(texts: list[str], vocab: set[str]) -> str:
    for text in texts[:10]:
        lines = [_clean_name(ln) for ln in text.split("\n")]
        for i, line in enumerate(lines):
            # 1. The name just above "(Exact name of registrant as specified in its charter)".
            if _REGISTRANT.search(line):
                for j in range(i - 1, max(-1, i - 4), -1):
                    cand = _clean_name(
                        re.sub(
                            r"^.*?file\s+(?:number|no\.?)\s*:?\s*[\d-]+", "", lines[j], flags=re.I
                        )
                    )
                    if not cand:
                        continue
                    k = j
                    while k > 0 and _fragment(lines[k - 1]) and _fragment(lines[k]) and k > j - 6:
                        k -= 1
                    if k < j:
                        cand = _join_small_caps(" ".join(lines[k : j + 1]), vocab)
                    if _plausible(cand):
                        return _title(cand)
            # 2. The line after "Commission File Number …" on a 10-K cover.
            if re.match(r"commission\s+file\s+(number|no)", line, re.I):
                rest = _clean_name(
                    re.sub(r"^.*?(number|no\.?)\s*:?\s*[\d-]+", "", line, flags=re.I)
                )
                for cand in ([rest] if rest else []) + lines[i + 1 : i + 2]:
                    if _plausible(cand) and cand.upper() == cand:
                        return _title(cand)
    return ""


def _ticker_name(texts: list[str]) -> str:
    """'MGM Resorts International (NYSE: MGM) today reported …' (press releases)."""
    for text in texts[:2]:
        for m in _TICKER.finditer(text):
            tail = re.split(r"\s[-–—]\s|[;:“”\"(]", m.group(1))[-1]
            t = _TRAILING_NAME.search(tail.strip())
            if t:
                name = _clean_name(t.group(1))
                if _plausible(name):
                    return name
    return ""


def _addressee_name(texts: list[str]) -> str:
    """The company the auditor's report is addressed to (most frequent over the report)."""
    votes: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for text in texts:
        for m in _ADDRESSEE.finditer(text):
            n = _NAME_START.match(m.group(1).strip())
            if not n:
                continue
            name = _clean_name(n.group(1))
            if _plausible(name):
                key = short_name(name).lower()
                votes[key] += 1
                shown.setdefault(key, _title(name))
    return shown[votes.most_common(1)[0][0]] if votes else ""


def _running_title_name(texts: list[str]) -> str:
    """'Commerzbank Annual Report 2022' repeated in the page headers or footers."""
    votes: Counter[str] = Counter()
    for text in texts:
        names = {_clean_name(m.group(1)) for m in _RUNNING_TITLE.finditer(text)}
        votes.update(_title(n) for n in names if _plausible(n))
    if votes:
        name, count = votes.most_common(1)[0]
        if count >= max(3, len(texts) // 10):
            return name
    return ""


def _frequent_name(texts: list[str]) -> str:
    """The most frequent corporate name on the first pages, earlier pages weighing more."""
    scores: Counter[str] = Counter()
    for i, text in enumerate(texts[:8]):
        weight = 3.0 if i == 0 else 1.0 if i < 3 else 0.5
        for m in _NAME.finditer(text):
            name = _clean_name(m.group(1))
            if _plausible(name):
                scores[_title(name)] += weight
    return scores.most_common(1)[0][0] if scores else ""


def _en_company(texts: list[str]) -> str:
    vocab = {w.lower() for t in texts[:10] for w in re.findall(r"[A-Za-z]{3,}", t)}
    return (
        _registrant_name(texts, vocab)
        or _ticker_name(texts)
        or _addressee_name(texts)
        or _running_title_name(texts)
        or _frequent_name(texts)
    )


_YEAR_RUN = re.compile(r"\b((?:19|20)\d\d)\s+((?:19|20)\d\d)\b")


def _headed_year(text: str) -> int | None:
    """The latest year that heads a run of years counting down ("Income Statement: 2022 2021
    2020 2019"): a report's tables put its own year first. None when no such run is printed."""
    firsts = [
        int(m.group(1)) for m in _YEAR_RUN.finditer(text) if int(m.group(1)) == int(m.group(2)) + 1
    ]
    return max(firsts) if firsts else None


def _en_meta(texts: list[str]) -> DocMeta:
    head = "\n".join(texts[:3])
    meta = DocMeta(language="en")
    if _EARNINGS.search(head[:3000]) and not _FORMS[0][1].search(head[:3000]):
        # a press release (also one filed as an 8-K exhibit: the 8-K cover comes first)
        meta.report_type = "earnings release"
        if re.search(r"\bFORM\s+8-K\b", head[:1500], re.I):
            meta.report_type = "8-K"
    else:
        for kind, rx in _FORMS:
            if rx.search(head[:6000]):
                meta.report_type = kind
                break
    if not meta.report_type:
        meta.report_type = "annual report"
    year = None
    if meta.report_type == "10-Q":
        m = _QUARTER.search(head)
        ends = _dates(m.group(0)) if m else []
        if ends:
            year = _quarter_fiscal_year(ends[0], "\n".join(texts[:12]))
    elif meta.report_type == "8-K":
        m = _EVENT.search(head)
        year = _year(m) if m else None
    elif meta.report_type == "earnings release":
        # the headline's year ("reports fiscal 2023 results and provides outlook for fiscal 2024")
        m = _RESULTS_YEAR.search(head[:1500])
        year = int(m.group(1) or m.group(2)) if m else None
    if year is None:  # the latest year-end the first pages name (a letter also names the last)
        ends = [y for m in _FYE.finditer(head) if (y := _year(m)) is not None]
        year = max(ends) if ends else None
        headed = _headed_year(head)
        if year is not None and headed == year + 1:  # "…for the year ended December 31, 2021"
            year = headed  # in a letter beside tables headed "2022 2021": the report is 2022's
    if year is None:
        m = _AR_YEAR.search(head)
        year = _year(m) if m else None
    if year is None:  # most frequent recent year on the first pages
        years = Counter(int(y) for y in re.findall(r"\b((?:19|20)\d\d)\b", head))
        if years:
            top = years.most_common(3)
            year = max(y for y, _ in top)
    meta.fiscal_year = year
    meta.company = _en_company(texts)
    return meta


def detect(pages: list[Page], path: Path, language: str) -> DocMeta:
    """Company, fiscal year, report type and aliases of one report (raw page text, all pages:
    the first ten are read for the cover, the rest only for the auditor's report)."""
    texts = [p.text for p in pages]
    if language == "zh":
        meta = _zh_meta("\n".join(texts[:8]))
        if not meta.company:
            m = _ZH_COMPANY.search(path.stem)
            meta.company = m.group(1) if m else ""
        if not meta.aliases:
            m = _ZH_SHORT.search("\n".join(texts[:10]))
            if m:
                meta.aliases.append(m.group(1))
    else:
        meta = _en_meta(texts)
    hint_company, hint_year, _ = _file_hint(path)
    if meta.fiscal_year is None and hint_year:
        meta.fiscal_year = hint_year
    if not meta.company and hint_company:
        meta.company = hint_company.title() if hint_company.isupper() else hint_company
    if language != "zh" and meta.company:
        short = short_name(meta.company)
        if short and short != meta.company:
            meta.aliases.append(short)
    if hint_company:
        meta.aliases.append(hint_company.title() if len(hint_company) > 4 else hint_company)
    meta.aliases = [a for a in dict.fromkeys(meta.aliases) if a and a != meta.company]
    return meta
