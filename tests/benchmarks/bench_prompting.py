"""Benchmark of Qian et al.'s prompting strategies (harness/prompting, tasks/ed_qian_*.yaml).

1. SS-ICL index: embedding every ED training dialogue's context with the packaged
   all-MiniLM-L6-v2 (the offline encoder), once, into the cache (EMPATHY_HARNESS_CACHE). An
   index already in the cache is not rebuilt: its build time is the one recorded in its
   JSON when it was built (the row says so). Target: under 5 minutes on 2 cores.
2. Retrieval: the 5 nearest training dialogues of each of the 2,546 test dialogues from
   the cached embeddings (cosine similarity, ties by position). Target: under 5 s.
3. Generation: SmolLM2-135M-Instruct (float32, CPU), greedy, up to 200 new tokens, the
   first N test dialogues of ed_qian_0shot and ed_qian_5shot with the chat template and
   the eval command's shared-prefix generation; prompt tokens, the prefix the batch shares
   (the template's definition and guideline: 5-shot prompts differ from the first exemplar
   on), new tokens per second.

Needs the ED data (EMPATHY_HARNESS_MIRROR). `load` is the 1-minute load average (the
machine is shared).
"""

from __future__ import annotations

import os
import time

from tests.benchmarks.common import write_report

N_GENERATION = 16


def index_rows() -> tuple[list[dict], object, object]:
    from harness.lmeval.ed import dataset
    from harness.prompting import exemplars, ssicl

    pool = exemplars.training_pool()
    release = ssicl.ed_release_sha256()
    rows, indexes = [], []
    docs = dataset("test")["test"]
    for split, ids, contexts in (("train", pool.ids, pool.contexts),
                                 ("test", [d["id"] for d in docs], [d["context"] for d in docs])):
        npy, _ = ssicl.index_paths(ssicl.OFFLINE_ENCODER, split, release)
        cached = npy.exists()
        load = round(os.getloadavg()[0], 2)
        start = time.perf_counter()
        index = ssicl.load_or_build(ssicl.OFFLINE_ENCODER, split, ids, contexts, release)
        seconds = time.perf_counter() - start
        rows.append({"measure": f"SS-ICL index, {split} split", "items": index.record["n"],
                     "seconds": index.record["seconds"] if cached else round(seconds, 1),
                     "cpu seconds": index.record.get("cpu_seconds", ""),
                     "note": "recorded at build (cached)" if cached else "built now",
                     "load": index.record.get("load_1min", "") if cached else load, "dim": index.record["dim"]})
        indexes.append(index)
    return rows, indexes[0], indexes[1]


def retrieval_row(train, test, k: int = 5) -> dict:
    from harness.prompting import ssicl

    load = round(os.getloadavg()[0], 2)
    start, cpu = time.perf_counter(), time.process_time()
    found = ssicl.nearest(train.embeddings, test.embeddings, k)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"measure": f"SS-ICL retrieval, k={k}", "items": len(found), "seconds": round(seconds, 2),
            "cpu seconds": round(cpu, 2), "load": load}


def retrieval_row_random(n_train: int = 19_539, n_test: int = 2_546, dim: int = 384, k: int = 5) -> dict:
    """The same retrieval on random unit vectors of the index's shape (no encoder needed)."""
    import numpy as np

    from harness.prompting import ssicl

    rng = np.random.default_rng(0)
    train = rng.standard_normal((n_train, dim)).astype(np.float32)
    test = rng.standard_normal((n_test, dim)).astype(np.float32)
    load = round(os.getloadavg()[0], 2)
    start, cpu = time.perf_counter(), time.process_time()
    found = ssicl.nearest(train, test, k)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"measure": f"SS-ICL retrieval, k={k}, random vectors {n_train}x{dim}", "items": len(found),
            "seconds": round(seconds, 2), "cpu seconds": round(cpu, 2), "load": load}


def generation_row(task_name: str, n: int, batch_size: int = 16) -> dict:
    import torch
    from lm_eval.api.registry import get_model

    from harness.embedded import resolve_model
    from harness.lmeval import taskdir
    from harness.runs.hf_generation import common_prefix_length, use_shared_prefix_generation

    lm = get_model("hf").create_from_arg_obj({"pretrained": resolve_model("smollm2-135m-instruct")},
                                             {"batch_size": batch_size, "device": "cpu"})
    use_shared_prefix_generation(lm)
    task = taskdir.task_manager([task_name]).load([task_name])["tasks"][task_name]
    task.set_fewshot_seed(1234)
    task.build_all_requests(limit=n, apply_chat_template=True, chat_template=lm.apply_chat_template)
    requests = task.instances
    tokens = [lm.tokenizer(r.args[0], add_special_tokens=False)["input_ids"] for r in requests]
    load = round(os.getloadavg()[0], 2)
    start, cpu = time.perf_counter(), time.process_time()
    responses = lm.generate_until(requests, disable_tqdm=True)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    new = sum(len(lm.tokenizer(r, add_special_tokens=False)["input_ids"]) for r in responses)
    return {"measure": f"generation, {task_name}", "items": len(requests), "seconds": round(seconds, 1),
            "cpu seconds": round(cpu, 1), "prompt tokens (mean)": round(sum(map(len, tokens)) / len(tokens)),
            "shared prefix": common_prefix_length(tokens), "new tokens": new,
            "new tokens/s": round(new / seconds, 1), "prompt+new tokens/s":
            round((sum(map(len, tokens)) + new) / seconds, 1), "threads": torch.get_num_threads(), "load": load}


def main(quick: bool = False) -> None:
    rows, train, test = index_rows()
    rows.append(retrieval_row(train, test))
    rows.append(retrieval_row_random(n_train=len(train.ids), n_test=len(test.ids)))
    n = 8 if quick else N_GENERATION
    for task in ("ed_qian_0shot", "ed_qian_5shot"):
        rows.append(generation_row(task, n))
        print(rows[-1], flush=True)
    columns = ["measure", "items", "seconds", "cpu seconds", "note", "dim", "prompt tokens (mean)", "shared prefix", "new tokens",
               "new tokens/s", "prompt+new tokens/s", "threads", "load"]
    notes = [
        "SS-ICL index: all-MiniLM-L6-v2 (packaged; the offline encoder), contexts = turns before the target joined "
        "by a space, unit-length float32 embeddings cached under <cache>/derived/ssicl/; target < 5 min for train",
        "retrieval: cosine top-5 of every test dialogue over all training dialogues from the cached embeddings; "
        "target < 5 s",
        f"generation: SmolLM2-135M-Instruct float32 on CPU, the first {n} test dialogues, chat template, greedy, up to "
        "200 new tokens, batch 16, shared-prefix generation (what `empathy-harness eval` uses); 5-shot exemplars "
        "drawn with few-shot seed 1234",
        "load: 1-minute load average when the row started (the machine is shared with other jobs); cpu seconds: "
        "the process's CPU time (all its threads), which a shared machine inflates less than wall time",
    ]
    write_report("prompting", columns, rows, notes)


if __name__ == "__main__":
    main()
