"""Conversations that last: every finished turn is stored (SQLite, :mod:`backend.store.conversations`),
answers are written by a background thread so that an answer in progress survives a page switch
or a reload, and the user's 👍/👎 and corrections are kept for review.

The chat page starts an answer with :meth:`ConversationService.ask` and follows its events
(:meth:`AnswerRun.follow`) while it renders; when the page goes away, the thread goes on and stores
the turn; the page that comes back shows the stored turn, or attaches to the run still going.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backend.answering.answer import Answer, Citation, refusal_text
from backend.answering.chat import ChatService, Filters, Turn
from backend.answering.events import Event, Final
from backend.answering.plan import language_of
from backend.app.display import echoes_prompt_example
from backend.errors import AnnalystError
from backend.store.conversations import ConversationRow, ConversationStore, FeedbackRow
from backend.system import write_text_atomic

log = logging.getLogger(__name__)


# --- answers as stored JSON ----------------------------------------------------------------------
def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """Everything shown again later (passages retrieved but not cited are dropped)."""
    d = asdict(answer)
    d.pop("retrieved", None)
    return d


def answer_from_dict(d: dict[str, Any]) -> Answer:
    known = {k: v for k, v in d.items() if k in Answer.__dataclass_fields__ and k != "retrieved"}
    known["citations"] = [Citation(**c) for c in d.get("citations", [])]
    return Answer(**known)


@dataclass
class StoredTurn:
    seq: int
    question: str
    answer: Answer
    filters: dict[str, Any]
    rating: int = 0
    correction: str = ""


# --- an answer being written -------------------------------------------------------------------
@dataclass
class AnswerRun:
    """One question being answered in a background thread; its events can be followed from any
    script run (a reload or a page switch does not stop it)."""

    conv_id: str
    question: str
    events: list[Event] = field(default_factory=list)
    done: bool = False
    error: str = ""  # a user-facing message (AnnalystError), or "unexpected"
    failure: AnnalystError | None = None  # that error, for the interface's translations
    seq: int | None = None  # the stored turn, once done
    seen: bool = False  # a failed run's error was shown
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def push(self, event: Event | None = None, *, finished: bool = False) -> None:
        with self._cond:
            if event is not None:
                self.events.append(event)
            self.done = self.done or finished
            self._cond.notify_all()

    def follow(self, timeout_s: float = 3600.0) -> Iterator[Event]:
        """The run's events from the first, as they come, until it is done."""
        i = 0
        while True:
            with self._cond:
                while i >= len(self.events) and not self.done:
                    if not self._cond.wait(timeout_s):
                        return
                batch, finished = self.events[i:], self.done
            yield from batch
            i += len(batch)
            if finished and i >= len(self.events):
                return

    @property
    def answer(self) -> Answer | None:
        return next((e.answer for e in reversed(self.events) if isinstance(e, Final)), None)


class ConversationService:
    def __init__(
        self,
        store: ConversationStore,
        chat: Callable[[], ChatService],
        *,
        mode: str,
        data_dir: Path,
    ) -> None:
        self.store = store
        self._chat = chat  # built on the first question (loading it imports the embedder)
        self.mode = mode
        self.corrections_path = data_dir / "feedback" / "corrections.jsonl"
        self._runs: dict[str, AnswerRun] = {}
        self._lock = threading.Lock()

    # -- conversations ----------------------------------------------------------------------------
    def new(self) -> ConversationRow:
        return self.store.create()

    def list(self, limit: int = 100) -> list[ConversationRow]:
        return self.store.conversations(limit)

    def get(self, conv_id: str) -> ConversationRow:
        return self.store.get(conv_id)

    def rename(self, conv_id: str, title: str) -> None:
        self.store.rename(conv_id, title)

    def delete(self, conv_id: str) -> None:
        self.store.delete(conv_id)

    def turns(self, conv_id: str) -> list[StoredTurn]:
        feedback = self.store.feedback(conv_id)
        out = []
        for row in self.store.turns(conv_id):
            fb = feedback.get(row.seq)
            out.append(
                StoredTurn(
                    row.seq,
                    row.question,
                    answer_from_dict(row.answer),
                    row.filters,
                    fb.rating if fb else 0,
                    fb.correction if fb else "",
                )
            )
        return out

    # -- answering --------------------------------------------------------------------------------
    def run(self, conv_id: str) -> AnswerRun | None:
        """The run of this conversation still going, or finished with an error not yet shown."""
        with self._lock:
            run = self._runs.get(conv_id)
        if run is None or (run.done and (not run.error or run.seen)):
            return None
        return run

    def ask(self, conv_id: str, question: str, filters: Filters) -> AnswerRun:
        """Start answering ``question`` in ``conv_id`` (the conversation's stored turns are its
        history); returns the run already going if there is one."""
        self.store.get(conv_id)  # raises ConversationNotFound
        with self._lock:
            current = self._runs.get(conv_id)
            if current is not None and not current.done:
                return current
            run = AnswerRun(conv_id, question)
            self._runs[conv_id] = run
        history = [Turn(t.question, t.answer) for t in self.turns(conv_id)]
        thread = threading.Thread(
            target=self._answer,
            args=(run, history, filters),
            name=f"answer-{conv_id}",
            daemon=True,
        )
        thread.start()
        return run

    def _answer(self, run: AnswerRun, history: list[Turn], filters: Filters) -> None:
        try:
            for event in self._chat().stream(
                run.question, history=history, filters=filters, mode=self.mode
            ):
                if isinstance(event, Final):
                    guard_prompt_echo(event.answer)
                    run.seq = self.store.add_turn(
                        run.conv_id, run.question, answer_to_dict(event.answer), asdict(filters)
                    )
                run.push(event)
        except AnnalystError as err:
            run.error, run.failure = str(err), err
        except Exception:
            log.exception("answering %r failed", run.question)
            run.error = "unexpected"
        finally:
            run.push(finished=True)

    # -- feedback ---------------------------------------------------------------------------------
    def feedback(self, conv_id: str, seq: int, *, rating: int, correction: str = "") -> None:
        turn = next(t for t in self.store.turns(conv_id) if t.seq == seq)
        self.store.set_feedback(
            conv_id,
            seq,
            rating=rating,
            correction=correction.strip(),
            question=turn.answer.get("standalone_question") or turn.question,
            answer=turn.answer.get("answer", ""),
        )

    def corrections(self, review: str | None = "pending") -> list[FeedbackRow]:
        return self.store.corrections(review)

    def review(self, row: FeedbackRow, accept: bool) -> int:
        """Accept or reject a correction; accepted ones are written as chat-format training items
        to ``<data>/feedback/corrections.jsonl`` (for `python -m training run --data`). Returns
        the number of accepted items."""
        self.store.set_review(row.conv_id, row.seq, "accepted" if accept else "rejected")
        items = [training_item(r) for r in self.store.corrections("accepted")]
        text = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
        self.corrections_path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.corrections_path, text)
        return len(items)


def training_item(row: FeedbackRow) -> dict[str, Any]:
    """A reviewed correction as a training item: the question, the corrected answer."""
    return {
        "id": f"feedback-{row.conv_id}-{row.seq}",
        "messages": [
            {"role": "user", "content": row.question},
            {"role": "assistant", "content": row.correction},
        ],
        "provenance": {"source": "user correction", "model_answer": row.answer},
    }


def guard_prompt_echo(answer: Answer) -> None:
    """An answer that repeats the prompt's own examples ("Acme Corp…") is about nothing the user
    asked: it becomes the refusal (the withheld text stays in the trace)."""
    if answer.refused or not echoes_prompt_example(answer.answer, answer.question):
        return
    answer.trace.append(
        {
            "step": "withheld",
            "reason": "the answer repeats the prompt's example",
            "model_answer": answer.answer,
        }
    )
    answer.answer = refusal_text(language_of(answer.question))
    answer.refused, answer.citations, answer.value, answer.unit = True, [], None, ""
