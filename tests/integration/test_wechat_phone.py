"""The emulator's phone view: a follower's view of each broadcast, driven with plain httpx."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.wechat import FakeWeChat

APPID = "wxphone0000000000"
SECRET = "phone-secret"
JPEG = b"\xff\xd8\xff\xe0" + b"cover" * 20
PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 20


class Api:
    """Just enough of the WeChat API to send a broadcast."""

    def __init__(self, wx: FakeWeChat) -> None:
        self.http = httpx.Client(base_url=wx.api_base, timeout=5)
        body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
        self.token = str(self.http.post("stable_token", json=body).json()["access_token"])

    def post(self, name: str, body: Any) -> dict[str, Any]:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        reply = self.http.post(name, params={"access_token": self.token}, content=raw)
        return dict(reply.json())

    def upload(self, name: str, data: bytes, filename: str, **params: str) -> dict[str, Any]:
        files = {"media": (filename, data, "application/octet-stream")}
        reply = self.http.post(name, params={"access_token": self.token, **params}, files=files)
        return dict(reply.json())

    def draft(self) -> str:
        """Two articles: a title that needs escaping, a body image, a 阅读原文 link."""
        thumb = self.upload("material/add_material", JPEG, "cover.jpg", type="image")["media_id"]
        image = self.upload("media/uploadimg", PNG, "chart.png")["url"]
        first = {
            "title": "关于<春季>植树&绿化的通知",
            "author": "天德乡",
            "content": f'<p>各村：请于3月12日前完成。</p><img src="{image}">',
            "content_source_url": "https://example.gov.cn/tiande/1.html",
            "thumb_media_id": thumb,
        }
        second = {"title": "防汛工作安排", "content": "<p>做好准备。</p>", "thumb_media_id": thumb}
        return str(self.post("draft/add", {"articles": [first, second]})["media_id"])


@pytest.fixture
def wx() -> Iterator[FakeWeChat]:
    with FakeWeChat.start(appid=APPID, secret=SECRET, mass_delay=0.0, publish_delay=0.0) as emu:
        emu.nickname = "天德乡人民政府"
        yield emu


@pytest.fixture
def api(wx: FakeWeChat) -> Iterator[Api]:
    client = Api(wx)
    yield client
    client.http.close()


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_phone_view_shows_a_broadcast_its_article_and_cover(wx: FakeWeChat, api: Api) -> None:
    with httpx.Client(base_url=wx.base, timeout=5) as http:
        assert "还没有群发消息" in http.get("/__emu/phone").text
        redirect = http.get("/")
        assert (redirect.status_code, redirect.headers["location"]) == (302, "/__emu/phone")

        sent = api.post(
            "message/mass/sendall",
            {
                "filter": {"is_to_all": True},
                "msgtype": "mpnews",
                "mpnews": {"media_id": api.draft()},
            },
        )
        msg_id = sent["msg_id"]
        wait_for(lambda: wx.mass_jobs[msg_id].finished)

        page = http.get("/__emu/phone")
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        assert 'http-equiv="refresh" content="5"' in html
        assert "关于&lt;春季&gt;植树&amp;绿化的通知" in html
        assert "<春季>" not in html
        assert "防汛工作安排" in html
        assert "已送达" in html
        assert "天德乡人民政府" in html
        assert f"/__emu/phone/article/{msg_id}/2" in html

        covers = re.findall(r'<img src="(/__emu/media/[^"]+)"', html)
        assert covers
        image = http.get(covers[0])
        assert (image.status_code, image.headers["content-type"]) == (200, "image/jpeg")
        assert image.content == JPEG

        article = http.get(f"/__emu/phone/article/{msg_id}/1")
        assert article.status_code == 200
        assert "关于&lt;春季&gt;植树&amp;绿化的通知" in article.text
        assert "各村：请于3月12日前完成。" in article.text
        assert 'href="https://example.gov.cn/tiande/1.html"' in article.text
        assert "阅读原文" in article.text
        body_image = re.search(r'<img src="(/__emu/media/[^"]+)"', article.text)
        assert body_image is not None
        assert http.get(body_image.group(1)).content == PNG

        assert http.get(f"/__emu/phone/article/{msg_id}/3").status_code == 404
        assert http.get("/__emu/media/mmbiz_jpg/nothing/0").status_code == 404


def test_free_published_articles_are_listed_apart(wx: FakeWeChat, api: Api) -> None:
    publish_id = api.post("freepublish/submit", {"media_id": api.draft()})["publish_id"]
    wait_for(lambda: wx.publish_jobs[publish_id].finished)
    with httpx.Client(base_url=wx.base, timeout=5) as http:
        assert "关于&lt;春季&gt;" not in http.get("/__emu/phone").text
        published = http.get("/__emu/phone", params={"tab": "published"}).text
        assert "关于&lt;春季&gt;植树&amp;绿化的通知" in published
        assert "已发表" in published
        article = http.get(f"/__emu/phone/published/{publish_id}/2")
        assert "做好准备。" in article.text
