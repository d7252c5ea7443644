"""Side-by-side benchmarks: ``python -m graphrec.bench MODE [options]`` (``MODE --help``).

Every mode appends one row per side to ``--out``'s ``RESULTS.md`` and ``bench.jsonl``
(default ``outputs/bench/``), noting the machine, device, torch and load average. Speed modes
alternate their sides round by round (A B C A B C ...) so drifting load hits every side alike.

* ``train`` (the default): training throughput of each configuration, ``train.py``.
* ``sampler``: the seed's DataLoader against the fast sampler, batches only.
* ``accuracy``: val Recall@20 at the same epochs, several seeds.
* ``eval``: graphrec's full-ranking validation against CLCRec's own loop, checked and timed.
* ``target``: the time to a val Recall@20 target, validation on the clock.
* ``scale``: cost as the work grows, each size in its own process; table and plot.
* ``recbole``: graphrec against RecBole 1.2.1 on ml-100k (its NumPy/SciPy aliases applied
  only when this mode runs, in ``recbole_side``).
* ``recommend``: top-K lists for every user against RecBole's ``full_sort_topk`` (ml-100k).
* ``serve``: ``python -m graphrec.serve`` under a bounded load on loopback: requests/s,
  p50/p99 latency, and answers checked against the bundle's own lists.

``harness`` holds what they share; importing this package imports none of them (no torch).
"""


def main(argv=None) -> list:
    """Run one mode from command-line arguments; the rows it recorded."""
    from .cli import main as cli_main

    return cli_main(argv)
