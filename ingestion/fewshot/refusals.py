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
from collections.abc import Iterator
from dataclasses import dataclass

from backend.answering.answer import REFUSAL_EN, REFUSAL_ZH
from ingestion.fewshot.context import DocContext
from ingestion.fewshot.items import Candidate
from ingestion.fewshot.render import answer_messages
from ingestion.fewshot.templates import item_name, possessive


@dataclass(frozen=True)
class Topic:
    en: str
    zh: str
    terms: tuple[str, ...]  # none of these may appear anywhere in the report (lower case)


TOPICS: tuple[Topic, ...] = (
    Topic(
        "How many aircraft were in {cs} fleet at the end of fiscal {y}?",
        "{c}{y}年末机队共有多少架飞机？",
        ("aircraft", "fleet", "飞机", "机队"),
    ),
    Topic(
        "What were {cs} proved oil and gas reserves at the end of {y}?",
        "{c}{y}年末的探明油气储量是多少？",
        ("proved reserves", "oil and gas reserves", "探明储量", "油气储量"),
    ),
    Topic(
        "What was {cs} Tier 1 capital at the end of fiscal {y}?",
        "{c}{y}年末的一级资本净额是多少？",
        ("tier 1", "tier one", "一级资本", "资本充足"),
    ),
    Topic(
        "How many monthly active users did {c} report for {y}?",
        "{c}{y}年的月活跃用户数是多少？",
        ("monthly active", "active users", "月活", "活跃用户"),
    ),
    Topic(
        "What was {cs} non-performing loan balance at the end of {y}?",
        "{c}{y}年末的不良贷款余额是多少？",
        ("non-performing", "nonperforming", "不良贷款"),
    ),
    Topic(
        "How many hotel rooms did {c} operate at the end of {y}?",
        "{c}{y}年末运营的酒店客房有多少间？",
        ("hotel", "酒店", "客房"),
    ),
    Topic(
        "How many drug candidates did {c} have in Phase 3 clinical trials in {y}?",
        "{c}{y}年处于III期临床试验的在研药物有多少个？",
        ("phase 3", "phase iii", "clinical trial", "临床试验", "期临床"),
    ),
    Topic(
        "What was the combined ratio of {cs} insurance business in {y}?",
        "{c}{y}年保险业务的综合成本率是多少？",
        ("combined ratio", "综合成本率", "保费"),
    ),
    Topic(
        "How many satellites did {c} launch in {y}?",
        "{c}{y}年共发射了多少颗卫星？",
        ("satellite", "卫星"),
    ),
    Topic(
        "How much bitcoin did {c} hold at the end of {y}?",
        "{c}{y}年末持有多少比特币？",
        ("bitcoin", "crypto", "digital asset", "比特币", "加密货币", "数字资产"),
    ),
    Topic(
        "What was {cs} average revenue per user (ARPU) in {y}?",
        "{c}{y}年的每用户平均收入（ARPU）是多少？",
        ("per user", "arpu", "每用户"),
    ),
    Topic(
        "How many box-office tickets did {c} sell in {y}?",
        "{c}{y}年共售出多少张电影票？",
        ("box office", "box-office", "ticket", "票房", "电影票"),
    ),
    Topic(
        "What was {cs} same-store sales growth in China in {y}?",
        "{c}{y}年在中国市场的同店销售增长率是多少？",
        ("same-store", "same store", "comparable store", "同店", "中国市场"),
    ),
)
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
        topics = [t for t in TOPICS if not any(term in text for term in t.terms)]
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
            yield Candidate(
                type="refusal",
                language=lang,
                question=q,
                generator=f"template:refusal:{kind}",
                fmt="answer",
                messages=answer_messages(q, sources, out),
                passages=sources,
                doc_ids=[self.ctx.doc_id],
                file=self.ctx.doc.file_name,
                page=None,
                extra={"refusal_reason": kind, "user_answer": out},
            )
