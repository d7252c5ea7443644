"""Open a study that several sweep processes may open at the same moment.

Optuna's RDB storage allocates trial numbers under a lock on the study row (PostgreSQL) or
the database lock (SQLite), so processes sharing a study never get the same trial number, and
so never the same trial folder. What does race is the first opening of a new database: every
process creates Optuna's tables and stamps their version, and the losers fail with "duplicate
key ... pg_type_typname_nsp_index" (PostgreSQL) or "table studies already exists" (SQLite).
Opening is therefore retried; by the next try the winner's tables are there."""
from __future__ import annotations

import importlib.util
import logging
import random
import time
from typing import Optional

import optuna
import sqlalchemy.exc
from optuna.exceptions import StorageInternalError
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
TRIES = 6
SQLITE_TIMEOUT_S = 60  # a writer waits this long for another's lock ("database is locked")


def with_driver(url: str) -> str:
    """SQLAlchemy 2.1 reads a plain ``postgresql://`` with psycopg 3, 2.0 with psycopg2; the
    ``postgres`` extra installs psycopg2, so a plain URL uses it unless psycopg 3 is there."""
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def shown(url: Optional[str]) -> str:
    """The URL for logs, password hidden."""
    return make_url(url).render_as_string(hide_password=True) if url else "in memory"


def rdb_storage(url: str) -> optuna.storages.RDBStorage:
    url = with_driver(url)
    if url.startswith("sqlite"):
        # Writers on one SQLite file take turns; the default 5 s wait can run out while
        # another process commits a trial.
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    else:
        # A connection stays idle for a whole trial (hours, maybe): test it before use
        # rather than fail the trial's result on a connection the server has dropped.
        kwargs = {"pool_pre_ping": True}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except ImportError as e:
        raise ImportError(f"no database driver for {shown(url)}: for PostgreSQL, "
                          "pip install -e \".[postgres]\" (psycopg2-binary)") from e


def open_study(study_name: str, url: Optional[str], sampler, directions: list,
               pruner=None) -> optuna.Study:
    """``create_study(load_if_exists=True)`` on ``url`` (None: in memory), retried while
    another process is creating the same database or study."""
    def create():
        return optuna.create_study(study_name=study_name,
                                   storage=rdb_storage(url) if url else None,
                                   sampler=sampler, pruner=pruner, directions=directions,
                                   load_if_exists=True)

    for attempt in range(1, TRIES):
        try:
            return create()
        except (sqlalchemy.exc.SQLAlchemyError, StorageInternalError) as e:
            log.info("opening study %s in %s failed (%s: %s), another process is probably "
                     "creating it; try %d of %d", study_name, shown(url), type(e).__name__,
                     str(e).splitlines()[0], attempt + 1, TRIES)
            time.sleep(random.uniform(0.1, 0.3) * attempt)
    return create()  # the last try raises what it meets
