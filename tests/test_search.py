"""Hybrid retrieval's fast paths against the plain queries they replace, and degrading to keyword
search when the vector store is broken — on a real index (real PDFs, MiniLM, Chroma in tmp).

The plain FTS5 query (``Catalog.keyword_search``) and Chroma's own metadata filter are the
references: the fast paths must return the same chunks in the same order.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from backend.app.services import Services, build_services
from backend.settings import Settings
from backend.store.keywords import KeywordIndex, match_query, match_terms
from tests.conftest import AMCOR_8K, CORPUS, FOOTLOCKER_8K, MODELS, REPORTS

pytestmark = pytest.mark.usefixtures("corpus")

QUESTIONS = [
    "How did Foot Locker shareholders vote on the proposals?",
    "Who was elected to the board of directors?",
    "What did Amcor announce about its dividend and share repurchase?",
    "total revenue net income cash flow",
    "independent registered public accounting firm ratification",
]


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, models_path=MODELS, corpus_dir=CORPUS, **overrides)


def copy_data_dir(indexed: Services, data: Path) -> None:
    """A consistent copy of a live data dir: the catalogue through SQLite's backup API (its WAL
    and shm files come and go while other connections open and close), the rest as files."""
    indexed.store.reopen()  # flush Chroma before copying its files
    src = indexed.settings.data_dir
    shutil.copytree(src, data, ignore=shutil.ignore_patterns("*.sqlite-wal", "*.sqlite-shm"))
    for db in src.glob("*.sqlite"):
        with sqlite3.connect(db) as source, sqlite3.connect(data / db.name) as target:
            source.backup(target)
        source.close()
        target.close()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Services:
    data = tmp_path_factory.mktemp("search") / "data"
    services = build_services(make_settings(data, chat_model="smollm2-135m"))
    files = [FOOTLOCKER_8K, AMCOR_8K, REPORTS / "financebench/AMCOR_2023Q4_EARNINGS.pdf"]
    results = services.ingestor.add([f for f in files if f.exists()])
    assert all(r.status == "indexed" for r in results), [r.error for r in results]
    return services


def _ids(hits: list[tuple[str, float]]) -> list[str]:
    return [cid for cid, _ in hits]


def _ties_sorted(hits: list[tuple[str, float]]) -> list[tuple[float, str]]:
    return sorted((-round(s, 5), cid) for cid, s in hits)


def _assert_same_ranking(
    got: list[tuple[str, float]], theirs: list[tuple[str, float]], tol: float = 2e-5
) -> None:
    """The same scores, rank by rank, within float32 rounding (HNSW's distances against numpy's
    dot products), and the same chunks in each run of tied scores (identical chunks tie)."""

    def runs(hits: list[tuple[str, float]]) -> list[set[str]]:
        out: list[tuple[float, set[str]]] = []
        for cid, score in sorted(hits, key=lambda h: -h[1]):
            if out and abs(out[-1][0] - score) < tol:
                out[-1][1].add(cid)
            else:
                out.append((score, {cid}))
        return [ids for _, ids in out]

    assert len(got) == len(theirs)
    ours, chroma = sorted(s for _, s in got), sorted(s for _, s in theirs)
    assert all(abs(a - b) < tol for a, b in zip(ours, chroma, strict=True)), (got, theirs)
    assert runs(got)[:-1] == runs(theirs)[:-1]  # the last run may be cut at k differently
    assert runs(got)[-1] & runs(theirs)[-1]


@pytest.mark.parametrize("threads", [1, 3])
def test_keyword_index_ranks_as_the_plain_fts5_query(indexed: Services, threads: int) -> None:
    catalog = indexed.catalog
    docs = catalog.complete_ids()
    index = KeywordIndex(catalog, threads=threads)
    index.SPLIT_ROWS = 0  # split even this small index over the threads
    generation = catalog.generation()
    for question in QUESTIONS:
        terms = match_terms(question)
        plain_all = catalog.keyword_search(match_query(question), None, 10)
        assert plain_all, question
        got = index.search(terms, docs, 10, generation)
        assert _ids(got) == _ids(plain_all), question
        assert [round(s, 9) for _, s in got] == [round(s, 9) for _, s in plain_all]
        for doc in docs:
            plain_one = catalog.keyword_search(match_query(question), [doc], 10)
            assert _ids(index.search(terms, [doc], 10, generation)) == _ids(plain_one)


def test_kept_term_scores_add_up_to_the_plain_ranking(indexed: Services) -> None:
    """Over many rows, a search whose terms were all seen adds up their kept scores: the same
    chunks, order and scores as the plain FTS5 query."""
    catalog = indexed.catalog
    docs = catalog.complete_ids()
    index = KeywordIndex(catalog)
    index.CACHE_ROWS = 0  # this small index counts as large
    generation = catalog.generation()
    for question in QUESTIONS:
        terms = match_terms(question)
        if index.terms.lookup(terms, generation) is None:  # not all seen: fetched meanwhile
            index.terms.wait(60)
        assert index.terms.lookup(terms, generation) is not None
        plain = catalog.keyword_search(match_query(question), None, 10)
        got = index.search(terms, docs, 10, generation)
        assert _ties_sorted(got) == _ties_sorted(plain)
        assert [round(s, 9) for _, s in got] == [round(s, 9) for _, s in plain]
        for doc in docs:
            plain_one = catalog.keyword_search(match_query(question), [doc], 10)
            assert _ties_sorted(index.search(terms, [doc], 10, generation)) == _ties_sorted(
                plain_one
            )
    assert index.terms.lookup(terms, generation + 1) is None  # the catalogue moved: all dropped


# quoted terms that FTS5 cuts into several tokens (phrases) and words it stems
PHRASED = [
    "Form 8-K current report: year-end results, R&D and non-GAAP earnings",
    "votes voting voted shareholders' 2023 dividends repurchases",
]


@pytest.mark.parametrize(
    ("min_rows", "max_bytes"),
    [(1, 64_000_000), (10**9, 64_000_000), (1, 30_000)],
    ids=["all-held", "all-read-when-asked", "budget-cut"],
)
def test_in_memory_index_scores_as_fts5(indexed: Services, min_rows: int, max_bytes: int) -> None:
    """The in-memory copy of the keyword index gives FTS5's own BM25 to the last bit for every
    matching chunk: its formula, row count, average and row lengths, stemming and phrases are
    FTS5's, whether a term is held, read when asked, or past the memory budget."""
    catalog = indexed.catalog
    docs = catalog.complete_ids()
    index = KeywordIndex(catalog, index_mb=64)
    index.CACHE_ROWS = 0  # this small index counts as large
    index.postings.MIN_ROWS = min_rows
    index.postings.max_bytes = max_bytes
    index.postings.start()
    index.postings.wait(120)
    generation = catalog.generation()
    info = index.postings.info()
    assert info["generation"] == generation
    assert (info["terms_held"] > 0) == (min_rows == 1)
    rows, tokens, sizes = catalog.keyword_statistics()
    assert rows == len(sizes) > 0 and tokens == sum(n for _, n in sizes)
    for question in QUESTIONS + PHRASED:
        terms = match_terms(question)
        assert index.postings.scores(terms, generation) is not None  # the path under test
        plain = catalog.keyword_search(match_query(question), None, 100_000)
        got = index.search(terms, docs, 100_000, generation)
        assert plain and dict(got) == dict(plain), question  # same chunks, same floats
        top = index.search(terms, docs, 10, generation)
        assert _ties_sorted(top) == _ties_sorted(plain[:10])
        for doc in docs:  # within one report too
            plain_one = catalog.keyword_search(match_query(question), [doc], 100_000)
            assert dict(index.search(terms, [doc], 100_000, generation)) == dict(plain_one)
    assert index.postings.scores(terms, generation + 1) is None  # not another generation's


def test_keyword_index_follows_the_catalogue(indexed: Services, tmp_path: Path) -> None:
    """A removed report disappears from keyword results once the generation moves; the
    in-memory copy of the index is rebuilt for the new generation."""
    data = tmp_path / "data"
    copy_data_dir(indexed, data)
    services = build_services(make_settings(data))
    foot = next(d for d in services.catalog.documents() if "Foot Locker" in d.company)
    retriever = services.retriever
    retriever.keywords.CACHE_ROWS = 0  # every search over all reports uses the copy
    postings = retriever.keywords.postings
    retriever.warm_up()
    postings.wait(120)
    before = retriever.search(QUESTIONS[0], k=5, mode="keyword")
    assert any(p.doc_id == foot.doc_id for p in before)
    services.catalog.remove_document(foot.doc_id)
    after = retriever.search(QUESTIONS[0], k=5, mode="keyword")  # starts the rebuild
    assert after and all(p.doc_id != foot.doc_id for p in after)
    postings.wait(120)
    generation = services.catalog.generation()
    assert postings.info()["generation"] == generation
    terms = match_terms(QUESTIONS[0])
    plain = services.catalog.keyword_search(match_query(QUESTIONS[0]), None, 100_000)
    got = retriever.keywords.search(terms, services.catalog.complete_ids(), 100_000, generation)
    assert dict(got) == dict(plain)


def test_vector_copy_ranks_as_chromas_filter(indexed: Services) -> None:
    store, embedder = indexed.store, indexed.embedder
    for doc in indexed.catalog.complete_ids():
        for question in QUESTIONS:
            vector = embedder.embed_query(question)
            chroma = store.collection.query(
                query_embeddings=[vector],
                n_results=8,
                where={"doc_id": doc},
                include=["distances"],
            )
            got = store.search(vector, 8, [doc])  # exact, from the in-memory copy
            theirs = list(
                zip(chroma["ids"][0], [1 - d for d in chroma["distances"][0]], strict=True)
            )
            _assert_same_ranking(got, theirs)


def test_vectors_of_an_incomplete_document_are_never_returned(
    indexed: Services, tmp_path: Path
) -> None:
    """A killed ingestion leaves vectors of a document the catalogue does not list as complete:
    unscoped search (HNSW, then dropping other documents' neighbours) must skip them even when
    they are all the nearest ones."""
    data = tmp_path / "data"
    copy_data_dir(indexed, data)
    services = build_services(make_settings(data))
    store = services.store
    ghost = store.collection.get(
        where={"doc_id": services.catalog.complete_ids()[0]}, include=["embeddings"]
    )
    n = len(ghost["ids"])
    vectors = np.asarray(ghost["embeddings"], dtype=np.float32)
    store.add([f"ghost:1:{i}" for i in range(n)], vectors, [{"doc_id": "ghost"}] * n)
    visible = services.catalog.complete_ids()
    for vector in vectors[:3]:
        hits = store.search(vector, 10, visible)
        assert len(hits) == 10 and not any(cid.startswith("ghost") for cid in _ids(hits))
        assert (
            _ids(hits)
            == store.collection.query(
                query_embeddings=[vector], n_results=10, where={"doc_id": {"$in": visible}}
            )["ids"][0]
        )
    passages = services.retriever.search(QUESTIONS[0], k=10)
    assert passages and all(p.doc_id in visible for p in passages)


def _broken_copy(indexed: Services, tmp_path: Path, how: str) -> Services:
    data = tmp_path / "data"
    copy_data_dir(indexed, data)
    chroma = data / "chroma"
    if how == "corrupt":
        (chroma / "chroma.sqlite3").write_bytes(b"this is not a database " * 4096)
    else:
        shutil.rmtree(chroma)
    return build_services(make_settings(data, chat_model="smollm2-135m"))


@pytest.mark.parametrize("how", ["corrupt", "removed"])
def test_broken_vector_store_degrades_to_keyword_search(
    indexed: Services, tmp_path: Path, how: str
) -> None:
    services = _broken_copy(indexed, tmp_path, how)
    retriever = services.retriever
    retriever.warm_up()  # the app's start-up does not fail either
    timings: dict[str, float] = {}
    passages = retriever.search(QUESTIONS[0], k=5, timings=timings)
    assert passages, "keyword results must still come back"
    assert any("Item 5.07" in p.text or "vote" in p.text.lower() for p in passages)
    assert retriever.degraded.startswith("Vector search is unavailable")
    assert timings["vector_failed"] == 1.0
    faults = retriever.faults
    again = retriever.search(QUESTIONS[0], k=5)  # within RETRY_S: the store is not tried again
    assert [p.chunk_id for p in again] == [p.chunk_id for p in passages]
    assert retriever.faults == faults + 1
    with pytest.raises(Exception):  # noqa: B017 - vector-only search has nothing to fall back on
        retriever.search(QUESTIONS[0], k=5, mode="vector")


def test_degraded_search_reaches_the_answer(indexed: Services, tmp_path: Path) -> None:
    """The answer's record says that retrieval ran on keywords only (a field and a trace step);
    a question about nothing in the reports is refused without the model."""
    services = _broken_copy(indexed, tmp_path, "corrupt")
    answer = services.chat.ask("What does the report say about polar bears in Svalbard?")
    assert answer.refused
    assert answer.degraded.startswith("Vector search is unavailable")
    assert {"step": "degraded", "reason": answer.degraded} in answer.trace
    healthy = indexed.chat.ask("What does the report say about polar bears in Svalbard?")
    assert healthy.refused
    assert healthy.degraded == "" and all(s.get("step") != "degraded" for s in healthy.trace)
