"""Annalyst — ask questions about annual reports; answers carry exact numbers and page citations.

    streamlit run app.py        (or: make run)

This script is the entry point: it builds the services once per server process (the only place
the settings are built), picks the interface language, registers the pages (chat here, reports and
admin under pages/) and renders the chat. Logic lives in backend/; pages only render.
"""

import logging

import streamlit as st
from pydantic import ValidationError

from backend.chat import Filters, Turn
from backend.errors import AnnalystError
from backend.i18n import Translator
from backend.services import Services, build_services
from backend.settings import Settings
from pages import widgets as w

log = logging.getLogger("annalyst.app")


@st.cache_resource(show_spinner=False)
def get_services() -> Services:
    """The one wiring point: settings from the environment (ANNALYST_*) → services."""
    services = build_services(Settings())
    services.jobs.recover()  # resume ingestion jobs that a stopped server left behind
    return services


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


def chat_page() -> None:
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


def main() -> None:
    st.set_page_config(page_title="Annalyst", page_icon="📊", layout="wide")
    lang = w.language_switch()
    t = Translator(lang)
    try:
        services = get_services()
    except AnnalystError as err:
        st.error(str(err))
        st.stop()
    except ValidationError as err:  # an ANNALYST_* variable with a value that cannot work
        st.error(t("settings_invalid", error=str(err)))
        st.stop()
    except Exception:
        log.exception("start-up failed")
        st.error(t("startup_failed"))
        st.stop()
    st.session_state["services"] = services
    st.session_state["t"] = t
    nav = st.navigation(
        [
            st.Page(chat_page, title=t("nav_chat"), icon="💬", default=True),
            st.Page("pages/reports.py", title=t("nav_reports"), icon="📄"),
            st.Page("pages/admin.py", title=t("nav_admin"), icon="🔧"),
        ]
    )
    nav.run()


main()
