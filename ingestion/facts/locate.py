"""Find the primary statements in a report from its raw page text.

A candidate page has a statement title near its top and enough amounts below it. Titles are
matched on a compact form of the text (lower case, whitespace removed) so that split headings
("Consolidated Statement of Incom e", one word per line) still match.

English (10-K Item 8 and IFRS reports)::

    income    statement(s) of (consolidated) income | operations | earnings | profit or loss
              (… and comprehensive income) · income statement(s)
    balance   balance sheet(s) · statement(s) of financial position | financial condition
    cashflow  statement(s) of cash flows · cash flow statement(s)

Chinese 年报 (CSRC template)::

    合并资产负债表 / 母公司资产负债表 · 合并利润表 / 母公司利润表 · 合并现金流量表 / 母公司现金流量表

Scope: 母公司…, "Parent Company …", "Company statement of …" (UK group accounts) and
"… of the Registrant" are ``parent``; everything else is ``consolidated``. Condensed, consolidating,
selected, pro-forma, segment and quarterly statements are not primary statements and are skipped,
as are comprehensive-income-only statements and equity statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestion.pdf import Page


@dataclass(frozen=True)
class Candidate:
    page: int
    statement: str  # income | balance | cashflow
    scope: str  # consolidated | parent
    title: str  # compact form of the matched title


_EN_TITLES = [
    (
        "income",
        re.compile(
            r"(?:statements?|statementof)of(?:consolidated)?(?:income|operations|earnings|"
            r"comprehensiveincome\(?loss\)?andoperations|profitorloss|profitandloss|"
            r"\(?loss\)?income|comprehensiveoperations)"
            r"|(?:consolidated)?incomestatements?|(?:consolidated)?profitandlossaccount"
        ),
    ),
    (
        "balance",
        re.compile(
            r"balancesheets?|statements?of(?:consolidated)?financial(?:position|condition)"
            r"|statements?ofcondition"
        ),
    ),
    ("cashflow", re.compile(r"statements?of(?:consolidated)?cashflows?|cashflows?statements?")),
]
_EN_REJECT = re.compile(
    r"condensed|consolidating|selected|proforma|unaudited|segment|quarterly|supplement|"
    r"summary|summarized|analysisof|interim|guarantor|notesto|indexto|continued"
)
_EN_PARENT = re.compile(
    r"parentcompany|parentonly|registrant|^company(?:statement|balance)|companystatementsof|"
    r"companystatementof|companybalancesheet|entitystatement"
)
_EN_OCI_ONLY = re.compile(r"(?:statements?of)?comprehensive(?:income|loss|\(loss\)income)")

_ZH_TITLE = re.compile(
    r"^(?:[0-9０-９]{1,2}[、.．]|[（(][0-9一二三四五六]{1,2}[)）]|[一二三四五六七八九十]{1,2}、)?"
    r"(合并|母公司|公司)(资产负债表|利润表|现金流量表)(?:[（(]续[)）])?$"
)
_ZH_STATEMENT = {"资产负债表": "balance", "利润表": "income", "现金流量表": "cashflow"}

_AMOUNTS = re.compile(r"(?<![\d,.])\(?-?\d{1,3}(?:,\d{3})+(?:\.\d+)?\)?|(?<![\d,.])-?\d+\.\d{2}\b")


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def classify_en_title(text: str) -> tuple[str, str] | None:
    """(statement, scope) for an English heading, or None when it names no primary statement."""
    c = compact(text).replace("’", "'")
    c = re.sub(r"[,.:;'\-—–]", "", c)
    if _EN_REJECT.search(c):
        return None
    for statement, rx in _EN_TITLES:
        m = rx.search(c)
        if not m:
            continue
        if (
            statement == "income"
            and _EN_OCI_ONLY.search(c)
            and not re.search(
                r"operations|earnings|profitorloss|incomeand|statementsofincome(?!comprehensive)"
                r"|statementofincome(?!comprehensive)|incomestatement",
                c.replace("comprehensiveincome", "ci"),
            )
        ):
            return None
        if re.search(r"(?:changes?in|of)(?:share|stock)holders|equity$|changesinequity", c):
            return None
        scope = "parent" if _EN_PARENT.search(c) else "consolidated"
        return statement, scope
    return None


def classify_zh_title(line: str) -> tuple[str, str] | None:
    m = _ZH_TITLE.match(re.sub(r"\s+", "", line))
    if not m:
        return None
    scope = "consolidated" if m.group(1) == "合并" else "parent"
    return _ZH_STATEMENT[m.group(2)], scope


def amount_count(text: str) -> int:
    return len(_AMOUNTS.findall(text))


def find_candidates(pages: list[Page], language: str) -> list[Candidate]:
    """Pages whose top carries a primary-statement title and that hold amounts, in page order.

    English titles must sit in the first lines of the page (the first ~220 compact characters);
    a Chinese title may sit anywhere on its own line (statements follow each other mid-page).
    """
    out: list[Candidate] = []
    for page in pages:
        text = page.text or ""
        if language == "zh":
            # a 年报 statement may start at the foot of a page: its own title line suffices
            seen: set[tuple[str, str]] = set()
            for line in text.split("\n"):
                hit = classify_zh_title(line)
                if hit and hit not in seen:
                    seen.add(hit)
                    out.append(Candidate(page.number, hit[0], hit[1], compact(line)))
            continue
        if amount_count(text) < 6:
            continue
        lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
        head_lines: list[str] = []
        size = 0
        for ln in lines:
            if size > 260:
                break
            head_lines.append(ln)
            size += len(compact(ln))
        # try single lines first (precise), then the joined head (split headings)
        found: tuple[str, str] | None = None
        for ln in head_lines:
            if len(compact(ln)) <= 110:
                found = classify_en_title(ln)
                if found:
                    break
        if not found:
            # some PDFs emit the page heading last in their text order
            for ln in lines[-4:]:
                if len(compact(ln)) <= 110:
                    found = classify_en_title(ln)
                    if found:
                        break
        if not found:
            joined = " ".join(head_lines)
            words = joined.split()
            # split-heading pages: one word per line; only a short run of words forms the title
            for start in range(min(len(words), 30)):
                found = classify_en_title(" ".join(words[start : start + 9]))
                if found:
                    break
        if found:
            out.append(Candidate(page.number, found[0], found[1], ""))
    return out
