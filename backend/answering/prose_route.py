"""The prose route: a figure a report states in a sentence once per year, read with no model.

Many figures are printed in sentences, not tables: "Rent charged to operating expense was $244
million for 2016, $249 million for 2015 and $309 million for 2014." / "As of December 31, 2019
and 2018, the Company had $72,000 and $140,000, respectively, deposited in escrow as restricted
cash". A sentence of the retrieved pages (their whole text, so a sentence cut between two
passages is whole again) answers when

* it gives a value per year — each amount followed by "for/in/during YEAR", or as many amounts
  as years with "respectively";
* every content word of the question is in it, before its first amount (the sentence is about
  the question's item, not merely near it) — or anywhere in a "respectively" sentence;
* every year asked has exactly one value.

It then answers a value, the values of the years asked, their sum (the question adds them up:
"total rent … for 2016, 2015 and 2014", where the sentence itself does not say "total"), or a
change or average between two years, computed by the calculator and shown; the sentence is
cited. Anything else goes on to the model. English reports only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from backend.answering.answer import Answer, Citation
from backend.answering.evidence import sentences
from backend.answering.plan import QueryPlan
from backend.answering.route import SUM_ASK, Route, asks_decimals
from backend.answering.table_rows import PERCENT_ASK, printed_decimals, terms
from backend.answering.tools import Toolbox
from backend.domain import format as fmt
from backend.domain.injection import instruction_like
from backend.domain.numbers import Number, parse_numbers
from backend.domain.text import YEAR

#: "… $244 million for 2016", "… 3.1% in fiscal 2019", "… during fiscal year 2018".
_FOR_YEAR = re.compile(
    r"\s*,?\s*(?:for|in|during)\s+(?:(?:the\s+)?fiscal\s+(?:year\s+)?)?((?:19|20)\d\d)\b", re.I
)
#: Where a table's last number runs into the next sentence in a page's text ("… $45,407 As of
#: December 2016 …"), or a sentence ends with a year ("… for 2014. Operating leases …"): the
#: sentence starts again there.
_TABLE_END = re.compile(r"(?<=\d)\s+(?=[A-Z][a-z])|(?<=\d\.)\s+(?=[A-Z])")
#: Words saying the amounts that follow are changes, not the item's values.
_MOVED = re.compile(
    r"\b(?:increas|decreas|grew|declin|rose|fell|chang|improv|deteriorat)\w*|\b(?:higher|lower)\b",
    re.I,
)
_RESPECTIVELY = re.compile(r"\brespectively\b", re.I)
_TOTAL = re.compile(r"\btotal\b", re.I)
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "december31 quarter".split()
)
#: A word the table route passes over that still names what a sentence is about: "vested
#: shares" are not "options vested".
_SHARES = re.compile(r"\bshares?\b", re.I)
#: Pages read per question (those of the best passages, in rank order).
_PAGES = 4


@dataclass
class _Series:
    """One sentence's value per year."""

    sentence: str
    doc_id: str
    file_name: str
    page: int
    values: dict[int, Number]


def series(sentence: str) -> dict[int, Number]:
    """The sentence's value per year ({} when it gives none, or a year twice)."""
    numbers = parse_numbers(sentence)
    out: dict[int, Number] = {}
    for n in numbers:
        m = _FOR_YEAR.match(sentence, sentence.find(n.text, n.start) + len(n.text))
        if m:
            year = int(m.group(1))
            if year in out:
                return {}
            out[year] = n
    if len(out) >= 2:
        return out
    if not _RESPECTIVELY.search(sentence):
        return {}
    years = list(dict.fromkeys(int(y.group(0)) for y in YEAR.finditer(sentence)))
    amounts = [n for n in numbers if not (float(n.value).is_integer() and abs(n.value) < 32)]
    if len(years) < 2 or len(amounts) != len(years):
        return {}
    return dict(zip(years, amounts, strict=True))


class ProseRoute:
    """Answers one question from the sentences of the pages its search found."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox

    def answer(self, plan: QueryPlan, route: Route, answer: Answer) -> bool:
        if plan.language != "en" or not plan.years or route.narrative:
            return False
        names: set[str] = set()
        for name in plan.companies:
            names |= terms(name)
        wanted = (terms(plan.question) | _kept(plan.question)) - names - _DATE_WORDS
        if not wanted:
            return False
        asked = [int(m.group(0)) for m in YEAR.finditer(plan.question)]
        years = sorted(plan.years, key=lambda y: asked.index(y) if y in asked else len(asked))
        if len(years) == 1 and route.change and not route.average:
            years = [years[0] - 1, years[0]]  # "the growth rate of X in 2009": over 2009
        found = [s for s in self._series() if self._about(s.sentence, wanted)]
        found = [s for s in found if all(y in s.values for y in years)]
        if not found:
            return False
        picked = {tuple(s.values[y].base for y in years) for s in found}
        if len(picked) != 1:
            return False  # two sentences give different values: not for this route to choose
        return self._answer(replace(plan, years=years), route, answer, found[0])

    # -- reading --------------------------------------------------------------------------
    def _series(self) -> list[_Series]:
        pages = list(dict.fromkeys((p.doc_id, p.page) for p in self.toolbox.passages))[:_PAGES]
        out = []
        for doc_id, page in pages:
            text = self.toolbox.page_text(doc_id, page) or ""
            for whole in sentences(re.sub(r"\s+", " ", text)):
                for s in _TABLE_END.split(whole):  # "… Total $1,941 Rent charged to …"
                    if instruction_like(s):
                        continue  # text planted to steer a reader is data, never quoted as fact
                    values = series(s)
                    if values:
                        name = self.toolbox.file_name(doc_id)
                        out.append(_Series(s, doc_id, name, page, values))
        return out

    @staticmethod
    def _about(sentence: str, wanted: set[str]) -> bool:
        """Every content word of the question is in the sentence: before its first amount, or
        anywhere in a "…, respectively" sentence ("$72,000 and $140,000, respectively,
        deposited in escrow as restricted cash")."""
        numbers = parse_numbers(sentence)
        head = sentence
        if numbers and not _RESPECTIVELY.search(sentence):
            head = sentence[: numbers[0].start]
        if _MOVED.search(sentence[: numbers[0].start] if numbers else sentence):
            return False  # "Backlog increased $2.1 billion for 2016 …": amounts of a change
        return wanted <= terms(head) | _kept(head)

    # -- answering ------------------------------------------------------------------------
    def _answer(self, plan: QueryPlan, route: Route, answer: Answer, s: _Series) -> bool:
        picked = [(y, s.values[y]) for y in plan.years]
        scales = {n.scale for _, n in picked}
        shown = "; ".join(f"{n.text.strip()} in {y}" for y, n in picked)
        adds = SUM_ASK.search(plan.question) or (
            _TOTAL.search(plan.question) and not _TOTAL.search(s.sentence)
        )
        if route.compute and not (route.change or route.average or adds):
            return False  # a ratio or another formula: not a value the sentence states
        if len(picked) == 1:
            y, n = picked[0]
            text = f"{n.text.strip()} in {y}."
            return self._set(answer, s, text, n.value, n)
        if len(scales) != 1:
            return False
        if len(picked) == 2 and (route.change or route.average):
            (_, a), (_, b) = sorted(picked)
            rate = not route.average and not a.percent and bool(PERCENT_ASK.search(plan.question))
            if rate and not a.value:
                return False
            expr = fmt.change_expression(a.value, b.value, average=route.average, percent=rate)
            what = "the average" if route.average else "the change"
            unit = "%" if rate or (route.average and a.percent) else ""
        elif adds and not any(n.percent for _, n in picked):  # percentages do not add up
            expr, what, unit = " + ".join(fmt.plain(n.value) for _, n in picked), "together", ""
        else:
            return self._set(answer, s, f"{shown}.", picked[0][1].value, picked[0][1])
        calc = self.toolbox.call("calculate", {"expression": expr})
        if calc.error:
            return False
        value = calc.result["value"]
        d = 2 if unit == "%" or route.average else max(printed_decimals(n.text) for _, n in picked)
        if asks_decimals(plan.question):
            d = route.decimals
        result = fmt.result(value, unit, d)
        if unit != "%":
            result = _with_words(result, picked[0][1])
        text = f"{shown}; {what} {'is ' if what != 'together' else ''}{result}. Calculation: {expr} = {fmt.plain(value)}."
        n = picked[0][1]
        return self._set(answer, s, text, round(value, d), n, percent=unit == "%")

    def _set(
        self,
        answer: Answer,
        s: _Series,
        text: str,
        value: float,
        n: Number,
        *,
        percent: bool = False,
    ) -> bool:
        cite = Citation(s.doc_id, s.file_name, s.page, s.sentence[:200])
        quote = s.sentence if len(s.sentence) <= 240 else s.sentence[:237] + "…"
        answer.answer = f"{text.rstrip('.')} {cite.tag}. The report says: “{quote}”"
        answer.citations = [cite]
        answer.value = value
        answer.unit = "%" if percent or n.percent else _scale_word(n)
        answer.unverified_numbers = []
        answer.model = answer.model or "report text (no model needed)"
        answer.trace.append({"step": "prose_route", "sentence": s.sentence, "page": s.page})
        return True


def _kept(text: str) -> set[str]:
    """Words :func:`terms` passes over that name an item here ("shares")."""
    return {"share"} if _SHARES.search(text) else set()


def _scale_word(n: Number) -> str:
    m = re.search(r"\b(thousand|million|billion|trillion)s?\b", n.text, re.I)
    return m.group(1).lower() if m else ""


def _with_words(result: str, like: Number) -> str:
    """A computed amount written as the sentence writes its amounts ("$802 million")."""
    sign = "-" if result.startswith("-") else ""
    body = result.lstrip("-")
    cur = "$" if "$" in like.text else ""
    word = _scale_word(like)
    return f"{sign}{cur}{body}{' ' + word if word else ''}"
