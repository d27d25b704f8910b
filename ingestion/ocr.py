"""OCR for pages without a usable text layer (scanned reports, fonts without a Unicode map).

One backend, ``rapidocr`` (the ``rapidocr-onnxruntime`` package: PP-OCRv4 detection and Chinese +
English recognition as ONNX models shipped inside the wheel, run by onnxruntime on the CPU; nothing
is downloaded). A page is rendered with PDFium at :data:`RENDER_SCALE` (capped at
:data:`MAX_SIDE_PX` so that a huge page cannot ask for a huge bitmap), the recognised text boxes
are put back into reading order (top to bottom, left to right, boxes on one visual line joined by a
space, the way PDFium's text layer prints a table row) and boxes scored below
:data:`MIN_SCORE` are dropped.

OCR runs inside the PDF child process (:mod:`ingestion.sandbox`), under its memory and time
limits. Speed and character accuracy against real text layers: ``bench/ocr.py``.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: PDF points → pixels: 2.0 renders an A4 page at 144 dpi (1191 × 1684 px).
RENDER_SCALE = 2.0
#: Longest side of a rendered page in pixels (rapidocr downsizes beyond 2,000 anyway).
MAX_SIDE_PX = 2400
#: Recognised boxes below this confidence are dropped.
MIN_SCORE = 0.5


class PageOcr(Protocol):
    """Text of one rendered page image (an ``H × W × 3`` uint8 array)."""

    def image_text(self, image: Any) -> str: ...


def make_ocr(name: str) -> PageOcr | None:
    """The OCR backend by name: ``rapidocr`` or ``off`` (None)."""
    if name == "off":
        return None
    if name == "rapidocr":
        return RapidOcr()
    raise ValueError(f"unknown OCR backend {name!r}: use 'rapidocr' or 'off'")


class RapidOcr:
    """rapidocr-onnxruntime, loaded on first use (about 1 s; ~25 MB of ONNX models)."""

    def __init__(self) -> None:
        self._engine: Any = None

    def _load(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            self._engine = RapidOCR()
        return self._engine

    def image_text(self, image: Any) -> str:
        result, _ = self._load()(image, use_cls=False)  # pages are upright; skips a model
        boxes = [
            (box, text, float(score))
            for box, text, score in (result or [])
            if float(score) >= MIN_SCORE and text.strip()
        ]
        return lines_in_reading_order(boxes)


def lines_in_reading_order(boxes: list[tuple[Any, str, float]]) -> str:
    """Join OCR boxes (4 corner points, text, score) into lines, top to bottom."""
    items = []
    for box, text, _ in boxes:
        ys = [float(p[1]) for p in box]
        xs = [float(p[0]) for p in box]
        items.append((min(ys), max(ys), min(xs), text.strip()))
    items.sort(key=lambda b: (b[0] + b[1]) / 2)
    lines: list[list[tuple[float, float, float, str]]] = []
    for top, bottom, left, text in items:
        centre = (top + bottom) / 2
        if lines:
            last = lines[-1]
            ref = statistics.median((b[0] + b[1]) / 2 for b in last)
            height = statistics.median(b[1] - b[0] for b in last)
            if abs(centre - ref) <= 0.5 * min(height, bottom - top):
                last.append((top, bottom, left, text))
                continue
        lines.append([(top, bottom, left, text)])
    return "\n".join(" ".join(b[3] for b in sorted(line, key=lambda b: b[2])) for line in lines)


def render_for_ocr(page: Any) -> Any:
    """A pypdfium2 page as an RGB array for OCR, at most :data:`MAX_SIDE_PX` on its long side."""
    width, height = page.get_size()
    scale = min(RENDER_SCALE, MAX_SIDE_PX / max(width, height, 1.0))
    bitmap = page.render(scale=scale)
    try:
        return bitmap.to_numpy().copy()
    finally:
        bitmap.close()
