"""Scoring of predicted answers against gold items in the format of ``dev.jsonl``.

* ``N/A`` gold: correct when the prediction refused.
* numeric gold (``answer_value`` + ``tolerance``, default 1%; FinQA's ``answer_numeric``; or a gold
  answer that is a number / list of numbers): the number the answer states must match within the
  tolerance in any scale notation ("$1,577 million" = "1.577 billion" = "1577"); for lists every
  gold number must appear in the answer. A gold printed as text may also be the answer's number
  rounded to the gold's printed precision ("5.43%" for "5.4%"; not for whole numbers under 100).
* yes/no/true/false gold: the answer's polarity must match.
* Chinese gold with ``answers`` (FinGLM): the conclusion number (the last number of the gold) must
  be the answer's number; a gold without numbers must share its key token (e.g. the URL).
* other text: every number of the gold must appear in the answer and at least 40% of the gold's
  content words (a lenient heuristic for long free-text gold; reported per question type so that
  readers can discount it).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from backend.domain.numbers import (
    Number,
    parse_numbers,
    rounds_to_printed,
    same_amount,
    strip_citations,
)

_YES = re.compile(r"^\W*(yes|true|correct|是的|是)\b", re.I)
_NO = re.compile(r"^\W*(no|false|not|否|不是|没有)\b", re.I)
_WORD = re.compile(r"[a-z][a-z0-9'-]+|[\u4e00-\u9fff]")
_STOP = set(
    "the a an of and or to in on for by with as at from is was were are be been its it this that "
    "their which has have had than into over per also not no yes".split()
)


def _numbers(text: str) -> list[float]:
    return [n.value for n in parse_numbers(text, skip_years=True)]


def gold_list(answer: str) -> list[str]:
    """TAT-QA style "['2,795', '2,780']" → ['2,795', '2,780']; other text → [text]."""
    s = answer.strip()
    if s.startswith("[") and s.endswith("]"):
        try:
            value = ast.literal_eval(s)
            if isinstance(value, list):
                return [str(v) for v in value]
        except (ValueError, SyntaxError):
            pass
    return [s]


def polarity(text: str) -> bool | None:
    if _YES.search(text):
        return True
    if _NO.search(text):
        return False
    return None


#: A run of Chinese characters, or of ASCII letters, digits and URL / address punctuation.
_TOKEN = re.compile(r"[\u4e00-\u9fff]+|[A-Za-z0-9][A-Za-z0-9./:@_%?&=#~+-]*")


def _shared_key(phrasings: list[str]) -> str:
    """The longest token every phrasing of a FinGLM text answer holds — the value itself
    ("http://www.changchai.com.cn" in "…的公司网址是http://…" and "http://…是…的公司网址")."""
    common = set(_TOKEN.findall(phrasings[0]))
    for other in phrasings[1:]:
        common &= set(_TOKEN.findall(other))
    return max(common, key=len, default="")


def _close(a: float, b: float, tol: float) -> bool:
    return same_amount(a, b, rel_tol=max(tol, 1e-9)) or math.isclose(a, b, abs_tol=0.006)


def rounds_to_gold(value: float, gold: Number) -> bool:
    """``value`` rounded to the precision the gold is printed in is the gold ("5.43 %" for a gold
    "5.4%", "$381,603 thousand" for "$382.00" million); a gold printed without decimals counts
    only from 100 up (rounding 1.6 to "2" is not the same answer)."""
    digits = re.search(r"\.(\d+)", gold.text)
    whole = not (digits and digits.group(1).rstrip("0"))
    if whole and abs(gold.value) < 100:
        return False
    return rounds_to_printed(value, gold)


def score(item: dict[str, Any], pred: dict[str, Any]) -> bool:
    """Is ``pred`` (a line of the evaluation output) a correct answer to gold ``item``?"""
    gold = str(item.get("answer", "")).strip()
    text = str(pred.get("answer", ""))
    refused = bool(pred.get("refused"))
    if gold.upper() == "N/A":
        return refused
    if refused:
        return False
    tol = float(item.get("tolerance") or 0.01)
    value = pred.get("answer_value")
    values_in_answer = _numbers(strip_citations(text))
    if item.get("answer_value") is not None:
        golds = [float(item["answer_value"])]
        if item.get("answer_numeric"):
            golds.append(float(item["answer_numeric"]))
        cands = [value] if value is not None else values_in_answer[:1]
        return any(_close(c, g, tol) for c in cands if c is not None for g in golds)
    if item.get("answer_numeric"):
        g = float(item["answer_numeric"])
        cands = [value] if value is not None else values_in_answer[:1]
        return any(_close(c, g, 0.02) or _close(c, g * 100, 0.02) for c in cands if c is not None)
    pol = polarity(gold)
    if pol is not None and len(gold.split()) <= 3:
        return polarity(text) == pol
    if item.get("answers"):  # FinGLM: several phrasings, the conclusion number is last
        nums = _numbers(item["answers"][0])
        if nums:
            return value is not None and _close(value, nums[-1], max(tol, 0.005))
        key = _shared_key(item["answers"])
        return bool(key) and key.lower() in text.lower()
    parts = gold_list(gold)
    printed = [n for p in parts for n in parse_numbers(p, skip_years=True)]
    gold_nums = [n.value for n in printed]
    if gold_nums and all(_numbers(p) for p in parts):
        # spans copied from a table must match as printed, or round to the gold as printed
        span_tol = tol if item.get("tolerance") else 0.001
        return all(
            any(_close(v, g.value, span_tol) or rounds_to_gold(v, g) for v in values_in_answer)
            for g in printed
        )
    if pol is not None:
        return polarity(text) == pol
    if gold_nums and not all(any(_close(v, g, tol) for v in values_in_answer) for g in gold_nums):
        return False
    words = {w for w in _WORD.findall(gold.lower()) if w not in _STOP}
    if not words:  # "['2018']": every part (a year, a code) must be in the answer
        return all(p.lower() in text.lower() for p in parts)
    have = set(_WORD.findall(text.lower()))
    return len(words & have) / len(words) >= 0.4


def gold_pages(item: dict[str, Any]) -> list[list[tuple[str, int]]]:
    """Pools of acceptable (file name, page) evidence; hitting any page of a pool counts."""
    pools: list[list[tuple[str, int]]] = []
    if item.get("reference_pools"):
        for pool in item["reference_pools"]:
            pools.append([(p["doc"].split("/")[-1], int(p["page"])) for p in pool])
        return [p for p in pools if p]
    if item.get("evidence_pages"):
        pools.append([(p["doc"].split("/")[-1], int(p["page"])) for p in item["evidence_pages"]])
        return pools
    page = item.get("page")
    if page is None:
        return []
    doc = str(item.get("doc", "")).split("/")[-1]
    pages = page if isinstance(page, list) else [page]
    return [[(doc, int(p)) for p in pages]]


def page_hit(item: dict[str, Any], retrieved: list[dict[str, Any]], k: int) -> bool | None:
    """Evidence page among the top ``k`` retrieved (None when the item has no gold page)."""
    pools = gold_pages(item)
    if not pools:
        return None
    top = {(str(r["doc"]).split("/")[-1], int(r["page"])) for r in retrieved[:k]}
    return any(any(p in top for p in pool) for pool in pools)
