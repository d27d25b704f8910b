"""Chat: ask about the indexed reports. Conversations are stored (the sidebar lists them; the open
one is in the URL, so a reload keeps it); an answer is written in the background and survives a
page switch; answers stream with citations, evidence, exports, the trace and feedback."""

import time

import streamlit as st

from backend.app.display import example_questions
from backend.errors import AnnalystError
from pages import answer_view as view
from pages import chat_sidebar as side
from pages import page_view
from pages import widgets as w


def _ask_example(question: str) -> None:
    st.session_state["example_question"] = question


def _empty_chat(t, docs: list) -> None:
    st.caption(t("examples"))
    for i, q in enumerate(example_questions(docs)):
        st.button(q, key=f"example_{i}", icon="💡", on_click=_ask_example, args=(q,))


def _follow(services, t, run) -> None:
    """Show a running answer until it is stored, then show the page again with it."""
    with st.chat_message("user"):
        st.markdown(w.md(run.question))
    with st.chat_message("assistant"):
        if view.follow(services, t, run):
            st.rerun()


def render() -> None:
    """The chat page (registered by app.py with st.navigation as the default page)."""
    services, t = w.context()
    if page_view.requested():  # a citation label's link: the cited page, not the chat
        page_view.render(services, t)
        return
    convs = services.conversations
    docs = services.catalog.documents()
    conv_id = side.conversations(services, t)
    filters = side.filters(docs, t)
    st.title(t("chat_title"))
    if docs:
        services.warmup.start()  # load the models in the background while the user types
    with st.sidebar:
        w.model_panel(services, t)
    if not docs:
        st.info(t("no_reports"))
        st.page_link("pages/reports.py", label=t("go_reports"), icon="📄")
        return
    turns = convs.turns(conv_id) if conv_id else []
    for turn in turns:
        with st.chat_message("user"):
            st.markdown(w.md(turn.question))
        with st.chat_message("assistant"):
            view.show_answer(services, t, conv_id, turn)
    run = convs.run(conv_id) if conv_id else None
    if run is not None:
        _follow(services, t, run)
    elif not turns:
        _empty_chat(t, docs)
    if filters.active:
        st.caption(t("filters_on", filters=filters.describe(t.lang)))
    question = st.chat_input(t("ask_placeholder"), disabled=run is not None and not run.done)
    question = question or st.session_state.pop("example_question", None)
    if not question:
        return
    try:
        if not conv_id:
            conv_id = convs.new().conv_id
            st.query_params["c"] = conv_id
        if services.warmup.state == "loading":
            with st.spinner(t("model_loading")):
                while services.warmup.state == "loading":
                    time.sleep(0.2)
        _follow(services, t, convs.ask(conv_id, question, filters))
    except AnnalystError as err:
        st.error(t.error(err))


if __name__ == "__main__":  # opened as a page file (Streamlit's legacy pages-directory mode)
    render()
