"""python -m graphrec.serve's HTTP endpoint, called over HTTP (urllib) on a free loopback port:
lists equal recommend's, concurrent requests each get exactly their own user's list, new
items from their features, and every bad request a 4xx with a one-line JSON reason while
the server keeps serving."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from graphrec.serving import Bundle  # noqa: E402
from graphrec.serving.export import export  # noqa: E402
from graphrec.serving.lists import Lists  # noqa: E402
from graphrec.serving.new_items import encode_new_items  # noqa: E402
from graphrec.serving.run_folder import rebuild  # noqa: E402
from graphrec.serving.serve import listen, make_server  # noqa: E402
from graphrec.serving.service import Limits, Service  # noqa: E402
from serving_runs import train_run  # noqa: E402

LIMITS = Limits(max_k=50, max_users=20, max_new_items=8, max_entries=300, max_body=16 * 1024)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """CLCRec on tiny synthetic data, exported, served by uvicorn in a thread."""
    run = train_run(tmp_path_factory.mktemp("clcrec"), ["trainer.epochs=1"])
    _, data, _ = rebuild(run)
    out = tmp_path_factory.mktemp("bundle") / "b"
    export(run, out)
    bundle = Bundle.load(out)
    sock = listen("127.0.0.1", 0)
    service = Service(bundle, LIMITS)
    server = make_server(service)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    assert server.started
    yield {"url": f"http://127.0.0.1:{sock.getsockname()[1]}", "bundle": bundle, "data": data,
           "service": service}
    server.should_exit = True
    thread.join(10)


def call(served, path, body=None, method=None, raw=None):
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(served["url"] + path, data=data,
                                 method=method or ("GET" if data is None else "POST"))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def expected(bundle, users, k=10, items="all", seen=False, new=None):
    """recommend's lists: {user: [(item, score), ...]}."""
    rows = bundle.user_ids.rows(users)
    df = pd.concat([pd.DataFrame(c) for _, c in
                    Lists(bundle, new).for_users(rows, k, items, seen)])
    return {u: list(zip(g.item.tolist(), g.score.tolist()))
            for u, g in df.groupby("user", sort=False)}


def same(got_list, want):
    assert [e["item"] for e in got_list] == [i for i, _ in want]
    np.testing.assert_allclose([e["score"] for e in got_list], [s for _, s in want],
                               rtol=1e-5, atol=1e-6)


def test_health_has_the_model_card(served):
    status, body = call(served, "/health")
    assert status == 200 and body["status"] == "ok" and body["model"] == "clcrec"
    assert body["card"]["format"] == "graphrec-bundle" and body["card"]["metrics"]
    assert (body["n_users"], body["n_items"]) == (300, 160) and body["new_items"]
    assert body["limits"]["max_users"] == 20


@pytest.mark.parametrize("query, items, seen", [
    ("", "all", False), ("&items=warm", "warm", False), ("&items=cold", "cold", False),
    ("&include_seen=true", "all", True)])
def test_get_recommend_equals_recommend(served, query, items, seen):
    bundle = served["bundle"]
    for user in (0, 7, 299):
        status, body = call(served, f"/recommend?user={user}&k=12{query}")
        assert status == 200 and body["user"] == user
        same(body["list"], expected(bundle, [user], 12, items, seen)[user])


def test_post_recommend_answers_each_user_in_the_order_given(served):
    bundle = served["bundle"]
    users = [5, 3, 5, 120]
    status, body = call(served, "/recommend", {"users": users, "k": 4, "items": "warm"})
    assert status == 200 and [x["user"] for x in body["lists"]] == users
    want = expected(bundle, [5, 3, 120], 4, "warm")
    for x in body["lists"]:
        same(x["list"], want[x["user"]])
    status, bare = call(served, "/recommend?k=4&items=warm", ["5", "3", "5", "120"])
    assert status == 200 and bare == body  # a bare list; ids as strings or numbers


def test_concurrent_requests_each_get_their_own_list(served):
    bundle = served["bundle"]
    users = list(range(0, 300, 5))
    want = expected(bundle, users, 10)

    def ask(u):
        if u % 2:
            return call(served, f"/recommend?user={u}")
        status, body = call(served, "/recommend", [u, (u + 1) % 300])
        return status, body["lists"][0]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, users * 2))
    for u, (status, body) in zip(users * 2, answers):
        assert status == 200 and body["user"] == u
        same(body["list"], want[u])


def features_of(data, rows):
    return {m: f[rows].astype(np.float32).tolist() for m, f in data.features.items()}


def test_new_items_top_users_and_lists(served, tmp_path):
    """The JSON features score as recommend --new-items scores the same rows from files."""
    bundle, data = served["bundle"], served["data"]
    cold = np.flatnonzero(~data.warm_mask)[:3]
    ids = [f"film-{i}" for i in cold]
    status, body = call(served, "/new-items", {"features": features_of(data, cold), "ids": ids,
                                               "k": 5, "users": [0, 9]})
    assert status == 200 and body["items"] == ids
    folder = tmp_path / "new"
    folder.mkdir()
    for m, f in data.features.items():
        np.save(folder / f"feat_{m}.npy", f[cold].astype(np.float32))
    (folder / "ids.txt").write_text("\n".join(ids) + "\n")
    new = encode_new_items(bundle, folder)
    lists = Lists(bundle, new)
    top = pd.concat([pd.DataFrame(c) for _, c in lists.for_items(ids, 5)])
    assert [x["item"] for x in body["top_users"]] == ids
    for x in body["top_users"]:
        mine = top[top["item"] == x["item"]]
        same([{"item": e["user"], "score": e["score"]} for e in x["list"]],
             list(zip(mine.user.tolist(), mine.score.tolist())))
    want = expected(bundle, [0, 9], 5, "new", new=new)
    for x in body["lists"]:
        same(x["list"], want[x["user"]])
    status, body = call(served, "/new-items", {"features": features_of(data, cold),
                                               "users": [0], "items": "cold",
                                               "top_users": False, "k": 50})
    assert status == 200 and "top_users" not in body
    got = body["lists"][0]["list"]
    names = {e["item"] for e in got}
    assert {"new-0", "new-1", "new-2"} <= names  # default ids, with the cold catalogue items
    assert all(isinstance(e["item"], int) for e in got if not str(e["item"]).startswith("new"))


@pytest.mark.parametrize("method, path, body, status, says", [
    ("GET", "/recommend?user=99999", None, 404, "unknown user id '99999'"),
    ("GET", "/recommend?user=abc", None, 404, "unknown user id 'abc'"),
    ("GET", "/recommend", None, 400, "user=ID"),
    ("GET", "/recommend?user=1&k=0", None, 400, "k=0 is out of range: allowed 1..50"),
    ("GET", "/recommend?user=1&k=51", None, 400, "k=51 is out of range"),
    ("GET", "/recommend?user=1&k=ten", None, 400, "k='ten' is invalid"),
    ("GET", "/recommend?user=1&items=new", None, 400, "items='new' is invalid"),
    ("GET", "/recommend?user=1&include_seen=maybe", None, 400, "include_seen='maybe'"),
    ("GET", "/recommend?user=1&users=2", None, 400, "unknown parameter 'users'"),
    ("POST", "/recommend", b'{"users": [1, 2', 400, "malformed JSON body"),
    ("POST", "/recommend", b'[NaN]', 400, "malformed JSON body"),
    ("POST", "/recommend", b'\xff\xfe', 400, "malformed JSON body"),
    ("POST", "/recommend", {"users": 1}, 400, "users: expected a JSON list"),
    ("POST", "/recommend", {"users": []}, 400, "users: an empty list"),
    ("POST", "/recommend", {"users": [1, None]}, 400, "None is not an id"),
    ("POST", "/recommend", {"user": [1]}, 400, "unknown field 'user'"),
    ("POST", "/recommend", {"users": [1, 99999]}, 404, "unknown user id 99999"),
    ("POST", "/recommend", {"users": list(range(21))}, 413, "21 users in one request"),
    ("POST", "/recommend", {"users": list(range(20)), "k": 16}, 413,
     "20 lists x k=16 = 320 entries in one answer; at most 300"),
    ("POST", "/recommend", {"users": [1] * 10000}, 413, "request body of"),
    ("POST", "/new-items", {"features": {"v": [[1.0] * 5]}}, 400, "no rows for modality 'a'"),
    ("POST", "/new-items", "DIMS", 400, "features.v: 5 feature columns, and the model was "
                                        "trained on 16"),
    ("POST", "/new-items", "ROWS", 400, "features.a: 1 rows, and the others have 2"),
    ("POST", "/new-items", "EXTRA", 400, "unknown modality 'x'"),
    ("POST", "/new-items", "TEXT", 400, "rows must be lists of numbers"),
    ("POST", "/new-items", "CLASH", 400, "new item id '3' is already an item"),
    ("POST", "/new-items", "MANY", 413, "9 new items in one request"),
    ("POST", "/new-items", [1], 400, "expected a JSON object with features"),
    ("GET", "/nope", None, 404, "no endpoint /nope"),
    ("DELETE", "/recommend", None, 405, "DELETE /recommend is not allowed"),
])
def test_bad_requests_get_a_4xx_and_the_server_keeps_serving(served, method, path, body,
                                                             status, says):
    data = served["data"]
    two = features_of(data, [0, 1])
    made = {"DIMS": {"features": {**two, "v": [[0.5] * 5] * 2}},
            "ROWS": {"features": {**two, "a": two["a"][:1]}},
            "EXTRA": {"features": {**two, "x": [[1.0]] * 2}},
            "TEXT": {"features": {**two, "t": [["a"] * 8] * 2}},
            "CLASH": {"features": two, "ids": ["3", "new"]},
            "MANY": {"features": {m: [[0.0] * len(r[0])] * 9 for m, r in two.items()}}}
    raw = body if isinstance(body, bytes) else None
    body = made.get(body, body) if isinstance(body, str) else body
    got, answer = call(served, path, None if raw else body, method, raw)
    assert got == status and set(answer) == {"error"}, answer
    assert says in answer["error"] and "\n" not in answer["error"], answer
    ok, after = call(served, "/recommend?user=2&k=3")  # still serving, still right
    assert ok == 200 and after["user"] == 2
    same(after["list"], expected(served["bundle"], [2], 3)[2])


def test_a_bug_is_a_json_500_and_the_server_keeps_serving(served, monkeypatch):
    def boom(*args, **kw):
        raise RuntimeError("a bug")

    monkeypatch.setattr(served["service"], "recommend", boom)
    status, body = call(served, "/recommend?user=1")
    assert status == 500 and body == {"error": "internal error (RuntimeError); the server "
                                               "log has it"}
    monkeypatch.undo()
    status, body = call(served, "/recommend?user=1&k=2")
    assert status == 200 and body["user"] == 1 and len(body["list"]) == 2
