"""Write small text PDFs for tests (Helvetica, or a predefined CJK font for Chinese lines; one
text block per page) — no extra packages.

Used where a test needs a report whose exact wording it controls (e.g. a page that tries a prompt
injection); everything else in the tests uses real reports from the corpus.
"""

from __future__ import annotations

from pathlib import Path


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _show(line: str) -> str:
    """The text operator of one line: Helvetica for ASCII; a line with other characters (Chinese)
    in Adobe's predefined STSong-Light through the UniGB-UCS2-H CMap (UTF-16 codes, no embedded
    font), which PDF readers — PDFium included — extract as Unicode."""
    if line.isascii():
        return f"/F1 10 Tf ({_escape(line)}) Tj T*"
    return f"/F2 10 Tf <{line.encode('utf-16-be').hex().upper()}> Tj T*"


_STSONG = [
    b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
    b"/DescendantFonts [%d 0 R] >>",
    b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo "
    b"<< /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor %d 0 R >>",
    b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] "
    b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
]


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """``pages``: lines of text per page (English, or Chinese mixed with ASCII)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R /F2 {font_id + 1} 0 R >> >> >>".encode()
        )
        body = "BT 14 TL 50 750 Td " + " ".join(_show(line) for line in lines) + " ET"
        data = body.encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(_STSONG[0] % (font_id + 2))
    objects.append(_STSONG[1] % (font_id + 3))
    objects.append(_STSONG[2])
    return write_objects(path, objects)


def write_objects(path: Path, objects: list[bytes]) -> Path:
    """A PDF of ``objects`` (object 1 is the catalogue) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(bytes(out))
    return path


def excerpt(src: Path, pages: list[int], out: Path) -> Path:
    """A PDF holding the given 1-based pages of a real report (pypdf writer)."""
    import pypdf

    reader = pypdf.PdfReader(str(src))
    if reader.is_encrypted:
        reader.decrypt("")
    writer = pypdf.PdfWriter()
    for n in pages:
        writer.add_page(reader.pages[n - 1])
    with open(out, "wb") as f:
        writer.write(f)
    return out
