"""Ingestion benchmark: our pipeline against the obvious LangChain one, on real reports.

    python bench/ingest.py                      # all 124 reports of the corpus (hours on 2 cores)
    python bench/ingest.py --limit 20           # the 20 smallest reports that dev questions cite
    python bench/ingest.py --limit 8 --precisions auto,fp32,int8 --cosine
    python bench/ingest.py --limit 4 --select spread --max-pages 200 --precisions auto
    python bench/ingest.py --only PEPSICO_2022_10K.pdf --skip-baseline --precisions auto
    python bench/ingest.py --limit 8 --precisions auto --threads 0,1,2   # embedding threads

Each system runs in its own process (peak RSS is per process) on a fresh data directory:

* ours: ``Ingestor.add`` (pypdfium2 → clean → section-aware chunks → MiniLM → Chroma + SQLite FTS
  + facts), once per ``--precisions`` entry (``auto`` is the default setting: bf16 where the CPU
  has bf16 instructions);
* baseline: LangChain ``PyPDFLoader`` + ``RecursiveCharacterTextSplitter(1000, 200)`` + ``Chroma``
  with the same MiniLM (fp32, sentence-transformers).

Reported per system: pages/s and chunks/s of ingestion (model loading excluded, reported
apart), peak RSS, index size on disk, and page hit@5 of plain vector search in its own store for
the dev questions that have a gold page in a benched report (same k for both). ``--limit N`` takes
the reports cited by such questions first, smallest first, so that small runs still measure
retrieval. Prints a short table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

K = 5


# -- selection and gold --------------------------------------------------------------------------
def select(
    corpus: Path,
    limit: int | None,
    how: str = "small",
    max_pages: int | None = None,
    only: list[str] | None = None,
) -> tuple[list[dict], list[dict]]:
    """(documents to ingest, dev questions with a gold page in them).

    With a limit, reports that such questions cite come first: the smallest (``small``) or
    spread evenly over their sizes (``spread``: short press releases to long 10-Ks).
    """
    docs = [json.loads(line) for line in open(corpus / "documents.jsonl", encoding="utf-8")]
    dev = [json.loads(line) for line in open(corpus / "dev.jsonl", encoding="utf-8")]
    cited = {d["doc"] for d in dev if d.get("page") is not None}
    if only:
        docs = [d for d in docs if any(d["path"].endswith(o) for o in only)]
    if max_pages:
        docs = [d for d in docs if (d.get("pages") or 0) <= max_pages]
    docs.sort(key=lambda d: (d["path"] not in cited, d.get("pages") or 0, d["path"]))
    chosen = docs[:limit] if limit else docs
    if limit and how == "spread":
        pool = [d for d in docs if d["path"] in cited] or docs
        step = (len(pool) - 1) / max(1, limit - 1)
        chosen = [pool[round(i * step)] for i in range(min(limit, len(pool)))]
    paths = {d["path"] for d in chosen}
    items = []
    for d in dev:
        if d.get("page") is None or d["doc"] not in paths:
            continue
        pages = d["page"] if isinstance(d["page"], list) else [d["page"]]
        items.append({"id": d["id"], "question": d["question"], "doc": d["doc"], "pages": pages})
    return chosen, items


def dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- workers (one process each) ------------------------------------------------------------------
def worker_ours(
    corpus: Path, files: list[str], items: list[dict], precision: str, threads: int
) -> dict:
    import hashlib

    from backend.app.services import build_services
    from backend.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bench-ours-") as tmp:
        settings = Settings(
            data_dir=Path(tmp), corpus_dir=corpus, embed_precision=precision, embed_threads=threads
        )
        services = build_services(settings)
        t0 = time.perf_counter()
        services.embedder.embed_query("warm-up")  # model load, reported apart
        _ = services.store.collection
        load_s = time.perf_counter() - t0
        paths = [corpus / f for f in files]
        cpu0, t0 = time.process_time(), time.perf_counter()
        results = services.ingestor.add(paths)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        ok = [r for r in results if r.status == "indexed"]
        stages: dict[str, float] = {}
        for r in ok:
            for k, v in r.timings.items():
                stages[k] = round(stages.get(k, 0.0) + v, 1)
        by_id = {
            hashlib.sha256((corpus / f).read_bytes()).hexdigest()[:16]: f for f in files
        }  # doc id → corpus path
        ids = services.catalog.complete_ids()
        hits = 0
        for item in items:
            vector = services.embedder.embed_query(item["question"])
            found = services.store.search(vector, K, ids)
            got = {(by_id.get(c.split(":")[0]), int(c.split(":")[1])) for c, _ in found}
            hits += any((item["doc"], p) in got for p in item["pages"])
        return {
            "system": f"ours-{services.embedder.precision}-t{threads or 'free'}",
            "docs_ok": len(ok),
            "docs_failed": [r.file for r in results if r.status == "failed"],
            "pages": sum(r.pages for r in ok),
            "chunks": sum(r.chunks for r in ok),
            "ingest_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "load_s": round(load_s, 1),
            "stages_s": stages,
            "peak_rss_mb": peak_rss_mb(),
            "index_mb": dir_mb(Path(tmp)),
            "hit_at_5": round(hits / len(items), 3) if items else None,
            "questions": len(items),
        }


def worker_baseline(corpus: Path, files: list[str], items: list[dict]) -> dict:
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from backend.store.embeddings import make_embedder
    from backend.system import usable_cores

    class SameMiniLM(Embeddings):
        def __init__(self) -> None:  # torch's default: a thread per core
            self.model = make_embedder("minilm", precision="fp32", threads=usable_cores())

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.model.embed_documents(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.model.embed_query(text).tolist()

    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        t0 = time.perf_counter()
        embeddings = SameMiniLM()
        embeddings.embed_query("warm-up")
        store = Chroma("baseline", embedding_function=embeddings, persist_directory=tmp)
        load_s = time.perf_counter() - t0
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        pages = chunks = 0
        failed = []
        parse_s = embed_s = 0.0
        cpu0, t0 = time.process_time(), time.perf_counter()
        for f in files:
            try:
                t1 = time.perf_counter()
                docs = PyPDFLoader(str(corpus / f)).load()
                parts = splitter.split_documents(docs)
                t2 = time.perf_counter()
                for start in range(0, len(parts), 1000):
                    store.add_documents(parts[start : start + 1000])
                parse_s += t2 - t1
                embed_s += time.perf_counter() - t2
            except Exception as err:  # noqa: BLE001 - the baseline has no error handling of its own
                failed.append(f"{f}: {err!r}"[:200])
                continue
            pages += len(docs)
            chunks += len(parts)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        hits = 0
        for item in items:
            found = store.similarity_search(item["question"], k=K)
            got = {
                (str(Path(d.metadata["source"]).relative_to(corpus)), int(d.metadata["page"]) + 1)
                for d in found
            }
            hits += any((item["doc"], p) in got for p in item["pages"])
        return {
            "system": "baseline-langchain",
            "docs_ok": len(files) - len(failed),
            "docs_failed": failed,
            "pages": pages,
            "chunks": chunks,
            "ingest_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "load_s": round(load_s, 1),
            "stages_s": {"parse+split": round(parse_s, 1), "embed+chroma": round(embed_s, 1)},
            "peak_rss_mb": peak_rss_mb(),
            "index_mb": dir_mb(Path(tmp)),
            "hit_at_5": round(hits / len(items), 3) if items else None,
            "questions": len(items),
        }


def worker_cosine(corpus: Path, files: list[str]) -> dict:
    """Cosine of each precision's chunk vectors to fp32's, on real chunks of the first report."""
    import torch

    from backend.records import Document
    from backend.store.embeddings import make_embedder
    from ingestion.chunking import chunk_pages
    from ingestion.clean import clean_pages, detect_language
    from ingestion.pdf import read_pages

    pages = list(read_pages(corpus / files[0]))
    lang = detect_language(pages)
    doc = Document(doc_id="d", file_name=Path(files[0]).name)
    texts = [c.index_text(doc) for c in chunk_pages(clean_pages(pages, lang), "d", language=lang)]
    texts = texts[:64]
    ref = make_embedder("minilm", precision="fp32").embed_documents(texts)
    out = {}
    for precision in ("bf16", "int8"):
        vecs = make_embedder("minilm", precision=precision).embed_documents(texts)
        cos = (ref * vecs).sum(axis=1)
        out[precision] = {"mean": round(float(cos.mean()), 4), "min": round(float(cos.min()), 4)}
    per_tensor = make_embedder("minilm", precision="fp32")
    torch.ao.quantization.quantize_dynamic(
        per_tensor._model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
    )
    cos = (ref * per_tensor.embed_documents(texts)).sum(axis=1)
    out["int8_per_tensor"] = {
        "mean": round(float(cos.mean()), 4),
        "min": round(float(cos.min()), 4),
    }
    out["chunks"] = len(texts)
    return {"cosine_to_fp32": out}


def run_worker(
    args: argparse.Namespace, system: str, files: list[str], items: list[dict], threads: int = 0
) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
        json.dump({"files": files, "items": items}, spec)
    cmd = [sys.executable, __file__, "--worker", system, "--spec", spec.name,
           "--corpus", str(args.corpus), "--threads", str(threads)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    os.unlink(spec.name)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"worker {system} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1])
    for key in ("pages", "chunks"):
        if key in out:
            out[f"{key}_per_s"] = round(out[key] / out["ingest_s"], 2) if out["ingest_s"] else 0.0
    if "pages" in out:
        out["pages_per_cpu_s"] = round(out["pages"] / out["cpu_s"], 2) if out["cpu_s"] else 0.0
    return out


def main() -> int:
    from backend.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="number of reports (default: all)")
    parser.add_argument(
        "--select", choices=["small", "spread"], default="small", help="which reports --limit takes"
    )
    parser.add_argument("--max-pages", type=int, default=None, help="skip longer reports")
    parser.add_argument("--only", nargs="+", default=None, help="these reports (path endings)")
    parser.add_argument("--precisions", default="auto,fp32", help="our embedder's precisions")
    parser.add_argument(
        "--threads",
        default="0",
        help="our embedder's threads (setting embed_threads; 0: the free cores), comma-separated; "
        "each precision runs with each",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--cosine", action="store_true", help="also compare bf16/int8 vectors with fp32's"
    )
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.corpus = args.corpus or Settings().corpus_dir

    if args.worker:
        spec = json.load(open(args.spec))
        if args.worker == "baseline":
            out = worker_baseline(args.corpus, spec["files"], spec["items"])
        elif args.worker == "cosine":
            out = worker_cosine(args.corpus, spec["files"])
        else:
            out = worker_ours(
                args.corpus, spec["files"], spec["items"], args.worker, int(args.threads)
            )
        print(json.dumps(out))
        return 0

    docs, items = select(args.corpus, args.limit, args.select, args.max_pages, args.only)
    files = [d["path"] for d in docs]
    print(f"{len(files)} reports, {sum(d.get('pages') or 0 for d in docs)} pages, "
          f"{len(items)} dev questions with a gold page; load {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores", file=sys.stderr)  # fmt: skip
    runs = []
    for precision in args.precisions.split(","):
        for threads in args.threads.split(","):
            runs.append(run_worker(args, precision, files, items, int(threads)))
            print(f"  done: {runs[-1]['system']} {runs[-1]['ingest_s']} s", file=sys.stderr)
    if not args.skip_baseline:
        runs.append(run_worker(args, "baseline", files, items))
        print(f"  done: baseline {runs[-1]['ingest_s']} s", file=sys.stderr)

    header = (f"{'system':20s} {'docs':>4s} {'pages':>6s} {'chunks':>6s} {'ingest s':>8s} "
              f"{'CPU s':>7s} {'pages/s':>7s} {'chunks/s':>8s} {'pg/CPU-s':>8s} {'RSS MB':>7s} "
              f"{'index MB':>8s} {'hit@5':>6s}")  # fmt: skip
    print(header)
    for r in runs:
        print(f"{r['system']:20s} {r['docs_ok']:4d} {r['pages']:6d} {r['chunks']:6d} "
              f"{r['ingest_s']:8.1f} {r['cpu_s']:7.1f} {r['pages_per_s']:7.2f} "
              f"{r['chunks_per_s']:8.2f} {r['pages_per_cpu_s']:8.2f} {r['peak_rss_mb']:7.0f} "
              f"{r['index_mb']:8.1f} {r['hit_at_5']!s:>6s}")  # fmt: skip
    result: dict = {"bench": "ingest", "reports": len(files), "questions": len(items),
                    "k": K, "load_avg": round(os.getloadavg()[0], 1), "runs": runs}  # fmt: skip
    base = next((r for r in runs if r["system"] == "baseline-langchain"), None)
    if base and base["pages_per_s"]:
        for key in ("pages_per_s", "pages_per_cpu_s"):
            result[f"{key}_ratio"] = {
                r["system"]: round(r[key] / base[key], 2) for r in runs if r is not base
            }
        print("vs baseline, pages/s (wall): " + ", ".join(
            f"{k} {v}x" for k, v in result["pages_per_s_ratio"].items())
            + "; pages per CPU-second: " + ", ".join(
            f"{k} {v}x" for k, v in result["pages_per_cpu_s_ratio"].items()))  # fmt: skip
    if args.cosine:
        result["cosine"] = run_worker(args, "cosine", files, items)["cosine_to_fp32"]
        print("embedding cosine to fp32: " + ", ".join(
            f"{k} mean {v['mean']} min {v['min']}"
            for k, v in result["cosine"].items() if isinstance(v, dict)))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
