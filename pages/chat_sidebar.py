"""The chat page's sidebar: conversations (new, open, rename, delete, export) and the filters.
The open conversation is in the URL (``?c=<id>``), so a reload or a shared tab keeps it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from backend.answering.chat import Filters
from backend.app.exports import Export, conversation_markdown
from backend.errors import AnnalystError
from pages.answer_view import labels_of
from pages.i18n import Translator


def current() -> str:
    return st.query_params.get("c", "")


def _open(conv_id: str) -> None:
    if conv_id:
        st.query_params["c"] = conv_id
    else:
        st.query_params.pop("c", None)


def conversations(services: Any, t: Translator) -> str:
    """New chat, the list of conversations, and actions on the open one; returns its id."""
    convs = services.conversations
    conv_id = current()
    rows = convs.list(limit=30)
    if conv_id and all(r.conv_id != conv_id for r in rows):
        try:
            rows.insert(0, convs.get(conv_id))
        except AnnalystError:  # deleted in another tab, or a stale link
            _open("")
            conv_id = ""
            st.sidebar.warning(t("conv_missing"))
    st.sidebar.button(t("new_chat"), icon="➕", width="stretch", on_click=_open, args=("",))
    with st.sidebar.expander(t("conversations"), expanded=True):
        if not rows:
            st.caption(t("no_conversations"))
        for r in rows:
            st.button(
                f"{r.title or t('untitled')} · {r.updated_at[:10]}",
                key=f"conv_{r.conv_id}",
                type="primary" if r.conv_id == conv_id else "tertiary",
                on_click=_open,
                args=(r.conv_id,),
            )
    if conv_id:
        _manage(services, t, conv_id)
    return conv_id


def _manage(services: Any, t: Translator, conv_id: str) -> None:
    convs = services.conversations
    row = convs.get(conv_id)

    def rename() -> None:
        convs.rename(conv_id, st.session_state[f"title_{conv_id}"] or row.title)

    def delete() -> None:
        convs.delete(conv_id)
        _open("")

    with st.sidebar.popover(t("manage_chat"), icon="⚙️", width="stretch"):
        st.text_input(t("chat_title_label"), row.title, key=f"title_{conv_id}")
        st.button(t("rename"), on_click=rename, key=f"rename_{conv_id}")
        sure = st.checkbox(t("confirm_delete_chat"), key=f"sure_chat_{conv_id}")
        st.button(t("delete_chat"), on_click=delete, disabled=not sure, key=f"del_chat_{conv_id}")

    def export() -> str:
        turns = convs.turns(conv_id)
        items = [Export(x.question, x.answer, labels_of(services, x.answer)) for x in turns]
        return conversation_markdown(row.title, items)

    st.sidebar.download_button(t("export_chat"), export, f"annalyst-{conv_id}.md",
                               "text/markdown", icon="⬇️", width="stretch",
                               on_click="ignore", key=f"export_{conv_id}")  # fmt: skip


def filters(docs: list, t: Translator) -> Filters:
    """Company, year (narrowed by the company) and documents (narrowed by both)."""
    with st.sidebar:
        st.subheader(t("filters"))
        companies = sorted({d.company for d in docs if d.company})
        company = st.selectbox(
            t("company"), ["", *companies], index=0, key="f_company",
            format_func=lambda c: c or t("all"),
        )  # fmt: skip
        of_company = [d for d in docs if not company or d.company == company]
        years = sorted({d.fiscal_year for d in of_company if d.fiscal_year}, reverse=True)
        year = st.selectbox(
            t("year"), [None, *years], index=0, key="f_year",
            format_func=lambda y: t("all") if y is None else str(y),
        )  # fmt: skip
        shown = [d for d in of_company if year is None or d.fiscal_year == year]
        labels = {d.doc_id: f"{d.label} — {d.file_name}" for d in shown}
        doc_ids = st.multiselect(
            t("documents"), list(labels), key="f_docs", format_func=lambda i: labels.get(i, i),
            placeholder=t("all_documents"),
        )  # fmt: skip
    return Filters(doc_ids=list(doc_ids), company=company, year=year)
