"""Capacity of one machine: index size, memory and hybrid retrieval latency against store size.

    python bench/capacity.py --chunks 10000 --dir /tmp/cap10k      # build (or reuse), measure
    python bench/capacity.py --chunks 30000 --dir /tmp/cap30k --questions 40

Builds a synthetic store (bench/query.py's: "reports" of --per-doc chunks, default 550 = the dev
set's 43,020 chunks / 78 reports, each chunk 120 words drawn from the text of real corpus reports,
random unit vectors), then in this process, after the app's warm-up: the store's size on disk
(Chroma folder, SQLite catalogue), the process's resident memory (VmRSS; the embedder alone is
measured before the store opens), and hybrid retrieval p50/p95 over the dev questions with one
report selected and with every report. Run one size per process (memory is per process).
Prints a short table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from query import fill_synthetic, pct  # bench/ is this script's folder

from backend.settings import Settings

#: real reports whose text supplies the synthetic chunks' words
WORD_SOURCES = ("financebench/3M_2018_10K.pdf", "financebench/NETFLIX_2017_10K.pdf")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def du_mb(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / 1e6, 1)
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return round(total / 1e6, 1)


def real_words(corpus: Path, pages: int = 60) -> list[str]:
    import pypdfium2 as pdfium

    words: list[str] = []
    for name in WORD_SOURCES:
        pdf = pdfium.PdfDocument(corpus / "reports" / name)
        for i in range(min(pages, len(pdf))):
            words += pdf[i].get_textpage().get_text_range().split()
    return words


def latency(services, questions: list[str], doc_ids: list[str] | None) -> dict:
    lat = []
    for q in questions:
        t = time.perf_counter()
        services.retriever.search(q, doc_ids=doc_ids, k=10, mode="hybrid")
        lat.append(time.perf_counter() - t)
    return {"p50_ms": pct(lat, 0.5), "p95_ms": pct(lat, 0.95), "n": len(lat)}


def measure(args: argparse.Namespace) -> dict:
    from backend.store.embeddings import make_embedder

    settings = Settings(data_dir=args.dir)
    result: dict = {"chunks": args.chunks, "per_doc": args.per_doc, "rss_start_mb": rss_mb()}
    embedder = make_embedder(settings.embedder, precision=settings.embed_precision)
    embedder.embed_query("warm-up")
    result["rss_embedder_mb"] = rss_mb()
    words = real_words(settings.corpus_dir)
    services, build_s = fill_synthetic(settings, args.chunks, embedder, words, args.per_doc)
    result["build_s"] = round(build_s, 1)
    result["load_avg"] = round(os.getloadavg()[0], 1)
    docs = [d.doc_id for d in services.catalog.documents()]
    dev = [json.loads(x) for x in open(settings.corpus_dir / "dev.jsonl", encoding="utf-8")]
    questions = [d["question"] for d in dev][: args.questions]
    rng = random.Random(0)
    result["hybrid_cold_all"] = latency(services, questions, None)
    services.retriever.warm_up()
    services.retriever.keywords.terms.wait(600)
    result["rss_after_warm_up_mb"] = rss_mb()
    result["hybrid_report"] = latency(services, questions, [rng.choice(docs)])
    result["hybrid_all"] = latency(services, questions, None)
    result["rss_end_mb"] = rss_mb()
    result["disk_chroma_mb"] = du_mb(settings.chroma_dir)
    result["disk_catalog_mb"] = du_mb(settings.catalog_path)
    result["reports"] = len(docs)
    result["load_avg_end"] = round(os.getloadavg()[0], 1)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--per-doc", type=int, default=550, help="chunks per synthetic report")
    ap.add_argument("--dir", type=Path, required=True, help="data dir of the store (kept)")
    ap.add_argument("--questions", type=int, default=60)
    args = ap.parse_args()
    r = measure(args)
    print(f"{r['chunks']:,} chunks ({r['reports']} reports), built in {r['build_s']} s")
    print(f"disk: chroma {r['disk_chroma_mb']} MB, catalogue {r['disk_catalog_mb']} MB")
    print(f"RSS: embedder {r['rss_embedder_mb']} MB, after warm-up {r['rss_after_warm_up_mb']} MB")
    for key in ("hybrid_cold_all", "hybrid_report", "hybrid_all"):
        print(f"{key:18s} p50 {r[key]['p50_ms']:7.1f} ms  p95 {r[key]['p95_ms']:7.1f} ms")
    print(json.dumps({"bench": "capacity", **r}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
