"""Model-written answers: what the model reads and how soon it answers, old prompt vs new, one run.

    python bench/answer_speed.py                         # 16 dev questions that reach the model
    python bench/answer_speed.py --n 24 --model qwen2.5-coder-1.5b --threads 2
    python bench/answer_speed.py --variants evidence:600,evidence:400 --n 30 --with-na

For dev questions the agent sends to the model (not the facts or table route, not refused at
once), each with its report selected, the same retrieval feeds two prompts to the same loaded
model, alternating which goes first:

* ``pages`` — the prompt before issue 13: system rules, three few-shot examples and the top
  7 passages cut at 1,000 characters each (what 477f9a0 sent);
* ``evidence`` — the agent's prompt now: the rows and the lines of those passages that match the
  question with their table headers, under ``evidence_tokens`` (:mod:`backend.answering.evidence`),
  sources fenced.

``--variants`` picks the prompts compared (default ``pages,evidence``): ``evidence:N`` is the
evidence prompt under a budget of N tokens (plain ``evidence``: the ``evidence_tokens`` setting);
a ``-norefusal`` suffix drops the refusal example from the few-shot examples (its own fixed prefix,
primed like the others); ``-explain`` adds the request for two to four cited sentences that the
agent makes of a question asking why or to describe (``--narrative`` picks only such questions).

Per prompt: prompt tokens (the model's tokenizer), seconds to the first token and in all (answers
capped at ``--max-tokens``), and whether the answer is right: the model's text is checked as the
agent checks it (:func:`~backend.answering.evidence.vet`, citations, refusal) and scored by the
evaluation's own rule (:func:`backend.evaluation.scoring.score`), so the variants' accuracy and
answered precision (right among answered) are compared on the same questions in the same run.

The fixed prefix is KV-cached for every prompt (llama.cpp reuses the common prefix), as in the
app, and nothing more: before each timed prompt the model reads the fixed prefix with another
question, so variants of one question do not reuse each other's lines. Prints a table and one JSON
line; the ratios are the result — absolute times depend on the machine's load.
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

from backend.answering.answer import Answer, finish_answer
from backend.answering.evidence import select, vet
from backend.answering.facts_route import FactsRoute
from backend.answering.prompts import FEW_SHOT, SYSTEM_PROMPT, rag_messages
from backend.answering.retrieval import nothing_relevant
from backend.answering.route import analyse, takes_facts_route
from backend.answering.table_route import TableRoute
from backend.answering.tools import search_query
from backend.app.services import build_services
from backend.evaluation.runner import Evaluator, load_items
from backend.evaluation.scoring import score
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


#: What the model reads just before each timed prompt: the fixed prefix with another question, so
#: that the prompt reuses the fixed prefix's KV cache and nothing more — not the lines it shares
#: with the other variants of the same question (no user asks the same question twice).
PRIME = rag_messages("-", [])


def without_refusal(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The prompt without its first few-shot pair (the refusal example)."""
    return [messages[0], *messages[3:]] if len(messages) > 3 else messages


def timed(llm, messages, max_tokens: int, prime=PRIME) -> dict[str, float]:
    for _ in llm.stream(prime, max_tokens=1):
        pass
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
        "raw": "".join(pieces),
    }


def checked(item: dict, plan, evidence: list, raw: str) -> dict:
    """The model's text as the agent shows it (unsupported sentences dropped, citations mapped,
    refusal detected) and whether the evaluation scores it right."""
    answer = Answer(question=item["question"], answer="")
    finish_answer(answer, vet(raw, evidence, plan.question, plan.years).text, evidence,
                  language=plan.language)  # fmt: skip
    pred = {"answer": answer.answer, "answer_value": answer.value, "refused": answer.refused}
    return {"answer": answer.answer[:200], "refused": answer.refused, "correct": score(item, pred)}


def model_questions(
    services, items, n: int, seed: int, with_na: bool = False, narrative: bool = False
):
    """Dev questions the agent answers with the model (plan → route → search), with their
    passages, rows and plan; each with its report selected."""
    ev = Evaluator(services)
    rng = random.Random(seed)
    items = items[:]
    rng.shuffle(items)
    agent = services.agent
    for it in items:
        if str(it.get("answer", "")).upper() == "N/A" and not with_na:
            continue
        plan = services.retriever.plan(it["question"], doc_filter=ev._doc_filter(it))
        if plan.unknown_company:
            continue
        route = analyse(plan.question)
        if narrative and not route.narrative:
            continue
        box = agent.toolbox(plan)
        scratch = Answer(question=it["question"], answer="")
        if takes_facts_route(plan, route) and FactsRoute(box).answer(plan, route, scratch):
            continue
        if not route.narrative and TableRoute(box).answer(plan, route, scratch):
            continue
        box.call("search_reports", {"query": search_query(plan.question)})
        if not box.passages or nothing_relevant(
            plan.question, box.passages, services.retriever.names_of(plan)
        ):
            continue  # the agent refuses at once, without the model
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
    ap.add_argument("--variants", default="pages,evidence", help="prompts compared (see above)")
    ap.add_argument("--with-na", action="store_true", help="also questions whose gold is N/A")
    ap.add_argument("--narrative", action="store_true", help="only questions asking why/describe")
    ap.add_argument("--out", type=Path, help="also write each question's rows (JSONL) here")
    ns = ap.parse_args()
    variants = [v.strip() for v in ns.variants.split(",") if v.strip()]
    settings = Settings.given(chat_model=ns.model, n_threads=ns.threads or None)
    services = build_services(settings)
    qa = ns.qa or settings.corpus_dir / "dev.jsonl"
    llm = services.llm.get()
    if hasattr(llm, "_llm"):  # llama.cpp in process: no RAM cache of whole earlier prompts
        llm._llm.set_cache(None)
    rows = []
    for k, (it, plan, route, box) in enumerate(
        model_questions(services, load_items(qa), ns.n, ns.seed, ns.with_na, ns.narrative)
    ):
        passages = box.passages[: services.agent.top_k + 2]
        prompts, evidence = {}, {}
        for name in variants:
            if name == "pages":
                prompts[name], evidence[name] = old_messages(plan.question, passages), passages
                continue
            base_name, _, flags = name.partition("-")
            budget = int(base_name.partition(":")[2] or settings.evidence_tokens)
            evidence[name] = select(
                plan.question, passages, [] if route.narrative else box.rows,
                names=services.retriever.names_of(plan), years=plan.years,
                budget=budget, docs=box.docs_by_id(),
            )  # fmt: skip
            prompts[name] = rag_messages(plan.question, evidence[name], few_shot=llm.info.few_shot)
            if flags == "norefusal":
                prompts[name] = without_refusal(prompts[name])
            elif flags == "explain":
                prompts[name] = rag_messages(
                    plan.question, evidence[name], few_shot=llm.info.few_shot, explain=True
                )
        order = variants if k % 2 == 0 else variants[::-1]
        row = {"id": it["id"], "type": it.get("question_type")}
        for name in order:
            prime = without_refusal(PRIME) if name.endswith("-norefusal") else PRIME
            row[name] = timed(llm, prompts[name], ns.max_tokens, prime)
            raw = row[name]["raw"] if ns.out else row[name].pop("raw")
            row[name].update(checked(it, plan, evidence[name], raw))
        rows.append(row)
        print(
            f"{it['id'][:36]:36s} "
            + " | ".join(
                f"{v} {row[v]['prompt_tokens']:5d} tok {row[v]['first_token_s']:5.1f}s "
                f"{'right' if row[v]['correct'] else 'refused' if row[v]['refused'] else 'wrong'}"
                for v in variants
            ),
            flush=True,
        )
    if ns.out:
        ns.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = {"n": len(rows), "model": llm.info.label(), "threads": settings.threads()}
    keys = ("prompt_tokens", "first_token_s", "total_s")
    for name in variants:
        for key in keys:
            vals = [r[name][key] for r in rows]
            out[f"{name}_{key}_median"] = round(statistics.median(vals), 3) if vals else None
        right = sum(r[name]["correct"] for r in rows)
        answered = [r for r in rows if not r[name]["refused"]]
        out[f"{name}_correct"] = right
        out[f"{name}_answered"] = len(answered)
        out[f"{name}_answered_right"] = sum(r[name]["correct"] for r in answered)
    base, new = variants[0], variants[-1]
    for key in keys:
        b, n = out[f"{base}_{key}_median"], out[f"{new}_{key}_median"]
        out[f"ratio_{key}"] = round(b / n, 2) if n else None
    print(f"\n{'':14s} " + " ".join(f"{v:>16s}" for v in variants) + f" {'ratio':>7s}")
    for key in keys:
        cells = " ".join(f"{out[f'{v}_{key}_median']!s:>16s}" for v in variants)
        print(f"{key:14s} {cells} {out[f'ratio_{key}']!s:>7s}")
    for label, key in (
        ("right", "correct"),
        ("answered", "answered"),
        ("ans. right", "answered_right"),
    ):
        cells = " ".join(f"{out[f'{v}_{key}']!s:>16s}" for v in variants)
        print(f"{label:14s} {cells}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
