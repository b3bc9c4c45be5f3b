"""`empathy-harness score` as a user runs it: scored folders, the table, bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from harness.cli import main
from harness.metrics import nidf
from tests.conftest import ed_row

KEYS = [
    "nidf", "nidf_sd", "intensity_abs", "valence_abs", "arousal_abs", "dominance_abs", "intensity_signed",
    "valence_signed", "arousal_signed", "dominance_signed", "trie_templates", "trie_span_nodes", "trie_total_nodes",
    "trie_root_children", "trie_compression", "trie_start_words", "dist1", "dist2", "bleu2", "bleu4", "rouge_l",
    "length_chars", "length_words", "n",
]
LEXICAL = "nidf,iva,tries,dist,bleu,rouge_l,length"


@pytest.fixture
def resources_here(tmp_path, monkeypatch, make_release):
    """Tiny NRC lexicons in an empty cache and a tiny ED release: no mirror needed."""
    monkeypatch.delenv("EMPATHY_HARNESS_MIRROR", raising=False)
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    nrc = tmp_path / "cache" / "nrc"
    nrc.mkdir(parents=True)
    (nrc / "NRC-Emotion-Intensity-Lexicon-v1.txt").write_text("word\temotion\tscore\nsad\tsadness\t0.8\n")
    (nrc / "NRC-VAD-Lexicon.txt").write_text("Word\tValence\tArousal\tDominance\nsad\t0.1\t0.3\t0.2\n")
    nidf._document_frequencies.cache_clear()
    release = make_release({
        "train": [ed_row("c1", 1, "I am sad"), ed_row("c1", 2, "I am here")],
        "valid": [ed_row("c2", 1, "you are sad"), ed_row("c2", 2, "I see")],
        "test": [ed_row("c3", 1, "x"), ed_row("c3", 2, "y")],
    })
    yield release
    nidf._document_frequencies.cache_clear()


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def generations(path, responses):
    return write(path, [
        {"id": f"e{i}", "context": ["I am so sad"], "response": r, "reference": "I am sorry", "emotion": "sad"}
        for i, r in enumerate(responses)
    ])


def test_score_writes_the_scored_folder(resources_here, tmp_path, capsys):
    src = generations(tmp_path / "model_a.jsonl", ["I am sad", "I am sad", ""])
    out = tmp_path / "scored"
    assert main(["score", str(src), "--output", str(out), "--ed-source", str(resources_here), "--metrics", LEXICAL]) == 0
    folder = out / "model_a"
    summary = json.loads((folder / "summary.json").read_text())
    assert list(summary) == KEYS
    assert summary["n"] == 3
    # NIDF with the tiny counts (see tests/unit/test_nidf.py): {I, am, sad} -> (0 + AM + AM) / 3;
    # the empty response has none, so the mean is over two responses
    am = 1 - math.log(2) / math.log(3)
    assert summary["nidf"] == pytest.approx(2 * am / 3)
    # intensity: prev "I am so sad" -> .8; responses "I am sad" -> .8, "" -> 0: mean |d| = (0 + 0 + .8) / 3
    assert summary["intensity_abs"] == pytest.approx(0.8 / 3)
    assert summary["length_chars"] == pytest.approx(16 / 3)
    rows = [json.loads(line) for line in (folder / "scores.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["e0", "e1", "e2"]
    assert rows[2]["nidf"] is None and rows[2]["length_chars"] == 0.0
    assert "trie_templates" not in rows[0]  # corpus-level numbers live in the summary only
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["tokenizer"]["variant"] == "punkt"
    assert provenance["input"]["path"] == str(src.resolve()) and len(provenance["input"]["sha256"]) == 64
    assert set(provenance["lexicons"]) == {"nrc-intensity", "nrc-vad"}
    assert all(len(v["sha256"]) == 64 for v in provenance["lexicons"].values())
    assert provenance["harness_version"]
    assert provenance["outputs"]["intensity_abs"] == {
        "higher_is_better": False, "level": "example", "description": provenance["outputs"]["intensity_abs"]["description"],
    }
    assert provenance["instruments"]["nidf"]["document_frequencies"]["documents"] == 4
    # each scorer's compute time, which the leaderboard's resampling budget is checked against
    assert set(provenance["scorer_seconds"]) == set(provenance["instruments"])
    assert all(isinstance(v, float) and v >= 0 for v in provenance["scorer_seconds"].values())
    table = capsys.readouterr().out
    assert "model_a" in table and "trie_templates ↑" in table


def test_metric_subset_variants_and_lm_eval_samples(resources_here, tmp_path):
    doc = {"id": "c9", "emotion": "sad", "situation": "s", "context": ["I am so sad"], "reference": "Oh no."}
    src = write(tmp_path / "samples_ed.jsonl", [{"doc_id": 0, "doc": doc, "filtered_resps": ["I was sad. Then fine."]}])
    out = tmp_path / "scored"
    assert main(["score", str(src), "-o", str(out), "--metrics", "length_words,dist", "--tokenizer", "preserve_line"]) == 0
    summary = json.loads((out / "samples_ed" / "summary.json").read_text())
    assert list(summary) == ["length_chars", "length_words", "dist1", "dist2", "n"]
    assert summary["length_words"] == 6  # preserve_line: I, was, sad., Then, fine, .
    provenance = json.loads((out / "samples_ed" / "provenance.json").read_text())
    assert provenance["tokenizer"]["variant"] == "preserve_line"
    from harness.metrics import tokenize

    assert tokenize.variant() == "punkt"  # the option does not leak past the command


def test_skip_invalid_counts_and_reports(resources_here, tmp_path, capsys):
    src = tmp_path / "gens.jsonl"
    src.write_text('{"id": "a", "context": ["x"], "response": "y", "reference": "r"}\n{broken\n')
    out = tmp_path / "scored"
    assert main(["score", str(src), "-o", str(out), "--metrics", "length", "--skip-invalid"]) == 0
    assert "1 invalid line skipped" in capsys.readouterr().err
    assert json.loads((out / "gens" / "provenance.json").read_text())["input"]["skipped_invalid_lines"] == 1


def test_bad_input_is_a_message_with_file_and_line(tmp_path):
    src = tmp_path / "gens.jsonl"
    src.write_text('{"id": "a", "context": ["x"], "response": "y", "reference": "r"}\n'
                   '{"id": "b", "context": ["x"], "response": ["y"], "reference": "r"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "score", str(src), "-o", str(tmp_path / "out"), "--metrics", "length"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert f"{src}, line 2: response must be a string" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "gens").exists()


def test_unknown_metric_and_stem_clash(tmp_path, capsys):
    src = generations(tmp_path / "g.jsonl", ["hi"])
    assert main(["score", str(src), "-o", str(tmp_path / "o"), "--metrics", "nidf,empathy"]) == 2
    assert "unknown metric 'empathy'" in capsys.readouterr().err
    (tmp_path / "other").mkdir()
    twin = generations(tmp_path / "other" / "g.jsonl", ["hi"])
    assert main(["score", str(src), str(twin), "-o", str(tmp_path / "o"), "--metrics", "length"]) == 2
    assert "would both be scored into" in capsys.readouterr().err


def test_model_based_metrics_without_an_instrument_say_how_to_get_one(resources_here, tmp_path, monkeypatch, capsys):
    from harness.metrics import base, diff_epitome

    monkeypatch.setattr(base, "_INSTANCES", {})
    monkeypatch.setattr(diff_epitome, "SETTINGS", diff_epitome.EpitomeSettings())
    src = generations(tmp_path / "model_a.jsonl", ["I am sad"])
    code = main(["score", str(src), "--output", str(tmp_path / "scored"), "--metrics", "epitome",
                 "--epitome-instrument", str(tmp_path / "no-instrument"), "--epitome-backbone", "tiny-bert"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no trained EPITOME classifier" in err and "empathy-harness epitome train" in err
    assert not (tmp_path / "scored" / "model_a").exists()
