"""The app's backend pieces, without Streamlit: the ingestion job queue (dedupe, waiting for a
command-line ingestion, recovery after a crash), background processes of the admin page, the
password check, evidence rendering and the interface strings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest

from backend.answering.events import Stage
from backend.app.admin import AdminService, check_password, password_configured
from backend.app.evidence import highlight_html, highlight_terms, render_page
from backend.app.processes import ProcessJobs
from backend.app.services import build_services
from backend.errors import JobBusy, TrainingError, UploadTooLarge
from backend.settings import PROJECT_ROOT, Settings
from backend.store.catalog import now
from ingestion.lock import WriterLock
from pages import i18n
from tests.conftest import FOOTLOCKER_8K


@pytest.fixture
def services(settings: Settings, corpus: Path):
    services = build_services(settings)
    yield services
    services.jobs.stop()


# --- ingestion jobs ---------------------------------------------------------------------------
def test_upload_waits_for_cli_ingestion_is_deduplicated_and_recovers(services, tmp_path):
    data = FOOTLOCKER_8K.read_bytes()
    queue = services.jobs
    # A command-line ingestion holds the writer lock: the job waits and says why.
    with WriterLock(services.settings.data_dir, purpose="python -m ingestion add (test)"):
        first = queue.submit_upload(data, "footlocker.pdf")
        assert first.status == "queued"
        deadline = time.monotonic() + 60
        while "Another ingestion is running" not in (queue.job(first.job_id).message or ""):
            assert time.monotonic() < deadline, "the job never reported the busy writer lock"
            time.sleep(0.2)
        job = queue.job(first.job_id)
        assert job.active and "python -m ingestion add (test)" in job.message
        # the same bytes again (double click, second tab, refresh + re-upload): not queued twice
        again = queue.submit_upload(data, "footlocker-copy.pdf")
        assert again.status == "duplicate"
    assert queue.wait_idle(180)
    done = queue.job(first.job_id)
    assert done.status == "done", done.result
    assert done.result["status"] == "indexed" and done.result["pages"] == 4
    doc = services.catalog.document(done.result["doc_id"])
    assert doc.status == "complete" and doc.file_name == "footlocker.pdf"
    assert queue.submit_upload(data, "x.pdf").status == "indexed_already"
    assert [j.job_id for j in queue.jobs()] == [first.job_id]

    # A server that died while re-indexing: its job stays 'running' under a dead pid.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    payload = {
        "op": "reindex",
        "file": doc.file_name,
        "doc_id": doc.doc_id,
        "key": f"doc:{doc.doc_id}",
        "seq": time.time_ns(),
        "attempts": 1,
    }
    with services.catalog.transaction() as conn:
        conn.execute(
            "INSERT INTO jobs (job_id, kind, status, created_at, updated_at, payload, progress, "
            "result) VALUES ('ingest-crashed', 'ingest', 'running', ?, ?, ?, ?, '{}')",
            (
                now(),
                now(),
                json.dumps(payload),
                json.dumps({"stage": "embed", "owner": f"{dead.stdout.strip()}:gone"}),
            ),
        )
    assert queue.recover() == 1
    assert queue.wait_idle(180)
    crashed = queue.job("ingest-crashed")
    assert crashed.status == "done" and crashed.result["status"] == "indexed"
    assert services.catalog.document(doc.doc_id).status == "complete"


def test_upload_limit_is_a_setting(settings, corpus):
    settings.max_upload_mb = 1
    services = build_services(settings)
    with pytest.raises(UploadTooLarge, match="ANNALYST_MAX_UPLOAD_MB"):
        services.jobs.submit_upload(b"%PDF" + b"0" * (1024 * 1024 + 1), "big.pdf")
    assert services.jobs.jobs() == []


# --- background processes of the admin page -------------------------------------------------
def _wait(procs: ProcessJobs, kind: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while procs.is_running(kind):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return procs.status(kind)


def test_background_process_one_at_a_time_status_and_stop(settings, tmp_path):
    procs = ProcessJobs(settings)
    assert procs.status("evaluation").state == "none"
    sleeper = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"]
    st = procs.start("evaluation", sleeper, tmp_path / "run1", {"what": "sleep"})
    assert st.running and procs.is_running("evaluation")
    with pytest.raises(JobBusy, match="already running"):
        procs.start("evaluation", sleeper, tmp_path / "run2", {})
    assert not (tmp_path / "run2").exists()
    assert ProcessJobs(settings).status("evaluation").running  # any reader (another session)
    deadline = time.monotonic() + 20
    while "started" not in st.log_tail():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert procs.stop("evaluation")
    assert _wait(procs, "evaluation").state == "stopped"

    ok = procs.start("fewshot", [sys.executable, "-c", "print('ok')"], tmp_path / "run3", {})
    assert ok.running
    done = _wait(procs, "fewshot")
    assert (done.state, done.exit_code, done.log_tail()) == ("finished", 0, "ok")
    procs.start("fewshot", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "run4", {})
    failed = _wait(procs, "fewshot")
    assert (failed.state, failed.exit_code) == ("failed", 3)


def test_training_arguments_are_checked_before_launch(settings):
    admin = AdminService(settings)
    settings.data_dir.mkdir(parents=True)
    with pytest.raises(TrainingError, match=r"train\.jsonl"):
        admin.start_training(base="smollm2-135m", steps=10, rank=8, data=settings.data_dir)
    assert admin.training().status.state == "none"


@pytest.mark.slow
def test_training_run_from_the_admin_backend(settings):
    """A real (tiny) LoRA run launched like the admin page does, followed through its files."""
    admin = AdminService(settings)
    admin.start_training(
        base="smollm2-135m",
        steps=2,
        rank=4,
        data=PROJECT_ROOT / "tests/data/training_sample.jsonl",
        extra={
            "export": False,
            "register": False,
            "batch_size": 2,
            "max_len": 512,
            "threads": 1,
            "heldout_items": 0,
        },
    )
    with pytest.raises(JobBusy):
        admin.start_training(
            base="smollm2-135m",
            steps=2,
            rank=4,
            data=PROJECT_ROOT / "tests/data/training_sample.jsonl",
        )
    _wait(admin.procs, "training", timeout=900)
    view = admin.training()
    assert view.state == "completed", view.status.log_tail(20)
    assert [s for s, _ in view.losses] == [1, 2] and all(loss > 0 for _, loss in view.losses)
    assert view.step == view.max_steps == 2


def test_evaluation_fills_the_table(settings, tmp_path):
    """`python -m backend.evaluate` launched in the background; its summary lands in the table
    (an empty index: the answer is a refusal, no model call needed)."""
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "What was Foot Locker's revenue in 2022?",
                "answer": "N/A",
                "doc": "reports/none.pdf",
            }
        )
        + "\n"
    )
    settings.chat_mode = "rag"
    admin = AdminService(settings)
    rows = admin.model_rows()
    assert [r.key for r in rows] == [f"preset:{settings.chat_model}"] and rows[0].active
    admin.start_evaluation(rows[0].key, limit=1, qa=qa)
    status = _wait(admin.procs, "evaluation", timeout=300)
    assert status.state == "finished", status.log_tail(20)
    row = admin.model_rows()[0]
    assert row.scores["n"] == 1 and row.scores["refusal_accuracy_na"] == 1.0
    assert row.source.endswith(" · qa.jsonl")


# --- password ---------------------------------------------------------------------------------
def test_admin_password(settings):
    assert not password_configured(settings)
    assert not check_password(settings, "")
    assert not check_password(settings, "anything")
    locked = Settings(data_dir=settings.data_dir, admin_password="correct horse")
    assert password_configured(locked)
    assert check_password(locked, "correct horse")
    assert not check_password(locked, "correct horse ")
    assert not check_password(locked, "")


# --- evidence rendering -----------------------------------------------------------------------
def test_highlight_terms_match_amounts_not_lookalikes():
    page = "(In millions) 2021 2020\nTotal revenue $ 4,512 $ 3,980\nOther 14,512 4,512.5 0.01"
    assert highlight_terms("Revenue was $4,512 million [a.pdf p.41].", page) == ["4,512"]
    assert highlight_terms("Revenue was $4.512 billion.", page) == ["4,512"]
    assert highlight_terms("It grew 100% in 2021 [a.pdf p.41].", page) == []  # not 0.01 × 1e4
    assert highlight_terms("营业收入为1.5亿元。", "营业收入 150,000,000.00 元") == [
        "150,000,000.00"
    ]
    html = highlight_html("A <b> $ 4,512 and 14,512", ["4,512"])
    assert "<mark>4,512</mark>" in html and "14,512" in html and "1<mark>" not in html
    assert "&lt;b&gt;" in html and "$" not in html  # escaped; no LaTeX in Streamlit


def test_render_page_boxes_the_number(corpus):
    png, boxes = render_page(FOOTLOCKER_8K, 2, ["96,089,997", "77,551,206"])
    assert png.startswith(b"\x89PNG") and boxes == 2
    _, none = render_page(FOOTLOCKER_8K, 2, ["6,089,997"])  # inside a longer number only
    assert none == 0


# --- interface strings ------------------------------------------------------------------------
def test_every_string_in_both_languages_and_every_key_defined():
    for key, (en, zh) in i18n.STRINGS.items():
        assert en.strip() and zh.strip(), key
        assert re.findall(r"\{(\w+)", en) == re.findall(r"\{(\w+)", zh), key
    used = set()
    for path in [PROJECT_ROOT / "app.py", *sorted((PROJECT_ROOT / "pages").glob("*.py"))]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']\s*[,)]""", path.read_text()))
    # keys built at run time: job operations and stages, run states, evidence notes
    used |= {f"op_{op}" for op in ("add", "reindex", "remove")}
    used |= {f"stage_{s}" for s in ("queued", "parse", "chunk", "embed", "facts", "write", "done")}
    used |= {
        f"state_{s}" for s in ("starting", "running", "completed", "cancelled", "failed", "stopped")
    }
    used |= {"image_missing_pdf", "image_render_failed"}
    used |= {f"status_{s}" for s in typing.get_args(Stage)}
    assert len(used) > 100 and used <= set(i18n.STRINGS), sorted(used - set(i18n.STRINGS))
    assert i18n.pick_language("auto", "zh-CN") == "zh"
    assert i18n.pick_language("auto", "en-US") == "en"
    assert i18n.pick_language("en", "zh-CN") == "en"
    assert i18n.pick_language(None, None) == "en"
    assert i18n.Translator("zh").status("search") == "正在检索报告…"
