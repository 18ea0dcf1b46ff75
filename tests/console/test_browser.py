"""The console in a real browser (Playwright driving Debian's chromium, headless) against a
real batch (the integration cast, probabilistic matcher): log in, work the review queue,
release a batch with two people, verify the ledger, open the report and the accounting
lookup. A screenshot of each page goes to test-artifacts/console/ (listed in
docs/console.md). Plus, without a browser: an officer's disclose decision on a real batch
lands in the supplemental package and in the accounting report's figures.
"""

from __future__ import annotations

import csv
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from taxmatch.console import ConsoleSettings, console_app
from taxmatch.files.inputs import load_policy
from taxmatch.pipeline.accounting import annual_report
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.officers import add_officer
from taxmatch.pipeline.review import Actor, decide_row, prepare_release
from taxmatch.policy.model import policy_sha256
from taxmatch.store.review import queue_page
from taxmatch.store.state import StateStore
from tests.integration.conftest import (
    AS_OF,
    model_store,  # noqa: F401 -- the fixture, shared with the integration suite
    request_row,
    write_envelope,
    write_requests,
)
from tests.integration.test_explain import ROWS

from .conftest import OFFICERS, PASSWORD, policy_text

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@dataclass
class Live:
    store: Path
    url: str
    batch_id: str
    base: str
    out: Path
    settings: ConsoleSettings


def _run_batch(store: Path, tmp: Path, threshold: int, letter: str) -> tuple[str, str, Path]:
    policy = tmp / "policy.yaml"
    policy.write_text(policy_text(threshold), encoding="utf-8")
    rows = [request_row(int(rid[-5:]), **changes) for rid, changes in ROWS.items()]
    url = f"sqlite:///{tmp / 'state.sqlite3'}"
    result = run_batch(
        BatchRequest(
            store=store,
            requests=write_requests(tmp / "r.csv", rows),
            envelope=write_envelope(tmp / "e.json", request_letter_id=letter),
            out=tmp / "out",
            as_of=AS_OF,
            matcher="probabilistic",
            database_url=url,
            policy=policy,
        )
    )
    with StateStore(url) as state:
        for name, role in OFFICERS.items():
            add_officer(state, name, role, PASSWORD, actor="test", origin="test")
    return result.batch_id, url, policy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("console-live")
    batch_id, url, policy = _run_batch(model_store, tmp, threshold=1, letter="LTR-CONSOLE-1")
    settings = ConsoleSettings(store=model_store, database_url=url, policy=policy)
    app = FastAPI()
    app.mount("/console", console_app(settings))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        base = f"http://127.0.0.1:{port}/console"
        yield Live(model_store, url, batch_id, base, tmp / "out", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        settings.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(page: Any, base: str, username: str) -> None:
    p = page
    p.goto(f"{base}/login")
    p.fill("input[name=username]", username)
    p.fill("input[name=password]", PASSWORD)
    p.click("form.box button[type=submit]")
    p.wait_for_url(f"{base}/")


def test_officers_work_the_queue_and_release_with_two_people(live: Live, browser: Any) -> None:
    from playwright.sync_api import Page, expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page: Page = context.new_page()
    base = live.base

    # Unauthenticated: the console sends the browser to the log-in form.
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login")
    _shot(page, "01-login")
    page.fill("input[name=username]", "olive")
    page.fill("input[name=password]", "wrong password!")
    page.click("form.box button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("wrong password")

    # An officer logs in and works the queue.
    _login(page, base, "olive")
    _shot(page, "02-home")
    page.click("header >> text=Review queue")
    expect(page.locator("#queue")).to_contain_text("REQ-00002")
    expect(page.locator("#queue")).not_to_contain_text("REQ-00001")  # disclosed: not queued
    _shot(page, "03-queue")
    page.locator("#queue tr", has_text="REQ-00002").get_by_role("link", name="Review").click()
    expect(page.locator("#candidates")).to_be_visible()
    expect(page.locator("#candidates tr")).to_have_count(3)  # header + Sr + Jr
    expect(page.locator("#request")).to_contain_text("CARTER")  # the request, beside them
    _shot(page, "04-review")
    page.check("input[value=withhold]")
    page.fill("textarea[name=reason]", "Father and son at one address; neither is confirmed.")
    page.click("form.box button[type=submit]")
    expect(page).to_have_url(f"{base}/queue")
    expect(page.locator("#queue")).not_to_contain_text("REQ-00002")

    # The officer prepares the release; the two-person rule holds it.
    page.goto(f"{base}/batches/{live.batch_id}")
    expect(page.locator("body")).to_contain_text("Two-person rule")
    expect(page.locator("#coverage-chart svg")).to_have_count(1)  # coverage by group
    expect(page.locator("#coverage tr")).to_have_count(11)  # header + ten groups
    with page.expect_download() as download:
        page.click("text=Download CSV")
    assert download.value.suggested_filename == f"coverage-{live.batch_id}.csv"
    page.click("text=Prepare release")
    expect(page.locator("#releases")).to_contain_text("awaiting_approval")
    expect(page.locator("#releases")).not_to_contain_text("Approve and release")
    _shot(page, "05-batch-awaiting-approval")
    assert not (live.out / f"{live.batch_id}-S1").exists()
    page.click("header >> text=Log out")
    expect(page).to_have_url(f"{base}/login")

    # A supervisor who did not prepare it approves: the supplement is written.
    _login(page, base, "sam")
    page.goto(f"{base}/batches/{live.batch_id}")
    page.click("text=Approve and release")
    expect(page.locator("#releases")).to_contain_text("released")
    _shot(page, "06-batch-released")
    supplement = live.out / f"{live.batch_id}-S1"
    with (supplement / "unmatched.csv").open(encoding="utf-8") as fh:
        assert [r["request_id"] for r in csv.DictReader(fh)] == ["REQ-00002"]

    # The ledger, verified in place (HTMX).
    page.click("header >> text=Ledger")
    expect(page.locator("body")).to_contain_text("supplement_written")
    page.click("text=Verify the whole ledger")
    expect(page.locator("#verified")).to_contain_text("Verified")
    _shot(page, "07-ledger-verified")
    # A second verification while one runs is answered in place, not run.
    page.reload()
    with live.settings.verifying:  # a verification is running
        page.click("text=Verify the whole ledger")
        expect(page.locator("#verified")).to_contain_text("already running")
    page.click("header >> text=Log out")

    # Oversight: the transparency report and the accounting lookup.
    _login(page, base, "ada")
    page.click("header >> text=Transparency report")
    expect(page.locator("#agencies")).to_contain_text("ICE")
    expect(page.locator(".charts svg")).to_have_count(2)
    _shot(page, "08-report")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    assert download.value.suggested_filename.endswith(".csv")
    page.click("header >> text=Accounting")
    page.fill("input[name=tin]", "123456789")  # Maria, disclosed by the batch run
    page.click("form.box button[type=submit]")
    expect(page.locator("h2")).to_contain_text("disclosure(s) about this taxpayer")
    _shot(page, "09-accounting")
    context.close()


def test_a_disclose_decision_goes_into_the_supplement_and_the_accounting(
    model_store: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    batch_id, url, policy_path = _run_batch(model_store, tmp_path, 1000, "LTR-CONSOLE-2")
    policy, text = load_policy(policy_path)
    year = AS_OF.year
    with StateStore(url) as state:
        before = annual_report(model_store, year, database_url=url)
        held = [i for i in queue_page(state, None, 10) if i.batch_id == batch_id]
        assert held, "the cast yields a held row"
        who = Actor("olive", "officer", "test")
        decide_row(state, batch_id, held[0].row_number, "disclose", "checked by hand", who)
        release = prepare_release(model_store, state, batch_id, who, policy, policy_sha256(text))
        assert release.status == "released"
        assert state.verify_ledger().ok
    after = annual_report(model_store, year, database_url=url)
    assert after.totals["disclosures"] == before.totals["disclosures"] + 1
    package = Path(str(release.package_dir))
    with (package / "disclosed.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["request_id"] for r in rows] == [held[0].request_id]
    assert rows[0]["street_address"]
    assert rows[0]["disclosure_id"].startswith("D")
    shutil.rmtree(package)
