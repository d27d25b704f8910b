"""The page view a citation label in an answer opens: ``?doc=<id>&page=<n>``, with the
conversation and turn (``&c=<id>&turn=<seq>``) whose answer's numbers it highlights. The chat page
(the app's default page) shows it instead of the chat when the URL asks for it; Streamlit opens
the label's link in a new browser tab, so the chat stays where it was. The cited page's text opens
at the highlighted numbers, beside the rendered PDF page. Rendering only."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import streamlit as st

from backend.app.display import plain, safe_markdown, short_label
from backend.errors import AnnalystError
from pages import answer_view
from pages.i18n import Translator


def requested() -> bool:
    """Does the URL ask for a page view?"""
    return "doc" in st.query_params and "page" in st.query_params


def _turn(services: Any, conv_id: str, seq: str) -> Any:
    """The conversation's turn whose answer cites the page (None when gone or not given)."""
    if not conv_id or not seq.isdigit():
        return None
    try:
        turns = services.conversations.turns(conv_id)
    except AnnalystError:
        return None
    return next((turn for turn in turns if turn.seq == int(seq)), None)


def render(services: Any, t: Translator) -> None:
    query = st.query_params
    doc = services.catalog.document(query.get("doc", ""))
    page = int(query.get("page", "")) if query.get("page", "").isdigit() else 0
    if doc is None or not 1 <= page <= max(doc.pages, 1):
        st.error(t("page_view_missing"))
        return
    turn = _turn(services, query.get("c", ""), query.get("turn", ""))
    answer_text, snippet = "", ""
    if turn is not None:
        answer_text = turn.answer.answer
        snippet = next(
            (c.snippet for c in turn.answer.citations if (c.doc_id, c.page) == (doc.doc_id, page)),
            "",
        )
    st.title(plain(short_label(doc, page)))  # the company's name comes from a report
    if turn is not None:
        st.caption(t("page_view_for", q=safe_markdown(turn.question)))
    cite = SimpleNamespace(doc_id=doc.doc_id, page=page, snippet=snippet)
    answer_view.citation(services, t, answer_text, cite)
