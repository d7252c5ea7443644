# Two entry points for a fresh machine: `make run` and `make test`. Both install first.
PYTHON ?= python

.PHONY: install run test bench

# Keeps an installed torch (a CUDA build, say); otherwise takes the pinned CPU build.
install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e ".[dev]"

run: install
	$(PYTHON) train.py

test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) -m graphrec.bench
