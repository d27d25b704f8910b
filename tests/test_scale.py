"""Scale-out, exercised (issue 17): a Chroma server shared by several app processes, structured
output from real OpenAI-compatible servers (llama-cpp-python's, and llama.cpp's llama-server,
which enforces the standard json_schema form), `serve-model` following the registry's active
version, and remote embeddings from `serve-embeddings`. Every server is a real one started by the
test."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from backend.app.services import build_services
from backend.errors import EmbeddingServerDown, LLMUnavailable
from backend.llm.clients import LLMProvider, OpenAICompatLLM, complete, response_format
from backend.llm.registry import ModelRegistry
from backend.llm.serve import model_server
from backend.settings import PROJECT_ROOT, Settings
from tests.conftest import AMCOR_8K, CORPUS, FOOTLOCKER_8K, MODELS, require
from tests.servers import ASK, SCHEMA, free_port, running

SMOL = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN_05 = MODELS / "qwen2.5-0.5b-instruct-q4_k_m.gguf"


def child_env(**extra: object) -> dict[str, str]:
    """The environment of an app process the test starts (one core each: the CPU is shared)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANNALYST_")}
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
        PYTHONPATH=str(PROJECT_ROOT), ANNALYST_MODELS_PATH=str(MODELS),
        ANNALYST_CORPUS_DIR=str(CORPUS), ANNALYST_EMBED_THREADS="1", ANNALYST_N_THREADS="1",
    )  # fmt: skip
    env.update({k: str(v) for k, v in extra.items()})
    return env


def answers(url: str) -> Callable[[], bool]:
    import httpx

    def ready() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    return ready


def cli(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", module, *args]
    return subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def last_line(text: str) -> str:
    return [x for x in text.splitlines() if x.strip()][-1]


# --- 1. Chroma server mode ---------------------------------------------------------------------
@pytest.mark.slow
def test_chroma_server_shared_by_app_processes(tmp_path: Path, corpus: Path) -> None:
    """Two ingestion processes write to one `chroma run` server at once; this process searches;
    a third removes a report and a fourth re-indexes one; then the server stops: keyword search
    goes on, saying why, and indexing stops with one line that says what to do."""
    import chromadb

    chroma = Path(sys.executable).parent / "chroma"
    require(chroma.is_file(), f"the chroma CLI is not installed next to {sys.executable}")
    port, data = free_port(), tmp_path / "data"
    env = child_env(ANNALYST_DATA_DIR=data, ANNALYST_CHROMA_MODE="http", ANNALYST_CHROMA_PORT=port,
                    ANNALYST_LOCK_TIMEOUT_S=600, ANNALYST_OCR="off")  # fmt: skip
    settings = Settings(data_dir=data, models_path=MODELS, corpus_dir=CORPUS, chroma_mode="http",
                        chroma_port=port, embed_threads=1)  # fmt: skip
    cmd = [str(chroma), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1",
           "--port", str(port)]  # fmt: skip
    heartbeat = answers(f"http://127.0.0.1:{port}/api/v2/heartbeat")
    with running(cmd, env, tmp_path / "chroma.log", heartbeat, 60):
        adds = [
            subprocess.Popen(
                [sys.executable, "-m", "ingestion", "add", str(pdf)],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for pdf in (FOOTLOCKER_8K, AMCOR_8K)
        ]
        outs = [p.communicate(timeout=600)[0] for p in adds]
        assert [p.returncode for p in adds] == [0, 0], outs
        services = build_services(settings)
        docs = {d.file_name: d for d in services.catalog.documents()}
        foot, amcor = docs[FOOTLOCKER_8K.name], docs[AMCOR_8K.name]
        server = chromadb.HttpClient(host="127.0.0.1", port=port)
        collection = server.get_collection("chunks-minilm")
        assert collection.count() == foot.chunks + amcor.chunks > 0
        for doc, query in ((foot, "Foot Locker annual meeting vote"), (amcor, "Amcor shares")):
            hits = services.retriever.search(query, doc_ids=[doc.doc_id], k=3, mode="vector")
            assert hits and {h.doc_id for h in hits} == {doc.doc_id}

        removed = cli("ingestion", "remove", foot.doc_id, env=env)
        assert removed.returncode == 0, removed.stderr
        assert collection.count() == amcor.chunks
        hits = services.retriever.search("Foot Locker annual meeting", k=5, mode="vector")
        assert hits and {h.doc_id for h in hits} == {amcor.doc_id}

        reindexed = cli("ingestion", "reindex", amcor.doc_id, env=env)
        assert reindexed.returncode == 0, reindexed.stderr
        assert collection.count() == services.catalog.document(amcor.doc_id).chunks
        assert services.retriever.search("Amcor shares", k=3, mode="vector")

    # the server is gone. This process still ranks the report's vectors from its in-memory copy;
    # an app started now answers from keyword search, saying why; indexing stops with one line
    assert services.retriever.search("Amcor shares", k=3, mode="vector")
    fresh = build_services(settings)
    hits = fresh.retriever.search("Amcor shares", k=3)
    assert hits and hits[0].doc_id == amcor.doc_id
    why = fresh.retriever.degraded
    assert why.startswith(f"Vector search is unavailable: The Chroma server at {server_url(port)}")
    assert "chroma run --path" in why and why.endswith("keyword search only.")
    failed = cli("ingestion", "add", str(FOOTLOCKER_8K), env=env)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr, failed.stderr[-3000:]
    line = last_line(failed.stderr)
    print(line)
    assert line.startswith(f"error: The Chroma server at {server_url(port)} does not answer")
    assert "ANNALYST_CHROMA_MODE=embedded" in line


def server_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


# --- 2. structured output against a real OpenAI-compatible server ---------------------------------
@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    require(importlib.util.find_spec("sse_starlette") is not None, "llama-cpp-python[server]")
    require(SMOL.is_file(), "SmolLM2 GGUF not prepared (python -m backend models prepare)")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(SMOL), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "1024", "--n_threads", "1",
           "--model_alias", "smol"]  # fmt: skip
    log = tmp_path_factory.mktemp("llama") / "server.log"
    ready = answers(f"{server_url(port)}/v1/models")
    # it logs a traceback for the json_schema request it refuses (a 500)
    with running(cmd, child_env(), log, ready, 120, clean_log=False):
        yield f"{server_url(port)}/v1"


def test_structured_output_standard_form_and_llama_cpp_fallback(llama_server: str) -> None:
    """json_schema is what the client sends by default (vLLM, Ollama, llama-server, OpenAI);
    llama-cpp-python 0.3's server refuses it (a 500: its request model knows only "text" and
    "json_object"), the refusal names the setting, and with the setting the tool call parses, every time."""
    sent = response_format(SCHEMA)
    assert sent == {
        "type": "json_schema",
        "json_schema": {"name": "annalyst_output", "schema": SCHEMA, "strict": True},
    }
    assert response_format(SCHEMA, "llama_cpp") == {"type": "json_object", "schema": SCHEMA}

    standard = OpenAICompatLLM(llama_server, "smol", "not-needed")
    with pytest.raises(LLMUnavailable, match="ANNALYST_OPENAI_RESPONSE_FORMAT=llama_cpp"):
        complete(standard, ASK, max_tokens=60, json_schema=SCHEMA)

    settings = Settings(llm_backend="openai", openai_base_url=llama_server, openai_model="smol",
                        openai_response_format="llama_cpp")  # fmt: skip
    llm = LLMProvider(settings).get()
    for _ in range(3):
        out = json.loads(complete(llm, ASK, max_tokens=120, json_schema=SCHEMA), strict=False)
        assert out["tool"] in {"calculate", "search_reports"}
        assert isinstance(out["args"]["expression"], str)


# --- 2b. the standard json_schema form against a server that enforces it: llama-server ----------
#: a reply SmolLM2 would never write unasked: only the grammar can make it
ODD = {
    "type": "object",
    "properties": {"verdict": {"enum": ["aardvark-7", "zeppelin-3"]}},
    "required": ["verdict"],
}
QUESTIONS = [
    "Compute 2 + 3 with the calculate tool. Reply in JSON.",
    "What was 3M's revenue in 2018? Search the reports.",
    "Net income was 120 and revenue 800: what is the net margin?",
]


@pytest.fixture(scope="module")
def llama_cpp_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """llama.cpp's own server (C++, `make llama-server` builds it once per machine) on SmolLM2."""
    from bench.llama_server import binary_path

    binary = binary_path()
    require(binary.is_file(), f"llama-server is not built at {binary} (make llama-server)")
    require(SMOL.is_file(), "SmolLM2 GGUF not prepared (python -m backend models prepare)")
    port = free_port()
    cmd = [str(binary), "-m", str(SMOL), "--host", "127.0.0.1", "--port", str(port),
           "-c", "2048", "-np", "1", "-t", "1", "--alias", "annalyst"]  # fmt: skip
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    # /v1/models answers 503 while the model loads
    with running(cmd, child_env(), log, answers(f"{server_url(port)}/v1/models"), 120):
        yield f"{server_url(port)}/v1"


def test_llama_server_enforces_the_standard_json_schema(llama_cpp_server: str) -> None:
    """Annalyst's default settings (json_schema, the OpenAI form) against llama.cpp's
    llama-server: the reply follows the schema — an enum the model never writes unasked, and the
    agent's own planning schema (anyOf of tool calls, bounded strings) — streamed through the
    client the app uses; llama-cpp-python's form is read too."""
    from backend.answering.prompts import PLANNER_TOOLS, plan_schema
    from backend.answering.tools import tool_definitions

    settings = Settings(llm_backend="openai", openai_base_url=llama_cpp_server,
                        openai_model="annalyst")  # fmt: skip
    assert settings.openai_response_format == "json_schema"
    llm = LLMProvider(settings).get()
    ask = [{"role": "user", "content": "Is the sky blue? Answer in one word."}]
    free = complete(llm, ask, max_tokens=40)
    assert free.strip() and "aardvark" not in free and "zeppelin" not in free, free
    assert json.loads(complete(llm, ask, max_tokens=40, json_schema=ODD)) in (
        {"verdict": "aardvark-7"},
        {"verdict": "zeppelin-3"},
    )

    schema = plan_schema(tool_definitions(), PLANNER_TOOLS)  # what the planner asks for
    branches = {b["properties"]["tool"]["const"]: b for b in schema["anyOf"]}
    for question in QUESTIONS:
        ask = [{"role": "user", "content": question}]
        plan = json.loads(complete(llm, ask, max_tokens=300, json_schema=schema))  # as the agent
        args = branches[plan["tool"]]["properties"].get("args", {})
        for name in args.get("required", []):
            value = plan["args"][name]
            assert isinstance(value, str) and len(value) <= args["properties"][name]["maxLength"]
        print(question, "->", plan)

    # usage: the prompt tokens the server read anew, less those it reused from its cache
    rules = {"role": "system", "content": "Answer from the annual report only. " * 12}
    reads = []
    for question in ("What was revenue?", "What was net income?"):
        usage: dict[str, int] = {}
        complete(llm, [rules, {"role": "user", "content": question}], max_tokens=4, usage=usage)
        reads.append(usage["prompt_read"])
    assert reads[0] > 60 and 0 < reads[1] < 20, reads

    legacy = OpenAICompatLLM(llama_cpp_server, "annalyst", "-", response_format="llama_cpp")
    out = json.loads(complete(legacy, ASK, max_tokens=120, json_schema=SCHEMA))
    assert out["tool"] in {"calculate", "search_reports"} and isinstance(
        out["args"]["expression"], str
    )


# --- 3. serve-model: the active registry version reaches the server ------------------------------
def _served(url: str) -> dict:
    """serve-model's /v1/models entry, {} while nothing is served (a 503)."""
    import httpx

    r = httpx.get(f"{url}/models", timeout=300)
    return r.json()["data"][0] if r.status_code == 200 else {}


def _chat(url: str, model: str) -> dict:
    import httpx

    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    r = httpx.post(f"{url}/chat/completions", json=body, timeout=300)
    return {"status": r.status_code, **r.json()}


def _stream(url: str, chunks: list[str]) -> None:
    """A long streamed answer; its server-sent events' data go to ``chunks``."""
    import httpx

    ask = [{"role": "user", "content": "Write a long story about a fox and a crow."}]
    body = {"model": "annalyst", "messages": ask, "max_tokens": 150, "stream": True}
    with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=300) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                chunks.append(line[5:].strip())


def _wait_switch(log: Path, n: int, timeout: float = 60) -> None:
    """Until serve-model's log says it began its ``n``-th switch of model."""
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("active model changed: switching") < n:
        assert time.monotonic() < deadline, f"no switch {n} after {timeout} s"
        time.sleep(0.1)


def _wait_served(url: str, version: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while (served := _served(url)).get("id") != version:
        assert time.monotonic() < deadline, f"{version} is not served: {served}"
        time.sleep(0.5)
    return served


def test_serve_model_follows_the_registry(settings: Settings, tmp_path: Path) -> None:
    """`serve-model` serves the active model and follows the registry without a restart: after an
    activation a request waits for the new version (never answered by the previous one),
    GET /v1/models names it, the printed client settings keep working, a request pinned to the
    previous model gets a 404 that says what is served; a rollback switches back."""
    import httpx

    require(SMOL.is_file() and QWEN_05.is_file(), "bundled GGUFs not prepared")
    env = child_env(ANNALYST_DATA_DIR=settings.data_dir, ANNALYST_CHAT_MODEL="smollm2-135m")
    port = free_port()
    url = f"{server_url(port)}/v1"
    cmd = [sys.executable, "-m", "backend", "serve-model", "--port", str(port), "--n-ctx", "512",
           "--poll", "0.5"]  # fmt: skip
    log = tmp_path / "serve-model.log"
    with running(cmd, env, log, answers(f"{url}/models"), 180):
        assert _served(url)["annalyst"]["model"] == str(SMOL)
        assert [m["id"] for m in httpx.get(f"{url}/models").json()["data"]] == [
            "SmolLM2-135M-Instruct-Q4_1"
        ]
        line = next(x for x in log.read_text().splitlines() if "ANNALYST_LLM_BACKEND=openai" in x)
        client = dict(kv.split("=", 1) for kv in line.split())
        assert client["ANNALYST_OPENAI_MODEL"] == "annalyst"
        assert client["ANNALYST_OPENAI_RESPONSE_FORMAT"] == "llama_cpp"
        s = Settings(**{k.removeprefix("ANNALYST_").lower(): v for k, v in client.items()})
        assert s.openai_base_url == url
        llm = LLMProvider(s).get()
        assert complete(llm, [{"role": "user", "content": "Hi"}], max_tokens=4).strip()

        # a "retrained" model: another GGUF, registered and activated as training does, while
        # an answer is streamed: that answer is finished by the model that began it
        reg = ModelRegistry(settings.registry_dir)
        mv = reg.register(name="retrained", base="qwen2.5-0.5b", model_file=QWEN_05)
        chunks: list[str] = []
        story = threading.Thread(target=_stream, args=(url, chunks))
        story.start()
        deadline = time.monotonic() + 120
        while not chunks and story.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        reg.activate(mv.version, force=True)
        _wait_switch(log, 1)  # the switch has begun: requests now wait for the new version
        answer = _chat(url, "annalyst")
        assert answer["status"] == 200 and answer["model"] == mv.version, answer
        story.join(300)
        assert chunks[-1] == "[DONE]", chunks[-3:]
        assert {json.loads(c)["model"] for c in chunks[:-1]} == {"SmolLM2-135M-Instruct-Q4_1"}
        served = _wait_served(url, mv.version)
        assert served["annalyst"]["model"] == str(mv.gguf_path)
        assert served["annalyst"]["version"] == mv.version
        assert complete(llm, [{"role": "user", "content": "Hi"}], max_tokens=4).strip()
        pinned = _chat(url, "SmolLM2-135M-Instruct-Q4_1")
        assert pinned["status"] == 404 and mv.version in pinned["error"]["message"], pinned

        reg.rollback()
        _wait_served(url, "SmolLM2-135M-Instruct-Q4_1")
        assert _chat(url, "SmolLM2-135M-Instruct-Q4_1")["status"] == 200

        # an active version whose file is no GGUF: nothing is served, and the refusal says why
        bad = tmp_path / "bad.gguf"
        bad.write_text("not a model")
        broken = reg.register(name="broken", base="smollm2-135m", model_file=bad)
        reg.activate(broken.version, force=True)
        _wait_switch(log, 3)
        refused = _chat(url, "annalyst")
        assert refused["status"] == 503, refused
        assert "is damaged" in refused["error"]["message"]
        assert "python -m training rollback" in refused["error"]["message"]
        reg.rollback()
        _wait_served(url, "SmolLM2-135M-Instruct-Q4_1")
    printed = log.read_text()
    assert printed.count("serving ") >= 4, printed[-3000:]


def test_serve_model_applies_a_lora_versions_adapter(settings: Settings) -> None:
    """A LoRA version is served as its base GGUF with --lora_path (the command, not started:
    the project ships no adapter GGUF; tests/test_training.py trains one in minutes)."""
    require(SMOL.is_file(), "SmolLM2 GGUF not prepared")
    reg = ModelRegistry(settings.registry_dir)
    mv = reg.register(name="lora", base="smollm2-135m", model_file=SMOL, adapter_of="smollm2-135m")
    reg.activate(mv.version, force=True)
    server = model_server(settings, port=8099)
    argv = server.argv
    assert argv[argv.index("--model") + 1] == str(SMOL)
    assert argv[argv.index("--lora_path") + 1] == str(mv.gguf_path)
    assert server.alias == mv.version and server.base_url == "http://127.0.0.1:8099/v1"


# --- 4. remote embeddings ------------------------------------------------------------------------
def test_remote_embeddings_match_the_local_model(
    settings: Settings, tmp_path: Path, corpus: Path
) -> None:
    """`serve-embeddings` (MiniLM behind /v1/embeddings) gives the local model's vectors through
    ANNALYST_EMBEDDER=openai, in batches; the index written locally is searched remotely; a
    server that is down is one line, after the retries."""
    import httpx

    local = build_services(settings.model_copy(update={"embed_threads": 1}))
    local.ingestor.add([FOOTLOCKER_8K, AMCOR_8K])
    ids = [i for d in local.catalog.documents() for i in sorted(local.catalog.chunk_ids(d.doc_id))]
    texts = [c.text for c in local.catalog.chunks_by_id(ids[::2][:24]).values()]
    port = free_port()
    url = f"{server_url(port)}/v1"
    cmd = [sys.executable, "-m", "backend", "serve-embeddings", "--port", str(port),
           "--device", "cpu"]  # fmt: skip
    remote_settings = settings.model_copy(
        update={
            "embedder": "openai",
            "embed_base_url": url,
            "embed_batch_size": 5,
            "embed_retries": 1,
        }
    )
    with running(cmd, child_env(), tmp_path / "embed.log", answers(f"{url}/models"), 120):
        remote = build_services(remote_settings)
        got = remote.embedder.embed_documents(texts)
        want = local.embedder.embed_documents(texts)
        cosines = (got * want).sum(axis=1)
        print(f"remote vs local MiniLM: {len(texts)} chunks, min cosine {cosines.min():.6f}")
        assert len(texts) >= 20 and cosines.min() >= 0.999, cosines
        q = "What was Amcor's vote result?"
        assert float(remote.embedder.embed_query(q) @ local.embedder.embed_query(q)) >= 0.999
        assert remote.embedder.dim == local.embedder.dim == 384
        # same model name, same collection: the reports indexed locally are searched remotely
        doc = next(d for d in remote.catalog.documents() if d.file_name == AMCOR_8K.name)
        hits = remote.retriever.search("Amcor shares", doc_ids=[doc.doc_id], k=3, mode="vector")
        assert hits and hits[0].doc_id == doc.doc_id
        # an OpenAI client's default base64 form decodes to the same vector
        b64 = httpx.post(f"{url}/embeddings", json={"input": texts[0], "encoding_format": "base64"})
        vec = np.frombuffer(base64.b64decode(b64.json()["data"][0]["embedding"]), dtype="<f4")
        assert float(vec @ want[0]) >= 0.999
    log = (tmp_path / "embed.log").read_text()
    assert log.count("POST /v1/embeddings") >= 5 + 2  # 24 texts in batches of 5, queries

    with pytest.raises(EmbeddingServerDown) as err:
        remote.embedder.embed_query("anything")
    assert "\n" not in str(err.value) and "2 attempts" in str(err.value)
    assert str(err.value).startswith(f"The embedding server at {url} does not answer")
    # the app goes on with keyword search, saying why
    hits = remote.retriever.search("Amcor shares", k=3)
    assert hits and remote.retriever.degraded.startswith(
        f"Vector search is unavailable: The embedding server at {url}"
    )
