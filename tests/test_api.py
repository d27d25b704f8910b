"""The OpenAI-compatible HTTP API, driven by a real HTTP client (httpx) against
`python -m backend serve` running in a subprocess on a loopback port: the token, models, a chat
completion (plain and streamed: progress at once, the checked answer after) with its citations
and trace, a follow-up from the messages, uploading a report and following its job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backend.app.services import build_services
from backend.settings import PROJECT_ROOT, Settings
from tests.conftest import CORPUS, FOOTLOCKER_8K, MODELS
from tests.servers import free_port, running

TOKEN = "test-token-123"
REVENUE = "What was Netflix's total revenue in FY2017?"
NARRATIVE = "What does Netflix say about its streaming content assets?"  # the model writes


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "ANNALYST_DATA_DIR": str(data), "ANNALYST_MODELS_PATH": str(MODELS),
           "ANNALYST_CORPUS_DIR": str(CORPUS), "ANNALYST_CHAT_MODEL": "smollm2-135m",
           "ANNALYST_N_THREADS": "1", "HF_HUB_OFFLINE": "1", **extra}  # fmt: skip
    if "ANNALYST_API_TOKEN" not in extra:
        env.pop("ANNALYST_API_TOKEN", None)
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, netflix_extract: Path):
    tmp = tmp_path_factory.mktemp("api")
    data = tmp / "data"
    services = build_services(Settings(data_dir=data, models_path=MODELS, corpus_dir=CORPUS))
    assert services.ingestor.add([netflix_extract])[0].facts > 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/v1/models", timeout=2).status_code == 401
        except httpx.TransportError:
            return False

    cmd = [sys.executable, "-m", "backend", "serve", "--port", str(port)]
    env = _env(data, ANNALYST_API_TOKEN=TOKEN, ANNALYST_MAX_ANSWER_TOKENS="60")
    with running(cmd, env, tmp / "serve.log", ready, wait_s=60):
        yield url


@pytest.fixture
def client(server):
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
    ) as c:
        yield c


def test_token_required(server):
    r = httpx.get(f"{server}/v1/models")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "ANNALYST_API_TOKEN" in r.json()["error"]["message"]
    r = httpx.get(f"{server}/v1/models", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = httpx.post(f"{server}/v1/reports", files={"file": ("x.pdf", b"%PDF-1.4")})
    assert r.status_code == 401


def test_models_and_a_chat_completion_with_citations_and_trace(client):
    models = client.get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["annalyst", "annalyst-rag"]
    body = {"model": "annalyst", "messages": [{"role": "user", "content": REVENUE}]}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    text = out["choices"][0]["message"]["content"]
    assert "11,692,713" in text and "[NETFLIX_2017_10K_extract.pdf p.2]" in text
    extra = out["annalyst"]
    assert extra["citations"] == [
        {"doc_id": extra["citations"][0]["doc_id"], "file": "NETFLIX_2017_10K_extract.pdf",
         "page": 2, "label": "Netflix 2017 · p.2"}
    ]  # fmt: skip
    assert extra["value"] == 11692713 and not extra["refused"]
    assert any(s["tool"] == "get_fact" for s in extra["steps"])

    # a follow-up: earlier user messages are the conversation
    body["messages"] += [
        {"role": "assistant", "content": text},
        {"role": "user", "content": [{"type": "text", "text": "and in 2016?"}]},
    ]
    out = client.post("/v1/chat/completions", json=body).json()
    assert out["annalyst"]["standalone_question"] == "What was Netflix's total revenue in FY2016?"
    assert "8,830,669" in out["choices"][0]["message"]["content"]


def test_streamed_completion_ends_with_done(client):
    body = {"model": "annalyst", "stream": True,
            "messages": [{"role": "user", "content": REVENUE}]}  # fmt: skip
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    # the facts route: its stage as progress, then the answer (checked as it is made)
    assert chunks[1]["annalyst_progress"] == {"stage": "facts"}
    assert chunks[1]["choices"][0]["delta"]["reasoning_content"].startswith("Looking up")
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "11,692,713" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["annalyst"]["citations"][0]["page"] == 2


def test_streamed_answer_sends_progress_at_once_and_only_checked_text_as_content(client):
    """The model route, streamed: the stages, the best evidence and the model's draft arrive in
    ``reasoning_content`` while it works; ``content`` is the checked answer, sent after the check.
    The 135M model copies the prompt's example: the check withholds it, so the draft that was
    streamed as progress never becomes the answer."""
    body = {"model": "annalyst", "stream": True,
            "messages": [{"role": "user", "content": NARRATIVE}]}  # fmt: skip
    arrivals = []
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                arrivals.append((time.monotonic(), json.loads(line[6:])))
    deltas = [c["choices"][0]["delta"] for _, c in arrivals]
    progress = [c.get("annalyst_progress") for _, c in arrivals]
    first = next(i for i, d in enumerate(deltas) if d.get("content"))
    assert not any(d.get("content") for d in deltas[:first])
    assert progress[first:] == [None] * (len(arrivals) - first)  # no progress after it
    stages = [p["stage"] for p in progress[:first] if p and "stage" in p]
    assert "search" in stages and stages[-1] == "write"
    evidence = next(p for p in progress if p and "evidence" in p)
    assert evidence["file"] == "NETFLIX_2017_10K_extract.pdf" and evidence["page"] >= 1
    draft = "".join(p["draft"] for p in progress if p and "draft" in p)
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    assert draft and "Searching the reports" in reasoning and "Draft (not checked yet)" in reasoning
    # streamed while the agent worked, not sent at the end: the first progress came at least
    # half the answer's own time (as the server measured it) before the answer
    total_s = arrivals[-1][1]["annalyst"]["timings"]["total_s"]
    assert arrivals[first][0] - arrivals[1][0] >= 0.5 * total_s > 0
    content = "".join(d.get("content", "") for d in deltas)
    steps = {s["step"] for s in arrivals[-1][1]["annalyst"]["trace"]}
    assert steps & {"dropped", "withheld"}, steps  # the check changed the draft...
    assert content == "Not found in the indexed reports."  # ...and only its result is the answer
    assert draft.strip()[:4] not in content


def test_upload_a_report_and_follow_its_job(client):
    r = client.post(
        "/v1/reports",
        files={"file": ("footlocker.pdf", FOOTLOCKER_8K.read_bytes(), "application/pdf")},
    )
    assert r.status_code == 200, r.text
    [sub] = r.json()["data"]
    assert sub["status"] == "queued" and sub["job_id"]
    deadline = time.monotonic() + 240
    while (job := client.get(f"/v1/jobs/{sub['job_id']}").json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(1)
    assert job["status"] == "done" and job["result"]["pages"] == 4, job
    listed = client.get("/v1/reports").json()
    files = sorted(d["file_name"] for d in listed["data"])
    assert files == ["NETFLIX_2017_10K_extract.pdf", "footlocker.pdf"]
    assert client.get("/v1/jobs/nope").status_code == 404


def test_unsafe_address_without_token_is_refused(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "backend", "serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=PROJECT_ROOT,
        env=_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().startswith("error: Refusing to serve the API on 0.0.0.0")
    assert len(run.stderr.strip().splitlines()) == 1


def test_without_a_token_only_local_programs_are_served(tmp_path):
    """No token (loopback only): a web page's request (Origin) or another host name (DNS
    rebinding) is refused; a local program is served."""
    from fastapi.testclient import TestClient

    from backend.app.api import create_app

    services = build_services(Settings(data_dir=tmp_path / "data", models_path=MODELS))
    with TestClient(create_app(services), base_url="http://127.0.0.1:8000") as c:
        assert c.get("/v1/models").status_code == 200
        assert c.get("/v1/models", headers={"Origin": "http://evil.example"}).status_code == 403
        assert c.get("/v1/models", headers={"Host": "evil.example"}).status_code == 403
        r = c.post("/v1/reports", files={"file": ("a.pdf", b"x")}, headers={"Origin": "null"})
        assert r.status_code == 403
