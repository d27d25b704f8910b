"""Ask Annalyst from the command line.

    python -m backend ask "What was 3M's capital expenditure in FY2018?"
    python -m backend ask "华锦股份2019年的净利润是多少？" --json
    python -m backend ask "and in 2017?" --history "What was 3M's capex in FY2018?"
    python -m backend ask "..." --mode rag --doc 1de32e72 --year 2022

``--json`` prints: answer, citations [{doc, file, page}], refused, unverified_numbers, model,
timings, trace (tool calls with arguments and results, passages used).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from backend.errors import AnnalystError


def main(argv: list[str] | None = None) -> int:
    from backend.answer import Answer
    from backend.chat import ChatService, Filters, Turn
    from backend.services import build_services
    from backend.settings import Settings

    parser = argparse.ArgumentParser(
        prog="python -m backend",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings(**({"chat_model": args.model} if args.model else {}))
    services = build_services(settings)
    chat = ChatService(services)
    try:
        doc_ids = [services.catalog.find_document(d).doc_id for d in args.doc]
        history = [
            Turn(q, Answer(question=q, answer="", standalone_question=q)) for q in args.history
        ]
        stream = chat.stream(
            args.question,
            history=history,
            mode=args.mode,
            filters=Filters(doc_ids=doc_ids, company=args.company, year=args.year),
        )
        answer = None
        for event in stream:
            if event["type"] == "token" and not args.json:
                print(event["text"], end="", flush=True)
            elif event["type"] == "answer":
                answer = event["answer"]
    except AnnalystError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    assert answer is not None
    if args.json:
        d = answer.to_dict()
        out = {
            k: d[k]
            for k in (
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
            )
        }
        out["passages"] = d["retrieved"]
        print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    else:
        print()
        if answer.answer and answer.refused:
            print(answer.answer)
        for c in answer.citations:
            print(f"  {c.tag}")
        if answer.unverified_numbers:
            print(f"  unverified numbers: {', '.join(answer.unverified_numbers)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
