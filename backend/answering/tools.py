"""The agent's tools: typed functions whose docstring is the tool description.

LangChain's tool layer (``StructuredTool.from_function``) turns each function into a tool with a
JSON schema built from its type hints and docstring; :func:`backend.answering.prompts.plan_schema`
derives the planning grammar from those schemas and :func:`~backend.answering.prompts.
tool_descriptions` the prompt's tool list, so that every call the model makes is well-formed, and
:meth:`Toolbox.call` validates arguments with the same schema before running a tool. Tools are bound to one question's scope: they can only see the
documents, companies and years that the question is about (a report saying "ignore previous
instructions…" cannot send a tool elsewhere).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from backend.answering.retrieval import Passage, Retriever
from backend.domain.calculator import CalculationError, calculate
from backend.records import Document, Fact

log = logging.getLogger(__name__)

Scope = Literal["consolidated", "parent"]

#: The longest query a search tool accepts (the model's planned searches are held to it).
QUERY_CHARS = 200
_SENTENCE_END = re.compile(r"(?<=[.?!;])\s+|(?<=[。？！；])\s*")  # "2.5" is not an end


def search_query(question: str, limit: int = QUERY_CHARS) -> str:
    """A question as a search query within ``limit`` characters: whole when it fits, else the
    sentences that fit, the question sentences (ending in "?") first, in their order — long
    questions wrap what to look for in how to answer ("We want to calculate a metric …", "Round
    your answer …", "Please base your judgments on …"). A question sentence longer than
    ``limit`` (or text without sentences) is cut at a word boundary instead, so that the query
    is never only the instructions around the question."""
    text = " ".join(question.split())
    if len(text) <= limit:
        return text
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    asks = [i for i, s in enumerate(sentences) if s.endswith(("?", "？"))]
    chosen: list[int] = []
    for i in asks + [i for i in range(len(sentences)) if i not in asks]:
        if len(" ".join(sentences[j] for j in sorted([*chosen, i]))) <= limit:
            chosen.append(i)
    if chosen and (not asks or set(asks) & set(chosen)):
        return " ".join(sentences[j] for j in sorted(chosen))
    cut = (sentences[asks[0]] if asks else text)[:limit]
    return cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut


@dataclass
class ToolScope:
    """What one question's tools may touch."""

    doc_ids: list[str] | None  # None: every indexed document
    companies: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    top_k: int = 5


@dataclass
class ToolCall:
    tool: str
    args: dict[str, Any]
    result: Any = None
    error: str = ""
    well_formed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "args": self.args,
            "result": self.result,
            "error": self.error,
            "well_formed": self.well_formed,
        }


def fact_row(f: Fact, file_name: str) -> dict[str, Any]:
    checked = getattr(f, "checked", None)
    return {
        "checked": checked,
        "company": f.company,
        "item": f.item,
        "label": f.label,
        "year": f.fiscal_year,
        "value": f.value,
        "unit": f.unit_label,
        "currency": f.currency,
        "scale": f.scale,
        "statement": f.statement,
        "scope": f.scope,
        "file": file_name,
        "page": f.page,
        "doc_id": f.doc_id,
        "raw": f.raw,
    }


class Toolbox:
    """Builds the four tools for one question and keeps what they returned (the audit trail)."""

    def __init__(
        self, retriever: Retriever, facts: Any, scope: ToolScope, tables: Any = None
    ) -> None:
        self.retriever = retriever
        self.facts = facts
        self.tables = tables
        self.scope = scope
        self.calls: list[ToolCall] = []
        self.passages: list[Passage] = []
        #: table rows the tools returned (RowHit), in order, without repeats: citable cells
        self.rows: list[Any] = []
        self._tools: dict[str, Any] | None = None

    @property
    def _docs(self) -> dict[str, Document]:
        return self.retriever.company_index().docs

    def documents(self, doc_ids: Sequence[str]) -> list[Document]:
        """The indexed documents among ``doc_ids``."""
        return [self._docs[d] for d in doc_ids if d in self._docs]

    def docs_by_id(self) -> dict[str, Document]:
        """Every indexed document by id (company, fiscal year, file name)."""
        return dict(self._docs)

    def page_text(self, doc_id: str, page: int) -> str | None:
        """The whole text of one page of an indexed report."""
        return self.retriever.catalog.page_text(doc_id, page)

    def file_name(self, doc_id: str) -> str:
        doc = self._docs.get(doc_id)
        return doc.file_name if doc else doc_id

    # -- the tools (docstrings are the descriptions the model sees) -----------------------------
    def search_reports(
        self,
        query: Annotated[str, Field(max_length=QUERY_CHARS)],
        company: str | None = None,
        year: int | None = None,
    ) -> list[dict[str, Any]]:
        """Search the indexed annual reports for passages about the query.

        Args:
            query: what to look for, in the words of the question
            company: restrict to this company's reports
            year: prefer reports of this fiscal year
        """
        doc_ids = self._company_docs(company)
        passages = self.retriever.search(query, doc_ids=doc_ids, k=self.scope.top_k)
        for p in passages:
            if all(p.chunk_id != q.chunk_id for q in self.passages):
                self.passages.append(p)
        return [
            {
                "source": self._source_number(p),
                "file": p.file_name,
                "page": p.page,
                "text": p.text[:600],
            }
            for p in passages
        ]

    def get_fact(
        self, company: str, item: str, year: int | None = None, scope: Scope = "consolidated"
    ) -> list[dict[str, Any]]:
        """Look up a line item in a company's primary financial statements (income statement,
        balance sheet, cash-flow statement): value, unit and page.

        Args:
            company: company name as written in the question
            item: line item, e.g. revenue, net income, total assets, capex, 研发费用
            year: fiscal year of the figure
            scope: consolidated statements, or the parent company's own (母公司)
        """
        facts = self.facts.lookup(
            company=company, item=item, year=year, scope=scope, doc_ids=self.scope.doc_ids
        )
        return [
            fact_row(f, getattr(f, "file_name", "") or self.file_name(f.doc_id)) for f in facts[:8]
        ]

    def find_rows(
        self,
        query: Annotated[str, Field(max_length=QUERY_CHARS)],
        company: str | None = None,
        year: int | None = None,
    ) -> list[dict[str, Any]]:
        """Find rows of the tables printed in the reports (segment, product, region, MD&A,
        selected data, 主要会计数据, 产销量, 前五名客户 tables …): the row label with its parent
        rows, each cell with its column header, value and unit, the table title and page.

        Args:
            query: the row's words and the table's, e.g. "Pet segment net sales", "尿素 销售量"
            company: restrict to this company's reports
            year: keep the cells of this fiscal year's column
        """
        if self.tables is None:
            return []
        doc_ids = self._company_docs(company)
        hits = self.tables.find_rows(query, doc_ids=doc_ids, limit=self.scope.top_k + 3)
        for h in hits:
            if year is not None:
                same = [c for c in h.cells if re.search(rf"(?<!\d){year}(?!\d)", c.column)]
                h.cells = same or h.cells
            if all(h.row_id != r.row_id for r in self.rows):
                self.rows.append(h)
        return [h.to_dict() for h in hits]

    def whole_tables(self, query: str, tables: int = 8) -> list[Any]:
        """Every row (RowHit) of the ``tables`` tables whose rows match ``query`` best, in the
        question's documents — for reading two rows of one table that a question names by
        their whole labels, where the best-matching rows may all come from other tables. Not
        a model tool: nothing is added to :attr:`rows` until an answer cites it."""
        if self.tables is None:
            return []
        hits = self.tables.find_rows(query, doc_ids=self.scope.doc_ids, limit=60)
        return self.tables.table_rows(list(dict.fromkeys(h.table_id for h in hits))[:tables])

    def calculate(self, expression: Annotated[str, Field(max_length=160)]) -> dict[str, Any]:
        """Evaluate arithmetic on numbers taken from the reports: + - * / ( ), percentages,
        avg(a, b), growth(old, new) in percent, pct(part, whole) in percent.

        Args:
            expression: the arithmetic, e.g. (2795 - 2780) / 2780 * 100
        """
        calc = calculate(expression)
        return {"expression": calc.expression, "value": calc.value}

    def compare(
        self,
        item: str,
        companies: list[str] | None = None,
        years: list[int] | None = None,
        scope: Scope = "consolidated",
    ) -> list[dict[str, Any]]:
        """Build a small table of one line item across companies and/or years from the financial
        statements, with the page of every cell.

        Args:
            item: line item, e.g. revenue
            companies: companies to compare (default: those in the question)
            years: fiscal years to compare (default: those in the question)
        """
        rows = []
        for company in companies or self.scope.companies:
            for year in years or self.scope.years or [None]:
                found = self.get_fact(company=company, item=item, year=year, scope=scope)
                if found and year is None:  # no year asked: each company's latest figure
                    latest = max(r["year"] for r in found)
                    found = [r for r in found if r["year"] == latest]
                if found and not any(_same_cell(found[0], r) for r in rows):
                    rows.append(found[0])  # (a company's second name finds the same cell)
        return rows

    # -- plumbing --------------------------------------------------------------------------
    def _company_docs(self, company: str | None) -> list[str] | None:
        """The question's documents, narrowed to ``company``'s when it names an indexed one."""
        doc_ids = self.scope.doc_ids
        if company:
            named = self.retriever.company_index().companies_in(company)
            if named:
                doc_ids = [d for d in (doc_ids or named) if d in named] or doc_ids
        return doc_ids

    def _source_number(self, p: Passage) -> int:
        for i, q in enumerate(self.passages, start=1):
            if q.chunk_id == p.chunk_id:
                return i
        return 0

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {
            "search_reports": self.search_reports,
            "find_rows": self.find_rows,
            "get_fact": self.get_fact,
            "calculate": self.calculate,
            "compare": self.compare,
        }

    def langchain_tools(self) -> dict[str, Any]:
        """The tools as LangChain ``StructuredTool``s (built once per toolbox)."""
        if self._tools is None:
            from langchain_core.tools import StructuredTool

            self._tools = {
                name: StructuredTool.from_function(fn, name=name, parse_docstring=True)
                for name, fn in self.functions().items()
            }
        return self._tools

    def call(self, tool: str, args: dict[str, Any]) -> ToolCall:
        """Validate ``args`` against the tool's schema, run it, record the call."""
        tools = self.langchain_tools()
        record = ToolCall(tool=tool, args=dict(args))
        if tool not in tools:
            record.well_formed = False
            record.error = f"unknown tool {tool}"
        else:
            try:
                record.result = tools[tool].invoke(args)
            except CalculationError as err:
                record.error = str(err)
            except Exception as err:  # noqa: BLE001 - a failing tool is reported, not raised
                if type(err).__name__ == "ValidationError":
                    record.well_formed = False
                record.error = f"{type(err).__name__}: {err}"
                log.warning("tool %s(%s) failed: %s", tool, args, err)
        self.calls.append(record)
        return record


def tool_definitions() -> dict[str, Any]:
    """The tools' definitions (names, argument schemas, descriptions) without a question's scope:
    for building the planning grammar and prompt; calling them needs a real :class:`Toolbox`."""
    return Toolbox(None, None, ToolScope(doc_ids=None)).langchain_tools()  # type: ignore[arg-type]


def compact(result: Any, limit: int = 1500) -> str:
    text = json.dumps(result, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _same_cell(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("doc_id", "page", "item", "year", "value")
    return all(a.get(k) == b.get(k) for k in keys)
