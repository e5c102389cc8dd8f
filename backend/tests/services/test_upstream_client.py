"""The process's HTTP clients against a real socket server: a request whose connection broke before any answer (a
kept-alive connection the server closed, racing its own idle timeout against ours) goes once more, and only once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from backend.services.upstream_http import UpstreamClient

ANSWER = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'


@asynccontextmanager
async def server(answers: Callable[[int], bool]) -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback HTTP server: the nth connection (from 0) answers its request if `answers(n)`, else closes as soon
    as the request arrived, without a byte. Yields its URL and the connections it accepted."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = len(connections)
        connections.append(number)
        await reader.readuntil(b"\r\n\r\n")
        if answers(number):
            writer.write(ANSWER)
            await writer.drain()
        writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}/stop-monitoring", connections


async def test_a_connection_closed_before_any_answer_is_tried_once_more() -> None:
    client = UpstreamClient(8, timeout=5)
    try:
        async with server(lambda number: number > 0) as (url, connections):
            response = await client.get(url, params=None, headers=None, timeout=5)
        assert response.json() == {"ok": True}
        assert connections == [0, 1]
    finally:
        await client.aclose()


async def test_an_upstream_that_always_closes_fails_after_the_second_try() -> None:
    client = UpstreamClient(8, timeout=5)
    try:
        async with server(lambda _number: False) as (url, connections):
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(url, params=None, headers=None, timeout=5)
        assert connections == [0, 1]
    finally:
        await client.aclose()


async def test_the_clients_keep_no_cookie_an_answer_sets() -> None:
    """ratp.fr's session cookies are sent as a header by their source; a jar of the client's own would add whatever
    some earlier answer happened to set."""
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                requests.append(await reader.readuntil(b"\r\n\r\n"))
            except asyncio.IncompleteReadError:
                break
            writer.write(ANSWER.replace(b"\r\n\r\n", b"\r\nset-cookie: __cf_bm=abc; Path=/\r\n\r\n", 1))
            await writer.drain()
        writer.close()

    client = UpstreamClient(1, timeout=5)
    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/"
    try:
        async with listening:
            first = await client.get(url, params=None, headers=None, timeout=5)
            await client.get(url, params=None, headers=None, timeout=5)
            await client.get(url, params=None, headers={"Cookie": "cf_clearance=xyz"}, timeout=5)
    finally:
        await client.aclose()

    assert first.headers["set-cookie"].startswith("__cf_bm=abc")
    assert len(requests) == 3
    assert b"cookie" not in requests[0].lower()
    assert b"cookie" not in requests[1].lower()
    [cookie] = [line for line in requests[2].split(b"\r\n") if line.lower().startswith(b"cookie:")]
    assert cookie.lower() == b"cookie: cf_clearance=xyz"
