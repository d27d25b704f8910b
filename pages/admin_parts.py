"""Sections of the admin page (rendering only; backend/admin.py does the work)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from backend.errors import AnnalystError
from pages.i18n import Translator


def _finished_rerun(was_running: bool, running: bool) -> None:
    if was_running and not running:
        st.rerun(scope="app")  # stop polling, refresh the rest of the page


def fewshot_form(admin: Any, t: Translator) -> None:
    with st.form("fewshot"):
        c1, c2 = st.columns(2)
        per_doc = c1.number_input(t("fewshot_per_doc"), 1, 1000, 40)
        llm = c2.checkbox(t("fewshot_llm"), value=True, help=t("fewshot_llm_help"))
        go = st.form_submit_button(t("fewshot_start"), icon="▶️", type="primary")
    if go:
        admin.start_fewshot(per_doc=int(per_doc), llm=llm)
        st.rerun()


def fewshot_panel(admin: Any, t: Translator, was_running: bool = False) -> None:
    view = admin.fewshot()
    st_ = view.status
    if st_.running:
        if st.button(t("fewshot_cancel"), icon="⏹️", key="fewshot_cancel"):
            admin.cancel_fewshot()
            st.rerun(scope="app")
        p = view.progress
        if p.get("total"):
            st.progress(
                min(1.0, p.get("done", 0) / p["total"]),
                text=t("fewshot_progress", done=p.get("done", 0), total=p["total"]),
            )
        else:
            st.info(t("fewshot_running"), icon="⚙️")
    elif st_.state == "stopped":
        st.warning(t("job_stopped"))
    elif st_.state == "failed":
        st.error(t("job_failed", code=st_.exit_code))
    c1, c2 = st.columns(2)
    c1.metric(t("train_items"), view.train)
    c2.metric(t("val_items"), view.val)
    if st_.run_dir is not None:
        with st.expander(t("log_tail"), expanded=st_.running or st_.state == "failed"):
            st.code(st_.log_tail(25) or "…", language=None)
    if view.card:
        with st.expander(t("data_card")):
            st.json(view.card, expanded=False)
    for item in view.sample:
        with st.expander(t("sample_item", id=item.get("id", "?"))):
            for m in item.get("messages", []):
                st.markdown(f"**{m.get('role')}**")
                st.text(m.get("content", ""))
            if item.get("provenance"):
                st.json(item["provenance"], expanded=False)
    _finished_rerun(was_running, st_.running)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def training_panel(admin: Any, t: Translator, was_running: bool = False) -> None:
    view = admin.training()
    if view.status.run_dir is None:
        st.caption(t("no_runs"))
        return
    st.subheader(
        t(
            "run_title",
            run=view.status.run_dir.name,
            state=t("state_" + view.state) if t.has("state_" + view.state) else view.state,
        )
    )
    if view.max_steps:
        loss = f"{view.losses[-1][1]:.4f}" if view.losses else "—"
        st.progress(
            min(1.0, view.step / view.max_steps),
            text=t(
                "train_progress",
                step=view.step,
                total=view.max_steps,
                loss=loss,
                eta=_eta(view.eta_s),
            ),
        )
    if len(view.losses) >= 2:
        st.line_chart(pd.DataFrame(view.losses, columns=["step", "loss"]), x="step", y="loss")
    if view.status.running:
        c1, c2 = st.columns(2)
        if c1.button(t("train_cancel"), icon="⏹️", help=t("train_cancel_help")):
            admin.cancel_training()
            st.toast(t("cancel_requested"))
        if c2.button(t("train_kill"), icon="🛑"):
            admin.cancel_training(now=True)
            st.toast(t("cancel_requested"))
    if view.state == "completed":
        st.success(t("train_done", version=view.version or "—"))
    elif view.state == "stopped":
        st.warning(t("job_stopped"))
    elif view.state == "failed":
        st.error(view.error or t("job_failed", code=view.status.exit_code))
    with st.expander(t("log_tail"), expanded=view.status.running):
        st.code(view.status.log_tail(30) or "…", language=None)
    _finished_rerun(was_running, view.status.running)


def _shown(value: Any) -> Any:
    """A missing score as a dash, not "None"."""
    return "—" if value is None else value


def _registry_action(admin: Any, t: Translator, action: str) -> None:
    """Button callback (runs before the page renders, so the table shows the new state)."""
    state = st.session_state
    try:
        if action == "activate":
            mv = admin.activate(state["mv_version"], force=state.get("mv_force", False))
            state["models_flash"] = ("success", t("activated", version=mv.version))
        elif not admin.can_roll_back():
            state["models_flash"] = ("info", t("nothing_to_roll_back"))
        else:
            mv = admin.rollback()
            state["models_flash"] = (
                "success",
                t("rolled_back", version=mv.version if mv else t("base")),
            )
    except AnnalystError as err:
        state["models_flash"] = ("error", t.error(err))


def models_section(admin: Any, t: Translator) -> None:
    if flash := st.session_state.pop("models_flash", None):
        getattr(st, flash[0])(flash[1])
    rows = admin.model_rows()
    table = pd.DataFrame(
        [
            {
                t("col_model"): r.label,
                t("col_version"): r.version or t("base"),
                t("col_active"): "✅" if r.active else "",
                t("col_gate"): r.gate + (f" — {r.gate_reason}" if r.gate_reason else ""),
                t("col_accuracy"): _shown(r.scores.get("accuracy")),
                t("col_hit5"): _shown(r.scores.get("hit@5")),
                t("col_refusal"): _shown(r.scores.get("refusal_accuracy_na")),
                t("col_latency"): _shown(r.scores.get("latency_median_s")),
                "n": _shown(r.scores.get("n")),
                t("col_source"): r.source or "—",
            }
            for r in rows
        ]
    )
    st.dataframe(table, hide_index=True)
    versions = [r.version for r in rows if r.kind == "version"]
    c1, c2, c3 = st.columns([2, 1, 1])
    chosen = c1.selectbox(
        t("version"), versions, index=None, placeholder=t("choose_version"), key="mv_version"
    )
    c2.checkbox(t("force_activate"), help=t("force_help"), key="mv_force")
    c3.button(
        t("activate"),
        icon="✅",
        disabled=not chosen,
        on_click=_registry_action,
        args=(admin, t, "activate"),
    )
    st.button(t("rollback"), icon="↩️", on_click=_registry_action, args=(admin, t, "rollback"))
    history = admin.history()
    if history:
        with st.expander(t("history")):
            st.dataframe(pd.DataFrame(history), hide_index=True)


def evaluation_panel(admin: Any, t: Translator, was_running: bool = False) -> None:
    st.subheader(t("eval_title"))
    status, done = admin.evaluation_progress()
    if status.running:
        base_row = str(status.meta.get("row", "")).startswith("preset:")
        total = (status.meta.get("limit") or 0) if base_row else 0
        st.progress(
            min(1.0, done / total) if total else 0.0,
            text=t("eval_progress", row=status.meta.get("row", ""), done=done, total=total or "?"),
        )
        if st.button(t("eval_stop"), icon="🛑"):
            admin.procs.stop("evaluation")
    else:
        if status.state == "stopped":
            st.warning(t("job_stopped"))
        elif status.state == "failed":
            st.error(t("job_failed", code=status.exit_code))
            st.code(status.log_tail(8) or "…", language=None)
        rows = admin.model_rows()
        with st.form("eval"):
            c1, c2, c3 = st.columns([2, 1, 1])
            key = c1.selectbox(
                t("eval_model"),
                [r.key for r in rows],
                format_func=lambda k: next(
                    r.label + (f" ({r.version})" if r.version else "") for r in rows if r.key == k
                ),
            )
            limit = c2.number_input(t("eval_limit"), 1, 10_000, 20)
            ingest = c3.checkbox(t("eval_ingest"), help=t("eval_ingest_help"))
            if st.form_submit_button(t("eval_start"), icon="📏"):
                try:
                    admin.start_evaluation(key, limit=int(limit), ingest=ingest)
                    st.rerun(scope="app")
                except AnnalystError as err:
                    st.error(t.error(err))
    _finished_rerun(was_running, status.running)


def feedback_review(conversations: Any, t: Translator) -> None:
    """Users' corrections waiting for review; accepted ones become training items."""
    pending = conversations.corrections("pending")
    if not pending:
        st.info(t("feedback_none"))
    for row in pending[:20]:
        with st.container(border=True):
            st.caption(t("feedback_question"))
            st.text(row.question)
            st.caption(t("feedback_model"))
            st.text(row.answer)
            st.caption(t("feedback_fix") + (" 👎" if row.rating < 0 else ""))
            st.text(row.correction)
            c1, c2 = st.columns(2)
            key = f"{row.conv_id}_{row.seq}"
            if c1.button(t("accept"), key=f"acc_{key}", icon="✅"):
                n = conversations.review(row, accept=True)
                st.success(t("feedback_written", n=n, path=conversations.corrections_path))
                st.rerun()
            if c2.button(t("reject"), key=f"rej_{key}", icon="✖️"):
                conversations.review(row, accept=False)
                st.rerun()
    accepted = conversations.corrections("accepted")
    if accepted:
        st.caption(t("feedback_written", n=len(accepted), path=conversations.corrections_path))
