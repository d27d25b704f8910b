"""Reports: upload PDFs (indexed in the background), follow each file's progress, correct the
detected company/year, delete or re-index reports. Jobs live in the catalogue, not the session:
a browser refresh shows the same jobs and never submits one twice."""

import streamlit as st

from backend.errors import AnnalystError
from pages import widgets as w

services, t = w.context()
queue = services.jobs
settings = services.settings
queue.recover()  # resume jobs a stopped server left behind


def can_write() -> bool:
    """Write actions need the password when one is set (browsing stays open)."""
    return not services.gate.configured or bool(st.session_state.get("admin_ok"))


def refused() -> bool:
    """Checked again in every callback: a disabled button is no guard on the server."""
    if can_write():
        return False
    st.session_state["flash"] = ("error", t("reports_locked"))
    return True


def submit(kind: str, doc_id: str, file: str) -> None:
    """Button callback (runs before the page, so the job list below already shows the job)."""
    if refused():
        return
    try:
        sub = queue.submit_reindex(doc_id) if kind == "reindex" else queue.submit_remove(doc_id)
        st.session_state["flash"] = (
            "info",
            t("queued" if sub.status == "queued" else "already_queued", file=file),
        )
    except AnnalystError as err:
        st.session_state["flash"] = ("error", t.error(err))


def save_meta(doc_id: str) -> None:
    """Form callback: store the corrected company / year / type before the page renders."""
    state = st.session_state
    if refused():
        return
    try:
        services.catalog.update_metadata(
            doc_id,
            company=state[f"co_{doc_id}"].strip(),
            fiscal_year=int(state[f"fy_{doc_id}"]) or None,
            report_type=state[f"rt_{doc_id}"].strip(),
        )
        state["flash"] = ("success", t("meta_saved"))
    except AnnalystError as err:
        state["flash"] = ("error", t.error(err))


st.title(t("reports_title"))
w.exposed_warning(services, t)
if flash := st.session_state.pop("flash", None):
    getattr(st, flash[0])(flash[1])
if not can_write():
    st.info(t("reports_locked"), icon="🔒")
    w.unlocked(services, t, "reports_login")
writable = can_write()
with st.form("upload", clear_on_submit=True):
    files = st.file_uploader(
        t("upload_label", mb=settings.max_upload_mb),
        type=["pdf"],
        accept_multiple_files=True,
        max_upload_size=settings.max_upload_mb,
        disabled=not writable,
    )
    submitted = st.form_submit_button(
        t("upload_button"), type="primary", icon="⬆️", disabled=not writable
    )
submitted = submitted and writable
if submitted and not files:
    st.warning(t("upload_none"))
for f in files if submitted else []:
    try:
        sub = queue.submit_upload(f.getvalue(), f.name)
    except AnnalystError as err:
        st.error(t.error(err))
        continue
    if sub.status == "indexed_already":
        st.info(t("already_indexed", file=f.name, label=sub.doc.label), icon="ℹ️")
    elif sub.status == "duplicate":
        st.info(t("already_queued", file=f.name), icon="ℹ️")
    else:
        st.success(t("queued", file=f.name), icon="✅")

active = queue.has_active()


@st.fragment(run_every=1.0 if active else None)
def jobs_panel() -> None:
    jobs = queue.jobs(limit=12)
    if jobs:
        st.subheader(t("jobs_title"))
    for job in jobs:
        with st.container(border=True):
            w.job_card(t, job)
    finished = sum(not j.active for j in jobs)
    changed = finished != st.session_state.setdefault("_finished_jobs", finished)
    if active and (changed or not any(j.active for j in jobs)):
        st.session_state["_finished_jobs"] = finished
        st.rerun(scope="app")  # a job finished: refresh the list of reports below


jobs_panel()

docs = services.catalog.documents(status=None)
failed = {j.doc_id: j for j in reversed(queue.jobs(limit=30)) if j.status == "failed"}
st.subheader(t("indexed_title", n=sum(d.status == "complete" for d in docs)))
if not docs:
    st.info(t("no_reports_yet"))
for d in docs:
    badge = {"complete": "", "indexing": " ⚙️", "failed": " ❌"}.get(d.status, f" ({d.status})")
    with st.expander(f"{d.label} — {d.file_name}{badge}", key=f"doc_{d.doc_id}"):
        st.caption(t("doc_stats", **d.to_dict()))
        if d.error:  # as its job showed it (translated, the uploaded name), if it is listed
            job = failed.get(d.doc_id)
            st.error(t.error(w.failure_record(job.result, job)) if job else d.error)
        with st.form(f"meta_{d.doc_id}"):
            c1, c2, c3 = st.columns([3, 1, 1])
            c1.text_input(t("company"), d.company, key=f"co_{d.doc_id}")
            c2.number_input(
                t("year"), 0, 2100, d.fiscal_year or 0, help=t("year_help"), key=f"fy_{d.doc_id}"
            )
            c3.text_input(t("report_type"), d.report_type, key=f"rt_{d.doc_id}")
            st.form_submit_button(
                t("save_meta"), on_click=save_meta, args=(d.doc_id,), disabled=not writable
            )
        c1, c2, c3 = st.columns(3)
        c1.button(
            t("reindex"),
            key=f"re_{d.doc_id}",
            icon="🔄",
            on_click=submit,
            args=("reindex", d.doc_id, d.file_name),
            disabled=not writable,
        )
        sure = c2.checkbox(t("confirm_delete"), key=f"sure_{d.doc_id}", disabled=not writable)
        c3.button(
            t("delete"),
            key=f"del_{d.doc_id}",
            icon="🗑️",
            disabled=not (sure and writable),
            on_click=submit,
            args=("remove", d.doc_id, d.file_name),
        )
