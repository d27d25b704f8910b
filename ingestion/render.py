"""A PDF page rendered as a PNG with given numbers boxed — the citation image of the chat.

Runs in the PDF child process (:mod:`ingestion.sandbox`, task ``render``): rendering decodes the
page's content and images, which for a hostile file is as dangerous as reading its text.
"""

from __future__ import annotations

import io
from typing import Any

HIGHLIGHT_FILL = (255, 213, 0, 110)
HIGHLIGHT_EDGE = (214, 40, 40, 255)


def _boxes(textpage: Any, term: str) -> list[tuple[float, float, float, float]]:
    """Rectangles (PDF points) of whole-number occurrences of ``term`` on a page."""
    boxes = []
    searcher = textpage.search(term, match_case=False, match_whole_word=False)
    total = textpage.count_chars()
    while True:
        hit = searcher.get_next()
        if hit is None:
            break
        index, count = hit
        before = textpage.get_text_range(index - 1, 1) if index > 0 else ""
        after = textpage.get_text_range(index + count, 1) if index + count < total else ""
        if (before and (before.isdigit() or before in ",.")) or (after and after.isdigit()):
            continue  # part of a longer number
        rects = [textpage.get_rect(i) for i in range(textpage.count_rects(index, count))]
        if rects:  # one box per occurrence (pdfium may give one rect per glyph run)
            boxes.append(
                (
                    min(r[0] for r in rects),
                    min(r[1] for r in rects),
                    max(r[2] for r in rects),
                    max(r[3] for r in rects),
                )
            )
    return boxes


def draw_page(path: str, page: int, terms: tuple[str, ...], scale: float) -> tuple[bytes, int]:
    """PNG bytes of a 1-based page with ``terms`` boxed, and how many boxes were drawn."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = pdfium.PdfDocument(path)
    try:
        pg = pdf[page - 1]
        image = pg.render(scale=scale).to_pil().convert("RGBA")
        found = 0
        if terms:
            left, _bottom, _right, top = pg.get_cropbox()
            textpage = pg.get_textpage()
            overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
            draw = ImageDraw.Draw(overlay)
            for term in terms:
                for x0, y0, x1, y1 in _boxes(textpage, term):
                    box = (
                        (x0 - left) * scale - 2,
                        (top - y1) * scale - 2,
                        (x1 - left) * scale + 2,
                        (top - y0) * scale + 2,
                    )
                    draw.rectangle(box, fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_EDGE, width=2)
                    found += 1
            image = Image.alpha_composite(image, overlay)
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PNG")
        return buf.getvalue(), found
    finally:
        pdf.close()
