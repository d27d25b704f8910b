"""Chat LLMs: in-process llama.cpp on a GGUF, or an OpenAI-compatible HTTP server.

Interface: ``LLM.stream(messages, ...) -> Iterator[str]`` (text pieces as they are generated);
a ``usage`` dict passed in is filled when the generation ends: ``prompt_read``, the prompt tokens
the model actually read — the rest came from its KV cache (the fixed prefix of rules and examples
is read once and reused by every later question);
``json_schema`` constrains the output to a JSON document of that schema (llama.cpp grammar in
process; ``response_format`` over HTTP), which is how the agent's tool calls stay well-formed with a
0.5–1.5B model.

:class:`LLMProvider` loads the model once per process and switches to a newly activated registry
version on the next question (no app restart).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.errors import LLMUnavailable, PromptTooLong, RegistryDamaged
from backend.settings import Settings

log = logging.getLogger(__name__)

Message = dict[str, str]


def estimate_tokens(text: str) -> int:
    """A cheap token estimate: ~4 characters a token in English, ~1.3 per Chinese character
    (Qwen2.5's tokenizer, measured on report text)."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return int(cjk / 1.3 + (len(text) - cjk) / 4) + 1


@dataclass(frozen=True)
class ModelInfo:
    """What the UI and the audit trail show about the model that answered."""

    name: str
    version: str
    backend: str
    path: str = ""
    #: the answer prompt carries the few-shot examples (a model tuned on the product's prompts
    #: does without them)
    few_shot: bool = True
    #: a LoRA adapter llama.cpp applies to the model at load time, and the base it tunes
    adapter: str = ""
    base: str = ""

    def label(self) -> str:
        """What answers say wrote them: "Annalyst 1.5B v1 (LoRA on Qwen2.5-Coder-1.5B-Instruct
        Q4_K_M)", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (bundled)"."""
        if self.adapter:
            where = ", ".join(x for x in (self.version, f"LoRA on {self.base}") if x)
            return f"{self.name} ({where})"
        return f"{self.name} ({self.version})" if self.version else self.name


@dataclass(frozen=True)
class Generation:
    """How to generate: token budget, temperature, stop strings, an optional JSON schema that
    the output must follow."""

    max_tokens: int = 256
    temperature: float = 0.0
    stop: list[str] | None = None
    json_schema: dict[str, Any] | None = None
    #: filled by the client when the generation ends (``prompt_read``: prompt tokens read anew)
    usage: dict[str, int] | None = None


class LLM:
    """A chat model: :meth:`stream` yields the answer's text pieces as they are generated."""

    info: ModelInfo

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        json_schema: dict[str, Any] | None = None,
        usage: dict[str, int] | None = None,
    ) -> Iterator[str]:
        return self.generate(
            messages, Generation(max_tokens, temperature, stop, json_schema, usage)
        )

    def generate(self, messages: list[Message], gen: Generation) -> Iterator[str]:
        raise NotImplementedError

    def count_prompt(self, messages: list[Message]) -> int:
        """Tokens of a chat prompt: exact where the model's tokenizer is at hand, else estimated
        (~4 characters a token in English, ~1.3 per Chinese character)."""
        return sum(self.count_tokens(m["content"]) + 8 for m in messages) + 16

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)


def complete(llm: LLM, messages: list[Message], **kwargs: Any) -> str:
    """The whole generated text (joins :meth:`LLM.stream`)."""
    return "".join(llm.stream(messages, **kwargs))


_CHAR_RULE = 'char ::= [^"\\\\]'
_STRICT_CHAR_RULE = 'char ::= [^"\\\\\\x00-\\x1F\\x7F]'


def json_grammar(schema: dict[str, Any]) -> Any:
    """llama.cpp grammar for ``schema``; strings may not contain raw control characters (the
    stock converter allows them, and a small model then writes newlines inside JSON strings)."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema))
    if _CHAR_RULE in gbnf:
        gbnf = gbnf.replace(_CHAR_RULE, _STRICT_CHAR_RULE)
    return LlamaGrammar.from_string(gbnf, verbose=False)


def _bounded_ram_cache(base: type, capacity_bytes: int) -> Any:
    """llama-cpp-python's RAM prompt cache, counting every byte a cached state holds.

    ``LlamaRAMCache`` bounds only the llama.cpp state; each entry also keeps a copy of the logits
    buffer (n_batch × vocab floats: 311 MB for Qwen2.5's 151,936-token vocabulary), which it does
    not count. Measured: an evaluation process grew from 2.8 to 9.7 GB over 18 questions with a
    "1 GiB" cache. Counting the arrays keeps the cache at its bound.
    """

    class BoundedRAMCache(base):  # type: ignore[misc, valid-type]
        @property
        def cache_size(self) -> int:
            return sum(
                s.llama_state_size
                + getattr(s.scores, "nbytes", 0)
                + getattr(s.input_ids, "nbytes", 0)
                for s in self.cache_state.values()
            )

    return BoundedRAMCache(capacity_bytes=capacity_bytes)


class LlamaCppLLM(LLM):
    """A GGUF run in-process by llama-cpp-python; the chat template comes from the GGUF."""

    def __init__(
        self,
        path: Path,
        info: ModelInfo,
        *,
        n_ctx: int,
        n_threads: int,
        cache_bytes: int = 1 << 30,
        lora_path: Path | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama, LlamaRAMCache
        except ImportError as err:  # pragma: no cover - installed by requirements.txt
            raise LLMUnavailable("llama-cpp-python is not installed: run `make setup`.") from err
        started = time.perf_counter()
        try:
            self._llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_batch=512,
                lora_path=str(lora_path) if lora_path else None,
                verbose=False,
            )
        except (ValueError, RuntimeError) as err:
            if info.version not in ("", "bundled"):  # a fine-tuned version from the registry
                raise RegistryDamaged(
                    f"llama.cpp could not load {path}, the model file of the active version "
                    f"{info.version} ({err}). Run `python -m training rollback` to go back to "
                    "the previous model."
                ) from err
            raise LLMUnavailable(
                f"llama.cpp could not load {path} ({err}). Check that it is a valid GGUF, or run "
                "`python -m backend models prepare`."
            ) from err
        # Keep KV states of recent prompts: the fixed system prompt and few-shot examples are
        # evaluated once and reused by later questions (prefix match).
        if cache_bytes > 0:
            self._llm.set_cache(_bounded_ram_cache(LlamaRAMCache, capacity_bytes=cache_bytes))
        self.load_seconds = time.perf_counter() - started
        self.info = info
        self.n_ctx = n_ctx
        self._lock = threading.Lock()  # one generation at a time per model instance
        self._template: Any = None  # the GGUF's chat template, compiled on first count

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_prompt(self, messages: list[Message]) -> int:
        """Exact: the prompt as the GGUF's own chat template renders it (what llama.cpp reads),
        in the model's tokenizer; estimated where the GGUF carries no template."""
        if self._template is None:
            template = self._llm.metadata.get("tokenizer.chat_template")
            if not template or self._llm.chat_format != "chat_template.default":
                return super().count_prompt(messages)
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._template = Jinja2ChatFormatter(
                template=template, eos_token=self._special(self._llm.token_eos()),
                bos_token=self._special(self._llm.token_bos()),
            )  # fmt: skip
        prompt = self._template(messages=messages).prompt
        return len(self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def _special(self, token: int) -> str:
        return "" if token < 0 else self._llm.detokenize([token], special=True).decode("utf-8")

    def generate(self, messages: list[Message], gen: Generation) -> Iterator[str]:
        grammar = json_grammar(gen.json_schema) if gen.json_schema is not None else None
        # leave the answer the room the window has left (a long Chinese prompt in a small
        # model's tokenizer can take most of it); too little room is a clear error
        prompt_tokens = self.count_prompt(messages)
        room = self.n_ctx - prompt_tokens
        if room < min(gen.max_tokens, 48):
            raise PromptTooLong(prompt_tokens, self.n_ctx)
        with self._lock:
            self._reset_counts()
            chunks = self._llm.create_chat_completion(
                messages=messages,
                max_tokens=min(gen.max_tokens, room),
                temperature=gen.temperature,
                top_k=1 if gen.temperature == 0 else 40,
                repeat_penalty=1.05,
                stop=gen.stop,
                grammar=grammar,
                stream=True,
            )
            for chunk in chunks:
                delta = chunk["choices"][0].get("delta", {})
                text = delta.get("content")
                if text:
                    yield text
            if gen.usage is not None:
                read = self._prompt_read()
                if read is not None:
                    gen.usage["prompt_read"] = read

    def _reset_counts(self) -> None:
        import llama_cpp

        llama_cpp.llama_perf_context_reset(self._llm.ctx)

    def _prompt_read(self) -> int | None:
        """Prompt tokens llama.cpp evaluated in the last generation (its own counter): the
        prompt less the prefix reused from the KV cache or the prompt cache."""
        import llama_cpp

        try:
            return int(llama_cpp.llama_perf_context(self._llm.ctx).n_p_eval)
        except (AttributeError, TypeError):  # pragma: no cover - a build without perf counters
            return None


def response_format(schema: dict[str, Any], form: str = "json_schema") -> dict[str, Any]:
    """The ``response_format`` that asks an OpenAI-compatible server for JSON of ``schema``.

    'json_schema': the standard form (OpenAI, vLLM, Ollama, llama.cpp's llama-server — which
    turns it into a grammar, tests/test_scale.py); 'llama_cpp': ``{"type": "json_object",
    "schema": ...}``, the one form llama-cpp-python's own server turns into a grammar (0.3.x: its
    request model knows only "text" and "json_object", and it answers a json_schema request with
    a 500, tests/test_scale.py). llama-server reads this form too.
    """
    if form == "llama_cpp":
        return {"type": "json_object", "schema": schema}
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "annalyst_output"))[:64]
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


class OpenAICompatLLM(LLM):
    """Any server speaking the OpenAI chat-completions API (llama.cpp server, vLLM, Ollama)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        timeout: float = 300.0,
        response_format: str = "json_schema",
    ) -> None:
        import httpx

        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )
        self._model = model
        self._form = response_format
        self.info = ModelInfo(name=model, version="", backend="openai", path=base_url)

    def generate(self, messages: list[Message], gen: Generation) -> Iterator[str]:
        import httpx

        body: dict[str, Any] = {
            "model": self._model,
            "messages": messages,
            "max_tokens": gen.max_tokens,
            "temperature": gen.temperature,
            "stream": True,
        }
        if gen.usage is not None:
            body["stream_options"] = {"include_usage": True}
        if gen.stop:
            body["stop"] = gen.stop
        if gen.json_schema is not None:
            body["response_format"] = response_format(gen.json_schema, self._form)
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise LLMUnavailable(self._refusal(resp.status_code, resp.text, body))
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if gen.usage is not None and chunk.get("usage"):
                        gen.usage.update(_served_usage(chunk["usage"]))
                    if not chunk.get("choices"):
                        continue  # the usage chunk at the end carries no choice
                    text = (chunk["choices"][0].get("delta") or {}).get("content")
                    if text:
                        yield text
        except httpx.HTTPError as err:
            raise LLMUnavailable(
                f"Cannot reach the model server at {self._client.base_url} ({err}). Start it or "
                "switch ANNALYST_LLM_BACKEND back to llama_cpp."
            ) from err

    def _refusal(self, status: int, text: str, body: dict[str, Any]) -> str:
        """What an error answer means and what to do about it."""
        fmt = body.get("response_format", {}).get("type")
        # llama-cpp-python 0.3's server answers 500 to a request its model does not validate
        if status in (400, 422, 500) and fmt == "json_schema" and "response_format" in text:
            return (
                f"The model server at {self._client.base_url} refused the standard json_schema "
                f"response_format ({status}: {text[:200]}). For llama-cpp-python's server set "
                "ANNALYST_OPENAI_RESPONSE_FORMAT=llama_cpp."
            )
        return (
            f"The model server answered {status}: {text[:300]}. Check ANNALYST_OPENAI_BASE_URL "
            "and ANNALYST_OPENAI_MODEL."
        )


def _served_usage(usage: dict[str, Any]) -> dict[str, int]:
    """``prompt_read`` from a server's usage record: its prompt tokens less those it reports as
    cached (OpenAI's ``prompt_tokens_details.cached_tokens``); nothing when it reports neither."""
    prompt = usage.get("prompt_tokens")
    if not isinstance(prompt, int):
        return {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return {"prompt_read": max(0, prompt - int(cached))}


class LLMProvider:
    """Creates the configured LLM once and swaps it when another model version is activated."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._llm: LLM | None = None
        self._key: tuple[str, str, str] | None = None
        #: evaluate exactly settings.chat_model, even when a registry version is active
        self.ignore_registry = False

    def _target(self) -> tuple[Path | None, ModelInfo]:
        s = self._settings
        if s.llm_backend == "openai":
            return None, ModelInfo(s.openai_model, "", "openai", s.openai_base_url)
        return local_target(s, ignore_registry=self.ignore_registry)

    def info(self) -> ModelInfo:
        return self._target()[1]

    def get(self) -> LLM:
        path, info = self._target()
        key = (str(path), info.version, info.adapter)
        with self._lock:
            if self._llm is None or key != self._key:
                self._llm = None  # free the old weights before loading new ones
                if path is None:
                    s = self._settings
                    self._llm = OpenAICompatLLM(
                        s.openai_base_url,
                        s.openai_model,
                        s.openai_api_key.get_secret_value(),
                        response_format=s.openai_response_format,
                    )
                else:
                    log.info("loading %s from %s", info.label(), path)
                    self._llm = LlamaCppLLM(
                        path,
                        info,
                        n_ctx=self._settings.n_ctx,
                        n_threads=self._settings.threads(),
                        cache_bytes=self._settings.prompt_cache_mb << 20,
                        lora_path=Path(info.adapter) if info.adapter else None,
                    )
                self._key = key
            return self._llm


#: ``chat_model = "version:<VERSION>"`` names a registry version, active or not (the gate).
VERSION_PREFIX = "version:"


def local_target(settings: Settings, *, ignore_registry: bool = False) -> tuple[Path, ModelInfo]:
    """The GGUF (and LoRA adapter, ``info.adapter``) that answers: a registry version named by
    ``chat_model = "version:<VERSION>"``, else the registry's active version, else a shipped
    adapter preset, else ``settings.chat_model``. ``python -m backend serve-model`` serves the
    same one over HTTP."""
    from backend.llm.bundled import BUNDLED, TUNED, resolve_gguf
    from backend.llm.registry import ModelRegistry

    s = settings
    if s.chat_model.startswith(VERSION_PREFIX):
        named = ModelRegistry(s.registry_dir).get(s.chat_model[len(VERSION_PREFIX) :])
        return version_target(s, named)
    active = None if ignore_registry else ModelRegistry(s.registry_dir).active()
    if active is not None:
        return version_target(s, active)
    tuned = TUNED.get(s.chat_model)
    if tuned is not None:  # an adapter shipped with Annalyst on a bundled base
        base = resolve_gguf(s.models_dir, tuned.base)
        return base, ModelInfo(
            tuned.title, tuned.version, "llama_cpp", str(base), False,
            str(tuned.adapter_path()), BUNDLED[tuned.base].title,
        )  # fmt: skip
    path = resolve_gguf(s.models_dir, s.chat_model)
    preset = BUNDLED.get(s.chat_model)
    name = preset.title if preset else path.name
    return path, ModelInfo(name, "bundled" if preset else "", "llama_cpp", str(path))


def version_target(settings: Settings, mv: Any) -> tuple[Path, ModelInfo]:
    """The GGUF and :class:`ModelInfo` of a registry version (a LoRA version: base + adapter)."""
    from backend.llm.bundled import BUNDLED, resolve_gguf

    if mv.adapter_of:
        base = resolve_gguf(settings.models_dir, mv.adapter_of)
        preset = BUNDLED.get(mv.adapter_of)
        return base, ModelInfo(
            mv.name, mv.version, "llama_cpp", str(base), mv.few_shot,
            str(mv.gguf_path), preset.title if preset else base.name,
        )  # fmt: skip
    return Path(mv.gguf_path), ModelInfo(
        mv.name, mv.version, "llama_cpp", str(mv.gguf_path), mv.few_shot
    )
