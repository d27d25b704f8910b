"""Financial-statement facts: the primary statements of a report as rows of numbers with provenance.

``extract_facts`` runs during ingestion on the raw page text (pypdfium2) and the PDF itself:

1. :mod:`.locate` finds pages whose top carries a primary-statement title (10-K Item 8, IFRS, 年报
   合并/母公司 statements) and that hold amounts;
2. :mod:`.layout` reads those pages' words with their boxes (PDFium) and rebuilds visual lines;
3. :mod:`.parse` reads the period header, fits the value columns to the amounts' right edges,
   and turns lines into labelled rows (wrapped labels joined), following a statement over pages;
4. :mod:`backend.domain.items` gives rows their canonical item key;
5. :mod:`.checks` tests accounting identities per statement column.

For each (statement, scope) the candidate with the most recognised items wins (the primary
statement beats a summary table in MD&A or a restatement table in the notes). Anything that
cannot be read unambiguously is dropped: a wrong number is worse than a missing one. A report
whose statements cannot be found still ingests; it just has no facts. Quarterly reports (10-Q,
半年度/季度报告) get none either: their columns are not fiscal years.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from backend.domain.items import match_item, part_rows
from backend.records import Fact, StatementCheck
from ingestion.facts.checks import check_statement
from ingestion.facts.layout import Line, PdfGeometry
from ingestion.facts.locate import Candidate, classify_en_title, classify_zh_title, find_candidates
from ingestion.facts.parse import (
    SHARE_COUNT,
    Column,
    Region,
    Row,
    anchors_en,
    column_groups,
    heading_text,
    line_has_data,
    parse_region,
    period_line,
    read_region,
    title_index,
)
from ingestion.facts.units import currency_row, detect_currency, detect_scale
from ingestion.pdf import Page

log = logging.getLogger(__name__)

__all__ = ["ParsedStatement", "extract_facts", "parse_statements"]

_FORM_10Q = re.compile(r"\bFORM\s+10-Q\b")
_FORM_ANNUAL = re.compile(r"\bFORM\s+(?:10-K|20-F|40-F)\b|ANNUAL\s+REPORT\b|Form\s+10-K\b")
_ZH_INTERIM = re.compile(r"\d{4}年(?:半年度|第[一二三]季度|[一三]季度)报告")
_ZH_ANNUAL = re.compile(r"\d{4}年年度报告")
_ATTRIBUTABLE = re.compile(r"attributable\s+to\s*[:：]?\s*$", re.I)
#: A statement continues on at most this many following pages.
MAX_CONTINUATION = 4
_COMPLETE = {
    "balance": ("total_liabilities_equity", "total_equity"),
    "income": ("net_income", "net_income_parent"),
    "cashflow": ("cash_end", "net_change_in_cash"),
}


@dataclass
class ParsedStatement:
    """One statement as parsed (before it becomes facts)."""

    statement: str
    scope: str
    pages: list[int]
    columns: list[Column]
    rows: list[Row]
    scale: float
    unit_label: str
    currency: str
    items: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) → item
    problem: str = ""

    @property
    def page(self) -> int:
        return self.pages[0]

    def recognised(self) -> int:
        return len({item for item in self.items.values()})


def _is_quarterly(pages: list[Page]) -> bool:
    """A 10-Q or a 年报 interim report (its columns are quarters, not fiscal years)."""
    head = "\n".join((p.text or "")[:3000] for p in pages[:2])
    if _FORM_10Q.search(head) and not _FORM_ANNUAL.search(head):
        return True
    compact = re.sub(r"\s+", "", head)
    return bool(_ZH_INTERIM.search(compact) and not _ZH_ANNUAL.search(compact))


def _title_at_top(lines: list[Line], language: str) -> tuple[str, str] | None:
    """The statement title a page opens with (before its first amounts), if any."""
    for ln in lines[:8]:
        if line_has_data(ln, language):
            return None
        hit = (
            classify_zh_title(ln.text)
            if language == "zh"
            else classify_en_title(re.sub(r"[-–—(]*\s*continued\s*\)?", "", ln.text, flags=re.I))
        )
        if hit:
            return hit
    return None


def _dollar_amounts(lines: list[Line]) -> bool:
    """Amounts printed with a currency sign ("$ 5,091,000" or "$5,091,000")."""
    for ln in lines[:20]:
        for a, b in zip(ln.words, ln.words[1:], strict=False):
            if a.text in {"$", "€", "£", "US$", "A$", "C$"} and b.text[:1].isdigit():
                return True
        if any(re.fullmatch(r"[$€£]\d{1,3}(?:,\d{3})+", w.text) for w in ln.words):
            return True
    return False


def _starts_with_data(lines: list[Line], language: str) -> bool:
    """Amount rows within the first lines of a page (after running headers)."""
    return any(line_has_data(ln, language) for ln in lines[:6])


def _has_groups(region: Region, language: str) -> bool:
    if language == "zh" or not region.header:
        return False
    anchors = anchors_en(region.header)
    return bool(column_groups(region.header, period_line(anchors, region.header)))


def _assign_items(st: ParsedStatement) -> None:
    """Item keys per (row, column): the best synonym wins; a tie between different values
    leaves the item unassigned (ambiguous); a row that is one part of the item is not it."""
    best: dict[tuple[int, str], list[tuple[int, int, float]]] = defaultdict(list)
    parts = part_rows([row.label for row in st.rows], st.statement)
    for r, row in enumerate(st.rows):
        if r in parts:
            continue
        label = row.label
        if row.context and _ATTRIBUTABLE.search(row.context):
            # "Profit for the year is attributable to:" / "Owners of the parent"
            label = f"{row.context.rstrip(' :：')} {row.label}"
        # "Net income attributable to X per share: Basic" is a per-share amount, not net income
        hit = match_item(label, st.statement, per_share=row.per_share)
        if not hit:
            continue
        key, prio = hit
        for c, (value, _) in row.values.items():
            best[(c, key)].append((prio, r, value))
    for (c, key), cands in best.items():
        cands.sort()
        top = [x for x in cands if x[0] == cands[0][0]]
        if len({v for _, _, v in top}) > 1:
            continue
        st.items[(top[0][1], c)] = key


def _parse_candidate(
    geo: PdfGeometry,
    cand: Candidate,
    language: str,
    fiscal_year: int | None,
    n_pages: int,
    group: str | None = None,
) -> ParsedStatement | None:
    lines = geo.lines(cand.page)
    start = title_index(lines, cand.statement, cand.scope, language)
    if start is None:
        return None
    region = read_region(lines, start, language, cand.page)
    cols, rows, problem = parse_region(
        region, cand.statement, cand.scope, language, fiscal_year, group=group
    )
    pages = [cand.page]
    few = sum(line_has_data(ln, language) for ln in region.body) < 6
    if cols is None and few and not region.ended:
        # the title sits at the bottom of a page: read on into the next page as one region
        nxt = geo.lines(cand.page + 1) if cand.page < n_pages else []
        if nxt and _title_at_top(nxt, language) in (None, (cand.statement, cand.scope)):
            more = read_region(nxt, -1, language, cand.page + 1)
            region = Region(
                cand.page, region.header, region.body + more.header + more.body, more.ended
            )
            cols, rows, problem = parse_region(
                region, cand.statement, cand.scope, language, fiscal_year, group=group
            )
            pages.append(cand.page + 1)
    if cols is None:
        log.debug("p.%d %s/%s: %s", cand.page, cand.statement, cand.scope, problem)
        return None
    heading = heading_text(lines, start, region.header)
    scale = detect_scale(heading, language)
    if scale is None:
        scale = detect_scale("\n".join(ln.text for ln in lines[:14]), language)
    if scale is None:
        for ln in region.header:
            scale = currency_row(
                [w.text for w in ln.words if w.x0 > ln.words[0].x0 or len(ln.words) > 1]
            )
            if scale:
                break
    if scale is None:
        scale = detect_scale("\n".join(ln.text for ln in lines), language)
    if scale is None and language != "zh" and _dollar_amounts(region.body):
        # no rounding stated anywhere on the page and "$ 5,091,000": whole currency units
        scale = (1.0, "units")
    if scale is None:
        log.debug("p.%d %s: no unit named", cand.page, cand.statement)
        return None
    body_text = "\n".join(ln.text for ln in region.body[:12])
    currency = detect_currency(heading, language, body_text)
    st = ParsedStatement(
        cand.statement, group or cand.scope, pages, cols, rows, scale[0], scale[1], currency
    )
    # follow the statement over the next pages
    page = pages[-1]
    ended = region.ended
    for _ in range(MAX_CONTINUATION):
        if ended or page >= n_pages:
            break
        _assign_items(st)
        if language != "zh" and any(k in st.items.values() for k in _COMPLETE[cand.statement]):
            break
        page += 1
        nxt = geo.lines(page)
        top = _title_at_top(nxt, language)
        if top is not None and top != (cand.statement, cand.scope):
            break
        if top is None and language != "zh" and not _starts_with_data(nxt, language):
            break  # an English continuation page repeats the title or goes straight on
        if top is not None:
            idx = title_index(nxt, cand.statement, cand.scope, language)
            if idx is None:
                idx = next(
                    (i for i, ln in enumerate(nxt[:8])
                     if (classify_zh_title(ln.text) if language == "zh" else classify_en_title(
                         re.sub(r"[-–—(]*\s*continued\s*\)?", "", ln.text, flags=re.I)))),
                    -1,
                )  # fmt: skip
        else:
            idx = -1
        reg = read_region(nxt, idx, language, page)
        cols2, rows2, problem = parse_region(
            reg,
            cand.statement,
            cand.scope,
            language,
            fiscal_year,
            columns=st.columns,
            group=group if _has_groups(reg, language) else None,
        )
        if cols2 is None and problem == "too few data lines" and not reg.ended and language == "zh":
            continue  # a page of empty rows (其他综合收益 items); the statement goes on
        if cols2 is None or [c.year for c in cols2] != [c.year for c in st.columns]:
            log.debug("p.%d continuation of %s stops: %s", page, cand.statement, problem)
            break
        st.rows.extend(rows2)
        st.pages.append(page)
        ended = reg.ended
    st.items = {}
    _assign_items(st)
    # sanity: the columns must be this report's years
    years = [c.year for c in st.columns]
    if fiscal_year and (max(years) > fiscal_year + 1 or max(years) < fiscal_year - 1):
        log.debug(
            "p.%d %s: columns %s do not fit fiscal year %s",
            cand.page,
            cand.statement,
            years,
            fiscal_year,
        )
        return None
    return st


def parse_statements(
    pages: list[Page], *, language: str, fiscal_year: int | None, pdf_path: Path
) -> list[ParsedStatement]:
    """The best parse of each (statement, scope) found in a report."""
    if _is_quarterly(pages):
        return []
    candidates = find_candidates(pages, language)
    if not candidates:
        return []
    best: dict[tuple[str, str], ParsedStatement] = {}
    with PdfGeometry(pdf_path) as geo:
        n_pages = geo.page_count()
        for cand in candidates:
            try:
                parsed = [_parse_candidate(geo, cand, language, fiscal_year, n_pages)]
                if parsed[0] is None and language != "zh":
                    # consolidated and parent-company columns side by side
                    parsed = [
                        _parse_candidate(geo, cand, language, fiscal_year, n_pages, group=g)
                        for g in ("consolidated", "parent")
                    ]
            except Exception as err:  # noqa: BLE001 - one odd page must not lose the others
                log.warning("%s p.%d: statement parse failed: %s", pdf_path.name, cand.page, err)
                continue
            for st in parsed:
                if st is None or st.recognised() == 0:
                    continue
                key = (st.statement, st.scope)
                old = best.get(key)
                if old is None or (st.recognised(), len(st.rows)) > (
                    old.recognised(),
                    len(old.rows),
                ):
                    best[key] = st
    return sorted(best.values(), key=lambda s: s.page)


def _to_facts(st: ParsedStatement, doc_id: str, company: str) -> list[Fact]:
    facts: list[Fact] = []
    for r, row in enumerate(st.rows):
        if SHARE_COUNT.search(row.label) and not row.per_share:
            continue
        if row.per_share:
            scale, unit = (0.01, "cents per share") if row.cents else (1.0, "per share")
        else:
            scale, unit = st.scale, st.unit_label
        for c, (value, raw) in sorted(row.values.items()):
            col = st.columns[c]
            facts.append(
                Fact(
                    doc_id=doc_id,
                    company=company,
                    fiscal_year=col.year,
                    statement=st.statement,
                    scope=st.scope,
                    label=row.label,
                    item=st.items.get((r, c)),
                    value=value,
                    scale=scale,
                    unit_label=unit,
                    currency=st.currency,
                    page=row.page,
                    raw=raw,
                    period_end=col.period_end,
                )
            )
    return facts


def extract_facts(
    pages: list[Page],
    *,
    doc_id: str,
    company: str,
    language: str,
    fiscal_year: int | None,
    pdf_path: Path,
) -> tuple[list[Fact], list[StatementCheck]]:
    """Facts and accounting checks of one report; ``([], [])`` when no statement is found.

    Never raises: a failure here is logged and the report ingests without facts.
    """
    try:
        statements = parse_statements(
            pages, language=language, fiscal_year=fiscal_year, pdf_path=Path(pdf_path)
        )
    except Exception as err:  # noqa: BLE001 - facts are optional; the report must still ingest
        log.warning("%s: fact extraction failed: %s", Path(pdf_path).name, err)
        return [], []
    facts: list[Fact] = []
    checks: list[StatementCheck] = []
    for st in statements:
        got = _to_facts(st, doc_id, company)
        facts.extend(got)
        by_year: dict[int, list[Fact]] = defaultdict(list)
        for f in got:
            if not f.unit_label.endswith("per share"):
                by_year[f.fiscal_year].append(f)
        for year, group in sorted(by_year.items()):
            checks.extend(check_statement(group, doc_id, st.statement, st.scope, year))
    log.info(
        "%s: %d facts from %d statements, checks %d passed / %d failed",
        Path(pdf_path).name,
        len(facts),
        len(statements),
        sum(c.passed for c in checks),
        sum(not c.passed for c in checks),
    )
    return facts, checks
