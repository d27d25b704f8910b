"""PDFs are parsed in a child process with memory and time limits, never in the caller's process.

A report is hostile input: a 1 MB file can hold a stream that inflates to gigabytes, and PDFium
aborts the whole process when an allocation fails. So every step that opens a PDF — reading page
text (with OCR of pages that have no text layer), reading statement tables for the facts and
rendering a cited page for the chat — runs
in ``python -m ingestion.sandbox``, a child that

* sets ``RLIMIT_DATA`` (``parse_memory_mb``), ``RLIMIT_CPU`` (``parse_timeout_s``) and no core
  dumps before it imports PDFium or onnxruntime, and ignores Ctrl-C (the parent ends it);
* checks the file's compressed streams first (:func:`ingestion.pdf.check_streams`);
* streams its results back as JSON lines on a private pipe (page by page, so the parent can show
  progress and enforce ``parse_page_timeout_s`` per page), never pickles: a child compromised by
  a malicious PDF can send wrong text but cannot run code in the parent.

The parent turns every way the child can end into one :class:`~backend.errors.PdfError`: a
``PdfError`` the child raised (same kind and message), a ``MemoryError`` or an abort (PDFium's
out-of-memory exit) → :class:`~backend.errors.PdfBomb` ("expands past N MB"), no progress in time
or ``SIGXCPU`` → :class:`~backend.errors.PdfTimeout`, any other crash → ``CorruptPdf``. The child's
peak memory (its worker's ``ru_maxrss``, see :func:`child_main`) is logged and kept in
:attr:`ChildRun.peak_mb`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from backend.errors import CorruptPdf, PdfBomb, PdfError, PdfTimeout
from backend.records import Cell, Fact, StatementCheck, Table, TableRow
from backend.settings import PROJECT_ROOT, Settings
from ingestion.pdf import Page

log = logging.getLogger(__name__)

#: Largest JSON line the parent accepts from the child (one page's text is far smaller).
MAX_LINE = 16 << 20


@dataclass(frozen=True)
class Limits:
    """What a PDF child process may use (from :class:`~backend.settings.Settings`)."""

    memory_mb: int = 1024
    max_stream_mb: int = 256
    page_timeout_s: float = 300.0
    timeout_s: float = 7200.0
    ocr: str = "rapidocr"

    #: the setting each limit comes from
    SETTINGS: ClassVar[dict[str, str]] = {
        "memory_mb": "parse_memory_mb", "max_stream_mb": "max_stream_mb",
        "page_timeout_s": "parse_page_timeout_s", "timeout_s": "parse_timeout_s", "ocr": "ocr",
    }  # fmt: skip

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(**{limit: getattr(settings, name) for limit, name in cls.SETTINGS.items()})


@dataclass
class ChildRun:
    """What one child run used: peak resident memory (MB) and wall seconds."""

    peak_mb: float = 0.0
    seconds: float = 0.0
    pages_by_ocr: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# --- the parent's side -----------------------------------------------------------------------
def read_pages(
    path: Path,
    limits: Limits,
    *,
    max_pages: int | None = None,
    progress: Callable[[int], None] | None = None,
    run: ChildRun | None = None,
) -> list[Page]:
    """Every page of ``path`` read by a child process (OCR where a page has no text layer)."""
    pages: list[Page] = []
    args = {"path": str(Path(path).absolute()), "max_pages": max_pages, "ocr": limits.ocr}
    for msg in _run_child("pages", args, limits, Path(path).name, run):
        if "page" in msg:
            page = Page(int(msg["page"]), str(msg["text"]), bool(msg.get("ocr")))
            pages.append(page)
            if run is not None and page.ocr:
                run.pages_by_ocr += 1
            if progress is not None:
                progress(page.number)
    return pages


def extract_facts(
    pages: list[Page],
    limits: Limits,
    *,
    doc_id: str,
    company: str,
    language: str,
    fiscal_year: int | None,
    pdf_path: Path,
    run: ChildRun | None = None,
) -> tuple[list[Fact], list[StatementCheck]]:
    """:func:`ingestion.facts.extract_facts` in a child process. Facts are optional: a child
    that fails (limits, crash) is logged and the report ingests without facts."""
    args = {
        "pages": [[p.number, p.text] for p in pages],
        "doc_id": doc_id,
        "company": company,
        "language": language,
        "fiscal_year": fiscal_year,
        "path": str(Path(pdf_path).absolute()),
    }
    try:
        facts: list[Fact] = []
        checks: list[StatementCheck] = []
        for msg in _run_child("facts", args, limits, Path(pdf_path).name, run):
            if "facts" in msg:  # read to the end: the child's last line is its peak memory
                facts = [Fact(**f) for f in msg["facts"]]
                checks = [StatementCheck(**c) for c in msg["checks"]]
        return facts, checks
    except PdfError as err:
        log.warning("facts were not extracted: %s", err)
    return [], []


def extract_tables(
    pages: list[Page], limits: Limits, *, language: str, pdf_path: Path, run: ChildRun | None = None
) -> list[Table]:
    """:func:`ingestion.tables.extract_tables` in a child process. Tables are optional like the
    facts: a child that fails is logged and the report ingests without them."""
    args = {
        "pages": [[p.number, p.text] for p in pages],
        "language": language,
        "path": str(Path(pdf_path).absolute()),
    }
    try:
        tables: list[Table] = []
        for msg in _run_child("tables", args, limits, Path(pdf_path).name, run):
            if "tables" in msg:  # read to the end, as for the facts
                tables = [table_from_dict(t) for t in msg["tables"]]
        return tables
    except PdfError as err:
        log.warning("tables were not extracted: %s", err)
    return []


def table_from_dict(d: dict[str, Any]) -> Table:
    """A :class:`Table` from its ``asdict`` form (the child's JSON)."""
    rows = [
        TableRow(r["label"], list(r["path"]), [Cell(**c) for c in r["cells"]]) for r in d["rows"]
    ]
    return Table(**{**d, "rows": rows})


def render_page(
    path: Path, page: int, terms: tuple[str, ...], scale: float, limits: Limits
) -> tuple[bytes, int]:
    """PNG of a 1-based page with ``terms`` boxed (see :mod:`ingestion.render`), rendered by a
    child process; and how many boxes were drawn."""
    args = {"path": str(Path(path).absolute()), "page": page, "terms": list(terms), "scale": scale}
    found: tuple[bytes, int] | None = None
    for msg in _run_child("render", args, limits, Path(path).name, None):
        if "png" in msg:
            found = base64.b64decode(msg["png"]), int(msg["boxes"])
    if found is None:
        raise CorruptPdf(Path(path).name, "the PDF reader returned no image")
    return found


def _run_child(
    task: str, args: dict[str, Any], limits: Limits, file: str, run: ChildRun | None
) -> Iterator[dict[str, Any]]:
    """Start the child, yield its messages; raise the PdfError its end means."""
    request = json.dumps({"task": task, "args": args, "limits": asdict(limits)}).encode()
    started = time.monotonic()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingestion.sandbox"],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,  # Ctrl-C in a terminal reaches the parent only
        )
        status, peak_mb, error, finished = None, 0.0, None, False
        own_peak = None
        try:
            _send(proc, request)
            for msg in _messages(proc, limits, file, started):
                if "error" in msg:
                    error = msg["error"]
                elif "peak_mb" in msg:
                    own_peak = float(msg["peak_mb"])
                elif "log" in msg:
                    level, name, text = msg["log"]
                    logging.getLogger(str(name)).log(int(level), "%s", text)
                else:
                    yield msg
            finished = True
        finally:  # on a timeout, an error or Ctrl-C in the parent the child is killed at once
            status, peak_mb = _reap(proc, grace_s=10.0 if finished else 0.0)
            # the parent's wait4 also counts the memory it had itself before the exec (a server
            # holding a model shows GBs): the child's report of its worker, when it sent one
            peak_mb = own_peak if own_peak is not None else peak_mb
            if run is not None:
                run.peak_mb = max(run.peak_mb, peak_mb)
                run.seconds += time.monotonic() - started
        log.debug("%s child for %s: peak %.0f MB, status %s", task, file, peak_mb, status)
        if error is not None:
            raise _child_error(error, file, limits)
        if status != 0:
            stderr.seek(0)
            tail = stderr.read()[-2000:].decode("utf-8", "replace")
            raise _death(status, file, limits, tail)


def _send(proc: subprocess.Popen[bytes], request: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except BrokenPipeError:  # died at start: its exit status says why
        pass


def _messages(
    proc: subprocess.Popen[bytes], limits: Limits, file: str, started: float
) -> Iterator[dict[str, Any]]:
    """JSON lines from the child's stdout; kills it when a page or the whole run takes too long."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    buf = b""
    last = started
    try:
        while True:
            now = time.monotonic()
            if now - last > limits.page_timeout_s:
                raise PdfTimeout(file, "one page", limits.page_timeout_s)
            if now - started > limits.timeout_s:
                raise PdfTimeout(file, "the whole file", limits.timeout_s)
            if not sel.select(timeout=min(1.0, limits.page_timeout_s)):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            buf += chunk
            if len(buf) > MAX_LINE and b"\n" not in buf:
                raise CorruptPdf(file, "the PDF reader sent an oversized reply")
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    msg = json.loads(line)
                except ValueError:
                    msg = None
                if not isinstance(msg, dict):
                    raise CorruptPdf(file, "the PDF reader sent a malformed reply")
                if "log" not in msg:
                    last = time.monotonic()
                yield msg
    finally:
        sel.close()


def _reap(proc: subprocess.Popen[bytes], grace_s: float) -> tuple[int, float]:
    """Wait up to ``grace_s`` for the child to exit, then kill it; (exit status, peak MB)."""
    if proc.stdout is not None:
        proc.stdout.close()
    deadline = time.monotonic() + grace_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() >= deadline:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def _child_error(error: dict[str, Any], file: str, limits: Limits) -> PdfError:
    kind = str(error.get("kind", "internal"))
    if kind == "memory":
        return PdfBomb(file, "reading it", limits.memory_mb)
    if kind == "internal":
        return CorruptPdf(file, f"the PDF reader failed: {str(error.get('detail', ''))[:300]}")
    return PdfError.restore(kind, file, str(error.get("detail", "")), error.get("fields"))


def _death(status: int, file: str, limits: Limits, stderr: str) -> PdfError:
    """The error a child's exit status means (it sent no error of its own)."""
    if status == -signal.SIGXCPU:
        return PdfTimeout(file, "CPU time", limits.timeout_s)
    # PDFium aborts when an allocation fails; the kernel's OOM killer sends SIGKILL
    if status in (-signal.SIGABRT, -signal.SIGKILL) or "MemoryError" in stderr:
        return PdfBomb(file, "reading it", limits.memory_mb)
    name = signal.Signals(-status).name if status < 0 else f"exit status {status}"
    log.warning("the PDF child process for %s ended with %s: %s", file, name, stderr[-500:])
    return CorruptPdf(file, f"the PDF reader crashed on it ({name})")


# --- the child's side ------------------------------------------------------------------------
class _Emitter:
    def __init__(self, out: Any) -> None:
        self._out = out

    def __call__(self, msg: dict[str, Any]) -> None:
        self._out.write(json.dumps(msg, ensure_ascii=False).encode() + b"\n")
        self._out.flush()


class _LogToParent(logging.Handler):
    def __init__(self, emit: _Emitter) -> None:
        super().__init__(logging.INFO)
        self._emit = emit

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit({"log": [record.levelno, record.name, record.getMessage()]})
        except Exception:  # noqa: BLE001 - logging must not end the child
            pass


def _task_pages(args: dict[str, Any], limits: dict[str, Any]) -> Iterator[dict[str, Any]]:
    from ingestion.ocr import make_ocr
    from ingestion.pdf import check_file, check_streams
    from ingestion.pdf import read_pages as read_in_process

    path = Path(args["path"])
    check_file(path)
    check_streams(path, int(limits["max_stream_mb"]))
    ocr = make_ocr(str(args.get("ocr") or "off"))
    for page in read_in_process(path, max_pages=args.get("max_pages"), ocr=ocr):
        yield {"page": page.number, "text": page.text, "ocr": page.ocr}


def _task_facts(args: dict[str, Any], limits: dict[str, Any]) -> Iterator[dict[str, Any]]:
    from ingestion.facts import extract_facts as extract_in_process

    facts, checks = extract_in_process(
        [Page(int(n), str(t)) for n, t in args["pages"]],
        doc_id=args["doc_id"],
        company=args["company"],
        language=args["language"],
        fiscal_year=args["fiscal_year"],
        pdf_path=Path(args["path"]),
    )
    yield {"facts": [asdict(f) for f in facts], "checks": [asdict(c) for c in checks]}


def _task_tables(args: dict[str, Any], limits: dict[str, Any]) -> Iterator[dict[str, Any]]:
    from ingestion.tables import extract_tables as extract_in_process

    tables = extract_in_process(
        Path(args["path"]), [Page(int(n), str(t)) for n, t in args["pages"]], args["language"]
    )
    yield {"tables": [asdict(t) for t in tables]}


def _task_render(args: dict[str, Any], limits: dict[str, Any]) -> Iterator[dict[str, Any]]:
    from ingestion.pdf import check_file, check_streams
    from ingestion.render import draw_page

    path = Path(args["path"])
    check_file(path)
    check_streams(path, int(limits["max_stream_mb"]))
    png, boxes = draw_page(str(path), int(args["page"]), tuple(args["terms"]), float(args["scale"]))
    yield {"png": base64.b64encode(png).decode("ascii"), "boxes": boxes}


TASKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Iterator[dict[str, Any]]]] = {
    "pages": _task_pages,
    "facts": _task_facts,
    "tables": _task_tables,
    "render": _task_render,
}


def _limit_self(limits: dict[str, Any]) -> None:
    memory = int(limits["memory_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    cpu = int(float(limits["timeout_s"]) * max(1, len(os.sched_getaffinity(0)))) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _die_with_parent() -> None:
    """Linux: SIGKILL this child when the process that started it dies (kill -9 of a CLI)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl
            os._exit(1)
    except (OSError, AttributeError):
        pass


def child_main() -> int:
    """Entry of ``python -m ingestion.sandbox``: one request on stdin, JSON lines on stdout.

    The limits are set here, then the work runs in a forked worker; this process only waits for
    it and reports its peak memory (``wait4``'s ``ru_maxrss`` of the worker, which counts this
    small process's pages but not the parent's: the kernel carries a process's high-water mark
    across ``exec``, so the parent's own ``wait4`` would count a server holding a model). A worker
    that dies (PDFium's abort, ``SIGXCPU``) ends this process with the same signal, after the
    peak is sent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    out = os.dup(1)
    os.dup2(2, 1)  # stray prints of libraries go to stderr, not into the protocol
    request = json.loads(sys.stdin.buffer.read())
    _limit_self(request["limits"])
    pid = os.fork()
    if pid == 0:
        _die_with_parent()
        os._exit(_work(request, _Emitter(os.fdopen(out, "wb"))))
    _, status, usage = os.wait4(pid, 0)
    _Emitter(os.fdopen(out, "wb"))({"peak_mb": usage.ru_maxrss / 1024})
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.waitstatus_to_exitcode(status)


def _work(request: dict[str, Any], emit: _Emitter) -> int:
    """The worker: run the task, send its messages; every error becomes one message."""
    root = logging.getLogger()
    root.handlers[:] = [_LogToParent(emit)]
    root.setLevel(logging.INFO)
    try:
        for msg in TASKS[request["task"]](request["args"], request["limits"]):
            emit(msg)
    except PdfError as err:
        emit({"error": {"kind": err.kind, "detail": err.detail, "fields": err.fields}})
    except MemoryError:
        emit({"error": {"kind": "memory"}})
    except Exception as err:  # noqa: BLE001 - reported to the parent as one line
        emit({"error": {"kind": "internal", "detail": f"{type(err).__name__}: {err}"}})
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
