"""Financial-statement fact extraction against the hand-checked gold file.

    python bench/facts.py                  # gold reports: precision / recall, per report
    python bench/facts.py --corpus         # also: every corpus report (coverage, checks)
    nice -n 10 python bench/facts.py ...   # the machine is shared

Each gold fact (tests/data/gold_facts.jsonl) names a report, statement, scope, canonical item,
fiscal year (the column's), the value as printed ("printed", and "value" with its sign), its scale,
its page and row label, all read by hand from the page text (the run reports any gold fact whose
printed value or label is not on its page). "set" says how the report was used: ``dev`` reports
were read while the extractor was written; ``holdout`` reports were added afterwards and scored
before the last generic fixes; ``fresh`` reports were read last and scored once. The reports go through the same steps as ingestion (read_pages → detect_language →
meta.detect → extract_facts).

* recall: gold facts for which an extracted fact has the same key (report, statement, scope, item,
  fiscal year) and the same value, scale and page;
* precision: of the extracted facts whose key is a gold key, the share with the gold value, scale
  and page (a wrong number, a wrong unit or a wrong page all count as wrong).

The obvious baseline runs on the same pages: the raw pypdfium2 text read line by line, trailing
numbers given to the header's years left to right (no geometry, no wrapped labels, no
continuation pages). Prints a short table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from backend.domain.items import match_item
from backend.records import Fact
from backend.settings import Settings
from ingestion.clean import detect_language
from ingestion.facts import extract_facts
from ingestion.facts.locate import find_candidates
from ingestion.facts.units import detect_scale, parse_amount
from ingestion.meta import detect
from ingestion.pdf import Page, read_pages

GOLD = Path(__file__).resolve().parent.parent / "tests" / "data" / "gold_facts.jsonl"


def key_of(doc: str, statement: str, scope: str, item: str, year: int) -> tuple:
    return (doc, statement, scope, item, int(year))


def baseline_facts(pages: list[Page], language: str, doc_id: str) -> list[Fact]:
    """Text-order parse of each candidate page (the obvious approach)."""
    out: list[Fact] = []
    seen: set[tuple] = set()
    for cand in find_candidates(pages, language):
        text = pages[cand.page - 1].text
        lines = text.split("\n")
        head = "\n".join(lines[:12])
        years = [int(y) for y in re.findall(r"(?<![\d,])((?:19|20)\d\d)(?![\d,])", head)]
        years = list(dict.fromkeys(years))[:3]
        if not years:
            continue
        scale = detect_scale(head, language) or detect_scale(text, language)
        if scale is None:
            continue
        for line in lines:
            toks = line.split()
            nums: list[tuple[float, str]] = []
            while toks:
                t = toks[-1]
                v = parse_amount(t)
                if v is None or re.fullmatch(r"(?:19|20)\d\d", t):
                    if t in {"$", "—", "-"}:
                        toks.pop()
                        continue
                    break
                nums.insert(0, (v, t))
                toks.pop()
            label = " ".join(toks)
            hit = match_item(label, cand.statement) if label and nums else None
            if not hit:
                continue
            for year, (value, raw) in zip(years, nums, strict=False):
                k = (cand.statement, cand.scope, hit[0], year)
                if k in seen:
                    continue
                seen.add(k)
                per_share = "per share" in label.lower() or "每股" in label
                out.append(
                    Fact(
                        doc_id,
                        "",
                        year,
                        cand.statement,
                        cand.scope,
                        label,
                        hit[0],
                        value,
                        1.0 if per_share else scale[0],
                        "",
                        "",
                        cand.page,
                        raw,
                    )
                )
    return out


def score(gold: list[dict], facts_by_doc: dict[str, list[Fact]]) -> dict:
    gold_by_key = {
        key_of(g["doc"], g["statement"], g["scope"], g["item"], g["fiscal_year"]): g for g in gold
    }
    hits = 0
    judged = 0
    correct = 0
    per_doc: dict[str, dict] = defaultdict(
        lambda: {"gold": 0, "found": 0, "judged": 0, "correct": 0, "misses": [], "wrong": []}
    )
    for g in gold:
        per_doc[g["doc"]]["gold"] += 1
    found_keys: set[tuple] = set()
    for doc, facts in facts_by_doc.items():
        for f in facts:
            if not f.item:
                continue
            k = key_of(doc, f.statement, f.scope, f.item, f.fiscal_year)
            g = gold_by_key.get(k)
            if g is None:
                continue
            judged += 1
            per_doc[doc]["judged"] += 1
            ok = (
                abs(f.value - g["value"]) <= 1e-9 * max(1.0, abs(g["value"]))
                and f.scale == g["scale"]
                and f.page == g["page"]
            )
            if ok:
                correct += 1
                per_doc[doc]["correct"] += 1
                if k not in found_keys:
                    found_keys.add(k)
                    hits += 1
                    per_doc[doc]["found"] += 1
            else:
                per_doc[doc]["wrong"].append(
                    f"{f.statement}/{f.scope}/{f.item}/{f.fiscal_year}: got {f.value:g}×{f.scale:g}"
                    f" p.{f.page}, gold {g['value']:g}×{g['scale']:g} p.{g['page']}"
                )
    for k, g in gold_by_key.items():
        if k not in found_keys:
            per_doc[g["doc"]]["misses"].append(
                f"{g['statement']}/{g['scope']}/{g['item']}/{g['fiscal_year']} ({g['label'][:40]})"
            )
    return {
        "precision": round(correct / judged, 4) if judged else 0.0,
        "recall": round(hits / len(gold), 4) if gold else 0.0,
        "gold": len(gold),
        "found": hits,
        "judged": judged,
        "correct": correct,
        "per_doc": dict(per_doc),
    }


def unverified(gold: list[dict], doc: str, pages: list[Page]) -> list[str]:
    """Gold facts whose printed value or label is not on their page (a typo in the gold file)."""
    out = []
    for g in gold:
        if g["doc"] != doc:
            continue
        text = re.sub(r"\s+", "", pages[g["page"] - 1].text) if g["page"] <= len(pages) else ""
        if (
            re.sub(r"\s+", "", g["printed"]) not in text
            or re.sub(r"\s+", "", g["label"])[:12] not in text
        ):
            out.append(f"{g['item']}/{g['fiscal_year']} p.{g['page']}")
    return out


def run_doc(
    path: Path, use_baseline: bool
) -> tuple[list[Page], list[Fact], list[Fact], list, float]:
    pages = list(read_pages(path))
    language = detect_language(pages)
    meta = detect(pages, path, language)
    t = time.perf_counter()
    facts, checks = extract_facts(
        pages,
        doc_id=path.stem[:16],
        company=meta.company,
        language=language,
        fiscal_year=meta.fiscal_year,
        pdf_path=path,
    )
    seconds = time.perf_counter() - t
    base = baseline_facts(pages, language, path.stem[:16]) if use_baseline else []
    return pages, facts, base, checks, seconds


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gold", type=Path, default=GOLD)
    ap.add_argument(
        "--corpus",
        action="store_true",
        help="also extract from every corpus report (coverage and checks)",
    )
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true", help="list misses and wrong facts")
    args = ap.parse_args()
    corpus = Settings().corpus_dir
    gold = [
        json.loads(line)
        for line in args.gold.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    docs = list(dict.fromkeys(g["doc"] for g in gold))
    ours: dict[str, list[Fact]] = {}
    base: dict[str, list[Fact]] = {}
    seconds = 0.0
    bad_gold: list[str] = []
    for doc in docs:
        pages, facts, bfacts, _, s = run_doc(corpus / doc, not args.no_baseline)
        ours[doc], base[doc] = facts, bfacts
        seconds += s
        bad_gold += [f"{Path(doc).name[:30]} {x}" for x in unverified(gold, doc, pages)]
    if bad_gold:
        print("gold facts not found on their page (fix the gold file): " + "; ".join(bad_gold))
    res = score(gold, ours)
    bres = score(gold, base) if not args.no_baseline else None

    print(
        f"{'report':44s} {'gold':>4s} {'found':>5s} {'judged':>6s} {'right':>5s}"
        + ("  baseline found/right" if bres else "")
    )
    for doc in docs:
        d = res["per_doc"][doc]
        line = (
            f"{Path(doc).name[:44]:44s} {d['gold']:4d} {d['found']:5d} {d['judged']:6d} "
            f"{d['correct']:5d}"
        )
        if bres:
            b = bres["per_doc"][doc]
            line += f"  {b['found']:5d}/{b['correct']:d} of {b['judged']}"
        print(line)
        if args.verbose:
            for m in d["misses"]:
                print(f"    miss  {m}")
            for w in d["wrong"]:
                print(f"    WRONG {w}")
    print(
        f"precision {res['precision']:.1%}  recall {res['recall']:.1%}  "
        f"({res['correct']}/{res['judged']} right, {res['found']}/{res['gold']} found; "
        f"{seconds:.1f} s extraction for {len(docs)} reports)"
    )
    by_set: dict[str, dict] = {}
    for name in sorted({g.get("set", "dev") for g in gold}):
        part = [g for g in gold if g.get("set", "dev") == name]
        part_docs = {g["doc"] for g in part}
        r = score(part, {d: f for d, f in ours.items() if d in part_docs})
        by_set[name] = {
            "precision": r["precision"],
            "recall": r["recall"],
            "gold": r["gold"],
            "reports": len(part_docs),
        }
        print(
            f"  {name:8s} precision {r['precision']:.1%}  recall {r['recall']:.1%}  "
            f"({r['gold']} gold facts, {len(part_docs)} reports)"
        )
    if bres:
        print(
            f"baseline (text order): precision {bres['precision']:.1%}  recall {bres['recall']:.1%}"
        )
    summary = {
        "bench": "facts",
        "gold_facts": res["gold"],
        "reports": len(docs),
        "precision": res["precision"],
        "recall": res["recall"],
        "extract_seconds": round(seconds, 2),
        "sets": by_set,
        "gold_unverified": len(bad_gold),
        "per_report": {
            Path(d).name[:40]: [res["per_doc"][d]["found"], res["per_doc"][d]["gold"]] for d in docs
        },
    }
    if bres:
        summary["baseline_precision"] = bres["precision"]
        summary["baseline_recall"] = bres["recall"]
    if args.corpus:
        summary.update(corpus_run(corpus))
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def corpus_run(corpus: Path) -> dict:
    """Every report of the corpus: how many get facts, how many checks pass."""
    docs = sorted((corpus / "reports").rglob("*.pdf"))
    with_facts = 0
    passed = failed = 0
    facts_total = 0
    failing: list[str] = []
    t = time.perf_counter()
    for path in docs:
        try:
            _, facts, _, checks, _ = run_doc(path, False)
        except Exception as err:  # noqa: BLE001 - a broken PDF is reported, not fatal
            print(f"  {path.name}: {err}")
            continue
        facts_total += len(facts)
        with_facts += bool(facts)
        passed += sum(c.passed for c in checks)
        failed += sum(not c.passed for c in checks)
        if any(not c.passed for c in checks):
            failing.append(path.name[:40])
    print(
        f"corpus: {with_facts}/{len(docs)} reports with facts, {facts_total} facts, checks "
        f"{passed} passed / {failed} failed ({time.perf_counter() - t:.0f} s)"
    )
    if failing:
        print("  reports with failed checks: " + ", ".join(failing))
    return {
        "corpus_reports": len(docs),
        "corpus_with_facts": with_facts,
        "corpus_facts": facts_total,
        "checks_passed": passed,
        "checks_failed": failed,
    }


if __name__ == "__main__":
    sys.exit(main())
