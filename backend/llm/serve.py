"""``python -m backend serve-model``: llama.cpp's OpenAI-compatible server on the model that answers,
following the model registry.

The engine is llama-cpp-python's own server (``python -m llama_cpp.server``, installed with
llama-cpp-python[server]), started on the registry's active version (its GGUF, or the base GGUF
with ``--lora_path`` for a LoRA version), else the configured ``chat_model``, so that
``ANNALYST_LLM_BACKEND=openai`` answers with the same model as the in-process backend.

A llama.cpp server loads one model for its life, so ``serve-model`` supervises it
(:class:`ModelSupervisor`): the engine listens on a private loopback port, and a small proxy on the
public port forwards to it. Every ``poll_s`` (2 s) the supervisor reads the registry; when the
active version changes (activation or rollback, on the admin page or the CLI) it stops admitting
requests, lets the ones under way finish (at most ``drain_s``), stops the engine, starts it on the
new version and admits requests again. Requests that arrive meanwhile wait for the new model (at
most ``wait_s``, then a 503 that says what is loading); none is answered by the previous model.
``GET /v1/models`` names the version served; a request may name it, ``annalyst`` (whatever is
active) or no model; one naming another model gets a 404 that says what is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from backend.errors import AnnalystError
from backend.llm.clients import ModelInfo, local_target
from backend.settings import Settings

log = logging.getLogger(__name__)

#: the model name that follows the registry (what ``serve-model`` tells clients to ask for)
FOLLOW = "annalyst"
#: model names a request may send besides the served one and FOLLOW (Annalyst's default setting)
_ANY = ("", "default", FOLLOW)
_HOP_BY_HOP = {
    "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host",
    "content-length", "proxy-authorization", "proxy-authenticate",
}  # fmt: skip


@dataclass(frozen=True)
class ModelServer:
    """The command that serves the model, and the settings that point Annalyst at it."""

    argv: list[str]
    alias: str
    info: ModelInfo
    base_url: str

    def client_settings(self, model: str = "") -> dict[str, str]:
        """``ANNALYST_*`` variables for the app and CLIs that should use this server."""
        return {
            "ANNALYST_LLM_BACKEND": "openai",
            "ANNALYST_OPENAI_BASE_URL": self.base_url,
            "ANNALYST_OPENAI_MODEL": model or self.alias,
            # llama-cpp-python's server enforces only its own json_object + schema form
            "ANNALYST_OPENAI_RESPONSE_FORMAT": "llama_cpp",
        }

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the model served: GGUF, version, adapter."""
        return (self.argv[self.argv.index("--model") + 1], self.info.version, self.info.adapter)

    def describe(self) -> str:
        adapter = f" + LoRA {self.info.adapter}" if self.info.adapter else ""
        return f"{self.info.label()}{adapter} from {self.key[0]}"


def model_server(
    settings: Settings, host: str = "127.0.0.1", port: int = 8080, n_ctx: int | None = None
) -> ModelServer:
    """The llama_cpp.server command for the model that answers now (registry first)."""
    path, info = local_target(settings)
    # a registry version is served under its version; a bundled or configured model by its name
    label = info.version if info.version not in ("", "bundled") else info.name
    alias = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "annalyst"
    threads = settings.threads()
    argv = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path),
        "--model_alias", alias,
        "--host", host,
        "--port", str(port),
        "--n_ctx", str(n_ctx or settings.n_ctx),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
        "--verbose", "false",  # llama.cpp's load log: thousands of lines a model
    ]  # fmt: skip
    if info.adapter:
        argv += ["--lora_path", info.adapter]
    return ModelServer(argv, alias, info, f"http://{host}:{port}/v1")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _libc() -> Any:
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - not glibc Linux
        return None


_LIBC = _libc()  # loaded here: the child must not import or load anything between fork and exec


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """The engine gets SIGTERM when serve-model ends, even by SIGKILL (Linux)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class _Engine:
    server: ModelServer
    proc: subprocess.Popen
    url: str  # http://127.0.0.1:<private port>


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class ModelSupervisor:
    """The public endpoint of ``serve-model``: a proxy to a llama.cpp server that it restarts on
    the registry's active version whenever that changes (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int = 8080,
        n_ctx: int | None = None,
        *,
        poll_s: float = 2.0,
        wait_s: float = 240.0,
        drain_s: float = 120.0,
        load_s: float = 300.0,
    ) -> None:
        self.settings, self.host, self.port, self.n_ctx = settings, host, port, n_ctx
        self.poll_s, self.wait_s, self.drain_s, self.load_s = poll_s, wait_s, drain_s, load_s
        self.engine: _Engine | None = None
        self.key: tuple[str, ...] | None = None  # the target of the last switch, loaded or not
        self.loading = ""  # what is being loaded; requests wait meanwhile
        self.error = ""  # why nothing is served (a failed load, a damaged registry)
        self._inflight = 0
        self._cond: asyncio.Condition | None = None
        self._stopping = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # --- the engine ----------------------------------------------------------------------------
    def target(self) -> tuple[tuple[str, ...], ModelServer | None, str]:
        """(key, engine command, error) for the model the registry says should answer now."""
        try:
            server = model_server(self.settings, "127.0.0.1", 0, self.n_ctx)
        except AnnalystError as err:
            return ("error", str(err)), None, str(err)
        return server.key, server, ""

    async def switch(self, key: tuple[str, ...], server: ModelServer | None, error: str) -> None:
        """Stop admitting requests, drain, stop the engine, start it on ``server``."""
        assert self._cond is not None
        async with self._cond:
            self.loading = server.describe() if server else "(none)"
            self.error = ""
            if self._inflight:
                log.info("waiting for %d request(s) on the previous model", self._inflight)
            try:
                await asyncio.wait_for(
                    self._cond.wait_for(lambda: self._inflight == 0), self.drain_s
                )
            except TimeoutError:
                log.warning("cutting %d request(s) still on the previous model", self._inflight)
            old, self.engine = self.engine, None
        if old is not None:
            log.info("stopping the model server on %s", old.server.describe())
            await asyncio.to_thread(_stop, old.proc)
        self.key = key
        engine = None
        if server is None:
            log.error("no model is served: %s", error)
        else:
            log.info("loading %s", server.describe())
            try:
                engine, error = await self._start(server)
            except OSError as err:  # the engine cannot even be started
                engine, error = None, f"llama.cpp's server could not be started ({err})."
        async with self._cond:
            self.engine, self.error, self.loading = engine, error, ""
            self._cond.notify_all()
        if engine is not None:
            print(f"serving {engine.server.describe()} as {engine.server.alias}", flush=True)

    async def _start(self, server: ModelServer) -> tuple[_Engine | None, str]:
        import httpx

        port = _free_port()
        argv = list(server.argv)
        argv[argv.index("--port") + 1] = str(port)
        threads = str(self.settings.threads())  # the cores free now that the old engine is gone
        for flag in ("--n_threads", "--n_threads_batch"):
            argv[argv.index(flag) + 1] = threads
        started = time.monotonic()
        # its own session: a Ctrl-C reaches serve-model, which stops it (after the requests)
        proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() - started < self.load_s and proc.poll() is None:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/v1/models")).status_code == 200:
                        log.info("loaded in %.1f s", time.monotonic() - started)
                        return _Engine(server, proc, url), ""
                await asyncio.sleep(0.3)
        code = proc.poll()
        await asyncio.to_thread(_stop, proc)
        why = f"it exited with code {code}" if code is not None else f"not ready in {self.load_s} s"
        return None, (
            f"llama.cpp's server could not load {server.describe()} ({why}; its log is above). "
            "Run `python -m training rollback` to go back to the previous model."
        )

    async def watch(self) -> None:
        """Follow the registry: switch when the active version changes or the engine dies."""
        while not self._stopping:
            await asyncio.sleep(self.poll_s)
            try:
                key, server, error = await asyncio.to_thread(self.target)
            except Exception:  # e.g. an unreadable data dir: keep serving, try again
                log.exception("could not read the model registry")
                continue
            died = self.engine is not None and self.engine.proc.poll() is not None
            if died:
                log.error(
                    "the model server exited (code %s); starting it again",
                    self.engine.proc.returncode,
                )
            if key != self.key or died:
                if key != self.key:
                    log.info("the registry's active model changed: switching")
                await self.switch(key, server, error)

    async def stop(self) -> None:
        self._stopping = True
        if self.engine is not None:
            await asyncio.to_thread(_stop, self.engine.proc)

    # --- requests ------------------------------------------------------------------------------
    async def admit(self) -> _Engine:
        """The engine to forward to, counted in flight; waits while a model loads."""
        assert self._cond is not None
        async with self._cond:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._cond.wait_for(
                        lambda: not self.loading and bool(self.engine or self.error)
                    ),
                    self.wait_s,
                )
            if self.engine is None or self.loading:
                if self.loading:
                    raise _Refused(
                        503,
                        f"serve-model is switching to {self.loading}; retry shortly.",
                        "model_loading",
                    )
                raise _Refused(503, f"No model is served: {self.error}", "model_unavailable")
            self._inflight += 1
            return self.engine

    async def release(self) -> None:
        assert self._cond is not None
        async with self._cond:
            self._inflight -= 1
            self._cond.notify_all()

    def models(self, engine: _Engine) -> dict[str, Any]:
        info = engine.server.info
        return {
            "object": "list",
            "data": [
                {
                    "id": engine.server.alias,
                    "object": "model",
                    "owned_by": "annalyst",
                    "annalyst": {
                        "version": info.version,
                        "label": info.label(),
                        "model": engine.server.key[0],
                        "adapter": info.adapter,
                        "follow": FOLLOW,
                    },
                }
            ],
        }

    def app(self) -> Any:
        """The public ASGI app: ``GET /v1/models`` answered here, everything else forwarded."""
        import httpx
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response, StreamingResponse
        from starlette.routing import Route

        client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10))

        def refusal(err: _Refused) -> Response:
            body = {
                "error": {"message": str(err), "type": "invalid_request_error", "code": err.code}
            }
            headers = {"Retry-After": "5"} if err.status == 503 else None
            return JSONResponse(body, status_code=err.status, headers=headers)

        async def forward(request: Request) -> Response:
            body = await request.body()
            try:
                engine = await self.admit()
            except _Refused as err:
                return refusal(err)
            if request.url.path.rstrip("/") == "/v1/models" and request.method == "GET":
                await self.release()
                return JSONResponse(self.models(engine))
            try:
                body = self._rename(engine, body)
                headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream = client.build_request(
                    request.method, engine.url + request.url.path, params=request.query_params,
                    headers=headers, content=body,
                )  # fmt: skip
                resp = await client.send(upstream, stream=True)
            except _Refused as err:
                await self.release()
                return refusal(err)
            except httpx.HTTPError as err:  # the engine died under the request
                await self.release()
                why = f"The model server behind serve-model did not answer ({err}); retry shortly."
                return refusal(_Refused(502, why, "model_server_error"))
            except BaseException:
                await self.release()
                raise

            async def relay() -> Any:
                try:
                    async for chunk in resp.aiter_raw():
                        yield chunk
                finally:
                    await self.release()
                    await resp.aclose()

            out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP_BY_HOP}
            return StreamingResponse(relay(), status_code=resp.status_code, headers=out)

        @contextlib.asynccontextmanager
        async def lifespan(app: Any) -> Any:
            watcher = asyncio.create_task(self.watch())
            yield
            # on shutdown (uvicorn re-raises SIGINT/SIGTERM only after this has run)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await self.stop()
            await client.aclose()

        methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
        routes = [Route("/{path:path}", forward, methods=methods)]
        return Starlette(routes=routes, lifespan=lifespan)

    def _rename(self, engine: _Engine, body: bytes) -> bytes:
        """The request's model, checked and replaced by the served alias."""
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return body
        if not isinstance(data, dict) or "model" not in data:
            return body
        asked, served = str(data.get("model") or ""), engine.server.alias
        if asked not in (*_ANY, served):
            raise _Refused(
                404,
                f"Model {asked!r} is not served here: serve-model serves {served} (the registry's "
                f"active model, {engine.server.info.label()}). Ask for {served!r}, or {FOLLOW!r} "
                "for whichever version is active.",
                "model_not_found",
            )
        data["model"] = served
        return json.dumps(data).encode()

    async def run(self) -> None:
        """Load the active model, then serve until SIGINT/SIGTERM; follow the registry meanwhile."""
        import uvicorn

        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per forwarded request
        self._cond = asyncio.Condition()
        key, server, error = self.target()
        if server is None:
            raise AnnalystError(error)
        await self.switch(key, server, error)
        if self.engine is None:
            raise AnnalystError(self.error)
        config = uvicorn.Config(self.app(), host=self.host, port=self.port, log_level="info")
        try:
            await uvicorn.Server(config).serve()
        finally:
            await self.stop()  # the lifespan did, unless uvicorn could not start


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
