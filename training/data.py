"""Training data: read the few-shot JSONL, render it with the GGUF's own chat template, tokenize.

The prompt text is rendered exactly as llama-cpp-python renders it at serving time (the GGUF's
``tokenizer.chat_template`` through a sandboxed Jinja2 environment with ``trim_blocks`` and
``lstrip_blocks``, BOS prepended only when the GGUF says ``add_bos_token``), so the model is trained
on the same token sequence it later sees in the chat. Loss is on assistant messages only: each
assistant message's content plus its end-of-turn token (EOS), found by rendering the conversation
prefix with and without that message; everything else (system, user, tool results, padding) gets
label -100. Labels never come from ``input_ids == pad`` because pad and EOS are the same token in
these models.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from backend.errors import TrainingError
from backend.system import iter_jsonl

log = logging.getLogger(__name__)

IGNORE = -100
ROLES = ("system", "user", "assistant")


# --- reading ---------------------------------------------------------------------------------------
@dataclass
class Dataset:
    train: list[dict[str, Any]]
    val: list[dict[str, Any]]
    card: dict[str, Any] = field(default_factory=dict)
    skipped: int = 0


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    items, skipped = [], 0
    try:
        lines = list(iter_jsonl(path))
    except ValueError as err:
        raise TrainingError(
            f"{err}. Regenerate the data with `python -m ingestion fewshot`."
        ) from err
    for n, item in lines:
        if _valid(item):
            items.append(item)
        else:
            skipped += 1
            log.warning("%s line %d: not a chat item with an assistant answer; skipped", path, n)
    return items, skipped


def _valid(item: Any) -> bool:
    msgs = item.get("messages") if isinstance(item, dict) else None
    if not isinstance(msgs, list) or not msgs:
        return False
    ok = all(
        isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str)
        for m in msgs
    )
    return ok and any(m["role"] == "assistant" and m["content"].strip() for m in msgs)


def load_dataset(path: Path, max_items: int = 0) -> Dataset:
    """Read ``train.jsonl``/``val.jsonl``/``card.json`` from a folder, or split one JSONL file."""
    path = Path(path)
    if path.is_dir():
        train, s1 = _read_jsonl(path / "train.jsonl")
        val, s2 = _read_jsonl(path / "val.jsonl") if (path / "val.jsonl").is_file() else ([], 0)
        card_path = path / "card.json"
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
        skipped = s1 + s2
    else:
        items, skipped = _read_jsonl(path)

        # deterministic 1-in-8 hold-out by id hash
        def held(it: dict[str, Any]) -> bool:
            key = str(it.get("id", json.dumps(it["messages"])[:200]))
            return hashlib.sha256(key.encode()).digest()[0] % 8 == 0

        val = [it for it in items if held(it)]
        train = [it for it in items if not held(it)]
        card = {}
    if max_items:
        train = train[:max_items]
    if not train:
        raise TrainingError(
            f"No usable training items in {path} (each line needs messages with an assistant "
            "answer). Run `python -m ingestion fewshot` to generate them."
        )
    digest = hashlib.sha256()
    for it in train + val:
        digest.update(json.dumps(it["messages"], sort_keys=True).encode())
    card = {
        **card,
        "source": str(path),
        "n_train": len(train),
        "n_val": len(val),
        "skipped": skipped,
        "sha256": digest.hexdigest(),
        "read_at": datetime.now().isoformat(timespec="seconds"),
    }
    return Dataset(train=train, val=val, card=card, skipped=skipped)


# --- chat template ---------------------------------------------------------------------------------
@dataclass
class ChatFormat:
    """The GGUF's chat template and special tokens, rendered the way llama-cpp-python does."""

    template: str
    bos_token: str
    eos_token: str
    add_bos: bool

    @classmethod
    def from_gguf(cls, path: Path) -> ChatFormat:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
        fields = reader.fields

        def get(key: str, default: Any = None) -> Any:
            f = fields.get(key)
            return f.contents() if f is not None else default

        template = get("tokenizer.chat_template")
        if not template:
            raise TrainingError(
                f"{path} has no chat template (tokenizer.chat_template); pick a base GGUF of an "
                "instruct/chat model."
            )
        tokens = fields["tokenizer.ggml.tokens"]
        bos_id, eos_id = get("tokenizer.ggml.bos_token_id"), get("tokenizer.ggml.eos_token_id")
        bos = tokens.contents(int(bos_id)) if bos_id is not None else ""
        eos = tokens.contents(int(eos_id)) if eos_id is not None else ""
        return cls(
            template=template,
            bos_token=bos,
            eos_token=eos,
            add_bos=bool(get("tokenizer.ggml.add_bos_token", False)),
        )

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
        env = _jinja_env()
        tmpl = env.from_string(self.template)
        return tmpl.render(
            messages=messages,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            add_generation_prompt=add_generation_prompt,
            raise_exception=_raise,
            strftime_now=lambda fmt: datetime.now().strftime(fmt),
        )

    def assistant_spans(self, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
        """Full rendered text and the character spans that are trained (assistant turns + EOS)."""
        text = self.render(messages)
        spans = []
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            prefix = self.render(messages[:i], add_generation_prompt=True)
            upto = self.render(messages[: i + 1])
            if not (upto.startswith(prefix) and text.startswith(upto)):
                raise TrainingError(
                    "The GGUF's chat template does not render conversations prefix by prefix "
                    "(it rewrites earlier turns), so answer tokens cannot be located. Use a base "
                    "model with a plain chat template (ChatML/Llama-style)."
                )
            end = len(upto.rstrip())
            if self.eos_token and self.eos_token not in upto[len(prefix) :]:
                log.debug("assistant turn does not end with EOS in this template")
            spans.append((len(prefix), end))
        return text, spans


def _raise(msg: str) -> None:
    raise TrainingError(f"chat template error: {msg}")


def _jinja_env() -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)


# --- tokenization --------------------------------------------------------------------------------
def encode_item(
    item: dict[str, Any], chat: ChatFormat, tokenizer: Any, max_len: int
) -> dict[str, list[int]] | None:
    """input_ids + labels (-100 outside assistant turns) for one item; None when too long."""
    text, spans = chat.assistant_spans(item["messages"])
    if (item.get("provenance") or {}).get("loss_on") == "last_assistant":
        # the earlier assistant turns are the app's fixed few-shot examples, not targets
        spans = spans[-1:]
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
    labels = []
    for tid, (start, end) in zip(ids, offsets, strict=True):
        inside = end > start and any(s <= start < e for s, e in spans)
        labels.append(tid if inside else IGNORE)
    if chat.add_bos and tokenizer.bos_token_id is not None:
        ids, labels = [tokenizer.bos_token_id, *ids], [IGNORE, *labels]
    if len(ids) > max_len:
        return None
    if all(lab == IGNORE for lab in labels):
        return None
    return {"input_ids": ids, "labels": labels}


def encode_dataset(
    items: list[dict[str, Any]], chat: ChatFormat, tokenizer: Any, max_len: int
) -> tuple[list[dict[str, list[int]]], int]:
    """Encoded items and how many were dropped for being longer than ``max_len``."""
    out, dropped = [], 0
    for it in items:
        enc = encode_item(it, chat, tokenizer, max_len)
        if enc is None:
            dropped += 1
        else:
            out.append(enc)
    if dropped:
        log.warning("%d items longer than %d tokens were skipped", dropped, max_len)
    return out, dropped


class Collator:
    """Right-pads a batch; attention_mask marks real tokens, padding is never a label."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def prompt_and_answer(item: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    """Messages before the last assistant turn, and that turn's content (the held-out target)."""
    msgs = item["messages"]
    last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
    return msgs[:last], msgs[last]["content"]
