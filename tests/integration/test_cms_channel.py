"""The CMS website channel against a real loopback fake CMS."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.base import (
    Channel,
    ConfigurationError,
    PermanentError,
    Publishable,
    TemporaryError,
)
from channels.cms import CmsWebsite
from tests.fakes import FakeCms

SECRET = "test-secret-青山"
ROOT = Path(__file__).resolve().parents[2]


def make_pub(lineage_id: int = 1, revision: int = 1, **changes: Any) -> Publishable:
    """Build a Publishable for tests; keyword arguments override fields."""
    pub = Publishable(
        delivery_id=lineage_id * 100 + revision,
        idempotency_key=f"website:{lineage_id}:{revision}",
        org_code="xz001",
        org_name="青山镇人民政府",
        item_id=lineage_id * 10 + revision,
        lineage_id=lineage_id,
        revision=revision,
        index_no=f"11330100-2024-{lineage_id:05d}",
        title="关于做好春耕备耕工作的通知",
        body_md="正文",
        body_html="<p>各村（社区）：请认真落实。</p>",
        summary="部署春耕备耕工作。",
        category="农业、林业、水利",
        doc_number="青政发〔2024〕3号",
        normative=True,
        formed_on=dt.date(2024, 3, 1),
        publish_date=dt.date(2024, 3, 5),
    )
    return dataclasses.replace(pub, **changes)


@pytest.fixture
def cms() -> Iterator[FakeCms]:
    with FakeCms.start(secret=SECRET) as fake:
        yield fake


@pytest.fixture
async def channel(cms: FakeCms) -> AsyncIterator[CmsWebsite]:
    website = CmsWebsite(cms.url, secret=SECRET, timeout=2.0)
    yield website
    await website.aclose()


@pytest.fixture
def cms_process() -> Iterator[str]:
    """Run the fake CMS as a subprocess and yield its API url."""
    command = [sys.executable, "-m", "tests.fakes.cms", "--port", "0", "--secret", SECRET]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            yield proc.stdout.readline().split()[1]
        finally:
            proc.kill()


def free_port() -> int:
    """Return a loopback port nothing is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class TestCommit:
    async def test_satisfies_channel_protocol(self, channel: CmsWebsite) -> None:
        """CmsWebsite is a Channel named website, repeatable when the CMS is idempotent."""
        assert isinstance(channel, Channel)
        assert channel.name == "website"
        assert channel.commit_repeatable is True
        assert await channel.poll(make_pub()) is None

    async def test_commit_is_signed_and_returns_cms_id(
        self, channel: CmsWebsite, cms: FakeCms
    ) -> None:
        """A signed push is accepted and the CMS's id and url come back in Committed."""
        pub = make_pub()
        committed = await channel.commit(pub, await channel.prepare(pub))
        assert committed.external_id == "cms-1"
        assert committed.url == f"{cms.base}/p/cms-1.html"
        assert [call.status for call in cms.calls] == [201]
        assert cms.calls[0].headers["idempotency-key"] == "website:1:1"
        assert cms.calls[0].headers["x-gongkai-signature"].startswith("sha256=")

    async def test_payload_carries_all_fields_with_readable_chinese(
        self, channel: CmsWebsite, cms: FakeCms
    ) -> None:
        """The JSON body holds every field and Chinese as raw UTF-8, not \\u escapes."""
        await channel.commit(make_pub(), {})
        call = cms.calls[0]
        assert "青山镇人民政府".encode() in call.body
        assert b"\\u" not in call.body
        assert call.json() == {
            "id_key": "website:1:1",
            "org_code": "xz001",
            "org_name": "青山镇人民政府",
            "index_no": "11330100-2024-00001",
            "title": "关于做好春耕备耕工作的通知",
            "summary": "部署春耕备耕工作。",
            "category": "农业、林业、水利",
            "doc_number": "青政发〔2024〕3号",
            "normative": True,
            "formed_on": "2024-03-01",
            "publish_date": "2024-03-05",
            "body_html": "<p>各村（社区）：请认真落实。</p>",
            "revision": 1,
            "lineage_id": 1,
        }

    async def test_repeat_with_same_key_creates_once(
        self, channel: CmsWebsite, cms: FakeCms
    ) -> None:
        """Repeating a commit with the same idempotency key returns the same item."""
        pub = make_pub()
        first = await channel.commit(pub, {})
        second = await channel.commit(pub, {})
        assert first == second
        assert len(cms.created) == 1
        assert [call.status for call in cms.calls] == [201, 200]

    async def test_commit_repeatable_follows_idempotent_flag(self, cms: FakeCms) -> None:
        """A CMS that does not honour Idempotency-Key makes commits non-repeatable."""
        website = CmsWebsite(cms.url, secret=SECRET, timeout=1.0, idempotent=False)
        assert website.commit_repeatable is False
        await website.aclose()


class TestErrors:
    async def test_wrong_secret_is_configuration_error(self, cms: FakeCms) -> None:
        """The fake rejects a bad signature with 401, which means misconfiguration."""
        website = CmsWebsite(cms.url, secret="wrong", timeout=1.0)
        with pytest.raises(ConfigurationError):
            await website.commit(make_pub(), {})
        await website.aclose()
        assert cms.created == {}
        assert "wrong" not in repr(website)

    async def test_forbidden_is_configuration_error(
        self, channel: CmsWebsite, cms: FakeCms
    ) -> None:
        """A 403 from the CMS pauses the delivery as a configuration problem."""
        cms.script(403)
        with pytest.raises(ConfigurationError):
            await channel.commit(make_pub(), {})

    async def test_server_error_is_temporary(self, channel: CmsWebsite, cms: FakeCms) -> None:
        """A 5xx answer is a TemporaryError, and the next attempt succeeds."""
        cms.script(503, times=1)
        with pytest.raises(TemporaryError):
            await channel.commit(make_pub(), {})
        assert cms.created == {}
        assert (await channel.commit(make_pub(), {})).external_id == "cms-1"

    async def test_bad_request_is_permanent_with_cms_message(
        self, channel: CmsWebsite, cms: FakeCms
    ) -> None:
        """A 400 is a PermanentError carrying the CMS's message, cut to 500 characters."""
        cms.script(400, body={"message": "标题过长" + "字" * 1000, "code": "E_TITLE"})
        with pytest.raises(PermanentError) as info:
            await channel.commit(make_pub(), {})
        assert "标题过长" in info.value.message
        assert info.value.code == "E_TITLE"
        assert len(info.value.message) < 600

    async def test_rate_limit_honours_retry_after(self, channel: CmsWebsite, cms: FakeCms) -> None:
        """A 429 is a TemporaryError whose retry_after is the Retry-After seconds."""
        cms.script(429, headers={"Retry-After": "7"})
        with pytest.raises(TemporaryError) as info:
            await channel.commit(make_pub(), {})
        assert info.value.retry_after == 7.0

    async def test_timeout_is_temporary(self, cms: FakeCms) -> None:
        """A CMS slower than the timeout yields a TemporaryError."""
        cms.delay = 1.0
        website = CmsWebsite(cms.url, secret=SECRET, timeout=0.2)
        with pytest.raises(TemporaryError) as info:
            await website.commit(make_pub(), {})
        await website.aclose()
        assert info.value.code == "timeout"

    async def test_connection_refused_is_temporary(self) -> None:
        """Nobody listening at the address yields a TemporaryError."""
        website = CmsWebsite(f"http://127.0.0.1:{free_port()}/api", secret=SECRET, timeout=1.0)
        with pytest.raises(TemporaryError):
            await website.commit(make_pub(), {})
        await website.aclose()

    async def test_error_messages_never_contain_the_secret(self, cms: FakeCms) -> None:
        """Neither the exception text nor its code echo the shared secret."""
        website = CmsWebsite(cms.url, secret=SECRET, timeout=1.0)
        cms.script(400)
        with pytest.raises(PermanentError) as info:
            await website.commit(make_pub(), {})
        await website.aclose()
        assert SECRET not in str(info.value)


class TestWithdrawAndCheck:
    async def test_withdraw_deletes_the_item(self, channel: CmsWebsite, cms: FakeCms) -> None:
        """Withdraw sends a signed DELETE for the external id and reports what remains."""
        committed = await channel.commit(make_pub(), {})
        pub = make_pub(external_id=committed.external_id, url=committed.url)
        withdrawal = await channel.withdraw(pub)
        assert cms.created == {}
        assert cms.deleted == ["cms-1"]
        assert withdrawal.undone
        assert withdrawal.not_undone

    async def test_withdraw_of_missing_item_counts_as_gone(
        self, channel: CmsWebsite, cms: FakeCms
    ) -> None:
        """A 404 on DELETE means the item is already gone, not an error."""
        withdrawal = await channel.withdraw(make_pub(external_id="cms-404"))
        assert withdrawal.undone
        assert cms.calls[0].status == 404

    async def test_withdraw_without_external_id_asks_for_manual_removal(
        self, channel: CmsWebsite, cms: FakeCms
    ) -> None:
        """Without a CMS id nothing is sent and staff are told to remove it by hand."""
        withdrawal = await channel.withdraw(make_pub())
        assert withdrawal.undone == []
        assert withdrawal.not_undone
        assert cms.calls == []

    async def test_check_reports_success(self, channel: CmsWebsite) -> None:
        """check() makes a signed GET and returns a Chinese status line."""
        assert "连接正常" in await channel.check()

    async def test_check_with_wrong_secret_is_configuration_error(self, cms: FakeCms) -> None:
        """check() raises ConfigurationError when the CMS rejects the signature."""
        website = CmsWebsite(cms.url, secret="wrong", timeout=1.0)
        with pytest.raises(ConfigurationError):
            await website.check()
        await website.aclose()


class TestFakeCms:
    def test_reset_forgets_state(self, cms: FakeCms) -> None:
        """reset() clears calls, created items and pending scripts."""
        cms.script(500, times=3)
        httpx.get(cms.url)
        cms.reset()
        assert (cms.calls, cms.created) == ([], {})
        assert httpx.get(cms.url).status_code == 401

    @pytest.mark.slow
    async def test_runs_as_subprocess(self, cms_process: str) -> None:
        """python -m tests.fakes.cms serves the API and /_stats from a separate process."""
        website = CmsWebsite(cms_process, secret=SECRET, timeout=2.0)
        await website.commit(make_pub(), {})
        await website.commit(make_pub(), {})
        await website.aclose()
        async with httpx.AsyncClient() as client:
            stats = (await client.get(cms_process.replace("/api/items", "/_stats"))).json()
        assert stats["created"] == 1
        assert stats["per_key"] == {"website:1:1": 1}
