"""Admin page, training tab: the run form with a time estimate per device, and the path for
training on a GPU machine (bundle out, adapter in). Rendering only; backend/app/admin.py works."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from backend.llm.bundled import BUNDLED
from pages.i18n import Translator

DEVICES = ("auto", "cpu", "cuda")


def _duration(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{max(1, m)} min"


def _estimate_line(admin: Any, t: Translator, values: dict[str, Any]) -> None:
    est = admin.training_estimate(**values)
    if est.tokens_per_step <= 0:
        st.caption(t("estimate_no_data"))
        return
    if not est.tok_per_s:
        st.caption(t("estimate_unknown"))
        return
    text = t(
        "estimate",
        time=_duration(est.seconds),
        tok_s=f"{est.tok_per_s:,.0f}",
        tokens=f"{est.tokens_per_step:,.0f}",
        source=est.source,
    )
    slow = est.seconds > 3 * 3600
    (st.warning if slow else st.caption)(text + (" " + t("estimate_slow") if slow else ""))


def training_form(admin: Any, t: Translator) -> None:
    """Base, steps, rank, batch, device: the estimate updates as they change; start runs here."""
    defaults = admin.default_training_args()
    running = admin.procs.is_running("training")
    bases = list(dict.fromkeys([defaults["base"], *BUNDLED]))
    c1, c2, c3, c4, c5, c6 = st.columns([2, 1, 1, 1, 1, 1])
    base = c1.selectbox(t("base_model"), bases, accept_new_options=True, key="tr_base")
    steps = c2.number_input(t("steps"), 1, 100_000, int(defaults["steps"]), key="tr_steps")
    rank = c3.selectbox(t("lora_rank"), [4, 8, 16, 32, 64], index=2, key="tr_rank")
    batch = c4.number_input(t("batch_size"), 1, 256, 4, key="tr_batch")
    gpu = admin.gpu_available()
    device = c5.selectbox(
        t("device"),
        DEVICES,
        index=0,
        key="tr_device",
        help=t("device_help_gpu" if gpu else "device_help_cpu"),
    )
    nproc = c6.number_input(t("train_nproc"), 1, 64, 1, help=t("train_nproc_help"), key="tr_np")
    data = st.text_input(
        t("train_data"), defaults["data"], help=t("train_data_help"), key="tr_data"
    )
    values = {"base": base, "device": device, "steps": steps, "batch_size": batch, "data": data}
    _estimate_line(admin, t, values)
    if st.button(t("train_start"), icon="🏋️", disabled=running, type="primary"):
        extra = {"batch_size": int(batch), "device": device}
        admin.start_training(
            base=base, steps=int(steps), rank=int(rank), data=data, nproc=int(nproc), extra=extra
        )
        st.rerun()
    with st.expander(t("gpu_elsewhere")):
        _bundle_section(
            admin, t, base=base, steps=int(steps), rank=int(rank), batch=int(batch), data=data
        )
        _import_section(admin, t, base=base)


def _bundle_section(admin: Any, t: Translator, **values: Any) -> None:
    st.markdown(t("gpu_elsewhere_help"))
    job = admin.procs.status("bundle")
    if st.button(t("bundle_start"), icon="📦", disabled=job.running):
        admin.start_bundle(
            base=values["base"], steps=values["steps"], rank=values["rank"],
            batch_size=values["batch"], data=values["data"],
        )  # fmt: skip
        st.rerun()
    if job.running:
        st.info(t("bundle_running"), icon="⚙️")
    elif job.state == "finished":
        out = job.meta.get("out", "")
        st.success(t("bundle_done", out=out))
        st.code(
            f"python -m training assemble {Path(out).name}\nsh {Path(out).name}/run.sh",
            language="bash",
        )
    elif job.state in ("failed", "stopped"):
        st.error(job.log_tail(5) or t("job_failed", code=job.exit_code))


def _import_section(admin: Any, t: Translator, *, base: str) -> None:
    up = st.file_uploader(t("adapter_upload"), type=["gguf"], key="adapter_file")
    name = st.text_input(t("adapter_name"), f"{base}-lora", key="adapter_name")
    if up is not None and st.button(t("adapter_import"), icon="📥"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(up.name).name
            path.write_bytes(up.getbuffer())
            mv = admin.import_adapter(path, base=base, name=name)
        st.success(t("adapter_imported", version=mv.version))
