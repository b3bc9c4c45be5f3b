"""One quiet, consistent command line: help everywhere, one `--metrics` convention, errors
that name the right place and suggest the right name, labelled progress, results shown."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from harness.cli import build_parser, main
from harness.errors import DataError, HarnessError
from harness.generations import read_generations
from harness.lmeval import taskdir
from tests.support.fixtures import toys  # noqa: F401  (fixture)

GOOD = {"id": "a", "context": ["I lost my dog"], "response": "I am so sorry", "reference": "Oh no"}


def _parsers(parser: argparse.ArgumentParser, path: str = "empathy-harness"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_has_a_description_and_every_option_help():
    missing = []
    for path, parser in _parsers(build_parser()):
        if not parser.description:
            missing.append(f"{path}: no description")
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}: no help")
    assert missing == []


def test_epitome_predict_names_its_argument():
    usage = next(p for path, p in _parsers(build_parser()) if path.endswith("epitome predict")).format_usage()
    assert "GENERATIONS" in usage and " file" not in usage


@pytest.mark.parametrize("written", [["length,dist1"], ["length", "dist1"], ["length, dist1"], ["length dist1"]])
@pytest.mark.parametrize("command", ["score", "compare", "leaderboard"])
def test_metrics_take_commas_and_spaces_in_every_command(command, written):
    from harness.cli import metric_option

    args = build_parser().parse_args([command, "x.jsonl", "y.jsonl", "--output", "o", "--metrics", *written])
    assert metric_option.chosen(args.metrics) == ["length", "dist"]


def _two_generations(tmp_path):
    paths = []
    for name, responses in (("a", ["I am sorry", "that is sad", "oh no"]), ("b", ["sorry", "sad", "no way, really"])):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({**GOOD, "id": f"e{i}", "response": r}) + "\n"
                                for i, r in enumerate(responses)))
        paths.append(str(path))
    return paths


def test_compare_and_leaderboard_take_comma_separated_metrics(tmp_path, capsys):
    a, b = _two_generations(tmp_path)
    assert main(["compare", a, b, "--metrics", "length,dist", "--resamples", "20", "--corpus-resamples", "0"]) == 0
    assert "length_chars" in capsys.readouterr().out
    assert main(["leaderboard", a, b, "--metrics", "length,dist", "--output", str(tmp_path / "board.md"),
                 "--no-figures", "--resamples", "20", "--corpus-resamples", "0"]) == 0


def test_an_unknown_metric_suggests_the_close_name(capsys):
    with pytest.raises(HarnessError, match=r"unknown metric 'lenght' \(did you mean length\?\)"):
        from harness.cli import metric_option

        metric_option.chosen(["nidf,lenght"])


def _json_error(tmp_path, line: str) -> str:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + line + "\n")
    with pytest.raises(DataError) as error:
        read_generations(path)
    return str(error.value)


def test_json_errors_name_their_column(tmp_path):
    good = json.dumps(GOOD)
    cut = good[:-1]  # the closing brace lost: json reports it on "line 2, column 1" of the text read
    message = _json_error(tmp_path, cut)
    assert "line 2:" in message and f"at the end of the line, column {len(cut) + 1}" in message
    broken = good.replace('"response": "I am so sorry"', '"response" "I am so sorry"')
    column = broken.index(' "I am so sorry"') + 2  # 1-based: where the ':' was expected
    assert f"column {column})" in _json_error(tmp_path, broken)
    assert "column 1)" in _json_error(tmp_path, "x" + good)


def test_score_on_a_folder_says_what_to_pass(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "tasks" / "ed_empathy").mkdir(parents=True)
    (run / "tasks" / "ed_empathy" / "generations.jsonl").write_text(json.dumps(GOOD) + "\n")
    assert main(["score", str(run), "-o", str(tmp_path / "out"), "--metrics", "length"]) == 2
    err = capsys.readouterr().err
    assert "is a run folder; score takes generations files" in err
    assert str(run / "tasks" / "ed_empathy" / "generations.jsonl") in err and "no such file" not in err
    assert main(["score", str(tmp_path / "out"), "-o", str(tmp_path / "o2"), "--metrics", "length"]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    assert main(["score", str(tmp_path / "plain"), "-o", str(tmp_path / "o3"), "--metrics", "length"]) == 2
    assert "is a folder; score takes generations files (JSON lines)" in capsys.readouterr().err


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_an_unknown_task_suggests_close_names(own_cache):
    own = taskdir.own_index()
    index = {**own, "mmlu_abstract_algebra": None, "hellaswag": None}
    with pytest.raises(HarnessError, match=r"ed_empathi \(did you mean ed_empathy\?\)"):
        taskdir.check_names(["ed_empathy", "ed_empathi"], index)
    with pytest.raises(HarnessError, match=r"mmlu_abstrat_algebra \(did you mean mmlu_abstract_algebra\?\)"):
        taskdir.check_names(["mmlu_abstrat_algebra"], index)
    with pytest.raises(HarnessError, match=r"unknown task\(s\) zzz;"):
        taskdir.check_names(["zzz"], index)
    taskdir.check_names(["ed_empathy", "hellaswag"], index)


def test_an_unknown_task_fails_before_lm_eval_indexes_its_tasks(own_cache, monkeypatch, capsys):
    import lm_eval.tasks

    # with no names remembered yet, a name not in our folder is left to the full index
    taskdir.check_names(["ed_empathi"])
    taskdir.check_names(["ed_empathy", "hellaswag"], {**taskdir.own_index(), "hellaswag": None})  # remembers
    monkeypatch.setattr(lm_eval.tasks, "TaskManager", lambda *a, **k: pytest.fail("lm-eval indexed its tasks"))
    assert main(["eval", "--model-args", "pretrained=tiny-llama", "--tasks", "hellaswag,ed_empathi"]) == 2
    assert "unknown task(s) ed_empathi (did you mean ed_empathy?)" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.mirror
def test_eval_prints_its_table_and_files_and_one_labelled_bar(mirror, toys, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--model-args", "pretrained=tiny-llama", "--tasks", "empathy", "--limit", "2",
                 "--gen-kwargs", "max_gen_toks=2", "--batch-size", "2", "--no-cache", "--output", str(out)]) == 0
    printed = capsys.readouterr()
    assert re.search(r"^\|\s*Tasks\s*\|Version\|", printed.out, re.M)  # lm-eval's make_table
    assert re.search(r"^\|\s*- ed_empathy_short\s*\|", printed.out, re.M) and "|toy_unique" in printed.out
    assert f"run folder: {out}" in printed.out
    assert f"{out}/tasks/ed_empathy/{{generations.jsonl," in printed.out
    bars = re.findall(r"(?:^|\r)([^\r\n|]*?)\s*\d+%\|", printed.err, re.M)
    assert bars and all(label.strip() for label in bars), set(bars)  # no unlabelled bar
    assert "Building prompts" in printed.err and "2/2" in printed.err  # one bar over both tasks


def test_demo_prints_every_step_and_the_true_total(monkeypatch, capsys, tmp_path):
    """Each step's time as it ends, instrument training and leaderboard included, and a total
    that is the whole run's (a clock the steps advance by known amounts)."""
    from types import SimpleNamespace

    from harness.cli import demo
    from harness.runs import evaluate

    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(demo, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    costs = {"tiny-llama": 300, "human": 10, "opposite-emotion": 20}

    def spend(seconds, result=None):
        clock.now += seconds
        return result

    monkeypatch.setattr(demo, "prepare_instruments", lambda scorers: spend(600, True))
    monkeypatch.setattr(evaluate, "run", lambda request: spend(costs[request.name or request.backend], tmp_path))
    monkeypatch.setattr(demo, "build_report", lambda runs, out: spend(50, "the leaderboard"))
    assert main(["demo", "--model-args", "pretrained=tiny-llama", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for line in ("[demo] training the EPITOME instrument: 600 s", "[demo] tiny-llama: 300 s", "[demo] human: 10 s",
                 "[demo] opposite-emotion: 20 s", "[demo] leaderboard and figures: 50 s"):
        assert line in out
    assert out.rstrip().endswith("leaderboard and figures 50 s; total 980 s")
