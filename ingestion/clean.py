"""Text clean-up for search: steps over page records, each a plain function.

Only artefacts that hurt search are fixed; numbers and table rows are never rewritten.

* PDFium's marker for a hyphen at a line break (U+FFFE, 99 of the corpus's 124 reports:
  "non\\ufffecontrolling") becomes a plain hyphen;
* repeated running headers/footers (the report title, "Table of Contents", page folios) removed
  when the same line (digits ignored) opens or closes at least 40% of the pages;
* end-of-line hyphenation joined: "manage-\\nment" → "management" when "management" occurs in the
  document, else "long-\\nterm" → "long-term";
* words split by the PDF's glyph positioning ("Incom e", "Dat a", "I NTERNATIONAL") joined where
  the joined word occurs elsewhere in the document and one fragment never occurs on its own;
* Chinese: spaces that line layout inserts between CJK characters removed, lines that wrap inside
  a word ("聚乙\\n烯", "归属于上市公司股东的净\\n利润") joined.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ingestion.pdf import Page

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
_CJK_RE = re.compile(f"[{CJK}]")
_SPACE_IN_CJK = re.compile(f"(?<=[{CJK}{CJK_PUNCT}])[ \\t\u00a0]+(?=[{CJK}{CJK_PUNCT}])")
_SPACE_NUM_CJK = re.compile("(?<=[0-9])[ \\t]+(?=[年月日元万亿%])|(?<=[年月])[ \\t]+(?=[0-9])")
_HYPHEN = re.compile(r"\b([A-Za-z]*[a-z])-\n([a-z]+)\b")
_WORD = re.compile(r"[A-Za-z]+")
_PAIR = re.compile(r"\b([A-Za-z]+) (?=([A-Za-z]+)\b)")  # every adjacent pair, overlapping
_HEADING_ZH = re.compile(
    r"^\s*(第[一二三四五六七八九十]+节|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+[、．.]|[（(]\d+[）)])"
)
#: A table label or prose line that may continue on the next line (no cell gaps, no numbers).
_LABEL_ZH = re.compile(
    f"(?:\\d+[、．.]|[（(][一二三四五六七八九十\\d]+[）)])?[{CJK}（）()、，“”《》：]+"
)
_SENTENCE_END = "。！？；：”"
_WS = re.compile(r"[ \t\u00a0\u2002\u2003\u2009]+")


def cjk_ratio(text: str) -> float:
    """Share of CJK characters among the non-blank characters."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if _CJK_RE.match(c)) / len(chars)


def detect_language(pages: Sequence[Page]) -> str:
    sample = "".join(p.text for p in pages[:12])[:20000]
    return "zh" if cjk_ratio(sample) > 0.15 else "en"


def normalize_whitespace(text: str) -> str:
    text = text.replace("\x00", "").replace("\ufeff", "").replace("\ufffe", "-")
    lines = [_WS.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def remove_running_lines(pages: list[Page], *, share: float = 0.4, edge: int = 2) -> list[Page]:
    """Drop lines that repeat at the top or bottom of many pages (headers, footers, folios)."""
    if len(pages) < 5:
        return pages
    counts: Counter[str] = Counter()
    for page in pages:
        lines = [ln for ln in page.text.split("\n") if ln.strip()]
        keys = {_edge_key(ln) for ln in lines[:edge] + lines[-edge:]}
        counts.update(keys)
    limit = max(4, int(share * len(pages)))
    running = {k for k, n in counts.items() if n >= limit and len(k) < 120}
    running |= {"#", "- # -", "page #", "# | page"} & set(counts)  # bare folios
    if not running:
        return pages
    out = []
    for page in pages:
        lines = page.text.split("\n")
        nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
        edges = set(nonblank[:edge] + nonblank[-edge:])
        kept = [ln for i, ln in enumerate(lines) if not (i in edges and _edge_key(ln) in running)]
        out.append(Page(page.number, "\n".join(kept)))
    return out


def _vocabulary(pages: Sequence[Page]) -> Counter[str]:
    return Counter(w.lower() for p in pages for w in _WORD.findall(p.text))


def join_hyphenation(pages: list[Page], vocab: Counter[str] | None = None) -> list[Page]:
    """'manage-\\nment' → 'management' when the document uses that word, else 'long-term'."""
    vocab = vocab if vocab is not None else _vocabulary(pages)

    def fix(m: re.Match[str]) -> str:
        a, b = m.group(1), m.group(2)
        return a + b if vocab.get((a + b).lower(), 0) >= 1 else f"{a}-{b}"

    return [Page(p.number, _HYPHEN.sub(fix, p.text)) for p in pages]


def join_split_words(pages: list[Page], vocab: Counter[str] | None = None) -> list[Page]:
    """Join words split by glyph positioning, where the joined word occurs elsewhere (twice):

    * a fragment that never occurs on its own: 'Incom e' → 'Income', 'Summ ary' → 'Summary';
    * a stray lower-case letter: 'Director s' → 'Directors' (not 'a', not 'Regulation S');
    * a set-apart capital (small caps): 'I NTERNATIONAL' → 'INTERNATIONAL'.

    Real word pairs ("in to", "As a", "who meets") stay apart.
    """
    vocab = vocab if vocab is not None else _vocabulary(pages)
    pairs: Counter[tuple[str, str]] = Counter()
    for p in pages:
        for m in _PAIR.finditer(p.text):
            pairs[(m.group(1).lower(), m.group(2).lower())] += 1

    def join(a: str, b: str) -> bool:
        la, lb = a.lower(), b.lower()
        if vocab.get(la + lb, 0) < 2:
            return False
        n = pairs[(la, lb)]
        if len(a) >= 2 and vocab.get(la, 0) - n <= 0:
            return True
        if len(b) == 1 and b.islower() and b not in "ai" and len(a) >= 2:
            return True
        return len(a) == 1 and a.isupper() and b.isupper() and vocab.get(lb, 0) - n <= 0

    def fix(m: re.Match[str]) -> str:
        return m.group(1) if join(m.group(1), m.group(2)) else m.group(0)

    return [Page(p.number, _PAIR.sub(fix, p.text)) for p in pages]


def _wraps_word(prev: str, line: str) -> bool:
    """Does a dictionary word run across the line break ("聚乙|烯", "净|利润", "其变|动")?"""
    from backend.store.keywords import _jieba  # the keyword index's jieba, with its finance terms

    left, right = prev[-4:], line[:4]
    pos = 0
    for tok in _jieba().lcut(left + right, HMM=False):
        end = pos + len(tok)
        if pos < len(left) < end:
            return True
        pos = end
    return False


def _joinable_zh(prev: str, line: str, width: int) -> bool:
    """Does ``line`` continue ``prev`` (a word or sentence wrapped at the line end)?"""
    if not prev or not line or " " in prev or _HEADING_ZH.match(line):
        return False
    if not (_CJK_RE.match(line[0]) or line[0] in "（(、，"):
        return False
    if prev[-1] in _SENTENCE_END or not (_CJK_RE.match(prev[-1]) or prev[-1] in "、，（("):
        return False
    # wrapped prose: the line runs (nearly) to the right margin
    if width >= 20 and len(prev) >= 0.8 * width:
        return True
    # a wrapped table label ("归属于上市公司股东的净" / "利润"): CJK only, cut inside a word
    return len(prev) >= 4 and bool(_LABEL_ZH.fullmatch(prev)) and _wraps_word(prev, line)


def clean_chinese(text: str) -> str:
    """Join lines that wrap inside words, then remove layout spaces inside Chinese text."""
    lines = text.split("\n")
    prose = [len(ln) for ln in lines if " " not in ln and cjk_ratio(ln) > 0.5]
    width = max(prose) if prose else 0
    out: list[str] = []
    for line in lines:
        if out and _joinable_zh(out[-1], line, width):
            out[-1] += line
        else:
            out.append(line)
    text = "\n".join(out)
    text = _SPACE_IN_CJK.sub("", text)
    return _SPACE_NUM_CJK.sub("", text)


def clean_pages(pages: list[Page], language: str) -> list[Page]:
    """The whole clean-up, in order. Page numbers are kept."""
    pages = [Page(p.number, normalize_whitespace(p.text)) for p in pages]
    pages = remove_running_lines(pages)
    if language == "zh":
        return [Page(p.number, clean_chinese(p.text)) for p in pages]
    vocab = _vocabulary(pages)
    pages = join_hyphenation(pages, vocab)
    return join_split_words(pages, _vocabulary(pages))
