"""Model-written answers: what the model reads and how soon it answers, old prompt vs new, one run.

    python bench/answer_speed.py                         # 16 dev questions that reach the model
    python bench/answer_speed.py --n 24 --model qwen2.5-coder-1.5b --threads 2

For dev questions the agent sends to the model (not the facts or table route, not refused at
once), each with its report selected, the same retrieval feeds two prompts to the same loaded
model, alternating which goes first:

* ``pages`` — the prompt before issue 13: system rules, three few-shot examples and the top
  7 passages cut at 1,000 characters each (what 477f9a0 sent);
* ``evidence`` — the agent's prompt now: the rows and the lines of those passages that match the
  question with their table headers, under ``evidence_tokens`` (:mod:`backend.answering.evidence`),
  sources fenced.

Per prompt: prompt tokens (the model's tokenizer), seconds to the first token and in all (answers
capped at ``--max-tokens``). The fixed prefix is KV-cached in both (llama.cpp reuses the common
prefix), as in the app. Prints a table and one JSON line; the ratios are the result — absolute
times depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from backend.answering.answer import Answer
from backend.answering.evidence import select
from backend.answering.facts_route import FactsRoute
from backend.answering.prompts import FEW_SHOT, SYSTEM_PROMPT, rag_messages
from backend.answering.route import analyse, takes_facts_route
from backend.answering.table_route import TableRoute
from backend.answering.tools import search_query
from backend.app.services import build_services
from backend.evaluation.runner import Evaluator, load_items
from backend.settings import Settings

OLD_CHARS = 1000  # 477f9a0: five (+2) passages of up to 1,000 characters each


def old_messages(question: str, passages: list) -> list[dict[str, str]]:
    """The answer prompt as 477f9a0 built it (file name headers, 1,000 characters a passage)."""
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
    for q, a in FEW_SHOT:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    blocks = []
    for i, p in enumerate(passages, start=1):
        text = p.text if len(p.text) <= OLD_CHARS else p.text[:OLD_CHARS] + " …"
        head = f"[{i}] {p.file_name} p.{p.page}" + (f" | {p.heading}" if p.heading else "")
        blocks.append(f"{head}\n{text}")
    sources = "\n\n".join(blocks)
    msgs.append({"role": "user", "content": f"Question: {question}\n\nSources:\n{sources}"})
    return msgs


def timed(llm, messages, max_tokens: int) -> dict[str, float]:
    t0 = time.perf_counter()
    first = None
    pieces = []
    for piece in llm.stream(messages, max_tokens=max_tokens):
        first = first or time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    return {
        "prompt_tokens": llm.count_prompt(messages),
        "first_token_s": round((first or end) - t0, 3),
        "total_s": round(end - t0, 3),
        "answer": "".join(pieces)[:200],
    }


def model_questions(services, items, n: int, seed: int):
    """Dev questions the agent answers with the model (plan → route → search), with their
    passages, rows and plan; each with its report selected."""
    ev = Evaluator(services)
    rng = random.Random(seed)
    items = items[:]
    rng.shuffle(items)
    agent = services.agent
    for it in items:
        if str(it.get("answer", "")).upper() == "N/A":
            continue
        plan = services.retriever.plan(it["question"], doc_filter=ev._doc_filter(it))
        if plan.unknown_company:
            continue
        route = analyse(plan.question)
        box = agent.toolbox(plan)
        scratch = Answer(question=it["question"], answer="")
        if takes_facts_route(plan, route) and FactsRoute(box).answer(plan, route, scratch):
            continue
        if not route.narrative and TableRoute(box).answer(plan, route, scratch):
            continue
        box.call("search_reports", {"query": search_query(plan.question)})
        if not box.passages:
            continue
        yield it, plan, route, box
        n -= 1
        if n == 0:
            return


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--qa", type=Path, default=None, help="questions (default: <corpus>/dev.jsonl)")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--model", default=None, help="chat model preset or GGUF (default: setting)")
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: setting)")
    ap.add_argument("--max-tokens", type=int, default=160)
    ns = ap.parse_args()
    settings = Settings.given(chat_model=ns.model, n_threads=ns.threads or None)
    services = build_services(settings)
    qa = ns.qa or settings.corpus_dir / "dev.jsonl"
    llm = services.llm.get()
    rows = []
    for k, (it, plan, route, box) in enumerate(
        model_questions(services, load_items(qa), ns.n, ns.seed)
    ):
        passages = box.passages[: services.agent.top_k + 2]
        evidence = select(
            plan.question, passages, [] if route.narrative else box.rows,
            names=services.retriever.names_of(plan), years=plan.years,
            budget=settings.evidence_tokens, docs=box.docs_by_id(),
        )  # fmt: skip
        prompts = {
            "pages": old_messages(plan.question, passages),
            "evidence": rag_messages(plan.question, evidence, few_shot=llm.info.few_shot),
        }
        order = ["pages", "evidence"] if k % 2 == 0 else ["evidence", "pages"]
        row = {"id": it["id"], "type": it.get("question_type")}
        for name in order:
            row[name] = timed(llm, prompts[name], ns.max_tokens)
        rows.append(row)
        print(
            f"{it['id'][:40]:40s} pages {row['pages']['prompt_tokens']:5d} tok "
            f"{row['pages']['first_token_s']:6.1f}s | evidence {row['evidence']['prompt_tokens']:5d}"
            f" tok {row['evidence']['first_token_s']:6.1f}s",
            flush=True,
        )
    out = {"n": len(rows), "model": llm.info.label(), "threads": settings.threads()}
    for name in ("pages", "evidence"):
        for key in ("prompt_tokens", "first_token_s", "total_s"):
            vals = [r[name][key] for r in rows]
            out[f"{name}_{key}_median"] = round(statistics.median(vals), 3) if vals else None
    for key in ("prompt_tokens", "first_token_s", "total_s"):
        new, old = out[f"evidence_{key}_median"], out[f"pages_{key}_median"]
        out[f"ratio_{key}"] = round(old / new, 2) if new else None
    print(f"\n{'':14s} {'pages (477f9a0)':>16s} {'evidence':>10s} {'ratio':>7s}")
    for key in ("prompt_tokens", "first_token_s", "total_s"):
        print(
            f"{key:14s} {out[f'pages_{key}_median']:>16} {out[f'evidence_{key}_median']:>10} "
            f"{out[f'ratio_{key}']:>7}"
        )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
