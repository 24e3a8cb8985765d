"""The WeChat callback URL (服务器配置): URL verification, job events, follower messages.

Authentication: WeChat cannot send a bearer token, so there is none here. The signature
IS the authentication: ``signature`` (sha1 over the account's callback token, timestamp
and nonce) in plain mode, ``msg_signature`` (which also covers the ciphertext) in safe
mode. A request that fails it gets 403 and nothing is stored or changed. Signatures and
secrets are never logged.

Replay: a signature is accepted only within ``MAX_SKEW_SECONDS`` of its timestamp, and
each (timestamp, nonce) pair only once (``storage.wechat.remember_nonce``, kept in the
database for the whole window): a repeated pair answers "success" and changes nothing.
In plain mode the body is not signed, so this is what stops a captured signature from
carrying a forged body; job events must also name a job Gongkai sent, with plausible
counts (``bot.wechat_events.implausible``).

WeChat waits 5 seconds and then re-sends the identical request (3 attempts in all), so
every callback is stored first under its dedupe key; a repeat answers "success" at once.
Job events answer "success" and are applied by a background task (``process_pending``);
a follower gets a passive reply computed within the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from bot.app import Runtime
from bot.web.deps import RuntimeDep
from bot.wechat_events import JOB_KINDS, dedupe_key, kind_of, process_pending, record, reply_for
from channels.wechat.state import AccountConfig
from storage.wechat import remember_nonce
from storage.wechat_models import WechatAccount

log = logging.getLogger("gongkai.wechat.callback")
REPLY_BUDGET_SECONDS = 4.0  # WeChat gives up after 5 s; keep a margin for the network
MAX_BODY_BYTES = 256 * 1024  # callbacks are a few KB; refuse anything far larger


class Signed(BaseModel):
    """The query WeChat signs every callback with."""

    signature: str = ""
    timestamp: str = ""
    nonce: str = ""
    encrypt_type: str = ""
    msg_signature: str = ""

    @property
    def encrypted(self) -> bool:
        return self.encrypt_type.lower() == "aes"


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.wechat_tasks = set()
    app.state.wechat_lock = asyncio.Lock()
    yield
    # Unfinished events stay stored unprocessed; the next sweep applies them.
    for task in list(app.state.wechat_tasks):
        task.cancel()
    await asyncio.gather(*app.state.wechat_tasks, return_exceptions=True)


MAX_SKEW_SECONDS = 300
# A pair is accepted while its timestamp is within the skew of now (either side), so it
# must be remembered for twice the skew after it arrived; a minute more for clock steps.
NONCE_KEEP = dt.timedelta(seconds=2 * MAX_SKEW_SECONDS + 60)
MAX_NONCE_CHARS = 64
router = APIRouter(prefix="/wechat/callback", include_in_schema=False, lifespan=_lifespan)
SignedDep = Annotated[Signed, Query()]


@router.get("", response_class=PlainTextResponse)
async def verify_only_account(runtime: RuntimeDep, q: SignedDep, echostr: str = "") -> str:
    """URL verification for the single configured account."""
    return await _echo(await _only_account(runtime), q, echostr)


@router.get("/{org_code}", response_class=PlainTextResponse)
async def verify(org_code: str, runtime: RuntimeDep, q: SignedDep, echostr: str = "") -> str:
    """URL verification: echo ``echostr`` when the signature is right."""
    return await _echo(await _account(runtime, org_code), q, echostr)


@router.post("")
async def receive_only_account(request: Request, runtime: RuntimeDep, q: SignedDep) -> Response:
    """A message or event for the single configured account."""
    return await _receive(request, runtime, await _only_account(runtime), q)


@router.post("/{org_code}")
async def receive(org_code: str, request: Request, runtime: RuntimeDep, q: SignedDep) -> Response:
    """A message or event for ``org_code``'s account."""
    return await _receive(request, runtime, await _account(runtime, org_code), q)


async def _account(runtime: Runtime, org_code: str) -> AccountConfig:
    account = await runtime.wechat.accounts.account(org_code)
    if account is None or not account.callback_token:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no WeChat callback for this organization")
    return account


async def _only_account(runtime: Runtime) -> AccountConfig:
    rows = await WechatAccount.filter(enabled=True).limit(2).prefetch_related("organization")
    if len(rows) != 1:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "name the organization in the URL")
    return await _account(runtime, rows[0].organization.code)


async def _echo(account: AccountConfig, q: Signed, echostr: str) -> str:
    _check_plain(account, q)
    # The settings page tells the administrator that WeChat reached us (服务器配置 saved).
    await WechatAccount.filter(app_id=account.app_id).update(
        callback_verified_at=dt.datetime.now(dt.UTC)
    )
    return echostr


def _check_fresh(account: AccountConfig, q: Signed) -> None:
    """Refuse old timestamps: in plain mode the signature does not cover the body, so
    this bounds how long a captured signature could be replayed (and the remembered
    nonces make even that once only)."""
    if len(q.nonce) > MAX_NONCE_CHARS or len(q.timestamp) > 16:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "nonce or timestamp too long")
    try:
        skew = abs(time.time() - int(q.timestamp))
    except ValueError:
        skew = float("inf")
    if skew > MAX_SKEW_SECONDS:
        log.warning("WeChat callback for %s: stale or bad timestamp, refused", account.org_code)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "stale timestamp")


def _check_plain(account: AccountConfig, q: Signed) -> None:
    _check_fresh(account, q)
    from wechatpy.exceptions import InvalidSignatureException
    from wechatpy.utils import check_signature

    try:
        check_signature(account.callback_token, q.signature, q.timestamp, q.nonce)
    except InvalidSignatureException:
        log.warning("WeChat callback for %s: bad signature, refused", account.org_code)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "bad signature") from None


def _crypto(account: AccountConfig) -> Any:
    from wechatpy.crypto import WeChatCrypto

    return WeChatCrypto(account.callback_token, account.aes_key, account.app_id)


def _open(account: AccountConfig, q: Signed, body: bytes) -> str:
    """The message XML once its signature is checked (decrypted in safe mode)."""
    if not q.encrypted:
        _check_plain(account, q)
        return body.decode("utf-8", "replace")  # bad bytes fail as unreadable XML
    if not account.aes_key:
        log.warning("WeChat callback for %s: encrypted, but no EncodingAESKey", account.org_code)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "encrypted callback not configured")
    _check_fresh(account, q)
    from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

    try:
        return str(_crypto(account).decrypt_message(body, q.msg_signature, q.timestamp, q.nonce))
    except (InvalidSignatureException, InvalidAppIdException) as exc:
        log.warning("WeChat callback for %s: %s, refused", account.org_code, type(exc).__name__)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "bad signature") from None
    except Exception as exc:  # malformed XML, base64 or padding: all a 400
        log.warning(
            "WeChat callback for %s: cannot decrypt (%s)", account.org_code, type(exc).__name__
        )
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "cannot decrypt") from None


def _parse(account: AccountConfig, xml: str) -> Any:
    from wechatpy import parse_message

    try:
        msg = parse_message(xml)
    except Exception as exc:  # xmltodict raises several kinds
        log.warning(
            "WeChat callback for %s: unreadable XML (%s)", account.org_code, type(exc).__name__
        )
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "unreadable message") from None
    if msg is None or not isinstance(getattr(msg, "_data", None), dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "empty message")
    to_user = msg._data.get("ToUserName")
    if account.original_id and to_user != account.original_id:
        # Signed with our token, so it is WeChat's; a wrong gh_ id in our settings is likelier.
        log.warning(
            "WeChat callback for %s: ToUserName is not the configured gh_ id", account.org_code
        )
    return msg


async def _receive(
    request: Request, runtime: Runtime, account: AccountConfig, q: Signed
) -> Response:
    started = time.monotonic()
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "callback too large")
    msg = _parse(account, _open(account, q, body))
    if not await remember_nonce(account.app_id, q.timestamp, q.nonce, keep=NONCE_KEEP):
        # The signature is right but was used before: a replay (in plain mode the body is
        # not signed, so it could be anything) or WeChat re-sending the identical request.
        # "success" stops WeChat's retries; nothing is stored or changed.
        log.warning(
            "WeChat callback for %s: timestamp and nonce seen before, ignored", account.org_code
        )
        return _success()
    raw: dict[str, Any] = msg._data
    kind = kind_of(raw)
    is_job = kind in JOB_KINDS
    # A follower's words are not kept: the row exists only to recognise WeChat's retries.
    payload = raw if is_job else {"MsgType": raw.get("MsgType"), "Event": raw.get("Event")}
    if not await record(account.app_id, dedupe_key(account.app_id, raw), kind, payload):
        log.info("WeChat callback for %s: repeat of a %s, already handled", account.org_code, kind)
        return _success()
    if is_job:
        _schedule(request.app, runtime)
        return _success()
    text = await _reply_text(account, msg, REPLY_BUDGET_SECONDS - (time.monotonic() - started))
    if not text:
        return _success()
    from wechatpy import create_reply

    xml = create_reply(text, msg).render()
    if q.encrypted:
        xml = _crypto(account).encrypt_message(xml, q.nonce, q.timestamp)
    return Response(xml, media_type="application/xml")


async def _reply_text(account: AccountConfig, msg: Any, budget: float) -> str:
    try:
        return await asyncio.wait_for(reply_for(account, msg), timeout=max(budget, 0.1))
    except TimeoutError:
        log.warning("WeChat reply for %s took too long; answered without one", account.org_code)
    except Exception:
        log.exception("WeChat reply for %s failed; answered without one", account.org_code)
    return ""


def _success() -> Response:
    return PlainTextResponse("success")


def _schedule(app: FastAPI, runtime: Runtime) -> None:
    """Apply job events after answering; the task is kept referenced until it ends."""
    tasks: set[asyncio.Task[None]] = app.state.wechat_tasks
    task = asyncio.create_task(_process(runtime, app.state.wechat_lock))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _process(runtime: Runtime, lock: asyncio.Lock) -> None:
    async with lock:  # one run at a time; a later run picks up what arrived meanwhile
        try:
            count = await process_pending(runtime)
        except Exception:
            log.exception("applying WeChat job events failed; the next sweep retries")
            return
    log.info("applied %d WeChat job event(s)", count)
