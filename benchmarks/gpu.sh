#!/usr/bin/env bash
# The GPU benchmark in one script, for a lent GPU machine where only PyTorch is installed.
#
#   benchmarks/gpu.sh                        # on the GPU, about 10 minutes
#   benchmarks/gpu.sh --device cpu --tiny    # the same steps on small data, CPU (a test runs it)
#
# The seed configuration (CLCRec, num_neg 512, data=synthetic_seed: 55k users x 6k items) at
# batch 256, 1024 and 4096, fp32 and amp, loader=baseline (the seed's step) and loader=fast
# (the lean step); then the lean step compiled with CUDA graphs; then the negative-sampling
# strategies (per-sample, shared, mixed, in-batch) with each step's roofline; then one full-ranking
# evaluation of every user against every item; then the time to a quality target of the seed's
# setup and of the fast path. Prints samples/s and s/epoch, and writes the
# rows to $OUT/RESULTS.md and $OUT/bench.jsonl (OUT defaults to outputs/bench, git-ignored).
#
# hydra-core, omegaconf and tqdm install from wheels in .whl/ when that folder exists (fill it
# where there is network, for the GPU's Python:
#   pip download -d .whl hydra-core==1.4.0rc3 tqdm --python-version 3.X --only-binary=:all:),
# else from the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
device=cuda
tiny=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --tiny) tiny="--tiny"; shift ;;
    *) echo "usage: $0 [--device cuda|cpu] [--tiny]" >&2; exit 2 ;;
  esac
done

if ! python -c "import hydra, omegaconf, tqdm, numpy" 2>/dev/null; then
  if compgen -G ".whl/*.whl" >/dev/null; then
    python -m pip install -q --no-index --find-links .whl hydra-core omegaconf tqdm numpy
  else
    python -m pip install -q "hydra-core==1.4.0rc3" tqdm numpy
  fi
fi
python -c "import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available())"

bench=(python -m graphrec.bench)  # then MODE, "${opts[@]}" and the mode's own options
opts=(--device "$device" --rounds 1 --out "${OUT:-outputs/bench}" $tiny)
# Step counts: the baseline is bound by its Python sampler (~3k samples/s), so few steps.
if [ -n "$tiny" ]; then fast=4; slow=(2 2 2); else fast=200; slow=(30 10 6); fi

batches="256 1024 4096"
if [ -n "$tiny" ]; then batches="16 32 64"; fi
configs=()
i=0
for batch in $batches; do
  for precision in fp32 amp; do
    configs+=("loader=baseline model.impl=reference batch.size=$batch precision=$precision trainer.max_steps=${slow[$i]} trainer.log_every=$(( (slow[$i] + 2) / 3 ))")
    configs+=("loader=fast batch.size=$batch precision=$precision trainer.max_steps=$fast trainer.log_every=$(( (fast + 3) / 4 ))")
  done
  i=$((i + 1))
done
"${bench[@]}" train "${opts[@]}" --configs "${configs[@]}" --note "gpu.sh"

if [ "$device" = cuda ]; then  # compiles for about a minute each: bounded, and optional
  for batch in 256 1024; do
    timeout 150 "${bench[@]}" train "${opts[@]}" --note "gpu.sh compiled" --configs \
      "loader=fast batch.size=$batch precision=amp trainer.compile=true trainer.cuda_graphs=true trainer.max_steps=400 trainer.log_every=100" \
      || echo "compiled run at batch $batch did not finish in 150 s: skipped"
  done
fi

# Negative-sampling strategies (issue 20), CLCRec's lean step at batch 256: per-sample against
# negatives shared by the batch, each with its roofline (product FLOPs against the mm peak).
# in_batch has no num_neg, which --tiny sets for every config, so only the full run has it.
strategies=("sampling.strategy=per_sample" "sampling.strategy=shared" "sampling=mixed")
if [ -z "$tiny" ]; then strategies+=("sampling=in_batch"); fi
configs=()
for s in "${strategies[@]}"; do
  configs+=("loader=fast model.impl=lean $s trainer.max_steps=$fast trainer.log_every=$(( (fast + 3) / 4 ))")
done
"${bench[@]}" train "${opts[@]}" --configs "${configs[@]}" --note "gpu.sh strategies"

"${bench[@]}" eval "${opts[@]}" --note "gpu.sh"

# Time to a quality target, validation on the clock: the seed's setup against the fast path
# on synthetic_seed scaled as in sweeps/seed_guide (val Recall@20 0.10; CPU: 172 s vs 8.6 s).
if [ -n "$tiny" ]; then
  "${bench[@]}" target "${opts[@]}" --target 0.05 --budget 30 --eval-every-s 0.2 --note "gpu.sh" \
    --configs "loader=baseline loader.num_workers=0" "loader=fast batch.size=64 precision=amp"
else
  timeout 420 "${bench[@]}" target "${opts[@]}" --note "gpu.sh" \
    || echo "time to target did not finish in 420 s: skipped"
fi
