"""Query the financial-statement facts extracted at ingestion (SQLite table ``facts``).

    store = FactStore(catalog)
    store.resolve_company("华锦股份")           # → [Document(北方华锦化学工业股份有限公司 2019 …)]
    store.lookup(company="3M", item="capex", year=2018)
    store.lookup(company="华锦股份", item="净利润", year=2019, scope="parent")
    store.best(company="3M", item="capex", year=2018).display()   # "-1,577 million USD"
    store.parse_question("华锦股份2019年母公司净利润是多少？")

Every result is a :class:`FactHit` (a :class:`~backend.records.Fact` with provenance): the number
as printed (sign applied), its scale, currency and
the statement it came from, plus provenance (file, 1-based page, row label, the report it was
read from) and whether that statement column passed its accounting checks. ``item`` arguments
accept a canonical key (see :func:`canonical_items`), words that name exactly one ("capital
expenditure", "研发费用"), or any other row label, matched whole (normalized, never a part of a
label: "revenue" never finds "Cost of revenue").

A fiscal year can be printed in two reports (a 2019 report repeats 2018 as its comparative
column, sometimes restated). :meth:`FactStore.lookup` returns both, the report *of* that year
first; :meth:`FactStore.best` picks one by that rule, or the restated figure when asked
(``restated=True``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from backend.domain.companies import company_key, match_strength
from backend.domain.format import compact
from backend.domain.items import (
    ITEMS,
    ITEMS_BY_KEY,
    STATEMENTS,
    canonical_items,
    has_cjk,
    items_in,
    match_item,
    normalize_label,
    scope_in,
)
from backend.records import Document, Fact, StatementCheck
from backend.store.catalog import Catalog

__all__ = ["FactHit", "FactQuestion", "FactStore", "canonical_items", "items_in", "scope_in"]


@dataclass
class FactHit(Fact):
    """A :class:`Fact` (all its fields) plus provenance: the report it was read from and the
    accounting checks of its statement column."""

    file_name: str = ""
    report_year: int | None = None
    report_company: str = ""
    checks_passed: int = 0
    checks_failed: int = 0

    @classmethod
    def of(cls, fact: Fact, **provenance: Any) -> FactHit:
        return cls(**{k: getattr(fact, k) for k in Fact.__dataclass_fields__}, **provenance)

    @property
    def fact(self) -> Fact:
        return Fact(**{k: getattr(self, k) for k in Fact.__dataclass_fields__})

    @property
    def citation(self) -> str:
        return f"[{self.file_name} p.{self.page}]"

    @property
    def checked(self) -> bool | None:
        """True: the statement column passed every accounting check; False: one failed;
        None: no check could run on it."""
        if self.checks_failed:
            return False
        return True if self.checks_passed else None

    def display(self) -> str:
        """'-1,577 million USD', '992,955,495.15 元', '9.09 USD per share'."""
        return compact(self)

    def to_dict(self) -> dict[str, Any]:
        """Compact form for tool results and JSON output."""
        f = self
        return {
            "company": self.report_company or f.company,
            "fiscal_year": f.fiscal_year,
            "statement": f.statement,
            "scope": f.scope,
            "item": f.item,
            "label": f.label,
            "value": f.value,
            "scale": f.scale,
            "unit": f.unit_label,
            "currency": f.currency,
            "base_value": f.base_value,
            "display": self.display(),
            "file": self.file_name,
            "page": f.page,
            "doc_id": f.doc_id,
            "report_year": self.report_year,
            "period_end": f.period_end,
            "checked": self.checked,
            "citation": self.citation,
        }


@dataclass
class FactQuestion:
    """What a question asks of the facts table (for the agent's deterministic router)."""

    companies: list[Document] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    scope: str = "consolidated"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["companies"] = [
            {"doc_id": c.doc_id, "company": c.company, "fiscal_year": c.fiscal_year}
            for c in self.companies
        ]
        return d


# --- company names ------------------------------------------------------------------------------
def _names(doc: Document) -> list[str]:
    names = [doc.company, *doc.aliases]
    if doc.ticker:
        names.append(doc.ticker)
    return [n for n in names if n]


_YEAR = re.compile(r"(?<!\d)(?:FY\s?|fiscal\s+(?:year\s+)?)?((?:19|20)\d\d)(?!\d)", re.I)


class FactStore:
    """Read access to facts and statement checks. Construct with the :class:`Catalog`."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._docs: tuple[int, list[Document]] | None = None

    # -- documents ----------------------------------------------------------------------------
    def documents(self) -> list[Document]:
        """Complete documents (cached until the catalogue's generation changes)."""
        gen = self.catalog.generation()
        with self._lock:
            if self._docs is None or self._docs[0] != gen:
                self._docs = (gen, self.catalog.documents(status="complete"))
            return list(self._docs[1])

    def resolve_company(self, name: str) -> list[Document]:
        """Documents of the company ``name`` refers to (fuzzy; company, aliases, ticker; en + zh),
        newest report first. "3M", "3M Company", "华锦股份" and "北方华锦化学工业股份有限公司" all
        resolve. Only the best-matching tier is returned; [] when nothing matches."""
        docs = self.documents()
        scored = [(match_strength(name, _names(d)), d) for d in docs]
        top = max((s for s, _ in scored), default=0)
        if top == 0:
            return []
        hits = [d for s, d in scored if s == top]
        return sorted(hits, key=lambda d: (-(d.fiscal_year or 0), d.file_name))

    def companies_in(self, text: str) -> list[Document]:
        """Documents whose company (or an alias / ticker) is named in ``text``, longest name
        first (for routing a question)."""
        low = text.lower()
        found: list[tuple[int, Document]] = []
        for d in self.documents():
            for name in _names(d):
                variants = {name, company_key(name)} - {""}
                for v in variants:
                    v_low = v.lower()
                    if len(v_low) < 2:
                        continue
                    i = low.find(v_low)
                    if i < 0:
                        continue
                    if v_low.isascii() and (
                        (i > 0 and low[i - 1].isalnum())
                        or (i + len(v_low) < len(low) and low[i + len(v_low)].isalnum())
                    ):
                        continue
                    found.append((len(v_low), d))
        if not found:
            return []
        longest = max(n for n, _ in found)
        best = {d.doc_id: d for n, d in found if n == longest}
        chosen = next(iter(best.values()))
        # every report of that company, not just the one whose alias matched
        same = self.resolve_company(chosen.company) or list(best.values())
        return same

    # -- facts ----------------------------------------------------------------------------------
    def lookup(
        self,
        company: str | None = None,
        item: str | None = None,
        year: int | None = None,
        scope: str | None = "consolidated",
        statement: str | None = None,
        *,
        doc_ids: list[str] | None = None,
        limit: int = 500,
    ) -> list[FactHit]:
        """Facts matching every given filter, with provenance.

        ``company``: any name form (see :meth:`resolve_company`); ``item``: a canonical key, words
        naming exactly one canonical item, or a whole row label (exact items or nothing); ``year``: the column's fiscal year; ``scope``:
        'consolidated', 'parent' or None for both; ``statement``: income | balance | cashflow.
        Results: per item and year, the report of that fiscal year first, then later reports
        (comparative, possibly restated, columns); within a report in statement row order.
        """
        wanted = self._documents_for(company, doc_ids)
        if wanted is not None and not wanted:
            return []
        filters: list[tuple[str, list[Any]]] = []
        if wanted is not None:
            filters.append((f"f.doc_id IN ({','.join('?' for _ in wanted)})", list(wanted)))
        if year is not None:
            filters.append(("f.fiscal_year = ?", [int(year)]))
        if scope:
            filters.append(("f.scope = ?", [scope]))
        if statement:
            if statement not in STATEMENTS:
                raise ValueError(f"statement must be one of {STATEMENTS}")
            filters.append(("f.statement = ?", [statement]))
        clause, label = _item_filter(item)
        facts = self._facts([*filters, clause] if clause else filters)
        if label:
            facts = [f for f in facts if normalize_label(f.label) == label]
        return self._with_provenance(facts)[:limit]

    def _documents_for(self, company: str | None, doc_ids: list[str] | None) -> list[str] | None:
        """Ids of the documents to search: ``doc_ids`` narrowed to ``company``'s (None: all)."""
        if not company:
            return doc_ids
        resolved = [d.doc_id for d in self.resolve_company(company)]
        return resolved if doc_ids is None else [i for i in doc_ids if i in resolved]

    def _with_provenance(self, facts: list[Fact]) -> list[FactHit]:
        """Facts as hits with their report and checks, in :func:`_order`."""
        by_id = {d.doc_id: d for d in self.documents()}
        checks = self._check_index([f.doc_id for f in facts])
        hits = []
        for f in facts:
            d = by_id.get(f.doc_id)
            passed, failed = checks.get((f.doc_id, f.statement, f.scope, f.fiscal_year), (0, 0))
            hits.append(
                FactHit.of(
                    f,
                    file_name=d.file_name if d else f.doc_id,
                    report_year=d.fiscal_year if d else None,
                    report_company=d.company if d else f.company,
                    checks_passed=passed,
                    checks_failed=failed,
                )
            )
        hits.sort(key=_order)
        return hits

    def best(
        self,
        company: str | None = None,
        item: str | None = None,
        year: int | None = None,
        *,
        restated: bool = False,
        **filters: Any,
    ) -> FactHit | None:
        """The one fact to quote among :meth:`lookup`'s (``filters``: its ``scope`` and
        ``statement``): from the report of that fiscal year (as originally reported), or with
        ``restated=True`` from the latest report that shows the year. A statement column that
        failed its checks is used only when no other report has the figure."""
        hits = self.lookup(company, item, year, **filters)
        if not hits:
            return None
        if item and item in ITEMS_BY_KEY:
            hits = [h for h in hits if h.item == item] or hits

        def rank(h: FactHit) -> tuple:
            own = h.report_year == h.fiscal_year
            newest = -(h.report_year or 0)
            ok = h.checked is not False
            return (not ok, newest if restated else (not own, -newest), h.page)

        return min(hits, key=rank)

    def _facts(self, filters: list[tuple[str, list[Any]]]) -> list[Fact]:
        sql = " AND ".join(c for c, _ in filters) if filters else "1=1"
        return self.catalog.facts(
            sql + " ORDER BY f.fact_id", [a for _, args in filters for a in args]
        )

    def checks(self, doc_id: str | None = None) -> list[StatementCheck]:
        return self.catalog.checks(doc_id)

    def _check_index(self, doc_ids: list[str]) -> dict[tuple, tuple[int, int]]:
        out: dict[tuple, list[int]] = {}
        for doc_id in dict.fromkeys(doc_ids):
            for c in self.catalog.checks(doc_id):
                k = (c.doc_id, c.statement, c.scope, c.fiscal_year)
                v = out.setdefault(k, [0, 0])
                v[0 if c.passed else 1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    # -- question routing ---------------------------------------------------------------------
    @staticmethod
    def items_in(text: str) -> list[str]:
        """Canonical item keys a question mentions (en + zh, longest match first)."""
        return items_in(text)

    @staticmethod
    def canonical_items() -> dict[str, str]:
        return canonical_items()

    def parse_question(self, text: str) -> FactQuestion:
        """Company documents, canonical items, fiscal years and scope named in a question."""
        years = [int(m.group(1)) for m in _YEAR.finditer(text)]
        return FactQuestion(
            companies=self.companies_in(text),
            items=items_in(text),
            years=list(dict.fromkeys(years)),
            scope=scope_in(text) or "consolidated",
        )


def _item_filter(item: str | None) -> tuple[tuple[str, list[Any]] | None, str]:
    """The SQL clause for ``item`` and, for row-label text, the normalized label every hit must
    equal. Exact items or nothing: a canonical key, words that are exactly one item's name (its
    question phrases or its row-label pattern), else a row label equal to the text after
    normalization. Never a partial match: "revenue" must not find "Cost of revenue"."""
    if not item or not item.strip():
        return None, ""
    keys = [item] if item in ITEMS_BY_KEY else _exact_items(item)
    if keys:
        return (f"f.item IN ({','.join('?' for _ in keys)})", list(keys)), ""
    label = normalize_label(item)
    if not label:
        return ("0", []), ""
    # a cheap superset in SQL (every equal label contains the query's longest word), the exact
    # comparison in Python
    word = label if has_cjk(label) else max(label.split(), key=len)
    return ("lower(f.label) LIKE ?", [f"%{word}%"]), label


def _exact_items(text: str) -> list[str]:
    """Keys of the one item ``text`` names as a whole (question phrase, key or row label)."""
    norm = " ".join(text.lower().replace("_", " ").split()).strip(" ?.:：")
    norm = re.sub(r"^the\s+", "", norm)
    keys = {i.key for i in ITEMS if norm in (i.key.replace("_", " "), *(p.lower() for p in i.ask))}
    if not keys:
        keys = {hit[0] for st in STATEMENTS if (hit := match_item(text, st)) is not None}
    return sorted(keys)


def _order(h: FactHit) -> tuple:
    f = h
    own = h.report_year == f.fiscal_year
    return (
        h.report_company,
        -f.fiscal_year,
        STATEMENTS.index(f.statement) if f.statement in STATEMENTS else 9,
        f.scope != "consolidated",
        not own,
        -(h.report_year or 0),
    )  # ties keep the statement's row order (the sort is stable)
