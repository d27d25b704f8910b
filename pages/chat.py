"""Chat: ask about the indexed reports; answers stream with citations, evidence and the trace.
The sidebar filters restrict which reports are searched."""

import streamlit as st

from backend.answering.chat import Filters, Turn
from pages import widgets as w
from pages.i18n import Translator


def sidebar_filters(docs: list, t: Translator) -> Filters:
    with st.sidebar:
        st.subheader(t("filters"))
        companies = sorted({d.company for d in docs if d.company})
        years = sorted({d.fiscal_year for d in docs if d.fiscal_year}, reverse=True)
        company = st.selectbox(
            t("company"), ["", *companies], key="f_company", format_func=lambda c: c or t("all")
        )
        year = st.selectbox(
            t("year"),
            [None, *years],
            key="f_year",
            format_func=lambda y: t("all") if y is None else str(y),
        )
        shown = [
            d
            for d in docs
            if (not company or d.company == company) and (year is None or d.fiscal_year == year)
        ]
        labels = {d.doc_id: f"{d.label} — {d.file_name}" for d in shown}
        doc_ids = st.multiselect(
            t("documents"),
            list(labels),
            key="f_docs",
            format_func=lambda i: labels.get(i, i),
            placeholder=t("all_documents"),
        )
    return Filters(doc_ids=list(doc_ids), company=company, year=year)


def render() -> None:
    """The chat page (registered by app.py with st.navigation as the default page)."""
    services, t = w.context()
    turns: list[Turn] = st.session_state.setdefault("turns", [])
    docs = services.catalog.documents()
    if st.sidebar.button(t("new_chat"), icon="➕", width="stretch"):
        turns.clear()
    filters = sidebar_filters(docs, t)
    st.title(t("chat_title"))
    if docs:
        services.warmup.start()  # load the models in the background while the user types
    with st.sidebar:
        w.model_panel(services, t)
    if not docs:
        st.info(t("no_reports"))
        st.page_link("pages/reports.py", label=t("go_reports"), icon="📄")
        return
    for i, turn in enumerate(turns):
        with st.chat_message("user"):
            st.markdown(w.md(turn.question))
        with st.chat_message("assistant"):
            w.show_answer(services, t, turn.answer, key=f"turn{i}")
    question = st.chat_input(t("ask_placeholder"))
    if question:
        with st.chat_message("user"):
            st.markdown(w.md(question))
        with st.chat_message("assistant"):
            answer = w.stream_answer(services, t, question, turns, filters)
        if answer is not None:
            turns.append(Turn(question, answer))


if __name__ == "__main__":  # opened as a page file (Streamlit's legacy pages-directory mode)
    render()
