"""Annalyst — ask questions about annual reports; answers carry exact numbers and page citations.

    streamlit run app.py        (or: make run)

This script is the entry point: it builds the services once per server process (the only place
the settings are built), picks the interface language and registers the pages (chat, reports,
admin under pages/) with st.navigation. Logic lives in backend/; pages only render.
"""

import logging

import streamlit as st
from pydantic import ValidationError

from backend.app.services import Services, build_services
from backend.errors import AnnalystError
from backend.settings import Settings
from pages import widgets as w
from pages.i18n import Translator

log = logging.getLogger("annalyst.app")


@st.cache_resource(show_spinner=False)
def get_services() -> Services:
    """The one wiring point: settings from the environment (ANNALYST_*) → services."""
    services = build_services(Settings())
    services.jobs.recover()  # resume ingestion jobs that a stopped server left behind
    return services


def main() -> None:
    st.set_page_config(page_title="Annalyst", page_icon="📊", layout="wide")
    t = Translator(w.language_switch())
    try:
        services = get_services()
    except AnnalystError as err:
        st.error(t.error(err))
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
    st.navigation(w.app_pages(t)).run()


main()
