"""Pure tests of the WeChat content helpers: HTML styling, image re-hosting and field limits."""

from __future__ import annotations

import httpx
import pytest

from channels.base import PermanentError, TemporaryError
from channels.safe_fetch import FetchRefused, SafeFetcher
from channels.wechat.content import (
    STYLES,
    ImageRejected,
    Limits,
    Unit,
    article,
    check_article_limits,
    digest_from,
    fetch_image,
    measure,
    rewrite_images,
    shorten,
    to_wechat_html,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


class TestToWechatHtml:
    def test_styles_are_inlined(self) -> None:
        """Every supported tag carries its inline style."""
        out = to_wechat_html("<h1>一</h1><p>正文<strong>重点</strong><em>斜</em></p>")
        assert f'<h1 style="{STYLES["h1"]}">一</h1>' in out
        assert f'<strong style="{STYLES["strong"]}">重点</strong>' in out
        assert f'<em style="{STYLES["em"]}">斜</em>' in out
        assert out.startswith(f'<h1 style="{STYLES["h1"]}">')

    def test_scripts_styles_classes_and_handlers_are_removed(self) -> None:
        """Script and style elements vanish with their content; classes and handlers go too."""
        out = to_wechat_html(
            '<p class="lead" id="x" onclick="evil()">文<script>alert(1)</script></p>'
            "<style>p{color:red}</style>"
        )
        assert "script" not in out
        assert "alert" not in out
        assert "color:red" not in out
        assert "class=" not in out
        assert "onclick" not in out
        assert "id=" not in out

    def test_external_links_become_text_with_url(self) -> None:
        """A link keeps its text followed by the URL in parentheses, without an <a> tag."""
        out = to_wechat_html('<p>见<a href="https://gov.cn/x?a=1&amp;b=2">通知</a>。</p>')
        assert "<a" not in out
        assert "见通知（https://gov.cn/x?a=1&amp;b=2）。" in out

    def test_relative_links_keep_only_text(self) -> None:
        """Links without an http(s) URL keep only their text."""
        out = to_wechat_html('<p><a href="#fn1">注1</a></p>')
        assert ">注1</p>" in out

    def test_lists_tables_code_and_images(self) -> None:
        """Lists, tables, code blocks and images are kept with their allowed attributes."""
        out = to_wechat_html(
            '<ol start="3"><li>甲</li></ol><table><tr><th colspan="2">表头</th></tr>'
            "<tr><td>1</td></tr></table><pre><code>x &lt; 1</code></pre>"
            '<img src="https://e.cn/a.png" alt="图" width="9" onerror="x()">'
        )
        assert f'<ol start="3" style="{STYLES["ol"]}">' in out
        assert f'<th colspan="2" style="{STYLES["th"]}">表头</th>' in out
        assert "<code>x &lt; 1</code></pre>" in out
        assert f'<img src="https://e.cn/a.png" alt="图" style="{STYLES["img"]}">' in out
        assert 'width="9"' not in out

    def test_unclosed_tags_are_closed(self) -> None:
        """Implicitly closed list items, cells and paragraphs come out well formed."""
        out = to_wechat_html("<ul><li>一<li>二</ul><p>未闭合<em>斜")
        assert out.count("<li") == out.count("</li>") == 2
        assert out.endswith("</em></p>")

    def test_output_is_deterministic(self) -> None:
        """The same input always gives the same output."""
        source = "<blockquote><p>引文</p></blockquote><h4>小节</h4><code>c</code>"
        assert to_wechat_html(source) == to_wechat_html(source)

    def test_text_is_escaped(self) -> None:
        """Decoded entities are escaped again so text cannot become markup."""
        assert "&lt;b&gt;" in to_wechat_html("<p>&lt;b&gt;</p>")


class _Uploader:
    """Records uploads and returns mmbiz URLs, optionally failing with a given error."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[bytes, str]] = []
        self.error = error

    async def __call__(self, data: bytes, filename: str) -> str:
        self.calls.append((data, filename))
        if self.error is not None:
            raise self.error
        return f"http://mmbiz.qpic.cn/mmbiz_png/{len(self.calls)}/0?wx_fmt=png"


async def _fetch_png(url: str) -> bytes:
    if "missing" in url:
        raise httpx.ConnectError("refused")
    if "bad" in url:
        raise ImageRejected("图片格式不支持（只能是 jpg 或 png）")
    return PNG


class TestRewriteImages:
    async def test_external_images_are_uploaded_and_rewritten(self) -> None:
        """Each distinct external image is uploaded once and its src replaced."""
        upload = _Uploader()
        html = '<p><img src="https://e.cn/a.png" alt="甲"></p><img src="https://e.cn/a.png">'
        out, notes = await rewrite_images(html, fetch=_fetch_png, upload=upload)
        assert notes == []
        assert len(upload.calls) == 1
        assert upload.calls[0][1] == "a.png"
        assert out.count("http://mmbiz.qpic.cn/mmbiz_png/1/0?wx_fmt=png") == 2
        assert "e.cn" not in out

    async def test_wechat_images_are_left_alone(self) -> None:
        """Images already on mmbiz.qpic.cn are neither fetched nor uploaded."""
        upload = _Uploader()
        html = '<img src="http://mmbiz.qpic.cn/x/0?wx_fmt=png">'
        out, notes = await rewrite_images(html, fetch=_fetch_png, upload=upload)
        assert (out, notes, upload.calls) == (html, [], [])

    async def test_failed_images_are_dropped_with_alt_and_note(self) -> None:
        """An image that cannot be fetched becomes ［图：alt］ and is reported."""
        html = '<p>前<img src="https://e.cn/missing.png" alt="示意图">后<img src="/bad.gif"></p>'
        out, notes = await rewrite_images(html, fetch=_fetch_png, upload=_Uploader())
        assert out == "<p>前［图：示意图］后</p>"
        assert len(notes) == 2
        assert "https://e.cn/missing.png" in notes[0]
        assert "jpg 或 png" in notes[1]

    async def test_the_note_never_says_why_a_fetch_failed(self) -> None:
        """Refused address, refused connection: staff read only 图片无法获取, no port."""

        async def refused(url: str) -> bytes:
            if "8080" in url:
                raise FetchRefused("refused address: 10.0.0.8 is private")
            raise httpx.ConnectError("All connection attempts failed")

        html = '<img src="http://10.0.0.8:8080/a.png?k=1"><img src="http://10.0.0.9:22/b.png">'
        out, notes = await rewrite_images(html, fetch=refused, upload=_Uploader())
        assert out == ""
        assert notes == [
            "正文图片 http://10.0.0.8/a.png 已删除：图片无法获取",
            "正文图片 http://10.0.0.9/b.png 已删除：图片无法获取",
        ]

    async def test_permanent_upload_errors_drop_the_image(self) -> None:
        """A WeChat rejection of one image drops that image only."""
        upload = _Uploader(PermanentError("微信：图片格式不支持（40005）", code="40005"))
        out, notes = await rewrite_images(
            '<img src="https://e.cn/a.png" alt="甲">', fetch=_fetch_png, upload=upload
        )
        assert out == "［图：甲］"
        assert "40005" in notes[0]

    async def test_temporary_upload_errors_propagate(self) -> None:
        """A temporary WeChat failure aborts so the whole preparation is retried later."""
        upload = _Uploader(TemporaryError("微信：系统繁忙（-1）", code="-1"))
        with pytest.raises(TemporaryError):
            await rewrite_images('<img src="https://e.cn/a.png">', fetch=_fetch_png, upload=upload)


async def _public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]  # a public address: the fetcher's address checks pass


def _client(body: bytes, status: int = 200) -> SafeFetcher:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body)

    return SafeFetcher(resolve=_public, transport=httpx.MockTransport(handler), max_bytes=1000)


class TestFetchImage:
    async def test_png_and_jpeg_are_accepted(self) -> None:
        """PNG and JPEG content is returned as downloaded."""
        for body in (PNG, JPEG):
            fetcher = _client(body)
            assert await fetch_image("https://e.cn/a", fetcher=fetcher) == body
            await fetcher.aclose()

    async def test_other_content_is_rejected(self) -> None:
        """Content without PNG/JPEG magic bytes is rejected."""
        with pytest.raises(ImageRejected, match="jpg 或 png"):
            await fetch_image("https://e.cn/a.gif", fetcher=_client(b"GIF89a...."))

    async def test_size_limit_is_enforced(self) -> None:
        """Images larger than the fetcher's limit are rejected, naming the limit."""
        with pytest.raises(ImageRejected, match="1000 字节"):
            await fetch_image("https://e.cn/a.png", fetcher=_client(PNG + b"\x00" * 1000))

    async def test_only_http_urls_are_fetched(self) -> None:
        """file: and other schemes are refused before any request."""
        with pytest.raises(ImageRejected, match="http"):
            await fetch_image("file:///etc/passwd", fetcher=_client(PNG))

    async def test_http_errors_raise(self) -> None:
        """A non-2xx answer is a refused fetch."""
        with pytest.raises(FetchRefused):
            await fetch_image("https://e.cn/a.png", fetcher=_client(b"", status=404))


class TestLimits:
    def test_valid_article_has_no_problems(self) -> None:
        """An article within every limit yields no problems."""
        problems = check_article_limits(
            title="关于印发通知的通知",
            author="办公室",
            digest="摘要",
            content_html="<p>正文</p>",
            source_url="https://gov.cn/a",
        )
        assert problems == []

    def test_each_field_names_its_limit(self) -> None:
        """Over-long fields are reported by field with the limit and current size."""
        problems = check_article_limits(
            title="标" * 40,
            author="作" * 17,
            digest="摘" * 129,
            content_html="x" * 20001,
            source_url="https://gov.cn/" + "a" * 1024,
        )
        assert ("title", "微信标题最多 32 个字符（当前 40）") in problems
        assert ("author", "微信作者最多 16 个字符（当前 17）") in problems
        assert ("digest", "微信摘要最多 128 个字符（当前 129）") in problems
        assert {field for field, _ in problems} == {
            "title",
            "author",
            "digest",
            "content",
            "content_source_url",
        }

    def test_an_account_counting_bytes_counts_title_author_and_digest_in_bytes(self) -> None:
        """Twenty-two CJK characters fit 32 characters but not 64 bytes; the author and
        digest are counted in the same unit."""
        fits = check_article_limits(
            title="字" * 22, author="", digest="", content_html="<p>x</p>", source_url=""
        )
        assert fits == []
        problems = check_article_limits(
            title="字" * 22,
            author="作" * 6,
            digest="",
            content_html="<p>x</p>",
            source_url="",
            limits=Limits(title=64, unit="bytes"),
        )
        assert problems == [
            ("title", "微信标题最多 64 字节（当前 66）"),
            ("author", "微信作者最多 16 字节（当前 18）"),
        ]

    @pytest.mark.parametrize(("limit", "unit"), [(32, "chars"), (20, "chars"), (64, "bytes")])
    def test_a_shortened_title_fits_the_limit(self, limit: int, unit: Unit) -> None:
        """Issue 9 defect 4: the prefilled WeChat title always fits, and a short one stays."""
        title = "关于印发天德乡二〇二六年度政府信息公开工作要点及各村各部门任务分工方案的通知"
        short = shorten(title, limit, unit)
        assert measure(short, unit) <= limit
        assert short.endswith("…")
        assert "关于" not in short
        assert shorten("关于冬季防火的通知", limit, unit) == "关于冬季防火的通知"

    def test_custom_limits_and_empty_fields(self) -> None:
        """Limits are configurable and an empty title or body is an error."""
        problems = check_article_limits(
            title="",
            author="",
            digest="",
            content_html=" ",
            source_url="javascript:x",
            limits=Limits(title=10),
        )
        assert [field for field, _ in problems] == ["title", "content", "content_source_url"]


class TestDigestAndArticle:
    def test_summary_wins(self) -> None:
        """A non-empty summary is the digest, with whitespace collapsed."""
        assert digest_from(" 本文 摘要\n", "正文") == "本文 摘要"

    def test_body_text_is_cut(self) -> None:
        """Without a summary the digest is the first 54 characters of the text."""
        assert digest_from("", "字" * 100) == "字" * 54

    def test_article_has_all_draft_fields(self) -> None:
        """The draft article closes comments and carries the cover media_id."""
        item = article(title="标题", content="<p>x</p>", thumb_media_id="M1", digest="d")
        assert item == {
            "title": "标题",
            "author": "",
            "digest": "d",
            "content": "<p>x</p>",
            "content_source_url": "",
            "thumb_media_id": "M1",
            "need_open_comment": 0,
            "only_fans_can_comment": 0,
        }
