"""Question analysis: which companies, years and documents a question is about, and follow-up
rewriting ("and in 2017?" → the previous question with the year replaced).

Company names are matched against the catalogue (company names, detected aliases such as 证券简称,
the name without its legal suffix, and a distinctive first word when no other indexed company
shares it). Everything here is deterministic: a 0.5–1.5B model is too slow and too unreliable to
rewrite questions on a CPU.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from backend.domain.companies import company_key, name_key, strip_legal
from backend.domain.text import CJK
from backend.records import Document

_YEAR = re.compile(r"(?<![\d.,])(?:fy\s?'?|fiscal\s+(?:year\s+)?)?((?:19|20)\d{2})(?![\d])", re.I)
_FY_SHORT = re.compile(r"\bfy\s?'?(\d{2})\b", re.I)
_QUARTER = re.compile(r"\b(q[1-4]|quarter|quarterly|10-q|three months|six months)\b|季度", re.I)
_EIGHT_K = re.compile(r"\b8-k\b", re.I)
_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|what of|and for|same for|and in|and the|also|then|now|"
    r"same question for)\b|^\s*(那|那么|还有|同期|上一年|去年|再看|换成)",
    re.I,
)
_GENERIC_WORDS = {
    "american", "general", "united", "first", "national", "international", "the", "new",
    "global", "china", "north", "south", "west", "east", "great", "royal", "best", "big",
}  # fmt: skip
_ZH_NAME = re.compile(r"([\u4e00-\u9fff]{2,20}?(?:股份有限公司|有限责任公司|有限公司|集团|股份))")


# Qualifiers that make a statement line the wrong answer ("fourth-quarter revenue", "国外营业收入",
# "其他流动资产", "repurchase authorization"): such questions go to the search route.
_NARROW = re.compile(
    r"\b(quarters?|quarterly|q[1-4]|segments?|geographic\w*|regions?|regional|international|"
    r"domestic|foreign|other|authori[sz]\w*|programs?|guidance|forecast\w*|outlook|"
    r"employees?|per store|backlog)\b|季度|半年|分部|国外|境外|国内|境内|地区|其他|授权|计划|预计|"
    r"前五|子公司",
    re.I,
)


# How the asker wants an absence answered, written after the question: "If there is no mention,
# return False." / "If data is not available, return 'N/A'." (ERC's form). The clause is not
# what to look for: it is taken off the question the routes and the search read.
_IF_ABSENT = re.compile(
    r"\s*\bif\s+(?:there\s+is\s+no\s+mention|(?:it\s+is\s+|this\s+is\s+)?not\s+mentioned|"
    r"(?:the\s+)?(?:data|information)\s+is\s+not\s+(?:available|disclosed|mentioned|reported))"
    r"\s*,?\s*(?:please\s+)?(?:return|answer|reply|respond\s+with|say)\s*:?\s*"
    r"['\"‘“]?(?P<value>n/a|false|no|true|yes)['\"’”]?\s*[.!]?\s*$",
    re.I,
)


# "… at the end of the period listed in annual report", "(within the last period or at the end
# of the last period)": the report's latest period, which is what a question without a year
# gets anyway; its words ("listed", "last") are no words of a row or a passage.
_LATEST_PERIOD = re.compile(
    r"\s*\(within the last period or at the end of the last period\)|"
    r"\s+at the end of the period listed in (?:the )?annual report\b",
    re.I,
)


def answer_form(question: str) -> tuple[str, str]:
    """What to look for, apart from how to answer: ``question`` without the phrases that only
    say how ("the latest period"; a closing "if there is no mention, return False"), and the
    answer it asks for when the reports say nothing ("False", "No" …; "" for 'N/A', which is
    the product's own "not found")."""
    question = _LATEST_PERIOD.sub("", question)
    m = _IF_ABSENT.search(question)
    if m is None:
        return question, ""
    value = m.group("value")
    return question[: m.start()].rstrip(), "" if value.lower() == "n/a" else value.capitalize()


def asks_quarter(text: str) -> bool:
    """The question is about a quarter (or a 10-Q's three or six months), not a whole year."""
    return bool(_QUARTER.search(text))


def narrow_question(text: str) -> bool:
    """The question qualifies a statement line (a quarter, a segment, a region, "other"…), so the
    annual statement row is not its answer."""
    return bool(_NARROW.search(text))


def language_of(text: str) -> str:
    cjk = len(CJK.findall(text))
    return "zh" if cjk >= 2 and cjk >= 0.2 * len(re.sub(r"\s", "", text)) else "en"


def _norm(text: str) -> str:
    """The comparable form of ``text`` padded with spaces, for whole-word substring search."""
    return f" {name_key(text)} "


def years_in(text: str) -> list[int]:
    years = [int(m.group(1)) for m in _YEAR.finditer(text)]
    years += [2000 + int(m.group(1)) for m in _FY_SHORT.finditer(text)]
    return sorted(set(y for y in years if 1990 <= y <= 2100))


@lru_cache(maxsize=8192)  # every search within a company's reports looks for its names
def _name_pattern(name: str) -> re.Pattern[str]:
    """Where a normalised name (:func:`name_key`) is written in the original text: any case,
    punctuation between its words, "&" for "and"."""
    if CJK.search(name):
        return re.compile(r"\s*".join(re.escape(c) for c in name.replace(" ", "")))
    words = ["(?:and|&)" if w == "and" else re.escape(w) for w in name.split()]
    return re.compile(r"(?<![^\W_])" + r"[\W_]*".join(words) + r"(?![^\W_])", re.I)


@dataclass
class CompanyIndex:
    """Names → doc ids, built from the catalogue's complete documents."""

    docs: dict[str, Document]
    names: dict[str, set[str]] = field(default_factory=dict)  # normalised name → doc ids

    @classmethod
    def build(cls, docs: Sequence[Document]) -> CompanyIndex:
        index = cls({d.doc_id: d for d in docs})
        first_words: dict[str, set[str]] = {}
        for d in docs:
            names = {n for n in [d.company, *d.aliases] if n}
            for n in list(names):
                names.add(strip_legal(n))
            for n in names:
                key = name_key(n)
                if len(key) >= 2:
                    index.names.setdefault(key, set()).add(d.doc_id)
            core = strip_legal(d.company) if d.company else ""
            if core and not CJK.search(core):
                first = next(iter(name_key(core).split()), "")
                if len(first) >= 4 and first not in _GENERIC_WORDS:
                    first_words.setdefault(first, set()).add(name_key(core))
        for first, owners in first_words.items():
            if len(owners) == 1:  # distinctive: only one indexed company starts with it
                (owner,) = owners
                index.names.setdefault(first, set()).update(index.names.get(owner, set()))
        return index

    def companies_in(self, text: str) -> list[str]:
        """Doc ids of every company named in ``text`` (longest names matched first)."""
        return sorted(set().union(*self.mentions(text)))

    def mentions(self, text: str) -> list[set[str]]:
        """One set of doc ids per distinct company name found in ``text``: "Adobe" is one mention
        even when it matches both "Adobe Inc." and "Adobe Systems Incorporated" (renamed)."""
        hay = _norm(text)
        groups: list[set[str]] = []
        consumed = hay
        for name in sorted(self.names, key=len, reverse=True):
            needle = name if CJK.search(name) else f" {name} "
            if needle in consumed:
                ids = set(self.names[name])
                same = next((g for g in groups if self._same_company(g, ids)), None)
                if same is not None:
                    same |= ids
                else:
                    groups.append(ids)
                consumed = consumed.replace(needle, " ")
        if not groups and CJK.search(text):
            # "华锦股份" for 北方华锦化学工业股份有限公司: the name's core inside a full name
            for m in _ZH_NAME.finditer(text):
                core = strip_legal(m.group(1))
                if len(core) >= 2:
                    ids = set()
                    for name, owners in self.names.items():
                        if core in name and CJK.search(name):
                            ids |= owners
                    if ids:
                        groups.append(ids)
        return groups

    def name_spans(self, text: str) -> list[tuple[int, int, set[str]]]:
        """(start, end, doc ids) of every indexed company name written in ``text``, in order;
        longer names win over names inside them ("3M Company" over "3M")."""
        taken: list[tuple[int, int, set[str]]] = []
        for name in sorted(self.names, key=len, reverse=True):
            for m in _name_pattern(name).finditer(text):
                if all(m.end() <= s or m.start() >= e for s, e, _ in taken):
                    taken.append((m.start(), m.end(), set(self.names[name])))
        return sorted(taken, key=lambda span: span[0])

    def _same_company(self, a: set[str], b: set[str]) -> bool:
        """Two name matches denote one company when they share a document ("3M" and "3M
        Company") or one's names are all inside the other's ("Adobe" / "Adobe Inc.")."""
        if a & b:
            return True
        names_a = {company_key(self.docs[d].company) for d in a if d in self.docs}
        names_b = {company_key(self.docs[d].company) for d in b if d in self.docs}
        return bool(names_a & names_b)

    def names_of(self, doc_ids: Sequence[str]) -> list[str]:
        """Names and aliases of the documents' companies, and the names found for them."""
        out: list[str] = []
        for d in doc_ids:
            doc = self.docs.get(d)
            if doc is not None:
                out += [n for n in [doc.company, *doc.aliases, doc.ticker] if n and n not in out]
        out += [n for n, ids in self.names.items() if ids & set(doc_ids) and n not in out]
        return out

    def company_label(self, doc_ids: Sequence[str]) -> list[str]:
        return sorted({self.docs[d].company for d in doc_ids if d in self.docs})


@dataclass
class QueryPlan:
    question: str  # standalone question (after follow-up rewriting)
    original: str
    language: str
    years: list[int]
    company_docs: list[str]  # doc ids of the companies named (empty: none named)
    doc_ids: list[str] | None  # documents to search (None: all)
    companies: list[str]
    rewritten: bool = False
    unknown_company: bool = False
    named: int = 0  # distinct companies named in the question (aliases of one company count once)
    #: every name and alias of the companies named (to tell them apart from qualifiers)
    names: list[str] = field(default_factory=list)
    excluded: str = ""  # 'company' / 'year': the filtered documents cannot answer (see _excluded)
    #: years asked that no report searched can hold (after the latest fiscal year; see _uncovered)
    uncovered: list[int] = field(default_factory=list)
    #: the answer the question asks for when nothing is found ("False" after "If there is no
    #: mention, return False."; the clause is not part of ``question``); "" = "not found"
    if_absent: str = ""


_ANAPHORA = re.compile(
    r"\b(its|their|it|they|them|the company|that company|this company|the firm|same period|"
    r"that year|the same)\b|该公司|这家公司|其(?!他|中)|它|他们|同期|该年",
    re.I,
)
_RELATIVE_YEAR = (
    (
        -1,
        re.compile(
            r"\b(?:previous|prior|preceding|last) (?:fiscal )?year\b|\bthe year before\b|"
            r"\ba year (?:earlier|before)\b|上一年|去年|前一年|上年",
            re.I,
        ),
    ),
    (
        1,
        re.compile(
            r"\b(?:next|following|subsequent) (?:fiscal )?year\b|\ba year later\b|下一年|次年|后一年",
            re.I,
        ),
    ),
)
# what may stand around a company and a year in a bare follow-up ("What about 3M in 2019?")
_FILLER = re.compile(
    r"\b(?:and|what|how|about|for|in|the|of|then|also|same|now|please|ok|okay|fy|fiscal|year|"
    r"years|s|instead|again)\b|那么|那|还有|呢|的|吗|年度|年|情况|怎么样|如何|再看|换成|是多少|多少|"
    r"呢|请问|看看|的呢",
    re.I,
)


def _relative_shift(text: str) -> int:
    """-1 for "the previous year" / 去年, +1 for "the following year", else 0."""
    return next((shift for shift, pattern in _RELATIVE_YEAR if pattern.search(text)), 0)


def _bare(question: str, spans: Sequence[tuple[int, int]]) -> bool:
    """Nothing in ``question`` but a follow-up marker, company names, years and filler words."""
    rest = question
    for start, end in sorted(spans, reverse=True):
        rest = rest[:start] + " " + rest[end:]
    rest = _FY_SHORT.sub(" ", _YEAR.sub(" ", rest))
    for _, pattern in _RELATIVE_YEAR:
        rest = pattern.sub(" ", rest)
    rest = _FILLER.sub(" ", _FOLLOW_UP.sub(" ", rest))
    return not re.search(r"[^\W_]", rest)


def _asks_item(text: str) -> bool:
    """The question asks for a statement item or a metric (and so is about some company)."""
    from backend.domain.items import items_in
    from backend.domain.metrics import find_metric

    return bool(items_in(text)) or find_metric(text) is not None


def _replace_years(text: str, old: Sequence[int], new: Sequence[int]) -> str:
    """``text`` with the years ``old`` replaced by ``new`` (pairwise; extra old years by the
    first new one)."""
    for i, year in enumerate(old):
        repl = new[i] if i < len(new) else new[0]
        text = re.sub(rf"(?<!\d){year}(?!\d)", str(repl), text)
    return text


def _with_years(text: str, years: Sequence[int]) -> str:
    """``text`` (which names no year) asked about ``years``."""
    shown = ", ".join(str(y) for y in years)
    if language_of(text) == "zh":
        return f"{text.rstrip('?？。 ')}（{shown}年）"
    return f"{text.rstrip('?. ')} in {shown}?"


def _base_question(history: Sequence[str], index: CompanyIndex) -> str | None:
    """The question a follow-up refers to: the latest that names a company, else the latest that
    names a year (an unrelated question in between is skipped)."""
    for pred in (lambda q: bool(index.name_spans(q)), lambda q: bool(years_in(q))):
        for prev in reversed(history):
            if pred(prev):
                return prev
    return None


def _substitute(
    base: str, index: CompanyIndex, company: str, years: Sequence[int], shift: int
) -> str:
    """``base`` with its company replaced by ``company`` and its years by ``years`` (or shifted
    by ``shift``)."""
    out = base
    if company:
        spans = index.name_spans(base)
        first = spans[0][2] if spans else set()
        for start, end, ids in sorted(spans, reverse=True):
            if ids & first or index._same_company(ids, first):
                left = " " if start and re.match(r"[^\W_]", out[start - 1]) else ""
                right = " " if end < len(out) and re.match(r"[^\W_]", out[end]) else ""
                if CJK.search(company):
                    left = right = ""
                out = out[:start] + left + company + right + out[end:]
    old = years_in(base)
    new = list(years) or [y + shift for y in old]
    if old and new:
        return _replace_years(out, old, new)
    if new:
        return _with_years(out, new)
    return out


def _inherit(question: str, base: str, index: CompanyIndex, years: Sequence[int]) -> str:
    """``question`` with the company (and, when it names none, the years) of ``base`` added."""
    companies = index.company_label(index.companies_in(base))
    extra = list(companies)
    if not years:
        extra += [str(y) for y in years_in(base)]
    if not extra:
        return question
    if language_of(question) == "zh":
        return f"{question.strip()}（{', '.join(extra)}）"
    return f"{question.strip()} ({', '.join(extra)})"


def rewrite_follow_up(question: str, history: Sequence[str], index: CompanyIndex) -> str:
    """Make a follow-up stand-alone using the earlier (stand-alone) questions of the conversation.

    * company substitution: "What about 3M?" / "那常柴呢？" → the referred question with its
      company replaced (years too when given: "How about Costco in 2020?");
    * year substitution: "and in 2017?" / "去年呢？" / "the year before?" → the referred question
      with its years replaced;
    * an elliptical question ("and its net income?", "What was the revenue in 2018?") gets the
      referred question's company (and years when it names none);
    * a question that names its own company, or is unrelated (no follow-up marker, no pronoun,
      no statement item or metric), is left alone.

    The referred question is the latest that names a company, so an unrelated question in between
    does not break a conversation ("several turns back").
    """
    if not history:
        return question
    base = _base_question(history, index)
    if base is None:
        return question
    spans = index.name_spans(question)
    years = years_in(question)
    shift = 0 if years else _relative_shift(question)
    marker = bool(_FOLLOW_UP.match(question))
    if spans:
        if not marker:
            return question  # names its own company
        if _bare(question, [(s, e) for s, e, _ in spans]):
            start, end, _ = spans[0]
            return _substitute(base, index, question[start:end], years, shift)
        prev_years = years_in(base)
        return _with_years(question, prev_years) if prev_years and not years else question
    if (years or shift) and _bare(question, []):
        return _substitute(base, index, "", years, shift)
    if marker or shift or _ANAPHORA.search(question) or _asks_item(question):
        if shift and years_in(base):
            years = [y + shift for y in years_in(base)]
            return _inherit(_with_years(question, years), base, index, years)
        return _inherit(question, base, index, years)
    return question


def plan_query(
    question: str,
    index: CompanyIndex,
    *,
    history: Sequence[str] = (),
    doc_filter: Sequence[str] | None = None,
    year_filter: int | None = None,
) -> QueryPlan:
    """Decide which documents to search for ``question``.

    A named company restricts the search to its reports (FinanceBench measured 19% accuracy on a
    shared store against 50% per document). Among them, the report whose fiscal year is the latest
    year asked about is preferred (a 2019 10-K also carries 2018 figures); annual reports are
    preferred over quarterlies unless the question is about a quarter.
    """
    filter_docs = _filter_company_docs(index, doc_filter)
    standalone = rewrite_follow_up(question, history, index)
    if filter_docs and not index.companies_in(question):
        named = set(index.companies_in(standalone))
        if named and not named & set(filter_docs):  # the filter, not the history, names it
            standalone = question
    rewritten = standalone != question
    standalone, absent = answer_form(standalone)
    years = years_in(standalone)
    if year_filter and not years:  # the filter's year, unless the question names its own
        years = [year_filter]
    mentions = index.mentions(standalone)
    excluded = _excluded(index, doc_filter, sorted(set().union(*mentions)), years)
    if not mentions and filter_docs:  # the filters name the company: the plan's company
        mentions = [set(filter_docs)]
    company_docs = sorted(set().union(*mentions))
    candidates = list(doc_filter) if doc_filter else (company_docs or None)
    if doc_filter and company_docs:
        narrowed = [d for d in doc_filter if d in company_docs]
        candidates = narrowed or list(doc_filter)
    unknown = False
    if candidates is None and not doc_filter:
        unknown = _names_unknown_company(standalone, index)
    if candidates and years and len(candidates) > 1:
        if len(mentions) > 1 and not doc_filter:  # a comparison: each company's best report
            picked: set[str] = set()
            for group in mentions:
                picked.update(_prefer_year(sorted(group), years, index, standalone))
            candidates = sorted(picked)
        else:
            candidates = _prefer_year(candidates, years, index, standalone)
    return QueryPlan(
        uncovered=_uncovered(index, candidates, years, standalone),
        question=standalone,
        original=question,
        language=language_of(question),
        years=years,
        company_docs=company_docs,
        doc_ids=candidates,
        companies=_companies_first_selected(index, company_docs, candidates),
        rewritten=rewritten,
        unknown_company=unknown,
        named=len(mentions),
        names=index.names_of(company_docs),
        excluded=excluded,
        if_absent=absent,
    )


def _filter_company_docs(index: CompanyIndex, doc_filter: Sequence[str] | None) -> list[str]:
    """The filtered documents when they are all one company's (the filters then name the company
    a question is about), else []."""
    docs = [index.docs[d] for d in doc_filter or [] if d in index.docs]
    keys = {company_key(d.company) for d in docs}
    if not docs or len(keys) != 1 or "" in keys:
        return []
    return sorted(d.doc_id for d in docs)


def _excluded(
    index: CompanyIndex, doc_filter: Sequence[str] | None, named: list[str], years: list[int]
) -> str:
    """Why the filtered documents cannot answer: 'company' (the question names companies none of
    whose reports is selected), 'year' (no selected report covers a year asked; a report covers
    its fiscal year and the two before it), or ''."""
    if doc_filter is None:
        return ""
    if named and not set(named) & set(doc_filter):
        return "company"
    fiscal = [index.docs[d].fiscal_year for d in doc_filter if d in index.docs]
    if years and fiscal and None not in fiscal:
        if not any(y <= f <= y + 2 for y in years for f in fiscal if f is not None):
            return "year"
    return ""


_FORWARD = re.compile(
    r"\b(?:expect\w*|guidance|forecast\w*|outlook|plan(?:s|ned)?|project\w*|anticipat\w*|"
    r"target\w*|estimate\w*|budget\w*|will|next|future|commitments?|maturit\w*|due|"
    r"schedul\w*|payable|obligations?)\b|预计|预期|计划|目标|展望|将|未来|到期",
    re.I,
)


def _uncovered(
    index: CompanyIndex, candidates: Sequence[str] | None, years: Sequence[int], question: str
) -> list[int]:
    """Years asked that none of the searched reports can hold: more than a year after the latest
    fiscal year (a report also states facts as of its filing date; forward-looking questions —
    guidance, commitments, maturities — reach ten years on), or more than ten years before the
    earliest. Empty when a report's fiscal year is unknown."""
    docs = [index.docs[d] for d in candidates or index.docs if d in index.docs]
    fiscal = [d.fiscal_year for d in docs if d.fiscal_year is not None]
    if not years or not fiscal or len(fiscal) < len(docs):
        return []
    reach = 10 if _FORWARD.search(question) else 1
    return [y for y in years if y > max(fiscal) + reach or y < min(fiscal) - 10]


def _companies_first_selected(
    index: CompanyIndex, company_docs: list[str], selected: list[str] | None
) -> list[str]:
    """Company names of ``company_docs``, those of the selected documents first."""
    first = index.company_label([d for d in selected or [] if d in company_docs])
    return first + [c for c in index.company_label(company_docs) if c not in first]


def _prefer_year(
    candidates: list[str], years: list[int], index: CompanyIndex, question: str
) -> list[str]:
    docs = [index.docs[d] for d in candidates if d in index.docs]
    quarterly = asks_quarter(question)
    eight_k = bool(_EIGHT_K.search(question))

    def kind_ok(d: Document) -> bool:
        t = d.report_type.lower()
        if eight_k:
            return "8-k" in t
        if quarterly:
            return "10-q" in t or "earnings" in t or "季度" in t
        return "10-q" not in t and "8-k" not in t and "earnings" not in t

    target = max(years)
    for pick in (
        lambda d: d.fiscal_year == target and kind_ok(d),
        lambda d: d.fiscal_year is not None and target < d.fiscal_year <= target + 2 and kind_ok(d),
        lambda d: d.fiscal_year == target,
        lambda d: d.fiscal_year is not None and min(years) <= d.fiscal_year <= target + 2,
    ):
        chosen = [d.doc_id for d in docs if pick(d)]
        if chosen:
            return chosen
    return candidates


_COMPANY_HINT = re.compile(
    r"\b(?:of|for|did|does|is|was|has|at)\s+((?:[A-Z][\w&.'-]+\s?){1,4})(?:'s)?\b"
)
_POSSESSIVE = re.compile(r"((?:[A-Z][\w&.-]*\s+){0,3}[A-Z][\w&.-]*)['’]s\b")
_NOT_COMPANY = {
    "fy",
    "gaap",
    "ebitda",
    "ebit",
    "usd",
    "ceo",
    "cfo",
    "board",
    "company",
    "group",
    "q1",
    "q2",
    "q3",
    "q4",
    "sec",
    "us",
    "u.s",
    "net",
    "total",
    "the",
    "its",
    "this",
    "year",
    "what",
    "how",
}


def _names_unknown_company(question: str, index: CompanyIndex) -> bool:
    """True when the question clearly names a company that is not indexed."""
    if language_of(question) == "zh":
        m = re.search(r"([\u4e00-\u9fff]{2,20}(?:股份有限公司|有限公司|集团|股份))", question)
        return bool(m) and not index.companies_in(m.group(1))
    for m in _POSSESSIVE.finditer(question):
        name = m.group(1).strip()
        words = name.split()
        while words and words[0].lower() in _NOT_COMPANY | {"what", "is", "was", "did", "does"}:
            words = words[1:]
        if (
            words
            and words[-1].lower() not in _NOT_COMPANY
            and not index.companies_in(" ".join(words))
        ):
            return True
    for m in _COMPANY_HINT.finditer(question):
        name = m.group(1).strip()
        words = [w for w in name.split() if w[:1].isupper()]
        if not words or words[0] in {"FY", "The", "GAAP", "USD", "Q1", "Q2", "Q3", "Q4"}:
            continue
        if re.search(r"\b(Inc|Corp|Corporation|Company|Ltd|Limited|plc|Group|Holdings)\b", name):
            return not index.companies_in(name)
    return False
