"""``python -m graphrec.recommend RUN_DIR|BUNDLE``: see :mod:`graphrec.serving.recommend`."""
import sys

from graphrec.serving.recommend import main

if __name__ == "__main__":
    sys.exit(main())
