"""Input hygiene shared by every API route: text free of control and bidi characters,
ids inside the database's integer range.

- ``StrictInput`` is the base of every JSON body model: unknown fields are refused, and
  any text in any field (nested lists and mapping keys included) holding a C0 control
  character other than tab, LF and CR, or a Unicode bidi override/isolate, is a 422
  naming the field. Such text never reaches the database (PostgreSQL refuses NUL).
- ``RefuseControlText`` does the same, before routing, for the URL path, the query string
  and any JSON body of every request, API and console alike, and for body models that do
  not derive from ``StrictInput`` (the loc names the parameter or the JSON path).
- ``bounded_ids`` refuses a path id (``{item_id}``) or an ``..._id`` query value outside
  1..2147483647 with a 422 instead of letting the database overflow.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request, status
from pydantic import AfterValidator
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.text_rules import StrictInput, forbidden_character

__all__ = [
    "INT4_MAX",
    "QueryDay",
    "RefuseControlText",
    "StrictInput",
    "bounded_ids",
    "forbidden_character",
]

INT4_MAX = 2_147_483_647  # ids are int4 columns


def _plausible_day(day: dt.date) -> dt.date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return day


FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
# A date in a query (since, until): days near the calendar's ends would overflow the sums.
QueryDay = Annotated[dt.date, AfterValidator(_plausible_day)]


def _range_error(where: str, name: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [
            {
                "loc": [where, name],
                "msg": f"must be a whole number from 1 to {INT4_MAX}",
                "type": "less_than_equal",
            }
        ],
    )


def _out_of_range(raw: str) -> bool:
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        return False  # not a number: the route's own validation answers
    return not 1 <= int(text) <= INT4_MAX


def _id_names(names: Iterable[str]) -> Iterable[str]:
    return (n for n in names if n == "id" or n.endswith("_id"))


async def bounded_ids(request: Request) -> None:
    """Router dependency: ids in the path or query are int4, so never overflow the database."""
    for name in _id_names(request.path_params):
        value = request.path_params[name]
        if isinstance(value, str) and _out_of_range(value):
            raise _range_error("path", name)
    for name in _id_names(request.query_params.keys()):
        for value in request.query_params.getlist(name):
            if value.strip() != "0" and _out_of_range(value):  # 0: "none" in a query
                raise _range_error("query", name)


class RefuseControlText:
    """ASGI middleware: a path or query string with a control or bidi character is a 422
    (before routing, so no route and no database ever sees one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = _url_problem(scope)
        if error is None and _is_json(scope):
            body, receive = await _read_body(receive)
            error = _json_problem(body)
        if error is None:
            await self.app(scope, receive, send)
            return
        loc, message = error
        response = JSONResponse(
            {"detail": [{"loc": loc, "msg": message, "type": "value_error"}]},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
        await response(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
        return False
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            kind = bytes(value).split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (the body limit outside has bounded it), and a ``receive`` that
    hands it to the app again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: the app sees an empty body, then the disconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return body, replay


def _json_problem(body: bytes) -> tuple[list[str | int], str] | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing answers
    return _find(document, ["body"])


def _find(value: Any, loc: list[str | int]) -> tuple[list[str | int], str] | None:
    if isinstance(value, str):
        problem = forbidden_character(value)
        return (loc, problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = forbidden_character(key)
            if problem:
                return loc, f"key {problem}"
            found = _find(item, [*loc, key])
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find(item, [*loc, index])
            if found:
                return found
    return None


def _url_problem(scope: Scope) -> tuple[list[str | int], str] | None:
    path = scope.get("path", "")
    problem = forbidden_character(path)
    if problem:
        return ["path"], problem
    raw = scope.get("query_string", b"").decode("utf-8", "replace")
    for name, value in parse_qsl(raw, keep_blank_values=True, errors="replace"):
        problem = forbidden_character(name)
        if problem:
            return ["query"], f"parameter name {problem}"
        problem = forbidden_character(value)
        if problem:
            return ["query", name], problem
    return None
