"""OCR speed and character accuracy on real report pages (``python bench/ocr.py``).

Pages of real reports that have a text layer are rendered to images with PDFium (as
``ingestion.ocr`` renders a scanned page) and read by rapidocr-onnxruntime; the page's own text
layer is the reference. Character accuracy = 1 − edit distance / reference length, on both texts
with all whitespace removed (OCR line breaks and spacing differ from PDFium's; the characters are
what search needs). Digits are scored separately: a misread number is the costly error.

The obvious alternative in the same run: the same OCR on a half-resolution render (scale 1.0),
the cheapest setting that still reads 10-point text.

Prints one JSON line and a table. Options: ``--pages N`` per language (default 3), ``--scale``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.settings import Settings
from ingestion.ocr import RapidOcr

SAMPLES = {
    "en": ("financebench/3M_2018_10K.pdf", [2, 20, 60, 95]),  # cover, text, statement, notes
    "zh": (
        "finglm_cn/2020-04-03__北方华锦化学工业股份有限公司__000059__华锦股份__2019年__年度报告.pdf",
        [8, 44, 12, 60],
    ),
}


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (two rows; fine for page-sized strings)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def accuracy(ocr: str, ref: str) -> float:
    o, r = re.sub(r"\s+", "", ocr), re.sub(r"\s+", "", ref)
    return max(0.0, 1 - edit_distance(o, r) / max(1, len(r)))


def digits_accuracy(ocr: str, ref: str) -> float:
    return accuracy("".join(re.findall(r"\d", ocr)), "".join(re.findall(r"\d", ref)))


def run(pages_per_lang: int, scales: list[float]) -> dict:
    import pypdfium2 as pdfium

    corpus = Settings().corpus_dir / "reports"
    ocr = RapidOcr()
    ocr.image_text(pdfium.PdfDocument.new().new_page(100, 100).render().to_numpy())  # load
    rows = []
    for lang, (rel, numbers) in SAMPLES.items():
        doc = pdfium.PdfDocument(str(corpus / rel))
        for n in numbers[:pages_per_lang]:
            page = doc[n - 1]
            ref = page.get_textpage().get_text_range()
            for scale in scales:
                image = page.render(scale=scale).to_numpy().copy()
                t0 = time.perf_counter()
                text = ocr.image_text(image)
                seconds = time.perf_counter() - t0
                rows.append(
                    {
                        "lang": lang,
                        "page": n,
                        "scale": scale,
                        "seconds": round(seconds, 2),
                        "chars": len(re.sub(r"\s+", "", ref)),
                        "accuracy": round(accuracy(text, ref), 4),
                        "digits": round(digits_accuracy(text, ref), 4),
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr)
    summary = {}
    for scale in scales:
        for lang in SAMPLES:
            rs = [r for r in rows if r["scale"] == scale and r["lang"] == lang]
            secs = sum(r["seconds"] for r in rs)
            summary[f"{lang}@{scale}"] = {
                "pages": len(rs),
                "pages_per_s": round(len(rs) / secs, 4) if secs else None,
                "s_per_page": round(secs / len(rs), 1) if rs else None,
                "char_accuracy": round(sum(r["accuracy"] for r in rs) / len(rs), 4),
                "digit_accuracy": round(sum(r["digits"] for r in rs) / len(rs), 4),
            }
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"bench": "ocr", "summary": summary, "peak_rss_mb": round(peak), "pages": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--scale", type=float, action="append", default=None)
    args = parser.parse_args()
    result = run(args.pages, args.scale or [2.0, 1.0])
    print(json.dumps({k: v for k, v in result.items() if k != "pages"}, ensure_ascii=False))
    print(
        f"{'setting':10s} {'pages':>5s} {'s/page':>7s} {'pages/s':>8s} {'chars':>7s} {'digits':>7s}"
    )
    for key, s in result["summary"].items():
        print(
            f"{key:10s} {s['pages']:5d} {s['s_per_page']:7.1f} {s['pages_per_s']:8.3f} "
            f"{s['char_accuracy']:7.3f} {s['digit_accuracy']:7.3f}"
        )


if __name__ == "__main__":
    main()
