"""Write small text PDFs for tests (Helvetica, one text block per page) — no extra packages.

Used where a test needs a report whose exact wording it controls (e.g. a page that tries a prompt
injection); everything else in the tests uses real reports from the corpus.
"""

from __future__ import annotations

from pathlib import Path


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """``pages``: lines of text per page (ASCII)."""
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
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        body = (
            "BT /F1 10 Tf 14 TL 50 750 Td "
            + " ".join(f"({_escape(line)}) Tj T*" for line in lines)
            + " ET"
        )
        data = body.encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
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
