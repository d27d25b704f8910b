"""Company names: the one normaliser used to match a name in a question, a tool argument or a
sidebar filter against the companies of the indexed reports.

* :func:`strip_legal` drops legal forms at the end ("Inc.", "Corporation", "and Subsidiaries",
  股份有限公司, 集团 …) and a leading "The": "The Coca-Cola Company" → "Coca-Cola".
* :func:`name_key` is the comparable form of a text: lower case, "&" as "and", possessive "'s" and
  punctuation removed, white space folded ("Adobe's" → "adobe").
* :func:`company_key` = ``name_key(strip_legal(name))``: "3M Company" and "3M" share "3m";
  "北方华锦化学工业股份有限公司" → "北方华锦化学工业".
* :func:`match_strength` grades how well a name given by a user denotes a company (3 same name, 2
  one contains the other as whole words, 1 most words shared, 0 unrelated).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from backend.domain.text import fixed_point, has_cjk

_LEGAL_EN = re.compile(
    r"[,\s]+(?:inc\.?|incorporated|corp\.?|corporation|company|co\.?|limited|ltd\.?|plc|ag|se|"
    r"n\.v\.|nv|s\.a\.|sa|group|holdings?|l\.p\.|lp|llc|and subsidiaries|& subsidiaries)$",
    re.I,
)
_LEGAL_ZH = re.compile(r"(?:股份有限公司|有限责任公司|有限公司|集团|股份|公司)$")


def strip_legal(name: str) -> str:
    """The name without trailing legal forms and a leading "The" (repeatedly: "X Holdings, Inc.")."""
    name = name.strip()
    if has_cjk(name):
        return fixed_point(lambda s: _LEGAL_ZH.sub("", s), re.sub(r"\s+", "", name))
    name = fixed_point(lambda s: _LEGAL_EN.sub("", s).strip(" ,."), name)
    return re.sub(r"^the\s+", "", name, flags=re.I) or name


def name_key(text: str) -> str:
    """Comparable form of ``text``: lower case, '&' → 'and', "'s" and punctuation removed."""
    text = text.lower().replace("&", " and ").replace("’", "'")
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"[^\w\u4e00-\u9fff]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def company_key(name: str) -> str:
    """Comparable company name with its legal form removed."""
    key = name_key(strip_legal(name))
    return key.replace(" ", "") if has_cjk(key) else key


def match_strength(query: str, names: Iterable[str]) -> int:
    """How well ``query`` names a company known by ``names``: 3 same name, 2 one name contains the
    other as whole words (any substring for Chinese), 1 most words shared, 0 unrelated."""
    q = company_key(query)
    if not q:
        return 0
    best = 0
    qwords = set(q.split())
    for name in names:
        n = company_key(name)
        if not n:
            continue
        if n == q or name.strip().lower() == query.strip().lower():
            return 3
        short, long_ = sorted((q, n), key=len)
        if len(short) >= 2 and short in long_:
            cjk = has_cjk(short + long_)
            if cjk or re.search(rf"(?<![a-z0-9]){re.escape(short)}(?![a-z0-9])", long_):
                best = max(best, 2)
                continue
        nwords = set(n.split())
        if qwords and nwords:
            shared = len(qwords & nwords)
            if shared >= 1 and shared / min(len(qwords), len(nwords)) >= 0.6:
                best = max(best, 1)
    return best
