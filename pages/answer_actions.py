"""What the analyst can do with an answer: download it (Markdown, CSV, Excel) and rate or
correct it. Rendering only; the files come from :mod:`backend.app.exports`, the feedback is
stored by :mod:`backend.app.conversations`."""

from __future__ import annotations

from typing import Any

import streamlit as st

from backend.app.exports import answer_csv, answer_markdown, answer_xlsx
from pages.i18n import Translator

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
