"""Page text → chunks that never cross a page, carrying their section and nearest heading.

Sections are the 10-K "Item N." parts and the 年报 "第N节" chapters (table-of-contents pages, with
many such lines, do not move the current section). A heading is a short title-like line (e.g.
"Consolidated Statements of Cash Flows", "合并资产负债表"); it is kept with every chunk of its table so
that a chunk holding only rows of numbers is still found by its caption.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from backend.records import Chunk
from ingestion.clean import cjk_ratio
from ingestion.pdf import Page

_ITEM = re.compile(r"^\s*item\s+(\d{1,2}(?:\.\d{2})?[a-c]?)\s*[.:\-–—]?\s*(.{0,90})$", re.I)
_PART = re.compile(r"^\s*part\s+(i{1,3}|iv)\b", re.I)
_ZH_SECTION = re.compile(r"^\s*(第[一二三四五六七八九十]+节)\s*(.{0,30})$")
_ZH_HEADING = re.compile(
    r"^\s*((?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+、)\s*\S.{0,30}|"
    r"(?:合并|母公司)(?:及母公司)?(?:资产负债表|利润表|现金流量表|所有者权益变动表|股东权益变动表))\s*$"
)
_EN_STATEMENT = re.compile(
    r"^\s*(consolidated\s+)?(statements?|balance\s+sheets?)\b.{0,80}$|"
    r"^\s*notes?\s+to\s+(the\s+)?(consolidated\s+)?financial\s+statements",
    re.I,
)
_NUMERIC = re.compile(r"[\d$%(),.\-—–\s]+")


def _is_en_heading(line: str) -> bool:
    s = line.strip()
    if not (4 <= len(s) <= 90) or (s.endswith((".", ",", ";", ":")) and not _ITEM.match(s)):
        return False
    if _EN_STATEMENT.match(s):
        return True
    letters = [c for c in s if c.isalpha()]
    if len(letters) < 4 or _NUMERIC.fullmatch(s) or re.search(r"\d[\d,]{3,}", s):
        return False
    words = s.split()
    if len(words) > 12 or sum(1 for w in words if any(c.isdigit() for c in w)) * 3 > len(words):
        return False  # a table row ("Inventories (509) (387) 57"), not a caption
    upper = sum(1 for c in letters if c.isupper()) / len(letters)
    titled = sum(1 for w in words if w[:1].isupper() or not w[:1].isalpha()) / len(words)
    return upper > 0.8 or (titled > 0.85 and len(words) <= 8)


def _section_of(line: str, language: str) -> str | None:
    if language == "zh":
        m = _ZH_SECTION.match(line)
        return f"{m.group(1)} {m.group(2)}".strip() if m else None
    m = _ITEM.match(line)
    if m:
        title = m.group(2).strip(" .")
        return f"Item {m.group(1).upper()}" + (f". {title}" if title else "")
    return None


def _heading_of(line: str, language: str) -> str | None:
    if language == "zh":
        m = _ZH_HEADING.match(line)
        return m.group(1).strip() if m else None
    return line.strip() if _is_en_heading(line) else None


def _weight(text: str) -> int:
    """Length in 'English characters': a CJK character counts as two."""
    return len(text) + sum(1 for c in text if "\u3400" <= c <= "\u9fff")


def _pieces(line: str, target: int) -> list[str]:
    """A line heavier than ``target`` (a paragraph extracted as one line) cut into pieces of at
    most ``target``, at the last space or CJK punctuation before the limit when there is one."""
    out: list[str] = []
    while _weight(line) > target:
        weight = limit = 0
        for i, ch in enumerate(line):
            weight += 2 if "\u3400" <= ch <= "\u9fff" else 1
            if weight > target:
                break
            limit = i + 1
        cut = max(line.rfind(" ", 0, limit), *(line.rfind(p, 0, limit) + 1 for p in "，。；、"))
        if cut < limit // 2:
            cut = limit
        out.append(line[:cut].rstrip())
        line = line[cut:].lstrip()
    if line:
        out.append(line)
    return out


class _PageChunker:
    """Cuts one page's lines into chunks (state: the buffer, the current heading)."""

    def __init__(self, page: Page, doc_id: str, language: str, target: int, overlap: int) -> None:
        self.page, self.doc_id, self.language = page, doc_id, language
        self.target, self.overlap = target, overlap
        self.section = ""
        self.heading = ""
        self.buf: list[str] = []
        self.buf_heading = ""
        self.seq = 0
        self.chunks: list[Chunk] = []

    def flush(self, next_weight: int = -1) -> None:
        """Emit the buffer as a chunk; keep an overlap tail when the next line follows on."""
        text = "\n".join(self.buf).strip()
        if len(text) >= 20 or (text and not self.chunks and self.page.number == 1):
            self.chunks.append(
                Chunk(
                    chunk_id=f"{self.doc_id}:{self.page.number}:{self.seq}",
                    doc_id=self.doc_id,
                    page=self.page.number,
                    seq=self.seq,
                    text=text,
                    section=self.section,
                    heading=self.buf_heading,
                    language=self.language,
                )
            )
            self.seq += 1
        tail: list[str] = []
        if next_weight >= 0:
            for ln in reversed(self.buf):
                if _weight("\n".join([ln, *tail])) > self.overlap:
                    break
                tail.insert(0, ln)
            if tail and _weight("\n".join(tail)) + 1 + next_weight > self.target:
                tail = []
        self.buf = tail
        self.buf_heading = self.heading

    def add(self, line: str, *, toc: bool) -> None:
        if not toc:
            new_section = _section_of(line, self.language)
            if new_section:
                if self.buf:
                    self.flush()
                self.section = new_section
        new_heading = _heading_of(line, self.language)
        if new_heading and new_heading != self.heading:
            if self.buf and _weight("\n".join(self.buf)) > self.target // 3:
                self.flush()
            self.heading = new_heading
            if not self.buf or not self.buf_heading:
                self.buf_heading = self.heading
        if not self.buf:
            self.buf_heading = self.heading
        for piece in _pieces(line, self.target):
            weight = _weight(piece)
            if self.buf and _weight("\n".join(self.buf)) + 1 + weight > self.target:
                self.flush(next_weight=weight)
            self.buf.append(piece)


def chunk_pages(
    pages: Iterable[Page], doc_id: str, *, language: str, target: int = 1100, overlap: int = 150
) -> list[Chunk]:
    """Split cleaned pages into chunks of at most ``target`` weighted characters (a CJK
    character weighs two), never across a page; consecutive chunks of a page overlap by up to
    ``overlap``. The section (10-K item, 年报 节) runs on across pages."""
    chunks: list[Chunk] = []
    section = ""
    for page in pages:
        lines = [ln for ln in page.text.split("\n") if ln.strip()]
        if not lines:
            continue
        page_lang = "zh" if cjk_ratio(page.text) > 0.15 else language
        toc = sum(1 for ln in lines if _section_of(ln, page_lang)) >= 4  # a table of contents
        chunker = _PageChunker(page, doc_id, page_lang, target, overlap)
        chunker.section = section
        for line in lines:
            chunker.add(line, toc=toc)
        if chunker.buf:
            chunker.flush()
        chunks.extend(chunker.chunks)
        section = chunker.section
    return chunks
