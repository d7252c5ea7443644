"""``python -m graphrec.export RUN_DIR OUT``: see :mod:`graphrec.serving.export`."""
import sys

from graphrec.serving.export import main

if __name__ == "__main__":
    sys.exit(main())
