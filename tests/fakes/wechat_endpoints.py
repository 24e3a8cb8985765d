"""Endpoint handlers of the WeChat emulator: materials, drafts, free publish, mass send, quota."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from typing import Any

from tests.fakes.wechat_api import ENDPOINTS, TOKEN_APIS, Request, WeChatCore, parse_multipart
from tests.fakes.wechat_callbacks import CallbackPush, mass_event_xml, publish_event_xml
from tests.fakes.wechat_state import (
    ApiError,
    Draft,
    MassJob,
    Material,
    PublishJob,
    Upload,
    api_name,
    has_cjk_escapes,
    image_format,
    measure,
    new_media_id,
    plain_text,
    sanitize,
)

MEDIA_RULES: dict[str, tuple[tuple[str, ...], str]] = {
    # type -> (accepted formats / extensions, size-limit config field)
    "image": (("jpeg", "png", "gif", "bmp"), "image_limit"),
    "thumb": (("jpeg",), "thumb_limit"),
    "voice": (("mp3", "wma", "wav", "amr"), "voice"),
    "video": (("mp4",), "video"),
}
FIXED_LIMITS = {"voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024}
MASS_TYPES = ("mpnews", "text", "voice", "image", "mpvideo", "wxcard")


def _int(value: Any, errcode: int = 47001) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ApiError(errcode)
    try:
        return int(value)
    except ValueError as exc:
        raise ApiError(errcode) from exc


def _page(data: dict[str, Any]) -> tuple[int, int, bool]:
    offset, count = _int(data.get("offset", 0)), _int(data.get("count", 20))
    if offset < 0 or not 1 <= count <= 20:
        raise ApiError(47001)
    return offset, count, bool(data.get("no_content", 0))


class WeChatEndpoints(WeChatCore):
    """The emulator's business endpoints on top of the shared state and pipeline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handlers = {
            "media/uploadimg": self._uploadimg,
            "material/add_material": self._add_material,
            "material/del_material": self._del_material,
            "material/add_news": self._add_news,
            "draft/add": self._draft_add,
            "draft/get": self._draft_get,
            "draft/update": self._draft_update,
            "draft/delete": self._draft_delete,
            "draft/count": lambda _r: {"total_count": len(self.drafts)},
            "draft/batchget": self._draft_batchget,
            "freepublish/submit": self._publish_submit,
            "freepublish/get": self._publish_get,
            "freepublish/getarticle": self._publish_getarticle,
            "freepublish/delete": self._publish_delete,
            "freepublish/batchget": self._publish_batchget,
            "message/mass/sendall": self._mass_send,
            "message/mass/send": self._mass_send,
            "message/mass/preview": self._mass_preview,
            "message/mass/get": self._mass_get,
            "message/mass/delete": self._mass_delete,
            "openapi/quota/get": self._quota_get,
        }

    def _biz(self) -> str:
        number = int(hashlib.sha256(self.appid.encode()).hexdigest()[:8], 16) + 3000000000
        return base64.b64encode(str(number).encode()).decode()

    def _article_url(self, mid: int | str, idx: int, *, temp: bool = False) -> str:
        extra = f"&tempkey={secrets.token_urlsafe(16)}" if temp else ""
        sn = secrets.token_hex(16)
        return (
            f"https://mp.weixin.qq.com/s?__biz={self._biz()}&mid={mid}&idx={idx}&sn={sn}{extra}#rd"
        )

    # ------------------------------------------------------------- materials

    def _media(self, request: Request) -> tuple[str, bytes]:
        files = parse_multipart(request.headers.get("content-type", ""), request.body)
        filename, data = files.get("media", ("", b""))
        if not data:
            raise ApiError(41005)
        return filename, data

    def _uploadimg(self, request: Request) -> dict[str, Any]:
        filename, data = self._media(request)
        fmt = image_format(data)
        if fmt not in ("jpeg", "png"):
            raise ApiError(40005)
        if len(data) > self.config.uploadimg_limit:
            raise ApiError(40009)
        short = "jpg" if fmt == "jpeg" else "png"
        url = f"http://mmbiz.qpic.cn/mmbiz_{short}/{secrets.token_urlsafe(24)}/0?wx_fmt={fmt}"
        self.uploads.append(Upload(url, filename, len(data)))
        return {"url": url, "errcode": 0, "errmsg": "ok"}

    def _add_material(self, request: Request) -> dict[str, Any]:
        media_type = request.query.get("type", "")
        if media_type not in MEDIA_RULES:
            raise ApiError(40004)
        filename, data = self._media(request)
        formats, limit_name = MEDIA_RULES[media_type]
        if media_type in ("image", "thumb"):
            fmt = image_format(data) or ""
        else:
            fmt = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if fmt not in formats:
            raise ApiError(40005)
        limit = FIXED_LIMITS.get(limit_name) or int(getattr(self.config, limit_name))
        if len(data) > limit:
            raise ApiError(45001)
        media_id = new_media_id()
        short = "jpg" if fmt == "jpeg" else fmt
        url = f"http://mmbiz.qpic.cn/mmbiz_{short}/{secrets.token_urlsafe(24)}/0?wx_fmt={fmt}"
        self.materials[media_id] = Material(
            media_id, media_type, filename, len(data), url, self.clock.now()
        )
        return (
            {"media_id": media_id, "url": url} if media_type == "image" else {"media_id": media_id}
        )

    def _del_material(self, request: Request) -> dict[str, Any]:
        if self.materials.pop(str(request.data.get("media_id", "")), None) is None:
            raise ApiError(40007)
        return {"errcode": 0, "errmsg": "ok"}

    def _add_news(self, _request: Request) -> dict[str, Any]:
        raise ApiError(45103)

    # ---------------------------------------------------------------- drafts

    def _article(
        self, raw: Any, *, escaped: bool, single: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """Validate one article like draft/add does; return it as stored plus stripped HTML."""
        cfg = self.config
        if not isinstance(raw, dict):
            raise ApiError(47001)
        article_type = raw.get("article_type", "news") or "news"
        if article_type not in ("news", "newspic"):
            raise ApiError(47001, "data format error: article_type must be news or newspic")
        title, author = raw.get("title"), raw.get("author", "") or ""
        digest, content = raw.get("digest", "") or "", raw.get("content")
        source_url = raw.get("content_source_url", "") or ""
        if not all(
            isinstance(v, str) for v in (title or "", author, digest, content or "", source_url)
        ):
            raise ApiError(47001)
        if not title or not title.strip():
            raise ApiError(44003, "empty news data: title is required")
        if measure(title, escaped=escaped, mode=cfg.title_mode) > cfg.title_limit:
            raise ApiError(45003)
        if measure(author, escaped=escaped, mode=cfg.title_mode) > cfg.author_limit:
            raise ApiError(45110)
        if measure(digest, escaped=escaped) > cfg.digest_limit:
            raise ApiError(45004)
        if not isinstance(content, str) or not content.strip():
            raise ApiError(44004)
        if (
            measure(content, escaped=escaped) >= cfg.content_char_limit
            or len(content.encode("utf-8")) >= cfg.content_byte_limit
        ):
            raise ApiError(45002)
        if len(source_url.encode("utf-8")) > cfg.source_url_limit or (
            source_url and not source_url.lower().startswith(("http://", "https://"))
        ):
            raise ApiError(41039)
        thumb = raw.get("thumb_media_id", "") or ""
        material = self.materials.get(str(thumb))
        if article_type == "news" and (material is None or material.type not in ("image", "thumb")):
            raise ApiError(40007)
        flags = {}
        for flag in ("need_open_comment", "only_fans_can_comment"):
            value = raw.get(flag, 0)
            if value not in (0, 1):
                raise ApiError(47001)
            flags[flag] = int(value)
        cleaned, stripped = sanitize(content)
        if not cleaned.strip():
            raise ApiError(45166)
        stored = {k: v for k, v in raw.items() if k.startswith(("pic_crop", "image_info", "cover"))}
        stored |= {
            "article_type": article_type,
            "title": title,
            "author": author,
            "digest": (digest or plain_text(cleaned)[:54]) if single else "",
            "content": cleaned,
            "content_source_url": source_url,
            "thumb_media_id": thumb,
            "thumb_url": material.url if material is not None else "",
            **flags,
        }
        return stored, stripped

    def _draft(self, data: dict[str, Any]) -> Draft:
        draft = self.drafts.get(str(data.get("media_id", "")))
        if draft is None:
            raise ApiError(40007)
        return draft

    def _news_items(
        self, articles: list[dict[str, Any]], mid: str, *, content: bool = True
    ) -> list[dict[str, Any]]:
        items = []
        for idx, article in enumerate(articles, start=1):
            item = dict(article)
            item.setdefault("url", self._article_url(mid, idx, temp=True))
            if not content:
                item.pop("content", None)
            items.append(item)
        return items

    def _draft_add(self, request: Request) -> dict[str, Any]:
        raw = request.data.get("articles")
        if isinstance(raw, dict):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            raise ApiError(44003)
        if len(raw) > self.config.max_articles:
            raise ApiError(45008)
        escaped = has_cjk_escapes(request.body)
        articles, stripped = [], []
        for item in raw:
            article, removed = self._article(item, escaped=escaped, single=len(raw) == 1)
            articles.append(article)
            stripped.extend(removed)
        now = self.clock.now()
        media_id = new_media_id()
        self.drafts[media_id] = Draft(media_id, articles, now, int(now), stripped)
        return {"media_id": media_id}

    def _draft_get(self, request: Request) -> dict[str, Any]:
        draft = self._draft(request.data)
        return {
            "news_item": self._news_items(draft.articles, str(self.next_serial())),
            "create_time": int(draft.created_at),
            "update_time": draft.update_time,
        }

    def _draft_update(self, request: Request) -> dict[str, Any]:
        draft = self._draft(request.data)
        index = _int(request.data.get("index", -1), 40114)
        if not 0 <= index < len(draft.articles):
            raise ApiError(40114)
        escaped = has_cjk_escapes(request.body)
        single = len(draft.articles) == 1
        article, removed = self._article(
            request.data.get("articles"), escaped=escaped, single=single
        )
        draft.articles[index] = article
        draft.stripped.extend(removed)
        draft.update_time = int(self.clock.now())
        return {"errcode": 0, "errmsg": "ok"}

    def _draft_delete(self, request: Request) -> dict[str, Any]:
        draft = self._draft(request.data)
        self.deleted_drafts[draft.media_id] = self.drafts.pop(draft.media_id)
        return {"errcode": 0, "errmsg": "ok"}

    def _draft_batchget(self, request: Request) -> dict[str, Any]:
        offset, count, no_content = _page(request.data)
        drafts = sorted(
            self.drafts.values(), key=lambda d: (d.update_time, d.created_at), reverse=True
        )
        page = drafts[offset : offset + count]
        items = [
            {
                "media_id": d.media_id,
                "content": {
                    "news_item": self._news_items(
                        d.articles, str(self.next_serial()), content=not no_content
                    ),
                    "create_time": int(d.created_at),
                    "update_time": d.update_time,
                },
                "update_time": d.update_time,
            }
            for d in page
        ]
        return {"total_count": len(drafts), "item_count": len(items), "item": items}

    # ---------------------------------------------------------- free publish

    def _publish_submit(self, request: Request) -> dict[str, Any]:
        draft = self._draft(request.data)
        serial = self.next_serial()
        status, fail_idx = self.publish_outcomes.popleft() if self.publish_outcomes else (0, [])
        if status not in (0, 5, 6) and not fail_idx:
            fail_idx = list(range(1, len(draft.articles) + 1))
        now = self.clock.now()
        job = PublishJob(
            publish_id=str(2247483000 + serial),
            msg_data_id=str(2247490000 + serial),
            draft_media_id=draft.media_id,
            articles=draft.articles,
            submitted_at=now,
            due_at=now + self.config.publish_delay,
            final_status=status,
            final_fail_idx=list(fail_idx),
        )
        del self.drafts[draft.media_id]
        self.publish_jobs[job.publish_id] = job
        return {
            "errcode": 0,
            "errmsg": "ok",
            "publish_id": job.publish_id,
            "msg_data_id": job.msg_data_id,
        }

    def _finish_publish(self, job: PublishJob) -> None:
        job.finished = True
        job.status = job.final_status
        job.update_time = int(self.clock.now())
        if job.final_status in (0, 5, 6):
            job.article_id = secrets.token_urlsafe(32)
            job.article_urls = [
                self._article_url(job.msg_data_id, i) for i in range(1, len(job.articles) + 1)
            ]
            job.deleted = [job.final_status == 5] * len(job.articles)
            self.articles[job.article_id] = job.publish_id
        if self.pusher is not None:
            xml = publish_event_xml(self.gh_id, self.admin_openid, int(self.clock.now()), job)
            self._queue_event("PUBLISHJOBFINISH", xml)

    def _publish_get(self, request: Request) -> dict[str, Any]:
        job = self.publish_jobs.get(str(request.data.get("publish_id", "")))
        if job is None:
            raise ApiError(self.config.unknown_publish_errcode)
        self._finish_due()
        if not job.finished or self.clock.now() < job.due_at + self.config.publish_get_lag:
            return {"publish_id": job.publish_id, "publish_status": 1}
        reply: dict[str, Any] = {"publish_id": job.publish_id, "publish_status": job.status}
        if job.article_id is not None:
            reply["article_id"] = job.article_id
            reply["article_detail"] = {
                "count": len(job.article_urls),
                "item": [{"idx": i, "article_url": u} for i, u in enumerate(job.article_urls, 1)],
            }
        reply["fail_idx"] = list(job.final_fail_idx)
        return reply

    def _published(self, data: dict[str, Any]) -> PublishJob:
        publish_id = self.articles.get(str(data.get("article_id", "")))
        if publish_id is None:
            raise ApiError(53600)
        return self.publish_jobs[publish_id]

    def _published_items(self, job: PublishJob, *, content: bool = True) -> list[dict[str, Any]]:
        items = []
        for i, article in enumerate(job.articles):
            item = dict(article) | {"url": job.article_urls[i], "is_deleted": job.deleted[i]}
            if not content:
                item.pop("content", None)
            items.append(item)
        return items

    def _publish_getarticle(self, request: Request) -> dict[str, Any]:
        return {"news_item": self._published_items(self._published(request.data))}

    def _publish_delete(self, request: Request) -> dict[str, Any]:
        job = self._published(request.data)
        index = _int(request.data.get("index", 0) or 0, 40114)
        if not 0 <= index <= len(job.articles):
            raise ApiError(40114)
        for i in range(len(job.deleted)):
            if index in (0, i + 1):
                job.deleted[i] = True
        if all(job.deleted):
            job.status = 5
        return {"errcode": 0, "errmsg": "ok"}

    def _publish_batchget(self, request: Request) -> dict[str, Any]:
        offset, count, no_content = _page(request.data)
        done = [j for j in self.publish_jobs.values() if j.article_id and j.status == 0]
        done.sort(key=lambda j: j.update_time, reverse=True)
        items = [
            {
                "article_id": j.article_id,
                "content": {"news_item": self._published_items(j, content=not no_content)},
                "update_time": j.update_time,
            }
            for j in done[offset : offset + count]
        ]
        return {"total_count": len(done), "item_count": len(items), "item": items}

    # ------------------------------------------------------------- mass send

    def _audience(self, request: Request) -> tuple[str, list[int]]:
        data = request.data
        if request.name == "message/mass/send":
            touser = data.get("touser")
            if not isinstance(touser, list):
                raise ApiError(47001)
            if len(touser) < 2:
                raise ApiError(40130)
            if len(touser) > 10000:
                raise ApiError(40032)
            digest = hashlib.sha256("\n".join(sorted(map(str, touser))).encode()).hexdigest()
            return f"users:{digest[:16]}", []
        flt = data.get("filter")
        if not isinstance(flt, dict):
            raise ApiError(47001)
        if "group_id" in flt and self.config.strict_filter:
            raise ApiError(
                40152, "invalid tag id (legacy filter.group_id is not accepted, send filter.tag_id)"
            )
        if flt.get("is_to_all") is True:
            return "all", list(range(self.config.follower_count))
        tag_id = flt.get("tag_id", flt.get("group_id"))
        tag = _int(tag_id, 40152) if tag_id is not None else None
        if tag is None or tag not in self.tags:
            raise ApiError(40152)
        return f"tag:{tag}", list(range(min(self.tags[tag][1], self.config.follower_count)))

    def _message(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        msgtype = data.get("msgtype")
        if msgtype not in MASS_TYPES:
            raise ApiError(40008)
        payload = data.get("images" if msgtype == "image" else str(msgtype))
        if not isinstance(payload, dict):
            raise ApiError(47001)
        return str(msgtype), payload

    def _check_media(self, msgtype: str, payload: dict[str, Any]) -> None:
        if msgtype == "mpnews":
            if str(payload.get("media_id", "")) not in self.drafts:
                raise ApiError(40007)
        elif msgtype == "text":
            if not str(payload.get("content", "")).strip():
                raise ApiError(44004)
        elif msgtype == "image":
            ids = payload.get("media_ids")
            if (
                not isinstance(ids, list)
                or not ids
                or any(str(i) not in self.materials for i in ids)
            ):
                raise ApiError(40007)
        elif (
            msgtype in ("voice", "mpvideo")
            and str(payload.get("media_id", "")) not in self.materials
        ):
            raise ApiError(40007)

    def _mass_send(self, request: Request) -> dict[str, Any]:
        data, cfg, now = request.data, self.config, self.clock.now()
        scope, audience = self._audience(request)
        msgtype, payload = self._message(data)
        if data.get("send_ignore_reprint", 0) not in (0, 1):
            raise ApiError(47001)
        clientmsgid = data.get("clientmsgid")
        if clientmsgid is not None:
            if (
                not isinstance(clientmsgid, str)
                or len(clientmsgid.encode()) > cfg.clientmsgid_limit
            ):
                raise ApiError(45067)
            key = "id:" + clientmsgid
        else:
            canonical = json.dumps([scope, msgtype, payload], sort_keys=True, ensure_ascii=False)
            key = "digest:" + hashlib.sha256(canonical.encode()).hexdigest()
        if cfg.media_check_first:
            self._check_media(msgtype, payload)
        seen = self.dedupe.get(key)
        if seen is not None and now - seen[1] < cfg.dedupe_window:
            if cfg.retry_too_fast and now - seen[1] < cfg.retry_too_fast:
                raise ApiError(45066)
            if cfg.dedupe_without_msg_id:
                raise ApiError(45065)
            raise ApiError(45065, msg_id=seen[0])
        if cfg.mass_admin_confirmation and scope == "all" and key not in self.confirmed_sends:
            if key in self.awaiting_admin:
                raise ApiError(89504, "waiting for the administrator to confirm")
            self.awaiting_admin[key] = request
            raise ApiError(89505, "the administrator is asked to confirm, retry later")
        day = self.clock.day()
        limit = (
            cfg.subscription_mass_daily if self.kind == "subscription" else cfg.service_mass_daily
        )
        if self.mass_success[day] >= limit:
            raise ApiError(45028)
        self._check_media(msgtype, payload)
        articles: list[dict[str, Any]] = []
        if msgtype == "mpnews":
            articles = self.drafts.pop(str(payload["media_id"])).articles
        total = len(audience) if not scope.startswith("users:") else len(data["touser"])
        filtered = total
        if self.kind == "service" and audience:
            counts = self.follower_month.setdefault(self.clock.month(), [0] * cfg.follower_count)
            eligible = [f for f in audience if counts[f] < cfg.service_month_per_follower]
            for follower in eligible:
                counts[follower] += 1
            filtered = len(eligible)
        status, errors = (
            self.mass_outcomes.popleft()
            if self.mass_outcomes
            else ("send success", cfg.mass_error_count)
        )
        serial = self.next_serial()
        job = MassJob(
            msg_id=1000000000 + serial,
            msg_data_id=2247500000 + serial,
            msgtype=msgtype,
            scope=scope,
            payload=payload,
            articles=articles,
            clientmsgid=clientmsgid,
            dedupe_key=key,
            submitted_at=now,
            due_at=now + cfg.mass_delay,
            total_count=total,
            filter_count=filtered,
            final_status=status,
            error_count=min(errors, filtered)
            if status == "send success"
            else (filtered if status == "send fail" else 0),
        )
        self.mass_jobs[job.msg_id] = job
        self.dedupe[key] = (job.msg_id, now)
        self.mass_success[day] += 1
        return {
            "errcode": 0,
            "errmsg": "send job submission success",
            "msg_id": job.msg_id,
            "msg_data_id": job.msg_data_id,
        }

    def confirm_mass(self, *, accept: bool = True) -> list[int]:
        """The administrator answers every waiting send-to-all in the WeChat app: accepted
        ones are sent now (a repeat then gets 45065 with their msg_id); return the msg_ids."""
        sent: list[int] = []
        with self._lock:
            waiting, self.awaiting_admin = self.awaiting_admin, {}
            for key, request in waiting.items():
                if accept:
                    self.confirmed_sends.add(key)
                    sent.append(int(self._mass_send(request)["msg_id"]))
        self.run_due()
        return sent

    def _finish_mass(self, job: MassJob) -> None:
        job.finished = True
        if job.status == "SENDING":
            job.status = "SEND_SUCCESS" if job.final_status == "send success" else "SEND_FAIL"
        if job.final_status == "send success":
            job.article_urls = [
                self._article_url(job.msg_data_id, i) for i in range(1, len(job.articles) + 1)
            ]
        if self.pusher is not None:
            xml = mass_event_xml(self.gh_id, self.admin_openid, int(self.clock.now()), job)
            self._queue_event("MASSSENDJOBFINISH", xml)

    def _mass_preview(self, request: Request) -> dict[str, Any]:
        data = request.data
        touser, towxname = data.get("touser"), data.get("towxname")
        if bool(touser) == bool(towxname):
            raise ApiError(47001, "data format error: give exactly one of touser / towxname")
        msgtype, payload = self._message(data)
        self._check_media(msgtype, payload)
        msg_id = 1000000000 + self.next_serial()
        self.previews.append(
            {
                "msg_id": msg_id,
                "touser": touser,
                "towxname": towxname,
                "msgtype": msgtype,
                "payload": payload,
            }
        )
        return {"errcode": 0, "errmsg": "preview success", "msg_id": msg_id}

    def _mass_job(self, data: dict[str, Any]) -> MassJob:
        if self.config.strict_msg_id and not isinstance(data.get("msg_id"), int):
            raise ApiError(40059)
        job = self.mass_jobs.get(_int(data.get("msg_id", 0), 40059))
        if job is None:
            raise ApiError(40059)
        return job

    def _mass_get(self, request: Request) -> dict[str, Any]:
        job = self._mass_job(request.data)
        self._finish_due()
        return {"msg_id": job.msg_id, "msg_status": job.status}

    def _mass_delete(self, request: Request) -> dict[str, Any]:
        job = self._mass_job(request.data)
        idx = _int(request.data.get("article_idx", 0) or 0)
        count = max(1, len(job.articles))
        if not 0 <= idx <= count:
            raise ApiError(40114)
        job.deleted_idx = sorted(
            set(job.deleted_idx) | (set(range(1, count + 1)) if idx == 0 else {idx})
        )
        if len(job.deleted_idx) >= count:
            job.status = "DELETE"
        return {"errcode": 0, "errmsg": "ok"}

    def _quota_get(self, request: Request) -> dict[str, Any]:
        name = api_name(str(request.data.get("cgi_path", "")))
        if name not in ENDPOINTS and name not in TOKEN_APIS:
            raise ApiError(76021)
        limit, used = self.daily_limit(name), self.used_today(name)
        quota = {"daily_limit": limit, "used": used, "remain": max(0, limit - used)}
        return {"errcode": 0, "errmsg": "ok", "quota": quota}

    # ------------------------------------------------------- jobs and pushes

    def _finish_due(self) -> None:
        now = self.clock.now()
        for job in self.publish_jobs.values():
            if not job.finished and now >= job.due_at:
                self._finish_publish(job)
        for mass in self.mass_jobs.values():
            if not mass.finished and now >= mass.due_at:
                self._finish_mass(mass)

    def _queue_event(self, kind: str, xml: str) -> None:
        assert self.pusher is not None
        for _ in range(max(1, self.config.callback_duplicates)):
            self._pending_pushes.append(self.pusher.build(kind, xml, self.admin_openid))

    def run_due(self) -> None:
        """Finish jobs whose time has come and start their callback pushes; with
        ``events_before_answer`` wait until they were delivered (so a job event reaches
        the callback URL before the answer to the call that finished the job)."""
        with self._lock:
            self._finish_due()
            pushes, self._pending_pushes = self._pending_pushes, []
        threads = [self.start_push(push) for push in pushes]
        if self.config.events_before_answer:
            for thread in threads:
                thread.join(timeout=30)

    def start_push(self, push: CallbackPush, *, attempts: int | None = None) -> threading.Thread:
        """Record ``push`` and deliver it from a background thread."""
        assert self.pusher is not None, "no callback URL configured"
        pusher = self.pusher
        with self._lock:
            self.callbacks.append(push)
            self._push_threads = [t for t in self._push_threads if t.is_alive()]
            thread = threading.Thread(
                target=pusher.deliver, args=(push,), kwargs={"attempts": attempts}, daemon=True
            )
            self._push_threads.append(thread)
        thread.start()
        return thread
