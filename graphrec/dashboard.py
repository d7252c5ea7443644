"""``python -m graphrec.dashboard [SWEEP_DIR | STORAGE_URL] [--port N]``: optuna-dashboard on a
sweep's study, live while the sweep runs.

SWEEP_DIR is a sweep folder (its ``study.db``); STORAGE_URL any Optuna storage URL
(``postgresql://user@host/db`` for a shared study); nothing: the newest ``multirun/*/study.db``.
The server listens on 127.0.0.1 only: the dashboard has no login and can delete studies, so
reach it from another machine through ``ssh -L``. It prints the address and serves until
Ctrl-C. Needs ``pip install -e ".[dashboard]"``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Optional
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .errors import UsageError, command

HOST = "127.0.0.1"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a browser's open connections do not keep Ctrl-C waiting


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # one line per request would bury the address
        pass


def storage_url(target: Optional[str], root: Path = Path("multirun")) -> str:
    """The Optuna storage URL for a sweep folder, a study.db file or a URL (kept as given)."""
    if target and "://" in target:
        return target
    if target is None:
        found = sorted(root.glob("*/study.db"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise UsageError(f"no sweep under {root}/: pass a sweep folder "
                             "(multirun/<study>) or a storage URL")
        db = found[-1]
    else:
        path = Path(target)
        db = path / "study.db" if path.is_dir() else path
    if not db.is_file():  # an RDBStorage on a missing file would create an empty one
        raise UsageError(f"{db} does not exist: pass a sweep folder holding study.db, or "
                         "a storage URL")
    return f"sqlite:///{db.resolve()}"


def serve(url: str, port: int = 0, out=sys.stdout) -> None:
    """Serve optuna-dashboard on ``url`` at 127.0.0.1:``port`` (0: a free one) until Ctrl-C."""
    try:
        from optuna_dashboard import wsgi
    except ImportError as exc:
        raise UsageError('optuna-dashboard is not installed: pip install -e ".[dashboard]"'
                         ) from exc
    import optuna

    from .sweeping.storage import rdb_storage, shown

    storage = rdb_storage(url)  # SQLite waits for a running sweep's writes; psycopg2 driver
    names = optuna.get_all_study_names(storage)
    if not names:
        raise UsageError(f"no study in {shown(url)}")
    for name in names:
        n = storage.get_n_trials(storage.get_study_id_from_name(name))
        print(f"study {name}: {n} trials ({shown(url)})", file=out)
    try:
        httpd = make_server(HOST, port, wsgi(storage), server_class=_Server,
                            handler_class=_QuietHandler)
    except OSError as exc:  # the port is taken, or below 1024 without the right
        raise UsageError(f"--port={port} is invalid: {exc.strerror or exc} on {HOST} "
                         "(allowed: a free port, or 0 for any)") from exc
    print(f"optuna-dashboard: http://{HOST}:{httpd.server_port}/  (Ctrl-C to stop)", file=out,
          flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphrec.dashboard",
                                     description="optuna-dashboard on a sweep's study, "
                                     "live while the sweep runs, on 127.0.0.1")
    parser.add_argument("target", nargs="?", metavar="SWEEP_DIR | STORAGE_URL",
                        help="a sweep folder (its study.db) or an Optuna storage URL; "
                             "default: the newest multirun/*/study.db")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a "
                                                            "free one)")
    args = parser.parse_args(argv)
    serve(storage_url(args.target), args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
