"""One evaluation: lm-eval's `simple_evaluate` on the harness's tasks, into a run folder.

The model is built through lm-eval's own registry (`hf`, `vllm`) or is a reference
system (`human`, `opposite-emotion`); generations go through lm-eval's response cache,
in a file of this model identity's own (harness.runs.identity), which lm-eval fills as
each batch finishes: an interrupted run, started again, generates only what is missing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import platform
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from harness import __version__
from harness.embedded import DEFAULT_MODEL, resolve_model
from harness.errors import HarnessError
from harness.lmeval import taskdir
from harness.runs import folder as run_folder
from harness.runs import stages
from harness.runs.hf_generation import use_shared_prefix_generation
from harness.runs.hf_scoring import use_continuation_logits
from harness.runs.identity import cache_path, identity_hash, model_identity, slug
from harness.runs.references import REFERENCES, ReferenceLM

BACKENDS = ("hf", "vllm") + REFERENCES
DEFAULT_TASKS = ["ed_empathy"]
# hf generation batch: on CPU the larger the faster for the embedded model up to the
# 200 ED test dialogues' worth (tests/benchmarks/bench_eval.py); on GPUs a safe size for 7B models
DEFAULT_BATCH_SIZE = {"cpu": 64, "gpu": 16}
# Plain HFLM scoring holds a batch's full-vocabulary log-probabilities (batch x tokens x
# vocabulary floats, twice): 16 five-shot MMLU prompts of SmolLM2 take over 10 GB, and a model
# without `logits_to_keep` (harness/runs/hf_scoring.py) still does. On CPU a small batch costs
# no speed (long prompts keep the cores busy; 1 and 2 are within 3 % on the demo's MMLU slice);
# on GPU the generation batch is used.
CPU_LIKELIHOOD_BATCH_SIZE = 2
VERSIONED = ("lm_eval", "torch", "transformers", "datasets", "accelerate", "peft", "vllm", "bert-score", "numpy")

log = logging.getLogger(__name__)


@dataclass
class EvalRequest:
    backend: str = "hf"
    model_args: dict = field(default_factory=dict)
    name: str | None = None
    tasks: list[str] = field(default_factory=lambda: list(DEFAULT_TASKS))
    limit: int | None = None
    task_limits: dict[str, int] = field(default_factory=dict)  # requested name -> first N docs of each of its tasks
    output: Path | None = None
    seed: int | None = None
    batch_size: int | str | None = None  # hf: DEFAULT_BATCH_SIZE; vllm: lm-eval's "auto" (vLLM schedules itself)
    likelihood_batch_size: int | None = None  # hf: batch for scoring (multiple choice); default below
    device: str | None = None
    chat_template: str = "auto"  # auto: when the tokenizer has one; yes; no
    system_instruction: str | None = None
    gen_kwargs: str | None = None
    num_fewshot: int | None = None
    use_cache: bool = True
    data_source: str = "auto"  # mmlu / eq_bench / empo: lm-eval's Hub copies or the offline variants (taskdir)
    metadata: dict = field(default_factory=dict)  # lm-eval task metadata for every task (lm_eval --metadata)
    command: list[str] | None = None


def default_request(**overrides) -> EvalRequest:
    """The embedded default model (SmolLM2-135M-Instruct) on the HF backend."""
    request = EvalRequest(backend="hf", model_args={"pretrained": DEFAULT_MODEL}, name=DEFAULT_MODEL)
    for key, value in overrides.items():
        setattr(request, key, value)
    return request


def display_name(request: EvalRequest) -> str:
    if request.name:
        return request.name
    if request.backend in REFERENCES:
        return request.backend
    pretrained = str(request.model_args.get("pretrained", "model"))
    name = Path(pretrained).name if Path(pretrained).expanduser().exists() else pretrained
    adapter = request.model_args.get("peft") or request.model_args.get("lora_local_path")
    return f"{name}+{Path(str(adapter)).name}" if adapter else name


def run(request: EvalRequest) -> Path:
    """Evaluate, write the run folder, return its path."""
    if request.backend not in BACKENDS:
        raise HarnessError(f"unknown --model {request.backend!r}; use one of {', '.join(BACKENDS)}")
    if request.backend == "vllm":
        require_vllm()
    started = _now()
    name = display_name(request)
    output = Path(request.output or Path("reports") / "runs" / slug(name))
    staging = run_folder.prepare_output(output)
    try:
        tasks, replaced = taskdir.offline_substitutes(request.tasks, request.data_source)
        for old, new in replaced.items():
            _say(f"{old} -> {new}: read from the original release, not the Hub (the prompts and metrics of "
                 f"lm-eval's {old})")
        _say(f"tasks: {', '.join(tasks)}")
        manager = taskdir.task_manager(tasks, metadata=request.metadata or None)
        _check_names(tasks, manager)
        model_args = _resolved_args(request)
        _say(f"model: {name} ({request.backend}{', ' + _args_text(model_args) if model_args else ''})")
        lm = build_lm(request.backend, model_args, request)
        apply_template = _chat_template_choice(request.chat_template, lm)
        identity = model_identity(request.backend, model_args, lm) if request.backend not in REFERENCES else None
        cache = None
        if identity is not None and request.use_cache:
            # lm-eval's cache key is the request, not the seed: sampled responses of one seed
            # must not be served for another, so each seed has a cache of its own
            cache = cache_path(identity) / ("responses" if request.seed is None else f"responses-seed-{request.seed}")
            _say(f"response cache: {cache}_rank0.db (this model identity's own)")
        seeds = _seeds(request.seed)
        staged = stages.first_stages(tasks, manager.task_index)
        stage_record: dict = {}
        if staged:
            _say(f"first stages: {', '.join(staged)} (their texts go to {', '.join(sum(staged.values(), []))})")
            first = replace(request, task_limits=stages.stage_limits(request.task_limits, staged))
            first_results = _simple_evaluate(first, lm, model_args, list(staged), manager, apply_template, cache, seeds)
            metadata, stage_record = stages.write(staging, staged, first_results)
            manager = taskdir.task_manager(tasks, metadata={**request.metadata, **metadata})
        results = _simple_evaluate(request, lm, model_args, tasks, manager, apply_template, cache, seeds)
        stages.relative_paths(results, staging)
        _say("scoring and writing the run folder")
        run_folder.write_results(staging, results)
        units = {}
        for unit, leaves in run_folder.units(results).items():
            units[unit] = run_folder.write_unit(staging, unit, leaves, results)
        manifest = _manifest(request, name, model_args, lm, identity, cache, tasks, replaced, results, units,
                             apply_template, seeds, started)
        manifest.update(_prompting(results, stage_record))
        run_folder.write_json(staging / run_folder.MANIFEST, manifest)
        run_folder.publish(staging, output)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    _say(f"run folder: {output}")
    return output


def require_vllm() -> None:
    if importlib.util.find_spec("vllm") is None:
        raise HarnessError(
            "--model vllm needs the vllm package, which is not installed: on a GPU machine run "
            "pip install 'empathy-harness[vllm]', or use --model hf"
        )


def build_lm(backend: str, model_args: dict, request: EvalRequest):
    """An lm-eval LM: the registry's `hf` / `vllm`, or a reference system."""
    if backend in REFERENCES:
        return ReferenceLM(backend)
    if backend == "vllm":
        require_vllm()
    from lm_eval.api.registry import get_model

    if backend == "vllm":
        extra = {"batch_size": request.batch_size or "auto", **({"device": request.device} if request.device else {})}
        return get_model(backend).create_from_arg_obj(dict(model_args), extra)
    device = request.device or _device()
    lm = get_model(backend).create_from_arg_obj(
        dict(model_args), {"batch_size": request.batch_size or default_batch_size(device), "device": device})
    size = likelihood_batch_size(request, device)
    if size is not None and size != lm.batch_size:
        _score_in_batches_of(lm, size)
    if getattr(lm, "backend", "causal") == "causal":
        use_shared_prefix_generation(lm)
        use_continuation_logits(lm)
    return lm


def default_batch_size(device: str) -> int:
    return DEFAULT_BATCH_SIZE["cpu" if device == "cpu" else "gpu"]


def likelihood_batch_size(request: EvalRequest, device: str) -> int | None:
    if request.likelihood_batch_size is not None:
        return request.likelihood_batch_size
    return CPU_LIKELIHOOD_BATCH_SIZE if device == "cpu" else None


def _score_in_batches_of(lm, size: int) -> None:
    """lm-eval's HF backend has one batch size for generating and scoring; give its
    likelihood methods their own (CachingLM and the evaluator find them on the instance)."""
    lm.likelihood_batch_size = size
    for method in ("loglikelihood", "loglikelihood_rolling"):
        original = getattr(lm, method)

        def scored(requests, disable_tqdm: bool = False, _original=original):
            generation_size = lm.batch_size_per_gpu
            lm.batch_size_per_gpu = size
            try:
                return _original(requests, disable_tqdm=disable_tqdm)
            finally:
                lm.batch_size_per_gpu = generation_size

        setattr(lm, method, scored)


def _simple_evaluate(request, lm, model_args, tasks, manager, apply_template, cache, seeds) -> dict:
    from lm_eval import simple_evaluate

    simple_evaluate = with_one_prompt_bar(simple_evaluate, len(_leaves(tasks, manager)))
    samples = _samples(request, tasks, manager) if request.task_limits else None
    try:
        results = simple_evaluate(
            model=lm,
            model_args=model_args,
            tasks=tasks,
            task_manager=manager,
            num_fewshot=request.num_fewshot,
            limit=None if samples else request.limit,
            samples=samples,
            use_cache=str(cache) if cache else None,
            log_samples=True,
            system_instruction=request.system_instruction,
            apply_chat_template=apply_template,
            gen_kwargs=request.gen_kwargs,
            random_seed=seeds["random"],
            numpy_random_seed=seeds["numpy"],
            torch_random_seed=seeds["torch"],
            fewshot_random_seed=seeds["fewshot"],
        )
    except AssertionError as exc:
        if "--samples" in str(exc):
            raise HarnessError(f"a --limit TASK=N is larger than that task: {exc}") from None
        raise
    if results is None:  # not rank 0 of a distributed run: rank 0 writes the folder
        raise SystemExit(0)
    return results


def with_one_prompt_bar(evaluate, tasks: int):
    """`evaluate` (lm-eval's simple_evaluate) drawing one labelled progress bar over the
    `tasks` while it builds their prompts."""

    def evaluated(*args, **kwargs):
        with one_prompt_bar(tasks):
            return evaluate(*args, **kwargs)

    return evaluated


@contextmanager
def one_prompt_bar(tasks: int):
    """lm-eval draws an unlabelled progress bar per task while it builds the prompts (57 for
    MMLU's subjects); draw one labelled bar over the `tasks` instead, closed when the last
    task's prompts are built (before the model's own bars start)."""
    import lm_eval.api.task as lm_task
    from tqdm import tqdm

    bar = None

    def one_task(iterable, total=None, **_):
        nonlocal bar
        if bar is None:  # made at the first task, not while lm-eval loads the tasks
            bar = tqdm(desc="Building prompts", total=tasks, unit="task")
        yield from iterable
        bar.update()
        if bar.n >= bar.total:
            bar.close()

    original = lm_task.tqdm
    lm_task.tqdm = one_task
    try:
        yield
    finally:
        lm_task.tqdm = original
        if bar is not None:
            bar.close()


def _leaves(tasks: list[str], manager) -> set[str]:
    return {leaf for name in tasks for leaf in taskdir.leaf_tasks(name, manager.task_index)}


def _samples(request: EvalRequest, tasks: list[str], manager) -> dict[str, list[int]]:
    """lm-eval's `samples` (doc indices per leaf task) for per-task limits: each task takes
    the limit of the most specific name given for it (a task, or a group holding it),
    else --limit N, else all its documents."""
    index = manager.task_index
    run_leaves = _leaves(tasks, manager)
    named = {}
    for name, k in request.task_limits.items():
        leaves = set(taskdir.leaf_tasks(name, index)) & run_leaves
        if not leaves:
            raise HarnessError(f"--limit {name}=N names no task of this run ({', '.join(tasks)})")
        named[name] = (leaves, k)
    samples: dict[str, list[int]] = {}
    for leaf in sorted(run_leaves):
        matches = sorted((len(leaves), k) for leaves, k in named.values() if leaf in leaves)
        k = matches[0][1] if matches else request.limit
        if k is not None:
            samples[leaf] = list(range(k))
    return samples


def _check_names(tasks: list[str], manager) -> None:
    taskdir.check_names(tasks, manager.task_index)


def _resolved_args(request: EvalRequest) -> dict:
    args = dict(request.model_args)
    if request.backend in REFERENCES:
        return {}
    if "pretrained" not in args:
        raise HarnessError("--model-args needs pretrained=<hub id or path>")
    args["pretrained"] = resolve_model(str(args["pretrained"]))
    return args


def _chat_template_choice(choice: str, lm) -> bool:
    if choice not in ("auto", "yes", "no"):
        raise HarnessError(f"--chat-template must be auto, yes or no, not {choice!r}")
    if choice != "auto":
        return choice == "yes"
    tokenizer = getattr(lm, "tokenizer", None)
    return bool(getattr(tokenizer, "chat_template", None))


def _seeds(seed: int | None) -> dict:
    from lm_eval.defaults import DEFAULT_OTHER_SEED, DEFAULT_RANDOM_SEED

    if seed is None:
        return {"random": DEFAULT_RANDOM_SEED, "numpy": DEFAULT_OTHER_SEED, "torch": DEFAULT_OTHER_SEED,
                "fewshot": DEFAULT_OTHER_SEED}
    return {"random": seed, "numpy": seed, "torch": seed, "fewshot": seed}


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _manifest(request, name, model_args, lm, identity, cache, tasks, replaced, results, units, apply_template,
              seeds, started) -> dict:
    configs = results.get("configs", {})
    template_text = lm.chat_template(apply_template) if apply_template and hasattr(lm, "chat_template") else None
    instruments: dict = {}
    for unit in units.values():
        instruments.update(unit.get("instruments", {}))
    reference = request.backend in REFERENCES
    return {
        "schema": 1,
        "model": name,
        "backend": request.backend,
        "reference": reference,
        "reference_responses": lm.describe() if reference else None,
        "model_args": _args_text(model_args),
        "model_args_resolved": model_args,
        "model_identity": identity,
        "model_identity_sha256": identity_hash(identity) if identity else None,
        "response_cache": f"{cache}_rank0.db" if cache else None,
        "seed": request.seed,
        "seeds": seeds,
        "tasks": tasks,
        "tasks_requested": request.tasks,
        "task_substitutions": replaced,
        "limit": request.limit,
        "task_limits": request.task_limits,
        "num_fewshot": results.get("n-shot", {}),
        "task_configs": {t: {"sha256": _sha(c), "version": results.get("versions", {}).get(t)} for t, c in configs.items()},
        "system_prompts": {t: c.get("description") for t, c in configs.items() if run_folder.is_ed(c)},
        "system_instruction": request.system_instruction,
        "chat_template": {"applied": apply_template,
                          "sha256": hashlib.sha256(template_text.encode()).hexdigest() if template_text else None},
        "generation_kwargs": {t: c.get("generation_kwargs") for t, c in configs.items() if c.get("generation_kwargs")},
        "gen_kwargs_override": request.gen_kwargs,
        "task_metadata": request.metadata,
        "batch_size": getattr(lm, "batch_size", None) if request.backend == "hf" else request.batch_size,
        "likelihood_batch_size": getattr(lm, "likelihood_batch_size", None),
        "units": units,
        "instruments": instruments,
        "versions": versions(),
        "command": request.command,
        "started": started,
        "finished": _now(),
    }


def _prompting(results: dict, stage_record: dict) -> dict:
    """Qian-template tasks: the template's digest and the rendered prompts' digest per task,
    their strategy settings as resolved (encoder, knowledge provider), and the first stages."""
    from harness.lmeval.qian import prompt_digest

    prompts = {}
    for task, config in results.get("configs", {}).items():
        meta = config.get("metadata") or {}
        if meta.get("template") != "qian2023":
            continue
        prompts[task] = {"strategy": meta.get("strategy"), "template_sha256": meta.get("template_sha256"),
                         "prompts_sha256": prompt_digest(results.get("samples", {}).get(task, [])),
                         "num_fewshot": config.get("num_fewshot"),
                         **{k: meta[k] for k in ("ssicl_encoder", "ssicl_index", "knowledge_label",
                                                  "knowledge_provider_resolved") if k in meta}}
    return {"prompts": prompts, "first_stages": stage_record} if prompts or stage_record else {}


def versions() -> dict:
    from harness import CPU_KERNELS

    out = {"harness": __version__, "python": platform.python_version(), "platform": platform.platform(),
           "cpu_kernels": CPU_KERNELS}
    for package in VERSIONED:
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _sha(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _args_text(args: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in args.items())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _say(message: str) -> None:
    print(f"[eval {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def request_from_cli(args, argv: list[str] | None = None) -> EvalRequest:
    """An EvalRequest from `empathy-harness eval`'s arguments."""
    from lm_eval.utils import simple_parse_args_string

    from harness.cli.eval import parse_limits

    model_args = simple_parse_args_string(args.model_args) if args.model_args else {}
    backend = args.model or "hf"
    if args.model is None and not model_args:
        request = default_request()
    else:
        if backend in ("hf", "vllm") and "pretrained" not in model_args:
            raise HarnessError(f"--model {backend} needs --model-args pretrained=<hub id or path>")
        if backend in REFERENCES and model_args:
            raise HarnessError(f"--model {backend} is a reference system and takes no --model-args")
        request = EvalRequest(backend=backend, model_args=model_args)
    limit, task_limits = parse_limits(args.limit)
    batch_size = None if args.batch_size is None else args.batch_size if args.batch_size == "auto" else \
        _positive_int(args.batch_size, "--batch-size")
    request.name = args.name or request.name
    request.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if not request.tasks:
        raise HarnessError("--tasks is empty")
    request.limit, request.task_limits = limit, task_limits
    request.output = Path(args.output) if args.output else None
    request.seed = args.seed
    request.batch_size = batch_size
    request.likelihood_batch_size = None if args.likelihood_batch_size is None else \
        _positive_int(args.likelihood_batch_size, "--likelihood-batch-size")
    request.device = args.device
    request.chat_template = args.chat_template
    request.system_instruction = args.system_instruction
    request.gen_kwargs = args.gen_kwargs
    request.num_fewshot = args.num_fewshot
    request.use_cache = not args.no_cache
    request.data_source = args.data_source
    request.metadata = _metadata(getattr(args, "metadata", None))
    request.command = list(argv) if argv else None
    return request


def _metadata(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"--metadata is not JSON ({exc.msg}); give an object such as '{{\"encoder\": \"auto\"}}'") from None
    if not isinstance(value, dict):
        raise HarnessError("--metadata must be a JSON object")
    return value


def _positive_int(value: str, option: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise HarnessError(f"{option} {value!r}: expected a whole number") from None
    if n < 1:
        raise HarnessError(f"{option} must be at least 1")
    return n
