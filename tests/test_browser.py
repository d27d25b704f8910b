"""End to end in a real browser: `streamlit run app.py` on a loopback port, driven through
Debian's Chromium by Playwright. Upload two reports at once (a small real 10-K and an 8-K),
refresh, ask a question (the agent answers from the income statement), open the cited page from
the label in the answer's text (a new tab), open the citation and the trace, download the answer
as Excel, follow up with another company, let a filter exclude a question, reload (the
conversation stays), switch the interface to Chinese, look at the admin page. Screenshots go to
test-artifacts/browser/ (git-ignored)."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import urllib.request
from pathlib import Path

import pytest

from backend.settings import PROJECT_ROOT
from tests.conftest import CORPUS, FOOTLOCKER_8K, MODELS, require
from tests.servers import free_port, running

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """The app as users run it, on its own data dir; stopped (whole process group) afterwards."""
    require(FOOTLOCKER_8K.is_file(), f"corpus not found at {CORPUS}")
    require(CHROMIUM.exists(), "Debian's chromium is not installed (run .ci/install-chromium)")
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = {
        **os.environ,
        "ANNALYST_DATA_DIR": str(tmp / "data"),
        "ANNALYST_MODELS_PATH": str(MODELS),
        "ANNALYST_CORPUS_DIR": str(CORPUS),
        "ANNALYST_CHAT_MODEL": "smollm2-135m",
        "ANNALYST_TOP_K": "2",
        "ANNALYST_MAX_ANSWER_TOKENS": "40",
        "ANNALYST_N_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("ANNALYST_ADMIN_PASSWORD", None)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                return r.read() == b"ok"
        except OSError:
            return False

    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]  # fmt: skip
    with running(cmd, env, tmp / "streamlit.log", ready, wait_s=90):
        yield url


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM.exists(), "Debian's chromium is not installed (run .ci/install-chromium)")
    require(importlib.util.find_spec("playwright") is not None, "pip install playwright")
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for_run(page) -> None:
    """Until the script run that the last action started has finished (Streamlit's own e2e tests
    wait on the same attribute)."""
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120_000
    )


def ask(page, question: str) -> None:
    """Type a question into the chat box and send it, once the page is idle; a send that races a
    rerun (the box is re-created and the text lost) is retried."""
    from playwright.sync_api import expect

    box = page.get_by_test_id("stChatInputTextArea")
    sent = page.get_by_test_id("stChatMessage").filter(has_text=question)
    for _ in range(3):
        wait_for_run(page)
        box.fill(question)
        expect(box).to_have_value(question)
        page.get_by_test_id("stChatInputSubmitButton").click()
        try:
            expect(sent.first).to_be_visible(timeout=30_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the chat did not take the question {question!r}")


def test_upload_ask_and_check_the_citation_in_a_browser(server, browser, netflix_extract):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page.set_default_timeout(60_000)
    page.goto(server)
    expect(page.get_by_text("No reports are indexed yet")).to_be_visible()
    shot(page, "01-chat-empty")

    page.get_by_role("link", name="Go to the Reports page").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    page.locator("input[type=file]").set_input_files([str(netflix_extract), str(FOOTLOCKER_8K)])
    expect(page.get_by_role("button", name=f"Remove {netflix_extract.name}")).to_be_visible()
    page.get_by_role("button", name="Upload and index").click()
    expect(page.get_by_text(re.compile(r"queued — progress below")).first).to_be_visible()
    # .first: while the jobs panel reruns the page, its previous cards can show a moment longer
    done = page.get_by_text(
        re.compile(r"Indexed: 4 pages, \d+ passages, [1-9]\d* facts.*detected Netflix")
    )
    expect(done.first).to_be_visible(timeout=300_000)
    footlocker = page.get_by_text(re.compile(r"Indexed: 4 pages.*detected Foot Locker")).first
    expect(footlocker).to_be_visible(timeout=300_000)
    # the list of reports follows each finished job, without a reload
    expect(page.get_by_text(re.compile(r"Indexed reports \(2\)"))).to_be_visible(timeout=30_000)
    shot(page, "02-reports-indexed")

    page.reload()  # a refresh neither loses nor repeats the job
    expect(done).to_be_visible()
    expect(done).to_have_count(1)
    expect(
        page.get_by_text("Netflix, Inc. 2017 10-K — NETFLIX_2017_10K_extract.pdf")
    ).to_be_visible()

    page.get_by_role("link", name="Chat").click()
    expect(page.get_by_role("heading", name="Ask your annual reports")).to_be_visible()
    ask(page, "What was Netflix's total revenue in FY2017?")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    expect(answer).to_contain_text("$11,692,713 thousand", timeout=300_000)
    expect(page.get_by_text(re.compile("Model: .*SmolLM2"))).to_be_visible()
    shot(page, "03-chat-answer")

    # the label in the answer's text opens the page view of the cited page, in a new tab, at
    # the highlighted number
    with page.context.expect_page() as opened:
        answer.get_by_role("link", name="Netflix 2017 · p.2").first.click()
    view = opened.value
    expect(view.get_by_role("heading", name="Netflix 2017 · p.2")).to_be_visible()
    expect(view.locator("mark", has_text="11,692,713").first).to_be_in_viewport()
    expect(view.get_by_role("img").first).to_be_visible()
    shot(view, "04a-page-view")
    view.close()

    answer.get_by_text("📄 Netflix 2017 · p.2").click()  # the citation's expander below
    expect(answer.locator("mark", has_text="11,692,713")).to_be_visible()
    image = answer.get_by_role("img").first
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") > 500  # a real rendered page
    shot(page, "04-citation-evidence")

    answer.get_by_text("How this answer was made").click()
    answer.get_by_role("tab", name="Raw JSON").click()
    expect(answer.get_by_text("get_fact").first).to_be_visible()
    shot(page, "05-trace")

    with page.expect_download() as download:  # export: the answer as an Excel workbook
        answer.get_by_role("button", name="Excel").click()
    saved = ARTIFACTS / "answer.xlsx"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    download.value.save_as(saved)
    assert download.value.suggested_filename.endswith(".xlsx")
    from openpyxl import load_workbook

    assert load_workbook(saved)["Data"]["D2"].value == 11692713

    # a follow-up substitutes the company
    ask(page, "What about Foot Locker?")
    followed = page.get_by_test_id("stChatMessage").nth(3)
    expect(followed).to_contain_text(
        "Understood as: What was Foot Locker's total revenue in FY2017?", timeout=300_000
    )
    shot(page, "06-follow-up")

    # filters restrict: with the company filter on Netflix, a Foot Locker question is excluded
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="Netflix, Inc.").click()
    wait_for_run(page)
    ask(page, "What was Foot Locker's revenue in 2022?")
    expect(page.get_by_test_id("stChatMessage").nth(5)).to_contain_text(
        "Your filters (Netflix, Inc.) exclude this question", timeout=120_000
    )
    shot(page, "07-filter-excludes")

    page.reload()  # the conversation is in the URL and the store: a reload keeps it
    expect(page.get_by_test_id("stChatMessage")).to_have_count(6, timeout=60_000)
    answer = page.get_by_test_id("stChatMessage").nth(1)
    expect(answer).to_contain_text("$11,692,713 thousand")
    shot(page, "08-after-reload")

    page.get_by_text("中文", exact=True).click()  # the interface language switch
    expect(page.get_by_role("heading", name="向年报提问")).to_be_visible()
    expect(answer).to_contain_text("$11,692,713 thousand")  # the conversation is kept
    expect(answer.get_by_text("回答过程")).to_be_visible()  # the answer's frame in Chinese
    expect(page.get_by_test_id("stChatInputTextArea")).to_have_attribute(
        "placeholder", re.compile("询问营业收入")
    )
    shot(page, "09-chat-zh")
    page.get_by_text("English", exact=True).click()
    expect(page.get_by_role("heading", name="Ask your annual reports")).to_be_visible()

    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_text(re.compile("ANNALYST_ADMIN_PASSWORD"))).to_be_visible()
    shot(page, "10-admin-locked")
    page.close()
