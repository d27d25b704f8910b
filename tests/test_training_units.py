"""Training pieces on the real SmolLM2 GGUF: arguments, chat-template labels, GGUF round trip."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from backend.errors import TrainingError
from tests.conftest import MODELS, require

SAMPLE = Path(__file__).parent / "data" / "training_sample.jsonl"
SMOL = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _need_smol():
    require(SMOL.is_file(), "SmolLM2 GGUF not prepared (python -m backend models prepare)")


def test_args_are_checked(tmp_path):
    from training.args import TrainArgs

    with pytest.raises(TrainingError, match="does not exist"):
        TrainArgs(data=tmp_path / "none", base="smollm2-135m", out=tmp_path / "o")
    with pytest.raises(TrainingError, match=r"steps.*rank|rank"):
        TrainArgs(data=SAMPLE, base="smollm2-135m", out=tmp_path / "o", steps=0, rank=0)
    with pytest.raises(TrainingError, match="needs --device cuda"):
        TrainArgs(data=SAMPLE, base="x", out=tmp_path / "o", device="cpu", quant="4bit")
    a = TrainArgs(data=SAMPLE, base="smollm2-135m", out=tmp_path / "o", rank=8, quant_type="q8_0")
    assert a.alpha == 16 and a.quant_type == "Q8_0"


def test_cli_parser_mirrors_the_dataclass(tmp_path):
    from training.__main__ import build_parser
    from training.args import TrainArgs, args_from_namespace

    ns = build_parser().parse_args(
        [
            "run",
            "--data",
            str(SAMPLE),
            "--base",
            "smollm2-135m",
            "--out",
            str(tmp_path),
            "--steps",
            "7",
            "--no-export",
            "--device",
            "cpu",
        ]
    )
    a = args_from_namespace(TrainArgs, ns)
    assert a.steps == 7 and a.export is False and a.device == "cpu" and a.rank == 16


def test_dataset_split_and_bad_lines(tmp_path):
    from training.data import load_dataset

    ds = load_dataset(SAMPLE)
    assert len(ds.train) + len(ds.val) == 12 and ds.val and ds.card["sha256"]
    bad = tmp_path / "d"
    bad.mkdir()
    (bad / "train.jsonl").write_text(
        json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n"
    )
    with pytest.raises(TrainingError, match="No usable training items"):
        load_dataset(bad)


def test_labels_cover_assistant_turns_and_tokens_match_llama_cpp():
    _need_smol()
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    from training.data import IGNORE, ChatFormat, encode_item, load_dataset

    chat = ChatFormat.from_gguf(SMOL)
    assert chat.eos_token == "<|im_end|>"
    tok = AutoTokenizer.from_pretrained(str(SMOL.parent), gguf_file=SMOL.name)
    item = load_dataset(SAMPLE).train[0]
    enc = encode_item(item, chat, tok, 4096)
    trained = tok.decode(
        [t for t, lab in zip(enc["input_ids"], enc["labels"], strict=True) if lab != IGNORE]
    )
    answers = [m["content"] for m in item["messages"] if m["role"] == "assistant"]
    assert trained == "".join(a + "<|im_end|>" for a in answers)  # answers + EOS, nothing else
    # the prompt is what llama.cpp serves: same text (GGUF template), same tokens
    llm = Llama(model_path=str(SMOL), vocab_only=True, verbose=False)
    text, _ = chat.assistant_spans(item["messages"])
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == enc["input_ids"]
    prompt = chat.render(item["messages"][:2], add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_base_round_trip_is_bit_exact(tmp_path):
    """Base GGUF → transformers (dequantised) → our F16 GGUF → transformers again: the weights
    come back exactly as their F16 values (q/k permutation re-applied, metadata kept)."""
    _need_smol()
    import torch
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM

    from training.export import write_gguf
    from training.model import cache_base

    hf = cache_base(SMOL, tmp_path / "cache")
    src = AutoModelForCausalLM.from_pretrained(str(hf), dtype=torch.float32).state_dict()
    out = write_gguf(src, SMOL, tmp_path / "base-f16.gguf")
    back = AutoModelForCausalLM.from_pretrained(
        str(out.parent), gguf_file=out.name, dtype=torch.float32
    ).state_dict()
    for name, w in src.items():
        assert torch.equal(back[name], w.half().float()), name
    a, b = GGUFReader(str(SMOL)).fields, GGUFReader(str(out)).fields
    for key in (
        "tokenizer.chat_template",
        "tokenizer.ggml.eos_token_id",
        "llama.block_count",
        "tokenizer.ggml.tokens",
    ):
        assert a[key].contents() == b[key].contents(), key
    assert b["general.file_type"].contents() == 1


def test_validation_items_become_questions_the_app_is_asked(tmp_path):
    """The gate asks the item's own question (not the few-shot example before it) and expects the
    answer the app shows; tool-step items without one are left out."""
    import json as _json

    from training.gate import val_to_qa

    corpus = tmp_path / "corpus"
    (corpus / "reports" / "x").mkdir(parents=True)
    (corpus / "reports" / "x" / "R.pdf").write_bytes(b"%PDF-1.4")
    few_shot = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Question: example question?\n\nSources:\n[1] example.pdf"},
        {"role": "assistant", "content": "example answer [1]"},
    ]
    items = [
        {
            "id": "a",
            "messages": [
                *few_shot,
                {"role": "user", "content": "Question: What was R's revenue?\n\nSources:\n[1] R"},
                {"role": "assistant", "content": "R's revenue was $5 million [1]."},
            ],
            "provenance": {"file": "R.pdf", "page": 3, "type": "lookup", "language": "en"},
        },
        {
            "id": "b",
            "messages": [
                *few_shot,
                {"role": "user", "content": "Question: How much did R's assets grow?"},
                {"role": "assistant", "content": '{"tool": "search_reports", "args": {}}'},
            ],
            "provenance": {"file": "R.pdf", "type": "agent_trace", "question": "How much?"},
        },
    ]
    out = val_to_qa(items, corpus, tmp_path / "qa.jsonl")
    [row] = [_json.loads(line) for line in out.read_text().splitlines()]
    assert row["question"] == "What was R's revenue?"
    assert row["answer"] == "R's revenue was $5 million [1]."
    assert row["doc"] == "reports/x/R.pdf" and row["page"] == 3


def test_nonfinite_gradients_skip_the_update_and_stop_the_run_when_they_persist(tmp_path):
    import torch

    from training.train import MAX_NONFINITE_IN_A_ROW, _make_callback

    model = torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    callback = _make_callback(None, tmp_path)
    state = SimpleNamespace(global_step=0)

    def step(x: torch.Tensor) -> None:
        opt.zero_grad()
        model(x).sum().backward()
        callback.on_pre_optimizer_step(None, state, None, model=model)
        opt.step()
        state.global_step += 1

    step(torch.tensor([[1.0, float("nan"), 2.0]]))  # NaN gradients: the update is skipped
    assert callback.skipped == 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    step(torch.ones(1, 3))  # a finite batch updates and resets the count
    assert callback.in_a_row == 0
    assert not torch.equal(before[0], model.weight)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    for _ in range(MAX_NONFINITE_IN_A_ROW - 1):
        step(torch.tensor([[float("inf"), 0.0, 0.0]]))
    with pytest.raises(TrainingError, match="NaN/inf for 5 steps in a row"):
        step(torch.tensor([[float("nan"), 0.0, 0.0]]))
    assert all(torch.isfinite(p).all() for p in model.parameters())
