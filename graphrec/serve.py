"""``python -m graphrec.serve BUNDLE|RUN_DIR``: see :mod:`graphrec.serving.serve`."""
import sys

from graphrec.serving.serve import main

if __name__ == "__main__":
    sys.exit(main())
