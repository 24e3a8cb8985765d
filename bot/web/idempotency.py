"""``@idempotent``: the ``Idempotency-Key`` header on a creating route.

A client that retries after a lost answer sends the same key: it gets the first answer
again (same status and body, ``Idempotent-Replay: true``) and nothing is created twice.
The same key with another body is refused (422, naming the header). Without the header
the route runs as before.

The decorated route runs inside one transaction with the key, so what it creates, its
audit rows and the stored answer commit together. A failed request (any exception)
gives its key back, keeping whatever the route itself committed in its own nested
transactions (a refusal's audit row), exactly as without a key.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Header, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from tortoise.transactions import in_transaction

from storage import idempotency
from storage.idempotency import MAX_KEY_LENGTH, Slot, Stored

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replay"
KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[!-~]+$",
        description="Any unique string (printable ASCII, up to 255): a repeat with the same "
        "key and body within 24 hours returns the first answer and creates nothing.",
    ),
]
E = TypeVar("E", bound=Callable[..., Awaitable[Any]])


def scope_of(principal: Any) -> str:
    """Whose keys: the token's id, or its name where the caller has no id."""
    token_id = getattr(principal, "token_id", None)
    return f"token:{token_id}" if token_id is not None else f"name:{principal.name}"[:64]


def _body_of(kwargs: dict[str, Any]) -> Any:
    bodies = [v.model_dump(mode="json") for v in kwargs.values() if isinstance(v, BaseModel)]
    return bodies[0] if len(bodies) == 1 else bodies


def _reused() -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [
            {
                "loc": ["header", HEADER],
                "msg": f"this {HEADER} was already used with another request body; "
                "send a new key for a new request",
                "type": "idempotency_key_reused",
            }
        ],
    )


def _replay(stored: Stored) -> JSONResponse:
    if not stored.same_request:
        raise _reused()
    return JSONResponse(
        stored.response,
        status_code=stored.status_code or status.HTTP_200_OK,
        headers={REPLAY_HEADER: "true"},
    )


def idempotent(endpoint: E) -> E:
    """Give a FastAPI route (with a ``principal`` parameter) the Idempotency-Key header."""
    hints = typing.get_type_hints(endpoint, include_extras=True)
    signature = inspect.signature(endpoint)
    parameters = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    extra = [
        inspect.Parameter(
            "idempotency_request", inspect.Parameter.KEYWORD_ONLY, annotation=Request
        ),
        inspect.Parameter(
            "idempotency_key", inspect.Parameter.KEYWORD_ONLY, annotation=KeyHeader, default=None
        ),
    ]

    @functools.wraps(endpoint)
    async def wrapper(
        *args: Any, idempotency_request: Request, idempotency_key: str | None = None, **kwargs: Any
    ) -> Any:
        if idempotency_key is None:
            return await endpoint(*args, **kwargs)
        request = idempotency_request
        digest = idempotency.request_hash(request.method, request.url.path, _body_of(kwargs))
        route = request.scope.get("route")
        code = getattr(route, "status_code", None) or status.HTTP_200_OK
        failure: Exception | None = None
        result: Any = None
        async with in_transaction() as conn:
            held = await idempotency.claim(
                conn,
                scope=scope_of(kwargs["principal"]),
                key=idempotency_key,
                digest=digest,
                now=dt.datetime.now(dt.UTC),
            )
            if isinstance(held, Stored):
                return _replay(held)
            slot: Slot = held
            try:
                result = await endpoint(*args, **kwargs)
            except Exception as exc:  # the key goes back; the route's own rollbacks stand
                failure = exc
                try:
                    await slot.give_up()
                except Exception:
                    raise exc from None  # the transaction itself failed: roll it all back
            else:
                await slot.answer(code, jsonable_encoder(result))
        if failure is not None:
            raise failure
        return result

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*parameters, *extra],
        return_annotation=hints.get("return", signature.return_annotation),
    )
    return typing.cast(E, wrapper)
