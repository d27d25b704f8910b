"""Train/validation split by document: validation measures generalisation to unseen reports.

Documents are ordered by a seeded hash of their id and the first ``share`` of them (at least one
when there are two or more, never all) become validation documents, taken alternately from each
language so that both languages are validated when there are enough reports. An item goes to
validation when any of its documents is a validation document, so no training item ever shows a
validation report. Seed items (written from reports that are usually not indexed) go with the
indexed document of the same file name, else to training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from backend.records import Document


def choose_val_docs(docs: Sequence[Document], share: float, seed: int) -> set[str]:
    if len(docs) < 2 or share <= 0:
        return set()
    n = min(len(docs) - 1, max(1, round(share * len(docs))))

    def key(d: Document) -> str:
        return hashlib.sha256(f"{seed}:{d.doc_id}".encode()).hexdigest()

    by_lang: dict[str, list[Document]] = {}
    for d in sorted(docs, key=key):
        by_lang.setdefault(d.language, []).append(d)
    queues = [by_lang[lang] for lang in sorted(by_lang, key=lambda x: -len(by_lang[x]))]
    out: list[str] = []
    while len(out) < n:
        for q in queues:
            # keep at least one training document per language when the language has several
            if q and len(out) < n and (len(q) > 1 or len(queues) == 1 or len(docs) == 2):
                out.append(q.pop(0).doc_id)
        if not any(q and (len(q) > 1 or len(queues) == 1 or len(docs) == 2) for q in queues):
            break
    return set(out)


def split_of(
    doc_ids: Sequence[str], files: Sequence[str], val_docs: set[str], val_files: set[str]
) -> str:
    if any(d in val_docs for d in doc_ids) or any(f in val_files for f in files):
        return "val"
    return "train"
