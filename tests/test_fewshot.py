"""Few-shot training data from real reports (ingestion.fewshot).

Two real reports are indexed into a temporary data dir: Weis Markets' 10-K (ERC corpus) and
北方华锦's 2019 年报, each cut to its cover, a few narrative pages and its primary statements (the
pages stay real PDF pages; the cut keeps the test near a minute on two cores). The generated items
are then checked independently of the generator's own filters: every number of an answer is found
on the page it cites (after unit normalisation), every calculation recomputes from the facts it
names and its operands are printed on the cited pages, both languages and refusals are present,
validation reports never appear in training items, and a second run writes identical files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from backend.answering.answer import REFUSAL_EN, REFUSAL_ZH
from backend.answering.prompts import PLANNER_EXAMPLE, SYSTEM_PROMPT
from backend.app.services import build_services
from backend.domain.calculator import calculate
from backend.domain.metrics import METRICS
from backend.domain.numbers import parse_numbers, same_amount
from backend.llm.clients import estimate_tokens
from backend.settings import Settings
from tests.conftest import CORPUS, HUAJIN_2019, MODELS, REPORTS, require

WEIS_10K = REPORTS / "erc_round2/31a60b930e0f1034afff6e2d1e406e7d9141b2a1.pdf"
CUTS = {
    WEIS_10K: [1, 2, 3, 17, 19, 21, 24, 25],  # cover, MD&A, balance sheet, income statement
    HUAJIN_2019: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 46, 47, 48, 49, 50, 51],  # + 合并/母公司报表
}
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def _cut(src: Path, pages: list[int], dst: Path) -> Path:
    import pypdfium2 as pdfium

    doc, new = pdfium.PdfDocument(src), pdfium.PdfDocument.new()
    new.import_pages(doc, [p - 1 for p in pages])
    new.save(dst)
    # PDFium writes a random trailer /ID and the time: both fixed (same length, offsets unchanged),
    # so the cut is the same bytes, hence the same doc_id and generated set, on every run
    zero = b"/ID[<" + b"0" * 32 + b"><" + b"0" * 32 + b">]"
    data = re.sub(rb"/ID\[<[0-9A-F]{32}><[0-9A-F]{32}>\]", zero, dst.read_bytes())
    data = re.sub(rb"/CreationDate\(D:\d{14}", b"/CreationDate(D:20200101000000", data)
    dst.write_bytes(data)
    return dst


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require(WEIS_10K.is_file() and HUAJIN_2019.is_file(), f"corpus not found at {CORPUS}")
    from ingestion.fewshot.generate import (
        HELDOUT_REPORTS,
        NothingIndexed,
        Options,
        generate_dataset,
        held_out,
    )

    root = tmp_path_factory.mktemp("fewshot")
    files = [_cut(src, pages, root / src.name) for src, pages in CUTS.items()]
    # one embedding thread: the vectors (so the retrieved sources) do not depend on the load
    settings = Settings(
        data_dir=root / "data", models_path=MODELS, corpus_dir=CORPUS, embed_threads=1
    )
    services = build_services(settings)
    results = services.ingestor.add(files)
    assert [r.status for r in results] == ["indexed", "indexed"], [r.error for r in results]
    assert all(r.facts > 0 for r in results), "the cut reports must keep their statements"
    # both reports are among the held-out ones the default options keep out of training
    assert all(held_out(d, HELDOUT_REPORTS) for d in services.catalog.documents())
    with pytest.raises(NothingIndexed):
        generate_dataset(services, root / "none", Options(per_doc=14, use_llm=False))
    opts = Options(per_doc=24, use_llm=False, seed=7, exclude=())
    summary = generate_dataset(services, root / "out", opts)
    again = generate_dataset(services, root / "again", opts)

    def read(name: str, folder: str = "out") -> list[dict[str, Any]]:
        path = root / folder / name
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    return {
        "root": root,
        "services": services,
        "summary": summary,
        "again": again,
        "train": read("train.jsonl"),
        "val": read("val.jsonl"),
        "card": json.loads((root / "out" / "card.json").read_text(encoding="utf-8")),
    }


def _items(g: dict[str, Any]) -> list[dict[str, Any]]:
    return g["train"] + g["val"]


def _generated(g: dict[str, Any]) -> list[dict[str, Any]]:
    return [it for it in _items(g) if it["provenance"]["generator"] != "seed"]


def _numbers_on(text: str, page: str) -> list[str]:
    """Numbers of ``text`` (citations and years left out) that the page does not print, in any
    scale notation ("$1,577 million" = "1,577" under "(in millions)" = "15.77亿元")."""
    text = _CITE.sub(" ", text)
    on_page = parse_numbers(page, skip_years=False)
    missing = []
    for n in parse_numbers(text):
        if abs(n.value) <= 10 and float(n.value).is_integer() and n.scale == 1:
            continue
        if not any(
            same_amount(n.value, m.value, signed=False) or same_amount(n.base, m.base, signed=False)
            for m in on_page
        ):
            missing.append(n.text)
    return missing


@pytest.mark.slow
def test_every_number_is_on_its_cited_page_or_recomputes(generated: dict[str, Any]) -> None:
    catalog = generated["services"].catalog
    checked_answers = checked_calcs = 0
    for item in _generated(generated):
        prov = item["provenance"]
        target = item["messages"][-1]["content"]
        pages = [catalog.page_text(c["doc_id"], c["page"]) or "" for c in prov["cited"]]
        if prov["format"] == "answer":
            if prov["type"] == "refusal":
                continue
            cites = [int(x) for m in _CITE.finditer(target) for x in m.group(1).split(",")]
            assert cites, item
            # each [n] points at a source of the prompt, and that source's page is cited
            for n in cites:
                src = prov["sources"][n - 1]
                assert {"doc_id": src["doc_id"], "file": src["file"], "page": src["page"]} in prov[
                    "cited"
                ], item["id"]
            assert not _numbers_on(target, "\n".join(pages)), (item["id"], target)
            checked_answers += 1
            continue
        call = json.loads(target)
        if call["tool"] != "calculate":
            continue
        expr = call["args"]["expression"]
        value = calculate(expr).value
        assert value == pytest.approx(prov["value"], rel=1e-9), item["id"]
        # the formula recomputes from the facts it names (their stored values, not the text)
        facts = prov["facts"]
        if prov["type"] in ("yoy_change", "agent_trace"):
            old, new = sorted(facts, key=lambda f: f["year"])
            expected = (new["value"] - old["value"]) / abs(old["value"]) * 100
        else:
            metric = next(m for m in METRICS if m.key == prov["metric"])
            formula = metric.formula
            for f in sorted(facts, key=lambda f: -len(f["item"])):
                offset = f["year"] - max(x["year"] for x in facts)
                token = f"{f['item']}@{offset}" if offset else f["item"]
                v = (
                    abs(f["value"])
                    if f["item"] in ("capex", "dividends_paid", "share_repurchase")
                    else f["value"]
                )
                formula = re.sub(rf"(?<![a-z_@]){re.escape(token)}(?![a-z_@\d])", repr(v), formula)
            expected = calculate(formula).value
        assert value == pytest.approx(expected, rel=1e-9), (item["id"], expr)
        for n in parse_numbers(expr, skip_years=False):
            if n.value in (100, 2, 365) or abs(n.value) < 1:
                continue
            assert not _numbers_on(f"{n.value:.2f}", "\n".join(pages)), (item["id"], n.text)
        checked_calcs += 1
    print("checked answers / calculations:", checked_answers, checked_calcs)
    assert checked_answers >= 3 and checked_calcs >= 5, (checked_answers, checked_calcs)


@pytest.mark.slow
def test_languages_refusals_types_and_document_split(generated: dict[str, Any]) -> None:
    items = _generated(generated)
    langs = {it["provenance"]["language"] for it in items}
    assert langs == {"en", "zh"}
    refusals = [it for it in items if it["provenance"]["type"] == "refusal"]
    assert {it["provenance"]["language"] for it in refusals} == {"en", "zh"}
    for it in refusals:
        expected = REFUSAL_ZH if it["provenance"]["language"] == "zh" else REFUSAL_EN
        assert it["messages"][-1]["content"] == expected
    types = {it["provenance"]["type"] for it in items}
    assert {"lookup", "yoy_change", "refusal", "agent_trace"} <= types
    # split by document: no report feeds both sides, and the card agrees
    train_docs = {d for it in generated["train"] for d in it["provenance"]["doc_ids"]}
    val_docs = {d for it in generated["val"] for d in it["provenance"]["doc_ids"]}
    assert generated["val"] and generated["train"]
    assert not train_docs & val_docs
    card = generated["card"]
    assert {d["doc_id"] for d in card["documents"] if d["split"] == "val"} <= val_docs
    assert card["counts"]["train"] == len(generated["train"])
    assert card["counts"]["val"] == len(generated["val"])
    assert set(card["filters"]) >= {
        "grounding",
        "language",
        "length",
        "near_duplicate",
        "eval_overlap",
        "second_pass",
    }
    assert "heldout.jsonl.enc" in card["eval_exclusion"]


@pytest.mark.slow
def test_items_are_the_model_facing_prompts(generated: dict[str, Any]) -> None:
    for item in _items(generated):
        msgs, prov = item["messages"], item["provenance"]
        assert [m["role"] for m in msgs[-2:]] == ["user", "assistant"]
        assert all(m["role"] in ("system", "user", "assistant") for m in msgs)
        user = msgs[-2]["content"]
        # the numbered sources of the prompt are the ones in provenance, in order, and no more
        # than the product's evidence budget (the selected lines, not whole passages)
        for src in prov["sources"]:
            assert re.search(rf"^\[{src['n']}\] .*\bp\.{src['page']}\b", user, re.M), src
        assert estimate_tokens(user) <= 600 + 80 * (1 + len(prov["sources"])), item["id"]
        if prov["format"] == "answer":
            # the product's prompt without few-shot examples: system, question, answer
            assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
            assert msgs[0]["content"] == SYSTEM_PROMPT
            assert user.startswith(f"Question: {prov['question']}\n\n<sources>\n")
            assert not re.search(r"\[[^\]]*\bp\.\s*\d+\]", msgs[-1]["content"])  # model cites [n]
            assert "user_answer" in prov
        else:
            assert msgs[1]["content"] == PLANNER_EXAMPLE[0]
            assert user.endswith(("Steps so far: none",)) or "search_reports(" in user
            call = json.loads(msgs[-1]["content"])
            assert call["tool"] in ("calculate", "search_reports", "answer")
            if call["tool"] == "calculate":  # the answer the app writes after the calculation
                assert re.search(r"\[[^\]]+ p\.\d+\]", prov["user_answer"]), item["id"]
        assert prov["loss_on"] == "last_assistant"


@pytest.mark.slow
def test_same_inputs_same_files(generated: dict[str, Any]) -> None:
    root = generated["root"]
    for name in ("train.jsonl", "val.jsonl", "card.json"):
        assert (root / "out" / name).read_bytes() == (root / "again" / name).read_bytes(), name


def test_seeds_are_verbatim_report_text_and_consistent() -> None:
    """Every seed source is copied from its real PDF page; every number the model writes is in
    the source it cites; calculations recompute and match the app's answer."""
    import pypdfium2 as pdfium

    from ingestion.fewshot.seeds import load_seeds

    seeds = load_seeds()
    assert 20 <= len(seeds) <= 40
    assert {s["language"] for s in seeds} == {"en", "zh"}
    assert {"lookup", "narrative", "refusal", "agent_trace", "yoy_change", "ratio", "compare"} <= {
        s["type"] for s in seeds
    }
    paths = {p.name: p for p in REPORTS.rglob("*.pdf")}
    require(bool(paths), "corpus not found")
    ws = re.compile(r"\s+")
    for s in seeds:
        sources = list(s["sources"])
        for step in s["model"]:
            sources += step.get("search_results", [])
        for src in sources:
            doc = pdfium.PdfDocument(paths[src["file"]])
            page = doc[src["page"] - 1].get_textpage().get_text_range()
            assert ws.sub("", src["text"]) in ws.sub("", page), (s["id"], src["page"])
        for step in s["model"]:
            out = step["output"]
            if step["step"] == "answer":
                if s["type"] == "refusal":
                    assert out == (REFUSAL_ZH if s["language"] == "zh" else REFUSAL_EN)
                    continue
                cited = [sources[int(n) - 1]["text"] for n in _CITE.findall(out)]
                assert cited, s["id"]
                assert not _numbers_on(out, "\n".join(cited)), s["id"]
                if s.get("evidence"):
                    assert ws.sub("", s["evidence"]) in ws.sub("", "\n".join(cited)), s["id"]
            elif out["tool"] == "calculate":
                value = calculate(out["args"]["expression"]).value
                assert f"{value:,.2f}" in s["app"]["answer"], s["id"]
        assert "[" in s["app"]["answer"] or s["type"] == "refusal"


@pytest.mark.slow
def test_model_written_items_are_grounded_or_dropped(generated: dict[str, Any]) -> None:
    """The LLM path with the smallest bundled model: the grammar always yields a proposal, the
    proposal is rendered with its source among the prompt's sources and cited as [n], and the
    deterministic filters + the second pass decide; whatever survives is grounded."""
    import random

    from ingestion.fewshot import filters as F
    from ingestion.fewshot.appview import AppView
    from ingestion.fewshot.context import DocContext
    from ingestion.fewshot.narrative import NarrativeGenerator, narrative_chunks
    from ingestion.fewshot.seeds import load_seeds

    root = generated["root"]
    settings = Settings(
        data_dir=root / "data", models_path=MODELS, corpus_dir=CORPUS, chat_model="smollm2-135m"
    )
    services = build_services(settings)
    provider = services.llm
    provider.ignore_registry = True
    app = AppView(services.retriever, None, top_k=settings.top_k)
    gen = NarrativeGenerator(provider.get(), load_seeds(), app.tool_text(), seed=3)
    doc = next(d for d in services.catalog.documents() if d.language == "en")
    ctx = DocContext(doc, services.catalog, services.retriever, top_k=settings.top_k)
    chunk = narrative_chunks(ctx, 1, random.Random(3))[0]
    cands, reason = gen.propose(ctx, chunk)
    assert reason != "malformed_json"  # the JSON-schema grammar always yields a parsable object
    for c in cands:
        ids = [p.chunk_id for p in c.passages]
        assert chunk.chunk_id in ids
        if c.type == "narrative":
            n = ids.index(chunk.chunk_id) + 1
            assert f"[{n}]" in c.output and c.generator.startswith("llm:")
            grounded = F.check_grounding(c, services.catalog.page_text) is None
            ok, why = gen.recheck(c, ctx.passage(chunk))
            assert isinstance(ok, bool) and (ok or why)
            if grounded:
                page = services.catalog.page_text(doc.doc_id, chunk.page) or ""
                assert not _numbers_on(c.output, page)


def _live_route(services: Any, question: str) -> str:
    """The route the live agent takes, followed until it is decided and stopped before any model
    call: 'facts' or 'refused' end with the answer, 'model' goes on past the facts route."""
    from backend.answering.events import Final, Status

    events = services.chat.stream(question)
    try:
        for event in events:
            if isinstance(event, Final):
                return {"facts": "facts", "refused": "refused"}.get(event.answer.route, "model")
            if isinstance(event, Status) and event.stage in ("tables", "search"):
                return "model"
    finally:
        events.close()
    raise AssertionError(f"no route decided for {question!r}")


def test_item_routes_are_the_live_agents_routes(generated: dict[str, Any]) -> None:
    """What an item records as the app's route is what the live agent does with its question
    (one rule, not a copy that can drift): the facts route answers without the model with the
    same text, a company or year the reports lack is refused at once, the rest goes on."""
    services = generated["services"]
    items = [it for it in _generated(generated) if it["provenance"].get("app", {}).get("route")]
    company = next(d.company for d in services.catalog.documents() if d.language == "en")
    asked = [(it["provenance"]["question"], it["provenance"]["app"]) for it in items[:40]] + [
        (q, {"route": ""}) for q in (
            f"What was {company}'s total revenue in FY2009?",  # a year no report covers
            "What was Initech's net income in FY2019?",  # a company not indexed
            f"What was {company}'s pharmacy gross margin in FY2022?",  # a qualified metric
        )
    ]  # fmt: skip
    from ingestion.fewshot.appview import AppView

    view = AppView(services.retriever, services.facts, top_k=services.settings.top_k)
    routes = []
    for question, recorded in asked:
        app = view.facts_route(question)
        assert not recorded["route"] or recorded["route"] == app["route"], question
        live = _live_route(services, question)
        assert app["route"] == live, (question, app, live)
        if live == "facts":
            assert services.chat.ask(question).answer == app["answer"], question
        routes.append(live)
    assert {"facts", "refused", "model"} <= set(routes), routes


def test_planner_tools_match_the_agent_grammar() -> None:
    """The planner replies we train on are exactly what the agent's grammar allows."""
    from backend.answering.prompts import PLANNER_TOOLS, plan_schema
    from backend.answering.tools import tool_definitions
    from ingestion.fewshot.seeds import load_seeds

    schema = plan_schema(tool_definitions(), PLANNER_TOOLS)  # what the agent's grammar allows
    branches = {b["properties"]["tool"]["const"]: b for b in schema["anyOf"]}
    assert set(branches) == {*PLANNER_TOOLS, "answer"}
    plans = [m["output"] for s in load_seeds() for m in s["model"] if m["step"] == "plan"]
    assert {p["tool"] for p in plans} == set(branches)
    for p in plans:
        branch = branches[p["tool"]]
        args = branch["properties"].get("args", {})
        for name in args.get("required", []):
            assert isinstance(p["args"][name], str)
            assert len(p["args"][name]) <= args["properties"][name]["maxLength"]
