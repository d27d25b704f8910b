"""Streamlit pieces shared by the pages (not a page itself: app.py registers the pages with
st.navigation). Rendering only; the data comes from backend/."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import streamlit as st

from backend.answering.chat import Filters, Turn
from backend.answering.events import Final, Status, Token
from backend.app.evidence import citation_view
from backend.errors import AnnalystError
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


def plain(text: str) -> str:
    """Text shown literally inside Markdown (a file name such as '[x](http://…)' stays text)."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~$-])", r"\\\1", text)


def language_switch() -> str:
    names = {"auto": "Auto", "en": "English", "zh": "中文"}
    choice = st.sidebar.radio(
        "🌐 Language / 语言", list(names), key="ui_lang", horizontal=True, format_func=names.get
    )
    return pick_language(choice, st.context.locale)


def model_panel(services: Any, t: Translator) -> None:
    """Sidebar: the active model's name and version, and whether it is still loading."""
    try:
        info = services.llm.info()  # reads settings and the registry; loads no model
        st.caption(t("model_label", name=info.name, version=info.version or "—"))
    except AnnalystError as err:
        st.error(str(err))
        return
    warmup = services.warmup

    @st.fragment(run_every=1.0 if warmup.state == "loading" else None)
    def state() -> None:
        if warmup.state == "loading":
            st.info(t("model_loading"), icon="⏳")
            st.session_state["_was_loading"] = True
        elif warmup.state == "error":
            st.error(t("model_error", error=warmup.error))
            if st.button(t("retry"), key="warmup_retry"):
                warmup.retry()
                st.rerun()
        elif st.session_state.pop("_was_loading", False):
            st.rerun(scope="app")  # stop polling

    state()


def stream_answer(
    services: Any, t: Translator, question: str, turns: list[Turn], filters: Filters
) -> Any:
    """Ask, stream the answer into the page, then show it with its evidence. None on error."""
    if services.warmup.state == "loading":
        with st.spinner(t("model_loading")):
            while services.warmup.state == "loading":
                time.sleep(0.2)
    status = st.status(t("working"), expanded=False)
    box = st.empty()
    text, answer = "", None
    try:
        for event in services.chat.stream(
            question, history=turns, filters=filters, mode=services.settings.chat_mode
        ):
            if isinstance(event, Status):
                status.update(label=t.status(event.stage))
            elif isinstance(event, Token):
                text += event.text
                box.markdown(md(text) + " ▌")
            elif isinstance(event, Final):
                answer = event.answer
    except AnnalystError as err:
        status.update(label=t("failed"), state="error")
        box.empty()
        st.error(str(err))
        return None
    except Exception:
        log.exception("answering %r failed", question)
        status.update(label=t("failed"), state="error")
        box.empty()
        st.error(t("unexpected_error"))
        return None
    box.empty()
    if answer is None:
        status.update(label=t("failed"), state="error")
        st.error(t("unexpected_error"))
        return None
    status.update(label=t("answered_in", s=answer.timings.get("total_s", 0.0)), state="complete")
    show_answer(services, t, answer, key=f"turn{len(turns)}")
    return answer


def show_answer(services: Any, t: Translator, answer: Any, key: str) -> None:
    st.markdown(md(answer.answer))
    seconds = answer.timings.get("total_s")
    parts = [answer.model or "", f"{seconds:.1f} s" if seconds else ""]
    st.caption(" · ".join(p for p in parts if p))
    if answer.unverified_numbers:
        st.warning(t("unverified", numbers=", ".join(answer.unverified_numbers)))
    for j, cite in enumerate(answer.citations):
        with st.expander(f"📄 {cite.file} · p. {cite.page}", key=f"{key}_c{j}"):
            citation(services, t, answer.answer, cite)
    with st.expander(t("trace"), icon="🔎", key=f"{key}_trace"):
        trace(t, answer)


def citation(services: Any, t: Translator, answer_text: str, cite: Any) -> None:
    try:
        view = citation_view(services.catalog, cite.doc_id, cite.page, answer_text, cite.snippet)
    except AnnalystError as err:
        st.error(str(err))
        return
    left, right = st.columns(2)
    with left:
        st.html(view.html)
        if view.terms:
            st.caption(t("highlighted", terms=", ".join(view.terms)))
    with right:
        if view.png:
            st.image(view.png, caption=f"{view.file} · p. {view.page}")
        else:
            st.info(t(f"image_{view.note}"))


def _short(value: Any, limit: int = 240) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + " …"
    if isinstance(value, list):
        return [_short(v, limit) for v in value[:10]]
    if isinstance(value, dict):
        return {k: _short(v, limit) for k, v in value.items()}
    return value


def trace(t: Translator, answer: Any) -> None:
    """The audit trail: plan, route, every tool call with arguments and results, the formula."""
    for step in answer.trace:
        name = step.get("step", "?")
        if name == "tool":
            tool, args, result = step.get("tool"), step.get("args") or {}, step.get("result")
            st.markdown(
                f"**{t('tool')}** `{tool}`" + (f" — ⚠️ {step['error']}" if step.get("error") else "")
            )
            if tool == "calculate" and isinstance(result, dict):
                st.code(
                    f"{result.get('expression', args.get('expression'))} = {result.get('value')}",
                    language=None,
                )
            st.json(_short({"args": args, "result": result}), expanded=False)
        else:
            st.markdown(f"**{t('step_' + name) if t.has('step_' + name) else name}**")
            st.json(_short({k: v for k, v in step.items() if k != "step"}), expanded=False)
    if answer.timings:
        st.caption(" · ".join(f"{k} {v}" for k, v in answer.timings.items()))


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
        st.error(plain(r.get("error") or t("unexpected_error")))
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
