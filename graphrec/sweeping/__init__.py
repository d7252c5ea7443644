"""Sweeps: a resumable Optuna sweeper for Hydra, its config resolvers and sampler seeding.

A single run imports only :mod:`.report` (``train.py``: the objective's metric and the pruning
reporter, neither importing Optuna); the Hydra plugin in ``hydra_plugins/graphrec_sweeps``
imports :mod:`.resolvers` and :mod:`.options` (the sweeper's options, declared once) at
start-up and :mod:`.sweeper` (and Optuna) only when a sweep starts."""
