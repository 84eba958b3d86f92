"""A TCP proxy between a client and RabbitMQ, so a test can cut the network under a live
connection (``sever``), keep the broker unreachable for a while (``refuse``), then let it back;
and a port that accepts connections and never answers (``SilentServer``)."""

import asyncio
import contextlib
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream_url = upstream_url
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5672)
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self.refusing = False
        self.port = 0

    @property
    def url(self) -> str:
        """The broker URL, pointing at the proxy."""
        parts = urlsplit(self._upstream_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def __aenter__(self) -> "TcpProxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        await self.sever()
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def connections(self) -> int:
        return len(self._pairs)

    async def sever(self) -> None:
        """Cut every connection open now, as a network failure would."""
        for client, upstream in list(self._pairs):
            for writer in (client, upstream):
                writer.transport.abort()
        self._pairs.clear()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.create_task(self._pump(source, sink, pair))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        for writer in pair:
            writer.transport.abort()
        self._pairs.discard(pair)


class SilentServer:
    """A port that accepts TCP connections and never says a word: what RabbitMQ does when it has
    run out of file handles. ``url`` points a client at it; ``accepted`` counts its victims."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._accepted = asyncio.Event()
        self.port = 0

    @property
    def accepted(self) -> int:
        return len(self._transports)

    async def first_connection(self) -> None:
        """Until a client has connected."""
        await self._accepted.wait()

    def url(self, credentials: str = "guest:guest") -> str:
        return f"amqp://{credentials}@127.0.0.1:{self.port}/"

    async def __aenter__(self) -> "SilentServer":
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Silent(self._transports, self._accepted), "127.0.0.1", 0
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for transport in self._transports:
            transport.abort()  # type: ignore[attr-defined]
        await self._server.wait_closed()


class _Silent(asyncio.Protocol):
    def __init__(self, transports: list[asyncio.BaseTransport], accepted: asyncio.Event) -> None:
        self._transports = transports
        self._accepted = accepted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transports.append(transport)
        self._accepted.set()

    def data_received(self, data: bytes) -> None:
        pass  # heard, never answered
