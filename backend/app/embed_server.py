"""``python -m backend serve-embeddings``: the bundled embedder behind an OpenAI-compatible
``POST /v1/embeddings``, so that a team can embed on a bigger (GPU) machine and point every
Annalyst at it with ``ANNALYST_EMBEDDER=openai`` and ``ANNALYST_EMBED_BASE_URL``.

* ``POST /v1/embeddings`` ``{"input": str | [str], "model": ..., "encoding_format": "float" |
  "base64"}`` → ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
  "model", "usage"}`` (base64: little-endian float32, what the ``openai`` client asks for);
* ``GET /v1/models`` — the one model served.

Only ``python -m backend serve-embeddings`` imports this module (FastAPI is imported at its top:
the endpoints' annotations must resolve).

Access as the API's (:func:`backend.app.api.check_bind`): with ``ANNALYST_API_TOKEN`` set every
request needs ``Authorization: Bearer <token>``; without one it serves on a loopback address only.
"""

from __future__ import annotations

import base64
import hmac
import logging
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request

from backend.settings import Settings
from backend.store.embeddings import Embedder

log = logging.getLogger(__name__)

#: texts one request may carry (OpenAI's own limit is 2,048)
MAX_INPUTS = 2048


def create_embedding_app(embedder: Embedder, model: str, token: str = "") -> Any:
    """The FastAPI app around ``embedder`` (vectors as :meth:`Embedder.embed_documents` gives
    them: L2-normalised float32)."""
    app = FastAPI(title="Annalyst embeddings", docs_url=None, redoc_url=None)

    def authorize(request: Request) -> None:
        if not token:
            return
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise HTTPException(401, "a valid Bearer token (ANNALYST_API_TOKEN) is required")

    @app.get("/v1/models")
    def models(request: Request) -> dict[str, Any]:
        authorize(request)
        return {
            "object": "list",
            "data": [{"id": model, "object": "model", "owned_by": "annalyst"}],
        }

    @app.post("/v1/embeddings")
    def embeddings(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        authorize(request)
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise HTTPException(400, "'input' must be a string or a list of strings")
        if len(texts) > MAX_INPUTS:
            raise HTTPException(400, f"at most {MAX_INPUTS} inputs per request")
        vecs = np.asarray(embedder.embed_documents(texts), dtype="<f4")
        b64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.tobytes()).decode() if b64 else v.tolist(),
            }
            for i, v in enumerate(vecs)
        ]
        n = sum(len(t.split()) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": n, "total_tokens": n},
        }

    return app


def serve_embeddings(settings: Settings, model: str, host: str, port: int, device: str) -> None:
    """Load ``model`` (a local embedder: 'minilm', 'e5-multilingual' or a folder) and serve it
    until interrupted (refuses a non-loopback address without a token first)."""
    import uvicorn

    from backend.app.auth import is_loopback
    from backend.errors import EmbedderUnavailable, UnsafeServe
    from backend.store.embeddings import make_embedder

    if model == "openai":
        raise EmbedderUnavailable(
            "serve-embeddings serves a local model: pass --model minilm (or e5-multilingual, or a "
            "sentence-transformers folder)."
        )
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not token and not is_loopback(host):
        raise UnsafeServe(host)
    s = settings
    embedder = make_embedder(
        model, s.embed_batch_size, threads=s.embed_threads, precision=s.embed_precision,
        device=device,
    )  # fmt: skip
    print(
        "Point Annalyst at this server with:\n"
        f"  ANNALYST_EMBEDDER=openai ANNALYST_EMBED_BASE_URL=http://{host}:{port}/v1 "
        f"ANNALYST_EMBED_MODEL={embedder.name}",
        flush=True,
    )
    uvicorn.run(create_embedding_app(embedder, embedder.name, token), host=host, port=port)
