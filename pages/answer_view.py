"""One answer in the chat: the streamed text, then the checked answer as text (model output never
renders images, links or HTML), its citations as short labels that open the cited page (in the
text: a link to the page view, pages/page_view.py; below it: one expander each), the figures as a
table, exports, the trace as steps and the user's feedback. Rendering only."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import streamlit as st

from backend.answering.events import Evidence, Status, Token
from backend.answering.facts_route import FACTS_MODEL
from backend.app.display import (
    citation_labels,
    citation_links,
    echoes_prompt_example,
    plain,
    safe_markdown,
    short_label,
    stream_safe,
    trace_steps,
)
from backend.app.evidence import citation_view
from backend.app.exports import Export, data_rows, pivot
from backend.errors import AnnalystError
from pages import answer_actions
from pages.i18n import Translator

log = logging.getLogger("annalyst.app")


def follow(services: Any, t: Translator, run: Any) -> bool:
    """Stream a running answer into the page: the progress, the best evidence with its page as
    soon as it is found, then the model's words as they come (``st.write_stream``, escaped so a
    report cannot make the page fetch anything). True when it finished with an answer."""
    status = st.status(t("working"), expanded=False)
    evidence = st.empty()
    box = st.empty()

    def words() -> Any:
        text = ""
        for event in run.follow():
            if isinstance(event, Status):
                status.update(label=t.status(event.stage))
            elif isinstance(event, Evidence):
                label = labels_of_page(services, event.doc_id, event.page)
                evidence.caption(t("best_evidence", label=label) + " " + plain(event.text))
            elif isinstance(event, Token):
                text += event.text
                if echoes_prompt_example(text, run.question):
                    return  # the model is copying the prompt's example: show the checked answer
                yield stream_safe(event.text)

    with box.container():
        st.write_stream(words())
    box.empty()
    evidence.empty()
    if run.error:
        run.seen = True
        status.update(label=t("failed"), state="error")
        unexpected = run.error == "unexpected"
        st.error(t("unexpected_error") if unexpected else t.error(run.failure or run.error))
        return False
    for _ in run.follow():  # drain what is left after an early stop
        pass
    answer = run.answer
    status.update(label=t("answered_in", s=answer.timings.get("total_s", 0.0)), state="complete")
    return True


def labels_of_page(services: Any, doc_id: str, page: int) -> str:
    return short_label(services.catalog.document(doc_id), page)


def labels_of(services: Any, answer: Any) -> dict[str, str]:
    return citation_labels(answer.citations, services.catalog.document)


def show_answer(services: Any, t: Translator, conv_id: str, turn: Any) -> None:
    """A stored turn's answer (``turn``: backend.app.conversations.StoredTurn)."""
    answer, key = turn.answer, f"{conv_id}_{turn.seq}"
    labels = labels_of(services, answer)
    if answer.standalone_question and answer.standalone_question != turn.question:
        st.caption(t("understood_as", q=safe_markdown(answer.standalone_question)))
    links = citation_links(answer.citations, c=conv_id, turn=turn.seq, lang=t.lang)
    st.markdown(safe_markdown(answer.answer, labels, links))  # each label opens its page view
    seconds = answer.timings.get("total_s")
    model = t("facts_model") if answer.model == FACTS_MODEL else answer.model
    st.caption(" · ".join(p for p in [model or "", f"{seconds:.1f} s" if seconds else ""] if p))
    if answer.unverified_numbers:
        st.warning(t("unverified", numbers=", ".join(answer.unverified_numbers)))
    if answer.degraded:
        st.warning(t("degraded", reason=plain(answer.degraded)))
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
        answer_actions.downloads(t, export, key)
    with right:
        answer_actions.feedback(services, t, conv_id, turn)


def citation(services: Any, t: Translator, answer_text: str, cite: Any) -> None:
    try:
        view = citation_view(
            services.catalog, cite.doc_id, cite.page, answer_text, cite.snippet,
            above=t("lines_above"),
        )  # fmt: skip
    except AnnalystError as err:
        st.error(t.error(err))
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
