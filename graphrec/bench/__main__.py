"""``python -m graphrec.bench``: see :mod:`graphrec.bench.cli`."""
import os

# Before torch starts OpenMP: on a shared machine, threads that spin while waiting for a
# descheduled sibling make small ops 10-100x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .cli import main  # noqa: E402

main()
