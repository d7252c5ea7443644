# Two entry points for a fresh machine: `make run` and `make test`. Both install first.
PYTHON ?= python

# The tests compose every launcher preset, share a study through PostgreSQL, read TensorBoard
# event files, open optuna-dashboard in a browser and serve a model over HTTP, so install
# every extra; each pin stays in one place, its extra in setup.cfg.
EXTRAS ?= dev,joblib,slurm,postgres,tensorboard,dashboard,serve

.PHONY: install run test bench

# Keeps an installed torch (a CUDA build, say); otherwise takes the pinned CPU build.
install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e ".[$(EXTRAS)]"

run: install
	$(PYTHON) train.py

test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) -m graphrec.bench
