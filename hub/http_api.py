"""The hub's HTTP server (aiohttp): Prometheus metrics, health, the dashboard and its data.

GET /healthz              200 "ok" while the process runs
GET /readyz               200, or 503 with the reasons (plain text, or JSON if asked)
GET /metrics              Prometheus text format
GET /                     the dashboard (hub/dashboard/static/index.html)
GET /static/{file}        the dashboard's files
GET /api/snapshot         the latest snapshot, JSON
GET /api/events           server-sent events: ``snapshot`` once a second
GET /api/trace/{id}       one document's story, JSON (404 unknown, 400 not a document id)
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from hub.errors import ConfigurationError, LedgerError
from hub.health import Readiness
from hub.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from hub.snapshot import SnapshotMaker

log = structlog.get_logger("hub.http")

STATIC_DIR = Path(__file__).parent / "dashboard" / "static"
TICK_S = 1.0
_SHUTDOWN_TIMEOUT_S = 2.0

TraceLoader = Callable[[str], Awaitable[dict[str, Any] | None]]
"""One document's story as JSON, ``None`` if unknown; ``ValueError`` for an id that is not one."""


class SnapshotFeed:
    """The snapshot made once a tick, serialised once, and handed to every client."""

    def __init__(self, maker: SnapshotMaker) -> None:
        self._maker = maker
        self._changed = asyncio.Condition()
        self._closed = False
        self.version = 0
        self.latest: str | None = None

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:
                log.error("snapshot_failed", error=repr(exc))
            await asyncio.sleep(TICK_S)

    async def tick(self) -> None:
        self.latest = json.dumps(self._maker.tick(), ensure_ascii=False, separators=(",", ":"))
        self.version += 1
        async with self._changed:
            self._changed.notify_all()

    def current(self) -> str:
        if self.latest is None:
            self.latest = json.dumps(self._maker.snapshot(), ensure_ascii=False)
        return self.latest

    async def next_after(self, version: int) -> tuple[int, str] | None:
        """The first snapshot newer than ``version``; ``None`` once the feed is closed."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._closed or self.version > version)
        if self._closed or self.latest is None:
            return None
        return self.version, self.latest

    async def close(self) -> None:
        self._closed = True
        async with self._changed:
            self._changed.notify_all()


@dataclass(frozen=True, slots=True)
class HttpSources:
    metrics: Callable[[], bytes]
    readiness: Callable[[], Readiness]
    feed: SnapshotFeed
    trace: TraceLoader


class HttpServer:
    """Bound by ``start`` (so that ``port`` is known, even when 0 was asked for)."""

    def __init__(self, sources: HttpSources, host: str, port: int) -> None:
        self._sources = sources
        self._host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        runner = web.AppRunner(
            _application(self._sources),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigurationError(
                f"the hub's HTTP server cannot listen on {self._host}:{self._requested_port}: "
                f"{exc.strerror or exc} (--http-host, --http-port or DOCHUB_HTTP_HOST, "
                "DOCHUB_HTTP_PORT)"
            ) from exc
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("http_listening", host=self._host, port=self.port)

    async def serve(self) -> None:
        """Make the snapshots until cancelled, then stop listening."""
        try:
            await self._sources.feed.run()
        finally:
            await self.stop()

    async def stop(self) -> None:
        await self._sources.feed.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def _application(sources: HttpSources) -> web.Application:
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _handler(_readyz, sources))
    app.router.add_get("/metrics", _handler(_metrics, sources))
    app.router.add_get("/", _index)
    app.router.add_get("/static/{file:.+}", _static)
    app.router.add_get("/api/snapshot", _handler(_snapshot, sources))
    app.router.add_get("/api/events", _handler(_events, sources))
    app.router.add_get("/api/trace/{document_id}", _handler(_trace, sources))
    return app


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _handler(
    handle: Callable[[web.Request, HttpSources], Awaitable[web.StreamResponse]],
    sources: HttpSources,
) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await handle(request, sources)

    return handler


async def _healthz(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok\n")


async def _readyz(request: web.Request, sources: HttpSources) -> web.StreamResponse:
    readiness = sources.readiness()
    status = 200 if readiness.ready else 503
    if "application/json" in request.headers.get("Accept", ""):
        body = {"ready": readiness.ready, "reasons": list(readiness.reasons)}
        return web.json_response(body, status=status)
    text = "ready\n" if readiness.ready else "".join(f"{r}\n" for r in readiness.reasons)
    return web.Response(text=text, status=status)


async def _metrics(request: web.Request, sources: HttpSources) -> web.StreamResponse:
    return web.Response(body=sources.metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})


async def _index(request: web.Request) -> web.StreamResponse:
    return _file(STATIC_DIR / "index.html")


async def _static(request: web.Request) -> web.StreamResponse:
    root = STATIC_DIR.resolve()
    path = (root / request.match_info["file"]).resolve()
    if not path.is_relative_to(root):
        raise web.HTTPNotFound()
    return _file(path)


def _file(path: Path) -> web.StreamResponse:
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


async def _snapshot(request: web.Request, sources: HttpSources) -> web.StreamResponse:
    return web.Response(
        text=sources.feed.current(), content_type="application/json", charset="utf-8"
    )


async def _events(request: web.Request, sources: HttpSources) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    feed = sources.feed
    version = -1
    try:
        await response.write(f"event: snapshot\ndata: {feed.current()}\n\n".encode())
        version = feed.version
        while (update := await feed.next_after(version)) is not None:
            version, data = update
            await response.write(f"event: snapshot\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the client went away
    return response


async def _trace(request: web.Request, sources: HttpSources) -> web.StreamResponse:
    document_id = request.match_info["document_id"]
    try:
        story = await sources.trace(document_id)
    except ValueError:
        return web.json_response(
            {"error": f"{document_id!r} is not a document id (a UUID)"}, status=400
        )
    except LedgerError as exc:
        return web.json_response({"error": str(exc)}, status=503)
    if story is None:
        return web.json_response({"error": f"no document {document_id} in the ledger"}, status=404)
    return web.json_response(story, dumps=lambda data: json.dumps(data, ensure_ascii=False))
