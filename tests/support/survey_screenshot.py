"""Screenshots of the survey on real dialogues: EmPO's released responses (baseline and SFT + DPO)
made into generations files, a study prepared from them, a batch page half filled in Chromium.

    python -m tests.support.survey_screenshot reports/human-eval

writes survey-intro.png and survey-batch.png there (needs the mirror and Chromium).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from harness.human_eval.designs import design
from harness.human_eval.empo import EMPO_DIMENSIONS, read_empo_ratings
from harness.human_eval.study import prepare
from tests.support.browser import Browser, find_chromium
from tests.support.human_eval import running_server


def main(output: str) -> int:
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    data = read_empo_ratings()
    work = Path(tempfile.mkdtemp(prefix="survey-screenshot-"))
    inputs = []
    for system in ("zephyr_base", "zephyr_dpo"):
        path = work / f"{system}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for (sample, name), r in sorted(data.responses.items()):
                if name == system:
                    fh.write(json.dumps({"id": str(sample), "context": list(r.context), "response": r.response,
                                         "reference": r.reference, "emotion": r.emotion}) + "\n")
        inputs.append(str(path))
    prepare(inputs, work / "study", design("empo"), names=["baseline", "SFT + DPO"], samples=60, per_emotion=1, seed=1)
    browser = Browser(find_chromium() or sys.exit("no Chromium"), width=900, height=1000)
    try:
        with running_server(work / "study") as (base, _):
            browser.open(base + "/")
            browser.js("document.querySelector('h2').scrollIntoView({block: 'start'})")
            browser.screenshot(out / "survey-intro.png")
            browser.type_into("input[name=annotator]", "demo-annotator")
            browser.click("button[type=submit]")
            browser.wait_for("location.pathname.startsWith('/batch/') && document.readyState === 'complete'")
            for k, dimension in enumerate(EMPO_DIMENSIONS):
                browser.click(f".sample:nth-of-type(1) [data-dimension='{dimension}'] input", 0.55 + 0.1 * k)
            browser.click(".sample:nth-of-type(1) [data-dimension='understandable_consistent'] input")
            browser.wait_for("window.pendingSaves === 0")
            browser.reload()
            browser.js("window.scrollTo(0, 0)")
            browser.screenshot(out / "survey-batch.png")
    finally:
        browser.close()
    print(f"wrote {out / 'survey-intro.png'} and {out / 'survey-batch.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "reports/human-eval"))
