"""Unanswerable items: questions about something the report does not contain → the refusal.

Two kinds, both checked against the whole report (every page's text), so that the refusal is
itself grounded:

- a topic from a small pool of realistic but industry-specific disclosures (aircraft fleet, oil
  reserves, Tier 1 capital, monthly active users, …) whose key terms appear on no page;
- a statement item in a year the report never mentions (no page prints that year, no fact has it).

The sources are what retrieval returns for the question, so the model learns to refuse even when
the passages look related.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from backend.answering.answer import REFUSAL_EN, REFUSAL_ZH
from ingestion.fewshot.context import DocContext
from ingestion.fewshot.items import Candidate
from ingestion.fewshot.templates import answer_candidate, item_name, possessive

TOPICS_FILE = Path(__file__).with_name("refusal_topics.toml")


@dataclass(frozen=True)
class Topic:
    en: str
    zh: str
    terms: tuple[str, ...]  # none of these may appear anywhere in the report (lower case)


def load_topics(path: Path = TOPICS_FILE) -> tuple[Topic, ...]:
    """The off-report topics of ``refusal_topics.toml`` (data, not code: add one there)."""
    with path.open("rb") as f:
        return tuple(Topic(t["en"], t["zh"], tuple(t["terms"])) for t in tomllib.load(f)["topic"])


_OLD_YEAR = {
    "en": "What was {cs} {i} in fiscal {y}?",
    "zh": "{c}{y}年的{i}是多少？",
}


class Refusals:
    def __init__(self, ctx: DocContext, seed: int) -> None:
        self.ctx = ctx
        self.seed = seed

    def items(self, n: int) -> Iterator[Candidate]:
        rng = random.Random(f"{self.seed}:{self.ctx.doc_id}:refusal")
        text = self.ctx.all_text_lower
        year = self.ctx.doc.fiscal_year or max(
            (f.fiscal_year for f in self.ctx.facts), default=2020
        )
        topics = [t for t in load_topics() if not any(term in text for term in t.terms)]
        rng.shuffle(topics)
        old_years = [y for y in range(year - 15, year - 6) if str(y) not in text]
        items = sorted({f.item for f in self.ctx.facts if f.item})
        rng.shuffle(items)
        plans: list[tuple[str, str, str]] = []  # (question, language, kind)
        for i, topic in enumerate(topics):
            lang = "en" if (i + rng.randint(0, 1)) % 2 == 0 else "zh"
            template = topic.en if lang == "en" else topic.zh
            name = self.ctx.name(lang)
            q = template.format(c=name, cs=possessive(name), y=year)
            plans.append((q, lang, "absent_topic"))
        for i, item in enumerate(items[: max(1, n // 3)] if old_years else []):
            lang = "en" if (i + rng.randint(0, 1)) % 2 == 0 else "zh"
            y = rng.choice(old_years)
            name = self.ctx.name(lang)
            q = _OLD_YEAR[lang].format(c=name, cs=possessive(name), i=item_name(item, lang), y=y)
            plans.append((q, lang, "absent_year"))
        rng.shuffle(plans)
        for q, lang, kind in plans[:n]:
            sources = self.ctx.sources(q, [], rng)
            if not sources:
                continue
            out = REFUSAL_ZH if lang == "zh" else REFUSAL_EN
            yield answer_candidate(
                "refusal",
                lang,
                q,
                sources,
                out,
                generator=f"template:refusal:{kind}",
                doc_ids=[self.ctx.doc_id],
                file=self.ctx.doc.file_name,
                page=None,
                extra={"refusal_reason": kind, "user_answer": out},
            )
