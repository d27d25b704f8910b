"""Templated items from the facts table: lookups, year-over-year changes, ratios (formula with the
printed inputs), two-company comparisons, and two-step agent traces (search, then calculate).

Every number comes from a fact extracted at ingestion, and every fact is shown to the model in the
chunk that prints it (found by :meth:`DocContext.fact_chunk`), together with the statement's header
chunk (title, unit, column years). Questions are paraphrased from a few templates per language,
picked by a seeded random generator.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from backend.answering.retrieval import Passage
from backend.answering.tools import compact
from backend.domain import format as fmt
from backend.domain.calculator import CalculationError, calculate
from backend.domain.items import ITEMS_BY_KEY, OUTFLOW_ITEMS
from backend.domain.metrics import METRICS, Metric
from backend.records import Fact
from ingestion.fewshot.appview import AppView
from ingestion.fewshot.context import DocContext
from ingestion.fewshot.items import Candidate
from ingestion.fewshot.render import answer_messages, plan_messages

# --- names --------------------------------------------------------------------------------------
_EN_NAMES = {
    "revenue": "revenue", "total_revenue": "total operating revenue",
    "cost_of_revenue": "cost of revenue", "net_income_parent": "net income attributable to "
    "shareholders", "equity_parent": "shareholders' equity attributable to the parent",
    "eps_basic": "basic earnings per share", "eps_diluted": "diluted earnings per share",
    "ppe_net": "net property, plant and equipment", "sga_expense": "selling, general and "
    "administrative expenses", "rd_expense": "research and development expense",
    "admin_expense": "general and administrative expense", "inventory": "inventories",
    "income_tax": "income tax expense", "capex": "capital expenditures",
    "minority_interest_income": "net income attributable to noncontrolling interests",
    "notes_receivable": "notes receivable", "notes_payable": "notes payable",
    "prepayments": "prepayments", "construction_in_progress": "construction in progress",
    "fx_effect_on_cash": "effect of exchange rate changes on cash",
    "cash_begin": "cash and cash equivalents at the beginning of the year",
    "cash_end": "cash and cash equivalents at the end of the year",
}  # fmt: skip
_ZH_NAMES = {
    "sga_expense": "销售、一般及管理费用", "gross_profit": "毛利", "depreciation_amortization": "折旧与摊销",
    "dividends_paid": "支付的股利", "share_repurchase": "股份回购支出", "capex": "资本支出",
    "equity_parent": "归属于母公司所有者权益合计", "net_income_parent": "归属于母公司所有者的净利润",
}  # fmt: skip


def item_name(key: str, language: str) -> str:
    item = ITEMS_BY_KEY[key]
    if language == "en":
        if key in _EN_NAMES:
            return _EN_NAMES[key]
        asks = [a for a in item.ask if a.isascii()]
        return asks[0] if asks else item.description.split(" (")[0].lower()
    if key in _ZH_NAMES:
        return _ZH_NAMES[key]
    if item.zh:
        return item.zh[0]
    asks = [a for a in item.ask if not a.isascii()]
    return asks[0] if asks else ""


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


# --- question templates ---------------------------------------------------------------------------
_LOOKUP = {
    "en": {
        "flow": [
            "What was {cs} {i} in fiscal {y}?",
            "How much {i} did {c} report for fiscal {y}?",
            "According to its annual report, what was {cs} {i} for {y}?",
            "What amount of {i} did {c} record in fiscal year {y}?",
        ],
        "stock": [
            "What was {cs} {i} at the end of fiscal {y}?",
            "How much {i} did {c} have at the end of {y}?",
            "What {i} did {c} report on its balance sheet at the end of fiscal {y}?",
        ],
    },
    "zh": {
        "flow": [
            "{c}{y}年的{i}是多少？",
            "{c}{y}年度{i}金额为多少？",
            "请问{c}在{y}年的{i}是多少？",
            "根据年报，{c}{y}年{i}是多少？",
        ],
        "stock": [
            "{c}{y}年末的{i}是多少？",
            "截至{y}年末，{c}的{i}余额是多少？",
            "{c}{y}年末资产负债表中的{i}为多少？",
        ],
    },
}
_PARENT_Q = {
    "en": "What was {cs} {i} in the parent company's own statements for {y}?",
    "zh": "{c}{y}年母公司报表中的{i}是多少？",
}
_YOY = {
    "en": [
        "What was the percentage change in {cs} {i} from fiscal {y0} to fiscal {y1}?",
        "By what percentage did {cs} {i} change between {y0} and {y1}?",
        "How much did {cs} {i} grow from {y0} to {y1}, in percent?",
        "What was the year-over-year change in {cs} {i} in fiscal {y1} compared with {y0}, "
        "in percent?",
    ],
    "zh": [
        "{c}{i}从{y0}年到{y1}年变动了百分之多少？",
        "与{y0}年相比，{c}{y1}年{i}的增长率是多少？",
        "{c}{y1}年{i}较{y0}年变化了多少（百分比）？",
        "{c}{y0}年至{y1}年{i}的同比变动比例是多少？",
    ],
}
_RATIO = {
    "en": [
        "What was {cs} {m} in fiscal {y}?",
        "Calculate {cs} {m} for fiscal {y}.",
        "What {m} did {c} have in {y}?",
    ],
    "zh": ["{c}{y}年的{m}是多少？", "请计算{c}{y}年的{m}。", "{c}在{y}年度的{m}为多少？"],
}
_COMPARE = {
    "en": [
        "Which company had higher {i} in fiscal {y}, {a} or {b}?",
        "Compare the {i} of {a} and {b} in {y}: which was larger?",
    ],
    "zh": ["{y}年{a}和{b}哪家公司的{i}更高？", "比较{y}年{a}与{b}的{i}，哪家更高？"],
}


def _is_stock(f: Fact) -> bool:
    return f.statement == "balance"


# --- the generator ------------------------------------------------------------------------------
@dataclass
class _YoyQuestion:
    f0: Fact
    f1: Fact
    lang: str
    item: str
    company: str
    question: str
    values: list[Passage]
    must: list[Passage]
    rng: random.Random


class FactTemplates:
    """Builds facts-table items for one document (and comparisons for pairs)."""

    def __init__(self, ctx: DocContext, app: AppView, tool_text: str, seed: int) -> None:
        self.ctx = ctx
        self.app = app
        self.tool_text = tool_text
        self.seed = seed
        self.stats: dict[str, int] = defaultdict(int)

    def rng(self, kind: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.ctx.doc_id}:{kind}")

    # helpers --------------------------------------------------------------------------------
    def _evidence(self, facts: Sequence[Fact]) -> tuple[list[Passage], list[Passage]] | None:
        """(value passages, value + header passages) for ``facts``; None when a value cannot be
        shown to the model."""
        values: list[Passage] = []
        must: list[Passage] = []
        for f in facts:
            c = self.ctx.fact_chunk(f)
            if c is None:
                self.stats["no_evidence_chunk"] += 1
                return None
            p = self.ctx.passage(c)
            if all(p.chunk_id != q.chunk_id for q in values):
                values.append(p)
            header = self.ctx.header_chunk(f)
            for q in ([self.ctx.passage(header)] if header else []) + [p]:
                if all(q.chunk_id != r.chunk_id for r in must):
                    must.append(q)
        return values, must

    def _languages(self, n: int, rng: random.Random) -> list[str]:
        first = (
            self.ctx.doc.language
            if rng.random() < 0.6
            else ("en" if self.ctx.doc.language == "zh" else "zh")
        )
        other = "zh" if first == "en" else "en"
        return [first if i % 2 == 0 else other for i in range(n)]

    def _facts_by(self) -> dict[tuple[str, str, int], Fact]:
        out: dict[tuple[str, str, int], Fact] = {}
        for f in self.ctx.facts:
            out.setdefault((f.item or "", f.scope, f.fiscal_year), f)
        return out

    def _app(self, question: str) -> dict[str, Any]:
        return self.app.facts_route(question)

    # lookups --------------------------------------------------------------------------------
    def lookups(self, n: int) -> Iterator[Candidate]:
        rng = self.rng("lookup")
        facts = [f for f in self.ctx.facts if f.scope == "consolidated"]
        parents = [f for f in self.ctx.facts if f.scope == "parent"]
        rng.shuffle(facts)
        rng.shuffle(parents)
        pool = facts[: max(0, n - n // 5)] + parents[: n // 5] if parents else facts[:n]
        pool = pool + [f for f in facts if f not in pool]
        made = 0
        langs = self._languages(len(pool), rng)
        for f, lang in zip(pool, langs, strict=False):
            if made >= n:
                return
            cand = self._lookup(f, lang, rng)
            if cand is not None:
                made += 1
                yield cand

    def _lookup(self, f: Fact, lang: str, rng: random.Random) -> Candidate | None:
        assert f.item
        magnitude = f.item in OUTFLOW_ITEMS
        value = fmt.amount(f, lang, magnitude=magnitude)
        item = item_name(f.item, lang)
        if not item:
            self.stats["no_wording"] += 1
            return None
        ev = self._evidence([f])
        if ev is None:
            return None
        values, must = ev
        c = self.ctx.name(lang, short=rng.random() < 0.4)
        if f.scope == "parent":
            q = _PARENT_Q[lang].format(c=c, cs=possessive(c), i=item, y=f.fiscal_year)
        else:
            q = rng.choice(_LOOKUP[lang]["stock" if _is_stock(f) else "flow"]).format(
                c=c, cs=possessive(c), i=item, y=f.fiscal_year
            )
        sources = self.ctx.sources(q, must, rng)
        n = 1 + [p.chunk_id for p in sources].index(values[0].chunk_id)
        if lang == "zh":
            when = f"{f.fiscal_year}年末" if _is_stock(f) else f"{f.fiscal_year}年"
            where = "母公司报表中" if f.scope == "parent" else ""
            out = f"{c}{when}{where}的{item}为{value} [{n}]。"
        else:
            when = (
                f"at the end of fiscal {f.fiscal_year}"
                if _is_stock(f)
                else f"in fiscal {f.fiscal_year}"
            )
            where = " in the parent company's own statements" if f.scope == "parent" else ""
            verb = "were" if item.endswith(("s", "ies")) and not item.endswith("ss") else "was"
            out = f"{possessive(c)} {item}{where} {when} {verb} {value} [{n}]."
        return answer_candidate(
            "lookup",
            lang,
            q,
            sources,
            out,
            doc_ids=[self.ctx.doc_id],
            file=self.ctx.doc.file_name,
            page=f.page,
            cited=[(f.doc_id, self.ctx.doc.file_name, f.page)],
            extra={"facts": [_fact_ref(f)], "app": self._app(q)},
        )

    # year-over-year changes ------------------------------------------------------------------
    def _pairs(self, rng: random.Random) -> list[tuple[Fact, Fact]]:
        by = self._facts_by()
        pairs = []
        for (item, scope, year), f1 in sorted(by.items()):
            f0 = by.get((item, scope, year - 1))
            if scope != "consolidated" or f0 is None or f0.value == 0 or f0.scale != f1.scale:
                continue
            if item.startswith("eps") or item in ("cash_begin",):
                continue
            pairs.append((f0, f1))
        rng.shuffle(pairs)
        return pairs

    def _yoy_expression(self, f0: Fact, f1: Fact) -> tuple[str, float]:
        p0 = fmt.as_printed(f0)
        sub = f"({p0})" if p0.startswith("-") else p0
        expr = f"({fmt.as_printed(f1)} - {sub}) / {p0.lstrip('-')} * 100"
        value = (f1.value - f0.value) / abs(f0.value) * 100
        return expr, value

    def _yoy_questions(self, kind: str) -> Iterator[_YoyQuestion]:
        """Year-over-year questions over consecutive facts of one item, with their evidence."""
        rng = self.rng(kind)
        pairs = self._pairs(rng)
        for (f0, f1), lang in zip(pairs, self._languages(len(pairs), rng), strict=False):
            assert f1.item
            item = item_name(f1.item, lang)
            ev = self._evidence([f0, f1])
            if ev is None or not item:
                continue
            c = self.ctx.name(lang, short=rng.random() < 0.4)
            q = rng.choice(_YOY[lang]).format(
                c=c, cs=possessive(c), i=item, y0=f0.fiscal_year, y1=f1.fiscal_year
            )
            yield _YoyQuestion(f0, f1, lang, item, c, q, ev[0], ev[1], rng)

    def yoy(self, n: int) -> Iterator[Candidate]:
        made = (self._yoy_candidate(yq) for yq in self._yoy_questions("yoy"))
        yield from islice((c for c in made if c is not None), n)

    def _yoy_candidate(self, yq: _YoyQuestion) -> Candidate | None:
        sources = self.ctx.sources(yq.question, yq.must, yq.rng)
        expr, value = self._yoy_expression(yq.f0, yq.f1)
        return self._calc_candidate(
            "yoy_change",
            "template:yoy_change",
            yq.lang,
            yq.question,
            sources,
            expr,
            value,
            [yq.f0, yq.f1],
            yq.values,
        )

    def _calc_candidate(
        self,
        type_: str,
        generator: str,
        lang: str,
        q: str,
        sources: list[Passage],
        expr: str,
        value: float,
        facts: Sequence[Fact],
        values: Sequence[Passage],
        steps: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> Candidate | None:
        call = {"tool": "calculate", "args": {"expression": expr}}
        shown = self.app.calc_answer(q, sources, expr, value)
        if shown is None:
            self.stats["app_rejects_calculation"] += 1
            return None
        return Candidate(
            type=type_,
            language=lang,
            question=q,
            generator=generator,
            fmt="tool_call",
            messages=plan_messages(q, sources, self.tool_text, steps, call),
            passages=sources,
            doc_ids=sorted({f.doc_id for f in facts}),
            file=values[0].file_name,
            page=values[0].page,
            cited=sorted({(p.doc_id, p.file_name, p.page) for p in values}),
            extra={
                "expression": expr,
                "value": value,
                "user_answer": shown,
                "facts": [_fact_ref(f) for f in facts],
                "app": self._app(q),
                **(extra or {}),
            },
        )

    # ratios ---------------------------------------------------------------------------------
    def ratios(self, n: int) -> Iterator[Candidate]:
        rng = self.rng("ratio")
        by = self._facts_by()
        years = sorted({y for (_, s, y) in by if s == "consolidated"}, reverse=True)
        options = [(m, y) for m in METRICS for y in years]
        rng.shuffle(options)
        made = 0
        langs = self._languages(len(options), rng)
        for (metric, year), lang in zip(options, langs, strict=False):
            if made >= n:
                return
            built = self._metric_expression(metric, year, by)
            if built is None:
                continue
            expr, value, facts = built
            name = metric.names_en[0] if lang == "en" else metric.label_zh
            ev = self._evidence(facts)
            if ev is None or not name:
                continue
            values, must = ev
            c = self.ctx.name(lang, short=rng.random() < 0.4)
            q = rng.choice(_RATIO[lang]).format(c=c, cs=possessive(c), m=name, y=year)
            if len(must) > self.ctx.top_k + 2:
                continue
            sources = self.ctx.sources(q, must, rng, k=max(self.ctx.top_k, len(must)))
            cand = self._calc_candidate(
                "ratio",
                "template:ratio",
                lang,
                q,
                sources,
                expr,
                value,
                facts,
                values,
                extra={"metric": metric.key, "formula": metric.formula},
            )
            if cand is not None:
                made += 1
                yield cand

    def _metric_expression(
        self, metric: Metric, year: int, by: dict[tuple[str, str, int], Fact]
    ) -> tuple[str, float, list[Fact]] | None:
        values: dict[tuple[str, int], Fact] = {}
        for item, offset in metric.items():
            f = by.get((item, "consolidated", year + offset))
            if f is None:
                return None
            values[(item, offset)] = f
        facts = list(values.values())
        if len({f.scale for f in facts}) != 1 or len({f.currency for f in facts}) != 1:
            return None
        printed, base = {}, {}
        for (item, offset), f in values.items():
            mag = item in OUTFLOW_ITEMS
            printed[(item, offset)] = fmt.as_printed(f, magnitude=mag)
            base[(item, offset)] = f"{abs(f.base_value) if mag else f.base_value:.6f}"
        expr, base_expr = metric.substitute(printed), metric.substitute(base)
        try:
            value = calculate(expr).value
            check = calculate(base_expr).value
        except CalculationError:
            return None
        scale = facts[0].scale if metric.unit == "amount" else 1.0
        if abs(check / scale - value) > 1e-6 * max(1.0, abs(value)):
            return None
        if len(expr) > 200:
            return None
        return expr, value, facts

    # two-step traces: search for the missing statement, then calculate ----------------------
    def traces(self, n: int) -> Iterator[Candidate]:
        made = (self._trace(yq) for yq in self._yoy_questions("trace"))
        for pair in islice((p for p in made if p is not None), n):
            yield from pair

    def _trace(self, yq: _YoyQuestion) -> tuple[Candidate, Candidate] | None:
        """Step 1 (the planner searches for the missing statement) and step 2 (it calculates)."""
        f0, f1, lang, item, c, q = yq.f0, yq.f1, yq.lang, yq.item, yq.company, yq.question
        values, must, rng = yq.values, yq.must, yq.rng
        # the first search missed the statement: its chunks are not among the sources
        first = self.ctx.sources(q, [], rng, exclude=[p.chunk_id for p in must])
        if not first:
            return None
        query = (
            f"{c} {item} {f1.fiscal_year} {f0.fiscal_year}"
            if lang == "en"
            else f"{c} {item} {f1.fiscal_year}年 {f0.fiscal_year}年"
        )
        search = {"tool": "search_reports", "args": {"query": query}}
        box = self.app.toolbox([self.ctx.doc_id])
        box.passages = list(first)
        call = box.call("search_reports", {"query": query})
        if call.error:
            return None
        visible = box.passages[: self.ctx.top_k + 2]
        if not all(any(v.chunk_id == p.chunk_id for p in visible) for v in values):
            self.stats["trace_search_missed"] += 1
            return None
        step = f"search_reports({compact(search['args'], 200)}) → {compact(call.result, 600)}"
        trace_id = f"trace-{self.ctx.doc_id}-{f1.item}-{f1.fiscal_year}-{lang}"
        a = Candidate(
            type="agent_trace",
            language=lang,
            question=q,
            generator="template:agent_trace",
            fmt="tool_call",
            messages=plan_messages(q, first, self.tool_text, [], search),
            passages=first,
            doc_ids=[self.ctx.doc_id],
            file=self.ctx.doc.file_name,
            page=None,
            extra={"trace": {"id": trace_id, "step": 1, "of": 2}, "app": self._app(q)},
        )
        expr, value = self._yoy_expression(f0, f1)
        b = self._calc_candidate(
            "agent_trace",
            "template:agent_trace",
            lang,
            q,
            visible,
            expr,
            value,
            [f0, f1],
            values,
            steps=[step],
            extra={"trace": {"id": trace_id, "step": 2, "of": 2}},
        )
        return None if b is None else (a, b)


# --- comparisons across two documents ---------------------------------------------------------------
def comparisons(a: FactTemplates, b: FactTemplates, n: int, seed: int) -> Iterator[Candidate]:
    """Which of two companies had the higher value of one item in one year (answer format, both
    values cited). Only for two reports in the same currency."""
    rng = random.Random(f"{seed}:{a.ctx.doc_id}:{b.ctx.doc_id}:compare")
    fa, fb = a._facts_by(), b._facts_by()
    keys = sorted(k for k in fa if k in fb and k[1] == "consolidated")
    rng.shuffle(keys)
    made = 0
    for key in keys:
        if made >= n:
            return
        x, y = fa[key], fb[key]
        if (
            x.currency != y.currency
            or x.base_value == y.base_value
            or (x.item or "") in ("cash_begin", "fx_effect_on_cash")
            or (x.item or "").startswith("eps")
        ):
            continue
        lang = rng.choice(["en", "zh"])
        item = item_name(key[0], lang)
        va, vb = fmt.amount(x, lang), fmt.amount(y, lang)
        ea, eb = a._evidence([x]), b._evidence([y])
        if not item or ea is None or eb is None:
            continue
        na, nb = a.ctx.name(lang), b.ctx.name(lang)
        q = rng.choice(_COMPARE[lang]).format(i=item, y=key[2], a=na, b=nb)
        must = ea[1] + eb[1]
        sources = a.ctx.sources(
            q, must, rng, doc_ids=[a.ctx.doc_id, b.ctx.doc_id], k=max(a.ctx.top_k, len(must))
        )
        ids = [p.chunk_id for p in sources]
        ia, ib = 1 + ids.index(ea[0][0].chunk_id), 1 + ids.index(eb[0][0].chunk_id)
        hi, lo = (
            ((na, va, ia), (nb, vb, ib))
            if x.base_value > y.base_value
            else ((nb, vb, ib), (na, va, ia))
        )
        if lang == "zh":
            out = (
                f"{key[2]}年{hi[0]}的{item}更高，为{hi[1]} [{hi[2]}]；{lo[0]}为{lo[1]} [{lo[2]}]。"
            )
        else:
            out = (
                f"{hi[0]} had the higher {item} in fiscal {key[2]}: {hi[1]} [{hi[2]}], "
                f"compared with {possessive(lo[0])} {lo[1]} [{lo[2]}]."
            )
        made += 1
        yield answer_candidate(
            "compare",
            lang,
            q,
            sources,
            out,
            doc_ids=[a.ctx.doc_id, b.ctx.doc_id],
            file=a.ctx.doc.file_name,
            page=x.page,
            cited=[
                (x.doc_id, a.ctx.doc.file_name, x.page),
                (y.doc_id, b.ctx.doc.file_name, y.page),
            ],
            extra={"facts": [_fact_ref(x), _fact_ref(y)], "app": a.app.facts_route(q)},
        )


def answer_candidate(
    kind: str,
    lang: str,
    q: str,
    sources: list[Passage],
    out: str,
    *,
    generator: str = "",
    **rest: Any,
) -> Candidate:
    """An answer item of template ``kind``: the question with its numbered sources → ``out``."""
    return Candidate(
        type=kind,
        language=lang,
        question=q,
        generator=generator or f"template:{kind}",
        fmt="answer",
        messages=answer_messages(q, sources, out),
        passages=sources,
        **rest,
    )


def _fact_ref(f: Fact) -> dict[str, Any]:
    return {
        "item": f.item,
        "label": f.label,
        "year": f.fiscal_year,
        "scope": f.scope,
        "value": f.value,
        "scale": f.scale,
        "unit": f.unit_label,
        "currency": f.currency,
        "page": f.page,
        "doc_id": f.doc_id,
    }
