"""The emulator's phone view: what a follower sees of the account (``GET /__emu/phone``).

Pages (self-contained HTML, Chinese, sized like a phone):

- ``/__emu/phone``: the account's message list, newest first: every accepted mass send
  as a card (cover, titles, Beijing send time, status, follower counts); reloads every 5 s.
- ``/__emu/phone?tab=published``: free-published articles (已发表, not pushed to anyone).
- ``/__emu/phone/article/<msg_id>/<idx>``, ``/__emu/phone/published/<publish_id>/<idx>``:
  one article as WeChat renders it (content as stored after the emulator's sanitizing).
- ``/__emu/media/<path>``: the bytes behind an ``mmbiz.qpic.cn/<path>`` URL the emulator
  handed out, so covers and body images show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tests.fakes.wechat_state import BEIJING, Clock, MassJob, PublishJob, image_format, is_mmbiz

PHONE = "/__emu/phone"
MEDIA = "/__emu/media/"
_MMBIZ_RE = re.compile(r"(?:https?:)?//mmbiz\.(?:qpic|qlogo)\.cn/", re.I)
_IMAGE_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "bmp": "image/bmp"}
_PUBLISH_STATUS = {
    0: ("已发表", "ok"),
    1: ("发布中", "wait"),
    2: ("原创声明失败", "bad"),
    3: ("发布失败", "bad"),
    4: ("审核未通过", "bad"),
    5: ("已删除", "bad"),
    6: ("已封禁", "bad"),
}
_MSGTYPES = {"image": "[图片]", "voice": "[语音]", "mpvideo": "[视频]", "wxcard": "[卡券]"}


class Account(Protocol):
    """What the phone view reads from the emulator (``FakeWeChat`` provides it)."""

    appid: str
    gh_id: str
    nickname: str
    clock: Clock
    mass_jobs: dict[int, MassJob]
    publish_jobs: dict[str, PublishJob]
    images: dict[str, bytes]


@dataclass(frozen=True)
class Page:
    """One answer of the phone view."""

    status: int
    content_type: str
    body: bytes


def media_key(url: str) -> str | None:
    """Return the path of an mmbiz URL (``mmbiz_jpg/…/0``), the key its bytes are kept by."""
    if not is_mmbiz(url):
        return None
    return _MMBIZ_RE.sub("", url.strip(), count=1).split("?", 1)[0].split("#", 1)[0]


def serve(account: Account, target: str) -> Page | None:
    """Answer a phone-view or media request; None when ``target`` is not one of them."""
    split = urlsplit(target)
    path = split.path.rstrip("/") or "/"
    if path.startswith(MEDIA):
        data = account.images.get(path.removeprefix(MEDIA))
        if data is None:
            return _not_found()
        return Page(200, _IMAGE_TYPES.get(image_format(data) or "", "image/jpeg"), data)
    if path == PHONE:
        tab = parse_qs(split.query).get("tab", [""])[0]
        return _html(_message_list(account, published=tab == "published"))
    parts = path.removeprefix(PHONE + "/").split("/")
    if path.startswith(PHONE + "/") and len(parts) == 3 and parts[2].isdigit():
        page = _article_page(account, parts[0], parts[1], int(parts[2]))
        return _html(page) if page is not None else _not_found()
    return None


# ------------------------------------------------------------------ message list


def _message_list(account: Account, *, published: bool) -> str:
    if published:
        jobs = sorted(account.publish_jobs.values(), key=lambda j: j.submitted_at, reverse=True)
        cards = [_published_card(job) for job in jobs]
        empty = "还没有发表的文章。发表（不群发）的文章只出现在公众号主页，不推送给粉丝。"
    else:
        masses = sorted(account.mass_jobs.values(), key=lambda j: j.submitted_at, reverse=True)
        cards = [_mass_card(job) for job in masses]
        empty = "还没有群发消息。在公开（Gongkai）里发布一条选择“微信”渠道的信息，它会出现在这里。"
    tabs = (
        f'<nav class="tabs"><a href="{PHONE}"{"" if published else " class=on"}>消息</a>'
        f'<a href="{PHONE}?tab=published"{" class=on" if published else ""}>已发表</a></nav>'
    )
    body = "".join(cards) or f'<p class="empty">{empty}</p>'
    who = f"{escape(account.gh_id)} · {escape(account.appid)}"
    return _document(
        account.nickname,
        f'{_header(account.nickname, back=False)}{tabs}<main class="list">{body}</main>'
        f"<footer>微信模拟器 · {who} · 每 5 秒刷新</footer>",
        refresh=True,
    )


def _mass_card(job: MassJob) -> str:
    label, tone = _mass_status(job)
    when = f'<p class="when">{_beijing(job.submitted_at)}</p>'
    if job.msgtype == "mpnews" and job.articles:
        link = f"{PHONE}/article/{job.msg_id}"
        inner = _articles_html(job.articles, link, deleted=set(job.deleted_idx))
    elif job.msgtype == "text":
        inner = f'<p class="text">{escape(str(job.payload.get("content", "")))}</p>'
    else:
        inner = f'<p class="text">{_MSGTYPES.get(job.msgtype, "[消息]")}</p>'
    sent = job.filter_count - job.error_count
    counts = f"{_scope(job.scope)} {job.total_count} 人"
    if job.finished and label == "已送达":
        counts += f" · 送达 {sent} 人" + (f" · 失败 {job.error_count}" if job.error_count else "")
    return (
        f'{when}<article class="card">{inner}<p class="meta"><span class="st {tone}">{label}'
        f"</span>{counts}</p></article>"
    )


def _published_card(job: PublishJob) -> str:
    label, tone = _PUBLISH_STATUS.get(job.status, (f"状态 {job.status}", "bad"))
    inner = _articles_html(
        job.articles,
        f"{PHONE}/published/{job.publish_id}",
        deleted={i + 1 for i, gone in enumerate(job.deleted) if gone},
    )
    return (
        f'<p class="when">{_beijing(job.submitted_at)}</p><article class="card">{inner}'
        f'<p class="meta"><span class="st {tone}">{label}</span>仅发表，不推送</p></article>'
    )


def _articles_html(articles: list[dict[str, Any]], link: str, *, deleted: set[int]) -> str:
    """First article large with its cover; the others as rows with a small cover."""
    rows = []
    for idx, article in enumerate(articles, start=1):
        title = escape(str(article.get("title", "")))
        if idx in deleted:
            title = f"<s>{title}</s>（已删除）"
        cover = _local(str(article.get("thumb_url", "")))
        image = f'<img src="{escape(cover)}" alt="">' if cover else ""
        kind = "lead" if idx == 1 else "row"
        rows.append(f'<a class="{kind}" href="{link}/{idx}">{image}<span>{title}</span></a>')
    return "".join(rows)


def _mass_status(job: MassJob) -> tuple[str, str]:
    if job.status == "SENDING":
        return "发送中", "wait"
    if job.status == "SEND_SUCCESS":
        return "已送达", "ok"
    if job.status == "DELETE":
        return "已删除", "bad"
    if job.final_status.startswith("err("):  # err(20001) etc.: the content check refused it
        return "审核未通过", "bad"
    return "发送失败", "bad"


def _scope(scope: str) -> str:
    if scope == "all":
        return "全部粉丝"
    if scope.startswith("tag:"):
        return f"标签 {escape(scope.removeprefix('tag:'))}"
    return "指定粉丝"


# ------------------------------------------------------------------ article page


def _article_page(account: Account, kind: str, job_id: str, idx: int) -> str | None:
    articles: list[dict[str, Any]]
    note = ""
    if kind == "article" and job_id.isdigit() and int(job_id) in account.mass_jobs:
        mass = account.mass_jobs[int(job_id)]
        articles, when = mass.articles, mass.submitted_at
        label, _tone = _mass_status(mass)
        gone = idx in mass.deleted_idx or mass.status == "DELETE"
        note = "此内容已被发布者删除" if gone else ("" if label == "已送达" else label)
    elif kind == "published" and job_id in account.publish_jobs:
        job = account.publish_jobs[job_id]
        articles, when = job.articles, job.submitted_at
        gone = idx - 1 < len(job.deleted) and job.deleted[idx - 1]
        label = _PUBLISH_STATUS.get(job.status, ("", ""))[0]
        note = "此内容已被发布者删除" if gone else ("" if job.status == 0 else label)
    else:
        return None
    if not 1 <= idx <= len(articles):
        return None
    article = articles[idx - 1]
    title = escape(str(article.get("title", "")))
    author = str(article.get("author", ""))
    author = "" if author == account.nickname else escape(author)
    source = str(article.get("content_source_url", ""))
    more = (
        f'<p class="source"><a href="{escape(source)}" rel="noopener noreferrer">阅读原文</a></p>'
        if source.lower().startswith(("http://", "https://"))
        else ""
    )
    content = _MMBIZ_RE.sub(MEDIA, str(article.get("content", "")))
    body = (
        f'<main class="doc">{f"<p class=note>{note}</p>" if note else ""}<h1>{title}</h1>'
        f'<p class="by">{author + " " if author else ""}<b>{escape(account.nickname)}</b> '
        f"{_beijing(when)}</p>"
        f'<div class="content">{content}</div>{more}</main>'
    )
    return _document(title, _header(account.nickname, back=True) + body, refresh=False)


# --------------------------------------------------------------------- helpers


def _local(url: str) -> str:
    key = media_key(url) if url else None
    return MEDIA + key if key else url


def _beijing(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y年%m月%d日 %H:%M")


def _header(name: str, *, back: bool) -> str:
    left = f'<a class="back" href="{PHONE}">‹ 返回</a>' if back else '<span class="back"></span>'
    return (
        f'<header>{left}<span class="name">{escape(name)}</span><span class="back"></span></header>'
    )


def _html(text: str, status: int = 200) -> Page:
    return Page(status, "text/html; charset=utf-8", text.encode("utf-8"))


def _not_found() -> Page:
    body = f'{_header("", back=True)}<p class="empty">未找到</p>'
    return _html(_document("未找到", body, refresh=False), 404)


def _document(title: str, body: str, *, refresh: bool) -> str:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{meta}<title>{escape(title)} · 微信模拟器</title><style>{_STYLE}</style></head>"
        f'<body><div class="phone">{body}</div></body></html>'
    )


_STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#d9dde3;font:15px/1.6 -apple-system,"PingFang SC","Noto Sans CJK SC",
"WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;color:#191919}
.phone{max-width:390px;min-height:100vh;margin:0 auto;background:#ededed;display:flex;
flex-direction:column}
@media(min-width:500px){.phone{margin:24px auto;min-height:760px;border:10px solid #111;
border-radius:36px;overflow:hidden;box-shadow:0 10px 40px rgba(0,0,0,.25)}}
header{display:flex;align-items:center;justify-content:space-between;height:48px;
padding:0 12px;background:#ededed;border-bottom:1px solid #d6d6d6;font-weight:600}
header .back{width:64px;color:#191919;text-decoration:none;font-weight:400}
header .name{flex:1;text-align:center;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.tabs{display:flex;background:#f7f7f7;border-bottom:1px solid #e0e0e0}
.tabs a{flex:1;text-align:center;padding:8px 0;color:#666;text-decoration:none}
.tabs a.on{color:#07c160;border-bottom:2px solid #07c160;font-weight:600}
.list{flex:1;padding:4px 12px 16px}
.when{text-align:center;color:#999;font-size:12px;margin:14px 0 6px}
.card{background:#fff;border-radius:8px;overflow:hidden}
.card a{display:flex;color:#191919;text-decoration:none}
.lead{position:relative;flex-direction:column}
.lead img{width:100%;aspect-ratio:2.35/1;object-fit:cover;background:#ccc;display:block}
.lead span{position:absolute;left:0;right:0;bottom:0;padding:24px 12px 8px;color:#fff;
font-size:17px;font-weight:600;background:linear-gradient(transparent,rgba(0,0,0,.6))}
.row{align-items:center;gap:10px;padding:10px 12px;border-top:1px solid #eee}
.row span{flex:1}
.row img{order:2;width:52px;height:52px;object-fit:cover;background:#ccc}
.text{margin:0;padding:12px}
.meta{margin:0;padding:6px 12px;border-top:1px solid #f0f0f0;color:#888;font-size:12px}
.st{display:inline-block;margin-right:8px;padding:0 6px;border-radius:3px;color:#fff}
.ok{background:#07c160}.wait{background:#fa9d3b}.bad{background:#fa5151}
.empty{color:#888;text-align:center;padding:48px 16px}
.doc{flex:1;background:#fff;padding:20px 16px 32px}
.doc h1{font-size:22px;line-height:1.4;margin:0 0 12px}
.by{color:#888;font-size:14px;margin:0 0 20px}.by b{color:#576b95;font-weight:400}
.content{font-size:17px;line-height:1.75;overflow-wrap:anywhere}
.content img{max-width:100%;height:auto}
.note{background:#fff3f3;color:#fa5151;padding:8px 12px;border-radius:4px}
.source a{color:#576b95;text-decoration:none}
footer{color:#aaa;font-size:11px;text-align:center;padding:8px}
"""
