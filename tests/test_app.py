"""The Streamlit app driven like a user would (streamlit.testing AppTest, in-process): chat,
reports and admin pages on a real index, real models (smollm2-135m) and real background jobs.
Settings reach the app through ANNALYST_* variables, as in production."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from backend.app.services import build_services
from backend.llm.registry import ModelRegistry
from backend.settings import PROJECT_ROOT, Settings
from tests.conftest import CORPUS, FOOTLOCKER_8K, MODELS, require

APP = str(PROJECT_ROOT / "app.py")
SMOLLM = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def indexed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the 4-page Foot Locker 8-K indexed (shared read-only by chat tests)."""
    require(FOOTLOCKER_8K.is_file(), f"corpus not found at {CORPUS}")
    data = tmp_path_factory.mktemp("indexed") / "data"
    services = build_services(Settings(data_dir=data, models_path=MODELS, corpus_dir=CORPUS))
    [result] = services.ingestor.add([FOOTLOCKER_8K])
    assert result.status == "indexed", result.error
    return data


@pytest.fixture
def app(tmp_path, monkeypatch):
    """Factory: an AppTest of app.py on ``data_dir`` with the given extra ANNALYST_* settings."""
    made: list[AppTest] = []

    def make(data_dir: Path | None = None, **env: str) -> AppTest:
        settings = {
            "DATA_DIR": str(data_dir or tmp_path / "data"),
            "MODELS_PATH": str(MODELS),
            "CORPUS_DIR": str(CORPUS),
            "CHAT_MODEL": "smollm2-135m",
            "CHAT_MODE": "rag",
            "TOP_K": "2",
            "MAX_ANSWER_TOKENS": "40",
            "N_THREADS": "1",
            **env,
        }
        monkeypatch.delenv("ANNALYST_ADMIN_PASSWORD", raising=False)
        for key, value in settings.items():
            monkeypatch.setenv(f"ANNALYST_{key}", value)
        st.cache_resource.clear()  # a new server process, as far as the app can tell
        at = AppTest.from_file(APP, default_timeout=300)
        made.append(at)
        return at

    yield make
    for at in made:
        try:
            services = at.session_state["services"]
        except (KeyError, AttributeError):
            continue
        services.jobs.stop()
    st.cache_resource.clear()


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, texts(at.error)


# --- chat -------------------------------------------------------------------------------------
def test_chat_without_reports_points_to_the_reports_page(app):
    at = app().run()
    no_errors(at)
    assert "No reports are indexed yet" in texts(at.info)[0]
    assert [link.proto.page for link in at.get("page_link")] == ["reports"]
    assert not at.chat_input  # nothing to ask yet

    at.context = {"locale": "zh-CN"}  # the browser's language decides...
    at.run()
    assert "尚未索引任何报告" in texts(at.info)[0]
    assert texts(at.title) == ["向年报提问"]
    at.sidebar.radio[0].set_value("en").run()  # ...unless the sidebar switch does
    assert texts(at.title) == ["Ask your annual reports"]


def _conv(at: AppTest) -> str:
    conv_id = at.query_params.get("c", [""])
    return conv_id[0] if isinstance(conv_id, list) else conv_id


def _turns(at: AppTest) -> list:
    conv_id = _conv(at)
    return at.session_state["services"].conversations.turns(conv_id) if conv_id else []


def test_chat_answers_with_citation_evidence_model_and_trace(app, indexed_dir):
    at = app(indexed_dir).run()
    no_errors(at)
    captions = " ".join(texts(at.sidebar.caption))
    assert "SmolLM2-135M-Instruct" in captions and "bundled" in captions
    assert any(b.label.startswith("What was Foot Locker") for b in at.button)  # examples
    # RAG with the 135M model: what it writes is its own; the app streams it, cites the retrieved
    # page (a short label), and shows that page's text and image as evidence.
    at.chat_input[0].set_value(
        "How many shares of Foot Locker common stock were outstanding on the record date?"
    )
    at.run()
    no_errors(at)
    user, assistant = at.chat_message
    assert user.markdown[0].value.startswith("How many shares")
    text = assistant.markdown[0].value  # the stored answer, rendered as text
    assert text.strip() and ":blue-background[[Foot Locker 2022 8-K · p.2](?doc=" in text
    cite = next(e for e in assistant.expander if e.label.startswith("📄"))
    assert cite.label == "📄 Foot Locker 2022 8-K · p.2"
    assert "96,089,997 shares of common stock" in cite.get("html")[0].value  # the page text
    [image] = cite.get("image")  # the rendered PDF page
    assert image.captions == ["FOOTLOCKER_2022_8K_dated-2022-05-20.pdf · p. 2"]
    trace = next(e for e in assistant.expander if e.label == "How this answer was made")
    steps = trace.tabs[0].dataframe[0].value
    assert list(steps["Step"]) == ["Plan", "Search"]
    assert list(steps["Inputs"])[1].startswith("How many shares")
    assert "FOOTLOCKER_2022_8K_dated-2022-05-20.pdf p.2" in " ".join(steps["Page"])
    assert len(_turns(at)) == 1
    assert [c.title for c in at.session_state["services"].conversations.list()] == [
        "How many shares of Foot Locker common stock were outstanding on the record date?"
    ]

    at.run()  # the conversation is kept across reruns
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    next(b for b in at.sidebar.button if b.label == "New chat").click().run()
    assert not at.chat_message and _turns(at) == []
    # the old conversation is kept and listed; opening it shows it again
    old = next(b for b in at.sidebar.button if b.label.startswith("How many shares"))
    old.click().run()
    assert [m.name for m in at.chat_message] == ["user", "assistant"]


def test_chat_error_says_what_to_do_never_a_stack_trace(app, indexed_dir, tmp_path):
    """The configured model is not prepared: the sidebar and the answer say which command fixes
    it; the conversation is not broken."""
    at = app(indexed_dir, MODELS_PATH=str(tmp_path / "no-models")).run()
    assert not at.exception
    assert "python -m backend models prepare" in texts(at.sidebar.error)[0]
    at.chat_input[0].set_value("How many shares were outstanding?").run()
    assert not at.exception
    [error] = at.main.error
    assert "is not prepared" in error.value and "python -m backend models prepare" in error.value
    assert _turns(at) == []

    at.context = {"locale": "zh-CN"}  # a Chinese browser: the same error, in Chinese
    at.run()
    assert "尚未在" in texts(at.sidebar.error)[0] and "准备好" in texts(at.sidebar.error)[0]
    at.chat_input[0].set_value("How many shares were outstanding?").run()
    [error] = at.main.error
    assert error.value.startswith("模型“") and "尚未在" in error.value, error.value
    assert "python -m backend models prepare" in error.value


def test_chat_says_when_search_ran_on_keywords_only(app, indexed_dir, tmp_path):
    """A broken vector store: the chat still answers from keyword search, and says so under the
    answer (the reason is the store's error, shown as text)."""
    data = tmp_path / "data"
    shutil.copytree(indexed_dir, data)
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database " * 4096)
    at = app(data).run()
    no_errors(at)
    at.chat_input[0].set_value("What does the report say about polar bears in Svalbard?").run()
    assert not at.exception
    [warning] = at.chat_message[1].warning
    assert warning.value.startswith("Searched with keywords only, so passages may be missing:")
    assert "Vector search is unavailable" in warning.value


def test_bad_setting_is_named_not_a_stack_trace(app):
    at = app(CHAT_MODE="chatty").run()
    assert not at.exception
    [error] = at.error
    assert "ANNALYST_* variable" in error.value and "chat_mode" in error.value


def test_chat_facts_route_cites_the_statement_page(app, tmp_path, netflix_extract):
    """Agent mode, no model needed: the number comes from the income statement, with its page."""
    data = tmp_path / "data"
    services = build_services(Settings(data_dir=data, models_path=MODELS, corpus_dir=CORPUS))
    [result] = services.ingestor.add([netflix_extract])
    assert result.status == "indexed" and result.facts > 0, result
    at = app(data, CHAT_MODE="agent").run()
    at.chat_input[0].set_value("What was Netflix's total revenue in FY2017?").run()
    no_errors(at)
    _, assistant = at.chat_message
    text = assistant.markdown[0].value
    [turn] = _turns(at)
    [cited] = turn.answer.citations
    # the in-text label links to the page view of the cited page (this conversation's turn)
    link = f"?doc={cited.doc_id}&page=2&c={_conv(at)}&turn={turn.seq}&lang=en"
    assert "11,692,713" in text and f":blue-background[[Netflix 2017 · p.2]({link})]" in text
    assert "financial statements (no model needed)" in texts(assistant.caption)[0]
    cite = next(e for e in assistant.expander if e.label.startswith("📄"))
    assert cite.label == "📄 Netflix 2017 · p.2"
    assert "<mark>11,692,713</mark>" in cite.get("html")[0].value
    [image] = cite.get("image")
    assert image.captions == [f"{netflix_extract.name} · p. 2"]
    trace = next(e for e in assistant.expander if e.label == "How this answer was made")
    steps = trace.tabs[0].dataframe[0].value
    assert "get_fact" in list(steps["Tool"])
    labels = [b.label for b in assistant.get("download_button")]
    assert labels == ["Markdown", "CSV", "Excel"]

    # a follow-up substitutes the year; feedback is stored with the turn
    at.chat_input[0].set_value("and in 2016?").run()
    no_errors(at)
    assert "8,830,669" in at.chat_message[3].markdown[0].value
    [_first, second] = _turns(at)
    assert second.answer.standalone_question == "What was Netflix's total revenue in FY2016?"

    # filters restrict: a company the filter excludes is said to be excluded
    at.sidebar.selectbox[1].set_value(2017).run()  # the year filter
    at.chat_input[0].set_value("What was Foot Locker's revenue in 2022?").run()
    assert "Your filters (FY2017) exclude this question" in at.chat_message[5].markdown[0].value

    # the label's link, opened (Streamlit opens it in a new tab: a new session on that URL)
    view = _open_url(app(data, CHAT_MODE="agent"), link.replace("lang=en", "lang=zh"))
    no_errors(view)
    assert texts(view.title) == ["Netflix 2017 · p.2"] and not view.chat_input
    assert (
        texts(view.caption)[0]
        == "引用自以下问题的回答：What was Netflix's total revenue in FY2017?"
    )
    assert "<mark>11,692,713</mark>" in view.get("html")[0].value  # opened at the number
    assert view.get("image")[0].captions == [f"{netflix_extract.name} · p. 2"]
    gone = _open_url(app(data, CHAT_MODE="agent"), "?doc=nope&page=2")  # no lang: the browser's
    assert "That page is not in the indexed reports" in texts(gone.error)[0]


def _open_url(at: AppTest, url: str) -> AppTest:
    """``at`` run as a browser opening the app at ``url`` (a query string)."""
    for key, values in parse_qs(url.lstrip("?")).items():
        at.query_params[key] = values
    return at.run()


def test_model_text_cannot_make_links_or_directives():
    """Only the app's own labels become links: brackets and backslashes from the model (or a
    report) show as typed, and a label's text is escaped too."""
    from backend.app.display import safe_markdown

    tag = "[a.pdf p.2]"
    planted = f"See :red[alarm] \\[x\\](?doc=evil) and [{tag}](http://evil) {tag}"
    out = safe_markdown(planted, {tag: "A [Co] 2017 · p.2"}, {tag: "?doc=d1&page=2"})
    assert re.findall(r"(?<!\\)\]\(", out) == ["](", "]("]  # the label's link, twice; no other
    assert out.count(":blue-background[[A \\[Co\\] 2017 · p.2](?doc=d1&page=2)]") == 2
    assert ":red\\[alarm\\]" in out and "](?doc=evil)" not in out
    assert "http://" not in out


def test_citation_shows_page_text_and_image_with_the_number_highlighted(app, indexed_dir):
    """The evidence view of a citation, on the real index (as the chat renders it)."""
    from backend.app.evidence import citation_view

    services = build_services(Settings(data_dir=indexed_dir, models_path=MODELS))
    [doc] = services.catalog.documents()
    answer = f"There were 96,089,997 shares outstanding [{doc.file_name} p.2]."
    view = citation_view(services.catalog, doc.doc_id, 2, answer)
    assert view.terms == ["96,089,997"] and "<mark>96,089,997</mark>" in view.html
    assert view.png and view.png.startswith(b"\x89PNG") and view.boxes == 1


# --- backend errors in the interface's language ---------------------------------------------------
def _error_classes() -> list[type]:
    """Every AnnalystError class of the code base (each module imported, so none is missed)."""
    import importlib
    import pkgutil

    import backend
    import ingestion
    import training
    from backend.errors import AnnalystError

    for pkg in (backend, ingestion, training):
        for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if not mod.name.endswith("__main__"):
                importlib.import_module(mod.name)
    found, todo = [], [AnnalystError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


_SAMPLE = {"str": "x.pdf", "int": 3, "float": 2.5, "bool": False, "list[str]": ["a", "b"],
           "list[tuple[str, str, str]]": [("chat_mode", "chatty", "not a mode")]}  # fmt: skip


def _samples(cls: type) -> list:
    """Errors of ``cls`` made with sample arguments (both OCR variants where there are two)."""
    import inspect

    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    args = {p.name: _SAMPLE[str(p.annotation)] for p in params if p.kind is not p.VAR_KEYWORD}
    errors = [cls(**args)]
    if "ocr" in args:
        errors.append(cls(**{**args, "ocr": True}))
    return errors


def test_every_error_class_has_a_chinese_translation():
    """Each code an error can carry has a Chinese template, filled from the error's own fields;
    a new error class without one fails here."""
    from pages.i18n import Translator
    from pages.i18n_errors import ERRORS_ZH

    classes = _error_classes()
    assert len(classes) >= 40
    codes = [code for cls in classes for code in cls.codes()]
    assert len(codes) == len(set(codes)), "two error classes share a code"
    assert sorted(set(codes) - set(ERRORS_ZH)) == [], "error codes without a Chinese template"
    assert sorted(set(ERRORS_ZH) - set(codes)) == [], "templates of codes no error has"
    zh, en = Translator("zh"), Translator("en")
    for cls in classes:
        for err in _samples(cls):
            assert err.code in cls.codes()
            shown = zh.error(err)
            assert shown == ERRORS_ZH[err.code].format(**err.fields), cls  # every field known
            assert re.search(r"[\u4e00-\u9fff]", shown) and en.error(err) == str(err)
            assert zh.error(err.record()) == shown  # the same from a job's stored record
    # a record from before codes (or with a field missing) shows the message as raised
    assert zh.error({"error": "x.pdf: old", "error_code": "corrupt_pdf"}) == "x.pdf: old"


def test_errors_shown_in_chinese_in_the_chinese_interface(app, tmp_path):
    """A corrupt PDF uploaded on the Reports page of the Chinese interface: its job's error is the
    backend's (code and fields, across the PDF child process and the job), shown in Chinese with
    the uploaded file's name."""
    at = app()
    at.context = {"locale": "zh-CN"}
    at.run().switch_page("pages/reports.py").run()
    data = FOOTLOCKER_8K.read_bytes()
    _upload(at, "年报-损坏.pdf", data[: len(data) // 2])
    services = at.session_state["services"]
    assert services.jobs.wait_idle(120)
    at.run()
    [job] = services.jobs.jobs()
    assert job.result["error_code"] == "corrupt_pdf" and job.result["error_fields"]["why"]
    [in_job, in_list] = texts(at.error)  # the job's card, and the failed report in the list
    assert in_job.startswith("年报-损坏.pdf：PDF 已损坏或不完整，无法读取（"), in_job
    assert in_job.endswith("）。请从来源重新下载报告。") and in_list == in_job
    assert "the PDF is damaged or truncated" in job.result["error"]  # the English, as raised


# --- reports ----------------------------------------------------------------------------------
def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "application/pdf"))
    return at.form_submit_button[0].click().run()


def test_reports_upload_listed_duplicate_edit_delete(app):
    at = app().run()
    at.switch_page("pages/reports.py").run()
    no_errors(at)
    assert "No reports yet" in texts(at.info)[0]
    data = FOOTLOCKER_8K.read_bytes()
    _upload(at, "footlocker-8k.pdf", data)
    no_errors(at)
    assert "footlocker-8k.pdf: queued" in texts(at.success)[0]
    assert at.get("progress"), "the job shows a progress bar"
    services = at.session_state["services"]
    assert services.jobs.wait_idle(240)

    at.run()  # what a browser refresh shows: the finished job and the listed report
    no_errors(at)
    result = next(c for c in texts(at.caption) if c.startswith("Indexed: 4 pages"))
    assert "Foot Locker" in result and "FY 2022" in result
    [doc] = at.expander
    assert doc.label.startswith("Foot Locker") and "footlocker-8k.pdf" in doc.label

    _upload(at, "same-file-other-name.pdf", data)
    assert "already indexed" in texts(at.info)[0]
    assert len(services.jobs.jobs()) == 1

    # correct the detected metadata
    doc.text_input[0].input("Foot Locker Retail")
    doc.number_input[0].set_value(2021)
    doc.button[0].click().run()  # the form's save button
    no_errors(at)
    assert "Saved." in texts(at.success)[0]
    [stored] = services.catalog.documents()
    assert (stored.company, stored.fiscal_year) == ("Foot Locker Retail", 2021)
    assert at.expander[0].label.startswith("Foot Locker Retail 2021")

    # delete: needs the confirmation box, then runs as a job
    delete = next(b for b in at.button if b.label == "Delete")
    assert delete.disabled
    next(c for c in at.checkbox if c.label == "Confirm delete").check().run()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert services.jobs.wait_idle(120)
    at.run()
    no_errors(at)
    assert services.catalog.documents(status=None) == []
    assert any("was deleted" in c for c in texts(at.caption))


def test_reports_write_actions_need_the_password(app, indexed_dir):
    """With ANNALYST_ADMIN_PASSWORD set, reports can be browsed, but an upload, a metadata edit,
    a re-index or a delete does nothing until the password is given. The widgets are disabled and
    a crafted client ignores that: ``forced`` clears the flag before each action, so that it is
    the server that is tested (Streamlit drops a disabled widget's value; each callback checks
    the session again)."""
    at = app(indexed_dir, ADMIN_PASSWORD="correct horse battery").run()
    at.switch_page("pages/reports.py").run()
    no_errors(at)
    services = at.session_state["services"]
    before = [(d.doc_id, d.company, d.fiscal_year) for d in services.catalog.documents()]
    assert any("need the admin password" in i for i in texts(at.info))
    [doc] = at.expander  # browsing stays open
    assert doc.label.startswith("Foot Locker")
    assert at.file_uploader[0].proto.disabled

    def forced(widget):
        widget.proto.disabled = False
        return widget

    def click(label: str, submit: bool = False) -> None:
        buttons = at.form_submit_button if submit else at.button
        forced(next(b for b in buttons if b.label == label)).click().run()
        no_errors(at)
        assert not at.success, texts(at.success)  # neither "queued" nor "Saved."

    forced(at.file_uploader[0]).set_value(("x.pdf", FOOTLOCKER_8K.read_bytes(), "application/pdf"))
    click("Upload and index", submit=True)
    forced(at.expander[0].text_input[0]).input("Someone Else")
    click("Save company / year", submit=True)
    click("Re-index")
    forced(next(c for c in at.checkbox if c.label == "Confirm delete")).check().run()
    click("Delete")
    assert services.jobs.jobs() == []
    assert [(d.doc_id, d.company, d.fiscal_year) for d in services.catalog.documents()] == before

    next(i for i in at.text_input if i.label == "Admin password").input("wrong")
    next(b for b in at.form_submit_button if b.label == "Unlock").click().run()
    assert "Wrong password." in texts(at.error)
    time.sleep(1.2)  # the server's throttle: the next attempt after a wrong one waits a second
    next(i for i in at.text_input if i.label == "Admin password").input("correct horse battery")
    next(b for b in at.form_submit_button if b.label == "Unlock").click().run()
    no_errors(at)
    assert not at.file_uploader[0].proto.disabled
    assert not any("need the admin password" in i for i in texts(at.info))
    assert not next(b for b in at.button if b.label == "Re-index").proto.disabled


# --- admin ------------------------------------------------------------------------------------
def test_admin_locked_without_password(app):
    at = app().run()
    at.switch_page("pages/admin.py").run()
    no_errors(at)
    assert "ANNALYST_ADMIN_PASSWORD" in texts(at.warning)[0]
    assert not at.tabs and not at.text_input


def _gate_scores(candidate: float, baseline: float) -> dict:
    """Scores as `python -m training evaluate` stores them (training/gate.py)."""

    def side(acc: float) -> dict:
        block = {"accuracy": acc, "hit@5": 0.5, "refusal_accuracy_na": 1.0,
                 "latency_median_s": 3.2, "n": 4}  # fmt: skip
        return {"evaluate": {"dev": {"summary": {"rag": block}}}}

    reason = f"dev accuracy: {candidate} vs {baseline} (configured smollm2-135m)"
    return {
        "eval": {"baseline_model": "configured smollm2-135m", "at": "2026-11-28T18:00:00",
                 "candidate": side(candidate), "baseline": side(baseline)},
        "gate": {"better": candidate > baseline, "reason": reason},
    }  # fmt: skip


def test_admin_unlock_table_activate_and_rollback(app, tmp_path):
    data = tmp_path / "data"
    registry = ModelRegistry(data / "registry")
    version = registry.register(
        name="smollm2-ft", base="smollm2-135m", model_file=SMOLLM, scores=_gate_scores(0.25, 0.3)
    ).version
    (data / "fewshot").mkdir(parents=True)
    sample = PROJECT_ROOT / "tests" / "data" / "training_sample.jsonl"
    (data / "fewshot" / "train.jsonl").write_text(sample.read_text().splitlines()[0] + "\n")
    at = app(data, ADMIN_PASSWORD="open sesame").run()
    at.switch_page("pages/admin.py").run()
    at.text_input[0].input("wrong")
    at.form_submit_button[0].click().run()
    assert texts(at.error) == ["Wrong password."] and not at.tabs
    at.text_input[0].input("open sesame")
    at.form_submit_button[0].click().run()  # too soon: the throttle is the server's, not the tab's
    assert texts(at.error) == ["After a wrong password the next attempt waits: try again in 1 s."]
    time.sleep(1.1)
    at.text_input[0].input("open sesame")
    at.form_submit_button[0].click().run()
    no_errors(at)
    assert [tab.label for tab in at.tabs] == [
        "Training data",
        "Fine-tuning",
        "Models & evaluation",
        "Feedback",
    ]
    assert any(b.label.startswith("Generate training data") for b in at.form_submit_button)
    assert any(b.label == "Start training" for b in at.button)
    device = next(s for s in at.selectbox if s.label == "Device")
    assert device.options == ["auto", "cpu", "cuda"]
    assert any(n.label == "Processes" for n in at.number_input)
    estimate = " ".join(texts(at.caption) + texts(at.warning))
    assert "Estimated training time" in estimate and "tokens/s" in estimate, estimate
    assert any(e.label == "Train on a GPU machine" for e in at.expander)
    table = at.dataframe[0].value
    assert list(table["Version"]) == ["base", version]
    assert list(table["Active"]) == ["✅", ""]
    assert list(table["Accuracy"]) == [0.3, 0.25]  # base and version side by side
    assert list(table["Page hit@5"]) == [0.5, 0.5]
    assert table["Gate"].iloc[1].startswith("failed — dev accuracy: 0.25 vs 0.3")

    version_box = next(s for s in at.selectbox if s.label == "Version")
    version_box.set_value(version).run()
    next(b for b in at.button if b.label == "Activate").click().run()
    assert "did not beat the active model" in texts(at.error)[0]  # the gate said no
    next(c for c in at.checkbox if c.label == "Activate anyway").check().run()
    next(b for b in at.button if b.label == "Activate").click().run()
    assert f"Version {version} is active" in texts(at.success)[0]
    assert list(at.dataframe[0].value["Active"]) == ["", "✅"]

    chat = AppTest.from_file(APP, default_timeout=60).run()  # same server, another tab
    assert f"version {version}" in " ".join(texts(chat.sidebar.caption))
    services = at.session_state["services"]
    assert services.llm.info().version == version

    at.switch_page("pages/admin.py").run()
    next(b for b in at.button if b.label == "Roll back to the previous model").click().run()
    assert "Rolled back" in texts(at.success)[0]
    assert services.llm.info().version == "bundled"
    next(b for b in at.button if b.label == "Roll back to the previous model").click().run()
    assert texts(at.info)[0] == "There is no earlier model to roll back to."


@pytest.mark.slow
def test_admin_generates_training_data_in_the_background(app, tmp_path, netflix_extract):
    data = tmp_path / "data"
    services = build_services(Settings(data_dir=data, models_path=MODELS, corpus_dir=CORPUS))
    assert services.ingestor.add([netflix_extract])[0].facts > 0
    at = app(data, ADMIN_PASSWORD="pw").run()
    at.switch_page("pages/admin.py").run()
    at.text_input[0].input("pw")
    at.form_submit_button[0].click().run()
    next(n for n in at.number_input if n.label == "Items to propose per report").set_value(5)
    next(c for c in at.checkbox if c.label.startswith("Let the model write")).uncheck()
    next(b for b in at.form_submit_button if b.label.startswith("Generate")).click().run()
    no_errors(at)
    admin = at.session_state["services"].admin
    assert admin.procs.is_running("fewshot")
    deadline = time.monotonic() + 600
    while admin.procs.is_running("fewshot"):
        assert time.monotonic() < deadline
        time.sleep(1)
    at.run()
    no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Training items"]) > 0, admin.fewshot().status.log_tail(20)
    assert any(e.label == "Data card" for e in at.expander)
    sample = next(e for e in at.expander if e.label.startswith("Sample: "))
    assert "assistant" in " ".join(texts(sample.markdown))
