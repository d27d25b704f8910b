"""The profile route: a Chinese annual report's company-information fields, read with no model.

Every 年度报告 opens with 公司信息 — 股票简称, 股票代码, 法定代表人, 注册地址 and its 邮政编码, 办公地址,
公司网址, 电子信箱 — printed as label / value pairs, several to a line in the text layer ("股票简称
海翔药业 股票代码 002099", "公司国际互联网网址 www.… 电子信箱 jx@…"). A question that asks one of
these fields ("请提供常柴股份有限公司在2019年的公司网址。"), or of the domestic auditor further in
(会计师事务所名称, 报酬, 审计服务的连续年限, 注册会计师姓名), of one report is answered with the value
printed after the field's first label in the report, cited to its page. The first
label is the company's own: the contacts table that follows repeats 电子信箱 for the board
secretary and the securities representative. A question that computes or compares is not one.
"""

from __future__ import annotations

import re

from backend.answering.answer import Answer, Citation
from backend.answering.plan import QueryPlan
from backend.answering.route import Route
from backend.answering.tools import Toolbox
from backend.domain.injection import instruction_like

#: field → (words a question asks it by, labels the report prints it under)
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "公司网址": (("网址", "网站", "主页"), ("公司网址", "公司国际互联网网址", "公司互联网网址")),
    "电子信箱": (("电子信箱", "电子邮箱", "邮箱", "电子邮件"), ("电子信箱",)),
    "注册地址的邮政编码": (("邮政编码", "邮编"), ("注册地址的邮政编码",)),
    "注册地址": (("注册地址", "注册地"), ("注册地址",)),
    "办公地址": (("办公地址",), ("办公地址",)),
    "法定代表人": (("法定代表人", "法人代表"), ("公司的法定代表人", "法定代表人")),
    "股票简称": (("股票简称", "证券简称"), ("股票简称",)),
    "股票代码": (("股票代码", "证券代码"), ("股票代码",)),
    # 聘任、解聘会计师事务所情况 (further in, first printed in 公司信息 as 会计师事务所名称)
    "境内会计师事务所报酬": (
        ("会计师事务所的报酬", "会计师事务所报酬", "审计报酬"),
        ("境内会计师事务所报酬（万元）", "境内会计师事务所报酬"),
    ),
    "会计师事务所名称": (
        ("会计师事务所名称", "哪家会计师事务所", "审计机构名称"),
        ("会计师事务所名称", "境内会计师事务所名称", "审计机构名称"),
    ),
    "境内会计师事务所审计服务的连续年限": (
        ("审计服务的连续年限", "连续审计年限"),
        ("境内会计师事务所审计服务的连续年限",),
    ),
    "境内会计师事务所注册会计师姓名": (
        ("注册会计师姓名", "签字注册会计师", "签字会计师"),
        ("境内会计师事务所注册会计师姓名",),
    ),
}
#: Labels that contain a field's label but name something else.
_OTHER = (
    "登载年度报告的中国证监会指定网站的网址",
    "办公地址的邮政编码",
    "境外会计师事务所名称",
    "境外会计师事务所报酬",
    "境外会计师事务所审计服务的连续年限",
    "境外会计师事务所注册会计师姓名",
    "境内会计师事务所注册会计师审计服务的连续年限",
    "境外会计师事务所注册会计师审计服务的连续年限",
)
#: Every label a value can run into on the same line of the text layer.
_ALL_LABELS = sorted(
    {label for _, labels in FIELDS.values() for label in labels}
    | set(_OTHER)
    | {
        "公司的中文名称",
        "公司的中文简称",
        "公司的外文名称",
        "公司的外文名称缩写",
        "股票上市证券交易所",
    },
    key=len,
    reverse=True,
)
_SECTION = re.compile(r"\s*[一二三四五六七八九十]+、.*$")  # "二、联系人和联系方式" after a value
#: Pages read (公司信息 is on the first few; the auditor's fee well inside the report).
_PAGES = 80
_UNIT_IN_LABEL = re.compile(r"（(万元|元|亿元)）")


class ProfileRoute:
    """Answers one question about a company-information field of one report."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox

    def answer(self, plan: QueryPlan, route: Route, answer: Answer) -> bool:
        if plan.language != "zh" or route.compute or route.compare or not plan.doc_ids:
            return False
        # the fields read here are the company's and its domestic auditor's, not a foreign one's
        if "境外" in plan.question:
            return False
        asked = [f for f, (words, _) in FIELDS.items() if any(w in plan.question for w in words)]
        if "注册地址的邮政编码" in asked:  # "注册地址的邮政编码" also names 注册地址
            asked = ["注册地址的邮政编码"]
        if len(asked) != 1 or len(set(plan.doc_ids)) != 1:
            return False
        found = self._value(plan.doc_ids[0], FIELDS[asked[0]][1])
        if found is None:
            return False
        value, page = found
        doc_id = plan.doc_ids[0]
        cite = Citation(doc_id, self.toolbox.file_name(doc_id), page, f"{asked[0]} {value}")
        company = plan.companies[0] if plan.companies else ""
        answer.answer = f"{company}的{asked[0]}：{value} {cite.tag}。"
        answer.citations = [cite]
        answer.value, answer.unit = None, ""
        answer.unverified_numbers = []
        answer.model = answer.model or "report text (no model needed)"
        answer.trace.append({"step": "profile_route", "field": asked[0], "page": page})
        return True

    def _value(self, doc_id: str, labels: tuple[str, ...]) -> tuple[str, int] | None:
        """The value after the first of ``labels`` in the report, and its page; a unit the label
        states ("报酬（万元）") follows the value."""
        page = 1
        while (text := self.toolbox.page_text(doc_id, page)) is not None and page <= _PAGES:
            for line in text.splitlines():
                if instruction_like(line):
                    continue  # text planted to steer a reader is never given as a field's value
                for label in labels:
                    value = value_after(line, (label,))
                    if value:
                        unit = _UNIT_IN_LABEL.search(label)
                        return (value + unit.group(1) if unit else value), page
            page += 1
        return None


def value_after(line: str, labels: tuple[str, ...]) -> str | None:
    """The value printed after one of ``labels`` on a text line, up to the next known label
    ("股票简称 海翔药业 股票代码 002099" → "海翔药业" for 股票简称; the stored page text has no
    spaces between Chinese words: "公司的法定代表人任勇强")."""
    text = line.strip()
    for label in labels:
        flat = text
        for other in (*_ALL_LABELS, *_OTHER):  # a longer label holding this one names another
            if label in other and other != label and other not in labels:
                flat = flat.replace(other, "\x00" * len(other))
        at = flat.find(label)
        if at < 0:
            continue
        rest = text[at + len(label) :]
        masked = flat[at + len(label) :]
        cut = len(rest)
        for other in _ALL_LABELS:
            i = masked.find(other)
            if 0 <= i < cut:
                cut = i
        value = _SECTION.sub("", rest[:cut]).strip(" ：:\x00")
        return value or None
    return None
