"""Model-planned tool calls for computations the facts route cannot answer.

:func:`plan_calculation` asks the model for one JSON tool call at a time (the grammar comes from
the tool definitions, :func:`backend.answering.prompts.plan_schema`), runs it, and stops at the
first successful ``calculate``; :func:`calc_answer` then writes the answer from the calculation —
but only when every operand is printed in a retrieved passage (that page becomes the citation) and
the expression has the shape the question asks for. Otherwise the agent falls back to a written
answer over the passages.
"""

from __future__ import annotations

import json
from typing import Any

from backend.answering.answer import Answer, Citation
from backend.answering.plan import QueryPlan
from backend.answering.prompts import (
    PLANNER_TOOLS,
    plan_schema,
    planner_messages,
    tool_descriptions,
)
from backend.answering.retrieval import Passage
from backend.answering.route import Route, analyse, expression_fits, is_percent
from backend.answering.tools import Toolbox, compact
from backend.domain.numbers import parse_numbers

#: Constants an expression may hold that no source prints (percent, halves, days in a year).
_CONSTANTS = (100, 2, 365)


def plan_calculation(
    plan: QueryPlan,
    route: Route,
    toolbox: Toolbox,
    answer: Answer,
    llm: Any,
    *,
    max_steps: int,
    evidence: list[Passage],
) -> bool:
    """Let the model plan up to ``max_steps`` tool calls over ``evidence`` (the selected rows and
    lines, :mod:`.evidence`); True when a checked calculation answered the question (``answer``
    is then written)."""
    tools = toolbox.langchain_tools()
    schema = plan_schema(tools, PLANNER_TOOLS)
    tool_text = tool_descriptions(tools, PLANNER_TOOLS)
    steps: list[str] = []
    for _ in range(max_steps):
        messages = planner_messages(plan.question, evidence, tool_text, steps)
        answer.timings["prompt_tokens"] = answer.timings.get("prompt_tokens", 0) + (
            llm.count_prompt(messages)
        )
        usage: dict[str, int] = {}
        raw = "".join(llm.stream(messages, max_tokens=300, json_schema=schema, usage=usage))
        answer.count_read(usage)
        try:
            action = json.loads(raw, strict=False)  # servers may allow raw newlines
        except json.JSONDecodeError:
            answer.trace.append({"step": "plan_error", "raw": raw[:300]})
            return False
        answer.trace.append({"step": "model_plan", "action": action})
        tool = action.get("tool")
        if tool == "answer":
            break
        args = action.get("args") or {}
        call = toolbox.call(tool, args)
        if tool == "calculate":
            if call.error:
                steps.append(f"calculate({args.get('expression')}) failed: {call.error}")
                continue
            return calc_answer(plan, route, answer, call.result, evidence)
        steps.append(f"{tool}({compact(args, 200)}) → {compact(call.result, 600)}")
    return False


def calc_answer(
    plan: QueryPlan,
    route: Route,
    answer: Answer,
    result: dict[str, Any],
    passages: list[Passage],
) -> bool:
    """Write the answer of a calculation over the sources the model saw, or record why it was
    rejected (an operand printed in no source, fewer than two reported numbers, wrong shape)."""
    expr, value = result["expression"], result["value"]
    operands = [
        n
        for n in parse_numbers(expr, skip_years=False)
        if not (n.value in _CONSTANTS or abs(n.value) < 1)
    ]
    cites: list[Citation] = []
    missing = []
    for n in operands:
        hit = next(
            (
                p
                for p in passages
                if any(
                    abs(abs(m.value) - abs(n.value)) < 1e-6
                    for m in parse_numbers(p.text, skip_years=False)
                )
            ),
            None,
        )
        if hit is None:
            missing.append(n.text)
        elif all((c.doc_id, c.page) != (hit.doc_id, hit.page) for c in cites):
            cites.append(Citation(hit.doc_id, hit.file_name, hit.page, hit.text[:300]))
    distinct = {abs(n.value) for n in operands}
    shape = expression_fits(expr, route) or _parts_left(expr, plan, route, passages)
    if len(distinct) < 2 or missing or shape:  # two or more reported numbers, right shape
        answer.trace.append(
            {
                "step": "calc_rejected",
                "expression": expr,
                "numbers_not_in_sources": missing,
                "shape": shape,
            }
        )
        return False
    percent = is_percent(expr)
    d = route.decimals
    shown = f"{value:,.{d}f}" + ("%" if percent else "")
    tags = " ".join(c.tag for c in cites)
    if plan.language == "zh":
        text = f"计算结果为{shown}。计算：{expr} = {value:,.{d + 2}f}。数据来源：{tags}。"
    else:
        text = f"The answer is {shown}. Calculation: {expr} = {value:,.{d + 2}f}. Sources: {tags}."
    answer.answer = text
    answer.citations = cites
    answer.value, answer.unit = round(value, d), "%" if percent else ""
    answer.unverified_numbers = []
    return True


def _parts_left(expr: str, plan: QueryPlan, route: Route, passages: list[Passage]) -> str:
    """Why one calculation cannot be the answer to this question, else '': a year used as an
    operand ("(2022 - 2021) / 2021": a year of the question, or a number from 1900 to 2100 that
    no source prints as an amount, "2,022"), or one figure for a question that asks
    one for each of several years (a change, an average or a comparison combines them)."""
    years = set(plan.years)
    printed = " ".join(p.text for p in passages)
    for n in parse_numbers(expr, skip_years=False):
        as_year = n.value == int(n.value) and 1900 <= n.value <= 2100
        if n.value in years or (as_year and f"{int(n.value):,}" not in printed):
            return "a year used as a number"
    asked = analyse(plan.question)  # the question's own words (``route`` may be a generic one)
    combines = [r.change or r.average or r.compare for r in (route, asked)]
    if len(years) > 1 and not any(combines):
        return "the question asks for a figure for each of several years"
    return ""
