"""`empathy-harness meta-eval` end to end on a hand-made ED release and ratings file."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from scipy import stats

from harness.cli import main
from harness.human_eval.empo import EMPO_SYSTEMS
from tests.conftest import ed_row, write_ed_release
from tests.support.empo_ratings import chat, write_ratings

TURNS = [
    ("I lost my dog yesterday.", "Oh no, what happened?", "He ran away in the storm.", "I am so sorry."),
    ("I got the job!", "Which one?", "The one at the museum.", "Congratulations!"),
    ("My brother broke my mug.", "Did he apologise?", "No, not at all.", "That is rude."),
    ("I am nervous about my exam.", "When is it?", "Tomorrow morning.", "You will do fine."),
    ("We moved to a new city.", "Do you like it?", "Not yet, I miss my friends.", "That takes time."),
    ("My cat had kittens!", "How many?", "Five of them.", "How lovely!"),
]
RESPONSES = {
    "zephyr_base": "That sounds really hard, and I want you to know I am here for you whenever you need me.",
    "zephyr_base_output_limit": "That sounds hard.",
    "SFT": "Oh no.",
    "zephyr_dpo": "I understand how you feel, that must be difficult for you.",
}


@pytest.fixture
def inputs(tmp_path):
    rows = []
    for d, turns in enumerate(TURNS):
        rows += [ed_row(f"hit:{d}_conv:{d}", i + 1, t.replace(",", "_comma_")) for i, t in enumerate(turns)]
    release = write_ed_release(tmp_path / "ed.tar.gz", {"test": rows})
    rng = random.Random(0)
    lines = []
    for d, turns in enumerate(TURNS):
        for system in EMPO_SYSTEMS:
            response = turns[3] if system == "human_targets" else RESPONSES[system]
            for a in range(3):
                # longer responses rated higher, plus noise: length must show up
                base = min(95, 20 + 0.8 * len(response))
                dims = [max(0, min(100, round(base + rng.gauss(0, 15)))) for _ in range(4)]
                lines.append({"sample_index": d, "Dim1": dims[0], "Dim2": dims[1], "Dim3": dims[2], "Dim4": dims[3],
                              "Dim5": rng.choice([0, 1]), "annotator": f"{system}-{d}-{a}", "ED_index": 100 + d,
                              "chat_templates": chat(*turns[:3]), "gen_targets": turns[3], "prevs": turns[2],
                              "gens": response, "model": system})
    return write_ratings(tmp_path / "he.csv", lines), release


def test_meta_eval_writes_a_report_whose_numbers_are_scipys(inputs, tmp_path, capsys):
    ratings, release = inputs
    out = tmp_path / "report"
    code = main(["meta-eval", str(ratings), "--ed", str(release), "--output", str(out),
                 "--metrics", "length,bleu,dist", "--resamples", "200"])
    assert code == 0
    assert "mapped 6 of 6 rated dialogues" in capsys.readouterr().out
    report = json.loads((out / "meta_eval.json").read_text())
    assert {p.name for p in out.iterdir()} == {"README.md", "meta_eval.json", "agreement.png", "scores.jsonl"}
    assert report["responses_scored"] == 30 and report["subsets"]["models"]["responses"] == 24
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    length = [r["metrics"]["length_words"] for r in rows]
    human = [r["human"]["situational_appropriateness"] for r in rows]
    got = report["example_level"]["all"]["length_words"]["situational_appropriateness"]
    assert got["spearman"]["value"] == pytest.approx(stats.spearmanr(length, human).statistic, abs=1e-4)
    assert got["kendall"]["value"] == pytest.approx(stats.kendalltau(length, human).statistic, abs=1e-4)
    assert got["spearman"]["value"] > 0.5  # the ratings were made from length
    assert got["spearman"]["groups"] == 6
    # bleu against the reference: the human-target rows score 100, and the report keeps both subsets
    assert report["example_level"]["models"]["bleu2"]["mean_of_four"]["spearman"]["n"] == 24
    system = report["system_level"]["correlations"]["dist2"]["mean_of_four"]
    assert system["n"] == 5 and system["p_spearman_exact"] >= 2 / 120
    text = (out / "README.md").read_text()
    assert "annotators (ceiling)" in text and "5 points" in text and str(tmp_path) not in text


def test_unmatched_dialogues_are_one_line_naming_them(inputs, tmp_path, capsys):
    ratings, release = inputs
    text = ratings.read_text().replace("My cat had kittens!", "My parrot talks!")
    ratings.write_text(text)
    code = main(["meta-eval", str(ratings), "--ed", str(release), "--output", str(tmp_path / "r"),
                 "--metrics", "length"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "1 of 6 rated dialogues match no single ED test example: sample 5: ED_index 105" in err
    assert "--allow-unmatched" in err and not (tmp_path / "r").exists()
    assert main(["meta-eval", str(ratings), "--ed", str(release), "--output", str(tmp_path / "r"),
                 "--metrics", "length", "--allow-unmatched", "--resamples", "100"]) == 0
    report = json.loads((tmp_path / "r" / "meta_eval.json").read_text())
    assert report["responses_scored"] == 25 and list(report["mapping"]["unmatched"]) == ["5"]


def test_rubric_without_scale_and_unloadable_judge_exit_2(inputs, tmp_path, capsys):
    ratings, release = inputs
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("items:\n  empathy: 'The listener cares.'\n")
    code = main(["meta-eval", str(ratings), "--ed", str(release), "--output", str(tmp_path / "r"), "--metrics", "none",
                 "--judge", "--judge-rubric", str(rubric)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "rubric.yaml: no scale" in err
    empty = tmp_path / "empty-model"
    empty.mkdir()
    code = main(["meta-eval", str(ratings), "--ed", str(release), "--output", str(tmp_path / "r"), "--metrics", "none",
                 "--judge", "--judge-model-args", f"pretrained={empty}", "--judge-device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "judge model" in err and "could not be loaded" in err


@pytest.mark.slow
def test_judge_scores_go_into_the_report_and_rescoring_generates_nothing(inputs, tmp_path, capsys):
    ratings, release = inputs
    args = ["meta-eval", str(ratings), "--ed", str(release), "--metrics", "length", "--resamples", "100",
            "--judge", "--judge-model-args", "pretrained=tiny-llama", "--judge-device", "cpu",
            "--judge-batch-size", "8", "--judge-pairwise", "zephyr_base,SFT", "--judge-answers", str(tmp_path / "ans")]
    assert main([*args, "--output", str(tmp_path / "a")]) == 0
    first = json.loads((tmp_path / "a" / "meta_eval.json").read_text())
    assert first["judge"]["generated"] == 30 * 4 and first["judge_pairwise"]["generated"] == 6 * 2 * 4
    unparseable = sum(u["count"] for u in first["judge"]["unparseable"].values())
    rows = [json.loads(line) for line in (tmp_path / "a" / "scores.jsonl").read_text().splitlines()]
    scored = sum(r["metrics"][k] is not None for r in rows for k in r["metrics"] if k.startswith("judge_")
                 and not k.startswith("judge_unparseable"))
    assert scored + unparseable == 120
    assert "judge_emotion_understanding" in first["example_level"]["all"]
    spread = first["judge"]["distinct"]["judge_emotion_understanding"]
    assert spread["parsed"] == sum(r["metrics"]["judge_emotion_understanding"] is not None for r in rows)
    assert "distinct scores (most frequent)" in (tmp_path / "a" / "README.md").read_text()
    assert first["instruments"]["judge"]["rubric"]["file"] == "harness/judge_prompts/empo_statements.yaml"
    assert main([*args, "--output", str(tmp_path / "b")]) == 0
    second = json.loads((tmp_path / "b" / "meta_eval.json").read_text())
    assert second["judge"]["generated"] == 0 and second["judge_pairwise"]["generated"] == 0
    assert second["example_level"] == first["example_level"]
    assert np.isfinite(second["judge_pairwise"]["per_statement"]["emotion_understanding"]["pairs"])


def test_report_paths_are_portable(tmp_path, monkeypatch):
    from harness.metaeval.report import _finite

    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    data = {"a": str(tmp_path / "mirror" / "nrc" / "x.txt"), "b": [str(tmp_path / "cache" / "epitome" / "ER")],
            "c": "/elsewhere/model.bin", "d": "plain", "e": float("nan")}
    assert _finite(data) == {"a": "<mirror>/nrc/x.txt", "b": ["<cache>/epitome/ER"], "c": "model.bin", "d": "plain",
                             "e": None}
