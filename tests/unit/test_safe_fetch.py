"""channels.safe_fetch: which addresses a user-typed URL may reach, and how it is fetched."""

from __future__ import annotations

import httpx
import pytest

from channels.safe_fetch import (
    FetchRefused,
    FetchTooLarge,
    SafeFetcher,
    parse_networks,
    refused_reason,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "fe80::1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "0.0.0.0",  # noqa: S104 (an address to classify, not to bind)
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2001:db8::1",  # documentation
    "192.0.2.1",
    "198.18.0.1",
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1"]


class TestAddressClassification:
    @pytest.mark.parametrize("address", REFUSED)
    def test_inside_addresses_are_refused(self, address: str) -> None:
        """Loopback, private, link-local, CGNAT, unspecified, multicast, reserved: refused."""
        assert refused_reason(address) is not None

    @pytest.mark.parametrize("address", ALLOWED)
    def test_public_addresses_are_allowed(self, address: str) -> None:
        assert refused_reason(address) is None

    def test_the_allow_list_opens_named_networks_only(self) -> None:
        """127.0.0.0/8 named: loopback v4 (also IPv4-mapped) allowed, ::1 and 10/8 still not."""
        allowed = parse_networks(["127.0.0.0/8"])
        assert refused_reason("127.0.0.1", allowed) is None
        assert refused_reason("::ffff:127.0.0.1", allowed) is None
        assert refused_reason("::1", allowed) is not None
        assert refused_reason("10.0.0.1", allowed) is not None

    def test_reasons_name_the_category(self) -> None:
        assert "loopback" in (refused_reason("127.0.0.1") or "")
        assert "CGNAT" in (refused_reason("100.64.1.1") or "")
        assert "link-local" in (refused_reason("169.254.169.254") or "")

    def test_bad_networks_are_an_error(self) -> None:
        with pytest.raises(ValueError, match="not-a-network"):
            parse_networks(["not-a-network"])


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


class Recorder:
    """A transport answering from a table keyed by the Host header, recording requests."""

    def __init__(self, answers: dict[str, httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[request.headers["host"]]


def _fetcher(recorder: Recorder, table: dict[str, list[str]], **kw: object) -> SafeFetcher:
    return SafeFetcher(
        resolve=_resolver(table),
        transport=httpx.MockTransport(recorder),
        **kw,  # type: ignore[arg-type]
    )


class TestFetch:
    async def test_connects_to_the_checked_address_with_the_original_host(self) -> None:
        """The request goes to the resolved IP; Host and the TLS server name stay the name."""
        recorder = Recorder({"img.example.cn": httpx.Response(200, content=PNG)})
        fetcher = _fetcher(recorder, {"img.example.cn": ["93.184.216.34"]})
        assert await fetcher.fetch("https://img.example.cn/a.png") == PNG
        sent = recorder.requests[0]
        assert sent.url.host == "93.184.216.34"
        assert sent.headers["host"] == "img.example.cn"
        assert sent.extensions["sni_hostname"] == "img.example.cn"

    async def test_a_name_resolving_inside_is_refused_before_connecting(self) -> None:
        """Any inside address among the answers refuses the host; nothing is sent."""
        recorder = Recorder({})
        fetcher = _fetcher(recorder, {"evil.example": ["93.184.216.34", "10.0.0.5"]})
        with pytest.raises(FetchRefused, match="private"):
            await fetcher.fetch("http://evil.example/x.png")
        assert recorder.requests == []

    async def test_ip_literals_are_checked_too(self) -> None:
        recorder = Recorder({})
        with pytest.raises(FetchRefused, match="loopback"):
            await _fetcher(recorder, {}).fetch("http://127.0.0.1:6379/")
        with pytest.raises(FetchRefused):
            await _fetcher(recorder, {}).fetch("http://[::ffff:169.254.169.254]/latest")
        assert recorder.requests == []

    async def test_every_redirect_is_checked(self) -> None:
        """A public host redirecting to an inside one is refused at the redirect."""
        recorder = Recorder(
            {"a.example": httpx.Response(302, headers={"location": "http://b.example/x"})}
        )
        fetcher = _fetcher(recorder, {"a.example": ["93.184.216.34"], "b.example": ["127.0.0.1"]})
        with pytest.raises(FetchRefused, match="loopback"):
            await fetcher.fetch("http://a.example/x")
        assert [r.headers["host"] for r in recorder.requests] == ["a.example"]

    async def test_redirects_are_bounded(self) -> None:
        recorder = Recorder({"a.example": httpx.Response(302, headers={"location": "/again"})})
        fetcher = _fetcher(recorder, {"a.example": ["93.184.216.34"]}, max_redirects=2)
        with pytest.raises(FetchRefused, match="redirects"):
            await fetcher.fetch("http://a.example/x")
        assert len(recorder.requests) == 3

    async def test_size_is_bounded(self) -> None:
        recorder = Recorder({"a.example": httpx.Response(200, content=PNG * 100)})
        fetcher = _fetcher(recorder, {"a.example": ["93.184.216.34"]}, max_bytes=100)
        with pytest.raises(FetchTooLarge):
            await fetcher.fetch("http://a.example/x")

    async def test_only_http_and_https(self) -> None:
        for url in ("file:///etc/passwd", "ftp://a.example/x", "gopher://a.example/"):
            with pytest.raises(FetchRefused):
                await _fetcher(Recorder({}), {}).fetch(url)
