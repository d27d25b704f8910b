"""One answer in the chat: the streamed text, then the checked answer as text (model output never
renders images, links or HTML), its citations as short labels that open the cited page, the
figures as a table, exports, the trace as steps and the user's feedback. Rendering only."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import streamlit as st

from backend.answering.events import Status, Token
from backend.answering.facts_route import FACTS_MODEL
from backend.app.display import citation_labels, echoes_prompt_example, safe_markdown, trace_steps
from backend.app.evidence import citation_view
from backend.app.exports import Export, answer_csv, answer_markdown, answer_xlsx, data_rows, pivot
from backend.errors import AnnalystError
from pages.i18n import Translator

log = logging.getLogger("annalyst.app")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def follow(services: Any, t: Translator, run: Any) -> bool:
    """Stream a running answer into the page; True when it finished with an answer (stored)."""
    status = st.status(t("working"), expanded=False)
    box = st.empty()
    text = ""
    for event in run.follow():
        if isinstance(event, Status):
            status.update(label=t.status(event.stage))
        elif isinstance(event, Token):
            text += event.text
            if not echoes_prompt_example(text, run.question):
                box.markdown(safe_markdown(text) + " ▌")
    box.empty()
    if run.error:
        run.seen = True
        status.update(label=t("failed"), state="error")
        st.error(t("unexpected_error") if run.error == "unexpected" else run.error)
        return False
    answer = run.answer
    status.update(label=t("answered_in", s=answer.timings.get("total_s", 0.0)), state="complete")
    return True


def labels_of(services: Any, answer: Any) -> dict[str, str]:
    return citation_labels(answer.citations, services.catalog.document)


def show_answer(services: Any, t: Translator, conv_id: str, turn: Any) -> None:
    """A stored turn's answer (``turn``: backend.app.conversations.StoredTurn)."""
    answer, key = turn.answer, f"{conv_id}_{turn.seq}"
    labels = labels_of(services, answer)
    if answer.standalone_question and answer.standalone_question != turn.question:
        st.caption(t("understood_as", q=safe_markdown(answer.standalone_question)))
    st.markdown(safe_markdown(answer.answer, labels))
    seconds = answer.timings.get("total_s")
    model = t("facts_model") if answer.model == FACTS_MODEL else answer.model
    st.caption(" · ".join(p for p in [model or "", f"{seconds:.1f} s" if seconds else ""] if p))
    if answer.unverified_numbers:
        st.warning(t("unverified", numbers=", ".join(answer.unverified_numbers)))
    for j, cite in enumerate(answer.citations):
        with st.expander(f"📄 {labels.get(cite.tag, cite.tag)}", key=f"{key}_c{j}"):
            citation(services, t, answer.answer, cite)
    export = Export(turn.question, answer, labels)
    rows = data_rows(answer)
    if len(rows) > 1:
        header, body = pivot(rows)
        st.dataframe(pd.DataFrame(body, columns=header), hide_index=True, key=f"{key}_table")
    with st.expander(t("trace"), icon="🔎", key=f"{key}_trace"):
        trace(t, answer)
    left, right = st.columns([3, 2])
    with left:
        downloads(t, export, key)
    with right:
        feedback(services, t, conv_id, turn)


def downloads(t: Translator, export: Any, key: str) -> None:
    stem = f"annalyst-{key}"
    c1, c2, c3 = st.columns(3)
    c1.download_button(t("export_md"), lambda: answer_markdown(export), f"{stem}.md", "text/markdown",
                       key=f"{key}_md", icon="⬇️", on_click="ignore")  # fmt: skip
    c2.download_button(t("export_csv"), lambda: answer_csv(export), f"{stem}.csv", "text/csv",
                       key=f"{key}_csv", icon="⬇️", on_click="ignore")  # fmt: skip
    c3.download_button(t("export_xlsx"), lambda: answer_xlsx(export), f"{stem}.xlsx", XLSX,
                       key=f"{key}_xlsx", icon="⬇️", on_click="ignore")  # fmt: skip


def feedback(services: Any, t: Translator, conv_id: str, turn: Any) -> None:
    """👍/👎 and an optional correction, stored with the turn."""
    key, seq = f"{conv_id}_{turn.seq}", turn.seq

    def save(correction: str | None = None) -> None:
        thumbs = st.session_state.get(f"{key}_fb")
        rating = {None: 0, 0: -1, 1: 1}.get(thumbs, 0)
        text = turn.correction if correction is None else correction
        services.conversations.feedback(conv_id, seq, rating=rating, correction=text)

    if f"{key}_fb" not in st.session_state and turn.rating:
        st.session_state[f"{key}_fb"] = 1 if turn.rating > 0 else 0
    c1, c2 = st.columns([1, 2])
    with c1:
        st.feedback("thumbs", key=f"{key}_fb", on_change=save)
    with c2, st.popover(t("correct"), icon="✏️"), st.form(f"{key}_fix", border=False):
        fix = st.text_area(t("correction"), turn.correction, help=t("correction_help"))
        if st.form_submit_button(t("save_correction")):
            save(fix)
            st.success(t("correction_saved"))


def citation(services: Any, t: Translator, answer_text: str, cite: Any) -> None:
    try:
        view = citation_view(
            services.catalog, cite.doc_id, cite.page, answer_text, cite.snippet,
            above=t("lines_above"),
        )  # fmt: skip
    except AnnalystError as err:
        st.error(str(err))
        return
    left, right = st.columns(2)
    with left:
        st.caption(f"{view.file} · p. {view.page}")
        st.html(view.html)
        if view.terms:
            st.caption(t("highlighted", terms=", ".join(view.terms)))
    with right:
        if view.png:
            st.image(view.png, caption=f"{view.file} · p. {view.page}")
        else:
            st.info(t(f"image_{view.note}"))


def trace(t: Translator, answer: Any) -> None:
    """The audit trail as steps (tool, inputs, result, page); the raw JSON one tab further."""
    steps_tab, json_tab = st.tabs([t("trace_steps"), t("trace_json")])
    with steps_tab:
        rows = [
            {t("col_step"): t("step_" + r["step"]) if t.has("step_" + r["step"]) else r["step"],
             t("tool"): r["tool"], t("col_inputs"): r["inputs"], t("col_result"): r["result"],
             t("col_page"): r["page"]}
            for r in trace_steps(answer.trace)
        ]  # fmt: skip
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        if answer.timings:
            st.caption(" · ".join(f"{k} {v}" for k, v in answer.timings.items()))
    with json_tab:
        st.json(answer.trace, expanded=2)
