"""Table extraction against the hand-checked table-cell gold (non-statement tables).

    python bench/tables.py                   # the baselines and, when it exists, Annalyst's reader
    python bench/tables.py --verbose         # also each extractor's misses
    python bench/tables.py --pages gold      # give Annalyst only the gold pages (and the page
                                             # before each) instead of every page of the report
    nice -n 10 python bench/tables.py ...    # the machine is shared

The gold (tests/data/gold_tables.jsonl, made as tests/data/gold_tables.md says) names for each
cell its report, page, row label (and the parent label of an indented sub-row), column header,
the value as printed and as a signed number. An extractor's output *finds* a gold cell when it
has a cell on the same file and page

* whose row label matches: case, whitespace, punctuation, dot leaders and footnote marks
  ("(a)", "(1)", "*") ignored, a wrapped label being one label; the parent label prefixed to the
  row label also matches; when both the gold and the extractor give a parent, they must agree
  (an extractor that gives no parent path is not held to it — see the "parent" recall column,
  which is);
* whose column header matches: the gold header contained in the extracted one or vice versa
  (normalised as above, "%" and "$" kept), and where both name years, the same years;
* whose number equals the gold number (a percentage may also be given as a fraction), or both
  are nil (a dash, "NM").

Recall = found / gold cells. Precision = correct / judged: a numeric (or nil) cell an extractor
returns on a gold row is *judged* when the gold column of that page its header names best (the
same header, else the one it covers most: a header cut short, "毛利率比上年同", names
毛利率比上年同期增减, not 毛利率) is one the gold gives for that row, and *correct* when it has
the gold number; so an extractor that shifts numbers into the wrong column, or gives a sub-row
another parent's numbers, loses precision. Cells in columns the gold does not cover for that row
are not judged.

Extractors, run on the same pages in one run:

* ``pdfplumber lines`` / ``pdfplumber text``: pdfplumber's table finder (``page.extract_tables()``
  with its default ruling-line strategy, and with ``vertical_strategy``/``horizontal_strategy``
  ``text``); each table's first row is its header, its first column the row label.
  ``… +hdr``: the same tables read less naively: a column's header is its text in the (up to 3)
  non-numeric rows just above a block of numeric rows, the label the row's leading non-numeric
  cells joined (the text strategy splits words across columns; the lines strategy on 10-Ks
  finds each shaded row as a one-row table, which neither reading can give a header).
* ``text order``: pypdfium2's text, line by line: the trailing numbers of a line are its cells,
  the words before them its label, and the numbers go left to right to the year (or quarter)
  tokens of the nearest header line above (as in bench/facts.py's baseline).
* ``annalyst``: ``ingestion.tables.extract_tables(pdf_path, pages, language)`` over the pages of
  ``ingestion.pdf.read_pages`` — skipped, with a message, while that module does not exist.

Every extractor gets the gold pages and the page before each (a table continued from there);
only the gold pages are scored. Time per page is the extractor's own time (pdfplumber parses the
PDF itself, once per strategy; the text-order baseline gets the pypdfium2 page text, read once
beforehand and timed separately; Annalyst gets every page of the report unless ``--pages gold``).
Prints a short table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from backend.settings import Settings
from ingestion.facts.units import is_dash, parse_amount
from ingestion.pdf import Page, open_pdf, read_pages

GOLD = Path(__file__).resolve().parent.parent / "tests" / "data" / "gold_tables.jsonl"


@dataclass(frozen=True)
class XCell:
    """One extracted cell, whatever the extractor: where, which row and column, what value."""

    file: str
    page: int
    path: tuple[str, ...]  # parent labels, outermost first
    row: str
    column: str
    text: str
    value: float | None  # signed, before scale; None for a nil cell


# ---------------------------------------------------------------- normalising labels and values

_FOOTNOTE = re.compile(r"\((?:[a-z]|\d{1,2})\)|[*†‡]|[\u00b9\u00b2\u00b3\u2070-\u2079]")
_DOTS = re.compile(r"\.{2,}|…+")
_YEAR = re.compile(r"(?<![\d,.])((?:19|20)\d\d)(?![\d,.])")
_PERIOD_WORDS = re.compile(
    r"年度|年末|年|fiscal|years?|ended|ending|asof|december|dec|june|february|31|30|fy"
)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("\n", " ")
    return _DOTS.sub(" ", _FOOTNOTE.sub(" ", text))


def norm_label(text: str) -> str:
    """Row labels: case, spaces, punctuation, dot leaders and footnote marks ignored."""
    return "".join(ch for ch in _fold(text) if ch.isalnum())


def norm_column(text: str) -> str:
    """Column headers: as labels, but "%" and "$" kept ("2019 $" ≠ "2019 %")."""
    return "".join(ch for ch in _fold(text) if ch.isalnum() or ch in "%$")


def years_of(text: str) -> frozenset[str]:
    return frozenset(_YEAR.findall(unicodedata.normalize("NFKC", text)))


def column_score(gold: str, got: str) -> float:
    """How well an extracted header names a gold column: 1 the same header, else the share of
    the longer one that the contained one covers ("2018年" in "2018年 调整后"), or 0.5 for the
    same years with compatible words ("Fiscal 2019" / "2019年"); 0 when the years differ."""
    g, x = norm_column(gold), norm_column(got)
    if not g or not x:
        return 0.0
    if g == x:
        return 1.0
    gy, xy = years_of(gold), years_of(got)
    if gy and xy and gy != xy:
        return 0.0
    if g in x or x in g:
        return min(len(g), len(x)) / max(len(g), len(x))
    if gy and gy == xy:
        rest_g = _PERIOD_WORDS.sub("", re.sub(r"(?:19|20)\d\d", "", g))
        rest_x = _PERIOD_WORDS.sub("", re.sub(r"(?:19|20)\d\d", "", x))
        if rest_g in rest_x or rest_x in rest_g:
            return 0.5
    return 0.0


def cell_value(text: str) -> tuple[bool, float | None]:
    """(is a number or nil, value) of a printed cell: "$ 1,234", "(16.7)%", "—", "NM", "5 bps"."""
    t = unicodedata.normalize("NFKC", text).replace("\n", " ").strip()
    t = _FOOTNOTE.sub("", t).strip()
    if not t:
        return False, None
    if is_dash(t) or re.fullmatch(r"[-—–−―]+\s*%?", t) or t.upper() in {"NM", "N/M", "N/A"}:
        return True, None
    t = re.sub(r"^(?:US\$|RMB|\$|¥|￥|€|£)\s*", "", t)
    t = re.sub(r"\s*(?:%|bps)$", "", t).replace(" ", "")
    value = parse_amount(t)
    return (value is not None), value


def same_number(got: float | None, gold: float | None, percent: bool) -> bool:
    if gold is None or got is None:
        return gold is None and got is None
    tol = 1e-9 * max(1.0, abs(gold))
    return abs(got - gold) <= tol or (percent and abs(got * 100 - gold) <= tol * 100)


# ---------------------------------------------------------------------------------- scoring


def row_match(g: dict, x: XCell, *, strict_parent: bool = False) -> bool:
    """Same row label (or the parent label + row label); the same parent where both give one."""
    label, gold_row, parent = norm_label(x.row), norm_label(g["row"]), norm_label(g["parent"])
    if parent and parent + gold_row in (label, norm_label(" ".join((*x.path, x.row)))):
        return True
    if label != gold_row:
        return False
    if not parent:
        return True
    paths = [p for p in (norm_label(p) for p in x.path) if p]
    if not paths:
        return not strict_parent
    return any(parent == p or parent in p or p in parent for p in paths)


def judge(gold: list[dict], cells: Iterable[XCell]) -> dict:
    """Recall, parent-strict recall and precision of one extractor's cells against the gold."""
    by_page: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for g in gold:
        by_page[(g["file"], g["page"])].append(g)
    found: set[int] = set()
    found_strict: set[int] = set()
    judged = correct = 0
    wrong: list[str] = []
    for x in cells:
        candidates = by_page.get((x.file, x.page))
        if not candidates:
            continue
        rows = [g for g in candidates if row_match(g, x)]
        if not rows:
            continue
        # the gold column of this page that the extracted header names best (a header cut short,
        # "毛利率比上年同", is 毛利率比上年同期增减, not 毛利率)
        scores = {c: column_score(c, x.column) for c in {g["column"] for g in candidates}}
        best = max(scores.values())
        matched = [g for g in rows if best > 0 and scores[g["column"]] == best]
        if matched:
            judged += 1
            if any(same_number(x.value, g["number"], g["unit"] == "%") for g in matched):
                correct += 1
            else:
                g = matched[0]
                wrong.append(
                    f"{Path(x.file).name[:28]} p.{x.page} {x.row[:40]!r} / {x.column[:40]!r} = "
                    f"{x.value} (gold {g['column']!r} = {g['value']})"
                )
        for g in rows:
            if scores[g["column"]] > 0 and same_number(x.value, g["number"], g["unit"] == "%"):
                found.add(id(g))
                if row_match(g, x, strict_parent=True):
                    found_strict.add(id(g))
    return {
        "recall": round(len(found) / len(gold), 4) if gold else 0.0,
        "recall_parent": round(len(found_strict) / len(gold), 4) if gold else 0.0,
        "precision": round(correct / judged, 4) if judged else 0.0,
        "found": len(found),
        "judged": judged,
        "correct": correct,
        "found_ids": found,
        "wrong": wrong,
    }


# ------------------------------------------------------------------------------- extractors


def pdfplumber_tables(path: Path, pages: list[int], strategy: str) -> list[tuple[int, list]]:
    """pdfplumber's table finder on the given pages: (page, grid) for each table found."""
    import pdfplumber

    settings = {"vertical_strategy": strategy, "horizontal_strategy": strategy}
    with pdfplumber.open(str(path)) as pdf:
        return [
            (number, table)
            for number in pages
            for table in pdf.pages[number - 1].extract_tables(settings)
        ]


def grid_cells(
    file: str, page: int, table: list[list[str | None]], header_rows: bool
) -> list[XCell]:
    """A grid → cells. ``header_rows`` False: the first row is the header, the first column the
    label (the rule as asked). True: the header of each column is its text in the (up to 3)
    non-numeric rows just above a block of numeric rows, joined top to bottom, and the label is
    the row's leading non-numeric cells joined (text strategy splits words across columns)."""
    grid = [[(c or "").replace("\n", " ").strip() for c in row] for row in table]
    if not header_rows:
        if len(grid) < 2:
            return []
        header, body = grid[0], grid[1:]
        return [
            XCell(file, page, (), row[0], header[j] if j < len(header) else "", text, value)
            for row in body
            for j, text in enumerate(row[1:], 1)
            for numeric, value in [cell_value(text)]
            if numeric
        ]
    out: list[XCell] = []
    header: list[str] = []
    pending: list[list[str]] = []
    for row in grid:
        first = next((j for j, t in enumerate(row) if cell_value(t)[0]), None)
        if first is None:
            if any(row[1:]):
                pending = [*pending[-2:], row]
            continue
        if pending:
            header = [
                " ".join(r[j] for r in pending if j < len(r) and r[j]) for j in range(len(row))
            ]
            pending = []
        label = " ".join(t for t in row[:first] if t)
        for j in range(first, len(row)):
            numeric, value = cell_value(row[j])
            if numeric and label:
                out.append(
                    XCell(
                        file, page, (), label, header[j] if j < len(header) else "", row[j], value
                    )
                )
    return out


_HEADER_TOKEN = re.compile(
    r"(?<![\d,.])(?:19|20)\d\d(?![\d,.])(?:\s*年(?:末|度)?)?|第[一二三四]季度|\bQ[1-4]\b"
    r"|\b(?:first|second|third|fourth) quarter\b",
    re.I,
)
_NUMBER_TOKEN = re.compile(
    r"^(?:\(?[-−–]?(?:US\$|\$|¥|￥)?\d[\d,]*(?:\.\d+)?\)?%?|[-—–−]+|\$|%|NM)$", re.I
)


def text_order_cells(file: str, pages: list[Page]) -> list[XCell]:
    """Each line: leading words = label, trailing numbers → the header's periods left to right."""
    out: list[XCell] = []
    for page in pages:
        header: list[str] = []
        in_header = False
        for line in page.text.split("\n"):
            tokens = line.split()
            numbers: list[str] = []
            while tokens and _NUMBER_TOKEN.match(tokens[-1]):
                numbers.insert(0, tokens.pop())
            periods = [re.sub(r"\s+", "", m.group(0)) for m in _HEADER_TOKEN.finditer(line)]
            if not _has_amount(numbers):
                if periods and (len(periods) >= 2 or len(line) <= 40):
                    # a header line; the header lines before the next row of numbers add up
                    header = list(dict.fromkeys((header if in_header else []) + periods))
                    in_header = True
                continue
            in_header = False
            label = " ".join(tokens)
            values = [cell_value(t) for t in numbers if t not in {"$", "%"}]
            if not label or not header:
                continue
            for column, (numeric, value) in zip(header, values, strict=False):
                if numeric:
                    out.append(XCell(file, page.number, (), label, column, "", value))
    return out


def _has_amount(tokens: list[str]) -> bool:
    return any(cell_value(t)[1] is not None and not _YEAR.fullmatch(t) for t in tokens)


def annalyst_extractor() -> Callable[[Path, list[Page], str], list] | str:
    """``ingestion.tables.extract_tables``, or why it cannot be run."""
    try:
        from ingestion.tables import extract_tables
    except ImportError as err:
        return f"ingestion.tables.extract_tables is not importable ({err})"
    return extract_tables


def annalyst_cells(file: str, tables: list) -> list[XCell]:
    """Adapter: ``Table(page, title, unit_label, scale, currency, columns, rows)`` with
    ``TableRow(label, path, cells)`` and ``Cell(column, text, value)``."""
    out = []
    for table in tables:
        for row in table.rows:
            for cell in row.cells:
                numeric, parsed = cell_value(cell.text)
                nil = numeric and parsed is None
                if cell.value is None and not nil:
                    continue  # a text cell ("否", a name): not a number
                value = None if nil else cell.value
                path = tuple(row.path)
                out.append(XCell(file, table.page, path, row.label, cell.column, cell.text, value))
    return out


# ------------------------------------------------------------------------------------ running


def page_texts(path: Path, numbers: Iterable[int]) -> list[Page]:
    doc = open_pdf(path)
    try:
        return [Page(n, doc.page_text(n - 1)) for n in sorted(set(numbers)) if n <= doc.page_count]
    finally:
        doc.close()


def run(gold: list[dict], corpus: Path, pages_mode: str) -> tuple[dict, dict, dict, str]:
    """All extractors over the gold's reports → (cells, seconds, pages, annalyst status)."""
    files = list(dict.fromkeys(g["file"] for g in gold))
    cells: dict[str, list[XCell]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    pages_done: dict[str, int] = defaultdict(int)
    annalyst = annalyst_extractor()
    status = "ran" if callable(annalyst) else f"skipped: {annalyst}"
    for file in files:
        path = corpus / file
        language = next(g["language"] for g in gold if g["file"] == file)
        gold_pages = {g["page"] for g in gold if g["file"] == file}
        wanted = sorted(gold_pages | {p - 1 for p in gold_pages if p > 1})
        t = time.perf_counter()
        texts = page_texts(path, wanted)
        seconds["(pypdfium2 text)"] += time.perf_counter() - t
        pages_done["(pypdfium2 text)"] += len(texts)
        for strategy in ("lines", "text"):  # "lines" is pdfplumber's default
            t = time.perf_counter()
            tables = pdfplumber_tables(path, wanted, strategy)
            spent = time.perf_counter() - t
            for rows, suffix in ((False, ""), (True, " +hdr")):
                name = f"pdfplumber {strategy}{suffix}"
                cells[name] += [x for p, grid in tables for x in grid_cells(file, p, grid, rows)]
                seconds[name] += spent
                pages_done[name] += len(wanted)
        t = time.perf_counter()
        cells["text order"] += text_order_cells(file, texts)
        seconds["text order"] += time.perf_counter() - t
        pages_done["text order"] += len(texts)
        if callable(annalyst):
            given = list(read_pages(path)) if pages_mode == "all" else texts
            t = time.perf_counter()
            tables = annalyst(path, given, language)
            seconds["annalyst"] += time.perf_counter() - t
            pages_done["annalyst"] += len(given)
            cells["annalyst"] += annalyst_cells(file, tables)
    return cells, seconds, pages_done, status


TAG_TESTS: dict[str, Callable[[dict], bool]] = {
    "sub-row": lambda g: bool(g["parent"]),
    "multi-header": lambda g: "multi-header" in g["tags"],
    "wrapped": lambda g: "wrapped" in g["tags"],
    "sparse": lambda g: "sparse" in g["tags"],
    "continuation": lambda g: "continuation" in g["tags"],
    "negative": lambda g: g["number"] is not None and g["number"] < 0,
    "nil": lambda g: g["number"] is None,
    "percent": lambda g: g["unit"] == "%",
}


def summarise(gold: list[dict], cells: list[XCell], sec: float, pages: int) -> dict:
    res = judge(gold, cells)
    found = res.pop("found_ids")
    wrong = res.pop("wrong")
    for lang in ("en", "zh"):
        part = [g for g in gold if g["language"] == lang]
        r = judge(part, (x for x in cells if x.file in {g["file"] for g in part}))
        res[f"recall_{lang}"], res[f"precision_{lang}"] = r["recall"], r["precision"]
    res["by_kind"] = {
        tag: round(sum(id(g) in found for g in gold if test(g)) / n, 3)
        for tag, test in TAG_TESTS.items()
        if (n := sum(test(g) for g in gold))
    }
    res["cells"] = len(cells)
    res["s_per_page"] = round(sec / pages, 4) if pages else None
    res["misses"] = [g for g in gold if id(g) not in found]
    res["wrong"] = wrong
    return res


def print_results(results: dict[str, dict], verbose: bool) -> None:
    head = f"{'extractor':21s} {'recall':>7s} {'parent':>7s} {'precision':>9s} {'judged':>6s}"
    print(head + f" {'en R/P':>11s} {'zh R/P':>11s} {'s/page':>7s}")
    for name, r in results.items():
        print(
            f"{name:21s} {r['recall']:7.1%} {r['recall_parent']:7.1%} {r['precision']:9.1%} "
            f"{r['judged']:6d} {r['recall_en']:5.0%}/{r['precision_en']:<5.0%} "
            f"{r['recall_zh']:5.0%}/{r['precision_zh']:<5.0%} {r['s_per_page']:7.3f}"
        )
    tags = list(next(iter(results.values()))["by_kind"]) if results else []
    print("recall by kind: " + ", ".join(tags))
    for name, r in results.items():
        print(f"  {name:21s} " + " ".join(f"{r['by_kind'][t]:>5.0%}" for t in tags))
        if verbose:
            for g in r["misses"]:
                print(
                    f"    miss {Path(g['file']).name[:28]} p.{g['page']} {g['row'][:40]!r} "
                    f"[{g['parent'][:20]}] / {g['column']!r} = {g['value']}"
                )
            for w in r["wrong"]:
                print(f"    WRONG {w}")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gold", type=Path, default=GOLD)
    ap.add_argument("--pages", choices=("all", "gold"), default="all", help="pages for Annalyst")
    ap.add_argument("--verbose", "-v", action="store_true", help="list each extractor's misses")
    args = ap.parse_args()
    corpus = Settings().corpus_dir
    gold = [json.loads(x) for x in args.gold.read_text(encoding="utf-8").splitlines() if x]
    cells, seconds, pages, status = run(gold, corpus, args.pages)
    if not status == "ran":
        print(f"Annalyst's table reader {status}: scoring the baselines only")
    results = {name: summarise(gold, cells[name], seconds[name], pages[name]) for name in cells}
    print(
        f"{len(gold)} gold cells, {len({g['file'] for g in gold})} reports, "
        f"{len({(g['file'], g['page']) for g in gold})} pages "
        f"(+ the page before each: {pages['(pypdfium2 text)']} pages read, "
        f"{seconds['(pypdfium2 text)']:.1f} s of pypdfium2 text)"
    )
    print_results(results, args.verbose)
    summary = {
        "bench": "tables",
        "gold_cells": len(gold),
        "reports": len({g["file"] for g in gold}),
        "annalyst": status,
        "extractors": {
            name: {k: v for k, v in r.items() if k not in ("misses", "wrong")}
            for name, r in results.items()
        },
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
