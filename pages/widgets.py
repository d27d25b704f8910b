"""Streamlit pieces shared by the pages (not a page itself: app.py registers the pages with
st.navigation). Rendering only; the data comes from backend/."""

from __future__ import annotations

import logging
import re
from typing import Any

import streamlit as st

from backend.app.auth import is_loopback
from backend.app.display import plain
from backend.errors import AnnalystError, PasswordLocked
from pages.i18n import Translator, pick_language

log = logging.getLogger("annalyst.app")


def app_pages(t: Translator) -> list[Any]:
    """The app's pages, for st.navigation."""
    from pages import chat

    return [
        st.Page(chat.render, title=t("nav_chat"), icon="💬", default=True),
        st.Page("pages/reports.py", title=t("nav_reports"), icon="📄"),
        st.Page("pages/admin.py", title=t("nav_admin"), icon="🔧"),
    ]


def context() -> tuple[Any, Translator]:
    """The services and translator app.py prepared for this run.

    Streamlit starts a server in its legacy "pages directory" mode when a pages/ folder exists:
    until some session has run app.py (which calls st.navigation), a new session that opens
    /reports or /admin directly runs the page file alone. Declaring the app's pages with the
    public st.navigation ends that mode; the rerun then goes through app.py, which sets up this
    session and routes the URL.
    """
    if "services" not in st.session_state:
        st.navigation(app_pages(Translator(language_switch())))
        st.rerun()
    return st.session_state["services"], st.session_state["t"]


def md(text: str) -> str:
    """Markdown-safe: '$' would start LaTeX in Streamlit markdown."""
    return text.replace("$", "\\$")


def language_switch() -> str:
    names = {"auto": "Auto", "en": "English", "zh": "中文"}
    if "ui_lang" not in st.session_state and st.query_params.get("lang") in names:
        st.session_state["ui_lang"] = st.query_params["lang"]  # a link from the app (page view)
    choice = st.sidebar.radio(
        "🌐 Language / 语言", list(names), key="ui_lang", horizontal=True, format_func=names.get
    )
    return pick_language(choice, st.context.locale)


def unlocked(services: Any, t: Translator, form_key: str) -> bool:
    """The password form, until this session has given the right password (the throttle is the
    server's: services.gate). True once unlocked."""
    if st.session_state.get("admin_ok"):
        return True
    with st.form(form_key):
        attempt = st.text_input(t("password"), type="password")
        go = st.form_submit_button(t("unlock"), icon="🔑")
    if go:
        try:
            ok = services.gate.check(attempt, who=f"from {getattr(st.context, 'ip_address', '')}")
        except PasswordLocked as err:
            st.error(t("password_wait", s=err.wait_s))
            return False
        if ok:
            st.session_state["admin_ok"] = True
            st.rerun()
        st.error(t("wrong_password"))
    return False


def exposed_warning(services: Any, t: Translator) -> None:
    """Warn when the app listens beyond this machine with no password set."""
    address = st.get_option("server.address") or "0.0.0.0"
    if not services.gate.configured and not is_loopback(address):
        st.warning(t("exposed_open", address=address), icon="⚠️")


def model_panel(services: Any, t: Translator) -> None:
    """Sidebar: the active model's name and version, and whether it is still loading."""
    try:
        info = services.llm.info()  # reads settings and the registry; loads no model
        st.caption(t("model_label", name=info.name, version=info.version or "—"))
    except AnnalystError as err:
        st.error(t.error(err))
        return
    warmup = services.warmup

    @st.fragment(run_every=1.0 if warmup.state == "loading" else None)
    def state() -> None:
        if warmup.state == "loading":
            st.info(t("model_loading"), icon="⏳")
            st.session_state["_was_loading"] = True
        elif warmup.state == "error":
            st.error(t("model_error", error=t.error(warmup.failure or warmup.error)))
            if st.button(t("retry"), key="warmup_retry"):
                warmup.retry()
                st.rerun()
        elif st.session_state.pop("_was_loading", False):
            st.rerun(scope="app")  # stop polling

    state()


def uploaded_name(message: str, job: Any) -> str:
    """An ingestion error names the stored copy (``uploads/<sha>.pdf``); the user knows the file
    by the name they uploaded."""
    if not job.doc_id:
        return message
    return re.sub(rf"(?:[^\s'\"]*/)?{re.escape(job.doc_id)}\.\w+", job.file, message)


def failure_record(result: dict[str, Any], job: Any) -> dict[str, Any]:
    """A failed job's error record with the file the user uploaded in place of the stored copy
    (in its message and its fields)."""
    fields = {
        k: uploaded_name(v, job) if isinstance(v, str) else v
        for k, v in (result.get("error_fields") or {}).items()
    }
    if "file" in fields:
        fields["file"] = job.file
    return {
        **result,
        "error": uploaded_name(result.get("error") or "", job),
        "error_fields": fields,
    }


def job_card(t: Translator, job: Any) -> None:
    """One ingestion job: progress while it runs, then what came out of it."""
    icon = {"queued": "⏳", "running": "⚙️", "done": "✅", "failed": "❌"}[job.status]
    st.markdown(f"{icon} **{plain(job.file)}** · {t('op_' + job.op)}")
    if job.active:
        stage = t("stage_" + job.stage) if t.has("stage_" + job.stage) else t("stage_queued")
        step = f" {job.done}/{job.total}" if job.total else ""
        st.progress(job.fraction, text=stage + step + (f" — {job.message}" if job.message else ""))
        return
    r = job.result
    if job.status == "failed":
        st.error(plain(t.error(failure_record(r, job)) or t("unexpected_error")))
    elif r.get("status") == "removed":
        st.caption(t("removed", file=job.file))
    else:
        key = "result_unchanged" if r.get("status") == "unchanged" else "result_indexed"
        fields = {
            "pages": 0,
            "chunks": 0,
            "facts": 0,
            "checks_passed": 0,
            "checks_failed": 0,
            "seconds": 0,
        } | {k: v for k, v in r.items() if v is not None}
        st.caption(
            t(
                key,
                pages=fields["pages"],
                chunks=fields["chunks"],
                facts=fields["facts"],
                ok=fields["checks_passed"],
                bad=fields["checks_failed"],
                company=r.get("company") or "?",
                year=r.get("fiscal_year") or "?",
                seconds=fields["seconds"],
            )
        )
        for old in r.get("replaced_files") or []:
            st.warning(t("result_replaced", old=plain(old)))
        for other in r.get("kept_alongside") or []:
            st.info(t("result_kept", other=plain(other)))
