"""What ``python -m graphrec.serve`` answers, apart from HTTP: requests as plain values in,
JSON-ready dicts out, every refusal a :class:`Refused` with its status and one-line reason.

Lists come from :class:`~graphrec.serving.lists.Lists`, the code ``recommend`` prints with, so
a user's list here is the one ``recommend`` gives. Each request scores its own users into
its own tensors (nothing is shared between requests but the read-only bundle), and every
list is keyed by the id its rows were scored for: no request can get another user's list."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

import numpy as np

from ..errors import GraphrecError, one_line
from .bundle import Bundle
from .lists import Lists
from .new_items import encode_features

USER_SETS = ("all", "warm", "cold")        # GET/POST /recommend
NEW_ITEM_SETS = ("new", "all", "cold")     # POST /new-items, with users


class Refused(GraphrecError):
    """A request the server will not answer: HTTP ``status`` and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


@dataclass
class Limits:
    max_k: int = 1000
    max_users: int = 1000        # per request
    max_new_items: int = 1000    # per request
    max_entries: int = 100_000   # list entries per answer (users x k): its size and time
    max_body: int = 2 * 2**20    # bytes


# ---------------------------------------------------------------------- options
def _int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(400, f"{name}={value!r} is invalid: allowed an integer {low}..{high}")
    if not low <= value <= high:
        raise Refused(400, f"{name}={value} is out of range: allowed {low}..{high}")
    return value


def _flag(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise Refused(400, f"{name}={value!r} is invalid: allowed true or false")


def _choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise Refused(400, f"{name}={value!r} is invalid: allowed {'|'.join(allowed)}")
    return value


def _ids(name: str, value, most: int, what: str) -> list:
    """A JSON list of ids (strings or integers), at most ``most``."""
    if not isinstance(value, list):
        raise Refused(400, f"{name}: expected a JSON list of {what} ids, got "
                           f"{type(value).__name__}")
    if not value:
        raise Refused(400, f"{name}: an empty list (give at least one {what} id)")
    if len(value) > most:
        raise Refused(413, f"{name}: {len(value)} {what}s in one request; at most {most}")
    bad = [v for v in value if isinstance(v, bool) or not isinstance(v, (str, int))]
    if bad:
        raise Refused(400, f"{name}: {bad[0]!r} is not an id (ids are strings or integers)")
    return value


def _score(x: float):
    return x if math.isfinite(x) else None  # JSON has no NaN: a NaN score is null


def _entries(blocks, key: str, other: str, ids: Optional[dict] = None) -> Dict[object, list]:
    """``{key id: [{other: id, "score": s[, "title": t]}, ...]}`` from ``Lists``' blocks, in
    rank order. A list starts at rank 1 and a key occurs once, so each list is one run of
    rows, and ``cols[key]`` names whose it is. ``ids`` maps ``other``'s ids back to their
    own type (with new items, ``Lists`` writes every item id as a string)."""
    out = {}
    for _, cols in blocks:
        starts = np.flatnonzero(cols["rank"] == 1)
        ends = np.append(starts[1:], len(cols["rank"]))
        keys, others = cols[key].tolist(), cols[other].tolist()
        if ids:
            others = [ids.get(o, o) for o in others]
        scores = cols["score"].tolist()
        titles = cols["title"].tolist() if "title" in cols else None
        for a, b in zip(starts.tolist(), ends.tolist()):
            out[keys[a]] = [
                {other: others[i], "score": _score(scores[i]),
                 **({"title": titles[i]} if titles is not None else {})} for i in range(a, b)]
    return out


class Service:
    def __init__(self, bundle: Bundle, limits: Optional[Limits] = None):
        self.bundle, self.limits = bundle, limits or Limits()
        self.lists = Lists(bundle)
        values = bundle.item_ids.values
        self.item_as = None if values.dtype.kind == "U" else \
            {str(v): v for v in values.tolist()}  # "242" -> 242 in lists with new items
        # Build the id look-ups and warm the scorer once, before threads share them.
        self.recommend([bundle.user_ids.values[0].item()], 1)

    def health(self) -> dict:
        b = self.bundle
        return {"status": "ok", "model": b.model, "n_users": b.n_users, "n_items": b.n_items,
                "new_items": b.encoder is not None, "limits": asdict(self.limits),
                "card": _finite(b.card)}

    def _rows(self, users: list) -> np.ndarray:
        try:
            return self.bundle.user_ids.rows(users)
        except GraphrecError as exc:  # an unknown id: not among the bundle's users
            raise Refused(404, one_line(exc)) from None

    def _k(self, k) -> int:
        return _int("k", 10 if k is None else k, 1, self.limits.max_k)

    def _size(self, lists: int, k: int) -> None:
        if lists * k > self.limits.max_entries:
            raise Refused(413, f"{lists} lists x k={k} = {lists * k:,} entries in one answer; "
                               f"at most {self.limits.max_entries:,} (fewer users, or a "
                               "smaller k)")

    def recommend(self, users: list, k=None, items=None, include_seen=None) -> List[dict]:
        """``[{"user": id, "list": [{"item", "score"[, "title"]}, ...]}]``, one per user, in
        the order given (a user given twice is answered twice)."""
        users = _ids("users", users, self.limits.max_users, "user")
        k = self._k(k)
        items = _choice("items", items or "all", USER_SETS)
        seen = _flag("include_seen", False if include_seen is None else include_seen)
        self._size(len(users), k)
        rows = self._rows(users)
        return self._lists(self.lists, rows, k, items, seen)

    def _lists(self, lists: Lists, rows: np.ndarray, k: int, items: str, seen: bool):
        unique = np.unique(rows)
        try:
            ids = None if lists is self.lists else self.item_as
            got = _entries(lists.for_users(unique, k, items, seen), "user", "item", ids)
        except GraphrecError as exc:  # e.g. items=cold on data without cold items
            raise Refused(400, re.sub(r"--(k|items)=", r"\1=", one_line(exc))) from None
        values = self.bundle.user_ids.values[rows].tolist()
        return [{"user": u, "list": got.get(u, [])} for u in values]

    # ------------------------------------------------------------------ new items
    def features(self, given) -> Dict[str, np.ndarray]:
        """``features``: ``{modality: [[float, ...], ...]}`` (one row per new item, the same
        rows in every modality), or for a one-modality model its rows alone."""
        widths = self.bundle.encoder.widths
        if isinstance(given, list) and len(widths) == 1:
            given = {next(iter(widths)): given}
        if not isinstance(given, dict):
            raise Refused(400, "features: expected a JSON object {modality: rows}, modalities "
                               + _widths(widths))
        unknown = sorted(set(given) - set(widths))
        missing = [m for m in widths if m not in given]
        if unknown or missing:
            what = f"unknown modality {unknown[0]!r}" if unknown else \
                f"no rows for modality {missing[0]!r}"
            raise Refused(400, f"features: {what}; the model was trained on {_widths(widths)}")
        out, n = {}, None
        for m, width in widths.items():
            rows = given[m]
            if not isinstance(rows, list) or not rows:
                raise Refused(400, f"features.{m}: expected a non-empty list of rows")
            if len(rows) > self.limits.max_new_items:
                raise Refused(413, f"features.{m}: {len(rows)} new items in one request; at "
                                   f"most {self.limits.max_new_items}")
            try:
                x = np.asarray(rows, dtype=np.float32)
            except (TypeError, ValueError):
                raise Refused(400, f"features.{m}: rows must be lists of numbers, all "
                                   f"{width} long") from None
            if x.ndim != 2 or x.shape[1] != width:
                got = x.shape[1] if x.ndim == 2 else f"shape {x.shape}"
                raise Refused(400, f"features.{m}: {got} feature columns, and the model was "
                                   f"trained on {width} for modality {m} ({_widths(widths)})")
            if not np.isfinite(x).all():
                raise Refused(400, f"features.{m}: a value is not a finite number")
            if n is not None and len(x) != n:
                raise Refused(400, f"features.{m}: {len(x)} rows, and the others have {n}: "
                                   "one row per new item in every modality")
            out[m], n = x, len(x)
        return out

    def new_items(self, body) -> dict:
        """``POST /new-items``: the new items' top users, and these users' lists among them.

        ``{"features": ..., "ids"?: [...], "k"?: 10, "top_users"?: true, "users"?: [...],
        "items"?: "new"|"all"|"cold", "include_seen"?: false}`` ->
        ``{"items": [ids], "top_users": [{"item", "list": [{"user", "score"}]}],
        "lists": [{"user", "list": [{"item", "score"}]}]}`` (``lists`` with ``users`` only)."""
        if not isinstance(body, dict):
            raise Refused(400, "expected a JSON object with features (and optional ids, k, "
                               "top_users, users, items, include_seen)")
        known = {"features", "ids", "k", "top_users", "users", "items", "include_seen"}
        extra = sorted(set(body) - known)
        if extra:
            raise Refused(400, f"unknown field {extra[0]!r}: allowed {', '.join(sorted(known))}")
        if self.bundle.encoder is None:
            raise Refused(400, f"model {self.bundle.model} reads no item features, so it cannot "
                               "score items it never saw (feature models: clcrec, vbpr, "
                               "dropoutnet, mmgcn)")
        if "features" not in body:
            raise Refused(400, "features: required ({modality: rows})")
        feats = self.features(body["features"])
        n = len(next(iter(feats.values())))
        ids = body.get("ids")
        if ids is not None:
            ids = [str(i) for i in _ids("ids", ids, self.limits.max_new_items, "new item")]
            if len(ids) != n:
                raise Refused(400, f"ids: {len(ids)} ids for {n} new items (one per row)")
            if len(set(ids)) != n:
                raise Refused(400, "ids: an id appears twice")
            ids = np.asarray(ids)
        k = self._k(body.get("k"))
        top = _flag("top_users", body.get("top_users", True))
        seen = _flag("include_seen", body.get("include_seen", False))
        users = body.get("users")
        if users is not None:
            users = _ids("users", users, self.limits.max_users, "user")
        self._size(n * top + (0 if users is None else len(users)), k)
        try:
            new = encode_features(self.bundle, feats, ids, "ids")
        except GraphrecError as exc:  # an id already in the catalogue
            raise Refused(400, one_line(exc)) from None
        lists = Lists(self.bundle, new)
        names = new.ids.values.tolist()
        out = {"items": names}
        if top:
            got = _entries(lists.for_items(names, k), "item", "user")
            out["top_users"] = [{"item": i, "list": got.get(i, [])} for i in names]
        if users is not None:
            rows = self._rows(users)
            items = _choice("items", body.get("items") or "new", NEW_ITEM_SETS)
            out["lists"] = self._lists(lists, rows, k, items, seen)
        return out


def _finite(value):
    """JSON without NaN or infinity (a run's metrics may hold them): those become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return _score(value) if isinstance(value, float) else value


def _widths(widths: Dict[str, int]) -> str:
    return ", ".join(f"{m} ({w} wide)" for m, w in widths.items())
