"""An httpx transport that sends through aiohttp: the upstream clients' connections, requests and answers.

httpx stays the interface every source uses (requests, answers, timeouts, decoding, errors); aiohttp's connection
pool and its C HTTP parser do the work underneath. Against the stub (32 KB answers, 48 in flight, uvloop), a request
cost 1.5 ms of client CPU through httpcore (its pool split into lanes of eight connections, its network layer on
asyncio protocols) and 0.9 ms through this transport: httpcore's pool walks all its connections at every request's
start and end, aiohttp's takes a kept-alive one from a per-host queue.

Proxies come from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), read when the transport is made and looked
up once per host: aiohttp's own `trust_env` reads them again in a thread at every request, which doubled the
client's CPU. HTTPS through a proxy goes through a CONNECT tunnel. Answers are passed on as they came (httpx
decodes them), and every aiohttp failure becomes the httpx error httpcore raised for it (`_HTTPX_ERRORS`).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from yarl import URL

# aiohttp's errors, most specific first, and the httpx error each is.
_HTTPX_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),  # the proxy refused the tunnel
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),  # the proxy could not be reached
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (asyncio.TimeoutError, httpx.ReadTimeout),  # aiohttp's ServerTimeoutError is one too
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, unknown host, TLS handshake or certificate
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),  # closed before the answer ended
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # a body cut short or badly framed
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # an answer that is not HTTP
    (aiohttp.ClientOSError, httpx.ReadError),  # reset by the peer
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.TransportError),
)


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for error, httpx_error in _HTTPX_ERRORS:
            if isinstance(exc, error):
                raise httpx_error(str(exc) or type(exc).__name__, request=request) from exc
        raise


class _Body(httpx.AsyncByteStream):
    """An answer's body, read whole from aiohttp (in one piece: the answers here are tens of kilobytes)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            yield await self._response.read()

    async def aclose(self) -> None:
        self._response.release()  # back to the pool once read; closed if it was not


class AiohttpTransport(httpx.AsyncBaseTransport):
    """At most `connections` open connections in all, kept alive `keepalive` seconds (httpx's default)."""

    def __init__(self, *, connections: int, tls: ssl.SSLContext, keepalive: float = 5.0) -> None:
        self._connections = connections
        self._tls = tls
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None
        self._proxies = urllib.request.getproxies_environment()  # by scheme
        self._proxy_by_host: dict[tuple[str, str], str | None] = {}

    def _proxy_for(self, url: httpx.URL) -> str | None:
        key = (url.scheme, url.host)
        if key not in self._proxy_by_host:
            proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
            self._proxy_by_host[key] = None if proxy is None or urllib.request.proxy_bypass(url.host) else proxy
        return self._proxy_by_host[key]

    def _opened(self) -> aiohttp.ClientSession:
        # Made on first use: aiohttp wants its session made on the running loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._connections, limit_per_host=0, ssl=self._tls, keepalive_timeout=self._keepalive
                ),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors(request):
            response = await self._opened().request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                proxy=self._proxy_for(request.url),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeouts.get("pool"),
                    sock_connect=timeouts.get("connect"),
                    sock_read=timeouts.get("read"),
                ),
            )
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
