"""The upstream clients' transport (`aiohttp_transport`) against real loopback servers, plain, TLS and through a
proxy: answers arrive whole, kept-alive connections are reused and a closed one is replaced, and failures are httpx's
usual errors."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from backend.services.aiohttp_transport import AiohttpTransport
from backend.services.upstream_http import UpstreamClient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


@asynccontextmanager
async def server(handle: Handler, *, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[int, list[int]]]:
    """A loopback server running `handle` for each connection; yields its port and the connections it accepted."""
    accepted: list[int] = []

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(len(accepted))
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(counted, "127.0.0.1", 0, ssl=tls)
    async with listening:
        yield listening.sockets[0].getsockname()[1], accepted


def keep_alive(body: bytes, *, requests: int = 100) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(requests):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer(body))
            await writer.drain()

    return handle


def client(tls: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    transport = AiohttpTransport(connections=8, tls=tls or ssl.create_default_context())
    return httpx.AsyncClient(timeout=5, transport=transport, trust_env=False)


async def test_a_kept_alive_connection_is_reused_and_one_the_server_closed_is_replaced() -> None:
    async with server(keep_alive(b'{"n":1}', requests=2)) as (port, accepted), client() as http:
        url = f"http://127.0.0.1:{port}/stop-monitoring"
        assert (await http.get(url)).json() == {"n": 1}
        assert (await http.get(url)).json() == {"n": 1}
        assert accepted == [0]
        await asyncio.sleep(0.2)  # the server closed the connection after its second answer
        # The pool sees the closed connection as it is idle, and opens a new one: no failed request.
        assert (await http.get(url)).json() == {"n": 1}
        assert accepted == [0, 1]


async def test_an_answer_larger_than_the_read_buffer_arrives_whole() -> None:
    body = bytes(range(256)) * (3 * 1024 * 1024 // 256)  # 3 MB: reading pauses and resumes
    async with server(keep_alive(body)) as (port, _accepted), client() as http:
        response = await http.get(f"http://127.0.0.1:{port}/")
    assert response.content == body


async def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)

    async with server(silent) as (port, _accepted), client() as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://127.0.0.1:{port}/", timeout=0.3)


async def test_a_body_cut_short_is_a_transport_error() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer(b'{"visits":[' + b"1," * 5000 + b"1]}")[:4000])
        await writer.drain()

    async with server(cut) as (port, _accepted), client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and no other name), made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl (Debian: apt-get install -y openssl) makes the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=stub"
    names = ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [openssl, *request.split(), "-keyout", str(key), "-out", str(cert), *names], check=True, capture_output=True
    )
    return cert, key


@dataclass(frozen=True)
class Tls:
    serving: ssl.SSLContext  # the test server's, holding the certificate
    trusting: ssl.SSLContext  # a client's that trusts it (and nothing else)


@pytest.fixture
def tls(certificate: tuple[Path, Path]) -> Tls:
    cert, key = certificate
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(cert, key)
    return Tls(serving, ssl.create_default_context(cafile=str(cert)))


async def test_https_answers_on_one_kept_alive_connection(tls: Tls) -> None:
    async with (
        server(keep_alive(b'{"tls":true}'), tls=tls.serving) as (port, accepted),
        client(tls.trusting) as http,
    ):
        first = await http.get(f"https://127.0.0.1:{port}/")
        second = await http.get(f"https://127.0.0.1:{port}/")
        assert first.json() == second.json() == {"tls": True}
        assert accepted == [0]


async def test_a_certificate_for_another_name_fails_the_connection(tls: Tls) -> None:
    async with server(keep_alive(b"{}"), tls=tls.serving) as (port, _accepted), client(tls.trusting) as http:
        with pytest.raises(httpx.ConnectError, match="certificate"):
            await http.get(f"https://localhost:{port}/")


def proxying(requests: list[bytes], body: bytes) -> Handler:
    """A proxy: a CONNECT opens a tunnel to the host it names; a plain request is answered with `body` (as the
    origin would). Each request line is kept in `requests`."""

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        requests.append(request.split(b"\r\n", 1)[0])
        if not request.startswith(b"CONNECT "):
            writer.write(answer(body))
            await writer.drain()
            return
        host, port = request.split()[1].decode().rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True)

    return proxy


async def test_https_through_a_connect_proxy(tls: Tls, monkeypatch: pytest.MonkeyPatch) -> None:
    """As behind a company proxy (HTTPS_PROXY=http://...): the tunnel is opened in clear, then TLS runs inside it."""
    tunnels: list[bytes] = []
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with (
        server(keep_alive(b'{"tunnelled":true}'), tls=tls.serving) as (port, accepted),
        server(proxying(tunnels, b"{}")) as (proxy_port, _proxied),
    ):
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        async with client(tls.trusting) as http:
            response = await http.get(f"https://127.0.0.1:{port}/")
        assert response.json() == {"tunnelled": True}
    assert tunnels == [f"CONNECT 127.0.0.1:{port} HTTP/1.1".encode()]
    assert accepted == [0]


async def test_the_upstream_client_sends_through_the_environments_proxy_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requests: list[bytes] = []
    monkeypatch.delenv("no_proxy", raising=False)
    async with server(proxying(requests, b'{"via":"proxy"}')) as (proxy_port, _proxied):
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
        monkeypatch.setenv("NO_PROXY", "direct.invalid")
        upstream = UpstreamClient(8, timeout=5)
        try:
            response = await upstream.get("http://prim.invalid/stop-monitoring", params=None, headers=None, timeout=5)
            assert response.json() == {"via": "proxy"}
            assert requests == [b"GET http://prim.invalid/stop-monitoring HTTP/1.1"]
            # A host NO_PROXY names goes direct: here to a name that does not resolve, so a connect error.
            with pytest.raises(httpx.ConnectError):
                await upstream.get("http://direct.invalid/", params=None, headers=None, timeout=5)
            assert len(requests) == 1
        finally:
            await upstream.aclose()


async def test_a_gzip_answer_in_chunks_is_read_decoded() -> None:
    """As PRIM's gateway answers when asked for gzip: the transport passes the bytes on, httpx decodes them."""
    body = b'{"Siri":{"ServiceDelivery":{}},"pad":"' + b"x" * 20000 + b'"}'
    packed = gzip.compress(body)
    asked: list[bytes] = []

    async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n")
        writer.write(b"transfer-encoding: chunked\r\n\r\n")
        for start in range(0, len(packed), 1000):
            chunk = packed[start : start + 1000]
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with server(gzipped) as (port, _accepted), client() as http:
        response = await http.get(f"http://127.0.0.1:{port}/stop-monitoring")
    assert response.content == body
    assert b"gzip" in next(line for line in asked[0].lower().split(b"\r\n") if line.startswith(b"accept-encoding:"))
