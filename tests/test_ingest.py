"""The ingestion pipeline end to end: real PDFs, real MiniLM, a real Chroma and catalogue in tmp.

In-process tests share one store (module fixture) holding three small reports: an 8-K, an
RC4-encrypted 10-Q and a three-page excerpt of a Chinese 年报. The command-line tests (kill -9,
two writers) run ``python -m ingestion`` in subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pypdf
import pytest

from backend.app.services import Services, build_services
from backend.settings import PROJECT_ROOT, Settings
from backend.store.catalog import Catalog
from backend.store.keywords import match_query
from backend.store.vectors import VectorStore
from ingestion.lock import WriterLock
from ingestion.pdf import read_pages
from ingestion.pipeline import store_upload
from tests.conftest import (
    AMCOR_8K,
    BESTBUY_10Q,
    CORPUS,
    ERC_WEIS,
    FOOTLOCKER_8K,
    HUAJIN_2019,
    MODELS,
    PEPSICO_2022,
)

pytestmark = pytest.mark.usefixtures("corpus")

TABLES = ("documents", "pages", "chunks", "chunks_fts", "facts", "statement_checks")


def doc_id_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def excerpt(src: Path, pages: list[int], out: Path) -> Path:
    """A real PDF made of some pages of a corpus report (1-based page numbers)."""
    reader = pypdf.PdfReader(str(src))
    writer = pypdf.PdfWriter()
    for n in pages:
        writer.add_page(reader.pages[n - 1])
    with open(out, "wb") as f:
        writer.write(f)
    return out


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, models_path=MODELS, corpus_dir=CORPUS, **overrides)


def vector_ids(services: Services, doc_id: str) -> list[str]:
    return services.store.collection.get(where={"doc_id": doc_id}, include=[])["ids"]


def rows(catalog: Catalog, doc_id: str) -> dict[str, int]:
    with catalog.connect() as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t} WHERE doc_id=?", (doc_id,)).fetchone()[0]
            for t in TABLES
        }


def assert_consistent(services: Services) -> None:
    """Every complete document has all its chunks, keyword rows and vectors; nothing else is
    left half-written."""
    catalog = services.catalog
    services.store.refresh(catalog.generation())
    for doc in catalog.documents(status=None):
        assert doc.status in ("complete", "failed"), doc
        n = rows(catalog, doc.doc_id)
        if doc.status == "complete":
            assert n["chunks"] == n["chunks_fts"] == doc.chunks > 0
            assert n["pages"] == doc.pages
            assert sorted(vector_ids(services, doc.doc_id)) == sorted(
                c for (c,) in _chunk_ids(catalog, doc.doc_id)
            )
        else:
            assert n["chunks"] == 0
            assert vector_ids(services, doc.doc_id) == []
    assert catalog.pending("tombstones") == []


def _chunk_ids(catalog: Catalog, doc_id: str) -> list[tuple[str]]:
    with catalog.connect() as conn:
        return conn.execute("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,)).fetchall()


# -- in-process pipeline ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def zh_excerpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # title page, 第三节 (p.8, polyethylene wrapped across lines), first page of 第十二节 (p.44)
    return excerpt(HUAJIN_2019, [1, 8, 44], tmp_path_factory.mktemp("zh") / "excerpt.pdf")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, zh_excerpt: Path) -> Services:
    services = build_services(make_settings(tmp_path_factory.mktemp("store") / "data"))
    results = services.ingestor.add([FOOTLOCKER_8K, BESTBUY_10Q, zh_excerpt])
    assert [r.status for r in results] == ["indexed"] * 3, [r.error for r in results]
    return services


def test_documents_are_complete_with_metadata(indexed: Services, zh_excerpt: Path) -> None:
    docs = {d.doc_id: d for d in indexed.catalog.documents()}
    foot = docs[doc_id_of(FOOTLOCKER_8K)]
    assert (foot.company, foot.fiscal_year, foot.report_type) == ("Foot Locker, Inc.", 2022, "8-K")
    assert foot.pages == 4 and foot.language == "en" and foot.embedder == "minilm"
    best = docs[doc_id_of(BESTBUY_10Q)]  # RC4-encrypted with an empty password
    assert (best.report_type, best.fiscal_year, best.pages) == ("10-Q", 2024, 30)
    assert best.company.lower().startswith("best buy")
    zh = docs[doc_id_of(zh_excerpt)]
    assert (zh.company, zh.fiscal_year, zh.language) == ("北方华锦化学工业股份有限公司", 2019, "zh")
    assert zh.pages == 3
    assert_consistent(indexed)


def test_chunks_carry_pdf_page_and_metadata(indexed: Services) -> None:
    doc_id = doc_id_of(FOOTLOCKER_8K)
    pages = {p.number: p.text for p in read_pages(FOOTLOCKER_8K)}
    chunks = indexed.catalog.chunks_by_id([c for (c,) in _chunk_ids(indexed.catalog, doc_id)])
    assert {c.page for c in chunks.values()} == {1, 2, 3, 4}
    for chunk in chunks.values():
        first_words = chunk.text.split("\n")[0][:30]
        assert first_words in pages[chunk.page]
        assert chunk.language == "en"
    vote = [c for c in chunks.values() if "Item 5.07" in c.text]
    assert vote and all(c.page == 2 for c in vote)
    assert vote[0].section.startswith("Item 5.07")
    meta = indexed.store.collection.get(ids=[vote[0].chunk_id], include=["metadatas"])
    assert meta["metadatas"][0] == {
        "doc_id": doc_id, "page": 2, "language": "en", "fiscal_year": 2022,
        "file": FOOTLOCKER_8K.name, "company": "Foot Locker, Inc.", "report_type": "8-K",
        "section": vote[0].section,
    }  # fmt: skip


def test_vector_and_keyword_search_find_the_page(indexed: Services, zh_excerpt: Path) -> None:
    ids = indexed.catalog.complete_ids()
    query = indexed.embedder.embed_query("How did Foot Locker shareholders vote on the proposals?")
    hits = indexed.store.search(query, 3, ids)
    found = indexed.catalog.chunks_by_id([h for h, _ in hits])
    assert any(c.doc_id == doc_id_of(FOOTLOCKER_8K) and c.page == 2 for c in found.values())
    # Chinese keyword search: 聚乙烯 was split across two lines on the original page 8
    hits = indexed.catalog.keyword_search(match_query("聚乙烯"), None, 5)
    found = indexed.catalog.chunks_by_id([h for h, _ in hits])
    assert any(c.doc_id == doc_id_of(zh_excerpt) and c.page == 2 for c in found.values())


def test_re_adding_an_unchanged_file_is_a_no_op(indexed: Services) -> None:
    generation = indexed.catalog.generation()
    vectors = indexed.store.count()
    before = indexed.catalog.document(doc_id_of(FOOTLOCKER_8K))
    [result] = indexed.ingestor.add([FOOTLOCKER_8K])
    assert result.status == "unchanged" and result.chunks == before.chunks
    assert indexed.catalog.generation() == generation
    assert indexed.store.count() == vectors
    assert indexed.catalog.document(before.doc_id).updated_at == before.updated_at


def test_reindex_rebuilds_from_the_file(indexed: Services) -> None:
    doc_id = doc_id_of(FOOTLOCKER_8K)
    before = indexed.catalog.document(doc_id)
    generation = indexed.catalog.generation()
    [result] = indexed.ingestor.reindex([doc_id[:6]])
    assert result.status == "indexed" and result.doc_id == doc_id
    after = indexed.catalog.document(doc_id)
    assert after.status == "complete" and after.chunks == before.chunks
    assert after.added_at == before.added_at and after.updated_at >= before.updated_at
    assert after.source_path == before.source_path == str(FOOTLOCKER_8K.resolve())
    assert indexed.catalog.generation() > generation
    assert_consistent(indexed)


def test_changed_file_replaces_its_old_version(indexed: Services, tmp_path: Path) -> None:
    path = tmp_path / "board_update.pdf"
    path.write_bytes(AMCOR_8K.read_bytes())
    [first] = indexed.ingestor.add([path])
    assert first.status == "indexed" and first.pages == 9
    excerpt(AMCOR_8K, [1, 2, 3], path)  # the file changes in place
    [second] = indexed.ingestor.add([path])
    assert second.status == "indexed" and second.pages == 3
    assert second.replaced == [first.doc_id]
    assert indexed.catalog.document(first.doc_id) is None
    assert rows(indexed.catalog, first.doc_id) == dict.fromkeys(TABLES, 0)
    assert vector_ids(indexed, first.doc_id) == []
    assert_consistent(indexed)


def test_remove_deletes_every_trace(indexed: Services) -> None:
    data = excerpt(FOOTLOCKER_8K, [1, 2], indexed.settings.data_dir / "two.pdf").read_bytes()
    upload = store_upload(indexed.settings, data, "Foot Locker vote.pdf")
    [result] = indexed.ingestor.add([upload], names={upload: "Foot Locker vote.pdf"})
    assert result.status == "indexed" and result.file == "Foot Locker vote.pdf"
    assert vector_ids(indexed, result.doc_id)
    removed = indexed.ingestor.remove(result.doc_id[:8])  # a unique prefix, as `list` shows
    assert removed.doc_id == result.doc_id
    assert rows(indexed.catalog, result.doc_id) == dict.fromkeys(TABLES, 0)
    assert vector_ids(indexed, result.doc_id) == []
    assert not upload.exists()
    assert indexed.catalog.pending("tombstones") == []
    assert_consistent(indexed)


def test_bad_files_fail_clearly_and_lose_nothing(indexed: Services, tmp_path: Path) -> None:
    good = excerpt(FOOTLOCKER_8K, [3, 4], tmp_path / "good.pdf")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    text = tmp_path / "minutes.pdf"
    text.write_text("minutes of the meeting\n")
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(AMCOR_8K.read_bytes()[:5000])
    locked = tmp_path / "locked.pdf"
    writer = pypdf.PdfWriter(clone_from=str(good))
    writer.encrypt("owner-only-knows", algorithm="AES-256")
    with open(locked, "wb") as f:
        writer.write(f)
    results = indexed.ingestor.add([empty, text, good, truncated, locked])
    kinds = {r.file: (r.status, r.error_kind) for r in results}
    assert kinds == {
        "empty.pdf": ("failed", "empty"),
        "minutes.pdf": ("failed", "not_pdf"),
        "good.pdf": ("indexed", ""),
        "truncated.pdf": ("failed", "corrupt"),
        "locked.pdf": ("failed", "encrypted"),
    }
    for r in results:
        if r.status == "failed":
            assert r.error.startswith(r.file + ": ")
    assert indexed.catalog.document(doc_id_of(good)).status == "complete"
    assert_consistent(indexed)


@pytest.mark.slow
def test_500_page_report(tmp_path: Path) -> None:
    """PepsiCo's 503-page 10-K goes through (peak memory is measured by bench/ingest.py)."""
    services = build_services(make_settings(tmp_path / "data"))
    [result] = services.ingestor.add([PEPSICO_2022])
    assert result.status == "indexed", result.error
    assert result.pages == 503 and result.company == "PepsiCo, Inc." and result.fiscal_year == 2022
    assert result.chunks > 1000
    pages = {c.page for c in services.catalog.chunks_by_id(
        [c for c, in _chunk_ids(services.catalog, result.doc_id)]).values()}  # fmt: skip
    assert max(pages) > 490
    assert_consistent(services)


# -- command line: exit codes, kill -9, two writers -----------------------------------------------
def cli(data_dir: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ANNALYST_DATA_DIR": str(data_dir),
        "ANNALYST_MODELS_PATH": str(MODELS),
        "ANNALYST_CORPUS_DIR": str(CORPUS),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ingestion", *args],
        cwd=PROJECT_ROOT,
        env=env,
        text=True,
        stdout=popen.pop("stdout", subprocess.PIPE),
        stderr=popen.pop("stderr", subprocess.PIPE),
        **popen,
    )


def run_cli(data_dir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = cli(data_dir, *args)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def stop_when(proc: subprocess.Popen[str], condition, timeout: float, what: str) -> None:
    """Run ``proc`` in short steps (SIGCONT, 0.3 s, SIGSTOP) and check ``condition`` while it is
    stopped, until it holds: a state that lasts a few seconds is never missed, however slowly the
    checks run on a busy machine. ``proc`` is left stopped (or killed on a timeout)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            proc.send_signal(signal.SIGSTOP)
            assert proc.poll() is None, f"the process finished before {what}"
            if _check_while_stopped(proc, condition):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.3)
    except BaseException:
        proc.kill()
        raise


def _check_while_stopped(proc: subprocess.Popen[str], condition, wait_s: float = 5.0) -> bool:
    """``condition()`` while ``proc`` is stopped. Stopped in the middle of a write, ``proc`` may
    hold a database lock the check waits on (Chroma's SQLite waits without end): then ``proc``
    goes on until the check returns, and this state counts as not reached (it has moved on)."""
    held, result = _beside(proc, condition, wait_s)
    return not held and bool(result)


def check_beside(proc: subprocess.Popen[str], condition, wait_s: float = 5.0) -> bool:
    """``condition()`` beside a stopped ``proc`` that may hold a database lock the check waits on:
    then ``proc`` goes on (SIGCONT) until the check returns, and the check's result counts."""
    return bool(_beside(proc, condition, wait_s)[1])


def _beside(proc: subprocess.Popen[str], condition, wait_s: float) -> tuple[bool, bool]:
    """(whether ``proc`` had to go on for the check to return, ``condition()``)."""
    result: list[bool] = []
    check = threading.Thread(target=lambda: result.append(bool(condition())), daemon=True)
    check.start()
    check.join(wait_s)
    held = check.is_alive()
    if held:
        proc.send_signal(signal.SIGCONT)
        check.join()
    return held, bool(result and result[0])


def test_cli_kill_9_mid_embedding_then_rerun(tmp_path: Path) -> None:
    data = tmp_path / "data"
    files = [str(FOOTLOCKER_8K), str(ERC_WEIS), str(AMCOR_8K)]
    weis = doc_id_of(ERC_WEIS)
    proc = cli(data, "add", *files, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    services = build_services(make_settings(data))

    def weis_vectors_written() -> bool:
        doc = services.catalog.document(weis) if services.catalog.path.exists() else None
        if doc is None or doc.status != "indexing":
            return False
        services.store.refresh(-1)  # see the other process's writes
        return len(vector_ids(services, weis)) > 0

    stop_when(proc, weis_vectors_written, 300, "the SHA-1-named report's first vectors")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # after the kill: the finished 8-K is whole, the half-embedded report is invisible
    services.store.refresh(-2)
    catalog = services.catalog
    assert catalog.complete_ids() == [doc_id_of(FOOTLOCKER_8K)]
    killed = catalog.document(weis)  # its process is gone: it reads as interrupted at once
    assert killed.status == "failed" and "indexing was interrupted" in killed.error
    assert rows(catalog, weis)["chunks"] == 0
    orphans = services.store.collection.get(where={"doc_id": weis}, include=["embeddings"])
    assert orphans["ids"]  # vectors were written before the kill ...
    for vector in orphans["embeddings"][:3]:  # ... but search never returns them
        hits = services.store.search(vector, 10, catalog.complete_ids())
        assert hits and all(not h.startswith(weis) for h, _ in hits)
    assert catalog.keyword_search(match_query("Weis Markets"), None, 10) == []

    # the same command again finishes the job
    done = run_cli(data, "add", *files)
    assert done.returncode == 0, done.stderr
    assert "unchanged" in done.stdout and done.stdout.count("indexed ") == 2
    docs = {d.doc_id: d for d in catalog.documents(status=None)}
    assert {d.status for d in docs.values()} == {"complete"} and len(docs) == 3
    assert docs[weis].company == "Weis Markets, Inc."
    assert_consistent(services)


def test_cli_two_writers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bad = tmp_path / "notes.pdf"
    bad.write_text("not a pdf\n")
    # "the app" holds the writer lock
    with WriterLock(data, purpose="test: the app ingesting an upload"):
        busy = run_cli(data, "add", str(FOOTLOCKER_8K))
        assert busy.returncode == 2
        assert "Another ingestion is running" in busy.stderr
        assert f"pid {os.getpid()}" in busy.stderr and "the app ingesting" in busy.stderr
        # two more writers start at once and wait for the lock
        logs = [tmp_path / "c.err", tmp_path / "d.err"]
        waiting = [
            cli(data, "add", "--wait", "600", str(AMCOR_8K), str(bad), stderr=open(logs[0], "w")),
            cli(data, "add", "--wait", "600", str(FOOTLOCKER_8K), stderr=open(logs[1], "w")),
        ]
        wait_for(
            lambda: all("waiting up to 600 s" in log.read_text() for log in logs),
            300,
            "both writers to wait for the lock",
        )
        assert all(p.poll() is None for p in waiting)
    out = [p.communicate(timeout=600)[0] for p in waiting]
    assert [p.returncode for p in waiting] == [1, 0]  # the first batch had a bad file
    assert "FAILED    notes.pdf: this is not a PDF file" in out[0]
    services = build_services(make_settings(data))
    assert sorted(services.catalog.complete_ids()) == sorted(
        [doc_id_of(AMCOR_8K), doc_id_of(FOOTLOCKER_8K)]
    )
    assert_consistent(services)

    listed = run_cli(data, "list", "--json")
    assert listed.returncode == 0
    docs = json.loads(listed.stdout)
    assert {(d["file_name"], d["status"]) for d in docs} == {
        (AMCOR_8K.name, "complete"),
        (FOOTLOCKER_8K.name, "complete"),
    }
    gone = run_cli(data, "remove", doc_id_of(AMCOR_8K))
    assert gone.returncode == 0 and "removed" in gone.stdout
    assert services.catalog.complete_ids() == [doc_id_of(FOOTLOCKER_8K)]
    assert_consistent(services)
    missing = run_cli(data, "remove", "ffffffff")
    assert missing.returncode == 2 and "No indexed report has id" in missing.stderr


_OTHER_WRITER = """
import numpy as np
from backend.app.services import build_services
from backend.settings import Settings
from ingestion.lock import WriterLock

services = build_services(Settings())
vectors = np.random.default_rng(7).normal(size=(2000, services.embedder.dim)).astype("float32")
with WriterLock(services.settings.data_dir, purpose="another writer"):
    services.store.reopen()
    for start in range(0, 2000, 500):
        services.store.add(
            [f"other:1:{i}" for i in range(start, start + 500)],
            vectors[start : start + 500],
            [{"doc_id": "other", "page": 1, "language": "en", "fiscal_year": 0}] * 500,
        )
"""


def _random_vectors(store: VectorStore, doc_id: str, seed: int, n: int = 2000) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, store.embedder.dim)).astype("float32")
    for start in range(0, n, 500):
        store.add(
            [f"{doc_id}:1:{i}" for i in range(start, start + 500)],
            vectors[start : start + 500],
            [{"doc_id": doc_id, "page": 1, "language": "en", "fiscal_year": 0}] * 500,
        )
    return vectors


def test_writer_catches_up_with_another_process(tmp_path: Path) -> None:
    """The app has the store open when the CLI writes to it. chromadb 1.5.9 drops the CLI's
    vectors from the index if the app then writes through its stale client (measured), so the
    pipeline reopens the store when it takes the writer lock. Random vectors stand in for two
    large reports (the index is persisted after 1,000 additions)."""
    data = tmp_path / "data"
    app = build_services(make_settings(data))
    first = _random_vectors(app.store, "first", seed=6)  # the app indexed a report earlier
    env = {**os.environ, "ANNALYST_DATA_DIR": str(data), "ANNALYST_MODELS_PATH": str(MODELS)}
    subprocess.run([sys.executable, "-c", _OTHER_WRITER], cwd=PROJECT_ROOT, env=env, check=True)
    [result] = app.ingestor.add([FOOTLOCKER_8K])  # then the app ingests an upload
    assert result.status == "indexed"
    last = _random_vectors(app.store, "last", seed=8)
    app.store.reopen()  # read back what is on disk
    theirs = np.random.default_rng(7).normal(size=(2000, app.embedder.dim)).astype("float32")
    for i in (0, 999, 1999):
        assert app.store.search(theirs[i], 1, ["other"])[0][0] == f"other:1:{i}"
        assert app.store.search(first[i], 1, ["first"])[0][0] == f"first:1:{i}"
        assert app.store.search(last[i], 1, ["last"])[0][0] == f"last:1:{i}"
