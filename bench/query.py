"""Query-time benchmark: retrieval latency and LLM speed.

    python bench/query.py                       # everything, on the data dir's index
    python bench/query.py --skip-llm            # retrieval only
    python bench/query.py --synthetic 100000    # size of the synthetic store (default 100k)
    python bench/query.py --llm-only            # time to first token and decode speed only
    python bench/query.py --llm-only --threads 8   # the same with 8 threads (a bigger machine)
    python bench/query.py --skip-llm --synthetic-dir /tmp/syn   # keep/reuse the synthetic store

Prints a short table and one JSON line with:
* retrieval latency p50/p95 (hybrid, keyword-only, vector-only) over the dev questions, on the
  indexed corpus and on a synthetic store of N chunks (random unit vectors + text sampled from real
  chunks). Timed in the same run: ``plain`` hybrid, the query path before the search was
  profiled (the plain FTS5 query joined to the documents, Chroma's metadata filter over the
  reports' ids) — the obvious alternative — and vector-only search; ``cold`` is a first pass
  over the next N dev questions before the reports' vectors are in memory and before any term's
  BM25 scores are kept (the app loads the vectors at start-up, :meth:`Retriever.warm_up`);
* time to first token and decode tok/s of the default chat model on a typical answer prompt, cold
  (empty KV cache) against warm (the fixed system prompt + few-shot prefix reused), next to the
  RAM-bandwidth bound: weight bytes ÷ measured memory bandwidth = the fastest decode possible.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import numpy as np

from backend.app.services import build_services
from backend.settings import Settings


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


def plain_search(services, query: str, doc_ids: list[str] | None, k: int) -> list:
    """Hybrid search as it ran before it was profiled: the plain FTS5 query (every matching row
    scored, then joined to its document) and Chroma's metadata filter over the reports' ids."""
    from backend.store.keywords import match_query

    r = services.retriever
    index = r.company_index()
    ids = [d for d in doc_ids if d in index.docs] if doc_ids is not None else sorted(index.docs)
    hits = services.catalog.keyword_search(match_query(query), doc_ids and ids, r.retrieve_k)
    ranked = [[cid for cid, _ in hits]]
    vector = services.embedder.embed_query(query)
    res = services.store.collection.query(
        query_embeddings=[vector], n_results=r.retrieve_k, where={"doc_id": {"$in": ids}}
    )
    ranked.append(res["ids"][0])
    if doc_ids is not None:
        pages = r.fact_pages(query, ids)
        if pages:
            ranked.append(services.catalog.chunks_on_pages(pages)[: r.retrieve_k])
    return r.fuse(ranked, k, index)


@contextmanager
def without_keyword_copy(services) -> Iterator[None]:
    """Hybrid search as it ran before the in-memory copy of the keyword index: kept term
    scores when all the terms were seen before, else the FTS5 query (the copy set to 0 MB)."""
    from backend.store.postings import Postings

    keywords = services.retriever.keywords
    held = keywords.postings
    keywords.postings = Postings(keywords.catalog, max_mb=0, phrases=keywords.terms)
    try:
        yield
    finally:
        keywords.postings = held


def time_search(services, questions: list[str], mode: str, doc_scoped: bool) -> dict:
    """p50/p95 of ``mode`` over ``questions``: plain, hybrid, keyword, vector, or ``kept``
    (hybrid without the in-memory keyword index: the search of the 2026-12-01 run)."""
    r = services.retriever
    lat = []
    for q in questions:
        plan = r.plan(q)
        doc_ids = plan.doc_ids if doc_scoped else None
        t = time.perf_counter()
        if mode == "plain":
            plain_search(services, plan.question, doc_ids, 10)
        elif mode == "kept":
            with without_keyword_copy(services):
                r.search(plan.question, doc_ids=doc_ids, k=10, mode="hybrid")
        else:
            r.search(plan.question, doc_ids=doc_ids, k=10, mode=mode)
        lat.append(time.perf_counter() - t)
    return {"p50_ms": pct(lat, 0.5), "p95_ms": pct(lat, 0.95), "n": len(lat)}


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def build_synthetic(settings: Settings, n: int, services_real) -> tuple[object, float]:
    """A store of n chunks: random unit vectors + text sampled from the real index (an earlier
    store of n chunks in the same data dir is reused)."""
    real = services_real.catalog.chunks_by_id(
        [f"{d.doc_id}:{p}:0" for d in services_real.catalog.documents() for p in range(1, 40)]
    )
    words = " ".join(c.text for c in real.values()).split() or report_words(settings)
    return fill_synthetic(settings, n, services_real.embedder, words)


def report_words(settings: Settings, pages: int = 39) -> list[str]:
    """Words of the first ``pages`` pages of the dev questions' reports, read from their PDFs:
    the word source when the data dir holds no index to sample chunks from."""
    from ingestion.pdf import open_pdf

    dev = settings.corpus_dir / "dev.jsonl"
    reports = dict.fromkeys(json.loads(x)["doc"] for x in open(dev, encoding="utf-8"))
    words: list[str] = []
    for rel in reports:
        path = settings.corpus_dir / rel
        if not path.exists():
            continue
        pdf = open_pdf(path)
        try:
            for i in range(min(pages, pdf.page_count)):
                words += pdf.page_text(i).split()
        finally:
            pdf.close()
    return words or ["revenue", "income", "assets"]


def fill_synthetic(
    settings: Settings, n: int, embedder, words: list[str], per_doc: int = 2000
) -> tuple[object, float]:
    """A store of n chunks in ``settings.data_dir``: "reports" of ``per_doc`` chunks of 120
    words drawn from ``words``, random unit vectors (an earlier store of n chunks is reused)."""
    from backend.app.services import Services
    from backend.records import Chunk, Document
    from backend.store.catalog import Catalog
    from backend.store.keywords import index_tokens

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    services = Services(settings=settings, catalog=Catalog(settings.catalog_path))
    services.__dict__["embedder"] = embedder  # same model, no second load
    if services.catalog.count_chunks() == n:
        return services, 0.0
    rng = random.Random(0)
    dim = services.embedder.dim
    t0 = time.perf_counter()
    for d in range(0, n, per_doc):
        doc = Document(
            doc_id=f"syn{d:08d}",
            file_name=f"synthetic_{d}.pdf",
            company=f"Synth {d}",
            fiscal_year=2020,
            report_type="10-K",
            status="indexing",
            embedder="bench",
        )
        services.catalog.begin_document(doc)
        chunks = []
        for i in range(min(per_doc, n - d)):
            text = " ".join(rng.choice(words) for _ in range(120))
            chunks.append(
                Chunk(f"{doc.doc_id}:{i // 4 + 1}:{i % 4}", doc.doc_id, i // 4 + 1, i % 4, text)
            )
        vecs = np.random.default_rng(d).standard_normal((len(chunks), dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for s in range(0, len(chunks), 500):
            part = chunks[s : s + 500]
            services.store.add(
                [c.chunk_id for c in part],
                vecs[s : s + 500],
                [{"doc_id": doc.doc_id, "page": c.page} for c in part],
            )
        services.catalog.complete_document(
            doc, pages=[], chunks=chunks, chunk_tokens=[index_tokens(c.text) for c in chunks]
        )
    return services, time.perf_counter() - t0


def memory_bandwidth_gbs() -> float:
    a = np.ones(256 * 1024 * 1024 // 8)  # 256 MB
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        float(a.sum())
        best = max(best, a.nbytes / (time.perf_counter() - t))
    return best / 1e9


def llm_speed(services) -> dict:
    from backend.answering.prompts import rag_messages

    provider = services.llm
    llm = provider.get()
    path = Path(provider.info().path)
    passages = services.retriever.search("total revenue net income operating income", k=5)
    msgs = rag_messages("What was the company's total revenue?", passages)
    out = {}
    for label in ("cold", "warm"):
        if label == "cold":
            llm._llm.set_cache(None)
            llm._llm.reset()
        t0 = time.perf_counter()
        first = None
        n = 0
        for _ in llm.stream(msgs, max_tokens=64):
            first = first or time.perf_counter()
            n += 1
        t1 = time.perf_counter()
        out[label] = {
            "ttft_s": round((first or t1) - t0, 2),
            "decode_tok_s": round((n - 1) / max(t1 - (first or t1), 1e-9), 1),
        }
        if label == "cold":
            from llama_cpp import LlamaRAMCache

            llm._llm.set_cache(LlamaRAMCache(capacity_bytes=1 << 30))
            # prime the cache with the fixed prefix using another question
            for _ in llm.stream(rag_messages("What was net income?", passages), max_tokens=1):
                pass
    prompt_tokens = llm.count_tokens(json.dumps(msgs, ensure_ascii=False))
    bw = memory_bandwidth_gbs()
    size = path.stat().st_size
    out.update(
        model=provider.info().label(),
        prompt_tokens_approx=prompt_tokens,
        weights_mb=round(size / 1e6),
        memory_bandwidth_gbs=round(bw, 1),
        bandwidth_bound_tok_s=round(bw * 1e9 / size, 1),
        threads=services.settings.threads(),
    )
    return out


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--synthetic", type=int, default=100_000)
    ap.add_argument(
        "--synthetic-dir",
        type=Path,
        default=None,
        help="build the synthetic store here and keep it",
    )
    ap.add_argument("--skip-llm", action="store_true")
    ap.add_argument(
        "--skip-corpus",
        action="store_true",
        help="do not time the data dir's index (no dev index there); a synthetic store built "
        "without an index to sample chunks from samples the dev reports' PDF pages instead",
    )
    ap.add_argument("--llm-only", action="store_true", help="only the LLM speed part")
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads for llama.cpp, chunk embedding and wide keyword searches (settings "
        "n_threads, embed_threads, search_threads; 0: the cores free at the time)",
    )
    return ap.parse_args()


def time_store(
    result: dict, prefix: str, services, questions: tuple[list[str], list[str]], scopes: tuple
) -> None:
    """p50/p95 of each mode into ``result``. ``cold``: the first questions of a session (the
    questions after the timed ones), before the app's warm-up has loaded the reports' vectors
    and before the in-memory keyword index is built (its build time, size and the RSS it added
    go to ``<prefix>_keyword_copy``); then, after warm-up and once the cold questions' terms are
    kept, each mode over the timed questions (``plain`` first: it touches no cache; ``kept``
    last: the search before the in-memory index, meeting the timed questions' new terms)."""
    earlier = questions[1]
    for scoped in scopes:
        suffix = "" if scoped or len(scopes) == 1 else "_all_docs"
        result[f"{prefix}_hybrid_cold{suffix}"] = time_search(services, earlier, "hybrid", scoped)
    keywords = services.retriever.keywords
    keywords.terms.wait(600)
    rss, t = rss_mb(), time.perf_counter()
    keywords.postings.start()  # what warm_up starts, timed on its own here
    keywords.postings.wait(900)
    result[f"{prefix}_keyword_copy"] = {
        **keywords.postings.info(),
        "ready_s": round(time.perf_counter() - t, 1),
        "rss_mb": round(rss_mb() - rss, 1),
    }
    services.retriever.warm_up()
    keywords.terms.wait(600)
    for mode in ("plain", "hybrid", "keyword", "vector", "kept"):
        for scoped in scopes:
            suffix = "" if scoped or len(scopes) == 1 else "_all_docs"
            result[f"{prefix}_{mode}{suffix}"] = time_search(services, questions[0], mode, scoped)


def print_table(result: dict) -> None:
    print(f"{'store':30s} {'mode':8s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for key, val in result.items():
        if not (isinstance(val, dict) and "p50_ms" in val):
            continue
        all_docs = key.endswith("_all_docs")
        store, mode = key.removesuffix("_all_docs").split("_", 1)
        store = {"corpus": "dev index", "synthetic": "synthetic"}.get(store, store)
        store += " (all reports)" if all_docs else (" (report)" if store == "dev index" else "")
        print(f"{store:30s} {mode:8s} {val['p50_ms']:8.1f} {val['p95_ms']:8.1f}")


def main() -> int:
    args = parse_args()
    threads = args.threads
    settings = Settings(n_threads=threads, embed_threads=threads, search_threads=threads)
    services = build_services(settings)
    dev = [json.loads(x) for x in open(settings.corpus_dir / "dev.jsonl", encoding="utf-8")]
    asked = [d["question"] for d in dev]
    n = args.questions
    questions = (asked[:n], asked[n : 2 * n] or asked[:n])  # timed; asked earlier in the session
    result: dict = {
        "chunks": services.catalog.count_chunks(),
        "documents": len(services.catalog.documents()),
        "load_avg": round(os.getloadavg()[0], 1),
        "threads": threads,
    }
    services.retriever.search("warm up", k=1)
    if not (args.llm_only or args.skip_corpus):
        time_store(result, "corpus", services, questions, (True, False))
    if args.synthetic and not args.llm_only:
        with tempfile.TemporaryDirectory() as tmp:
            syn_dir = args.synthetic_dir or Path(tmp)
            syn_settings = settings.model_copy(
                update={"data_dir": syn_dir, "models_path": settings.models_dir}
            )
            syn, build_s = build_synthetic(syn_settings, args.synthetic, services)
            syn.retriever.search("warm up", k=1)
            result["synthetic"] = {
                "chunks": syn.catalog.count_chunks(),
                "build_s": round(build_s, 1),
            }
            time_store(result, "synthetic", syn, questions, (False,))
    if not args.skip_llm:
        result["llm"] = llm_speed(services)
    result["load_avg_end"] = round(os.getloadavg()[0], 1)
    print_table(result)
    for key in ("corpus_keyword_copy", "synthetic_keyword_copy"):
        if key in result:
            print(f"{key}: {result[key]}")
    if "llm" in result:
        llm = result["llm"]
        print(
            f"\nLLM {llm['model']} ({llm['threads']} threads): cold TTFT {llm['cold']['ttft_s']} s, "
            f"warm TTFT {llm['warm']['ttft_s']} s "
            f"(×{llm['cold']['ttft_s'] / max(llm['warm']['ttft_s'], 1e-3):.1f}); "
            f"decode {llm['warm']['decode_tok_s']} tok/s vs bandwidth bound "
            f"{llm['bandwidth_bound_tok_s']} tok/s ({llm['memory_bandwidth_gbs']} GB/s)"
        )
    print(json.dumps({"bench": "query", **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
