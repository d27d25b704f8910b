"""Persistence: the SQLite catalogue (documents, pages, chunks + FTS5, facts, checks, jobs — every
SQL statement lives here), the facts query API, the Chroma vector store, the embedders, the
keyword tokeniser and index (``keywords``) with its in-memory copy (``postings``).

May import: the backend root and :mod:`backend.domain`.
"""
