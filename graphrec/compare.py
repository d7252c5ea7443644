"""``python -m graphrec.compare [PATHS...]``: see :mod:`graphrec.reporting.compare`."""
from graphrec.reporting.compare import main

if __name__ == "__main__":
    main()
