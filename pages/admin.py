"""Admin: behind ANNALYST_ADMIN_PASSWORD. Training data generation, fine-tuning runs with live
progress, the evaluation table and model activation/rollback. Long jobs run as background
processes (backend/admin.py), so they survive page reloads; this page only starts and reads them."""

import time

import streamlit as st

from backend.app.admin import check_password, password_configured
from backend.errors import AnnalystError
from pages import admin_parts as parts
from pages import widgets as w

services, t = w.context()
settings = services.settings
admin = services.admin

st.title(t("admin_title"))
if not password_configured(settings):
    st.warning(t("admin_unset"), icon="🔒")
    st.stop()

if not st.session_state.get("admin_ok"):
    with st.form("login"):
        attempt = st.text_input(t("password"), type="password")
        go = st.form_submit_button(t("unlock"), icon="🔑")
    if go:
        if check_password(settings, attempt):
            st.session_state["admin_ok"] = True
            st.session_state.pop("admin_failures", None)
            st.rerun()
        failures = st.session_state.get("admin_failures", 0) + 1
        st.session_state["admin_failures"] = failures
        time.sleep(min(failures, 5))  # slows down guessing
        st.error(t("wrong_password"))
    st.stop()

if st.sidebar.button(t("lock"), icon="🔒"):
    st.session_state["admin_ok"] = False
    st.rerun()

data_tab, train_tab, models_tab = st.tabs([t("tab_data"), t("tab_training"), t("tab_models")])

with data_tab:
    view = admin.fewshot()
    if not view.status.running:
        try:
            parts.fewshot_form(admin, t)
        except AnnalystError as err:
            st.error(str(err))

    @st.fragment(run_every=2.0 if view.status.running else None)
    def data_panel() -> None:
        parts.fewshot_panel(admin, t, was_running=view.status.running)

    data_panel()

with train_tab:
    try:
        parts.training_form(admin, t)
    except AnnalystError as err:
        st.error(str(err))
    running = admin.procs.is_running("training")

    @st.fragment(run_every=2.0 if running else None)
    def train_panel() -> None:
        parts.training_panel(admin, t, was_running=running)

    train_panel()

with models_tab:
    parts.models_section(admin, t)
    eval_running = admin.procs.is_running("evaluation")

    @st.fragment(run_every=2.0 if eval_running else None)
    def eval_panel() -> None:
        parts.evaluation_panel(admin, t, was_running=eval_running)

    eval_panel()
