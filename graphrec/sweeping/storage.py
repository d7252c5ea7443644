"""Open a study that several sweep processes may open at the same moment.

Optuna's RDB storage allocates trial numbers under a lock on the study row (PostgreSQL) or
the database lock (SQLite), so processes sharing a study never get the same trial number, and
so never the same trial folder. What does race is the first opening of a new database: every
process creates Optuna's tables and stamps their version, and the losers fail with "duplicate
key ... pg_type_typname_nsp_index" (PostgreSQL) or "table studies already exists" (SQLite).
Opening is therefore retried; by the next try the winner's tables are there.

A sweep's storage may also carry Optuna's heartbeat (``heartbeat_interval``, ``grace_period``):
see :mod:`.heartbeat`."""
from __future__ import annotations

import importlib.util
import inspect
import logging
import random
import time
import warnings
from typing import Callable, Optional, Union

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


def rdb_storage(url: str, heartbeat_interval: Optional[int] = None,
                grace_period: Optional[int] = None,
                on_stale: Optional[Callable] = None) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on ``url``. With ``heartbeat_interval`` (s), Optuna's heartbeat:
    a RUNNING trial whose last heartbeat is older than ``grace_period`` s (None: twice the
    interval) is failed by ``optuna.storages.fail_stale_trials``, which then calls
    ``on_stale(study, frozen_trial)``."""
    url = with_driver(url)
    if url.startswith("sqlite"):
        # Writers on one SQLite file take turns; the default 5 s wait can run out while
        # another process commits a trial.
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    else:
        # A connection stays idle for a whole trial (hours, maybe): test it before use
        # rather than fail the trial's result on a connection the server has dropped.
        kwargs = {"pool_pre_ping": True}
    heartbeat = {}
    if heartbeat_interval is not None:
        heartbeat = {"heartbeat_interval": int(heartbeat_interval),
                     "grace_period": None if grace_period is None else int(grace_period)}
        if on_stale is not None:
            # optuna 4.9 renamed failed_trial_callback (deprecated since) to this
            name = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in
                    inspect.signature(optuna.storages.RDBStorage).parameters
                    else "failed_trial_callback")
            heartbeat[name] = on_stale
    try:
        with warnings.catch_warnings():  # the heartbeat is "experimental" since optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, **heartbeat)
    except ImportError as e:
        raise ImportError(f"no database driver for {shown(url)}: for PostgreSQL, "
                          "pip install -e \".[postgres]\" (psycopg2-binary)") from e


def _retried(what: str, where: Optional[str], make: Callable):
    """``make()``, retried while another process is creating the same database or study."""
    for attempt in range(1, TRIES):
        try:
            return make()
        except (sqlalchemy.exc.SQLAlchemyError, StorageInternalError) as e:
            log.info("opening %s in %s failed (%s: %s), another process is probably "
                     "creating it; try %d of %d", what, shown(where), type(e).__name__,
                     str(e).splitlines()[0], attempt + 1, TRIES)
            time.sleep(random.uniform(0.1, 0.3) * attempt)
    return make()  # the last try raises what it meets


def open_storage(url: Optional[str], **heartbeat) -> Optional[optuna.storages.RDBStorage]:
    """:func:`rdb_storage` (``heartbeat``: its keyword arguments), retried while another
    process creates Optuna's tables in the same database; None (in memory) for no URL."""
    if not url:
        return None
    return _retried("the storage", url, lambda: rdb_storage(url, **heartbeat))


def open_study(study_name: str,
               storage: Union[None, str, optuna.storages.BaseStorage], sampler,
               directions: list, pruner=None) -> optuna.Study:
    """``create_study(load_if_exists=True)`` on ``storage`` (a URL, an opened storage, or
    None: in memory), retried while another process is creating the same database or
    study."""
    if isinstance(storage, str):
        url = storage
        storage = open_storage(storage)
    else:
        url = getattr(storage, "url", None)
    return _retried(f"study {study_name}", url, lambda: optuna.create_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=pruner,
        directions=directions, load_if_exists=True))
