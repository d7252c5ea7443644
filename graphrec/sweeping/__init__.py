"""Sweeps: a resumable Optuna sweeper for Hydra, its config resolvers and sampler seeding.

Nothing here is imported by a single run; the Hydra plugin in ``hydra_plugins/graphrec_sweeps``
imports :mod:`.resolvers` at start-up and :mod:`.sweeper` only when a sweep starts."""
