"""Fetching an address someone typed (a body image's URL) without reaching the inside.

Staff and API clients write image URLs into items; the server downloads them and re-hosts
them on WeChat. Without care that is a way to make the server read its own loopback, the
office network or a cloud metadata address, and to learn which internal ports answer.

``SafeFetcher`` therefore, for every hop (the first request and every redirect):

- accepts only http and https;
- resolves the host itself and refuses it when any of its addresses is loopback, private,
  link-local, shared (CGNAT, 100.64.0.0/10), unspecified, multicast, reserved or otherwise
  not global, or an IPv4-mapped / 6to4 / Teredo IPv6 form of one of those, unless the
  ``outbound_allowed_networks`` setting names a network containing it;
- connects to exactly the address it checked (the URL is rewritten to the IP; the
  ``Host`` header and the TLS server name, ``sni_hostname``, stay the original host, so
  certificates are verified against the name), so a second DNS answer cannot differ;
- follows redirects itself, checking each new address, at most ``max_redirects`` times;
- bounds the body size and the total time, and ignores proxy environment variables.

Every refusal raises ``FetchRefused``; its message is for logs, never for the page.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urljoin

if TYPE_CHECKING:
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

__all__ = [
    "FetchRefused",
    "FetchTooLarge",
    "SafeFetcher",
    "parse_networks",
    "refused_reason",
]

SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")  # CGNAT, RFC 6598
DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchRefused(Exception):
    """The fetch was refused or failed: address, scheme, redirect, time or transport."""


class FetchTooLarge(FetchRefused):
    """The body is larger than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDR strings (``127.0.0.0/8``, ``10.1.2.3``, ``fd00::/8``); raises ValueError."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def _category(address: IPAddress) -> str | None:
    """Why one address is not a public one, or None."""
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE:
        return "shared (CGNAT)"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not global"
    return None


def _forms(address: IPAddress) -> list[IPAddress]:
    """The address and the IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return [address.ipv4_mapped]  # ::ffff:a.b.c.d is a.b.c.d on the wire
        forms: list[IPAddress] = [address]
        if address.sixtofour is not None:
            forms.append(address.sixtofour)
        if address.teredo is not None:
            forms.extend(address.teredo)
        return forms
    return [address]


def refused_reason(address: IPAddress | str, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """None when ``address`` may be fetched; otherwise why not (for logs only).

    An address in one of the ``allowed`` networks is always fetched.
    """
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])
    forms = _forms(address)
    for form in forms:
        if any(form.version == net.version and form in net for net in allowed):
            return None
    for form in forms:
        reason = _category(form)
        if reason is not None:
            return f"{form} is {reason}"
    return None


async def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class SafeFetcher:
    """GET a user-typed http(s) address with the checks above; one instance per channel."""

    def __init__(
        self,
        *,
        allowed_networks: Iterable[str | IPNetwork] = (),
        timeout: float = 10.0,
        max_bytes: int = 1_000_000,
        max_redirects: int = 3,
        resolve: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._allowed = tuple(
            net if not isinstance(net, str) else parse_networks([net])[0]
            for net in allowed_networks
        )
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._resolve = resolve or system_resolve
        self._transport = transport
        self._opened: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        """The HTTP client, made on first use (httpx is not loaded before a fetch)."""
        if self._opened is None:
            import httpx

            self._opened = httpx.AsyncClient(
                # No kept-alive connections: a connection opened for one host name must
                # never carry a request for another name that resolved to the same address.
                transport=self._transport
                or httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0)),
                timeout=self._timeout,
                follow_redirects=False,
                trust_env=False,  # a proxy would resolve the name again, unchecked
            )
        return self._opened

    def __repr__(self) -> str:
        return f"SafeFetcher(allowed={[str(n) for n in self._allowed]!r})"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._opened is not None:
            await self._opened.aclose()

    async def fetch(self, url: str) -> bytes:
        """Return the body of ``url``; raises FetchRefused (or FetchTooLarge)."""
        import httpx

        try:
            async with asyncio.timeout(self._timeout):
                return await self._fetch(url)
        except TimeoutError as exc:
            raise FetchRefused("timed out") from exc
        except httpx.HTTPError as exc:
            raise FetchRefused(f"transport: {type(exc).__name__}") from exc

    async def _fetch(self, url: str) -> bytes:
        for _hop in range(self._max_redirects + 1):
            request = await self._request(url)
            response = await self._client.send(request, stream=True)
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    raise FetchRefused(f"HTTP {response.status_code}")
                return await self._read(response)
            finally:
                await response.aclose()
        raise FetchRefused(f"more than {self._max_redirects} redirects")

    async def _request(self, url: str) -> httpx.Request:
        """The request for ``url``, addressed to its checked IP address."""
        import httpx

        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchRefused("invalid URL") from exc
        if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
            raise FetchRefused("only http and https addresses")
        host = parsed.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS want it
        port = parsed.port or DEFAULT_PORTS[parsed.scheme]
        address = await self._checked_address(host, port)
        headers = {"Host": parsed.netloc.decode("ascii")}
        extensions = {}
        if parsed.scheme == "https" and not _is_ip(host):
            extensions["sni_hostname"] = host
        return self._client.build_request(
            "GET",
            parsed.copy_with(host=address),
            headers=headers,
            extensions=extensions,
        )

    async def _checked_address(self, host: str, port: int) -> str:
        """The address to connect to; every address the host has must be allowed."""
        if _is_ip(host):
            addresses = [host]
        else:
            try:
                addresses = await self._resolve(host, port)
            except OSError as exc:
                raise FetchRefused("cannot resolve the host") from exc
        if not addresses:
            raise FetchRefused("the host has no address")
        for address in addresses:
            try:
                reason = refused_reason(address, self._allowed)
            except ValueError as exc:
                raise FetchRefused("unreadable address") from exc
            if reason is not None:
                raise FetchRefused(f"refused address: {reason}")
        return addresses[0].split("%", 1)[0]

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FetchTooLarge(self._max_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise FetchTooLarge(self._max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
