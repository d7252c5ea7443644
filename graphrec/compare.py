"""``python -m graphrec.compare [PATHS...]``: see :mod:`graphrec.reporting.compare`."""
import sys

from graphrec.errors import run_main
from graphrec.reporting.compare import main

if __name__ == "__main__":
    sys.exit(run_main(main))
