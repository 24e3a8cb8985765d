"""The emulator's side of the callback ("服务器配置") protocol: XML, signatures, AES, retries.

WeChat POSTs XML to the account's callback URL with ``signature``, ``timestamp``, ``nonce``
and ``openid`` in the query (safe mode adds ``encrypt_type=aes`` and ``msg_signature``),
waits 5 s for an answer, and re-sends the identical request up to 3 attempts in total.
The answer must be ``''``, ``success`` or a well-formed reply XML (encrypted in safe mode).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import struct
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fakes.wechat_state import CallbackMode, EmulatorConfig, MassJob, PublishJob

REPLY_TYPES = {"text", "image", "voice", "video", "music", "news", "transfer_customer_service"}


def signature(*parts: str) -> str:
    """Return WeChat's sha1 over the sorted parts (token, timestamp, nonce[, encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()  # noqa: S324


class AesCodec:
    """WeChat's message encryption: AES-256-CBC, IV = key[:16], 32-byte PKCS#7 blocks."""

    def __init__(self, encoding_aes_key: str, appid: str) -> None:
        self.key = base64.b64decode(encoding_aes_key + "=")
        if len(self.key) != 32:
            raise ValueError("EncodingAESKey must be 43 characters (32 bytes once decoded)")
        self.appid = appid

    def encrypt(self, text: str) -> str:
        """Encrypt a message XML into the base64 ``Encrypt`` value."""
        raw = text.encode("utf-8")
        plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + self.appid.encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """Decrypt an ``Encrypt`` value; raise ValueError on bad padding or a foreign appid."""
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= 32:
            raise ValueError("bad padding")
        content = plain[16:-pad]
        (length,) = struct.unpack(">I", content[:4])
        if content[4 + length :].decode("utf-8") != self.appid:
            raise ValueError("appid mismatch")
        return content[4 : 4 + length].decode("utf-8")


def cdata(text: str) -> str:
    """Wrap text in CDATA, splitting any ``]]>`` it contains."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def envelope(to_user: str, from_user: str, create_time: int, msg_type: str, body: str) -> str:
    """Return the common ``<xml>`` header fields followed by ``body``."""
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime>"
        f"<MsgType>{cdata(msg_type)}</MsgType>{body}</xml>"
    )


def publish_event_xml(gh_id: str, openid: str, create_time: int, job: PublishJob) -> str:
    """Return the PUBLISHJOBFINISH event (nested, lower-case ``PublishEventInfo``)."""
    info = f"<publish_id>{job.publish_id}</publish_id><publish_status>{job.status}</publish_status>"
    if job.article_id is not None:
        items = "".join(
            f"<item><idx>{i}</idx><article_url>{cdata(url)}</article_url></item>"
            for i, url in enumerate(job.article_urls, start=1)
        )
        info += (
            f"<article_id>{cdata(job.article_id)}</article_id>"
            f"<article_detail><count>{len(job.article_urls)}</count>{items}</article_detail>"
        )
    info += "".join(f"<fail_idx>{i}</fail_idx>" for i in job.final_fail_idx)
    body = f"<Event>{cdata('PUBLISHJOBFINISH')}</Event><PublishEventInfo>{info}</PublishEventInfo>"
    return envelope(gh_id, openid, create_time, "event", body)


def mass_event_xml(gh_id: str, openid: str, create_time: int, job: MassJob) -> str:
    """Return the MASSSENDJOBFINISH event (§5.4 shape, capital ``MsgID``)."""
    sent = job.filter_count - job.error_count if job.final_status == "send success" else 0
    urls = "".join(
        f"<item><ArticleIdx>{i}</ArticleIdx><ArticleUrl>{cdata(url)}</ArticleUrl></item>"
        for i, url in enumerate(job.article_urls, start=1)
    )
    body = (
        f"<Event>{cdata('MASSSENDJOBFINISH')}</Event><MsgID>{job.msg_id}</MsgID>"
        f"<Status>{cdata(job.final_status)}</Status><TotalCount>{job.total_count}</TotalCount>"
        f"<FilterCount>{job.filter_count}</FilterCount><SentCount>{sent}</SentCount>"
        f"<ErrorCount>{job.error_count}</ErrorCount>"
        "<CopyrightCheckResult><Count>0</Count><ResultList></ResultList>"
        "<CheckState>1</CheckState></CopyrightCheckResult>"
        f"<ArticleUrlResult><Count>{len(job.article_urls)}</Count>"
        f"<ResultList>{urls}</ResultList></ArticleUrlResult>"
    )
    return envelope(gh_id, openid, create_time, "event", body)


@dataclass
class CallbackAttempt:
    """One HTTP attempt of a push and what our server answered."""

    number: int
    status: int | None
    reply: bytes
    error: str | None
    elapsed: float


@dataclass
class CallbackPush:
    """One event/message pushed to the callback URL, with every attempt."""

    kind: str
    xml: str
    url: str
    query: dict[str, str]
    body: bytes
    openid: str
    attempts: list[CallbackAttempt] = field(default_factory=list)
    ok: bool | None = None
    verdict: str = "pending"
    reply_xml: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until delivery finished (all attempts made or an answer accepted)."""
        return self.done.wait(timeout)

    def describe(self) -> dict[str, Any]:
        """Return a JSON-safe summary for the admin endpoint."""
        return {
            "kind": self.kind,
            "xml": self.xml,
            "query": self.query,
            "openid": self.openid,
            "ok": self.ok,
            "verdict": self.verdict,
            "reply_xml": self.reply_xml,
            "attempts": [
                {
                    "number": a.number,
                    "status": a.status,
                    "reply": a.reply.decode("utf-8", "replace"),
                    "error": a.error,
                    "elapsed": round(a.elapsed, 3),
                }
                for a in self.attempts
            ],
        }


class CallbackPusher:
    """Builds signed (optionally encrypted) pushes and delivers them with WeChat's retries."""

    def __init__(
        self,
        *,
        appid: str,
        gh_id: str,
        url: str,
        token: str,
        aes_key: str | None,
        mode: CallbackMode,
        config: Callable[[], EmulatorConfig],
        stopping: threading.Event,
    ) -> None:
        self.appid = appid
        self.gh_id = gh_id
        self.url = url
        self.token = token
        self.mode: CallbackMode = mode if aes_key else "plain"
        self.codec = AesCodec(aes_key, appid) if aes_key else None
        self._config = config
        self._stopping = stopping

    def build(
        self, kind: str, xml: str, openid: str, *, bad_signature: bool = False
    ) -> CallbackPush:
        """Sign (and in safe/compat mode encrypt) ``xml``; the result is re-sent unchanged."""
        timestamp = str(int(time.time()))
        nonce = str(secrets.randbelow(10**10))
        query = {"signature": signature(self.token, timestamp, nonce)}
        query |= {"timestamp": timestamp, "nonce": nonce, "openid": openid}
        body = xml
        if self.codec is not None and self.mode in ("safe", "compat"):
            encrypted = self.codec.encrypt(xml)
            query |= {"encrypt_type": "aes", "msg_signature": ""}
            query["msg_signature"] = signature(self.token, timestamp, nonce, encrypted)
            enc = f"<Encrypt>{cdata(encrypted)}</Encrypt>"
            if self.mode == "safe":
                body = f"<xml><ToUserName>{cdata(self.gh_id)}</ToUserName>{enc}</xml>"
            else:
                body = xml.removesuffix("</xml>") + enc + "</xml>"
        if bad_signature:
            query["signature"] = "0" * 40
            if "msg_signature" in query:
                query["msg_signature"] = "0" * 40
        sep = "&" if "?" in self.url else "?"
        url = self.url + sep + urlencode(query)
        return CallbackPush(kind, xml, url, query, body.encode("utf-8"), openid)

    def deliver(self, push: CallbackPush, *, attempts: int | None = None) -> None:
        """POST the push, re-sending the identical request on timeout/5xx; record attempts."""
        config = self._config()
        total = max(1, attempts if attempts is not None else config.callback_attempts)
        headers = {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"}
        # verify=False: loopback test receivers; it also skips loading the CA bundle (~0.1 s).
        client = httpx.Client(timeout=config.callback_timeout, verify=False)  # noqa: S501
        try:
            for number in range(1, total + 1):
                if self._stopping.is_set():
                    push.verdict = "emulator stopped"
                    break
                if self._attempt(client, push, number, headers):
                    break
            if push.ok is None:
                push.ok = False
        finally:
            client.close()
            push.done.set()

    def _attempt(
        self, client: httpx.Client, push: CallbackPush, number: int, headers: dict[str, str]
    ) -> bool:
        """Make one attempt; return True when the answer is final (no retry)."""
        started = time.monotonic()
        try:
            response = client.post(push.url, content=push.body, headers=headers)
        except httpx.TimeoutException:
            push.attempts.append(
                CallbackAttempt(number, None, b"", "timeout", time.monotonic() - started)
            )
            push.verdict = "timeout"
            return False
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            push.attempts.append(
                CallbackAttempt(number, None, b"", error, time.monotonic() - started)
            )
            push.verdict = "connection error"
            return False
        elapsed = time.monotonic() - started
        push.attempts.append(
            CallbackAttempt(number, response.status_code, response.content, None, elapsed)
        )
        if response.status_code >= 500:
            push.verdict = f"http {response.status_code}"
            return False
        push.ok, push.verdict, push.reply_xml = self.judge(push, response)
        return True

    def judge(self, push: CallbackPush, response: httpx.Response) -> tuple[bool, str, str | None]:
        """Classify our server's answer the way WeChat does."""
        if response.status_code != 200:
            return False, f"http {response.status_code}", None
        text = response.content.decode("utf-8", "replace").strip()
        if text in ("", "success"):
            return True, text or "empty", None
        try:
            root = ET.fromstring(text)  # noqa: S314 (our own server's reply, loopback)
        except ET.ParseError:
            return False, "该公众号暂时无法提供服务 (reply is not XML)", None
        if self.mode == "safe" or root.find("Encrypt") is not None:
            return self._judge_encrypted(root, push)
        return self._judge_plain(text, push)

    def _judge_encrypted(
        self, root: ET.Element, push: CallbackPush
    ) -> tuple[bool, str, str | None]:
        if self.codec is None:
            return False, "该公众号暂时无法提供服务 (encrypted reply without a key)", None
        values = {
            tag: root.findtext(tag) for tag in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")
        }
        if any(v is None for v in values.values()):
            return False, "该公众号暂时无法提供服务 (reply must be encrypted in safe mode)", None
        encrypt, msg_sig, timestamp, nonce = (str(v) for v in values.values())
        if signature(self.token, timestamp, nonce, encrypt) != msg_sig:
            return False, "该公众号暂时无法提供服务 (bad reply MsgSignature)", None
        try:
            inner = self.codec.decrypt(encrypt)
        except ValueError as exc:
            return False, f"该公众号暂时无法提供服务 (cannot decrypt reply: {exc})", None
        return self._judge_plain(inner, push)

    def _judge_plain(self, text: str, push: CallbackPush) -> tuple[bool, str, str | None]:
        try:
            root = ET.fromstring(text)  # noqa: S314
        except ET.ParseError:
            return False, "该公众号暂时无法提供服务 (reply is not XML)", text
        if root.tag != "xml":
            return False, "该公众号暂时无法提供服务 (root is not <xml>)", text
        missing = [
            t
            for t in ("ToUserName", "FromUserName", "CreateTime", "MsgType")
            if root.find(t) is None
        ]
        if missing:
            return False, f"该公众号暂时无法提供服务 (reply lacks {', '.join(missing)})", text
        if root.findtext("MsgType") not in REPLY_TYPES:
            return False, "该公众号暂时无法提供服务 (unknown reply MsgType)", text
        if (
            root.findtext("ToUserName") != push.openid
            or root.findtext("FromUserName") != self.gh_id
        ):
            return False, "该公众号暂时无法提供服务 (reply To/From do not match)", text
        return True, "reply", text

    def verify_url(self, echostr: str | None = None) -> tuple[bool, bytes]:
        """Send the GET URL-verification request; True when ``echostr`` comes back."""
        echo = echostr or str(secrets.randbelow(10**18))
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        query = {"signature": signature(self.token, timestamp, nonce), "timestamp": timestamp}
        query |= {"nonce": nonce, "echostr": echo}
        sep = "&" if "?" in self.url else "?"
        try:
            response = httpx.get(
                self.url + sep + urlencode(query),
                timeout=self._config().callback_timeout,
                verify=False,  # noqa: S501 (loopback test receivers)
            )
        except httpx.HTTPError:
            return False, b""
        return response.status_code == 200 and response.text == echo, response.content
