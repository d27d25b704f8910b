"""An OpenAI-compatible HTTP API, so that notebooks, Excel and Open WebUI can use Annalyst:

    python -m backend serve [--host 127.0.0.1] [--port 8000]

* ``GET /v1/models`` — ``annalyst`` (the agent) and ``annalyst-rag`` (plain RAG);
* ``POST /v1/chat/completions`` — the last user message is the question, earlier user messages
  its conversation (follow-ups work as in the chat); the answer's text carries its citations
  ``[file p.N]`` and an extra field ``annalyst`` has the structured citations, trace, value and
  unit. Optional ``annalyst_filters``: ``{"company", "year", "doc_ids"}``. ``stream: true``
  answers as server-sent events ending ``data: [DONE]``, sent as the answer is made: the
  progress (stages, the best evidence, the model's draft) in ``reasoning_content`` at once, the
  checked answer in ``content`` once its numbers are checked (:func:`_sse` says why);
* ``POST /v1/reports`` (multipart, field ``file``, several allowed) queues indexing jobs;
  ``GET /v1/reports`` lists the reports and the jobs; ``GET /v1/jobs/{job_id}`` one job.

Access: with ``ANNALYST_API_TOKEN`` set, every request needs ``Authorization: Bearer <token>``
(401 otherwise). Without a token the server refuses to listen anywhere but a loopback address
(:func:`check_bind`), and refuses requests from web pages (an ``Origin`` header) and for other
host names (DNS rebinding), so a web site cannot drive it through the user's browser.

Only ``python -m backend serve`` imports this module (FastAPI is imported at its top: the
endpoints' annotations must resolve).
"""

from __future__ import annotations

import hmac
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from backend.answering.answer import Answer
from backend.answering.chat import Filters, Turn
from backend.answering.events import Evidence, Final, Status, Token
from backend.app.auth import is_loopback
from backend.app.conversations import guard_prompt_echo
from backend.app.display import api_text, citation_labels, echoes_prompt_example, trace_steps
from backend.errors import AnnalystError, UnsafeServe

MODELS = {"annalyst": "agent", "annalyst-rag": "rag"}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def check_bind(host: str, token: str) -> None:
    """Refuse a non-loopback address without a token (raises :class:`UnsafeServe`)."""
    if not token and not is_loopback(host):
        raise UnsafeServe(host)


def _text(content: Any) -> str:
    """A message's text: a string, or OpenAI's list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _annalyst_field(answer: Answer, services: Any) -> dict[str, Any]:
    labels = citation_labels(answer.citations, services.catalog.document)
    return {
        "citations": [
            {"doc_id": c.doc_id, "file": c.file, "page": c.page, "label": labels.get(c.tag, "")}
            for c in answer.citations
        ],
        "refused": answer.refused,
        "value": answer.value,
        "unit": answer.unit,
        "unverified_numbers": answer.unverified_numbers,
        "standalone_question": answer.standalone_question,
        "trace": answer.trace,
        "steps": trace_steps(answer.trace),
        "timings": answer.timings,
    }


_REPORT_FIELDS = (
    "doc_id",
    "file_name",
    "company",
    "fiscal_year",
    "report_type",
    "language",
    "pages",
    "facts",
    "status",
    "error",
)


def create_app(services: Any) -> FastAPI:
    """The FastAPI application over one :class:`backend.app.services.Services`."""
    settings = services.settings
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    app = FastAPI(title="Annalyst", version="1", docs_url=None, redoc_url=None)
    auth = _make_auth(token)
    _add_error_handlers(app)
    _add_chat_routes(app, services, auth)
    _add_report_routes(app, services, auth)
    return app


def _make_auth(token: str) -> Callable[[Request], None]:
    """The access check every endpoint depends on: bearer token, or local callers only."""

    def auth(request: Request) -> None:
        if token:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), token):
                raise HTTPException(
                    401,
                    "Missing or wrong bearer token (setting ANNALYST_API_TOKEN).",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if request.headers.get("origin") or host not in _LOOPBACK_NAMES:
            raise HTTPException(
                403, "Without ANNALYST_API_TOKEN only local programs may call the API."
            )

    return auth


def _add_error_handlers(app: FastAPI) -> None:
    """Answer Annalyst and HTTP errors in OpenAI's ``{"error": {...}}`` shape."""

    @app.exception_handler(AnnalystError)
    def annalyst_error(request: Request, err: AnnalystError) -> JSONResponse:
        body = {"message": str(err), "type": "annalyst_error", "code": err.code}
        return JSONResponse({"error": body}, 400)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, err: HTTPException) -> JSONResponse:
        body = {"error": {"message": err.detail, "type": "http_error"}}
        return JSONResponse(body, err.status_code, headers=err.headers)


def _add_chat_routes(app: FastAPI, services: Any, auth: Callable[[Request], None]) -> None:
    """``GET /v1/models`` and ``POST /v1/chat/completions``."""

    @app.get("/v1/models", dependencies=[Depends(auth)])
    def models() -> dict[str, Any]:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "annalyst"} for m in MODELS]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", dependencies=[Depends(auth)], response_model=None)
    def completions(body: dict[str, Any]) -> Any:
        model, asked, filters = _parse_completion(body)
        events = services.chat.stream(
            asked[-1], history=_history(services, asked[:-1]), filters=filters, mode=MODELS[model]
        )
        meta = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": model,
        }
        if body.get("stream"):
            stream = _sse(events, meta, services, asked[-1])
            return StreamingResponse(stream, media_type="text/event-stream")
        answer = next(e.answer for e in events if isinstance(e, Final))
        guard_prompt_echo(answer)  # as in the chat: the prompt's example is never an answer
        return _completion(meta, answer, services)


def _parse_completion(body: dict[str, Any]) -> tuple[str, list[str], Filters]:
    """A chat completion request's model, user messages and filters (HTTP 404/400 if invalid)."""
    model = str(body.get("model") or "annalyst")
    if model not in MODELS:
        raise HTTPException(404, f"Unknown model {model!r}: use one of {', '.join(MODELS)}.")
    asked = [_text(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "user"]
    if not asked or not asked[-1].strip():
        raise HTTPException(400, "The last message must be a user message with a question.")
    f = body.get("annalyst_filters") or {}
    filters = Filters(list(f.get("doc_ids") or []), str(f.get("company") or ""), f.get("year"))
    return model, asked, filters


def _completion(meta: dict[str, Any], answer: Answer, services: Any) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` response for an answer."""
    return {
        **meta,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": api_text(answer.answer)},
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "annalyst": _annalyst_field(answer, services),
    }


def _add_report_routes(app: FastAPI, services: Any, auth: Callable[[Request], None]) -> None:
    """``POST /v1/reports``, ``GET /v1/reports`` and ``GET /v1/jobs/{job_id}``."""
    settings = services.settings

    @app.post("/v1/reports", dependencies=[Depends(auth)])
    def upload(file: list[UploadFile] = File(...)) -> dict[str, Any]:  # noqa: B008
        limit = settings.max_upload_mb * 1024 * 1024
        out = []
        for f in file:
            data = f.file.read(limit + 1)
            sub = services.jobs.submit_upload(data, f.filename or "upload.pdf")
            row = {"file": sub.file, "status": sub.status, "job_id": sub.job_id}
            if sub.doc is not None:
                row["doc_id"] = sub.doc.doc_id
            out.append(row)
        return {"object": "list", "data": out}

    @app.get("/v1/reports", dependencies=[Depends(auth)])
    def reports() -> dict[str, Any]:
        docs = [
            {k: d.to_dict()[k] for k in _REPORT_FIELDS}
            for d in services.catalog.documents(status=None)
        ]
        return {"object": "list", "data": docs, "jobs": [_job(j) for j in services.jobs.jobs()]}

    @app.get("/v1/jobs/{job_id}", dependencies=[Depends(auth)])
    def job(job_id: str) -> dict[str, Any]:
        found = services.jobs.job(job_id)
        if found is None:
            raise HTTPException(404, f"No job {job_id}.")
        return _job(found)


_JOB_FIELDS = ("job_id", "status", "op", "file", "doc_id", "stage", "result")


def _job(j: Any) -> dict[str, Any]:
    return {name: getattr(j, name) for name in _JOB_FIELDS}


def _history(services: Any, questions: list[str]) -> list[Turn]:
    """Earlier user messages as turns, each resolved to its stand-alone question in order."""
    turns: list[Turn] = []
    for q in questions:
        past = [t.answer.standalone_question for t in turns]
        standalone = services.retriever.plan(q, history=past).question
        turns.append(Turn(q, Answer(question=q, answer="", standalone_question=standalone)))
    return turns


_STAGES = {
    "facts": "Looking up the financial statements",
    "tables": "Reading the report's tables",
    "search": "Searching the reports",
    "plan": "Planning the calculation",
    "write": "The model is writing",
    "read": "The model is reading the sources",
}
_DRAFTING = {"write", "read"}  # stages after which Token events are the model's unchecked draft
_DRAFT_ACTIVE = re.compile(r"([\\\[\]])")


def _draft_piece(piece: str) -> str:
    """Text from the model or a report for ``reasoning_content``, which clients render as
    Markdown joined with the pieces before it: brackets and backslashes escaped, "<" as an
    entity, so that no link, image or tag can form across pieces."""
    return _DRAFT_ACTIVE.sub(r"\\\1", piece).replace("<", "&lt;")


def _sse(
    events: Iterator[Any], meta: dict[str, Any], services: Any, question: str
) -> Iterator[str]:
    """Server-sent events, sent as the answer is made; ``content`` only ever carries checked text.

    The numbers of an answer are checked after the model has written it: each sentence against
    the page it cites, and a sentence that fails is dropped (an answer left with nothing becomes
    "not found"); an answer that repeats the prompt's example is withheld. So the model's words
    cannot go into ``content`` as they come — a client that reads ``content`` alone (a notebook,
    Excel) would keep a number the check then removes. Instead:

    1. the role;
    2. progress, as it happens, in ``delta.reasoning_content`` — the field that DeepSeek, vLLM,
       llama.cpp's server and Open WebUI use for a model's thinking, shown apart from the
       answer: each stage ("Searching the reports…"), the best evidence with its page, then the
       model's draft as it is generated, headed "Draft (not checked yet)" (Markdown-escaped:
       it is never a link or an image); the same progress as data in the chunk's extra field
       ``annalyst_progress`` (``{"stage"}``, ``{"evidence", "file", "page"}``, ``{"draft"}`` —
       the raw piece — and ``{"checked"}``). A draft that starts repeating the prompt's example
       stops there (as in the chat);
    3. the checked answer in ``delta.content`` pieces, once the check is done (a note in the
       progress first when the check left out sentences of the draft);
    4. the final chunk with ``finish_reason`` and the ``annalyst`` field, then ``[DONE]``.

    Routes without a model (facts, tables, a checked calculation) have no draft: their answer is
    checked when it is made and follows the stage at once.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            **meta,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False, default=str)}\n\n"

    def progress(text: str, **data: Any) -> str:
        return chunk({"reasoning_content": text}, annalyst_progress=data)

    yield chunk({"role": "assistant"})
    answer, stage, draft, echo = None, "", None, False
    try:
        for event in events:
            if isinstance(event, Final):
                answer = event.answer
            elif isinstance(event, Status):
                stage = event.stage
                yield progress(f"{_STAGES.get(stage, stage)}…\n", stage=stage)
            elif isinstance(event, Evidence):
                line = f"Best evidence ({event.file_name} p.{event.page}): {event.text}\n"
                yield progress(_draft_piece(line), evidence=event.text, file=event.file_name,
                               page=event.page)  # fmt: skip
            elif isinstance(event, Token) and stage in _DRAFTING and not echo:
                if draft is None:
                    draft = ""
                    yield progress("Draft (not checked yet):\n", draft="")
                draft += event.text
                echo = echoes_prompt_example(draft, question)  # then the rest is not sent
                if not echo:
                    yield progress(_draft_piece(event.text), draft=event.text)
    except AnnalystError as err:
        yield chunk({"content": str(err)}, "stop")
        yield "data: [DONE]\n\n"
        return
    assert answer is not None
    guard_prompt_echo(answer)
    yield progress(f"\n{_checked_note(answer, draft is not None)}\n", checked=True)
    text = api_text(answer.answer)
    for start in range(0, len(text), 24):
        yield chunk({"content": text[start : start + 24]})
    yield chunk({}, "stop", annalyst=_annalyst_field(answer, services))
    yield "data: [DONE]\n\n"


def _checked_note(answer: Answer, drafted: bool) -> str:
    """What the check did to the model's draft, for the progress."""
    steps = [s.get("step") for s in answer.trace]
    dropped = sum(len(s.get("sentences") or []) for s in answer.trace if s.get("step") == "dropped")
    if "withheld" in steps:
        return "Checked: the draft repeats the prompt's example, so it is withheld."
    if drafted and answer.refused:
        return "Checked: the cited pages do not support the draft, so it is not the answer."
    if dropped:
        return f"Checked against the cited pages: {dropped} sentence(s) of the draft left out."
    return "Checked against the cited pages."


def serve(services: Any, host: str, port: int) -> None:
    """Run the API with uvicorn until interrupted (refuses an unsafe address first)."""
    import uvicorn

    token = services.settings.api_token
    check_bind(host, token.get_secret_value() if token else "")
    services.jobs.recover()
    uvicorn.run(create_app(services), host=host, port=port, log_level="info")
