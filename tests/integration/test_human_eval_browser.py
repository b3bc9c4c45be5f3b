"""A real browser fills one batch of a prepared EmPO study, reloading half way, and submits:
the ratings file then holds exactly those answers, once each.

Needs Chromium (Debian: apt-get install chromium); skips with a message where there is none.
EMPATHY_HARNESS_SCREENSHOT=PATH keeps a screenshot of the page after the reload.
"""

from __future__ import annotations

import csv
import os

import pytest

from harness.human_eval.empo import EMPO_CHECKBOX, EMPO_DIMENSIONS
from tests.support.browser import Browser, find_chromium
from tests.support.human_eval import make_study, running_server

pytestmark = pytest.mark.slow

CHROMIUM = find_chromium()


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium); the browser test is skipped")
    b = Browser(CHROMIUM)
    try:
        yield b
    finally:
        b.close()


def slider(number: int, dimension: str) -> str:
    return f".sample:nth-of-type({number}) [data-dimension='{dimension}'] input"


def rate(browser: Browser, number: int) -> None:
    """Rate sample `number` (1-based) as a person would: click each slider somewhere, tick every other box."""
    for k, dimension in enumerate(EMPO_DIMENSIONS):
        browser.click(slider(number, dimension), fraction=(0.15 + 0.2 * k + 0.03 * number) % 1)
    if number % 2:
        browser.click(slider(number, EMPO_CHECKBOX))


def test_a_person_fills_a_batch_reloads_and_submits(browser, tmp_path):
    folder = make_study(tmp_path, samples=135, seed=4)
    with running_server(folder) as (base, store):
        browser.open(base + "/")
        browser.type_into("input[name=annotator]", "ann-browser")
        browser.click("button[type=submit]")
        browser.wait_for("location.pathname.startsWith('/batch/') && document.readyState === 'complete'")
        batch = browser.js("location.pathname").rsplit("/", 1)[1]
        assert browser.js("document.querySelectorAll('.sample').length") == 15
        for number in range(1, 8):
            rate(browser, number)
        browser.wait_for("window.pendingSaves === 0")
        assert browser.js("document.querySelectorAll('.state.saved').length") == 7 * 4 + 4
        before = browser.js("[...document.querySelectorAll('input[type=range]')].slice(0, 28).map(i => Number(i.value))")

        browser.reload()  # half way: nothing given so far may be lost
        after = browser.js("[...document.querySelectorAll('input[type=range]')].slice(0, 28).map(i => Number(i.value))")
        assert after == before
        assert browser.js("document.querySelectorAll('.q.unset').length") == 8 * 5 + (7 - 4)  # untouched boxes stay unset
        screenshot = os.environ.get("EMPATHY_HARNESS_SCREENSHOT")
        if screenshot:
            browser.js("document.querySelector('.sample:nth-of-type(7)').scrollIntoView({block: 'start'})")
            browser.screenshot(screenshot)

        for number in range(8, 16):
            rate(browser, number)
        browser.wait_for("window.pendingSaves === 0")
        final = {}
        for number in range(1, 16):
            for dimension in (*EMPO_DIMENSIONS, EMPO_CHECKBOX):
                selector = slider(number, dimension)
                if dimension == EMPO_CHECKBOX:
                    final[(number, dimension)] = 1.0 if browser.js(f"document.querySelector({selector!r}).checked") else 0.0
                else:
                    final[(number, dimension)] = float(browser.js(f"Number(document.querySelector({selector!r}).value)"))
        browser.click("#submit")
        browser.wait_for("location.pathname === '/done'")
        browser.open(f"{base}/batch/{batch}?annotator=ann-browser")
        assert "is submitted" in browser.js("document.body.innerText")

    with open(folder / "ratings.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 * 5
    assert {(r["annotator"], r["batch"]) for r in rows} == {("ann-browser", batch)}
    items = [it["sample"] for it in store.batches[batch]["items"]]
    got = {(items.index(r["sample"]) + 1, r["dimension"]): float(r["value"]) for r in rows}
    assert len(got) == len(rows)  # each answer once
    assert got == final
    assert len({v for (n, d), v in got.items() if d != EMPO_CHECKBOX}) > 10  # the clicks set different values
