"""``serve``: ``python -m graphrec.serve`` under a bounded load from a client on loopback:
``--requests`` requests from ``--concurrency`` threads, or until ``--seconds`` have passed,
whichever comes first; then it stops by itself.

Every answer is checked against the bundle's own lists (the client loads the bundle and
ranks with ``Lists``, as ``recommend`` does): a list that differs, or that is another user's,
is *wrong*; a request that got no answer (connection error, timeout) is *dropped*; an answer
other than 200 is *failed*. The server runs in a process of its own, started on a free
loopback port (``--url``: one already running), so client and server share no interpreter;
on a machine with few cores they still share the cores, which the row's load note shows."""
from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pandas as pd
import torch

from ..errors import UsageError

HELP = "python -m graphrec.serve under a bounded concurrent load (requests/s, p50/p99 latency)"
DEFAULT_CONFIGS = []


def add_arguments(p):
    p.add_argument("bundle", metavar="BUNDLE|RUN_DIR", help="what the server serves")
    p.add_argument("--requests", type=int, default=2000, help="requests in all (default 2000)")
    p.add_argument("--concurrency", type=int, default=8,
                   help="clients at once, each on its own keep-alive connection (default 8)")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="time cap: no request starts after it (default 60)")
    p.add_argument("--k", type=int, default=10, help="list length (default 10)")
    p.add_argument("--users-per-request", type=int, default=1, metavar="N",
                   help="1: GET /recommend?user= (default); more: POST /recommend")
    p.add_argument("--url", help="a server already running (default: start one on a free "
                                 "loopback port for the run)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds one request may take")
    p.add_argument("--seed", type=int, default=0, help="which users are asked for")


def _check_args(a):
    for name in ("requests", "concurrency", "k", "users_per_request"):
        if getattr(a, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')}={getattr(a, name)} is invalid: "
                             "allowed >= 1")
    if a.seconds <= 0 or a.timeout <= 0:
        raise UsageError("--seconds and --timeout: allowed > 0")


def expected_lists(bundle, rows: np.ndarray, k: int) -> dict:
    """``{user id: (item ids, scores)}``: the bundle's own lists for these rows."""
    from ..serving.lists import Lists

    df = pd.concat([pd.DataFrame(cols) for _, cols in
                    Lists(bundle).for_users(np.unique(rows), k)], ignore_index=True)
    return {u: (g["item"].tolist(), g["score"].to_numpy(np.float64))
            for u, g in df.groupby("user", sort=False)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(a, device: str, log: Path):
    """``python -m graphrec.serve`` on a free loopback port: (process, url) once it answers."""
    port = _free_port()
    out = open(log, "w")
    n, k = a.users_per_request, a.k  # the server's limits, raised to let the load through
    cmd = [sys.executable, "-m", "graphrec.serve", a.bundle, "--port", str(port),
           "--device", device, "--max-users", str(max(1000, n)), "--max-k", str(max(1000, k)),
           "--max-entries", str(max(100_000, n * k)),
           "--limit-concurrency", str(max(64, 2 * a.concurrency))]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 600  # a run folder's data is rebuilt first
    while time.monotonic() < end:
        if proc.poll() is not None:
            tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
            raise UsageError(f"the server exited before answering: {tail[0]} (log: {log})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            if _get(url, "/health")[0] == 200:
                return proc, url
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise UsageError(f"the server did not answer within 600 s (log: {log})")


def stop_server(proc) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _get(url: str, path: str):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _right(answer, users, expected) -> bool:
    """Each list is its own user's, with the bundle's items in its order (and scores, to
    float32 rounding: a batch of users is multiplied differently from one user)."""
    if not isinstance(answer, list) or len(answer) != len(users):
        return False
    for got, user in zip(answer, users):
        items, scores = expected[user]
        if not isinstance(got, dict) or got.get("user") != user:
            return False
        entries = got.get("list") or []
        if [e.get("item") for e in entries] != items:
            return False
        s = np.asarray([e.get("score") for e in entries], dtype=np.float64)
        if not np.allclose(s, scores, rtol=1e-4, atol=1e-5):
            return False
    return True


def load(url: str, requests: list, k: int, concurrency: int, seconds: float,
         timeout: float, expected: dict) -> dict:
    """Send ``requests`` (each a list of user ids) from ``concurrency`` threads until all are
    sent or ``seconds`` have passed; counts and latencies."""
    parts = urlsplit(url)
    lock, nxt = threading.Lock(), iter(range(len(requests)))
    deadline = time.perf_counter() + seconds
    results = []

    def client():
        mine = {"answered": 0, "wrong": 0, "failed": 0, "dropped": 0, "latency": []}
        conn = None
        while True:
            with lock:
                i = next(nxt, None)
            if i is None or time.perf_counter() > deadline:
                break
            users = requests[i]
            t = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                                      timeout=timeout)
                if len(users) == 1:
                    conn.request("GET", f"/recommend?user={quote(str(users[0]))}&k={k}")
                else:
                    conn.request("POST", "/recommend", json.dumps({"users": users, "k": k}),
                                 {"Content-Type": "application/json"})
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException):
                mine["dropped"] += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            mine["latency"].append(time.perf_counter() - t)
            mine["answered"] += 1
            if resp.status != 200:
                mine["failed"] += 1
                continue
            try:
                answer = json.loads(body)
                answer = [answer] if len(users) == 1 else answer.get("lists")
            except (ValueError, AttributeError):
                answer = None
            mine["wrong"] += not _right(answer, users, expected)
        if conn is not None:
            conn.close()
        with lock:
            results.append(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    out = {key: sum(r[key] for r in results) for key in ("answered", "wrong", "failed",
                                                          "dropped")}
    lat = np.asarray([x for r in results for x in r["latency"]]) * 1000
    out["sent"] = out["answered"] + out["dropped"]
    out["wall_s"] = wall
    out["per_s"] = out["answered"] / wall
    out["p50_ms"], out["p99_ms"] = (np.percentile(lat, [50, 99]).tolist() if len(lat)
                                    else (float("nan"), float("nan")))
    return out


def run(h):
    from ..serving import open_source

    a = h.args
    _check_args(a)
    device = "cuda" if a.device == "cuda" or (a.device == "auto" and
                                              torch.cuda.is_available()) else "cpu"
    bundle = open_source(a.bundle)  # the client's copy: what every answer must equal
    rng = np.random.default_rng(a.seed)
    rows = rng.integers(0, bundle.n_users, size=(a.requests, a.users_per_request))
    expected = expected_lists(bundle, rows.reshape(-1), a.k)
    ids = bundle.user_ids.values
    requests = [ids[r].tolist() for r in rows]
    proc = None
    if a.url:
        url = a.url.rstrip("/")
    else:
        proc, url = start_server(a, device, h.out_dir() / "serve.log")
    try:
        got = load(url, requests, a.k, a.concurrency, a.seconds, a.timeout, expected)
    finally:
        if proc is not None:
            stop_server(proc)
    how = (f"GET /recommend?user=..&k={a.k}" if a.users_per_request == 1 else
           f"POST /recommend, {a.users_per_request} users a request, k={a.k}")
    config = (f"{bundle.model} {bundle.n_users} users x {bundle.n_items} items, {how}, "
              f"{a.concurrency} clients, {a.requests} requests or {a.seconds:g} s, loopback")
    result = (f"{got['per_s']:,.0f} requests/s, p50 {got['p50_ms']:.1f} ms, p99 "
              f"{got['p99_ms']:.1f} ms; {got['answered']}/{got['sent']} answered, "
              f"{got['wrong']} wrong, {got['dropped']} dropped, {got['failed']} failed")
    print(f"serve | {config} | {result} | {got['wall_s']:.1f} s", flush=True)
    h.record(config, result, "-", 1, f"server on {device}",
             values=[got["per_s"], got["p50_ms"], got["p99_ms"]])
