"""``python -m graphrec.serve BUNDLE|RUN_DIR``: top-K lists over HTTP (JSON), on uvicorn.

Needs the ``serve`` extra (Starlette and uvicorn): ``pip install -e '.[serve]'``."""
from __future__ import annotations

import argparse
import socket
import sys

from ..errors import UsageError, command

EXAMPLES = """\
endpoints:
  GET  /recommend?user=ID[&k=10][&items=all|warm|cold][&include_seen=true]
  POST /recommend   {"users": [ID, ...], "k"?, "items"?, "include_seen"?}, or a list of ids
  POST /new-items   {"features": {modality: [[float, ...], ...]}, "ids"?, "k"?, "users"?}:
                    each new item's top users (and these users' lists among the new items)
  GET  /health      status, sizes, limits and the model card (bundle.json)

examples:
  python -m graphrec.serve model-bundle --port 8000
  curl 'http://127.0.0.1:8000/recommend?user=196&k=10'
  curl 'http://127.0.0.1:8000/recommend?user=196&items=cold&include_seen=true'
  curl -X POST http://127.0.0.1:8000/recommend -d '{"users": ["196", "186"], "k": 5}'
  curl -X POST http://127.0.0.1:8000/new-items \\
       -d '{"features": {"v": [[0.1, ...]], "a": [[...]], "t": [[...]]}, "k": 20}'
  curl http://127.0.0.1:8000/health          # the model card

Lists are recommend's: a user's training items left out unless include_seen, ties to the
lower item id, ids as in the data files. Bad input is a 4xx with {"error": "<one line>"}.
docs/serving.md has every field."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m graphrec.serve",
        description="Serve top-K recommendations over HTTP (JSON) from a bundle\n"
                    "(python -m graphrec.export's) or a run folder (train.py's).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="BUNDLE|RUN_DIR",
                   help="a bundle (python -m graphrec.export) or a train.py run folder")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 for every interface: there is no authentication)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    p.add_argument("--data", metavar="PATH",
                   help="run folder only: where the run's data is now (default: its data.path)")
    limits = p.add_argument_group("limits (a request past one is refused with a 4xx)")
    limits.add_argument("--max-k", type=int, default=1000, metavar="K",
                        help="longest list (default 1000)")
    limits.add_argument("--max-users", type=int, default=1000, metavar="N",
                        help="users per request (default 1000)")
    limits.add_argument("--max-new-items", type=int, default=1000, metavar="N",
                        help="new items per POST /new-items (default 1000)")
    limits.add_argument("--max-entries", type=int, default=100_000, metavar="N",
                        help="list entries in one answer, users x k (default 100000)")
    limits.add_argument("--max-body-mb", type=float, default=2.0, metavar="MB",
                        help="request body size (default 2 MiB)")
    limits.add_argument("--limit-concurrency", type=int, default=64, metavar="N",
                        help="connections at once; past it uvicorn answers 503 (default 64)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    return p


def listen(host: str, port: int) -> socket.socket:
    """A bound socket (uvicorn listens on it), or one line saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and
    # without it every keep-alive answer waits ~40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"--host {host} --port {port}: cannot listen there "
                         f"({exc.strerror or exc})") from None
    return sock


def make_server(service, access_log: bool = False, limit_concurrency: int = 64):
    """A uvicorn server for the service's app: ``.run(sockets=[listen(...)])``."""
    import uvicorn

    from .server import make_app

    config = uvicorn.Config(make_app(service), log_level="info", access_log=access_log,
                            limit_concurrency=limit_concurrency, timeout_keep_alive=5)
    return uvicorn.Server(config)


def _positive(args) -> None:
    for name in ("max_k", "max_users", "max_new_items", "max_entries", "max_body_mb",
                 "limit_concurrency"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')}={getattr(args, name)} is invalid: "
                             "allowed > 0")
    if not 0 <= args.port < 65536:
        raise UsageError(f"--port={args.port} is invalid: allowed 0..65535")


@command
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _positive(args)
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"python -m graphrec.serve needs the serve extra ({exc.name} is not "
                         "installed): pip install -e '.[serve]'") from None
    from . import open_source
    from .recommend import device_of
    from .service import Limits, Service

    sock = listen(args.host, args.port)  # before loading: a taken port fails at once
    try:
        bundle = open_source(args.source, device_of(args.device), args.data)
    except BaseException:
        sock.close()
        raise
    limits = Limits(max_k=args.max_k, max_users=args.max_users,
                    max_new_items=args.max_new_items, max_entries=args.max_entries,
                    max_body=int(args.max_body_mb * 2**20))
    service = Service(bundle, limits)
    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    print(f"serving {bundle.model} ({bundle.n_users} users x {bundle.n_items} items"
          f"{', new items from features' if bundle.encoder is not None else ''}) on {url} "
          f"(GET {url}/health; Ctrl-C stops)", flush=True)
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"warning: listening on {host}: anyone who can reach this machine can query "
              "the model (there is no authentication)", file=sys.stderr, flush=True)
    try:
        make_server(service, args.access_log, args.limit_concurrency).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has shut down cleanly and re-raised it
        return 130
    return 0
