"""httpcore's network layer written on the running asyncio (or uvloop) loop, for the upstream clients' connections.

httpcore's default layer goes through anyio, and its connection pool asks every idle connection, at every request's
start and end, whether its socket is readable (a closed keep-alive): through anyio that question builds a dict of
the socket's attributes and polls the socket each time. With the lanes of eight connections a worker uses, that and
anyio's cancel scopes were a quarter of the HTTP client's CPU: 1.8-2.0 ms a request of a 31 KB answer against a
loopback server (64 in flight, 8 clients), 1.3-1.6 ms through this layer.

Here a connection is an asyncio protocol that buffers what arrives: "readable" is data or the end of the stream
waiting in that buffer, which is what the pool wants to know. Errors are httpcore's, as its own layers raise them
(ConnectError, ConnectTimeout, ReadError, ReadTimeout, WriteError, WriteTimeout), so httpx maps them as usual.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Coroutine, Iterable
from typing import Any, cast

import httpcore
import httpx

# Past this many unread bytes the connection stops reading from the socket until the client catches up.
READ_BUFFER_BYTES = 256 * 1024


class _Connection(asyncio.Protocol):
    """What arrived on one connection and not yet read, its end, and the waiters for more or for room to write."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.ended = False
        self.lost: Exception | None = None
        self.writing_paused = False
        self.data = _Wakeup()  # something arrived, or the stream ended
        self.drain = _Wakeup()  # room to write again, or the connection is gone

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not derive from asyncio's

    def data_received(self, data: bytes) -> None:
        self.received += data
        if len(self.received) > READ_BUFFER_BYTES and self.transport is not None:
            self.transport.pause_reading()
        self.data.wake()

    def eof_received(self) -> bool:
        self.ended = True
        self.data.wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.lost = exc
        self.data.wake()
        self.drain.wake()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.drain.wake()


class _Wakeup:
    """One coroutine's wait for a protocol callback, bounded by a timeout."""

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        finally:
            self._waiter = None


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, connection: _Connection) -> None:
        self._transport = transport
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        while not connection.received and not connection.ended:
            try:
                await connection.data.wait(timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data within {timeout} s") from None
        received = connection.received
        if received:
            data = bytes(received[:max_bytes])
            del received[:max_bytes]
            if len(received) <= READ_BUFFER_BYTES and not connection.ended and not self._transport.is_reading():
                self._transport.resume_reading()
            return data
        if connection.lost is not None:
            raise httpcore.ReadError(str(connection.lost) or type(connection.lost).__name__)
        return b""  # the server ended the stream

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        if connection.ended or self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if connection.writing_paused:
            try:
                await connection.drain.wait(timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not write within {timeout} s") from None
            if connection.lost is not None or self._transport.is_closing():
                raise httpcore.WriteError("the connection closed while writing")

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._connection, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake not done within {timeout} s") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:  # ssl.SSLError is an OSError; said for the reader
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # the connection was closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._connection.transport = transport
        return AsyncioStream(transport, self._connection)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return bool(self._connection.received) or self._connection.ended
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioNetwork(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        opening = asyncio.get_running_loop().create_connection(_Connection, host, port, local_addr=local)
        return await _connected(opening, f"{host}:{port}", timeout, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        opening = asyncio.get_running_loop().create_unix_connection(_Connection, path)
        return await _connected(opening, path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(
    opening: Coroutine[Any, Any, tuple[asyncio.BaseTransport, _Connection]],
    where: str,
    timeout: float | None,
    socket_options: Iterable[Any] | None,
) -> AsyncioStream:
    try:
        async with asyncio.timeout(timeout):
            transport, connection = await opening
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"could not connect to {where} within {timeout} s") from None
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    for option in socket_options or ():
        transport.get_extra_info("socket").setsockopt(*option)
    return AsyncioStream(cast(asyncio.Transport, transport), connection)


def on_asyncio_network(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """`client`, its connection pools (direct and through proxies) opening their connections with `AsyncioNetwork`.
    httpx builds the pools without a way to name their network layer, so it is set on each before any connection is
    opened; `uses_asyncio_network` says whether it took (a test holds it to that across httpx upgrades)."""
    network = AsyncioNetwork()
    for pool in _pools(client):
        pool._network_backend = network
    return client


def uses_asyncio_network(client: httpx.AsyncClient) -> bool:
    pools = _pools(client)
    return bool(pools) and all(isinstance(pool._network_backend, AsyncioNetwork) for pool in pools)


def _pools(client: httpx.AsyncClient) -> list[httpcore.AsyncConnectionPool]:
    transports = [client._transport, *(mount for mount in client._mounts.values() if mount is not None)]
    return [
        pool
        for transport in transports
        if isinstance(pool := getattr(transport, "_pool", None), httpcore.AsyncConnectionPool)
    ]
