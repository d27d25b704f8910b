"""Orchestration: seeds + generators over the indexed reports → filters → split → files.

``generate_dataset(services, out_dir, ...)`` writes ``train.jsonl``, ``val.jsonl`` and
``card.json`` (counts per type, language, split, generator and filter; deterministic) and
``run.json`` (timings). Files are written to temporary names and renamed at the end, so the
training module never reads a half-written set. Same inputs and options → the same three files
(seeded choices, the model at temperature 0).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.errors import AnnalystError
from backend.evaluation.heldout import HELDOUT_REPORTS
from backend.records import Document
from backend.system import write_text_atomic
from ingestion.fewshot import filters as F
from ingestion.fewshot.appview import AppView
from ingestion.fewshot.context import DocContext
from ingestion.fewshot.items import TYPES, Candidate
from ingestion.fewshot.refusals import Refusals
from ingestion.fewshot.render import product_view, user_answer
from ingestion.fewshot.seeds import load_seeds, seed_candidates
from ingestion.fewshot.split import choose_val_docs, split_of
from ingestion.fewshot.templates import FactTemplates, comparisons

log = logging.getLogger(__name__)

#: progress(done, total, label)
Progress = Callable[[int, int, str], None]

#: Share of the per-document budget per generator (renormalised over the enabled ones).
WEIGHTS = {
    "lookup": 0.24,
    "yoy_change": 0.12,
    "ratio": 0.12,
    "agent_trace": 0.1,
    "refusal": 0.14,
    "narrative": 0.28,
}
FORMAT_VERSION = 1


class NothingIndexed(AnnalystError):
    """No complete report to generate from."""


@dataclass
class Options:
    per_doc: int = 40
    use_llm: bool = True
    seed: int = 13
    val_share: float = 0.2
    max_chars: int = 16000
    include_seeds: bool = True
    doc_ids: list[str] | None = None
    narrative_per_doc: int | None = None  # override the model-written share of the budget
    #: reports kept out of training (evaluation); the default is the project's held-out set
    exclude: tuple[str, ...] = HELDOUT_REPORTS
    #: evidence budget of the prompts (the product's ``evidence_tokens``)
    evidence_tokens: int = 600
    #: most refusal items may be of the kept items (the rest are dropped, seeded): answers are
    #: filtered harder than refusals, and a set of half refusals teaches refusing
    max_refusal_share: float = 0.3


def budgets(per_doc: int, use_llm: bool) -> dict[str, int]:
    weights = {k: v for k, v in WEIGHTS.items() if use_llm or k != "narrative"}
    total = sum(weights.values())
    out = {k: max(1, round(per_doc * v / total)) for k, v in weights.items()}
    out["agent_trace"] = max(1, out["agent_trace"] // 2)  # a trace is two items
    return out


def _facts_store(services: Any) -> Any | None:
    try:
        return services.facts
    except ImportError:
        log.warning(
            "backend.store.facts is not available: the app's facts-route answers are not "
            "recorded in provenance"
        )
        return None


class _Ticker:
    """Progress over the planned number of generation steps."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def __call__(self, n: int, label: str) -> None:
        self.done = min(self.total, self.done + n)
        if self.progress:
            self.progress(self.done, self.total, label)


def held_out(doc: Document, exclude: Sequence[str]) -> bool:
    """Is ``doc`` one of the reports kept for evaluation (a name fragment of its file or path)?"""
    where = f"{doc.stored_path or ''} {doc.source_path or ''} {doc.file_name}"
    return any(x in where for x in exclude)


def _select_docs(services: Any, opts: Options) -> list[Document]:
    docs = [
        d
        for d in services.catalog.documents()
        if (not opts.doc_ids or any(d.doc_id.startswith(x) for x in opts.doc_ids))
        and not held_out(d, opts.exclude)
    ]
    if not docs:
        raise NothingIndexed(
            "No indexed report to generate training data from. Add reports first: "
            "`python -m ingestion add PATH...`."
        )
    return sorted(docs, key=lambda d: d.doc_id)


def _propose_for_doc(
    ft: FactTemplates,
    ctx: DocContext,
    plan: dict[str, int],
    narrative: Any,
    opts: Options,
    gen_stats: dict[str, Counter[str]],
    tick: _Ticker,
) -> list[Candidate]:
    """Template, refusal and (with a model) narrative candidates of one report."""
    out: list[Candidate] = []
    short = ctx.doc.file_name[:28]
    for kind, gen in (
        ("lookup", ft.lookups),
        ("yoy_change", ft.yoy),
        ("ratio", ft.ratios),
        ("agent_trace", ft.traces),
    ):
        made = list(gen(plan[kind]))
        out.extend(made)
        gen_stats[kind]["proposed"] += len(made)
        tick(plan[kind], f"{short}: {kind}")
    made = list(Refusals(ctx, opts.seed).items(plan["refusal"]))
    out.extend(made)
    gen_stats["refusal"]["proposed"] += len(made)
    tick(plan["refusal"], f"{short}: refusal")
    if narrative is not None:
        from ingestion.fewshot.narrative import narrative_chunks

        rng = random.Random(f"{opts.seed}:{ctx.doc_id}:chunks")
        chunks = narrative_chunks(ctx, plan["narrative"], rng)
        for chunk in chunks:
            made, reason = narrative.propose(ctx, chunk)
            out.extend(made)
            gen_stats["narrative"]["proposed"] += sum(c.type == "narrative" for c in made)
            if reason:
                gen_stats["narrative"][f"rejected: {reason}"] += 1
            tick(1, f"{short}: narrative (model)")
        tick(plan["narrative"] - len(chunks), f"{short}: narrative")
    for key, n in ft.stats.items():
        gen_stats["templates"][key] += n
    return out


def _write_outputs(
    out_dir: Path, train: list[Candidate], val: list[Candidate], card: dict[str, Any]
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name, items in (("train.jsonl", train), ("val.jsonl", val)):
        text = "".join(json.dumps(c.to_line(), ensure_ascii=False) + "\n" for c in items)
        hashes[name] = hashlib.sha256(text.encode()).hexdigest()
        write_text_atomic(out_dir / name, text)
    card["sha256"] = hashes
    write_text_atomic(out_dir / "card.json", json.dumps(card, ensure_ascii=False, indent=1) + "\n")


def _narrative_generator(
    services: Any, seeds: list[dict[str, Any]], tool_text: str, opts: Options, plan: dict[str, int]
) -> Any:
    """The model that writes narrative items (None without --llm)."""
    if not (opts.use_llm and plan.get("narrative")):
        return None
    from ingestion.fewshot.narrative import NarrativeGenerator

    provider = services.llm
    provider.ignore_registry = True  # generate with the configured base model
    return NarrativeGenerator(provider.get(), seeds, tool_text, opts.seed)


def _prepare_for_filters(candidates: list[Candidate]) -> int:
    """Record what the app would show for each answer item; the number of model-written items
    (each gets a second pass)."""
    for c in candidates:
        if c.fmt == "answer" and "user_answer" not in c.extra:
            c.extra["user_answer"] = user_answer(c.output, c.passages)
    return sum(1 for c in candidates if c.type == "narrative" and c.generator.startswith("llm:"))


def _split(
    docs: list[Document], kept: list[Candidate], opts: Options
) -> tuple[set[str], list[Candidate], list[Candidate]]:
    """Validation reports, then train and validation items (split by document, shuffled)."""
    val_docs = choose_val_docs(docs, opts.val_share, opts.seed)
    val_files = {d.file_name for d in docs if d.doc_id in val_docs}
    for c in kept:
        c.split = split_of(
            c.doc_ids, [c.file] + [p.file_name for p in c.passages], val_docs, val_files
        )
    train = [c for c in kept if c.split == "train"]
    val = [c for c in kept if c.split == "val"]
    rng = random.Random(opts.seed)
    rng.shuffle(train)
    rng.shuffle(val)
    return val_docs, train, val


def _seed_items(
    seeds: list[dict[str, Any]], tool_text: str, top_k: int, opts: Options
) -> list[Candidate]:
    """The hand-written seed items (with ``include_seeds``), less those of held-out reports."""
    candidates: list[Candidate] = []
    if opts.include_seeds:
        for s in seeds:
            files = " ".join(str(src.get("file", "")) for src in s["sources"])
            if not any(x in files for x in opts.exclude):  # seeds of held-out reports stay out
                candidates.extend(seed_candidates(s, tool_text, top_k))
    return candidates


def _propose_comparisons(
    pairs: list[tuple[str, str]],
    templates: dict[str, FactTemplates],
    n_compare: int,
    opts: Options,
    gen_stats: dict[str, Counter[str]],
    tick: _Ticker,
) -> list[Candidate]:
    """Comparison items for each pair of reports."""
    out: list[Candidate] = []
    for a, b in pairs:
        made = list(comparisons(templates[a], templates[b], n_compare, opts.seed))
        out.extend(made)
        gen_stats["compare"]["proposed"] += len(made)
        tick(n_compare, "comparisons")
    return out


def _as_shown(
    candidates: list[Candidate],
    tool_text: str,
    opts: Options,
    gen_stats: dict[str, Counter[str]],
) -> list[Candidate]:
    """The candidates the product would show as they are (the others counted and dropped)."""
    shown = []
    for c in candidates:
        why = product_view(c, tool_text, opts.evidence_tokens)
        if why is None:
            shown.append(c)
        else:
            gen_stats["product_view"][why] += 1
            log.debug("%s: %s", c.question, why)
    return shown


def _run_summary(
    out_dir: Path,
    train: list[Candidate],
    val: list[Candidate],
    candidates: list[Candidate],
    kept: list[Candidate],
    narrative: Any,
    t0: float,
) -> dict[str, Any]:
    """The ``run.json`` summary: sizes, speed and the model used."""
    seconds = time.perf_counter() - t0
    generated = sum(1 for c in kept if c.generator != "seed")
    return {
        "out": str(out_dir),
        "train": len(train),
        "val": len(val),
        "seconds": round(seconds, 1),
        "items_per_minute": round(60 * generated / seconds, 1) if seconds else None,
        "candidates": len(candidates),
        "kept": len(kept),
        "model": narrative.label if narrative else None,
    }


def generate_dataset(
    services: Any,
    out_dir: Path,
    options: Options | None = None,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Generate, filter, split and write the few-shot training set. Returns the run summary."""
    opts = options or Options()
    t0 = time.perf_counter()
    settings = services.settings
    docs = _select_docs(services, opts)
    top_k = settings.top_k
    app = AppView(services.retriever, _facts_store(services), top_k=top_k)
    tool_text = app.tool_text()
    seeds = load_seeds()
    plan = budgets(opts.per_doc, opts.use_llm)
    if opts.use_llm and opts.narrative_per_doc is not None:
        plan["narrative"] = opts.narrative_per_doc
    pairs = _compare_pairs(docs)
    n_compare = max(1, opts.per_doc // 10)
    tick = _Ticker(len(docs) * sum(plan.values()) + len(pairs) * n_compare + 1, progress)

    gen_stats: dict[str, Counter[str]] = defaultdict(Counter)
    candidates = _seed_items(seeds, tool_text, top_k, opts)
    tick(1, "seeds")
    narrative = _narrative_generator(services, seeds, tool_text, opts, plan)

    templates: dict[str, FactTemplates] = {}
    contexts: dict[str, DocContext] = {}
    for doc in docs:
        ctx = contexts[doc.doc_id] = DocContext(
            doc, services.catalog, services.retriever, top_k=top_k
        )
        ft = templates[doc.doc_id] = FactTemplates(ctx, app, tool_text, opts.seed)
        candidates.extend(_propose_for_doc(ft, ctx, plan, narrative, opts, gen_stats, tick))
    candidates.extend(_propose_comparisons(pairs, templates, n_compare, opts, gen_stats, tick))

    candidates = _as_shown(candidates, tool_text, opts, gen_stats)
    tick.total += _prepare_for_filters(candidates)
    kept, filter_report, eval_note = _apply_filters(
        candidates,
        services,
        contexts,
        narrative,
        settings.corpus_dir,
        opts,
        on_recheck=lambda: tick(1, "second pass (model)"),
    )
    kept, capped = cap_refusals(kept, opts.max_refusal_share, opts.seed)
    gen_stats["balance"]["refusals dropped (max_refusal_share)"] = capped
    val_docs, train, val = _split(docs, kept, opts)
    card = _card(
        docs, val_docs, candidates, kept, filter_report, gen_stats, eval_note, opts, plan, seeds,
        narrative,
    )  # fmt: skip
    out_dir = Path(out_dir)
    _write_outputs(out_dir, train, val, card)
    run = _run_summary(out_dir, train, val, candidates, kept, narrative, t0)
    write_text_atomic(out_dir / "run.json", json.dumps(run, ensure_ascii=False, indent=1) + "\n")
    if progress:
        progress(tick.total, tick.total, "done")
    return {**run, "card": card}


def cap_refusals(kept: list[Candidate], share: float, seed: int) -> tuple[list[Candidate], int]:
    """At most ``share`` of the items are refusals (a seeded choice of which refusals stay);
    returns the items and how many refusals were dropped."""
    refusals = [c for c in kept if c.type == "refusal"]
    others = len(kept) - len(refusals)
    room = int(share * others / (1 - share)) if share < 1 else len(refusals)
    if len(refusals) <= room:
        return kept, 0
    keep = {id(c) for c in random.Random(seed).sample(refusals, room)}
    return [c for c in kept if c.type != "refusal" or id(c) in keep], len(refusals) - room


def _compare_pairs(docs: list[Document]) -> list[tuple[str, str]]:
    """Pairs of reports of the same language (a proxy for the same currency), each report in at
    most two pairs."""
    uses: Counter[str] = Counter()
    out = []
    for i, a in enumerate(docs):
        for b in docs[i + 1 :]:
            if (
                a.language == b.language
                and uses[a.doc_id] < 2
                and uses[b.doc_id] < 2
                and a.company != b.company
            ):
                out.append((a.doc_id, b.doc_id))
                uses[a.doc_id] += 1
                uses[b.doc_id] += 1
    return out


def _apply_filters(
    candidates: list[Candidate],
    services: Any,
    contexts: dict[str, DocContext],
    narrative: Any,
    corpus_dir: Path,
    opts: Options,
    on_recheck: Callable[[], None] = lambda: None,
) -> tuple[list[Candidate], dict[str, Any], str]:
    stats = {
        name: F.FilterStats()
        for name in (
            "length",
            "language",
            "grounding",
            "eval_overlap",
            "near_duplicate",
            "second_pass",
            "trace_incomplete",
        )
    }
    evals = F.EvalIndex.load(corpus_dir)
    dups = F.DuplicateIndex()
    page_cache: dict[tuple[str, int], str | None] = {}

    def page_text(doc_id: str, page: int) -> str | None:
        if doc_id.startswith("seed:"):
            return None
        key = (doc_id, page)
        if key not in page_cache:
            page_cache[key] = services.catalog.page_text(doc_id, page)
        return page_cache[key]

    def files_of(c: Candidate) -> set[str]:
        return {contexts[d].doc.file_name for d in c.doc_ids if d in contexts} | {
            d.removeprefix("seed:") for d in c.doc_ids if d.startswith("seed:")
        }

    checks: list[tuple[str, Callable[[Candidate], str | None]]] = [
        ("length", lambda c: F.check_length(c, opts.max_chars)),
        ("language", F.check_language),
        ("grounding", lambda c: F.check_grounding(c, page_text)),
        ("eval_overlap", lambda c: evals.match(c, files_of(c))),
        ("near_duplicate", lambda c: None if dups.add(c) else "near-duplicate question"),
    ]
    kept = []
    for c in candidates:
        for name, check in checks:
            stats[name].checked += 1
            reason = check(c)
            if reason:
                stats[name].drop(c, reason)
                break
        else:
            kept.append(c)
    if narrative is not None:
        survivors = []
        for c in kept:
            if c.type == "narrative" and c.generator.startswith("llm:"):
                stats["second_pass"].checked += 1
                ctx = contexts[c.doc_ids[0]]
                chunk = next(x for x in ctx.chunks if x.chunk_id == c.extra["source_chunk"])
                ok, reason = narrative.recheck(c, ctx.passage(chunk))
                on_recheck()
                if not ok:
                    stats["second_pass"].drop(c, reason)
                    continue
            survivors.append(c)
        kept = survivors
    steps: dict[str, int] = Counter(c.extra["trace"]["id"] for c in kept if "trace" in c.extra)
    final = []
    for c in kept:
        trace = c.extra.get("trace")
        if trace:
            stats["trace_incomplete"].checked += 1
            if steps[trace["id"]] != trace["of"]:
                stats["trace_incomplete"].drop(c, "another step of this trace was dropped")
                continue
        final.append(c)
    return final, {k: v.to_dict() for k, v in stats.items()}, evals.note


def _card(
    docs: list[Document],
    val_docs: set[str],
    candidates: list[Candidate],
    kept: list[Candidate],
    filter_report: dict[str, Any],
    gen_stats: dict[str, Counter[str]],
    eval_note: str,
    opts: Options,
    plan: dict[str, int],
    seeds: list[dict[str, Any]],
    narrative: Any,
) -> dict[str, Any]:
    def count(items: Iterable[Candidate], key: Callable[[Candidate], str]) -> dict[str, int]:
        return dict(sorted(Counter(key(c) for c in items).items()))

    by_split_type: dict[str, dict[str, int]] = {}
    for t in TYPES:
        row = {s: sum(1 for c in kept if c.type == t and c.split == s) for s in ("train", "val")}
        if any(row.values()):
            by_split_type[t] = row
    app_routes = count(
        (c for c in kept if isinstance(c.extra.get("app"), dict)),
        lambda c: str(c.extra["app"].get("route")),
    )
    return {
        "format_version": FORMAT_VERSION,
        "line_format": {
            "id": "str",
            "messages": "[{role, content}] (system/user/assistant)",
            "provenance": "doc_id, file, page, generator, seed_ids, type, language, "
            "format, split, cited, sources, user_answer, ...",
        },
        "loss": "train on the LAST assistant message only; earlier assistant messages are the "
        "app's fixed few-shot examples (provenance.loss_on = 'last_assistant')",
        "counts": {
            "train": sum(c.split == "train" for c in kept),
            "val": sum(c.split == "val" for c in kept),
            "candidates": len(candidates),
            "kept": len(kept),
        },
        "by_type": by_split_type,
        "by_language": count(kept, lambda c: c.language),
        "by_format": count(kept, lambda c: c.fmt),
        "by_generator": count(
            kept,
            lambda c: (
                c.generator.split(":")[0]
                + (":" + c.generator.split(":")[1] if c.generator.startswith("template") else "")
            ),
        ),
        "by_type_language": count(kept, lambda c: f"{c.type}/{c.language}"),
        "candidates_by_type": count(candidates, lambda c: c.type),
        "filters": filter_report,
        "generation": {k: dict(sorted(v.items())) for k, v in sorted(gen_stats.items())},
        "app_route_of_kept": app_routes,
        "documents": [
            {
                "doc_id": d.doc_id,
                "file": d.file_name,
                "company": d.company,
                "year": d.fiscal_year,
                "language": d.language,
                "split": "val" if d.doc_id in val_docs else "train",
                "items": sum(1 for c in kept if d.doc_id in c.doc_ids),
            }
            for d in docs
        ],
        "eval_exclusion": eval_note,
        "seeds": {"count": len(seeds), "items": sum(1 for c in kept if c.generator == "seed")},
        "options": {
            "per_doc": opts.per_doc,
            "llm": opts.use_llm,
            "seed": opts.seed,
            "val_share": opts.val_share,
            "max_chars": opts.max_chars,
            "budget_per_doc": plan,
        },
        "model": narrative.label if narrative else None,
    }
