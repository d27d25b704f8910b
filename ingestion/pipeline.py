"""Ingestion: PDF files → catalogue rows + Chroma vectors, one document at a time.

Steps per document (plain functions over page/chunk records):
``check_file → hash → read_pages → detect_language → detect (metadata) → clean_pages → chunk_pages
→ embed + add vectors (batched) → extract_facts → complete_document`` (one SQLite transaction that
makes the document visible). ``read_pages`` and ``extract_facts`` open the PDF, so they run in a
child process with memory and time limits (:mod:`ingestion.sandbox`); this process never parses a
PDF. A document's id is its content hash, so re-adding an unchanged file is a no-op.

Replacement is never silent: a new file from the same source (the same path, or an upload with the
same name) replaces an earlier document only when it is the same report — same company, fiscal
year and report type — (a corrected version); a different report is kept alongside. Either way the
result says so (``replaced`` / ``kept_alongside``), the CLI prints it and the app's job card shows it.

Crash safety: the catalogue records the attempt (``begin_document``) before any vector is written
and makes the new build visible in one transaction at the end. A report that is already indexed
(re-index, ``add --force``) stays searchable, unchanged, until then: the new build's vectors get ids
of their own (a ``~r<generation>`` suffix) and are invisible until its chunks are committed. A failed
or killed attempt leaves the old version as it was; its vectors are purged at once, or by the next
writer's recovery (which also purges vectors of removed and failed documents).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backend.domain.companies import company_key
from backend.errors import AnnalystError, DiskFull, PdfError, StoreUnavailable, is_disk_full
from backend.records import Chunk, Document, Fact, ReportSummary, StatementCheck
from backend.settings import Settings
from backend.store.catalog import INTERRUPTED, Catalog
from backend.store.keywords import index_tokens
from backend.store.tables import row_tokens
from backend.store.vectors import VectorStore
from backend.system import sha256_file
from ingestion.chunking import chunk_pages
from ingestion.clean import clean_pages, detect_language
from ingestion.lock import WriterLock
from ingestion.meta import detect
from ingestion.pdf import MIN_PAGE_CHARS, Page, check_file
from ingestion.sandbox import ChildRun, Limits
from ingestion.sandbox import extract_facts as extract_facts_in_child
from ingestion.sandbox import extract_tables as extract_tables_in_child
from ingestion.sandbox import read_pages as read_pages_in_child

log = logging.getLogger(__name__)

#: progress(file_name, stage, done, total); stages: parse, chunk, embed, facts, write, done
Progress = Callable[[str, str, int, int], None]

EMBED_BATCH = 64


@dataclass
class IngestResult(ReportSummary):
    """What indexing one file did; its :class:`ReportSummary` is the indexed document's."""

    file: str
    status: str  # indexed | unchanged | failed
    doc_id: str = ""
    error: str = ""
    error_kind: str = ""
    #: the error's code and fields (backend.errors), for the interface's translations
    error_code: str = ""
    error_fields: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    #: ids of earlier versions this file replaced (same source, same company, year and type)
    replaced: list[str] = field(default_factory=list)
    #: "file (company year type)" of each replaced document, for the CLI and the job card
    replaced_files: list[str] = field(default_factory=list)
    #: documents from the same source (same name or path) that are a different report: kept
    kept_alongside: list[str] = field(default_factory=list)
    #: pages read by OCR (no usable text layer)
    ocr_pages: int = 0
    #: peak memory (MB) of the child processes that read the PDF
    parse_peak_mb: float = 0.0
    #: seconds per stage (parse, clean, chunk, embed, facts, tables, write) of an indexed file
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _vector_metadata(doc: Document, chunk: Chunk) -> dict[str, Any]:
    """What a vector carries in Chroma. A copy made at indexing time, for filtering and for
    reading the store on its own; the catalogue stays authoritative (search filters on its
    complete document ids, and a user's metadata correction is made there)."""
    return {
        "doc_id": doc.doc_id,
        "page": chunk.page,
        "language": chunk.language,
        "fiscal_year": doc.fiscal_year or 0,
        "file": doc.file_name,
        "company": doc.company,
        "report_type": doc.report_type,
        "section": chunk.section,
    }


class _Clock:
    """Seconds per stage, written into ``timings``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + now - self._t, 3)
        self._t = now


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders expanded to the PDFs below them (sorted)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(
                sorted(q for q in p.rglob("*") if q.suffix.lower() == ".pdf" and q.is_file())
            )
        else:
            out.append(p)
    return out


def _batches(items: list[Chunk], size: int) -> Iterator[list[Chunk]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Ingestor:
    """Adds, removes and re-indexes reports. Construct with the services it writes to."""

    def __init__(self, settings: Settings, catalog: Catalog, store: VectorStore) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store

    # -- public operations (each takes the writer lock) -------------------------------------------
    def add(
        self,
        paths: Iterable[Path],
        *,
        progress: Progress | None = None,
        names: dict[Path, str] | None = None,
        force: bool = False,
    ) -> list[IngestResult]:
        """Index files/folders. ``names`` maps uploaded files to their original names."""
        files = expand_paths(paths)
        with self._writer():
            return [
                self._add_one(f, progress=progress, name=(names or {}).get(f), force=force)
                for f in files
            ]

    def remove(self, doc_id: str) -> Document:
        """Delete a document and every trace of it: catalogue rows, vectors, its uploaded copy."""
        with self._writer():
            doc = self.catalog.find_document(doc_id)
            self.catalog.remove_document(doc.doc_id)
            self._purge_tombstones()
            if doc.stored_path and Path(doc.stored_path).is_relative_to(self.settings.uploads_dir):
                Path(doc.stored_path).unlink(missing_ok=True)
            self.store.mark_generation(self.catalog.generation())
            return doc

    def reindex(
        self, doc_ids: Iterable[str] | None = None, *, progress: Progress | None = None
    ) -> list[IngestResult]:
        """Rebuild documents from their files (all when ``doc_ids`` is None; each id or unique id
        prefix must name one document). The current version of each stays searchable until its
        new build is complete."""
        with self._writer():
            if doc_ids is None:
                docs = self.catalog.documents(status=None)
            else:
                docs = [self.catalog.find_document(d) for d in dict.fromkeys(doc_ids)]
            results = []
            for doc in docs:
                path = Path(doc.stored_path or doc.source_path)
                if not path.is_file():
                    results.append(
                        IngestResult(
                            file=doc.file_name,
                            status="failed",
                            doc_id=doc.doc_id,
                            error=f"{doc.file_name}: the original file {path} is gone; add it "
                            "again.",
                            error_kind="missing",
                        )
                    )
                    continue
                results.append(
                    self._add_one(
                        path,
                        progress=progress,
                        name=doc.file_name,
                        force=True,
                        source_key=doc.source_path,
                    )
                )
            return results

    # -- steps -----------------------------------------------------------------------------
    @contextmanager
    def _writer(self) -> Iterator[None]:
        """Hold the writer lock; on entry, catch up with other writers and repair a killed run."""
        with WriterLock(self.settings.data_dir, timeout=self.settings.lock_timeout_s):
            # Another process may have written since this store was opened: writing through a
            # stale Chroma client would drop that process's vectors from the index.
            self.store.reopen()
            self.store.mark_generation(self.catalog.generation())
            self._recover()
            yield

    def _recover(self) -> None:
        """Finish what a killed or failed run left (we hold the writer lock, so every recorded
        attempt is over): purge vectors of removed documents and of attempts, mark documents
        that never completed failed. A complete document keeps its visible build."""
        self._purge_tombstones()
        for doc_id in self.catalog.pending("indexing"):
            doc = self.catalog.document(doc_id)
            if doc is not None and doc.status != "complete":
                log.info("cleaning up %s left unfinished by an earlier run", doc.file_name)
                self.catalog.fail_document(doc_id, INTERRUPTED.format(file=doc.file_name))
            self._settle_vectors(doc_id)

    def _settle_vectors(self, doc_id: str) -> bool:
        """Delete the vectors of ``doc_id`` that are not its visible chunks (all of them when it
        is not complete), then close its attempt. False when the store refused (the next
        writer's recovery retries)."""
        try:
            doc = self.catalog.document(doc_id)
            keep = self.catalog.chunk_ids(doc_id) if doc and doc.status == "complete" else set()
            stale = [i for i in self.store.ids_of(doc_id) if i not in keep]
            if stale:
                self.store.delete_ids(stale)
        except Exception as err:  # noqa: BLE001 - Chroma's errors have no common base
            log.warning("could not purge the stale vectors of %s (retried later): %s", doc_id, err)
            return False
        self.catalog.settle("indexing", doc_id)
        return True

    def _purge_tombstones(self) -> None:
        for doc_id in self.catalog.pending("tombstones"):
            self.store.delete_document(doc_id)
            self.catalog.settle("tombstones", doc_id)

    def _add_one(
        self,
        path: Path,
        *,
        progress: Progress | None,
        name: str | None,
        force: bool,
        source_key: str | None = None,
    ) -> IngestResult:
        """Index one file. ``source_key`` names where it came from (its path, or "upload:<name>")
        so that a new version of the same report from the same source replaces the old one."""
        started = time.monotonic()
        display = name or path.name
        result = IngestResult(file=display, status="failed")

        def report(stage: str, done: int, total: int) -> None:
            if progress:
                progress(display, stage, done, total)

        try:
            check_file(path, max_bytes=None)
            sha = sha256_file(path)
            doc_id = sha[:16]
            result.doc_id = doc_id
            existing = self.catalog.document(doc_id)
            if (
                existing
                and existing.status == "complete"
                and existing.embedder == self.store.embedder.name
                and not force
            ):
                result.status = "unchanged"
                self._fill(result, existing)
                report("done", 1, 1)
                return result
            source_key = source_key or (f"upload:{display}" if name else str(path.resolve()))
            doc = self._new_document(path, display, source_key, sha, existing)
            visible = self.catalog.begin_document(doc)
            try:
                self._index(path, doc, report, result, build=visible)
            except BaseException as err:
                msg = str(err) if isinstance(err, AnnalystError) else f"{display}: {err!r}"
                result.replaced, result.replaced_files, result.kept_alongside = [], [], []
                self.catalog.fail_document(doc_id, msg)  # a complete old version stays
                self._settle_vectors(doc_id)
                raise
            result.status = "indexed"
            self._fill(result, doc)
        except PdfError as err:  # reported to the caller in the result, not logged as a fault
            result.error, result.error_kind = str(err), err.kind
            result.error_code, result.error_fields = err.code, err.fields
            log.info("%s", err)
        except StoreUnavailable:
            raise  # the store itself is broken (disk full, damaged catalogue): stop the batch
        except AnnalystError as err:
            result.error, result.error_kind = str(err), "error"
            result.error_code, result.error_fields = err.code, err.fields
            log.info("%s", err)
        except Exception as err:
            if is_disk_full(err):  # Chroma's own errors: stop the batch with one line
                raise DiskFull(str(self.settings.data_dir)) from err
            log.exception("ingesting %s failed", display)
            result.error, result.error_kind = f"{display}: unexpected error {err!r}", "internal"
        result.seconds = round(time.monotonic() - started, 2)
        if result.status == "failed":
            report("failed", 1, 1)
        return result

    def _new_document(
        self, path: Path, display: str, source_key: str, sha: str, existing: Document | None
    ) -> Document:
        doc = Document(
            doc_id=sha[:16],
            file_name=display,
            source_path=source_key,
            stored_path=str(path.resolve()),
            sha256=sha,
            size_bytes=path.stat().st_size,
            embedder=self.store.embedder.name,
            added_at=existing.added_at if existing else "",
        )
        if existing and existing.meta_edited:
            doc.company, doc.fiscal_year = existing.company, existing.fiscal_year
            doc.report_type, doc.aliases = existing.report_type, existing.aliases
            doc.meta_edited = True
        return doc

    def _same_source(self, doc: Document, result: IngestResult) -> list[str]:
        """Earlier documents from ``doc``'s source that it replaces: the same report (company,
        fiscal year, report type) or one that never completed. Other reports from the same source
        (a different company's ``annual_report.pdf``) are kept and listed in ``result``."""
        replaced = []
        for old in self.catalog.documents(status=None):
            if old.source_path != doc.source_path or old.doc_id == doc.doc_id:
                continue
            if old.status != "complete" or _same_report(old, doc):
                replaced.append(old.doc_id)
                result.replaced_files.append(_describe(old))
            else:
                result.kept_alongside.append(_describe(old))
        result.replaced = replaced
        return replaced

    def _index(
        self,
        path: Path,
        doc: Document,
        report: Progress,
        result: IngestResult,
        *,
        build: bool,
    ) -> None:
        """Index ``doc`` from ``path``; ``build``: a complete version is visible, so the new
        vectors get ids of their own (see the module docstring)."""
        clock = _Clock(result.timings)
        limits = Limits.of(self.settings)
        child = ChildRun()
        raw_pages = self._parse(path, doc, report, result, limits, child)
        by_ocr = {p.number for p in raw_pages if p.ocr}
        clock.lap("parse")

        language = self._detect_meta(doc, raw_pages)
        replaced = self._same_source(doc, result)
        pages = clean_pages(raw_pages, language)
        clock.lap("clean")
        chunks = self._chunk(doc, pages, language, report, build=build)
        clock.lap("chunk")

        texts = [c.index_text(doc) for c in chunks]  # keyword index: with label and section
        self._embed(doc, chunks, texts, report)
        clock.lap("embed")

        facts, checks = self._facts(path, doc, raw_pages, language, report, limits, child)
        clock.lap("facts")
        # OCR'd pages are left out: a misread number would pass as a printed one
        tables = extract_tables_in_child(
            [p for p in raw_pages if not p.ocr], limits, language=language, pdf_path=path, run=child
        )
        result.parse_peak_mb = round(child.peak_mb, 1)
        clock.lap("tables")
        tokens = [index_tokens(t) for t in texts]
        report("write", 0, 1)
        self.catalog.complete_document(
            doc,
            pages=[(p.number, p.text, p.number in by_ocr) for p in pages],
            chunks=chunks,
            chunk_tokens=tokens,
            facts=facts,
            checks=checks,
            replaces=replaced,
            tables=tables,
            table_tokens=row_tokens(tables),
        )
        self.store.mark_generation(self.catalog.generation())
        self._settle_vectors(doc.doc_id)  # the old build's vectors
        self._purge_tombstones()  # the replaced documents' vectors
        clock.lap("write")
        report("done", 1, 1)

    def _parse(
        self,
        path: Path,
        doc: Document,
        report: Progress,
        result: IngestResult,
        limits: Limits,
        child: ChildRun,
    ) -> list[Page]:
        """Read the PDF's pages in a child process; record page counts on ``doc`` and ``result``."""
        raw_pages = read_pages_in_child(
            path,
            limits,
            max_pages=self.settings.max_pages,
            progress=lambda n: report("parse", n, 0) if n % 25 == 0 else None,
            run=child,
        )
        report("parse", len(raw_pages), len(raw_pages))
        doc.pages = len(raw_pages)
        doc.pages_with_text = sum(1 for p in raw_pages if len(p.text.strip()) >= MIN_PAGE_CHARS)
        result.ocr_pages = child.pages_by_ocr
        return raw_pages

    def _detect_meta(self, doc: Document, raw_pages: list[Page]) -> str:
        """Set ``doc``'s language and detected metadata (unless edited by hand); the language."""
        language = detect_language(raw_pages)
        meta = detect(raw_pages, Path(doc.file_name), language)  # the name as given, not the copy
        doc.language = language
        if not doc.meta_edited:
            doc.company, doc.fiscal_year = meta.company, meta.fiscal_year
            doc.report_type, doc.aliases = meta.report_type, meta.aliases
        doc.ticker = meta.ticker
        return language

    def _chunk(
        self, doc: Document, pages: list[Page], language: str, report: Progress, *, build: bool
    ) -> list[Chunk]:
        """The cleaned pages' chunks; with ``build``, ids tagged with the new generation."""
        chunks = chunk_pages(pages, doc.doc_id, language=language, target=self.settings.chunk_chars)
        if build:
            tag = f"~r{self.catalog.generation()}"
            for c in chunks:
                c.chunk_id += tag
        report("chunk", len(chunks), len(chunks))
        return chunks

    def _facts(
        self,
        path: Path,
        doc: Document,
        raw_pages: list[Page],
        language: str,
        report: Progress,
        limits: Limits,
        child: ChildRun,
    ) -> tuple[list[Fact], list[StatementCheck]]:
        """Extract the statements' facts and checks in a child process."""
        report("facts", 0, 1)
        facts, checks = extract_facts_in_child(
            raw_pages,
            limits,
            doc_id=doc.doc_id,
            company=doc.company,
            language=language,
            fiscal_year=doc.fiscal_year,
            pdf_path=path,
            run=child,
        )
        report("facts", 1, 1)
        return facts, checks

    def _embed(
        self, doc: Document, chunks: list[Chunk], texts: list[str], report: Progress
    ) -> None:
        """Embed the chunks and add their vectors (invisible until the document completes)."""
        if not self.settings.embed_chunk_context:
            vector_texts = [c.text for c in chunks]  # better hit@5 (setting's description)
        else:
            vector_texts = texts
        # Similar lengths in one batch waste less padding; Chroma does not care about the order.
        order = sorted(range(len(chunks)), key=lambda i: len(vector_texts[i]))
        done = 0
        for start in range(0, len(order), EMBED_BATCH):
            batch = order[start : start + EMBED_BATCH]
            vectors = self.store.embedder.embed_documents([vector_texts[i] for i in batch])
            self.store.add(
                [chunks[i].chunk_id for i in batch],
                vectors,
                [_vector_metadata(doc, chunks[i]) for i in batch],
            )
            done += len(batch)
            report("embed", done, len(chunks))

    @staticmethod
    def _fill(result: IngestResult, doc: Document) -> None:
        for name, value in doc.summary().items():
            setattr(result, name, value)


def _same_report(a: Document, b: Document) -> bool:
    """Are two documents versions of one report? Same company, fiscal year and report type,
    all three known."""
    return (
        bool(a.company and a.fiscal_year and b.company and b.fiscal_year)
        and company_key(a.company) == company_key(b.company)
        and (a.fiscal_year, a.report_type) == (b.fiscal_year, b.report_type)
    )


def _describe(doc: Document) -> str:
    """'annual_report.pdf (Acme Corp 2022 10-K, 3f2a…)' for messages about replacement."""
    return f"{doc.file_name} ({doc.label}, {doc.doc_id[:8]})"


def store_upload(settings: Settings, data: bytes, name: str) -> Path:
    """Save uploaded bytes under the uploads folder, content-addressed (atomic write). The stored
    name is the content hash and ``.pdf`` (the uploaded name, any length or characters, is kept
    only as the display name); a full disk or an unwritable folder is a one-line error."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    target = settings.uploads_dir / f"{digest}.pdf"
    try:
        settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp = target.with_suffix(f".part{os.getpid()}")
            try:
                tmp.write_bytes(data)
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
    except OSError as err:
        if is_disk_full(err):
            raise DiskFull(str(settings.uploads_dir)) from err
        raise StoreUnavailable(
            f"{name}: the upload cannot be saved in {settings.uploads_dir} ({err.strerror}). "
            "Check that the data directory is writable (setting ANNALYST_DATA_DIR)."
        ) from err
    return target


def stored_reports(
    settings: Settings, catalog: Catalog, wanted: Iterable[str]
) -> Iterator[tuple[Document, Path, list[Page]] | tuple[Document, str]]:
    """Complete documents (those whose id starts with one of ``wanted``; all when empty) with
    their stored PDF and its pages read by a child process (no OCR: OCR'd text gives no facts or
    tables), under the writer lock — for re-reading facts or tables without re-embedding. Yields
    ``(doc, error)`` for a report whose file is gone or cannot be read."""
    wanted = list(wanted)
    limits = dataclasses.replace(Limits.of(settings), ocr="off")
    with WriterLock(settings.data_dir, timeout=settings.lock_timeout_s):
        for doc in catalog.documents(status="complete"):
            if wanted and not any(doc.doc_id.startswith(w) for w in wanted):
                continue
            path = Path(doc.stored_path or doc.source_path)
            if not path.is_file():
                yield doc, f"{doc.file_name}: the file {path} is gone"
                continue
            try:
                yield doc, path, read_pages_in_child(path, limits, max_pages=settings.max_pages)
            except PdfError as err:
                yield doc, str(err)
