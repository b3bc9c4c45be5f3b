"""The prompting comparison's leaderboard: one scored task folder per strategy, Qian et al.'s
extra columns and the two-stage emotion accuracy, tested against the 0-shot reference."""

from __future__ import annotations

import json

from harness.cli import main
from tests.synthetic_runs import make_items, write_run


def _add_column(scores_path, values):
    rows = [json.loads(line) for line in scores_path.read_text().splitlines()]
    scores_path.write_text("".join(json.dumps({**r, "emotion_acc": v}) + "\n" for r, v in zip(rows, values)))


def test_extra_columns_on_scored_task_folders(tmp_path, synthetic_scorers):
    zero = write_run(tmp_path, "zero", model="m", items=make_items(60, 0.1, 1), task="ed_qian_0shot")
    two = write_run(tmp_path, "two", model="m", items=make_items(60, 0.3, 2), task="ed_qian_twostage")
    _add_column(zero / "tasks" / "ed_qian_0shot" / "scores.jsonl", [0] * 60)
    _add_column(two / "tasks" / "ed_qian_twostage" / "scores.jsonl", [1] * 45 + [0] * 15)
    out = tmp_path / "board" / "leaderboard.md"
    assert main(["leaderboard", f"0-shot={zero}/tasks/ed_qian_0shot", f"two-stage={two}/tasks/ed_qian_twostage",
                 "--reference", "0-shot", "--extra-columns", "emotion_acc", "--output", str(out), "--no-figures",
                 "--resamples", "1000", "--corpus-resamples", "0"]) == 0
    text = out.read_text()
    assert "| Emotion acc ↑ |" in text
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    assert cells["two-stage"]["emotion_acc"]["value"] == 0.75 and cells["0-shot"]["emotion_acc"]["value"] == 0
    assert cells["two-stage"]["emotion_acc"]["test"].startswith("perm") and cells["two-stage"]["emotion_acc"]["p"] < 0.01
    # without the option the column is not shown
    assert main(["leaderboard", f"0-shot={zero}/tasks/ed_qian_0shot", f"two-stage={two}/tasks/ed_qian_twostage",
                 "--output", str(tmp_path / "plain.md"), "--no-figures", "--resamples", "200",
                 "--corpus-resamples", "0"]) == 0
    assert "Emotion acc" not in (tmp_path / "plain.md").read_text()
