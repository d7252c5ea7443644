"""The HTTP side of ``python -m graphrec.serve``: a Starlette app over a :class:`Service`.

Every answer is JSON; every refusal is a 4xx with ``{"error": "<one line>"}`` and leaves the
server serving. Scoring runs in Starlette's thread pool, so a slow request does not hold up
the event loop (and the others' reading and writing)."""
from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..errors import one_line
from .service import Refused, Service

ENDPOINTS = "GET /recommend, POST /recommend, POST /new-items, GET /health"
GET_PARAMS = {"user", "k", "items", "include_seen"}


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": one_line(reason)}, status_code=status)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


async def read_json(request: Request, limit: int):
    """The body as JSON, refused (413) past ``limit`` bytes before it is all read."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise Refused(413, f"request body of {int(length)} bytes; at most {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"request body over {limit} bytes")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, f"malformed JSON body: {exc}") from None


def make_app(service: Service) -> Starlette:
    async def health(request: Request):
        return JSONResponse(service.health())

    async def get_recommend(request: Request):
        q = request.query_params
        extra = sorted(set(q) - GET_PARAMS)
        if extra:
            raise Refused(400, f"unknown parameter {extra[0]!r}: allowed "
                               f"{', '.join(sorted(GET_PARAMS))} (POST /recommend for several "
                               "users)")
        if len(q.getlist("user")) != 1:
            raise Refused(400, "user=ID: exactly one (POST /recommend for several users)")
        answer = await run_in_threadpool(service.recommend, [q["user"]], q.get("k"),
                                         q.get("items"), q.get("include_seen"))
        return JSONResponse(answer[0])

    async def post_recommend(request: Request):
        body = await read_json(request, service.limits.max_body)
        q = request.query_params
        if isinstance(body, list):  # a bare list of users: options in the query string
            body = {"users": body}
        if not isinstance(body, dict):
            raise Refused(400, "expected a JSON list of user ids, or an object with users "
                               "(and optional k, items, include_seen)")
        extra = sorted(set(body) - {"users", "k", "items", "include_seen"})
        if extra:
            raise Refused(400, f"unknown field {extra[0]!r}: allowed users, k, items, "
                               "include_seen")
        if "users" not in body:
            raise Refused(400, "users: required (a JSON list of user ids)")
        opts = {n: body.get(n, q.get(n)) for n in ("k", "items", "include_seen")}
        lists = await run_in_threadpool(service.recommend, body["users"], **opts)
        return JSONResponse({"lists": lists})

    async def post_new_items(request: Request):
        body = await read_json(request, service.limits.max_body)
        return JSONResponse(await run_in_threadpool(service.new_items, body))

    async def refused(request: Request, exc: Refused):
        return _refuse(exc.status, str(exc))

    async def http_error(request: Request, exc: HTTPException):
        path = request.url.path
        if exc.status_code == 404:
            reason = f"no endpoint {path}: {ENDPOINTS}"
        elif exc.status_code == 405:
            reason = f"{request.method} {path} is not allowed: {ENDPOINTS}"
        else:
            reason = str(exc.detail)
        return _refuse(exc.status_code, reason)

    async def bug(request: Request, exc: Exception):  # uvicorn logs its traceback
        return _refuse(500, f"internal error ({type(exc).__name__}); the server log has it")

    return Starlette(
        routes=[Route("/health", health, methods=["GET"]),
                Route("/recommend", get_recommend, methods=["GET"]),
                Route("/recommend", post_recommend, methods=["POST"]),
                Route("/new-items", post_new_items, methods=["POST"])],
        exception_handlers={Refused: refused, HTTPException: http_error, Exception: bug})
