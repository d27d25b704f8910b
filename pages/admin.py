"""Admin: behind ANNALYST_ADMIN_PASSWORD. Training data generation, fine-tuning runs with live
progress, the evaluation table and model activation/rollback, and the review of users' corrections. Long jobs run as background
processes (backend/admin.py), so they survive page reloads; this page only starts and reads them."""

import streamlit as st

from backend.app.admin import password_configured
from backend.errors import AnnalystError
from pages import admin_parts as parts
from pages import admin_training
from pages import widgets as w

services, t = w.context()
settings = services.settings
admin = services.admin

st.title(t("admin_title"))
if not password_configured(settings):
    st.warning(t("admin_unset"), icon="🔒")
    st.stop()

if not w.unlocked(services, t, "login"):
    st.stop()

if st.sidebar.button(t("lock"), icon="🔒"):
    st.session_state["admin_ok"] = False
    st.rerun()

data_tab, train_tab, models_tab, feedback_tab = st.tabs(
    [t("tab_data"), t("tab_training"), t("tab_models"), t("tab_feedback")]
)

with data_tab:
    view = admin.fewshot()
    if not view.status.running:
        try:
            parts.fewshot_form(admin, t)
        except AnnalystError as err:
            st.error(t.error(err))

    @st.fragment(run_every=2.0 if view.status.running else None)
    def data_panel() -> None:
        parts.fewshot_panel(admin, t, was_running=view.status.running)

    data_panel()

with train_tab:
    try:
        admin_training.training_form(admin, t)
    except AnnalystError as err:
        st.error(t.error(err))
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

with feedback_tab:
    parts.feedback_review(services.conversations, t)
