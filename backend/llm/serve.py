"""``python -m backend serve-model``: llama.cpp's OpenAI-compatible server on the model that answers.

The server is llama-cpp-python's own (``python -m llama_cpp.server``, installed with
llama-cpp-python[server]); it is started on the registry's active version (its GGUF, or the base
GGUF with ``--lora_path`` for a LoRA version), else the configured ``chat_model``, so that
``ANNALYST_LLM_BACKEND=openai`` answers with the same model as the in-process backend. A version
activated later reaches the server when ``serve-model`` is started again (it reads the registry at
start; a llama.cpp server loads one model for its life).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from backend.llm.clients import ModelInfo, local_target
from backend.settings import Settings


@dataclass(frozen=True)
class ModelServer:
    """The command that serves the model, and the settings that point Annalyst at it."""

    argv: list[str]
    alias: str
    info: ModelInfo
    base_url: str

    def client_settings(self) -> dict[str, str]:
        """``ANNALYST_*`` variables for the app and CLIs that should use this server."""
        return {
            "ANNALYST_LLM_BACKEND": "openai",
            "ANNALYST_OPENAI_BASE_URL": self.base_url,
            "ANNALYST_OPENAI_MODEL": self.alias,
            # llama-cpp-python's server enforces only its own json_object + schema form
            "ANNALYST_OPENAI_RESPONSE_FORMAT": "llama_cpp",
        }


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
    ]  # fmt: skip
    if info.adapter:
        argv += ["--lora_path", info.adapter]
    return ModelServer(argv, alias, info, f"http://{host}:{port}/v1")
