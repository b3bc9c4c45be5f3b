#!/bin/bash
# The evidence of reports/rl/: SFT (the smollm2-135m-cpu recipe's, trained elsewhere), SFT + RL
# and EmpRL's two ablations, evaluated on the first 200 ED test dialogues with EmpRL's sampled
# decoding, seeds 1..5 in order (interleaved across systems so that an early stop leaves every
# system with the same seeds), the perplexity of the references, and the leaderboard.
#
#   SFT=runs/smollm2/sft RUNS=runs/rl LOCK=/path/to/lock bash reports/rl/run.sh [STEP ...]
#
# STEP: train, bench, eval, ppl, board, ablations (default: all, in that order); SEEDS (default
# "1 2 3 4 5") limits the seeds an eval step runs. Every heavy command runs under
# `flock $LOCK` when LOCK is set (a machine shared with other jobs).
set -euo pipefail
SFT=${SFT:-runs/smollm2/sft}
RUNS=${RUNS:-runs/rl}
PY=${PY:-python}
heavy() { if [ -n "${LOCK:-}" ]; then flock "$LOCK" nice -n 10 "$@"; else nice -n 10 "$@"; fi; }
export EMPATHY_HARNESS_METRICS=epitome,epitome_full,dist,length
BASE=smollm2-135m-instruct
SYSTEMS=(sft rl rl-no-kl rl-no-empathy)
adapter() { case $1 in sft) echo "$SFT";; *) echo "$RUNS/train/$1";; esac; }
recipe() { case $1 in rl) echo smollm2-135m-cpu;; rl-no-kl) echo smollm2-135m-cpu-rl-no-kl;; rl-no-empathy) echo smollm2-135m-cpu-rl-no-empathy;; esac; }

train() {  # /usr/bin/time records the run's peak memory beside its folder
  mkdir -p "$RUNS/train"
  heavy /usr/bin/time -v -o "$RUNS/train/$1.time" $PY -m harness train rl --recipe "$(recipe "$1")" --from "$SFT" \
    --output "$RUNS/train/$1"
}
eval_seed() {  # system seed
  local out="$RUNS/eval/$1/seed-$2"
  [ -f "$out/manifest.json" ] && return 0
  heavy $PY -m harness eval --model-args "pretrained=$BASE,peft=$(adapter "$1")" --name "$1" \
    --tasks ed_empathy_sampled --limit 200 --seed "$2" --output "$out"
}
ppl() {
  local out="$RUNS/eval/$1-ppl"
  [ -f "$out/manifest.json" ] && return 0
  heavy $PY -m harness eval --model-args "pretrained=$BASE,peft=$(adapter "$1")" --name "$1" \
    --tasks ed_perplexity --limit 200 --output "$out"
}
board() {  # the leaderboard (R_emp scored here from the generations), the training table, the curves
  local runs=()
  for s in "${SYSTEMS[@]}"; do for d in "$RUNS"/eval/"$s"/seed-*; do [ -f "$d/manifest.json" ] && runs+=("$d"); done; done
  heavy $PY -m harness leaderboard "${runs[@]}" --task ed_empathy_sampled --reference sft --metrics emp_reward \
    --output reports/rl/leaderboard.md --figures reports/rl/figures
  $PY reports/rl/perplexity_table.py "$RUNS"/eval/*-ppl >> reports/rl/leaderboard.md
  local trained=()
  for s in rl rl-no-kl rl-no-empathy; do [ -f "$RUNS/train/$s/training.json" ] && trained+=("$RUNS/train/$s"); done
  $PY reports/rl/training_table.py "${trained[@]}" >> reports/rl/leaderboard.md
  mkdir -p reports/rl/curves
  for d in "${trained[@]}"; do cp "$d/reward_curve.json" "reports/rl/curves/$(basename "$d").json"
                               cp "$d/reward_curve.png" "reports/rl/curves/$(basename "$d").png"; done
}

steps=${*:-train bench eval ppl board ablations}
for step in $steps; do
  case $step in
    train) train rl ;;
    bench) RL_BENCH_STEPS=0 heavy $PY -m tests.benchmarks rl ;;
    eval) for seed in ${SEEDS:-1 2 3 4 5}; do eval_seed sft $seed; eval_seed rl $seed; done ;;
    ppl) ppl sft; ppl rl ;;
    board) board ;;
    ablations)
      train rl-no-kl; train rl-no-empathy
      for seed in ${SEEDS:-1 2 3 4 5}; do eval_seed rl-no-kl $seed; eval_seed rl-no-empathy $seed; done
      ppl rl-no-kl; ppl rl-no-empathy; board ;;
  esac
done
