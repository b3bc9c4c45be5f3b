"""The survey server: answers kept as given, a batch submitted once, bad requests refused
without losing anything, and the log surviving a restart or a line cut by a crash."""

from __future__ import annotations

import csv
import html
import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from harness.human_eval.designs import EMPO_STATEMENTS
from harness.human_eval.empo import EMPO_CHECKBOX, EMPO_DIMENSIONS
from harness.human_eval.server import MAX_BODY
from harness.human_eval.store import open_store
from tests.support.human_eval import make_study, running_server


def get(url: str) -> tuple[int, str, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url) as r:
            return r.status, r.read().decode(), r.headers.get("Location", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Location", "")


def post(base: str, path: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def study(tmp_path):
    return make_study(tmp_path, samples=135, seed=2)


def start(base: str, annotator: str) -> str:
    status, _, location = get(f"{base}/start?annotator={annotator}")
    assert status == 303
    return urlsplit(location).path.rsplit("/", 1)[1]


def fill(base: str, store, annotator: str, batch: str, value=60) -> None:
    for item in store.batches[batch]["items"]:
        for dim in EMPO_DIMENSIONS:
            assert post(base, "/api/answer", {"annotator": annotator, "batch": batch, "item": item["item"],
                                              "dimension": dim, "value": value}) == (200, {"ok": True})


def test_intro_page_needs_an_annotator_id_and_shows_the_statements(study):
    with running_server(study) as (base, _):
        status, page, _ = get(base + "/")
        assert status == 200 and "A solved example" in page and "Do you remember the old video games" in page
        assert "emotional state, specifically" in page and "continue the conversation" in page
        assert get(base + "/start?annotator=")[0] == 400
        assert get(base + "/start?annotator=bad%20id")[0] == 400


def test_answers_are_logged_as_given_and_a_batch_is_submitted_once(study):
    with running_server(study) as (base, store):
        batch = start(base, "ann1")
        assert start(base, "ann1") == batch  # coming back gives the same open batch
        other = start(base, "ann2")
        assert other != batch
        items = store.batches[batch]["items"]
        page = get(f"{base}/batch/{batch}?annotator=ann1")[1]
        assert html.escape(items[0]["responses"][0]) in page and "S1" not in page and "S2" not in page
        fill(base, store, "ann1", batch)
        log = (study / "answers.jsonl").read_text().splitlines()
        assert sum('"answer"' in line for line in log) == 15 * 4
        status, body = post(base, "/api/submit", {"annotator": "ann1", "batch": batch})
        assert status == 200, body
        assert post(base, "/api/submit", {"annotator": "ann1", "batch": batch})[0] == 409
        assert post(base, "/api/answer", {"annotator": "ann1", "batch": batch, "item": items[0]["item"],
                                          "dimension": EMPO_DIMENSIONS[0], "value": 5})[0] == 409
        assert post(base, "/api/submit", {"annotator": "ann2", "batch": batch})[0] == 403
    with open(study / "ratings.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 * 5 and {r["batch"] for r in rows} == {batch} and {r["annotator"] for r in rows} == {"ann1"}
    assert {r["dimension"] for r in rows} == {*EMPO_DIMENSIONS, EMPO_CHECKBOX}
    assert {r["value"] for r in rows if r["dimension"] == EMPO_CHECKBOX} == {"0"}  # unticked box: an explicit no
    assert {r["value"] for r in rows if r["dimension"] != EMPO_CHECKBOX} == {"60"}
    assert all(r["time"] for r in rows)


def test_an_incomplete_batch_cannot_be_submitted(study):
    with running_server(study) as (base, store):
        batch = start(base, "ann1")
        status, body = post(base, "/api/submit", {"annotator": "ann1", "batch": batch})
        assert status == 400 and "sample 1" in body["error"]
        assert not (study / "ratings.csv").exists()


def test_bad_requests_get_errors_and_nothing_stored_is_lost(study):
    with running_server(study) as (base, store):
        batch = start(base, "ann1")
        item = store.batches[batch]["items"][0]["item"]
        good = {"annotator": "ann1", "batch": batch, "item": item, "dimension": EMPO_DIMENSIONS[0], "value": 42}
        assert post(base, "/api/answer", good)[0] == 200
        before = (study / "answers.jsonl").read_bytes()
        assert post(base, "/api/answer", b"{not json")[0] == 400
        assert post(base, "/api/answer", b"[1, 2]")[0] == 400
        assert post(base, "/api/answer", good | {"value": 101})[0] == 400
        assert post(base, "/api/answer", good | {"value": "high"})[0] == 400
        assert post(base, "/api/answer", good | {"dimension": "charm"})[0] == 400
        assert post(base, "/api/answer", good | {"item": "nope"})[0] == 400
        assert post(base, "/api/answer", good | {"annotator": ""})[0] == 400
        assert post(base, "/api/answer", good | {"batch": "b999"})[0] == 404
        assert post(base, "/api/nothing", good)[0] == 404
        host, port = urlsplit(base).netloc.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.putrequest("POST", "/api/answer")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(MAX_BODY + 1))
        conn.endheaders()  # the body is never sent: the server must not wait for it
        response = conn.getresponse()
        assert response.status == 413 and "over" in json.loads(response.read())["error"]
        conn.close()
        assert (study / "answers.jsonl").read_bytes() == before
        assert store.answers_of(batch) == {item: {EMPO_DIMENSIONS[0]: 42.0}}
        assert get(f"{base}/batch/{batch}?annotator=ann1")[0] == 200  # still serving


def test_the_log_survives_a_restart_and_a_line_cut_by_a_crash(study):
    with running_server(study) as (base, store):
        batch = start(base, "ann1")
        fill(base, store, "ann1", batch, value=33)
    with open(study / "answers.jsonl", "ab") as fh:
        fh.write(b'{"event": "answer", "annot')  # a crash in the middle of a write
    store = open_store(study)
    assert store.state.notes and "unreadable" in store.state.notes[0]
    assert store.batch_for("ann1") == batch
    assert all(v == {d: 33.0 for d in EMPO_DIMENSIONS} for v in store.answers_of(batch).values())
    store.submit("ann1", batch)
    assert open_store(study).state.submitted.keys() == {batch}


def test_an_annotator_never_gets_a_second_batch_over_dialogues_already_seen(study):
    store = open_store(study)
    first = store.batch_for("ann1")
    fill_store = store.batches[first]["items"]
    for item in fill_store:
        for dim in EMPO_DIMENSIONS:
            store.answer("ann1", first, item["item"], dim, 50)
    store.submit("ann1", first)
    second = store.batch_for("ann1")
    seen = {it["sample"] for it in store.batches[first]["items"]}
    assert second is not None and not seen & {it["sample"] for it in store.batches[second]["items"]}


def test_the_page_shows_the_statements_verbatim(study):
    with running_server(study) as (base, store):
        batch = start(base, "ann1")
        page = get(f"{base}/batch/{batch}?annotator=ann1")[1]
    plain = page.replace("<b>", "").replace("</b>", "").replace("&#x27;", "'")
    for statement in EMPO_STATEMENTS.values():
        assert statement in plain


@pytest.mark.parametrize("design_name, marker", [
    ("likert-qian", "5: very good"), ("likert-emprl", "2: marginal"), ("ab-emprl", "Response B"), ("ab-qian", "Tie")])
def test_every_design_renders_its_questions_and_takes_its_answers(tmp_path, design_name, marker):
    folder = make_study(tmp_path, design=design_name, systems=("alpha", "beta"), samples=45, per_emotion=1)
    with running_server(folder) as (base, store):
        batch = start(base, "ann1")
        page = get(f"{base}/batch/{batch}?annotator=ann1")[1]
        assert marker in page and page.count("class=sample") == 15
        assert marker in get(base + "/")[1]  # the solved example uses the same questions
        item = store.batches[batch]["items"][0]
        for response in item["responses"]:  # A then B, in the key's order
            assert html.escape(response) in page
        if design_name.startswith("ab"):
            assert page.index(html.escape(item["responses"][0])) < page.index(html.escape(item["responses"][1]))
        good = "tie" if design_name.startswith("ab") else 4
        bad = 3 if design_name.startswith("ab") else 4.5
        question = store.design.criteria[0].name
        body = {"annotator": "ann1", "batch": batch, "item": item["item"], "dimension": question}
        assert post(base, "/api/answer", body | {"value": good})[0] == 200
        assert post(base, "/api/answer", body | {"value": bad})[0] == 400
