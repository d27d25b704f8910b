"""PDF reading: page numbers, decryption, and a clear error for every kind of bad input.

The bad PDFs are made here from a real report: truncated, encrypted with a real password (pypdf),
image-only (rendered with PDFium), empty, a text file named .pdf.
"""

from __future__ import annotations

from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pytest

from backend.errors import (
    CorruptPdf,
    EmptyFile,
    EncryptedPdf,
    NotAPdf,
    PdfError,
    ScannedPdf,
    TooLarge,
)
from ingestion.pdf import garbled, open_pdf, read_pages
from tests.conftest import BESTBUY_10Q, ERC_RAPID7, ERC_RECTIFIER, FOOTLOCKER_8K

pytestmark = pytest.mark.usefixtures("corpus")

EXTRACTORS = ["pdfium", "pypdf"]


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_pages_are_one_based_pdf_pages(extractor: str) -> None:
    pages = list(read_pages(FOOTLOCKER_8K, extractor=extractor))
    assert [p.number for p in pages] == [1, 2, 3, 4]
    assert "FORM 8-K" in pages[0].text
    assert "Item 5.07" in pages[1].text  # the vote results are on PDF page 2
    assert "Item 8.01" in pages[2].text
    assert "SIGNATURE" in pages[3].text


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize(
    ("path", "expected"),
    [(BESTBUY_10Q, "Best Buy"), (ERC_RECTIFIER, "Rectifier Technologies")],
    ids=["rc4", "aes256"],
)
def test_empty_user_password_is_decrypted(path: Path, expected: str, extractor: str) -> None:
    assert pypdf.PdfReader(str(path)).is_encrypted
    doc = open_pdf(path, extractor)
    try:
        text = doc.page_text(0) + doc.page_text(2)
    finally:
        doc.close()
    assert expected.lower() in text.lower()


@pytest.fixture(scope="module")
def bad_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    data = FOOTLOCKER_8K.read_bytes()
    out = {
        "empty": d / "empty.pdf",
        "text": d / "notes.pdf",
        "truncated": d / "truncated.pdf",
        "password_aes": d / "password_aes.pdf",
        "password_rc4": d / "password_rc4.pdf",
        "scanned": d / "scanned.pdf",
    }
    out["empty"].write_bytes(b"")
    out["text"].write_text("Quarterly notes, typed in a text editor, saved as .pdf\n")
    out["truncated"].write_bytes(data[: len(data) // 2])
    for name, algorithm in (("password_aes", "AES-256"), ("password_rc4", "RC4-128")):
        writer = pypdf.PdfWriter(clone_from=str(FOOTLOCKER_8K))
        writer.encrypt("s3cret", algorithm=algorithm)
        with open(out[name], "wb") as f:
            writer.write(f)
    # image-only: each page rendered to a bitmap and placed on an empty page (a "scan")
    src = pdfium.PdfDocument(str(FOOTLOCKER_8K))
    scan = pdfium.PdfDocument.new()
    for i in range(2):
        image = src[i].render(scale=0.5).to_pil()
        page = scan.new_page(image.width, image.height)
        obj = pdfium.PdfImage.new(scan)
        obj.set_bitmap(pdfium.PdfBitmap.from_pil(image))
        obj.set_matrix(pdfium.PdfMatrix().scale(image.width, image.height))
        page.insert_obj(obj)
        page.gen_content()
    scan.save(str(out["scanned"]))
    src.close()
    scan.close()
    return out


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        ("empty", EmptyFile, "0 bytes"),
        ("text", NotAPdf, "not a PDF"),
        ("truncated", CorruptPdf, "damaged or truncated"),
        ("password_aes", EncryptedPdf, "password"),
        ("password_rc4", EncryptedPdf, "password"),
        ("scanned", ScannedPdf, "OCR is off"),
    ],
)
def test_bad_input_gets_a_specific_error(
    bad_pdfs: dict[str, Path], kind: str, error: type[PdfError], words: str, extractor: str
) -> None:
    path = bad_pdfs[kind]
    with pytest.raises(error) as info:
        list(read_pages(path, extractor=extractor))
    message = str(info.value)
    assert message.startswith(path.name + ": ")
    assert words in message
    assert info.value.kind == error.kind


def test_too_many_pages_is_refused_before_reading() -> None:
    with pytest.raises(TooLarge, match="30 pages; limit 10 pages"):
        next(iter(read_pages(BESTBUY_10Q, max_pages=10)))


def test_undecodable_text_layer_is_detected() -> None:
    """One ERC report's fonts have no Unicode map: its text comes out as control characters."""
    doc = open_pdf(ERC_RAPID7)
    try:
        cover, body = doc.page_text(0), doc.page_text(13)
    finally:
        doc.close()
    assert not garbled(cover)  # "2022 Annual Report"
    assert garbled(body)
    assert not garbled(list(read_pages(FOOTLOCKER_8K))[1].text)
