#!/usr/bin/env bash
# Issue 19.7(d) on a lent GPU: the converged curve of the fast path at the seed's maths
# (CLCRec, batch 256, 512 negatives, fp32, lr 0.001) on the real CLCRec movielens split,
# which 2 CPU cores cannot afford (~390 s an epoch there, tens of epochs to converge).
#
#   mkdir -p shared && cp -r ../shared/data/clcrec/movielens shared/   # 9 MB; never commit it
#   benchmarks/gpu_converge.sh [DATA_DIR] [SECONDS]     # defaults: shared/movielens, 420
#
# Early stopping decides where the curve has converged (a validation every ~quarter epoch,
# patience 12 validations); SECONDS caps the run so the device time stays bounded: a run that
# stops by the cap is "not converged" in its metrics.json and the target from it is a lower
# bound. Afterwards, on the CPU side:
#   python -m graphrec.compare outputs/converge --suggest-target   # needs >= 3 seeds: run 3
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-shared/movielens}"
budget="${2:-420}"
seed="${SEED:-0}"
python -c "import hydra" 2>/dev/null || python -m pip install -q -e . 2>/dev/null \
  || python -m pip install -q "hydra-core==1.4.0rc3" tqdm numpy pandas pyarrow scipy
PYTHONUNBUFFERED=1 python train.py data=clcrec data.path="$data" data.feat_dims=[2048,128,100] \
  model=clcrec model.lr=0.001 loader=fast batch=b256 precision=fp32 sampling=neg512 \
  trainer.device="${DEVICE:-cuda}" trainer.epochs=200 trainer.patience=12 trainer.eval_every=0 \
  trainer.eval_every_steps=900 trainer.time_budget_s="$budget" trainer.progress=false \
  trainer.seed="$seed" hydra.run.dir="${OUT:-outputs}/converge/s$seed"
