"""Sampling stratified by emotion, EmPO's block randomisation, A/B batches and the study folder."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest

from harness.errors import HarnessError
from harness.human_eval.batches import ab_batches, rating_batches
from harness.human_eval.designs import design
from harness.human_eval.sampling import stratified_sample
from harness.human_eval.study import prepare
from tests.support.human_eval import EMOTIONS, make_study, write_generations


def emotions_of(n: int = 400) -> dict[str, str]:
    return {f"d{i}": EMOTIONS[i % 32] for i in range(n)}


def test_every_emotion_at_least_four_times_and_n_distinct_ids():
    emotions = emotions_of()
    sample = stratified_sample(emotions, n=135, per_emotion=4, seed=3)
    assert len(sample.ids) == len(set(sample.ids)) == 135
    counts = Counter(emotions[i] for i in sample.ids)
    assert set(counts) == set(EMOTIONS) and min(counts.values()) >= 4
    assert sum(counts.values()) - 4 * 32 == 7  # the 7 beyond 32 x 4 come from the rest


def test_the_seed_fixes_the_sample_and_its_order():
    emotions = emotions_of()
    a, b = stratified_sample(emotions, seed=1), stratified_sample(emotions, seed=1)
    c = stratified_sample(emotions, seed=2)
    assert a.ids == b.ids
    assert set(a.ids) != set(c.ids)


def test_an_emotion_with_too_few_dialogues_is_taken_whole_with_a_note():
    emotions = emotions_of(200) | {"rare1": "rare"}
    sample = stratified_sample(emotions, n=140, per_emotion=4, seed=0)
    assert "rare1" in sample.ids and "'rare'" in sample.notes[0]


def test_a_sample_too_small_for_the_strata_is_refused():
    with pytest.raises(HarnessError, match="cannot hold 4 dialogues of each of 32 emotions"):
        stratified_sample(emotions_of(), n=100)


def test_empo_block_randomisation_orderings_blocks_and_three_ratings_per_sample():
    samples = [f"s{i}" for i in range(135)]
    batches = rating_batches(samples, [["X", "Y", "Z"]], batch_size=15, ratings=3, seed=0)
    assert len(batches) == 9 * (6 + 3)  # per run of 15: 3! orderings + 3 single-system batches
    seen = Counter()
    for batch in batches:
        shown = [it.sample for it in batch.items]
        assert len(shown) == 15 and len(set(shown)) == 15  # one system per dialogue in a batch
        assert shown == samples[batch.run * 15:(batch.run + 1) * 15]  # the same order for everyone
        systems = [it.systems[0] for it in batch.items]
        if batch.plan.startswith("ordering"):
            blocks = [systems[i:i + 5] for i in (0, 5, 10)]
            assert all(len(set(b)) == 1 for b in blocks) and len({b[0] for b in blocks}) == 3
        else:
            assert len(set(systems)) == 1
        seen.update((it.sample, it.systems[0]) for it in batch.items)
    assert set(seen.values()) == {3} and len(seen) == 135 * 3
    for run in range(9):
        orders = {tuple(it.systems[0] for it in b.items[::5]) for b in batches if b.run == run and b.plan.startswith("ordering")}
        assert orders == set(itertools.permutations("XYZ"))


def test_a_group_of_one_gets_single_system_batches_and_codes_are_unique():
    batches = rating_batches([f"s{i}" for i in range(30)], [["X", "Y", "Z"], ["W"]], seed=1)
    assert Counter(b.plan for b in batches)["single W"] == 2 * 3
    codes = [it.item for b in batches for it in b.items]
    assert len(codes) == len(set(codes))


def test_too_many_systems_in_one_block_group_is_refused():
    with pytest.raises(HarnessError, match="4! orderings rate each sample 6 times"):
        rating_batches(["s"], [["a", "b", "c", "d"]], ratings=3)


def test_ab_batches_rate_every_pair_three_times_with_the_order_random_and_recorded():
    batches = ab_batches([f"s{i}" for i in range(30)], [("X", "Y")], seed=0)
    per = Counter((it.sample, frozenset(it.systems)) for b in batches for it in b.items)
    assert set(per.values()) == {3}
    orders = Counter(it.systems for b in batches for it in b.items)
    assert set(orders) == {("X", "Y"), ("Y", "X")} and min(orders.values()) > 20


def test_prepare_writes_a_blinded_study_and_a_separate_key(tmp_path):
    folder = make_study(tmp_path, reference=True, blocks=[["alpha", "beta", "gamma"], ["human"]], seed=5)
    study = json.loads((folder / "study.json").read_text())
    key = json.loads((folder / "key.json").read_text())
    text = (folder / "study.json").read_text()
    assert not any(name in text for name in ('"alpha"', '"beta"', '"gamma"', "alpha.jsonl"))
    assert len(study["batches"]) == 108  # EmPO's count: 81 block-randomised + 27 single-system batches
    names = {code: info["name"] for code, info in key["systems"].items()}
    assert sorted(names.values()) == ["alpha", "beta", "gamma", "human"]
    for batch in study["batches"]:
        for item in batch["items"]:
            (code,) = item["systems"]
            assert key["batches"][batch["id"]]["items"][item["item"]] == [code]
            expected = f"reference {item['sample'].split(':')[1].split('_')[0]}" if names[code] == "human" else \
                f"{names[code]} answers <i>{item['sample'].split(':')[1].split('_')[0]}</i>"
            assert item["responses"] == [expected]  # the same dialogue, that system's response


def test_prepare_refuses_runs_over_different_dialogues(tmp_path):
    a, b = write_generations(tmp_path / "g", ("a", "b"))
    lines = b.read_text().splitlines()
    b.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(HarnessError, match=r"b\.jsonl: runs over different dialogues: it lacks id 'hit:199_conv:199'"):
        prepare([str(a), str(b)], tmp_path / "s", design("empo"))
    assert not (tmp_path / "s").exists()


def test_prepare_never_overwrites_a_study(tmp_path):
    folder = make_study(tmp_path)
    with pytest.raises(HarnessError, match="not empty"):
        prepare([str(p) for p in (tmp_path / "generations").glob("*.jsonl")], folder, design("empo"))


def test_run_folders_are_read_through_their_ed_task_and_named_by_their_model(tmp_path):
    files = write_generations(tmp_path / "g", ("a", "b"), n=80)
    runs = []
    for i, path in enumerate(files):
        run = tmp_path / f"run{i}"
        (run / "tasks" / "ed_empathy").mkdir(parents=True)
        (run / "tasks" / "ed_empathy" / "generations.jsonl").write_text(path.read_text())
        (run / "manifest.json").write_text(json.dumps({"model": f"model-{i}"}))
        runs.append(str(run))
    summary = prepare(runs, tmp_path / "s", design("likert-qian"), samples=40, per_emotion=1)
    assert summary["systems"] == ["model-0", "model-1"]
    (tmp_path / "run1" / "tasks" / "ed_other").mkdir()
    (tmp_path / "run1" / "tasks" / "ed_other" / "generations.jsonl").write_text(files[1].read_text())
    with pytest.raises(HarnessError, match="several ED tasks \\(ed_empathy, ed_other\\); choose one with --task"):
        prepare(runs, tmp_path / "s2", design("likert-qian"), samples=40, per_emotion=1)
    assert prepare(runs, tmp_path / "s3", design("likert-qian"), samples=40, per_emotion=1, task="ed_empathy")["samples"] == 40
