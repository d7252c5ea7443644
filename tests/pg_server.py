"""A throwaway PostgreSQL server for tests: Debian's binaries, its own data folder, a free
port on 127.0.0.1 only, trust authentication; stopped and deleted on exit, also on failure."""
from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional


def _bindir() -> Optional[Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))  # Debian's layout
    postgres = found[-1] if found else shutil.which("postgres")
    return Path(postgres).parent if postgres else None


def _as_postgres() -> list:
    """The server refuses to run as root: as root, run it as the `postgres` OS user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def unavailable() -> Optional[str]:
    """Why no server can be started here, or None."""
    if importlib.util.find_spec("psycopg2") is None:
        return "psycopg2 is not installed (pip install -e \".[postgres]\")"
    if _bindir() is None:
        return ("no PostgreSQL server binaries (Debian: apt-get install postgresql; "
                ".ci/run installs them)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` OS user to run the server"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running() -> Iterator[str]:
    """Start a server; yield its SQLAlchemy URL (database `postgres`, user `postgres`)."""
    bindir, user = _bindir(), _as_postgres()
    # Not pytest's tmp_path: its parents are private to root, the server must reach this one.
    root = Path(tempfile.mkdtemp(prefix="graphrec-pg-"))
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if user:
        for path in (root, sock):
            shutil.chown(path, "postgres")
    port = _free_port()
    # Durability off: the data is thrown away, and fsyncs would dominate a short test.
    options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off")
    try:
        subprocess.run(user + [str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                               "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True, text=True)
        started = subprocess.run(user + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                          "-w", "-t", "30", "-o", options, "start"],
                                 capture_output=True, text=True)
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout}{started.stderr}\n"
                               + (log.read_text() if log.exists() else ""))
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                   "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def new_database(url: str, name: str) -> str:
    """Create the empty database ``name`` on the server at ``url``; return its URL."""
    import psycopg2
    from sqlalchemy.engine import make_url

    server = make_url(url)
    conn = psycopg2.connect(host=server.host, port=server.port, user=server.username,
                            dbname=server.database)
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return server.set(database=name).render_as_string(hide_password=False)
