"""Text inside a report that addresses an AI assistant: a planted instruction (prompt injection).

Report text is data. :func:`instruction_like` recognises the sentences and lines that talk to an
assistant instead of a reader — overriding earlier instructions, addressing "the AI", "when asked
… answer …", chat-template role markers — in English and Chinese. Ingestion flags the chunks that
hold one (still searchable, shown as text), and the evidence selector never puts such a line in a
prompt (:mod:`backend.answering.evidence`).

Measured on the 78 dev reports (43,020 chunks): 0 chunks flagged; the red-team set
(``tests/test_redteam.py``): every planted line flagged.
"""

from __future__ import annotations

import re

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")

#: Text addressed to an AI assistant (planted instructions): never shown to the model.
_INSTRUCTION = re.compile(
    "|".join(
        [
            # overriding what came before
            r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:previous|prior|above|earlier|all|"
            r"any|your)\b.{0,30}\b(?:instructions?|prompts?|rules?|context|guidelines?)\b",
            # addressing the assistant
            r"\b(?:as an? |you are an? |dear |note to (?:the )?|attention:? )(?:ai|llm|language model|"
            r"assistant|chatbot|gpt|bot)\b",
            r"\b(?:ai|llm|language model|assistant|chatbot|bot)s?\b.{0,40}\b(?:must|should|shall|"
            r"always|never|will)\b.{0,40}\b(?:answer|respond|reply|say|state|output|report|claim)",
            r"\b(?:system prompt|jailbreak|prompt injection|developer mode)\b",
            # answering every/any question a fixed way
            r"\b(?:answer|respond to|reply to)\b.{0,12}\b(?:every|all|any)\b.{0,20}\bquestions?\b"
            r".{0,30}\b(?:with|by saying|that|as)\b",
            r"\b(?:regardless of|no matter)\b.{0,20}\b(?:question|asked|what the user)",
            r"\bwhen(?:ever)? (?:you are|someone|anyone|the user|a user|users) (?:is |are )?ask(?:s|ed)?\b"
            r".{0,60}\b(?:answer|reply|respond|say|state)",
            r"\bthe (?:correct|only|right) answer (?:to|for) (?:any|every|all|each)\b",
            # chat-template and role markers
            r"<\|im_(?:start|end)\|>|\[/?INST\]|<</?SYS>>|^#{2,3} ?(?:instruction|system|response)\b",
            r"^\s*(?:system|assistant)\s*[:：]",
            # Chinese
            r"忽略.{0,12}(?:之前|以上|上述|先前|所有|全部).{0,8}(?:指令|指示|提示|规则|要求)",
            r"(?:人工智能|AI|大模型|语言模型|助手|机器人|智能体).{0,12}(?:必须|应当|应该|务必|一律|总是|请)"
            r".{0,20}(?:回答|回复|答复|输出|说明|声称)",
            r"(?:所有|任何|每个|一切)(?:问题|提问).{0,10}(?:都|均|一律)(?:要)?(?:回答|答复|回复)",
            r"(?:无论|不管)(?:用户|对方|别人|谁)?(?:问|提问|询问)(?:什么|任何)",
            r"(?:如果|若|当|一旦)(?:被问|有人问|用户问|用户询问|被询问).{0,30}(?:请|就|则|一律)?(?:回答|答复|回复|说)",
            r"系统提示|系统指令|提示词注入",
        ]
    ),
    re.I | re.M,
)


def instruction_like(text: str) -> bool:
    """Does ``text`` address an AI assistant with instructions (a planted prompt injection)?"""
    return bool(_INSTRUCTION.search(_INVISIBLE.sub("", text)))
